//! A verdict read from the store is one consistent state: while probes commit (a server that
//! keeps dropping STARTTLS and is released again each time), readers never see the facts of one
//! probe together with the hold that a later probe raised. The compose page relies on this: it
//! takes any verdict that differs from the one it shows as the result of a re-check.

use std::time::Duration;

use sendguard::store::Store;
use sendguard_common::{HoldStatus, ObservationSource};

mod common;

const DOMAIN: &str = "snapshot.test";
const HOST: &str = "mx.snapshot.test";

fn facts(at: i64, tls: bool) -> sendguard::probe::facts::DomainFacts {
    common::insecure_domain(
        DOMAIN,
        at,
        vec![common::insecure_host(
            HOST,
            vec![common::tls_or_plain("192.0.2.9", tls)],
        )],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_old_facts_with_a_newer_hold() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sendguard.db")).await.unwrap();
    sendguard::verdicts::record(&store, &facts(1_000, true), ObservationSource::Probe)
        .await
        .unwrap();

    let reads = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let reader = {
        let store = store.clone();
        let count = reads.clone();
        tokio::spawn(async move {
            let mut reads = 0u32;
            loop {
                let v = store.verdict(DOMAIN).await.unwrap().expect("recorded");
                let mx = &v.mx[0];
                // A hold always comes with the facts that raised it: STARTTLS gone.
                assert!(
                    !(mx.on_hold && mx.starttls == Some(true)),
                    "read {reads}: TLS facts paired with a hold: {v:#?}"
                );
                reads += 1;
                count.store(reads, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        })
    };

    // Downgrade (hold), release at the new level, TLS again (floor rises), and again. Each
    // round is observed after the settling window of the previous release (releases are dated
    // by the wall clock), so that the floor rises again and the next downgrade is held.
    let window = sendguard::policy::SETTLE_AFTER_RELEASE + 100;
    let start = sendguard::probe::now_unix() + window;
    for round in 0..40i64 {
        let at = start + round * window;
        let down = sendguard::verdicts::record(&store, &facts(at, false), ObservationSource::Probe)
            .await
            .unwrap();
        assert_eq!(down.new_holds.len(), 1, "round {round}");
        assert_eq!(down.new_holds[0].status, HoldStatus::Held);
        sendguard::verdicts::release(&store, HOST, "test")
            .await
            .unwrap();
        sendguard::verdicts::record(&store, &facts(at + 5, true), ObservationSource::Probe)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(!reader.is_finished(), "the reader found a torn verdict");
    let reads = reads.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        reads > 0,
        "the reader must have read while the probes committed"
    );
    reader.abort();
    store.close().await;
}
