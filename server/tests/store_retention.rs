//! Retention (`--keep-observations DAYS`) on a real SQLite file: old observations go, while every
//! server's floor, the evidence of every hold, each server's last observation and each domain's
//! latest verdict stay, and the database stays consistent (foreign keys, integrity).

use sendguard::probe::now_unix;
use sendguard::store::{Pruned, Store};
use sendguard::verdicts;
use sendguard_common::ObservationSource;

mod common;

const DAY: i64 = 86_400;

async fn probe(store: &Store, domain: &str, host: &str, days_ago: i64, tls: bool) {
    let ip = if domain.starts_with('a') {
        "192.0.2.1"
    } else {
        "192.0.2.2"
    };
    let facts = common::insecure_domain(
        domain,
        now_unix() - days_ago * DAY,
        vec![common::insecure_host(
            host,
            vec![common::tls_or_plain(ip, tls)],
        )],
    );
    verdicts::record(store, &facts, ObservationSource::Probe)
        .await
        .unwrap();
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn old_observations_are_pruned_but_floors_holds_and_last_sightings_stay() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::test_store(dir.path()).await;
    // a.test: TLS twice, then plain (a hold: TLS before, plain after), plain again, and TLS lately.
    for (days_ago, tls) in [
        (500, true),
        (450, true),
        (430, false),
        (420, false),
        (10, true),
    ] {
        probe(&store, "a.test", "mx.a.test", days_ago, tls).await;
    }
    // b.test: seen twice, both long ago: its last sighting is its verdict.
    probe(&store, "b.test", "mx.b.test", 600, true).await;
    probe(&store, "b.test", "mx.b.test", 500, true).await;

    let holds = store.holds(true).await.unwrap();
    assert_eq!(holds.len(), 1, "the downgrade raised a hold: {holds:?}");
    let before = (
        store.verdict("a.test").await.unwrap(),
        store.verdict("b.test").await.unwrap(),
        store.server_history("mx.a.test").await.unwrap(),
        store.server_history("mx.b.test").await.unwrap(),
    );

    let pruned = store
        .prune_observations(now_unix() - 400 * DAY)
        .await
        .unwrap();
    assert_eq!(
        pruned,
        Pruned {
            observations: 3,
            probes: 3,
            certificates: 0
        },
        "a.test's first and fourth, b.test's first"
    );
    let after = (
        store.verdict("a.test").await.unwrap(),
        store.verdict("b.test").await.unwrap(),
        store.server_history("mx.a.test").await.unwrap(),
        store.server_history("mx.b.test").await.unwrap(),
    );
    assert_eq!(
        before, after,
        "verdicts, floors and first sightings are unchanged"
    );
    assert_eq!(
        store.holds(true).await.unwrap(),
        holds,
        "the hold keeps its evidence"
    );
    assert_eq!(store.observations("mx.a.test", 100).await.unwrap().len(), 3);
    assert_eq!(store.observations("mx.b.test", 100).await.unwrap().len(), 1);
    // PostgreSQL checks every reference at each statement; SQLite is asked.
    if store.backend() == sendguard::store::Backend::Sqlite {
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM pragma_foreign_key_check").await,
            0
        );
    }
    assert_eq!(store.integrity_check().await.unwrap(), "ok");

    let again = store
        .prune_observations(now_unix() - 400 * DAY)
        .await
        .unwrap();
    assert_eq!(again, Pruned::default(), "nothing more to prune");
    let all = store.prune_observations(now_unix()).await.unwrap();
    assert_eq!(all.observations, 0, "what is kept is kept whatever its age");
}
