//! Interop: our verdicts compared with Postfix's own probe, `posttls-finger(1)`, on real
//! Postfix SMTP servers behind a real DNSSEC tree, all from Debian's packages and on loopback.
//!
//! The test builds, in a temporary folder:
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
//! Then every domain is probed by `sendguard probe --json` (resolver = unbound, trust anchor =
//! the root DNSKEY, port 25, private targets allowed) and by `posttls-finger -l dane` in a
//! private mount namespace whose `/etc/resolv.conf` points at unbound (`options edns0
//! trust-ad`, so that Postfix trusts the AD bit). posttls-finger's verdict is first checked
//! against what each peer was built to be (so a broken setup cannot pass), then ours is
//! compared with posttls-finger's:
//!
//! | posttls-finger | sendguard |
//! |---|---|
//! | `Verified TLS connection` | class `dane_ok`, DANE verified |
//! | `Untrusted`/`Anonymous` TLS, TLSv1.2 or 1.3 | class `ssl_ok` |
//! | EHLO without STARTTLS | class `no_ssl`, STARTTLS not offered |
//! | handshake fails at OpenSSL's default level; a TLSv1 session once SECLEVEL=0 allows it | class `no_ssl`, "only offers TLS versions older than 1.2" |
//! | TLSA records present, certificate does not match them | blocked, DANE failed |
//! | no session: the MX lookup fails (bogus zone) | blocked, "DNSSEC validation failed" |
//! | no session: the MX lookup fails (name server down) | class `unknown`, not blocked, "right now" |
//!
//! It needs root (ports 25 and 53, Postfix's `master`, `unshare -m`) and the packages that
//! `scripts/lib.sh`'s `ensure_interop_packages` installs, so it is `#[ignore]`d in a plain
//! `cargo test`; `scripts/test.sh` runs it with `--ignored`. Every daemon it starts is stopped
//! by a drop guard (its own process group only), even when an assertion fails.
//!
//! `bench_three_mx_hosts` (also ignored) times both tools on the three-MX domain with hyperfine;
//! see BENCHMARKS.md.

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sendguard_common::{DaneStatus, DomainVerdict, SecurityClass};

/// nsd, the authoritative server for the root and `test.`.
const NSD_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 44, 53);
/// unbound, the validating resolver both probes use.
const UNBOUND_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 44, 54);
/// How long any daemon may take to become ready, and any one probe run may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// The greeting delay of each of the three MX hosts of `three.test` (Postfix's `sleep`
/// restriction, evaluated at connect time with `smtpd_delay_reject = no`).
const SLOW_GREETING_SECS: u32 = 1;

/// What a peer was built to be, and so what posttls-finger must report for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
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
const BOGUS_ZONE: &str = "bogus.test";
/// Where `down.test.` is delegated: nothing listens there.
const DOWN_NS_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 44, 99);

/// One domain of the interop world.
struct Scenario {
    domain: &'static str,
    /// MX hosts: (label below the domain, preference, behaviour).
    hosts: Vec<(&'static str, u16, Kind)>,
}

fn scenarios() -> Vec<Scenario> {
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

// ---------------------------------------------------------------------------------------------
// Processes: running a command with a deadline, and daemons stopped by a drop guard.

/// Runs `cmd` to its end, killing it after `timeout`; `what` names the step in messages.
fn run(what: &str, cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    // Drain both pipes on their own threads so that a chatty child cannot block.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: {cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// Runs `cmd` and returns its stdout; any failure panics with the step's name and stderr.
fn run_ok(what: &str, cmd: &mut Command) -> String {
    let out = run(what, cmd, STEP_TIMEOUT);
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A daemon this test started, in a process group of its own. Dropping it sends SIGTERM to
/// that group (and only to it), waits up to five seconds, then sends SIGKILL.
struct Daemon {
    name: &'static str,
    child: Child,
    /// Its captured stdout and stderr.
    log: PathBuf,
    /// The log file it writes itself, when it has one.
    own_log: Option<PathBuf>,
}

impl Daemon {
    /// Starts `cmd` in a new process group with stdout and stderr going to `log`; `own_log`
    /// is the log file the daemon writes itself.
    fn start(
        name: &'static str,
        mut cmd: Command,
        log: PathBuf,
        own_log: Option<PathBuf>,
    ) -> Daemon {
        use std::os::unix::process::CommandExt as _;
        let file = std::fs::File::create(&log).expect("daemon log file");
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file handle"))
            .stderr(file)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {cmd:?}: {e}"));
        Daemon {
            name,
            child,
            log,
            own_log,
        }
    }

    /// Panics, with the daemon's log, unless it is still running.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early ({status}); its output:\n{}",
                self.name,
                self.logs()
            );
        }
    }

    /// The daemon's captured output and its own log file.
    fn logs(&self) -> String {
        let mut s = std::fs::read_to_string(&self.log).unwrap_or_default();
        if let Some(p) = &self.own_log {
            let _ = write!(
                s,
                "\n--- {}:\n{}",
                p.display(),
                std::fs::read_to_string(p).unwrap_or_default()
            );
        }
        s
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                // The leader is gone; make sure no child of its group outlives it.
                signal("-KILL");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal("-KILL");
        let _ = self.child.wait();
    }
}

/// Polls `ready` every 100 ms until it holds or [`STEP_TIMEOUT`] passes; then panics with
/// `what` and the daemon's logs.
fn wait_until(what: &str, daemon: &mut Daemon, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        daemon.assert_running();
        if ready() {
            return;
        }
        if start.elapsed() > STEP_TIMEOUT {
            panic!(
                "{what}: not ready within {STEP_TIMEOUT:?}; {} output:\n{}",
                daemon.name,
                daemon.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// The world: certificates, zones, nsd, unbound, Postfix.

/// A running interop world. Field order matters: the daemons stop before the folder goes.
struct World {
    postfix: Daemon,
    unbound: Daemon,
    nsd: Daemon,
    dir: tempfile::TempDir,
    /// The root's DNSKEY in zone-file form: our trust anchor, and unbound's.
    anchor: PathBuf,
    /// The resolv.conf posttls-finger sees.
    resolv_conf: PathBuf,
    /// posttls-finger's MAIL_CONFIG.
    ptf_config: PathBuf,
    /// Postfix's log file.
    maillog: PathBuf,
}

impl World {
    /// Panics, naming the daemon and with its log, if one of them has died meanwhile.
    fn assert_daemons_running(&mut self) {
        self.nsd.assert_running();
        self.unbound.assert_running();
        self.postfix.assert_running();
    }
}

/// Tools the world needs, with the Debian package of each.
const TOOLS: &[(&str, &str)] = &[
    ("nsd", "nsd"),
    ("unbound", "unbound"),
    ("ldns-signzone", "ldnsutils"),
    ("ldns-keygen", "ldnsutils"),
    ("ldns-key2ds", "ldnsutils"),
    ("dig", "bind9-dnsutils"),
    ("posttls-finger", "postfix"),
    ("openssl", "openssl"),
    ("unshare", "util-linux"),
];
const POSTFIX_MASTER: &str = "/usr/lib/postfix/sbin/master";

fn check_prerequisites() {
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

/// A certificate and its key, as PEM files.
struct Cert {
    key: PathBuf,
    /// The leaf, followed by its issuer when it has one.
    chain: PathBuf,
}

fn openssl(what: &str, args: &[&str], dir: &Path) -> String {
    run_ok(what, Command::new("openssl").args(args).current_dir(dir))
}

/// A self-signed certificate for the host `name` (also its subjectAltName).
fn self_signed(dir: &Path, name: &str, file: &str) -> Cert {
    let san = format!("subjectAltName=DNS:{name}");
    new_self_signed(
        dir,
        file,
        name,
        &["-addext", &san],
        &format!("making the self-signed certificate of {name}"),
    )
}

/// A new RSA key and a self-signed certificate for `/CN={cn}`, written to `{file}.key` and
/// `{file}.crt`; `extra` goes to `openssl req` as well.
fn new_self_signed(dir: &Path, file: &str, cn: &str, extra: &[&str], what: &str) -> Cert {
    let key = dir.join(format!("{file}.key"));
    let chain = dir.join(format!("{file}.crt"));
    let subject = format!("/CN={cn}");
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        chain.to_str().unwrap(),
        "-subj",
        &subject,
    ];
    args.extend_from_slice(extra);
    openssl(what, &args, dir);
    Cert { key, chain }
}

/// A leaf for `name` issued by the CA `ca` (key and certificate files), chain = leaf + CA.
fn issued(dir: &Path, name: &str, file: &str, ca: &Cert) -> Cert {
    let key = dir.join(format!("{file}.key"));
    let csr = dir.join(format!("{file}.csr"));
    let leaf = dir.join(format!("{file}.leaf.crt"));
    let ext = dir.join(format!("{file}.ext"));
    std::fs::write(&ext, format!("subjectAltName=DNS:{name}\n")).unwrap();
    openssl(
        &format!("making the key and request of {name}"),
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            csr.to_str().unwrap(),
            "-subj",
            &format!("/CN={name}"),
        ],
        dir,
    );
    openssl(
        &format!("issuing the certificate of {name}"),
        &[
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            ca.chain.to_str().unwrap(),
            "-CAkey",
            ca.key.to_str().unwrap(),
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            ext.to_str().unwrap(),
            "-out",
            leaf.to_str().unwrap(),
        ],
        dir,
    );
    let chain = dir.join(format!("{file}.crt"));
    let mut pem = std::fs::read_to_string(&leaf).unwrap();
    pem.push_str(&std::fs::read_to_string(&ca.chain).unwrap());
    std::fs::write(&chain, pem).unwrap();
    Cert { key, chain }
}

/// SHA-256 of the DER of the first certificate in `pem` (selector 0) or of its
/// SubjectPublicKeyInfo (selector 1), computed by OpenSSL rather than by our own code.
fn tlsa_digest(dir: &Path, pem: &Path, selector: u8) -> String {
    let pem = pem.to_str().unwrap();
    let script = match selector {
        0 => format!("openssl x509 -in {pem} -outform DER | openssl dgst -sha256 -r"),
        _ => format!(
            "openssl x509 -in {pem} -noout -pubkey | openssl pkey -pubin -outform DER \
             | openssl dgst -sha256 -r"
        ),
    };
    let out = run_ok(
        "computing a TLSA digest",
        Command::new("sh").args(["-c", &script]).current_dir(dir),
    );
    out.split_whitespace().next().unwrap().to_string()
}

/// Generates a KSK and a ZSK for `zone` and returns their base names.
fn zone_keys(dir: &Path, zone: &str) -> (String, String) {
    let keygen = |ksk: bool| {
        let mut cmd = Command::new("ldns-keygen");
        cmd.args(["-a", "ECDSAP256SHA256"]);
        if ksk {
            cmd.arg("-k");
        }
        cmd.arg(zone).current_dir(dir);
        run_ok(&format!("ldns-keygen for {zone}"), &mut cmd)
            .trim()
            .to_string()
    };
    (keygen(true), keygen(false))
}

/// Appends the keys to `zone_file` and signs it into `zone_file.signed`.
fn sign_zone(dir: &Path, zone_file: &str, origin: &str, keys: &(String, String)) {
    let mut text = std::fs::read_to_string(dir.join(zone_file)).unwrap();
    for k in [&keys.0, &keys.1] {
        text.push_str(&std::fs::read_to_string(dir.join(format!("{k}.key"))).unwrap());
    }
    std::fs::write(dir.join(zone_file), text).unwrap();
    run_ok(
        &format!("ldns-signzone for {origin}"),
        Command::new("ldns-signzone")
            .args(["-o", origin, zone_file, &keys.0, &keys.1])
            .current_dir(dir),
    );
}

impl World {
    fn start() -> World {
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
                let _ = writeln!(services, "{ip}:smtp inet n - n - - smtpd{options}");
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
        let (postfix, maillog) = start_postfix(&d, &services, &peers);

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
        }
    }

    /// `sendguard probe --json` of every domain at once, pointed at unbound.
    fn sendguard_args(&self) -> Vec<String> {
        vec![
            "probe".into(),
            "--json".into(),
            "--dns-resolver".into(),
            UNBOUND_ADDR.to_string(),
            "--trust-anchor".into(),
            self.anchor.display().to_string(),
            "--smtp-port".into(),
            "25".into(),
            "--allow-private-targets".into(),
        ]
    }

    fn sendguard(&self, domains: &[&str]) -> Vec<DomainVerdict> {
        let bin = sendguard_bin();
        let out = run_ok(
            "sendguard probe",
            Command::new(&bin)
                .args(self.sendguard_args())
                .args(domains)
                .env_remove("SENDGUARD_DNS_RESOLVER")
                .env_remove("SENDGUARD_TRUST_ANCHOR")
                .env_remove("SENDGUARD_SMTP_PORT"),
        );
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("sendguard's JSON: {e}\n{out}"))
    }

    /// A shell command that runs `inner` with posttls-finger's view of the world: a private
    /// mount namespace in which `/etc/resolv.conf` names unbound.
    fn in_namespace(&self, inner: &str) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args([
            "-m",
            "sh",
            "-c",
            &format!(
                "mount --bind {} /etc/resolv.conf && {inner}",
                self.resolv_conf.display()
            ),
        ])
        .env("MAIL_CONFIG", &self.ptf_config);
        cmd
    }

    /// posttls-finger's report on `destination` with extra options.
    fn posttls_finger(&self, destination: &str, options: &str) -> String {
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

fn sendguard_bin() -> PathBuf {
    std::env::var_os("SENDGUARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sendguard")))
}

/// Panics unless `addr` is free (TCP, and UDP when `udp`): a leftover daemon would otherwise
/// answer in place of ours, and ours would exit.
fn assert_free(who: &str, addr: SocketAddr, udp: bool) {
    let taken = std::net::TcpListener::bind(addr).is_err()
        || (udp && std::net::UdpSocket::bind(addr).is_err());
    assert!(
        !taken,
        "{addr} (for {who}) is already in use: another run of this test, or a leftover daemon? \
         `ss -lntup | grep {}` shows who holds it",
        addr.ip()
    );
}

fn dig(args: &[&str]) -> String {
    let out = run(
        "dig",
        Command::new("dig").args(["+time=1", "+tries=1"]).args(args),
        Duration::from_secs(5),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start_nsd(d: &Path) -> Daemon {
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

fn start_unbound(d: &Path, anchor: &Path) -> Daemon {
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
fn check_bogus_setup() {
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
fn start_postfix(d: &Path, services: &str, peers: &[SocketAddr]) -> (Daemon, PathBuf) {
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
    for (owner, path) in [
        ("postfix", &data),
        ("postfix", &queue.join("private")),
        ("postfix:postdrop", &queue.join("public")),
    ] {
        run_ok(
            "chown for Postfix",
            Command::new("chown").arg(owner).arg(path),
        );
    }
    std::fs::write(
        conf.join("main.cf"),
        format!(
            "compatibility_level = 3.6\nqueue_directory = {queue}\ndata_directory = {data}\n\
             mail_owner = postfix\nsetgid_group = postdrop\nmyhostname = mx.interop.test\n\
             mydestination =\nlocal_recipient_maps =\ninet_interfaces = all\n\
             inet_protocols = ipv4\nmaillog_file_prefixes = {dir}\nmaillog_file = {log}\n\
             smtpd_tls_loglevel = 1\nslow_greeting = sleep {SLOW_GREETING_SECS}\n",
            queue = queue.display(),
            data = data.display(),
            dir = d.display(),
            log = maillog.display()
        ),
    )
    .unwrap();
    // The helper services smtpd talks to: logging, connection counting, table lookups and
    // the TLS session cache / entropy manager.
    std::fs::write(
        conf.join("master.cf"),
        format!(
            "postlog unix-dgram n - n - 1 postlogd\nanvil unix - - n - 1 anvil\n\
             proxymap unix - - n - - proxymap\ntlsmgr unix - - n 1000? 1 tlsmgr\n{services}"
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

// ---------------------------------------------------------------------------------------------
// posttls-finger's verdicts.

/// What posttls-finger reported for one destination.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Finger {
    /// "Verified TLS connection established": DANE (or PKIX) authentication succeeded.
    Verified,
    /// "Untrusted"/"Anonymous TLS connection established", with the protocol version.
    Unauthenticated { version: String },
    /// TLS established, but a TLSA record exists and the certificate did not match it.
    DaneFailed,
    /// The server's EHLO reply did not offer STARTTLS.
    NoStarttls,
    /// STARTTLS was accepted and the handshake failed.
    HandshakeFailed(String),
    /// Anything else (connection failure, DNS failure).
    Other(String),
}

impl Finger {
    fn parse(report: &str) -> Finger {
        let established = report.lines().find_map(|l| {
            let (_, rest) = l.split_once(" TLS connection established to ")?;
            let kind = l.split_whitespace().nth(1)?.to_string();
            let version = rest
                .split(": ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .to_string();
            Some((kind, version))
        });
        // At the dane level a mismatch reads "server certificate verification failed for
        // HOST: num=65:no matching DANE TLSA records", then the session is "Untrusted".
        let tlsa_mismatch = report
            .lines()
            .any(|l| l.contains("verification failed") && l.contains("DANE TLSA"));
        match established {
            Some((kind, _)) if kind == "Verified" => Finger::Verified,
            Some(_) if tlsa_mismatch => Finger::DaneFailed,
            Some((_, version)) => Finger::Unauthenticated { version },
            None if report.contains("SSL_connect error") => Finger::HandshakeFailed(
                report
                    .lines()
                    .find(|l| l.contains("TLS library problem"))
                    .unwrap_or("handshake failed")
                    .to_string(),
            ),
            None if report.contains("< 250 ") && !report.contains("STARTTLS") => Finger::NoStarttls,
            None => Finger::Other(report.trim().to_string()),
        }
    }

    fn label(&self) -> String {
        match self {
            Finger::Verified => "Verified".into(),
            Finger::Unauthenticated { version } => format!("Untrusted {version}"),
            Finger::DaneFailed => "TLSA mismatch".into(),
            Finger::NoStarttls => "no STARTTLS".into(),
            Finger::HandshakeFailed(_) => "handshake failed".into(),
            Finger::Other(_) => "other".into(),
        }
    }
}

/// What posttls-finger must report for a peer built as `kind` (checks the setup itself).
fn finger_matches_kind(kind: Kind, f: &Finger) -> bool {
    match kind {
        Kind::DaneEe | Kind::DaneTa | Kind::SlowDaneEe => *f == Finger::Verified,
        Kind::SelfSigned => {
            matches!(f, Finger::Unauthenticated { version } if version.starts_with("TLSv1."))
        }
        Kind::Plain => *f == Finger::NoStarttls,
        Kind::Tls10Only => matches!(f, Finger::HandshakeFailed(_)),
        Kind::WrongTlsa => *f == Finger::DaneFailed,
        Kind::CnameDaneEe => *f == Finger::Verified,
        // The MX lookup fails (SERVFAIL from unbound), so there is no session at all.
        Kind::Bogus | Kind::Unreachable => matches!(f, Finger::Other(_)),
    }
}

/// Our verdict for a domain whose DNS fails: bogus is blocked as bogus, an outage is "not
/// known" and not blocked (a transient failure is never reported as a validation failure).
fn ours_matches_dns_failure(kind: Kind, v: &DomainVerdict) -> Result<(), String> {
    let ok = match kind {
        Kind::Bogus => v.blocked && v.reason.contains("DNSSEC validation"),
        _ => {
            v.class == SecurityClass::Unknown
                && !v.blocked
                && v.reason.contains("could not be looked up right now")
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "class {:?}, blocked {}, reason {:?}",
            v.class, v.blocked, v.reason
        ))
    }
}

/// Whether our verdict corresponds to posttls-finger's (the table in the module docs).
/// `legacy_session` is posttls-finger's TLS version once OpenSSL is allowed TLS 1.0.
fn ours_matches(f: &Finger, legacy_session: Option<&str>, v: &DomainVerdict) -> Result<(), String> {
    let mx = v.mx.first().ok_or("no MX host in our verdict")?;
    let ok = match f {
        Finger::Verified => {
            v.class == SecurityClass::DaneOk && mx.dane == DaneStatus::Verified && !v.blocked
        }
        Finger::Unauthenticated { version } if version == "TLSv1.2" || version == "TLSv1.3" => {
            v.class == SecurityClass::SslOk && !v.blocked
        }
        Finger::NoStarttls => {
            v.class == SecurityClass::NoSsl && mx.starttls == Some(false) && !v.blocked
        }
        Finger::HandshakeFailed(_) => {
            matches!(legacy_session, Some("TLSv1" | "TLSv1.1"))
                && v.class == SecurityClass::NoSsl
                && v.reason.contains("only offers TLS versions older than 1.2")
        }
        Finger::DaneFailed => v.blocked && mx.dane == DaneStatus::Failed,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "class {:?}, blocked {}, DANE {:?}, reason {:?}",
            v.class, v.blocked, mx.dane, v.reason
        ))
    }
}

fn ours_label(v: &DomainVerdict) -> String {
    let dane = v.mx.first().map(|m| m.dane);
    format!(
        "{:?}{} (DANE {:?})",
        v.class,
        if v.blocked { ", blocked" } else { "" },
        dane.unwrap_or(DaneStatus::None)
    )
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
#[ignore = "needs root and Debian's nsd, unbound, ldnsutils, postfix: scripts/test.sh runs it"]
fn verdicts_agree_with_posttls_finger() {
    let mut world = World::start();
    let list = scenarios();
    let domains: Vec<&str> = list.iter().map(|s| s.domain).collect();
    let ours = world.sendguard(&domains);
    assert_eq!(ours.len(), domains.len(), "one verdict per domain");

    let mut failures = Vec::new();
    let mut table = String::from("\ndomain            posttls-finger     sendguard\n");
    for (s, v) in list.iter().zip(&ours) {
        assert_eq!(v.domain, s.domain, "verdicts come in the order asked");
        let report = world.posttls_finger(s.domain, "");
        // Shown with --nocapture (cargo prints a passing test's output only then).
        println!(
            "--- posttls-finger -l dane {}:\n{}",
            s.domain,
            report.trim_end()
        );
        let finger = Finger::parse(&report);
        let kind = s.hosts[0].2;
        // For the TLS 1.0 peer: what posttls-finger sees once OpenSSL may speak TLS 1.0
        // (`-l may`: at the dane/secure levels it still refuses the legacy signatures).
        let legacy = (kind == Kind::Tls10Only).then(|| {
            let r = world.posttls_finger(
                s.domain,
                "-o tls_medium_cipherlist=DEFAULT@SECLEVEL=0 -l may",
            );
            match Finger::parse(&r) {
                Finger::Unauthenticated { version } => version,
                other => format!("{other:?}"),
            }
        });
        let _ = writeln!(
            table,
            "{:<17} {:<18} {}",
            s.domain,
            match &legacy {
                Some(l) => format!("{} ({l} at SECLEVEL=0)", finger.label()),
                None => finger.label(),
            },
            ours_label(v)
        );
        if !finger_matches_kind(kind, &finger) {
            failures.push(format!(
                "{}: posttls-finger reports {finger:?}, not what a {kind:?} peer should give \
                 (a setup problem); its output:\n{report}",
                s.domain
            ));
            continue;
        }
        let agrees = match kind {
            Kind::Bogus | Kind::Unreachable => {
                println!("--- sendguard's reason for {}: {}", s.domain, v.reason);
                ours_matches_dns_failure(kind, v)
            }
            _ => ours_matches(&finger, legacy.as_deref(), v),
        };
        if let Err(why) = agrees {
            failures.push(format!(
                "{}: posttls-finger says {}, sendguard says {why}",
                s.domain,
                finger.label()
            ));
        }
    }
    println!("{table}");
    world.assert_daemons_running();
    if !failures.is_empty() {
        panic!(
            "{} of {} verdicts differ:\n{}\n--- Postfix log:\n{}",
            failures.len(),
            list.len(),
            failures.join("\n"),
            std::fs::read_to_string(&world.maillog).unwrap_or_default()
        );
    }
    // All three MX hosts of three.test were judged, each DANE-verified.
    let three = ours.iter().find(|v| v.domain == "three.test").unwrap();
    assert_eq!(three.mx.len(), 3, "{three:#?}");
    assert!(
        three.mx.iter().all(|m| m.dane == DaneStatus::Verified),
        "{three:#?}"
    );
    drop(world);
}

/// Times `sendguard probe` of `three.test` (three MX hosts, each greeting after one second)
/// against posttls-finger checking the same three hosts one after another, with hyperfine.
/// Prints hyperfine's table; writes nothing. See BENCHMARKS.md for the command.
#[test]
#[ignore = "benchmark: needs root, Debian's nsd, unbound, postfix and hyperfine"]
fn bench_three_mx_hosts() {
    let world = World::start();
    let ours = format!(
        "{} {} three.test > /dev/null",
        sendguard_bin().display(),
        world.sendguard_args().join(" ")
    );
    let theirs = "for h in mx1 mx2 mx3; do posttls-finger -c -a ipv4 -t 10 -T 10 -l dane \
                  \"[$h.three.test]\" > /dev/null; done";
    let wrap = |inner: &str| {
        format!(
            "unshare -m sh -c 'mount --bind {} /etc/resolv.conf && {}'",
            world.resolv_conf.display(),
            inner.replace('\'', "'\\''")
        )
    };
    let md = world.dir.path().join("bench.md");
    let out = run(
        "hyperfine",
        Command::new("hyperfine")
            .args(["--warmup", "1", "--runs", "10", "--export-markdown"])
            .arg(&md)
            .args(["-n", "sendguard probe three.test", &wrap(&ours)])
            .args(["-n", "posttls-finger mx1, mx2, mx3", &wrap(theirs)])
            .env("MAIL_CONFIG", &world.ptf_config),
        Duration::from_secs(300),
    );
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "hyperfine failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{}", std::fs::read_to_string(&md).unwrap_or_default());
}
