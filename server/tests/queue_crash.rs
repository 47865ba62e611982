//! The queue survives `kill -9`: a child process submits messages in a loop and prints each id
//! as soon as submission answered it (as the API would answer the user); it is killed with
//! SIGKILL. Every id it printed is then in the database with all its recipients, no message is
//! stored without them, and the file passes `PRAGMA integrity_check`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use sendguard::store::Store;
use sendguard::user::account::AccountConfig;
use sendguard_common::SendRequest;

const CHILD_ENV: &str = "SENDGUARD_QUEUE_CRASH_DB";
const RECIPIENTS: i64 = 3;

/// The child: submits until killed. Does nothing unless started by the test below.
#[tokio::test]
async fn queue_crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = Store::open(std::path::Path::new(&path)).await.unwrap();
    let account = AccountConfig::default();
    let request = SendRequest {
        from: "maxima.mustermann@sendguard.example".into(),
        to: vec!["a@example.org".into(), "b@example.net".into()],
        bcc: vec!["c@example.com".into()],
        subject: "Absturz".into(),
        body: "x".repeat(4096),
        ..Default::default()
    };
    loop {
        let queued = sendguard::delivery::submit::submit(&store, &account, "default", &request)
            .await
            .unwrap();
        // Line-buffered: the line is in the pipe before the next submission starts.
        println!("queued {}", queued.id);
    }
}

#[tokio::test]
async fn every_message_answered_before_a_kill_9_is_queued_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let mut answered = HashSet::new();
    for round in 0..3u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "queue_crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| {
                    l.strip_prefix("queued ")
                        .and_then(|id| id.parse::<i64>().ok())
                })
                .collect::<Vec<_>>()
        });
        tokio::time::sleep(Duration::from_millis(1500 + 300 * round)).await;
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let ids = reader.join().unwrap();
        assert!(!ids.is_empty(), "round {round}: the child queued nothing");
        answered.extend(ids);

        let store = Store::open(&path).await.unwrap();
        assert_eq!(store.integrity_check().await.unwrap(), "ok");
        let stored: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT m.id, (SELECT COUNT(*) FROM message_recipients r WHERE r.message = m.id)
             FROM messages m",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let whole: HashSet<i64> = stored
            .iter()
            .filter(|(_, n)| *n == RECIPIENTS)
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(
            whole.len(),
            stored.len(),
            "round {round}: a message without all recipients"
        );
        let lost: Vec<_> = answered.difference(&whole).collect();
        assert!(
            lost.is_empty(),
            "round {round}: answered but lost: {lost:?}"
        );
        store.close().await;
    }
}
