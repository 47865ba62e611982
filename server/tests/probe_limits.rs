//! The probe protects remote servers from what users type: concurrent probes of one domain are
//! merged into one SMTP session, a server is not contacted again within the minimum interval,
//! and an operator's fresh probe still looks now. Counted at the simulated peer itself.

use std::time::Duration;

use sendguard::probe::Prober;
use sendguard_sim::dns::Signing;
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
