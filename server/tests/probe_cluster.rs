//! Several instances on one database contact a mail server once within the re-contact
//! interval (issue 16): two probers, each with its own view of the session ledger in one store
//! (SQLite here; PostgreSQL when `SENDGUARD_TEST_POSTGRES` is set), probe the same domains of
//! the simulated internet at once and one after the other. Sessions are counted at the
//! simulated SMTP peer itself. The second instance judges the shared session as it would its
//! own (the DANE match against the certificate chain that went through the store), the server
//! is contacted again once the interval has passed, and a ledger that fails does not stop
//! probing.

use std::time::Duration;

use sendguard::probe::facts::{DomainFacts, EndpointOutcome, MxFacts};
use sendguard::probe::{ProbeConfig, Prober};
use sendguard::store::Store;
use sendguard::store::probe_sessions::StoreLedger;
use sendguard_sim::dns::Signing;
use sendguard_sim::world::{HostKind, Scenario, SimWorld};

mod common;

/// The re-contact interval of both instances: short, so that the test can outwait it.
const INTERVAL: Duration = Duration::from_millis(1500);

fn scenario(domain: &'static str, kind: HostKind) -> Scenario {
    Scenario {
        domain,
        description: "shared by two instances",
        signing: Signing::Signed,
        hosts: vec![("mx", 10, kind)],
        null_mx: false,
        mta_sts: None,
    }
}

fn config(world: &SimWorld) -> ProbeConfig {
    let mut config = common::sim_probe_config(world);
    config.min_reprobe_interval = INTERVAL;
    config
}

/// One instance: a prober of its own sharing sessions through `store` (its own connection
/// pool on the same database).
fn instance(world: &SimWorld, store: &Store) -> Prober {
    let prober = Prober::new(config(world)).expect("a prober");
    prober.use_session_ledger(std::sync::Arc::new(StoreLedger::new(
        store.clone(),
        INTERVAL,
    )));
    prober
}

/// The outcomes of the endpoints of the domain's MX hosts.
fn outcomes(facts: &DomainFacts) -> Vec<EndpointOutcome> {
    match &facts.mx {
        MxFacts::Hosts { hosts, .. } => hosts
            .iter()
            .flat_map(|h| h.endpoints.iter().map(|e| e.outcome.clone()))
            .collect(),
        other => panic!("no MX hosts: {other:?}"),
    }
}

fn is_tls_session(outcome: &EndpointOutcome) -> bool {
    matches!(outcome, EndpointOutcome::Session(s) if s.tls.is_some())
}

/// Two instances on one new database (each with its own connection pool) in `dir`.
async fn two_instances(world: &SimWorld, dir: &std::path::Path) -> (Prober, Prober) {
    let location = common::test_database(dir).await;
    let a = instance(world, &common::open_location(&location).await);
    let b = instance(world, &common::open_location(&location).await);
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_probing_at_once_make_one_session() {
    let dir = tempfile::tempdir().unwrap();
    let slow = HostKind::Slow(Duration::from_millis(400));
    let world = SimWorld::start_with(vec![scenario("together.test", slow)], dir.path())
        .await
        .unwrap();
    let (a, b) = two_instances(&world, dir.path()).await;

    // At once: one instance claims the server, the other waits for its session.
    let together = world.peer("mx.together.test").unwrap();
    let (fa, fb) = futures::join!(
        a.probe("one@together.test", false),
        b.probe("two@together.test", false)
    );
    let (fa, fb) = (fa.unwrap(), fb.unwrap());
    assert_eq!(
        together.connections(),
        1,
        "two instances at once, one session"
    );
    assert!(is_tls_session(&outcomes(&fa)[0]), "{:?}", outcomes(&fa));
    assert_eq!(outcomes(&fa), outcomes(&fb), "both judge the one session");
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_after_the_other_within_the_interval_makes_one_session() {
    let dir = tempfile::tempdir().unwrap();
    let world = SimWorld::start_with(vec![scenario("after.test", HostKind::DaneTa)], dir.path())
        .await
        .unwrap();
    let (a, b) = two_instances(&world, dir.path()).await;

    // One after the other: the second finds the first's session in the store.
    let after = world.peer("mx.after.test").unwrap();
    let fa = a.probe("after.test", false).await.unwrap();
    let fb = b.probe("after.test", false).await.unwrap();
    assert_eq!(after.connections(), 1, "one after the other, one session");
    assert!(
        matches!(&outcomes(&fb)[0], EndpointOutcome::Session(s)
            if s.tls.as_ref().is_some_and(|t| t.dane == sendguard::probe::facts::DaneOutcome::Matched)),
        "the chain read back from the store matches the TLSA record: {:?}",
        outcomes(&fb)
    );
    assert_eq!(outcomes(&fa), outcomes(&fb));

    // Once the interval has passed, the server is contacted again, once.
    tokio::time::sleep(INTERVAL + Duration::from_millis(200)).await;
    b.probe("after.test", false).await.unwrap();
    a.probe("after.test", false).await.unwrap();
    assert_eq!(
        after.connections(),
        2,
        "after the interval, one more session"
    );

    // An operator's fresh probe looks now, and its session is shared too.
    a.probe("after.test", true).await.unwrap();
    b.probe("after.test", false).await.unwrap();
    assert_eq!(
        after.connections(),
        3,
        "a fresh probe contacts, the other reuses it"
    );
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_ledger_does_not_stop_probing() {
    let dir = tempfile::tempdir().unwrap();
    let world = SimWorld::start_with(vec![scenario("alone.test", HostKind::DaneTa)], dir.path())
        .await
        .unwrap();
    let store = common::test_store(dir.path()).await;
    // A real store that no longer answers: every read, claim and write of the ledger fails.
    store.close().await;
    let prober = instance(&world, &store);
    let peer = world.peer("mx.alone.test").unwrap();
    let facts = tokio::time::timeout(Duration::from_secs(20), prober.probe("alone.test", false))
        .await
        .expect("the probe does not wait for the ledger")
        .unwrap();
    assert_eq!(
        peer.connections(),
        1,
        "the server is contacted all the same"
    );
    assert!(
        is_tls_session(&outcomes(&facts)[0]),
        "{:?}",
        outcomes(&facts)
    );
    // And the instance's own memory still spares the server within the interval.
    prober.probe("alone.test", false).await.unwrap();
    assert_eq!(peer.connections(), 1);
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_is_one_instances_until_it_runs_out_or_a_session_is_stored() {
    use sendguard::probe::ledger::Claim;
    let dir = tempfile::tempdir().unwrap();
    let store = common::test_store(dir.path()).await;
    let a = StoreLedger::new(store.clone(), Duration::from_secs(60));
    let b = StoreLedger::new(store.clone(), Duration::from_secs(60));
    let ip = "192.0.2.25".parse().unwrap();
    let at = |now: i64| Claim {
        now,
        until: now + 100,
        since: now - 60_000,
    };
    assert!(a.claim("mx.x.test", ip, at(1_000_000)).await.unwrap());
    assert!(
        !b.claim("mx.x.test", ip, at(1_000_050)).await.unwrap(),
        "a's claim is live"
    );
    assert!(
        a.claim("mx.x.test", ip, at(1_000_060)).await.unwrap(),
        "a may renew it"
    );
    assert!(
        b.claim("mx.x.test", ip, at(1_000_200)).await.unwrap(),
        "a's ran out"
    );
    assert!(
        a.claim("mx.y.test", ip, at(1_000_200)).await.unwrap(),
        "per host name"
    );
    b.put("mx.x.test", ip, 1_000_300, "{}").await.unwrap();
    assert_eq!(
        a.recent("mx.x.test", ip, 1_000_300)
            .await
            .unwrap()
            .as_deref(),
        Some("{}")
    );
    assert_eq!(a.recent("mx.x.test", ip, 1_000_301).await.unwrap(), None);
    assert!(
        !a.claim("mx.x.test", ip, at(1_000_400)).await.unwrap(),
        "a session recent enough is stored: nothing to claim"
    );
    assert!(
        a.claim("mx.x.test", ip, at(1_000_300 + 60_001))
            .await
            .unwrap(),
        "once it is older than the interval the server is claimed again"
    );
    // Pruning takes what is neither claimed nor recent before the given time.
    assert_eq!(
        a.prune(1_000_250).await.unwrap(),
        0,
        "both rows are claimed"
    );
    assert_eq!(a.prune(2_000_000).await.unwrap(), 2);
}
