//! The store keeps judgements in typed rows (migration 0003) and the verdict service keeps known
//! verdicts in memory: a verdict read back from the database is the verdict that was recorded,
//! for every scenario of the simulated internet; a database written before 0003 stays readable;
//! and a change made by another process reaches the memory of a running service.

use std::time::Duration;

use sendguard::probe::Prober;
use sendguard::store::Store;
use sendguard::verdicts::alerts::Alerts;
use sendguard::verdicts::{self, Verdicts};
use sendguard_common::ObservationSource;
use sendguard_sim::world::SimWorld;

mod common;

#[tokio::test]
async fn every_scenario_reads_back_as_it_was_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let world = SimWorld::start(dir.path()).await.expect("sim starts");
    let prober = Prober::new(common::sim_probe_config(&world)).unwrap();
    let store = Store::open(&dir.path().join("sendguard.db")).await.unwrap();
    for d in world.domains() {
        let facts = prober.probe(&d.domain, true).await.unwrap();
        let recorded = verdicts::record(&store, &facts, ObservationSource::Probe)
            .await
            .unwrap();
        let read = store.verdict(&d.domain).await.unwrap().expect("recorded");
        assert_eq!(read, recorded.verdict, "{}", d.domain);
    }
    let dane = store.verdict("dane-ee.test").await.unwrap().unwrap();
    let chain = &dane.mx[0].certificate.as_ref().expect("a chain").chain;
    assert!(!chain.is_empty(), "the certificate chain is stored");
    world.shutdown().await;
}

/// The schema as it was before 0003, with one probe, its observation and a hold written the way
/// the server then wrote them.
async fn database_before_0003(path: &std::path::Path) {
    let migrations = tempfile::tempdir().unwrap();
    for name in ["0001_history.sql", "0002_drafts.sql"] {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(name);
        std::fs::copy(from, migrations.path().join(name)).unwrap();
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate::Migrator::new(migrations.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    for sql in [
        "INSERT INTO probes (id, domain, at, source, verdict_json, observation_count)
         VALUES (1, 'old.test', 10, 'probe', '{\"domain\":\"old.test\"}', 1)",
        "INSERT INTO observations (id, probe_id, at, domain, host, ip, starttls, dane, dnssec,
            class, level, outcome, reason, source)
         VALUES (1, 1, 10, 'old.test', 'mx.old.test', '192.0.2.1', 0, 'insecure', 'insecure',
            'no_ssl', 0, 'no_starttls', 'STARTTLS not offered', 'probe')",
        "INSERT INTO servers (host, first_seen, last_seen, best_level, floor_level)
         VALUES ('mx.old.test', 1, 10, 1, 1)",
        "INSERT INTO holds (host, since, status, floor_level, observed_level, after_observation,
            reason) VALUES ('mx.old.test', 10, 'held', 1, 0, 1, 'mx.old.test no longer offers STARTTLS')",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

#[tokio::test]
async fn a_database_from_before_the_typed_judgements_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sendguard.db");
    database_before_0003(&path).await;
    let store = Store::open(&path).await.expect("migrates");
    let holds = store.holds(false).await.unwrap();
    assert_eq!(holds.len(), 1, "the hold and its evidence survive");
    assert_eq!(holds[0].after.reason, "STARTTLS not offered");
    assert_eq!(
        store.observations("mx.old.test", 10).await.unwrap().len(),
        1
    );
    assert!(
        store.verdict("old.test").await.unwrap().is_none(),
        "the old cached verdict is not used: the domain is probed again"
    );
    // The hold still counts for the next probe's verdict.
    let facts = common::insecure_domain(
        "old.test",
        20,
        vec![common::insecure_host(
            "mx.old.test",
            vec![common::tls_or_plain("192.0.2.1", false)],
        )],
    );
    let r = verdicts::record(&store, &facts, ObservationSource::Probe)
        .await
        .unwrap();
    assert!(r.verdict.blocked, "{:?}", r.verdict);
}

#[tokio::test]
async fn another_process_releasing_a_hold_reaches_the_memory_of_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sendguard.db");
    let ours = Store::open(&path).await.unwrap();
    let theirs = Store::open(&path).await.unwrap(); // as `sendguard holds release` would
    let facts = |at, tls| {
        common::insecure_domain(
            "mem.test",
            at,
            vec![common::insecure_host(
                "mx.mem.test",
                vec![common::tls_or_plain("192.0.2.7", tls)],
            )],
        )
    };
    verdicts::record(&ours, &facts(1, true), ObservationSource::Probe)
        .await
        .unwrap();
    verdicts::record(&ours, &facts(2, false), ObservationSource::Probe)
        .await
        .unwrap();
    // A service whose prober is never used: every answer below comes from memory or the store.
    let prober = Prober::new(sendguard::probe::ProbeConfig::new(
        sendguard::dns::DnsConfig {
            resolver: Some("127.0.0.1:9".parse().unwrap()),
            trust_anchor: None,
            timeout: Duration::from_secs(1),
        },
    ))
    .unwrap();
    let service = Verdicts::new(
        prober,
        ours.clone(),
        Alerts::new(None).unwrap(),
        Duration::from_secs(3600),
    );
    assert!(service.known("mem.test").await.unwrap().blocked, "held");
    verdicts::release(&theirs, "mx.mem.test", "ops")
        .await
        .unwrap();
    tokio::time::sleep(sendguard::verdicts::memory::GENERATION_CHECK + Duration::from_millis(200))
        .await;
    let after = service.known("mem.test").await.unwrap();
    assert!(
        !after.blocked,
        "the release by another process is seen: {after:?}"
    );
}
