//! The Postfix TLS policy table over real TCP, as Postfix's socketmap client speaks it
//! (socketmap_table(5): one netstring per request and reply, several on one connection): its
//! answers for domains probed in the simulated internet at each level, held and blocked ones,
//! keys that are not next-hop domains, and malformed requests.

use std::time::Duration;

use sendguard::postfix::tls_policy;
use sendguard::probe::Prober;
use sendguard::verdicts::Verdicts;
use sendguard_sim::smtp::PeerBehaviour;
use sendguard_sim::world::{SimWorld, scenarios};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;

struct Env {
    world: SimWorld,
    prober: Prober,
    verdicts: Verdicts,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let common::SimEnv {
        world,
        prober,
        verdicts,
        ..
    } = common::sim_env(scenarios(), dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tls_policy::serve(listener, verdicts.clone()));
    Env {
        world,
        prober,
        verdicts,
        addr,
        _dir: dir,
    }
}

/// Sends each request as a netstring on one connection and reads each reply.
async fn ask(addr: std::net::SocketAddr, requests: &[&str]) -> Vec<String> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut replies = Vec::new();
    for r in requests {
        stream
            .write_all(format!("{}:{r},", r.len()).as_bytes())
            .await
            .unwrap();
        replies.push(read_reply(&mut stream).await.expect("a reply"));
    }
    replies
}

async fn read_reply(stream: &mut TcpStream) -> Option<String> {
    let mut len = Vec::new();
    loop {
        let mut b = [0u8; 1];
        if stream.read(&mut b).await.ok()? == 0 {
            return None;
        }
        if b[0] == b':' {
            break;
        }
        len.push(b[0]);
    }
    let n: usize = String::from_utf8(len).ok()?.parse().ok()?;
    let mut data = vec![0u8; n + 1];
    stream.read_exact(&mut data).await.ok()?;
    assert_eq!(data.pop(), Some(b','));
    String::from_utf8(data).ok()
}

#[tokio::test]
async fn the_table_answers_each_domain_from_the_judgement_the_badge_shows() {
    let env = env().await;
    for d in [
        "dane-ee.test",
        "tls.test",
        "plain.test",
        "wrong-tlsa.test",
        "bogus.test",
        "nullmx.test",
        "mixed.test",
    ] {
        env.verdicts.probe_now(d, true).await.unwrap();
    }
    let answers = ask(
        env.addr,
        &[
            "tlspolicy dane-ee.test",
            "tlspolicy tls.test",
            "tlspolicy plain.test",
            "tlspolicy wrong-tlsa.test",
            "tlspolicy bogus.test",
            "tlspolicy nullmx.test",
            "tlspolicy mixed.test",
            "tlspolicy TLS.Test",
        ],
    )
    .await;
    assert_eq!(answers[0], "OK dane-only");
    assert_eq!(answers[1], "OK encrypt", "TLS seen once: TLS always");
    assert_eq!(
        answers[2], "NOTFOUND ",
        "nothing promised: Postfix's default"
    );
    assert!(
        answers[3].starts_with("TEMP ") && answers[3].contains("does not match"),
        "{}",
        answers[3]
    );
    assert!(
        answers[4].starts_with("TEMP ") && answers[4].contains("DNSSEC"),
        "{}",
        answers[4]
    );
    assert_eq!(answers[5], "NOTFOUND ");
    assert_eq!(answers[6], "OK dane-only", "the strictest host's level");
    assert_eq!(answers[7], "OK encrypt", "domains are case-insensitive");

    // Mail from a secure address: TLS at least, and refused (deferred) where it falls short.
    let secure = ask(
        env.addr,
        &[
            "securepolicy dane-ee.test",
            "securepolicy tls.test",
            "securepolicy plain.test",
            "securepolicy never-seen.test",
            "securepolicy [relay.example]:587",
        ],
    )
    .await;
    assert_eq!(secure[0], "OK dane-only");
    assert_eq!(secure[1], "OK encrypt");
    assert!(
        secure[2].starts_with("TEMP not sent from a secure address"),
        "{}",
        secure[2]
    );
    assert_eq!(secure[3], "OK encrypt");
    assert_eq!(secure[4], "OK encrypt");
}

#[tokio::test]
async fn a_held_domain_is_deferred_and_a_domain_never_seen_is_probed_for_next_time() {
    let env = env().await;
    env.verdicts.probe_now("tls.test", true).await.unwrap();
    env.world
        .peer("mx.tls.test")
        .unwrap()
        .set_behaviour(PeerBehaviour::NoStarttls);
    env.prober.clear_caches();
    env.verdicts.probe_now("tls.test", true).await.unwrap();
    let answers = ask(env.addr, &["tlspolicy tls.test", "tlspolicy dane-ta.test"]).await;
    assert!(
        answers[0].starts_with("TEMP ") && answers[0].contains("on hold"),
        "{}",
        answers[0]
    );
    assert_eq!(answers[1], "NOTFOUND ", "never seen");
    // The lookup started a probe: soon the table knows the domain.
    let mut known = String::new();
    for _ in 0..100 {
        known = ask(env.addr, &["tlspolicy dane-ta.test"]).await.remove(0);
        if known != "NOTFOUND " {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(known, "OK dane-only");
}

#[tokio::test]
async fn keys_that_are_not_next_hop_domains_and_malformed_requests_get_defined_answers() {
    let env = env().await;
    let answers = ask(
        env.addr,
        &[
            "tlspolicy [mx.tls.test]:25",
            "tlspolicy [mx.tls.test]",
            "tlspolicy .tls.test",
            "tlspolicy 192.0.2.1",
            "tlspolicy not a domain",
            "othermap tls.test",
            "tlspolicy",
        ],
    )
    .await;
    assert_eq!(&answers[..5], ["NOTFOUND "; 5]);
    assert!(answers[5].starts_with("PERM "), "{}", answers[5]);
    assert!(answers[6].starts_with("PERM "), "{}", answers[6]);

    // Not a netstring: refused, then closed.
    let mut stream = TcpStream::connect(env.addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    assert!(read_reply(&mut stream).await.unwrap().starts_with("PERM "));
    assert_eq!(read_reply(&mut stream).await, None, "closed");
    // Longer than allowed: refused without reading it.
    let mut stream = TcpStream::connect(env.addr).await.unwrap();
    stream.write_all(b"999999:").await.unwrap();
    assert!(read_reply(&mut stream).await.unwrap().starts_with("PERM "));

    // Many clients at once, each with several requests.
    let clients = (0..50).map(|_| ask(env.addr, &["tlspolicy [x]:25", "tlspolicy .y.test"]));
    for replies in futures::future::join_all(clients).await {
        assert_eq!(replies, ["NOTFOUND ", "NOTFOUND "]);
    }
}

#[tokio::test]
async fn a_hold_written_by_another_process_is_answered_at_the_next_lookup() {
    let env = env().await;
    env.verdicts.probe_now("tls.test", true).await.unwrap();
    assert_eq!(ask(env.addr, &["tlspolicy tls.test"]).await, ["OK encrypt"]);
    // Another process (its own store handle and prober, e.g. `sendguard serve` beside
    // `sendguard postfix`) sees the downgrade and raises the hold.
    let other_store = sendguard::store::Store::open(&env._dir.path().join("sendguard.db"))
        .await
        .unwrap();
    let other = Verdicts::new(
        Prober::new(common::sim_probe_config(&env.world)).unwrap(),
        other_store,
        sendguard::verdicts::alerts::Alerts::default(),
        Duration::from_secs(3600),
    );
    env.world
        .peer("mx.tls.test")
        .unwrap()
        .set_behaviour(PeerBehaviour::NoStarttls);
    other.probe_now("tls.test", true).await.unwrap();
    let answer = ask(env.addr, &["tlspolicy tls.test"]).await.remove(0);
    assert!(
        answer.starts_with("TEMP ") && answer.contains("on hold"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_memo_reuses_a_state_until_the_store_changes() {
    use sendguard::postfix::memo::Memo;
    let env = env().await;
    let store = env.verdicts.store();
    env.verdicts.probe_now("tls.test", true).await.unwrap();
    let memo = Memo::default();
    let first = memo.remembered(store, "tls.test").await.unwrap().unwrap();
    let again = memo.remembered(store, "tls.test").await.unwrap().unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&first, &again),
        "read again unchanged"
    );
    assert!(
        memo.remembered(store, "never.test")
            .await
            .unwrap()
            .is_none()
    );
    env.prober.clear_caches();
    env.verdicts.probe_now("tls.test", true).await.unwrap();
    let after = memo.remembered(store, "tls.test").await.unwrap().unwrap();
    assert!(
        !std::sync::Arc::ptr_eq(&first, &after),
        "kept after a write"
    );
}
