//! Delivery survives `kill -9`: 200 messages are queued, the real `sendguard serve` delivers them
//! to sim peers and is killed with SIGKILL in the middle of the batch, then started again. In the
//! end every message has been delivered, none is lost, and a message arrived twice at most for
//! the transactions that were in flight when the process died (one per domain being delivered).
//! Stopped with SIGTERM instead, it lets the sessions in flight end first: then no message
//! arrives twice at all.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sendguard::delivery::submit;
use sendguard::store::Store;
use sendguard::user::account::{AccountConfig, DEFAULT_USER};
use sendguard_common::{RecipientState, SendRequest};
use sendguard_sim::world::{SimWorld, scenarios};

const MESSAGES: usize = 200;
const DOMAINS: [&str; 3] = ["tls.test", "dane-ee.test", "plain.test"];

/// A `sendguard serve` child, killed when dropped (also when an assertion fails).
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(world: &SimWorld, db: &std::path::Path) -> Serve {
    let e = world.endpoints();
    let child = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .arg("--database")
        .arg(db)
        .args(["--dns-resolver", &e.resolver.to_string()])
        .arg("--trust-anchor")
        .arg(&e.trust_anchor)
        .args(["--smtp-port", &e.smtp_port.to_string()])
        .arg("--allow-private-targets")
        .args(["--delivery-poll", "1s"])
        .env("SENDGUARD_RESOLVER_CHECK_SECURE", &e.self_test_secure)
        .env("SENDGUARD_RESOLVER_CHECK_BOGUS", &e.self_test_bogus)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sendguard serve starts");
    Serve(child)
}

/// Queues the batch, starts `serve`, stops it with `signal` after the first 30 messages
/// arrived, starts it again until all are sent; how many arrived twice.
async fn interrupted_with(signal: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let list = scenarios()
        .into_iter()
        .filter(|s| DOMAINS.contains(&s.domain))
        .collect();
    let world = SimWorld::start_with(list, dir.path()).await.unwrap();
    let db = dir.path().join("sendguard.db");
    let store = Store::open(&db).await.unwrap();
    let mut ids = HashMap::new();
    for i in 0..MESSAGES {
        let request = SendRequest {
            from: "maxima.mustermann@sendguard.example".into(),
            to: vec![format!("user{i}@{}", DOMAINS[i % DOMAINS.len()])],
            subject: format!("Nachricht {i}"),
            body: format!("Text {i}"),
            ..Default::default()
        };
        let q = submit::submit(&store, &AccountConfig::default(), DEFAULT_USER, &request)
            .await
            .unwrap();
        ids.insert(q.message_id, q.id);
    }

    let mut first = serve(&world, &db);
    let start = Instant::now();
    while common::received(&world, &DOMAINS).len() < 30 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "nothing delivered"
        );
        assert!(
            first.0.try_wait().unwrap().is_none(),
            "serve ended by itself"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed = Command::new("kill")
        .args([signal, &first.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Waited for without blocking: the sim peers run on this runtime and must answer the
    // sessions that are let to end.
    let status = loop {
        if let Some(status) = first.0.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if signal == "-TERM" {
        assert!(status.success(), "serve after SIGTERM: {status:?}");
    }
    let at_stop = common::received(&world, &DOMAINS).len();
    assert!(at_stop < MESSAGES, "the signal came after the whole batch");
    let interrupted = common::recipient_states(&store).await;

    let second = serve(&world, &db);
    let start = Instant::now();
    loop {
        let counts = common::recipient_states(&store).await;
        if counts.get(&RecipientState::Sent) == Some(&MESSAGES) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "not all delivered after the restart: {counts:?} (at the signal: {interrupted:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(second);

    let got = common::received(&world, &DOMAINS);
    let mut times: HashMap<&str, usize> = HashMap::new();
    for id in &got {
        *times.entry(id.as_str()).or_insert(0) += 1;
    }
    let lost: Vec<_> = ids
        .keys()
        .filter(|id| !times.contains_key(id.as_str()))
        .collect();
    assert!(lost.is_empty(), "marked sent but never received: {lost:?}");
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    got.len() - times.len()
}

#[tokio::test]
async fn a_kill_9_in_the_middle_of_200_deliveries_loses_nothing() {
    let twice = interrupted_with("-KILL").await;
    assert!(
        twice <= DOMAINS.len(),
        "{twice} messages arrived twice; at most the {} in flight may",
        DOMAINS.len()
    );
}

#[tokio::test]
async fn sigterm_lets_the_sessions_in_flight_end_so_nothing_arrives_twice() {
    assert_eq!(interrupted_with("-TERM").await, 0, "messages arrived twice");
}
