//! The probe protects remote servers from what users type: concurrent probes of one domain are
//! merged into one SMTP session, a server is not contacted again within the minimum interval,
//! and an operator's fresh probe still looks now. The fan-out is bounded: MX hosts per domain,
//! addresses per host, sessions per address however many names point there, domain probes and
//! DNS lookups in flight. Counted at the simulated peer itself.

use std::collections::BTreeMap;
use std::time::Duration;

use sendguard::policy::{self, view};
use sendguard::probe::Prober;
use sendguard::probe::facts::{EndpointOutcome, MxFacts};
use sendguard_common::SecurityClass;
use sendguard_sim::dns::{Signing, ZoneSpec};
use sendguard_sim::world::{HostKind, Scenario, SimWorld};

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_are_merged_and_spaced() {
    let dir = tempfile::tempdir().unwrap();
    let world = SimWorld::start_with(
        vec![Scenario {
            domain: "spaced.test",
            description: "one TLS server",
            signing: Signing::Signed,
            hosts: vec![("mx", 10, HostKind::Slow(Duration::from_millis(300)))],
            null_mx: false,
            mta_sts: None,
        }],
        dir.path(),
    )
    .await
    .unwrap();
    let peer = world.peer("mx.spaced.test").unwrap();
    let mut config = common::sim_probe_config(&world);
    config.min_reprobe_interval = Duration::from_secs(60);
    let prober = Prober::new(config).unwrap();

    let burst = (0..10).map(|i| {
        let p = prober.clone();
        async move {
            p.probe(&format!("user{i}@spaced.test"), false)
                .await
                .unwrap()
        }
    });
    let verdicts = futures::future::join_all(burst).await;
    assert!(
        verdicts.iter().all(|v| v == &verdicts[0]),
        "one probe, one verdict"
    );
    assert_eq!(
        peer.connections(),
        1,
        "ten concurrent requests, one SMTP session"
    );

    prober.probe("again@spaced.test", false).await.unwrap();
    assert_eq!(
        peer.connections(),
        1,
        "within the interval the server is not contacted"
    );

    prober.probe("spaced.test", true).await.unwrap();
    assert_eq!(peer.connections(), 2, "an operator's fresh probe looks now");
    world.shutdown().await;
}

/// A world of the given domains, each with one MX host `mx` of the given kind (in order, so
/// the first host gets 127.0.2.1, the next 127.0.2.2, ...).
async fn world_of(
    dir: &std::path::Path,
    domains: Vec<(&'static str, Signing, HostKind)>,
) -> SimWorld {
    let scenarios = domains
        .into_iter()
        .map(|(domain, signing, kind)| Scenario {
            domain,
            description: "fan-out",
            signing,
            hosts: vec![("mx", 10, kind)],
            null_mx: false,
            mta_sts: None,
        })
        .collect();
    SimWorld::start_with(scenarios, dir).await.unwrap()
}

/// Zone lines giving `count` MX names `m0`, `m1`, ... that all point at `ip`.
fn names_at(count: usize, ip: &str) -> String {
    (0..count)
        .map(|i| format!("@ 300 IN MX {i} m{i}\nm{i} 300 IN A {ip}\n"))
        .collect()
}

async fn replace(world: &SimWorld, origin: &str, records: String) {
    world
        .dns()
        .replace_zone(ZoneSpec {
            origin: origin.into(),
            records,
            signing: Signing::Unsigned,
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_ten_mx_hosts_and_eight_addresses_are_probed_and_the_rest_reported() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_of(
        dir.path(),
        vec![
            ("wide.test", Signing::Unsigned, HostKind::SelfSigned),
            ("multi.test", Signing::Unsigned, HostKind::SelfSigned),
        ],
    )
    .await;
    replace(&world, "wide.test", names_at(12, "127.0.2.1")).await;
    // The peer's address and nine more where nothing listens (refused at once).
    let mut records = "@ 300 IN MX 10 mx\nmx 300 IN A 127.0.2.2\n".to_string();
    for i in 1..=9 {
        records.push_str(&format!("mx 300 IN A 127.0.3.{i}\n"));
    }
    replace(&world, "multi.test", records).await;
    let mut config = common::sim_probe_config(&world);
    config.max_sessions_per_address = 100;
    let prober = Prober::new(config).unwrap();

    let wide = prober.probe("wide.test", false).await.unwrap();
    let MxFacts::Hosts { hosts, .. } = &wide.mx else {
        panic!("MX hosts expected: {:?}", wide.mx);
    };
    assert_eq!(hosts.len(), 12, "every MX host is reported");
    assert_eq!(
        world.peer("mx.wide.test").unwrap().connections(),
        10,
        "ten MX hosts contacted, not twelve"
    );
    let verdict = view::verdict(&policy::judge(&wide), &BTreeMap::new());
    for mx in &verdict.mx[10..] {
        let error = mx.error.as_deref().unwrap_or_default();
        assert!(
            error.contains("not probed: only the first 10 MX hosts of a domain are probed"),
            "{}: {error}",
            mx.host
        );
    }
    assert_eq!(
        verdict.class,
        SecurityClass::Unknown,
        "unprobed hosts are not vouched for"
    );

    let multi = prober.probe("multi.test", false).await.unwrap();
    let MxFacts::Hosts { hosts, .. } = &multi.mx else {
        panic!("MX hosts expected: {:?}", multi.mx);
    };
    assert_eq!(hosts[0].endpoints.len(), 10, "every address is reported");
    let skipped = hosts[0]
        .endpoints
        .iter()
        .filter(|e| matches!(&e.outcome, EndpointOutcome::Forbidden(why) if why.contains("only the first 8 addresses")))
        .count();
    assert_eq!(skipped, 2, "{:?}", hosts[0].endpoints);
    let verdict = view::verdict(&policy::judge(&multi), &BTreeMap::new());
    let note = verdict.mx[0].error.as_deref().unwrap_or_default();
    assert!(note.contains("2 of its addresses not probed"), "{note}");
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_mx_names_at_one_address_do_not_flood_it() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_of(
        dir.path(),
        vec![
            ("victim.test", Signing::Unsigned, HostKind::SelfSigned),
            ("second.test", Signing::Unsigned, HostKind::SelfSigned),
        ],
    )
    .await;
    replace(&world, "victim.test", names_at(10, "127.0.2.1")).await;
    replace(&world, "second.test", names_at(10, "127.0.2.1")).await;
    let peer = world.peer("mx.victim.test").unwrap();
    let mut config = common::sim_probe_config(&world);
    config.min_reprobe_interval = Duration::from_secs(60);
    let per_address = config.max_sessions_per_address;
    let prober = Prober::new(config).unwrap();

    let facts = prober.probe("victim.test", false).await.unwrap();
    assert_eq!(
        peer.connections(),
        per_address,
        "ten names, {per_address} sessions"
    );
    let verdict = view::verdict(&policy::judge(&facts), &BTreeMap::new());
    assert!(
        verdict.mx.iter().any(|m| m
            .error
            .as_deref()
            .is_some_and(|e| e.contains("127.0.2.1 was contacted 4 times within 60 s"))),
        "{:?}",
        verdict.mx
    );
    prober.probe("second.test", false).await.unwrap();
    assert_eq!(
        peer.connections(),
        per_address,
        "other domains' names count too"
    );
    prober.probe("victim.test", true).await.unwrap();
    assert!(
        peer.connections() > per_address,
        "an operator's fresh probe looks now"
    );
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domain_probes_in_flight_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_of(
        dir.path(),
        vec![
            (
                "slow.test",
                Signing::Unsigned,
                HostKind::Slow(Duration::from_millis(1500)),
            ),
            ("quick.test", Signing::Unsigned, HostKind::SelfSigned),
        ],
    )
    .await;
    let mut config = common::sim_probe_config(&world);
    config.max_concurrent_domains = 1;
    let prober = Prober::new(config).unwrap();
    let (slow, quick) = (
        world.peer("mx.slow.test").unwrap(),
        world.peer("mx.quick.test").unwrap(),
    );
    let first = tokio::spawn({
        let p = prober.clone();
        async move { p.probe("slow.test", false).await.unwrap() }
    });
    wait_for(|| slow.connections() == 1).await;
    let second = tokio::spawn({
        let p = prober.clone();
        async move { p.probe("quick.test", false).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        quick.connections(),
        0,
        "the second domain waits for the first"
    );
    first.await.unwrap();
    second.await.unwrap();
    assert_eq!(quick.connections(), 1);
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_lookups_in_flight_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let world = world_of(
        dir.path(),
        vec![
            ("stalled.test", Signing::Signed, HostKind::DaneEe),
            ("quick.test", Signing::Unsigned, HostKind::SelfSigned),
        ],
    )
    .await;
    world.dns().stall_tlsa("stalled.test", true).unwrap();
    let mut config = common::sim_probe_config(&world);
    config.dns.timeout = Duration::from_secs(3);
    config.max_concurrent_lookups = 1;
    let prober = Prober::new(config).unwrap();
    let quick = world.peer("mx.quick.test").unwrap();
    let first = tokio::spawn({
        let p = prober.clone();
        async move { p.probe("stalled.test", false).await.unwrap() }
    });
    // The MX and address lookups are answered at once; the TLSA lookup then hangs.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = tokio::spawn({
        let p = prober.clone();
        async move { p.probe("quick.test", false).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(quick.connections(), 0, "the second domain's lookups wait");
    first.await.unwrap();
    second.await.unwrap();
    assert_eq!(quick.connections(), 1);
    world.shutdown().await;
}

async fn wait_for(check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("gave up waiting");
}
