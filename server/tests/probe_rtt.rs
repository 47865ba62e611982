//! The probe's round trips, against a simulated internet whose servers hold every reply back
//! for a round-trip time ([`sendguard_sim::latency`]) and log when each left: which questions
//! the prober asks together. The floor the probe aims at (issue 15) asks the MX host's
//! addresses and its TLSA records (RFC 7672 §2.2) in one round trip; the TLSA records are used
//! only when the addresses turn out DNSSEC-secure. No speed is asserted, only the order of
//! questions and answers (a question asked before an answer arrived).

use std::time::Duration;

use sendguard::probe::Prober;
use sendguard_common::SecurityClass;
use sendguard_sim::dns::Signing;
use sendguard_sim::latency::{Reply, ReplyLog};
use sendguard_sim::world::{HostKind, Scenario, SimWorld, WorldOptions};

mod common;

/// Long enough that the scheduling of a loaded machine stays well within half of it.
const RTT: Duration = Duration::from_millis(200);

fn one(domain: &'static str, signing: Signing) -> Scenario {
    Scenario {
        domain,
        description: "round trips",
        signing,
        hosts: vec![("mx", 10, HostKind::DaneEe)],
        null_mx: false,
        mta_sts: None,
    }
}

/// When the answer to the question `what` (e.g. `A mx.rtt.test.`) left the server, the first
/// time it did.
fn answered(replies: &[Reply], what: &str) -> std::time::Instant {
    replies
        .iter()
        .find(|r| r.server == "dns" && r.what == what)
        .unwrap_or_else(|| panic!("no answer to {what} among {replies:#?}"))
        .at
}

/// A world of `list` whose replies wait `rtt` and are logged, with its log.
async fn start(list: Vec<Scenario>, rtt: Duration, dir: &std::path::Path) -> (SimWorld, ReplyLog) {
    let options = WorldOptions {
        rtt,
        log_replies: true,
    };
    let world = SimWorld::start_with_options(list, dir, options)
        .await
        .expect("sim starts");
    let log = world.replies().expect("a reply log").clone();
    (world, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tlsa_is_asked_with_the_addresses_not_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let list = vec![
        one("rtt.test", Signing::Signed),
        one("rtt-unsigned.test", Signing::Unsigned),
    ];
    let (world, log) = start(list, RTT, dir.path()).await;

    let prober = Prober::new(common::sim_probe_config(&world)).unwrap();
    log.take();
    let v = common::probe_verdict(prober, "rtt.test").await;
    assert_eq!(v.class, SecurityClass::DaneOk, "{v:#?}");
    let replies = log.take();
    let a = answered(&replies, "A mx.rtt.test.");
    let tlsa = answered(&replies, "TLSA _25._tcp.mx.rtt.test.");
    // Asked before the address answer arrived, it leaves less than a round trip after it.
    // Asked after it (and after its validation), it would leave two round trips later or more.
    let gap = tlsa.saturating_duration_since(a);
    assert!(
        gap < RTT,
        "the TLSA answer left {gap:?} after the address answer: asked after it ({replies:#?})"
    );

    // In an unsigned zone the TLSA records are not used (the addresses are insecure): the
    // verdict is TLS without DANE, whatever the TLSA answer.
    let prober = Prober::new(common::sim_probe_config(&world)).unwrap();
    let v = common::probe_verdict(prober, "rtt-unsigned.test").await;
    assert_eq!(v.class, SecurityClass::SslOk, "{v:#?}");
    world.shutdown().await;
}

/// hickory's validator fetches the signer's DNSKEY set for every RRset it validates; the
/// cache below it (`dns/keycache.rs`) answers the repeats, so one probe of a never-seen
/// domain asks the wire for each key set once, not once per answer validated (it asked for
/// the zone's DNSKEY set five times before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_set_leaves_the_server_once_per_probe() {
    let dir = tempfile::tempdir().unwrap();
    let list = vec![one("keys.test", Signing::Signed)];
    let (world, log) = start(list, Duration::from_millis(20), dir.path()).await;

    let prober = Prober::new(common::sim_probe_config(&world)).unwrap();
    log.take();
    let v = common::probe_verdict(prober, "keys.test").await;
    assert_eq!(v.class, SecurityClass::DaneOk, "{v:#?}");
    let replies = log.take();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for reply in replies.iter().filter(|r| r.server == "dns") {
        if reply.what.starts_with("DNSKEY ") || reply.what.starts_with("DS ") {
            *counts.entry(reply.what.as_str()).or_default() += 1;
        }
    }
    assert!(
        counts.contains_key("DNSKEY keys.test."),
        "the zone's keys were asked for: {replies:#?}"
    );
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "asked again: {repeated:?}");
    world.shutdown().await;
}
