//! The interop world: real Postfix SMTP servers behind a real DNSSEC tree, all from Debian's
//! packages and on loopback, shared by the interop tests (`interop_postfix.rs`: our verdicts
//! against posttls-finger; `interop_delivery.rs`: delivery to the Postfix peers;
//! `interop_enforce.rs`: Postfix enforcing Sendguard's tables, with Postfix instances of its
//! own built by [`instance`]).
//!
//! [`World::start`] builds, in a temporary folder:
//! - a private root zone and a `test.` zone, signed with `ldns-signzone` (ECDSAP256SHA256,
//!   RFC 6605), the `test.` DS made by `ldns-key2ds`, served by `nsd` on 127.0.44.53:53;
//! - `unbound` on 127.0.44.54:53, validating (RFC 4035) from the private root's DNSKEY;
//! - one Postfix `master -c DIR` with one `smtpd` per 127.0.45.x address, each with its own TLS
//!   behaviour (`-o` overrides in master.cf): DANE-EE and DANE-TA (RFC 7672, RFC 7671),
//!   self-signed TLS without TLSA, no STARTTLS (RFC 3207), TLS 1.0 only, a TLSA record that
//!   does not match, and a domain with three slow MX hosts (the benchmark's peers);
//! - and the cases a validating resolver shows that the in-process simulator does not: an MX
//!   host that is a CNAME to an IPv4-only host (its AAAA answer is a signed NODATA reached
//!   through the CNAME), a child zone whose DS names another key (unbound answers SERVFAIL
//!   with an Extended DNS Error, RFC 8914), and a domain whose name server does not answer.
//!
//! It needs root (ports 25 and 53, Postfix's `master`, `unshare -m`) and the packages that
//! `scripts/lib.sh`'s `ensure_interop_packages` installs. Each test binary uses a part of it,
//! so unused items are allowed here.
#![allow(dead_code)]

pub mod daemons;
pub mod history;
pub mod instance;
pub mod outbound;
pub mod pki;
pub mod process;
pub mod readme;
pub mod received;

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sendguard_common::DomainVerdict;

use daemons::{check_bogus_setup, start_nsd, start_postfix, start_unbound};
use instance::Instance;
use pki::{Cert, issued, new_self_signed, self_signed, sign_zone, tlsa_digest, zone_keys};
use process::{Daemon, STEP_TIMEOUT, assert_free, run, run_ok};

/// nsd, the authoritative server for the root and `test.`.
pub const NSD_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 44, 53);
/// unbound, the validating resolver both probes use.
pub const UNBOUND_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 44, 54);
/// The greeting delay of each of the three MX hosts of `three.test` (Postfix's `sleep`
/// restriction, evaluated at connect time with `smtpd_delay_reject = no`).
pub const SLOW_GREETING_SECS: u32 = 1;

/// What a peer was built to be, and so what posttls-finger must report for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Self-signed certificate, DANE-EE `3 1 1` record of its key.
    DaneEe,
    /// Certificate from a private CA, sent with the CA; DANE-TA `2 0 1` record of the CA.
    DaneTa,
    /// Self-signed certificate, no TLSA record.
    SelfSigned,
    /// `smtpd_tls_security_level = none`: no STARTTLS in EHLO.
    Plain,
    /// Only TLS 1.0, which OpenSSL 3 allows only at SECLEVEL=0.
    Tls10Only,
    /// Self-signed certificate, a DANE-EE record of some other key.
    WrongTlsa,
    /// DANE-EE behind a greeting delayed by [`SLOW_GREETING_SECS`].
    SlowDaneEe,
    /// The MX host is a CNAME to an IPv4-only host (so its AAAA answer is a signed NODATA
    /// reached through the CNAME), whose DANE-EE `3 1 1` record sits at the expanded name.
    CnameDaneEe,
    /// A DANE-EE peer in the child zone [`BOGUS_ZONE`], whose DS in `test.` names another
    /// key: unbound answers SERVFAIL (with an Extended DNS Error, RFC 8914).
    Bogus,
    /// No peer: the domain is delegated to a name server that does not answer
    /// ([`DOWN_NS_ADDR`]), an outage rather than a forgery.
    Unreachable,
}

/// The signed child zone whose chain of trust is broken (its DS names a key it does not use).
pub const BOGUS_ZONE: &str = "bogus.test";
/// Where `down.test.` is delegated: nothing listens there.
pub const DOWN_NS_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 44, 99);

/// One domain of the interop world.
pub struct Scenario {
    pub domain: &'static str,
    /// MX hosts: (label below the domain, preference, behaviour).
    pub hosts: Vec<(&'static str, u16, Kind)>,
}

pub fn scenarios() -> Vec<Scenario> {
    use Kind::*;
    let one = |domain, kind| Scenario {
        domain,
        hosts: vec![("mx", 10, kind)],
    };
    vec![
        one("dane-ee.test", DaneEe),
        one("dane-ta.test", DaneTa),
        one("tls.test", SelfSigned),
        one("plain.test", Plain),
        one("legacy.test", Tls10Only),
        one("wrong-tlsa.test", WrongTlsa),
        one("cname.test", CnameDaneEe),
        one(BOGUS_ZONE, Bogus),
        one("down.test", Unreachable),
        Scenario {
            domain: "three.test",
            hosts: vec![
                ("mx1", 10, SlowDaneEe),
                ("mx2", 20, SlowDaneEe),
                ("mx3", 30, SlowDaneEe),
            ],
        },
    ]
}

/// The resolver self-test's options for this world: a name in a signed zone and one in the
/// bogus zone.
pub fn self_test_args() -> [String; 4] {
    [
        "--resolver-check-secure".into(),
        "mx.dane-ee.test".into(),
        "--resolver-check-bogus".into(),
        format!("mx.{BOGUS_ZONE}"),
    ]
}

// ---------------------------------------------------------------------------------------------
// The world: certificates, zones, nsd, unbound, Postfix.

/// A running interop world. Field order matters: the daemons stop before the folder goes.
pub struct World {
    /// The receiving peers: one Postfix instance with an smtpd per peer address.
    pub postfix: Instance,
    pub unbound: Daemon,
    pub nsd: Daemon,
    pub dir: tempfile::TempDir,
    /// The root's DNSKEY in zone-file form: our trust anchor, and unbound's.
    pub anchor: PathBuf,
    /// The resolv.conf posttls-finger sees.
    pub resolv_conf: PathBuf,
    /// posttls-finger's MAIL_CONFIG.
    pub ptf_config: PathBuf,
    /// Postfix's log file.
    pub maillog: PathBuf,
    /// Where the peers deliver what they receive: one Maildir per domain.
    pub mail: PathBuf,
}

impl World {
    /// Panics, naming the daemon and with its log, if one of them has died meanwhile.
    pub fn assert_daemons_running(&mut self) {
        self.nsd.assert_running();
        self.unbound.assert_running();
        self.postfix.master.assert_running();
    }
}

/// Tools the world needs, with the Debian package of each.
pub const TOOLS: &[(&str, &str)] = &[
    ("nsd", "nsd"),
    ("unbound", "unbound"),
    ("ldns-signzone", "ldnsutils"),
    ("ldns-keygen", "ldnsutils"),
    ("ldns-key2ds", "ldnsutils"),
    ("dig", "bind9-dnsutils"),
    ("posttls-finger", "postfix"),
    ("openssl", "openssl"),
    ("unshare", "util-linux"),
    ("swaks", "swaks"),
];
pub use instance::POSTFIX_MASTER;

pub fn check_prerequisites() {
    let euid = run_ok("id -u", Command::new("id").arg("-u"));
    assert_eq!(
        euid.trim(),
        "0",
        "the interop test needs root (ports 25 and 53, Postfix's master, unshare -m)"
    );
    let mut missing = Vec::new();
    for (tool, package) in TOOLS {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !found {
            missing.push(format!("{tool} (package {package})"));
        }
    }
    if !Path::new(POSTFIX_MASTER).exists() {
        missing.push(format!("{POSTFIX_MASTER} (package postfix)"));
    }
    assert!(
        missing.is_empty(),
        "missing tools: {}; scripts/test.sh installs them (ensure_interop_packages in scripts/lib.sh)",
        missing.join(", ")
    );
}

impl World {
    pub fn start() -> World {
        check_prerequisites();
        let dir = tempfile::Builder::new()
            .prefix("sendguard-interop-")
            .tempdir()
            .expect("temporary folder");
        let d = dir.path().to_path_buf();

        // Certificates and, per MX host, its master.cf line and DNS records.
        let ca = new_self_signed(
            &d,
            "ca",
            "Sendguard Interop CA",
            &[],
            "making the private CA",
        );
        let mut test_zone = format!(
            "$ORIGIN test.\n$TTL 300\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n\
             @ IN NS ns.test.\nns IN A {NSD_ADDR}\n"
        );
        let mut bogus_zone = format!(
            "$ORIGIN {BOGUS_ZONE}.\n$TTL 300\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n\
             @ IN NS ns.test.\n"
        );
        let mut services = String::new();
        let mut peers = Vec::new();
        let mut receiving: Vec<&str> = Vec::new();
        let mut next = u32::from(Ipv4Addr::new(127, 0, 45, 1));
        for s in scenarios() {
            for (label, pref, kind) in &s.hosts {
                if *kind == Kind::Unreachable {
                    let _ = writeln!(
                        test_zone,
                        "{d}. IN NS ns.{d}.\nns.{d}. IN A {DOWN_NS_ADDR}",
                        d = s.domain
                    );
                    continue;
                }
                let mut records = String::new();
                let host = format!("{label}.{}", s.domain);
                // The name that holds the address (and the TLSA record): the CNAME's target.
                let owner = if *kind == Kind::CnameDaneEe {
                    let target = format!("real.{}", s.domain);
                    let _ = writeln!(records, "{host}. IN CNAME {target}.");
                    target
                } else {
                    host.clone()
                };
                let ip = Ipv4Addr::from(next);
                next += 1;
                let file = host.replace('.', "_");
                let _ = writeln!(records, "{owner}. IN A {ip}");
                let _ = writeln!(records, "{}. IN MX {pref} {host}.", s.domain);
                let tls = |cert: &Cert| {
                    format!(
                        " -o smtpd_tls_security_level=may -o smtpd_tls_key_file={} \
                         -o smtpd_tls_cert_file={}",
                        cert.key.display(),
                        cert.chain.display()
                    )
                };
                let mut tlsa = |usage: u8, selector: u8, pem: &Path| {
                    let digest = tlsa_digest(&d, pem, selector);
                    let _ = writeln!(
                        records,
                        "_25._tcp.{owner}. IN TLSA {usage} {selector} 1 {digest}"
                    );
                };
                let options = match kind {
                    Kind::DaneEe | Kind::SlowDaneEe | Kind::CnameDaneEe | Kind::Bogus => {
                        let c = self_signed(&d, &owner, &file);
                        tlsa(3, 1, &c.chain);
                        let mut o = tls(&c);
                        if *kind == Kind::SlowDaneEe {
                            o.push_str(
                                " -o smtpd_delay_reject=no \
                                 -o smtpd_client_restrictions=$slow_greeting",
                            );
                        }
                        o
                    }
                    Kind::DaneTa => {
                        let c = issued(&d, &host, &file, &ca);
                        tlsa(2, 0, &ca.chain);
                        tls(&c)
                    }
                    Kind::SelfSigned => tls(&self_signed(&d, &host, &file)),
                    Kind::WrongTlsa => {
                        let other = self_signed(&d, &host, &format!("{file}_other"));
                        tlsa(3, 1, &other.chain);
                        tls(&self_signed(&d, &host, &file))
                    }
                    Kind::Plain => " -o smtpd_tls_security_level=none".to_string(),
                    // OpenSSL 3 speaks TLS 1.0 only at security level 0 ("SSL 3, TLS 1.0,
                    // TLS 1.1 ... only work at security level 0"), so the medium cipher list,
                    // which Postfix uses for opportunistic TLS, carries @SECLEVEL=0; the
                    // protocol range needs master.cf's `{ }` form because of its spaces.
                    Kind::Tls10Only => format!(
                        "{} -o {{ smtpd_tls_protocols = >=TLSv1, <=TLSv1 }} \
                         -o tls_medium_cipherlist=DEFAULT@SECLEVEL=0",
                        tls(&self_signed(&d, &host, &file))
                    ),
                    Kind::Unreachable => unreachable!("has no peer"),
                };
                // Each peer logs under its own name: `postfix/{host}/smtpd[PID]: ...`.
                let _ = writeln!(
                    services,
                    "{ip}:smtp inet n - n - - smtpd -o syslog_name=postfix/{host}{options}"
                );
                if !receiving.contains(&s.domain) {
                    receiving.push(s.domain);
                }
                peers.push(SocketAddr::from((ip, 25)));
                let zone = if *kind == Kind::Bogus {
                    &mut bogus_zone
                } else {
                    &mut test_zone
                };
                zone.push_str(&records);
            }
        }

        // The bogus child: signed with its own keys, delegated with the DS of a decoy key.
        std::fs::write(d.join("bogus.zone"), bogus_zone).unwrap();
        let bogus_keys = zone_keys(&d, BOGUS_ZONE);
        sign_zone(&d, "bogus.zone", BOGUS_ZONE, &bogus_keys);
        let decoy = zone_keys(&d, BOGUS_ZONE);
        let decoy_ds = run_ok(
            "ldns-key2ds for the decoy key",
            Command::new("ldns-key2ds")
                .args(["-n", "-2", &format!("{}.key", decoy.0)])
                .current_dir(&d),
        );
        let _ = write!(test_zone, "{BOGUS_ZONE}. IN NS ns.test.\n{decoy_ds}");

        // DNS: the `test.` zone, then the root with its DS, both signed.
        std::fs::write(d.join("test.zone"), test_zone).unwrap();
        let test_keys = zone_keys(&d, "test");
        sign_zone(&d, "test.zone", "test", &test_keys);
        let ds = run_ok(
            "ldns-key2ds for test.",
            Command::new("ldns-key2ds")
                .args(["-n", "-2", &format!("{}.key", test_keys.0)])
                .current_dir(&d),
        );
        let root_zone = format!(
            "$ORIGIN .\n$TTL 300\n. IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n\
             . IN NS ns.test.\ntest. IN NS ns.test.\nns.test. IN A {NSD_ADDR}\n{ds}"
        );
        std::fs::write(d.join("root.zone"), root_zone).unwrap();
        let root_keys = zone_keys(&d, ".");
        sign_zone(&d, "root.zone", ".", &root_keys);
        let anchor = d.join("root-anchor.key");
        std::fs::copy(d.join(format!("{}.key", root_keys.0)), &anchor).unwrap();

        let nsd = start_nsd(&d);
        assert_free(
            "nothing (down.test's name server)",
            SocketAddr::from((DOWN_NS_ADDR, 53)),
            true,
        );
        let unbound = start_unbound(&d, &anchor);
        check_bogus_setup();
        let mail = d.join("mail");
        let postfix = start_postfix(&d, &services, &peers, &receiving, &mail);
        let maillog = postfix.maillog.clone();

        let resolv_conf = d.join("resolv.conf");
        std::fs::write(
            &resolv_conf,
            format!("nameserver {UNBOUND_ADDR}\noptions edns0 trust-ad\n"),
        )
        .unwrap();
        let ptf_config = d.join("posttls-finger");
        std::fs::create_dir(&ptf_config).unwrap();
        std::fs::write(
            ptf_config.join("main.cf"),
            "compatibility_level = 3.6\nsmtp_dns_support_level = dnssec\n",
        )
        .unwrap();

        World {
            postfix,
            unbound,
            nsd,
            dir,
            anchor,
            resolv_conf,
            ptf_config,
            maillog,
            mail,
        }
    }

    /// The options that point Sendguard at this world: unbound, the private root's DNSKEY as
    /// the trust anchor, port 25, loopback targets allowed.
    pub fn world_options(&self) -> Vec<String> {
        vec![
            "--dns-resolver".into(),
            UNBOUND_ADDR.to_string(),
            "--trust-anchor".into(),
            self.anchor.display().to_string(),
            "--smtp-port".into(),
            "25".into(),
            "--allow-private-targets".into(),
        ]
    }

    /// `sendguard probe --json` of every domain at once, pointed at unbound.
    pub fn sendguard_args(&self) -> Vec<String> {
        let mut args = vec!["probe".into(), "--json".into()];
        args.extend(self.world_options());
        args.extend(self_test_args());
        args
    }

    /// `sendguard SUBCOMMAND` with [`World::world_options`] and, when given, `--database`;
    /// the environment's `SENDGUARD_*` settings of the same things removed.
    pub fn sendguard_command(&self, subcommand: &str, database: Option<&Path>) -> Command {
        let mut cmd = Command::new(sendguard_bin());
        cmd.arg(subcommand).args(self.world_options());
        if let Some(db) = database {
            cmd.arg("--database").arg(db);
        }
        for var in [
            "SENDGUARD_DATABASE",
            "SENDGUARD_DNS_RESOLVER",
            "SENDGUARD_TRUST_ANCHOR",
            "SENDGUARD_SMTP_PORT",
        ] {
            cmd.env_remove(var);
        }
        // The resolver self-test of `serve`, `postfix`, `probe` and `send` (other subcommands
        // have no such option and ignore the variables).
        let names = self_test_args();
        cmd.env("SENDGUARD_RESOLVER_CHECK_SECURE", &names[1])
            .env("SENDGUARD_RESOLVER_CHECK_BOGUS", &names[3]);
        cmd
    }

    pub fn sendguard(&self, domains: &[&str]) -> Vec<DomainVerdict> {
        self.sendguard_into(None, domains)
    }

    /// [`World::sendguard`], recording what it saw in `database` when given (`--database`).
    pub fn sendguard_into(&self, database: Option<&Path>, domains: &[&str]) -> Vec<DomainVerdict> {
        let out = run_ok(
            "sendguard probe",
            self.sendguard_command("probe", database)
                .arg("--json")
                .args(domains),
        );
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("sendguard's JSON: {e}\n{out}"))
    }

    /// A shell command that runs `inner` with posttls-finger's view of the world: a private
    /// mount namespace in which `/etc/resolv.conf` names unbound.
    pub fn in_namespace(&self, inner: &str) -> Command {
        let mut cmd = instance::in_namespace(&self.resolv_conf, inner);
        cmd.env("MAIL_CONFIG", &self.ptf_config);
        cmd
    }

    /// posttls-finger's report on `destination` with extra options.
    pub fn posttls_finger(&self, destination: &str, options: &str) -> String {
        let out = run(
            &format!("posttls-finger {destination}"),
            &mut self.in_namespace(&format!(
                "exec posttls-finger -a ipv4 -t 10 -T 10 -l dane {options} '{destination}'"
            )),
            STEP_TIMEOUT,
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl World {
    /// Turns STARTTLS off at the peer `host` (its smtpd line gets `smtpd_tls_security_level =
    /// none` and master re-reads master.cf): a server that has lost its TLS since it was seen.
    /// Returns once a new session's EHLO reply no longer offers STARTTLS.
    pub fn turn_off_starttls(&mut self, host: &str) {
        let path = self.postfix.conf.join("master.cf");
        let master_cf = std::fs::read_to_string(&path).unwrap();
        let tag = format!(" -o syslog_name=postfix/{host} ");
        let line = master_cf
            .lines()
            .find(|l| l.contains(&tag))
            .unwrap_or_else(|| panic!("no smtpd line for {host} in master.cf"));
        let addr: SocketAddr = line
            .split_once(":smtp ")
            .and_then(|(ip, _)| ip.parse::<Ipv4Addr>().ok())
            .map(|ip| SocketAddr::from((ip, 25)))
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        let plain = line.replace(
            "-o smtpd_tls_security_level=may",
            "-o smtpd_tls_security_level=none",
        );
        std::fs::write(&path, master_cf.replace(line, &plain)).unwrap();
        self.postfix.reload();
        process::wait_until(
            &format!("{host} without STARTTLS"),
            &mut self.postfix.master,
            || daemons::offers_starttls(addr) == Some(false),
        );
    }
}

pub fn sendguard_bin() -> PathBuf {
    std::env::var_os("SENDGUARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sendguard")))
}
