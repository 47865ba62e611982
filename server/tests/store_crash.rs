//! The store survives `kill -9` in the middle of writing: a child process records probes in a
//! loop (raising and releasing holds as it goes) and is killed with SIGKILL; the database then
//! opens, passes `PRAGMA integrity_check`, and every probe has all of its observations.

use std::process::{Command, Stdio};
use std::time::Duration;

use sendguard::probe::facts::DomainFacts;
use sendguard::store::Store;
use sendguard_common::ObservationSource;

mod common;

const CHILD_ENV: &str = "SENDGUARD_CRASH_TEST_DB";

fn facts(i: i64) -> DomainFacts {
    // Every third probe the server drops STARTTLS: a downgrade.
    let tls = i % 3 != 2;
    let hosts = (0..3)
        .map(|h| {
            common::insecure_host(
                &format!("mx{h}.shared.test"),
                vec![
                    common::tls_or_plain("192.0.2.1", tls),
                    common::tls_or_plain("192.0.2.2", tls),
                ],
            )
        })
        .collect();
    common::insecure_domain(&format!("d{}.test", i % 4), 1_000 + i, hosts)
}

/// The child: writes until killed. Does nothing unless started by the test below.
#[tokio::test]
async fn crash_child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = Store::open(std::path::Path::new(&path)).await.unwrap();
    println!("ready");
    for i in 0.. {
        sendguard::verdicts::record(&store, &facts(i), ObservationSource::Probe)
            .await
            .unwrap();
        if i % 5 == 4 {
            let _ = sendguard::verdicts::release(&store, "mx0.shared.test", "child").await;
        }
    }
}

#[tokio::test]
async fn a_kill_9_mid_write_loses_nothing_committed_and_leaves_no_partial_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500 + 300 * round)).await;
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        let store = Store::open(&path).await.unwrap();
        assert_eq!(store.integrity_check().await.unwrap(), "ok");
        let (probes, incomplete): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*),
                    COALESCE(SUM(observation_count !=
                        (SELECT COUNT(*) FROM observations o WHERE o.probe_id = p.id)), 0)
             FROM probes p",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert!(probes > 0, "round {round}: the child wrote nothing");
        assert_eq!(incomplete, 0, "round {round}: a probe lost observations");
        let orphans: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM observations WHERE probe_id NOT IN (SELECT id FROM probes)",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(orphans, 0);
        // Holds are consistent: at most one open per server and domain, evidence present.
        let dup: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT host, ifnull(domain, '') FROM holds
              WHERE status IN ('held', 'kept') GROUP BY 1, 2 HAVING COUNT(*) > 1)",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(dup, 0);
        for h in store.holds(true).await.unwrap() {
            assert!(!h.reason.is_empty());
        }
        store.close().await;
    }
}
