//! Every scenario of the simulated internet, probed end to end: the real resolver validating
//! real DNSSEC signatures from the sim's authoritative server, real SMTP sessions and real TLS
//! handshakes with the sim's peers on loopback.

use std::sync::OnceLock;

use sendguard::probe::Prober;
use sendguard_common::{DaneStatus, DomainVerdict, SecurityClass, UnsignedDns};
use sendguard_sim::world::SimWorld;

mod common;

struct Shared {
    world: SimWorld,
    _dir: tempfile::TempDir,
}

/// One world for all tests of this file. Each test has its own runtime, so the world runs on a
/// runtime of its own thread, and each test makes its own prober (whose resolver connections
/// belong to the test's runtime).
fn shared() -> &'static Shared {
    static WORLD: OnceLock<Shared> = OnceLock::new();
    WORLD.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let world = SimWorld::start(dir.path()).await.expect("sim starts");
                tx.send(Shared { world, _dir: dir }).ok();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("the sim thread starts the world")
    })
}

async fn verdict(target: &str) -> DomainVerdict {
    let prober = Prober::new(common::sim_probe_config(&shared().world)).unwrap();
    common::probe_verdict(prober, target).await
}

#[tokio::test]
async fn dane_ee_is_dane_ok() {
    let v = verdict("user@dane-ee.test").await;
    assert_eq!(v.class, SecurityClass::DaneOk, "{v:#?}");
    assert!(!v.blocked);
    let mx = &v.mx[0];
    assert_eq!(mx.host, "mx.dane-ee.test");
    assert_eq!(mx.dane, DaneStatus::Verified);
    assert_eq!(mx.starttls, Some(true));
    assert!(mx.tls_version.as_deref().unwrap().starts_with("TLSv1."));
    assert!(mx.bits.unwrap() >= 128);
    let cert = mx.certificate.as_ref().unwrap();
    assert!(
        !cert.webpki_valid,
        "a self-signed certificate is not WebPKI-valid"
    );
    assert_eq!(cert.chain[0].sha256.len(), 64);
}

#[tokio::test]
async fn dane_ta_is_dane_ok() {
    let v = verdict("dane-ta.test").await;
    assert_eq!(v.class, SecurityClass::DaneOk, "{v:#?}");
    assert_eq!(v.mx[0].dane, DaneStatus::Verified);
    assert_eq!(v.mx[0].certificate.as_ref().unwrap().chain.len(), 2);
}

#[tokio::test]
async fn self_signed_tls_is_ssl_ok() {
    let v = verdict("tls.test").await;
    assert_eq!(v.class, SecurityClass::SslOk, "{v:#?}");
    assert!(!v.blocked);
    assert_eq!(v.mx[0].dane, DaneStatus::None);
}

#[tokio::test]
async fn no_starttls_is_no_ssl() {
    let v = verdict("plain.test").await;
    assert_eq!(v.class, SecurityClass::NoSsl, "{v:#?}");
    assert!(!v.blocked);
    assert_eq!(v.mx[0].starttls, Some(false));
    assert!(v.reason.contains("STARTTLS"), "{}", v.reason);
}

#[tokio::test]
async fn refused_starttls_is_no_ssl() {
    let v = verdict("refuse.test").await;
    assert_eq!(v.class, SecurityClass::NoSsl, "{v:#?}");
}

#[tokio::test]
async fn wrong_tlsa_blocks() {
    let v = verdict("wrong-tlsa.test").await;
    assert!(v.blocked, "{v:#?}");
    assert_eq!(v.mx[0].dane, DaneStatus::Failed);
}

#[tokio::test]
async fn tlsa_in_an_unsigned_zone_is_ignored() {
    let v = verdict("unsigned-tlsa.test").await;
    assert_eq!(v.class, SecurityClass::SslOk, "{v:#?}");
    assert!(!v.blocked);
    assert_eq!(v.mx[0].dane, DaneStatus::Insecure);
}

#[tokio::test]
async fn dane_behind_an_unsigned_mx_answer_is_only_ssl_ok() {
    let v = verdict("user@unsigned-mx.test").await;
    assert_eq!(v.class, SecurityClass::SslOk, "{v:#?}");
    assert!(!v.blocked);
    let mx = &v.mx[0];
    assert_eq!(mx.host, "mx.dane-ee.test");
    assert_eq!(mx.class, SecurityClass::SslOk);
    assert_eq!(
        mx.dane,
        DaneStatus::Verified,
        "the host's own TLSA records matched"
    );
    assert_eq!(mx.unsigned, Some(UnsignedDns::MxRecords));
    assert!(
        v.reason.contains("MX records are not DNSSEC-signed"),
        "{}",
        v.reason
    );
    // The provider's own domain, signed end to end, is still DANE ok.
    let v = verdict("user@dane-ee.test").await;
    assert_eq!(v.class, SecurityClass::DaneOk, "{v:#?}");
}

#[tokio::test]
async fn bogus_dnssec_blocks() {
    let v = verdict("bogus.test").await;
    assert!(v.blocked, "{v:#?}");
    assert_eq!(v.class, SecurityClass::Unknown);
}

#[tokio::test]
async fn the_weakest_of_several_mx_hosts_counts() {
    let v = verdict("mixed.test").await;
    assert_eq!(v.class, SecurityClass::NoSsl, "{v:#?}");
    assert_eq!(v.mx.len(), 3);
    assert_eq!(
        v.mx.iter().map(|m| m.preference).collect::<Vec<_>>(),
        [10, 20, 30]
    );
    assert_eq!(v.mx[0].class, SecurityClass::DaneOk);
    assert_eq!(v.mx[1].class, SecurityClass::SslOk);
    assert_eq!(v.mx[2].class, SecurityClass::NoSsl);
    let v = verdict("dane-pair.test").await;
    assert_eq!(v.class, SecurityClass::DaneOk, "{v:#?}");
}

#[tokio::test]
async fn a_slow_greeting_is_waited_for() {
    let v = verdict("slow.test").await;
    assert_eq!(v.class, SecurityClass::SslOk, "{v:#?}");
}

#[tokio::test]
async fn null_mx_and_nxdomain_block() {
    let v = verdict("nullmx.test").await;
    assert!(v.blocked, "{v:#?}");
    assert!(v.reason.contains("null MX"), "{}", v.reason);
    let v = verdict("no-such-domain.test").await;
    assert!(v.blocked, "{v:#?}");
    assert!(v.reason.contains("does not exist"), "{}", v.reason);
}
