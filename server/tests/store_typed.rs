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
    let store = common::test_store(dir.path()).await;
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

/// A database migrated up to and including `last` (a migration file name), with `rows`
/// written the way the server then wrote them.
async fn database_at(path: &std::path::Path, last: &str, rows: &[&str]) {
    let migrations = tempfile::tempdir().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join("sqlite");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.as_str() <= last)
        .collect();
    names.sort();
    for name in &names {
        std::fs::copy(dir.join(name), migrations.path().join(name)).unwrap();
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate::Migrator::new(migrations.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    for sql in rows {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

/// The schema as it was before 0003, with one probe, its observation and a hold written the way
/// the server then wrote them.
async fn database_before_0003(path: &std::path::Path) {
    database_at(
        path,
        "0002_drafts.sql",
        &[
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
        ],
    )
    .await;
}

/// Migration 0005 rebuilds `probes` and `observations` for the new sources: every row, every
/// reference to them (holds, certificate chains, probe hosts) and the id counters survive.
#[tokio::test]
async fn the_rebuild_for_new_sources_keeps_every_row_reference_and_counter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sendguard.db");
    let observation = |id: i64, probe: i64| {
        format!(
            "INSERT INTO observations (id, probe_id, at, domain, host, ip, starttls, dane, dnssec,
                class, level, outcome, reason, source, bits)
             VALUES ({id}, {probe}, 10, 'keep.test', 'mx.keep.test', '192.0.2.9', 1, 'insecure',
                'insecure', 'ssl_ok', 1, 'tls', 'TLS', 'delivery', 256)"
        )
    };
    let rows = [
        "INSERT INTO probes (id, domain, at, source, observation_count, mx_kind)
         VALUES (7, 'keep.test', 10, 'delivery', 1, 'hosts'), (8, 'keep.test', 11, 'probe', 1, 'hosts')"
            .to_string(),
        "INSERT INTO probe_hosts (probe_id, position, host, preference, address_dnssec, tlsa_demand)
         VALUES (8, 0, 'mx.keep.test', 10, 'insecure', 'nothing')"
            .to_string(),
        observation(40, 7),
        observation(41, 8),
        observation(42, 8),
        "INSERT INTO certificates (sha256, subject, issuer, san, not_before, not_after, spki_sha256)
         VALUES ('c0', 'CN=mx', 'CN=ca', 'mx.keep.test', 'a', 'b', 's0')"
            .to_string(),
        "INSERT INTO observation_chain (observation_id, position, cert_sha256) VALUES (41, 0, 'c0')"
            .to_string(),
        "INSERT INTO holds (host, since, status, floor_level, observed_level, before_observation,
            after_observation, reason) VALUES ('mx.keep.test', 11, 'held', 1, 0, 40, 41, 'fell')"
            .to_string(),
        // Pruned: the counter stays ahead of the largest id.
        "DELETE FROM observations WHERE id = 42".to_string(),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    database_at(&path, "0004_queue.sql", &rows).await;

    let store = Store::open(&path).await.expect("migrates");
    let holds = store.holds(false).await.unwrap();
    assert_eq!(holds.len(), 1, "the hold survives");
    assert_eq!(holds[0].after.reason, "TLS");
    let seen = store.observations("mx.keep.test", 10).await.unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].source, ObservationSource::Delivery);
    let pool = store.pool();
    let chain: i64 =
        sqlx::query_scalar("SELECT count(*) FROM observation_chain WHERE observation_id = 41")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(chain, 1);
    let violations: i64 = sqlx::query_scalar("SELECT count(*) FROM pragma_foreign_key_check")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(violations, 0);
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(fk, 1, "foreign keys are on again");
    // The new sources are accepted, and no id is handed out twice.
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO observations (probe_id, at, domain, host, ip, dane, dnssec, class, outcome,
            reason, source) VALUES (8, 12, 'keep.test', 'mx.keep.test', '192.0.2.9', 'insecure',
            'insecure', 'ssl_ok', 'tls', 'TLS', 'postfix') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(id, 43);
    sqlx::query(
        "INSERT INTO probes (domain, at, source, observation_count) VALUES ('', 1, 'inbound', 1)",
    )
    .execute(pool)
    .await
    .unwrap();
    let refused = sqlx::query(
        "INSERT INTO probes (domain, at, source, observation_count) VALUES ('', 1, 'guess', 1)",
    )
    .execute(pool)
    .await;
    assert!(refused.is_err(), "the CHECK constraint is still there");
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
    let location = common::test_database(dir.path()).await;
    let ours = common::open_location(&location).await;
    let theirs = common::open_location(&location).await; // as `sendguard holds release` would
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

/// A new database, its WAL and shared-memory files and the directory made for it are the
/// owner's only: they hold password hashes, sessions and messages.
#[tokio::test]
async fn a_new_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new").join("sendguard.db");
    let store = Store::open(&path).await.unwrap();
    store.settings("default").await.unwrap();
    store
        .set_settings("default", &Default::default())
        .await
        .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    for suffix in ["-wal", "-shm"] {
        let file = path.with_file_name(format!("sendguard.db{suffix}"));
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    store.close().await;
}
