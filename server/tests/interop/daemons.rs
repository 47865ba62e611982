//! The daemons of the interop world, each with a private configuration in the world's folder:
//! `nsd` (authoritative, RFC 4035 signed zones), `unbound` (validating resolver) and one Postfix
//! `master` with one `smtpd` per peer address.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::instance::{Instance, Spec};
use super::process::{Daemon, assert_free, run, run_ok, wait_until};
use super::{BOGUS_ZONE, NSD_ADDR, SLOW_GREETING_SECS, UNBOUND_ADDR};

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

/// Postfix with a private configuration and queue folder ([`Instance`]); `services` are the
/// smtpd lines. Every peer receives mail for `domains` (RFC 5321 §4.1.1: MAIL, RCPT, DATA) and
/// delivers it through virtual(8) into the Maildir `{mail}/{domain}/`; with
/// `smtpd_tls_loglevel = 1` each TLS session is logged ("Anonymous TLS connection established
/// from ...") and with `smtpd_tls_received_header = yes` its protocol and cipher go into the
/// Received header.
pub fn start_postfix(
    d: &Path,
    services: &str,
    peers: &[SocketAddr],
    domains: &[&str],
    mail: &Path,
) -> Instance {
    let mut main_cf = format!(
        "myhostname = mx.interop.test\ninet_interfaces = all\nsmtpd_tls_loglevel = 1\n\
         slow_greeting = sleep {SLOW_GREETING_SECS}\n"
    );
    main_cf.push_str(&receiving(d, "vmailbox", domains, mail));
    Instance::start(
        d,
        Spec {
            name: "postfix",
            maillog: "maillog",
            main_cf,
            services: services.to_string(),
            listen: peers,
            resolv_conf: None,
        },
    )
}

/// The uid and gid virtual(8) delivers as (`nobody`).
const MAIL_UID: u32 = 65534;

/// main.cf settings that make every smtpd of an instance a final destination for `domains`:
/// one Maildir per domain under `mail` (`virtual_mailbox_maps`, the `texthash:` table `table`
/// in `d`, read without `postmap`).
pub fn receiving(d: &Path, table: &str, domains: &[&str], mail: &Path) -> String {
    let table = d.join(table);
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

/// Whether the SMTP server at `addr` offers STARTTLS in its EHLO reply (RFC 3207 §4); `None`
/// when it cannot be asked (no connection, no greeting).
pub fn offers_starttls(addr: SocketAddr) -> Option<bool> {
    use std::io::{BufRead as _, BufReader, Write as _};
    let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut writer = stream;
    let mut reply = || -> Option<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line.trim_end().to_string());
            if last {
                return Some(lines);
            }
        }
    };
    reply()?.first()?.starts_with("220").then_some(())?;
    writer.write_all(b"EHLO probe.interop.test\r\n").ok()?;
    let ehlo = reply()?;
    let _ = writer.write_all(b"QUIT\r\n");
    Some(ehlo.iter().any(|l| l.get(4..) == Some("STARTTLS")))
}
