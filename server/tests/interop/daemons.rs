//! The daemons of the interop world, each with a private configuration in the world's folder:
//! `nsd` (authoritative, RFC 4035 signed zones), `unbound` (validating resolver) and one Postfix
//! `master` with one `smtpd` per peer address.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::{Daemon, run, run_ok, wait_until};
use super::{BOGUS_ZONE, NSD_ADDR, POSTFIX_MASTER, SLOW_GREETING_SECS, UNBOUND_ADDR};

/// Panics unless `addr` is free (TCP, and UDP when `udp`): a leftover daemon would otherwise
/// answer in place of ours, and ours would exit.
pub fn assert_free(who: &str, addr: SocketAddr, udp: bool) {
    let taken = std::net::TcpListener::bind(addr).is_err()
        || (udp && std::net::UdpSocket::bind(addr).is_err());
    assert!(
        !taken,
        "{addr} (for {who}) is already in use: another run of this test, or a leftover daemon? \
         `ss -lntup | grep {}` shows who holds it",
        addr.ip()
    );
}

pub fn dig(args: &[&str]) -> String {
    let out = run(
        "dig",
        Command::new("dig").args(["+time=1", "+tries=1"]).args(args),
        Duration::from_secs(5),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn start_nsd(d: &Path) -> Daemon {
    let conf = d.join("nsd.conf");
    let log = d.join("nsd.log");
    std::fs::write(
        &conf,
        format!(
            "server:\n  ip-address: {NSD_ADDR}\n  port: 53\n  username: \"\"\n  chroot: \"\"\n  \
             zonesdir: \"{dir}\"\n  pidfile: \"{dir}/nsd.pid\"\n  database: \"\"\n  \
             logfile: \"{log}\"\n  xfrdfile: \"{dir}/xfrd.state\"\n  \
             zonelistfile: \"{dir}/zone.list\"\n  verbosity: 1\n  server-count: 1\n  \
             do-ip6: no\nremote-control:\n  control-enable: no\n\
             zone:\n  name: \".\"\n  zonefile: \"root.zone.signed\"\n\
             zone:\n  name: \"test.\"\n  zonefile: \"test.zone.signed\"\n\
             zone:\n  name: \"{BOGUS_ZONE}.\"\n  zonefile: \"bogus.zone.signed\"\n",
            dir = d.display(),
            log = log.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("nsd");
    cmd.args(["-d", "-c"]).arg(&conf);
    assert_free("nsd", SocketAddr::from((NSD_ADDR, 53)), true);
    let mut nsd = Daemon::start("nsd", cmd, d.join("nsd.out"), Some(log));
    let addr = format!("@{NSD_ADDR}");
    wait_until("nsd serving the signed root", &mut nsd, || {
        dig(&[&addr, "+norec", "+dnssec", ".", "SOA"]).contains("RRSIG\tSOA")
    });
    nsd
}

pub fn start_unbound(d: &Path, anchor: &Path) -> Daemon {
    let conf = d.join("unbound.conf");
    let log = d.join("unbound.log");
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: {UNBOUND_ADDR}\n  port: 53\n  do-ip6: no\n  username: \"\"\n  \
             chroot: \"\"\n  directory: \"{dir}\"\n  pidfile: \"{dir}/unbound.pid\"\n  \
             logfile: \"{log}\"\n  use-syslog: no\n  do-daemonize: no\n  verbosity: 1\n  \
             val-log-level: 2\n  access-control: 127.0.0.0/8 allow\n  \
             do-not-query-localhost: no\n  trust-anchor-file: \"{anchor}\"\n  \
             local-zone: \"test.\" nodefault\n  qname-minimisation: no\n  ede: yes\n\
             remote-control:\n  control-enable: no\n\
             stub-zone:\n  name: \".\"\n  stub-addr: {NSD_ADDR}\n",
            dir = d.display(),
            log = log.display(),
            anchor = anchor.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("unbound");
    cmd.args(["-d", "-c"]).arg(&conf);
    assert_free("unbound", SocketAddr::from((UNBOUND_ADDR, 53)), true);
    let mut unbound = Daemon::start("unbound", cmd, d.join("unbound.out"), Some(log));
    let addr = format!("@{UNBOUND_ADDR}");
    wait_until(
        "unbound answering test. with the AD bit (DNSSEC validated)",
        &mut unbound,
        || {
            let a = dig(&[&addr, "+dnssec", "dane-ee.test", "MX"]);
            a.contains("status: NOERROR") && a.contains(" ad;")
        },
    );
    unbound
}

/// Panics unless unbound treats [`BOGUS_ZONE`] as bogus: SERVFAIL with a DNSSEC Extended DNS
/// Error (RFC 8914 §4.7, "DNSSEC Bogus", or another DNSSEC code 6-12), while the same question
/// with the CD bit gets the records (so the zone itself is served).
pub fn check_bogus_setup() {
    let at = format!("@{UNBOUND_ADDR}");
    let name = format!("mx.{BOGUS_ZONE}");
    let plain = dig(&[&at, "+dnssec", &name, "A"]);
    assert!(
        plain.contains("status: SERVFAIL") && plain.contains("EDE: "),
        "unbound should answer SERVFAIL with an EDE for the bogus zone:\n{plain}"
    );
    let cd = dig(&[&at, "+dnssec", "+cd", &name, "A"]);
    assert!(
        cd.contains("status: NOERROR") && cd.contains("RRSIG"),
        "unbound should pass the bogus zone's records on with +cd:\n{cd}"
    );
}

/// Postfix with a private configuration and queue folder; `services` are the smtpd lines.
/// Every peer receives mail for `domains` (RFC 5321 §4.1.1: MAIL, RCPT, DATA) and delivers
/// it through virtual(8) into the Maildir `{mail}/{domain}/`; with `smtpd_tls_loglevel = 1`
/// each TLS session is logged ("Anonymous TLS connection established from ...") and with
/// `smtpd_tls_received_header = yes` its protocol and cipher go into the Received header.
pub fn start_postfix(
    d: &Path,
    services: &str,
    peers: &[SocketAddr],
    domains: &[&str],
    mail: &Path,
) -> (Daemon, PathBuf) {
    let conf = d.join("postfix");
    let queue = d.join("postfix-queue");
    let data = d.join("postfix-data");
    let maillog = d.join("maillog");
    for sub in ["pid", "public", "private"] {
        std::fs::create_dir_all(queue.join(sub)).unwrap();
    }
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    // Without syslog here, Postfix logs through postlogd to maillog_file, which must lie under
    // maillog_file_prefixes; data_directory must belong to mail_owner. Both fail silently.
    let mut owned = vec![
        ("postfix", data.clone()),
        ("postfix", queue.join("private")),
        ("postfix:postdrop", queue.join("public")),
    ];
    // The queue itself, where a received message waits for its delivery to the Maildir.
    for sub in QUEUE_FOLDERS {
        let path = queue.join(sub);
        std::fs::create_dir_all(&path).unwrap();
        owned.push(("postfix", path));
    }
    for (owner, path) in &owned {
        run_ok(
            "chown for Postfix",
            Command::new("chown").arg(owner).arg(path),
        );
    }
    let mut main_cf = format!(
        "compatibility_level = 3.6\nqueue_directory = {queue}\ndata_directory = {data}\n\
         mail_owner = postfix\nsetgid_group = postdrop\nmyhostname = mx.interop.test\n\
         mydestination =\nlocal_recipient_maps =\ninet_interfaces = all\n\
         inet_protocols = ipv4\nmaillog_file_prefixes = {dir}\nmaillog_file = {log}\n\
         smtpd_tls_loglevel = 1\nslow_greeting = sleep {SLOW_GREETING_SECS}\n",
        queue = queue.display(),
        data = data.display(),
        dir = d.display(),
        log = maillog.display()
    );
    main_cf.push_str(&receiving(d, domains, mail));
    std::fs::write(conf.join("main.cf"), main_cf).unwrap();
    // The helper services smtpd talks to (logging, connection counting, table lookups, the TLS
    // session cache and entropy manager), and those that take a received message from the
    // queue into its Maildir (cleanup, the queue manager, address rewriting, virtual(8), and
    // the bounce, defer and trace notices).
    std::fs::write(
        conf.join("master.cf"),
        format!(
            "postlog unix-dgram n - n - 1 postlogd\nanvil unix - - n - 1 anvil\n\
             proxymap unix - - n - - proxymap\ntlsmgr unix - - n 1000? 1 tlsmgr\n\
             cleanup unix n - n - 0 cleanup\nqmgr unix n - n 300 1 qmgr\n\
             rewrite unix - - n - - trivial-rewrite\nbounce unix - - n - 0 bounce\n\
             defer unix - - n - 0 bounce\ntrace unix - - n - 0 bounce\n\
             verify unix - - n - 1 verify\nflush unix n - n 1000? 0 flush\n\
             error unix - - n - - error\nretry unix - - n - - error\n\
             discard unix - - n - - discard\nvirtual unix - n n - - virtual\n\
             smtp unix - - n - - smtp\nscache unix - - n - 1 scache\n{services}"
        ),
    )
    .unwrap();
    // `-d`: stay in the foreground, so the PID (and process group) is the one we started.
    let mut cmd = Command::new(POSTFIX_MASTER);
    cmd.arg("-c").arg(&conf).arg("-d");
    for peer in peers {
        assert_free("Postfix smtpd", *peer, false);
    }
    let mut master = Daemon::start(
        "postfix master",
        cmd,
        d.join("master.out"),
        Some(maillog.clone()),
    );
    for peer in peers {
        wait_until(
            &format!("Postfix smtpd listening on {peer}"),
            &mut master,
            || TcpStream::connect_timeout(peer, Duration::from_secs(1)).is_ok(),
        );
    }
    (master, maillog)
}

/// The folders of a Postfix queue (postconf(5), `queue_directory`) that the queue manager and
/// cleanup(8) expect, owned by `mail_owner`.
const QUEUE_FOLDERS: &[&str] = &[
    "incoming", "active", "deferred", "defer", "bounce", "trace", "flush", "hold", "corrupt",
    "saved",
];

/// The uid and gid virtual(8) delivers as (`nobody`).
const MAIL_UID: u32 = 65534;

/// main.cf settings that make every peer a final destination for `domains`: one Maildir per
/// domain under `mail` (`virtual_mailbox_maps`, a `texthash:` table read without `postmap`).
fn receiving(d: &Path, domains: &[&str], mail: &Path) -> String {
    let table = d.join("vmailbox");
    let rows: String = domains
        .iter()
        .map(|dom| format!("@{dom} {dom}/\n"))
        .collect();
    std::fs::write(&table, rows).unwrap();
    std::fs::create_dir_all(mail).unwrap();
    // virtual(8) writes as MAIL_UID: it must reach `mail` through the (0700) world folder.
    run_ok(
        "chown of the Maildir base",
        Command::new("chown")
            .arg(format!("{MAIL_UID}:{MAIL_UID}"))
            .arg(mail),
    );
    run_ok(
        "chmod of the world folder",
        Command::new("chmod").arg("711").arg(d),
    );
    format!(
        "virtual_mailbox_domains = {domains}\nvirtual_mailbox_base = {mail}\n\
         virtual_mailbox_maps = texthash:{table}\nvirtual_uid_maps = static:{MAIL_UID}\n\
         virtual_gid_maps = static:{MAIL_UID}\nsmtpd_tls_received_header = yes\n",
        domains = domains.join(" "),
        mail = mail.display(),
        table = table.display()
    )
}
