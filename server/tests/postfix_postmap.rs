//! Postfix's own socketmap client reads the TLS policy table: `postmap -q DOMAIN
//! socketmap:inet:ADDR:tlspolicy` (Debian's Postfix) for domains probed in the simulated
//! internet at each level, and a held one. Postfix prints the level for `OK`, nothing for `NOTFOUND`, and treats
//! `TEMP` as a lookup error (so its delivery is deferred).
//!
//! Needs Debian's `postfix` package (installed by `scripts/test.sh`), so it is `#[ignore]`d in a
//! plain `cargo test`; `scripts/test.sh` runs it with `--ignored`.

use std::process::Command;

use sendguard::postfix::tls_policy;
use sendguard_sim::smtp::PeerBehaviour;
use sendguard_sim::world::scenarios;

mod common;

/// What `postmap -q` printed, and whether it found the key.
fn postmap(config: &std::path::Path, map: &str, key: &str) -> (String, bool, String) {
    let out = Command::new("postmap")
        .arg("-c")
        .arg(config)
        .args(["-q", key, map])
        .output()
        .expect("postmap runs (Debian's postfix package)");
    (
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's postfix (scripts/test.sh runs it)"]
async fn postmap_reads_the_tls_policy_table() {
    let dir = tempfile::tempdir().unwrap();
    let common::SimEnv {
        world,
        prober,
        verdicts,
        ..
    } = common::sim_env(scenarios(), dir.path()).await;
    for d in [
        "dane-ee.test",
        "tls.test",
        "plain.test",
        "bogus.test",
        "dane-ta.test",
    ] {
        verdicts.probe_now(d, true).await.unwrap();
    }
    // dane-ta.test's server stops offering STARTTLS: it is held.
    world
        .peer("mx.dane-ta.test")
        .unwrap()
        .set_behaviour(PeerBehaviour::NoStarttls);
    prober.clear_caches();
    verdicts.probe_now("dane-ta.test", true).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let map = format!(
        "socketmap:inet:{}:tlspolicy",
        listener.local_addr().unwrap()
    );
    tokio::spawn(tls_policy::serve(listener, verdicts.clone()));
    let config = dir.path().join("postfix");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(config.join("main.cf"), "compatibility_level = 3.6\n").unwrap();

    let ask = |key: &'static str| {
        let (config, map) = (config.clone(), map.clone());
        tokio::task::spawn_blocking(move || postmap(&config, &map, key))
    };
    assert_eq!(ask("dane-ee.test").await.unwrap().0, "dane-only");
    assert_eq!(ask("tls.test").await.unwrap().0, "encrypt");
    let (out, found, _) = ask("plain.test").await.unwrap();
    assert!(!found && out.is_empty(), "NOTFOUND: {out}");
    let (out, found, err) = ask("bogus.test").await.unwrap();
    assert!(!found && out.is_empty(), "TEMP is no answer: {out}");
    assert!(
        err.contains("DNSSEC") || err.to_lowercase().contains("error"),
        "{err}"
    );
    let (out, found, err) = ask("dane-ta.test").await.unwrap();
    assert!(!found && out.is_empty(), "held: TEMP, no answer: {out}");
    assert!(err.contains("on hold"), "{err}");
    let (out, found, _) = ask("[mx.tls.test]:25").await.unwrap();
    assert!(!found && out.is_empty(), "{out}");
}
