//! Bogus versus outage behind a resolver that answers SERVFAIL (issue 10, item 4), without
//! root: the simulated DNS behind the sim's failing relay, which answers as a validating
//! resolver does: SERVFAIL with EDE 6 "DNSSEC Bogus" for a zone whose chain of trust is broken
//! (and the unvalidated data when asked with CD), SERVFAIL with EDE 22 "No Reachable
//! Authority" for a zone whose servers are down. `interop_postfix.rs` runs the same cases
//! through real unbound.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use sendguard::dns::DnsConfig;
use sendguard::probe::{ProbeConfig, Prober};
use sendguard_common::SecurityClass;
use sendguard_sim::dns::failing::{FailingResolver, Failure};
use sendguard_sim::dns::{DnsSim, Signing, ZoneSpec};

mod common;

fn zone(origin: &str, signing: Signing) -> ZoneSpec {
    ZoneSpec {
        origin: origin.into(),
        records: "@ MX 10 mx\nmx A 127.0.95.1\n".into(),
        signing,
    }
}

#[tokio::test]
async fn servfail_is_told_apart_into_bogus_and_outage() {
    let dir = tempfile::tempdir().unwrap();
    let zones = vec![
        zone("bogus.test", Signing::Bogus),
        zone("down.test", Signing::Signed),
        zone("fine.test", Signing::Signed),
    ];
    let sim = DnsSim::start(IpAddr::V4(Ipv4Addr::LOCALHOST), zones, dir.path())
        .await
        .expect("the simulated DNS starts");
    let resolver = FailingResolver::start(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        sim.addr(),
        vec![
            ("bogus.test".into(), Failure::BogusUnlessCd),
            ("down.test".into(), Failure::Unreachable),
        ],
    )
    .await
    .unwrap();
    let mut config = ProbeConfig::new(DnsConfig {
        resolver: Some(resolver.addr()),
        trust_anchor: Some(sim.trust_anchor_path().to_path_buf()),
        timeout: Duration::from_secs(5),
    });
    config.allow_private_targets = true;
    config.smtp.port = 9; // nothing listens: no SMTP session is wanted

    let verdict = |domain: &'static str| {
        let prober = Prober::new(config.clone()).unwrap();
        async move { common::probe_verdict(prober, domain).await }
    };

    // Forged: blocked as bogus, found by our own validation of the CD answer.
    let bogus = verdict("bogus.test").await;
    assert!(bogus.blocked, "{bogus:#?}");
    assert!(
        bogus.reason.contains("DNSSEC validation") && bogus.reason.contains("EDE 6 DNSSEC Bogus"),
        "{}",
        bogus.reason
    );

    // An outage: not known, not blocked, and never called a validation failure.
    let down = verdict("down.test").await;
    assert_eq!(down.class, SecurityClass::Unknown, "{down:#?}");
    assert!(!down.blocked, "{down:#?}");
    assert!(
        down.reason.contains("could not be looked up right now")
            && down.reason.contains("EDE 22 No Reachable Authority"),
        "{}",
        down.reason
    );

    // The relay passes other zones on: the MX host is found (nothing listens on it).
    let fine = verdict("fine.test").await;
    assert!(!fine.blocked, "{fine:#?}");
    assert_eq!(fine.mx[0].host, "mx.fine.test", "{fine:#?}");
    sim.shutdown().await;
}
