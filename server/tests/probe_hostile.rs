//! Hostile SMTP peers of the simulated internet, probed end to end (real DNSSEC, real TCP and
//! TLS on loopback, the verdict service with a real store): each probe ends within its
//! timeouts as "SSL?" with a reason; an old server's refused EHLO is recorded as "no ESMTP";
//! a peer's text reaches the verdict and the database stripped of control characters and cut.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sendguard::probe::Prober;
use sendguard_common::{DomainVerdict, SecurityClass};
use sendguard_sim::dns::Signing;
use sendguard_sim::world::{HostKind, Scenario, SimWorld, hostile_scenarios};

mod common;

struct Shared {
    world: SimWorld,
    _dir: tempfile::TempDir,
}

/// A 454 to STARTTLS whose text would clear a terminal, retitle it and fill a screen.
fn escaping_reply() -> String {
    format!(
        "454 4.7.0 \u{1b}[2J\u{1b}]0;owned\u{7}not now \u{202e}gnp.exe{}",
        "y".repeat(1500)
    )
}

/// One world for the file, on a runtime of its own thread (each test has its own runtime).
fn shared() -> &'static Shared {
    static WORLD: OnceLock<Shared> = OnceLock::new();
    WORLD.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let mut list = hostile_scenarios();
                let one = |domain, kind| Scenario {
                    domain,
                    description: "",
                    signing: Signing::Signed,
                    hosts: vec![("mx", 10, kind)],
                    null_mx: false,
                    mta_sts: None,
                };
                list.push(one("no-esmtp.test", HostKind::NoEsmtp));
                list.push(one(
                    "escapes.test",
                    HostKind::RefuseStartTlsWith(escaping_reply()),
                ));
                let world = SimWorld::start_with(list, dir.path())
                    .await
                    .expect("sim starts");
                tx.send(Shared { world, _dir: dir }).ok();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("the sim thread starts the world")
    })
}

/// Per-step limits of two seconds and a session deadline of five.
fn config() -> sendguard::probe::ProbeConfig {
    let mut config = common::sim_probe_config(&shared().world);
    config.smtp.greeting_timeout = Duration::from_secs(2);
    config.smtp.command_timeout = Duration::from_secs(2);
    config.smtp.tls_timeout = Duration::from_secs(2);
    config.smtp.session_timeout = Duration::from_secs(5);
    config
}

/// The verdict of a fresh probe of `domain`, and the observations the store kept of its MX.
async fn probe(domain: &str) -> (DomainVerdict, Vec<sendguard_common::ObservationView>) {
    let dir = tempfile::tempdir().unwrap();
    let store = sendguard::store::Store::open(&dir.path().join("sendguard.db"))
        .await
        .unwrap();
    let verdicts = sendguard::verdicts::Verdicts::new(
        Prober::new(config()).unwrap(),
        store.clone(),
        sendguard::verdicts::alerts::Alerts::new(None).unwrap(),
        Duration::from_secs(3600),
    );
    let v = verdicts.probe_now(domain, true).await.unwrap();
    let observations = store
        .observations(&format!("mx.{domain}"), 10)
        .await
        .unwrap();
    (v, observations)
}

#[tokio::test]
async fn every_hostile_peer_ends_as_ssl_unknown_with_a_reason_within_its_timeouts() {
    let expected = [
        ("stall.test", "reading greeting"),
        ("endless.test", "exceeds"),
        ("long-line.test", "exceeds 16384 bytes"),
        ("garbage.test", "after its 220 to STARTTLS"),
        ("reset.test", "connection lost during the TLS handshake"),
        ("long-chain.test", "exceeds 64 KiB"),
    ];
    let started = Instant::now();
    let probes = expected.iter().map(|(domain, words)| async move {
        let began = Instant::now();
        let (v, stored) = probe(domain).await;
        (domain, words, v, stored, began.elapsed())
    });
    for (domain, words, v, stored, took) in futures::future::join_all(probes).await {
        assert_eq!(v.class, SecurityClass::Unknown, "{domain}: {v:#?}");
        assert!(!v.blocked, "{domain}: {v:#?}");
        assert!(v.reason.contains(words), "{domain}: {}", v.reason);
        assert!(took < Duration::from_secs(8), "{domain} took {took:?}");
        assert_eq!(stored.len(), 1, "{domain}: one observation");
        assert_eq!(stored[0].class, SecurityClass::Unknown, "{domain}");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_refused_ehlo_then_helo_is_recorded_as_no_esmtp() {
    let (v, stored) = probe("no-esmtp.test").await;
    assert_eq!(v.class, SecurityClass::NoSsl, "{v:#?}");
    assert!(
        v.reason.contains("no ESMTP: EHLO refused (500 5.5.1"),
        "{}",
        v.reason
    );
    assert!(stored[0].reason.contains("no ESMTP"), "{:?}", stored[0]);
}

#[tokio::test]
async fn a_peers_text_is_stripped_of_controls_and_cut_before_the_store_and_the_terminal() {
    let (v, stored) = probe("escapes.test").await;
    assert_eq!(v.class, SecurityClass::NoSsl, "{v:#?}");
    for text in [&v.reason, &stored[0].reason] {
        assert!(
            text.contains("454 4.7.0 [2J]0;ownednot now gnp.exeyyy"),
            "{text}"
        );
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(
            text.contains('…') && text.chars().count() < 1200,
            "{}",
            text.len()
        );
    }
}
