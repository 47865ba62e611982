//! Interop: our verdicts compared with Postfix's own probe, `posttls-finger(1)`, on real
//! Postfix SMTP servers behind a real DNSSEC tree, all from Debian's packages and on loopback.
//!
//! The world (`interop/mod.rs`): a private signed root and `test.` zone served by nsd, a
//! validating unbound, and one Postfix peer per behaviour (DANE-EE, DANE-TA, self-signed TLS,
//! no STARTTLS, TLS 1.0 only, wrong TLSA, a CNAME MX host, a bogus zone, a dead name server,
//! three slow MX hosts).
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
//! `bench_three_mx_hosts` (also ignored) times both tools on the three-MX domain, pair by pair
//! (`scripts/bench.sh probe_postfix`); see BENCHMARKS.md.

mod interop;

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use sendguard_common::{DaneStatus, DomainVerdict, SecurityClass};

use interop::process::run;
use interop::{Kind, World, scenarios, sendguard_bin};

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
/// against posttls-finger checking the same three hosts one after another: one warm-up each,
/// then `SENDGUARD_BENCH_PAIRS` (10) pairs back to back, the order alternating, each command in
/// the same `unshare -m` wrapper. Prints every pair and a `RESULT` line (medians, spreads and
/// the median of the pairs' ratios) for `scripts/bench.sh`; writes nothing. See BENCHMARKS.md.
#[test]
#[ignore = "benchmark: needs root, Debian's nsd, unbound and postfix"]
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
            "mount --bind {} /etc/resolv.conf && {}",
            world.resolv_conf.display(),
            inner
        )
    };
    let time = |script: &str| {
        let start = std::time::Instant::now();
        let out = run(
            "unshare -m sh -c",
            Command::new("unshare")
                .args(["-m", "sh", "-c", script])
                .env("MAIL_CONFIG", &world.ptf_config),
            Duration::from_secs(120),
        );
        assert!(
            out.status.success(),
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        start.elapsed().as_secs_f64()
    };
    let (ours, theirs) = (wrap(&ours), wrap(theirs));
    time(&ours);
    time(&theirs);
    let pairs: usize = std::env::var("SENDGUARD_BENCH_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let (x, y) = if i % 2 == 0 {
            let x = time(&ours);
            (x, time(&theirs))
        } else {
            let y = time(&theirs);
            (time(&ours), y)
        };
        println!(
            "pair {}: sendguard probe {x:.3} s, posttls-finger mx1, mx2, mx3 {y:.3} s, ratio {:.3}",
            i + 1,
            x / y
        );
        a.push(x);
        b.push(y);
        ratios.push(x / y);
    }
    let stat = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        (median, v[0], v[n - 1])
    };
    let ((am, alo, ahi), (bm, blo, bhi), (rm, rlo, rhi)) =
        (stat(&mut a), stat(&mut b), stat(&mut ratios));
    println!(
        "RESULT probe_postfix pairs={pairs} sendguard_s={am:.3} sendguard_s_min={alo:.3} sendguard_s_max={ahi:.3} \
         finger_s={bm:.3} finger_s_min={blo:.3} finger_s_max={bhi:.3} ratio={rm:.3} ratio_min={rlo:.3} ratio_max={rhi:.3}"
    );
}
