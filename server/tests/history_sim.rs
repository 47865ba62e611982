//! Remember-TLS end to end: real probes of the simulated internet, recorded in a real SQLite
//! store, with the sim changed between two probes (a peer's behaviour, a zone's records or
//! signing). Each downgrade kind must raise a hold that blocks the verdict; a release must make
//! the new level the floor, which is then enforced in turn.

use std::time::Duration;

use sendguard::probe::Prober;
use sendguard::store::Store;
use sendguard::verdicts::Verdicts;
use sendguard::verdicts::alerts::Alerts;
use sendguard_common::{BlockCause, DomainVerdict, HoldStatus, RecipientSecurity, SecurityClass};
use sendguard_sim::dns::{Signing, ZoneSpec};
use sendguard_sim::smtp::PeerBehaviour;
use sendguard_sim::world::{HostKind, Scenario, SimWorld, scenarios};

mod common;

struct Env {
    world: SimWorld,
    prober: Prober,
    store: Store,
    verdicts: Verdicts,
    location: sendguard::store::Location,
    _dir: tempfile::TempDir,
}

fn scenario(domain: &'static str, kind: HostKind) -> Scenario {
    Scenario {
        domain,
        description: "test",
        signing: Signing::Signed,
        hosts: vec![("mx", 10, kind)],
        null_mx: false,
        mta_sts: None,
    }
}

async fn env(list: Vec<Scenario>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let common::SimEnv {
        world,
        prober,
        store,
        location,
        verdicts,
    } = common::sim_env(list, dir.path()).await;
    Env {
        world,
        prober,
        store,
        verdicts,
        location,
        _dir: dir,
    }
}

impl Env {
    async fn probe(&self, domain: &str) -> DomainVerdict {
        self.prober.clear_caches();
        self.verdicts
            .probe_now(domain, true)
            .await
            .expect("a verdict")
    }

    fn ip(&self, host: &str) -> String {
        self.world.peer(host).unwrap().addr().ip().to_string()
    }

    async fn zone(&self, origin: &str, records: String, signing: Signing) {
        self.world
            .dns()
            .replace_zone(ZoneSpec {
                origin: origin.into(),
                records,
                signing,
            })
            .await
            .unwrap();
    }

    async fn held(&self) -> Vec<String> {
        self.store
            .holds(false)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.host)
            .collect()
    }
}

fn assert_held(v: &DomainVerdict, words: &str) {
    assert!(v.blocked, "{v:#?}");
    assert_eq!(v.cause, Some(BlockCause::OnHold));
    assert!(v.reason.contains("on hold"), "{}", v.reason);
    assert!(v.reason.contains(words), "{}", v.reason);
    assert!(v.mx[0].on_hold);
    assert!(v.mx[0].history.as_ref().unwrap().on_hold_since.is_some());
}

#[tokio::test]
async fn starttls_dropped_is_held_then_released_then_tls_enforced_again() {
    let e = env(vec![scenario("t.test", HostKind::SelfSigned)]).await;
    let v = e.probe("t.test").await;
    assert_eq!(v.class, SecurityClass::SslOk, "{v:#?}");
    assert!(!v.blocked);
    let h = v.mx[0].history.as_ref().unwrap();
    assert_eq!(
        (h.best, h.floor),
        (SecurityClass::SslOk, SecurityClass::SslOk)
    );

    e.world
        .peer("mx.t.test")
        .unwrap()
        .set_behaviour(PeerBehaviour::NoStarttls);
    let v = e.probe("t.test").await;
    assert_held(&v, "no longer offers STARTTLS");
    assert_eq!(e.held().await, ["mx.t.test"]);
    // The verdict answered from the store says the same.
    let stored = e.verdicts.known("t.test").await.unwrap();
    assert!(stored.blocked && stored.mx[0].on_hold);

    // Still held while nobody decided, even if the server recovers.
    let hold = &e.store.holds(false).await.unwrap()[0];
    assert_eq!(hold.status, HoldStatus::Held);
    assert_eq!(hold.floor, SecurityClass::SslOk);
    assert_eq!(hold.after.class, SecurityClass::NoSsl);
    assert_eq!(hold.before.as_ref().unwrap().class, SecurityClass::SslOk);

    let released = sendguard::verdicts::release(&e.store, "mx.t.test", "tester")
        .await
        .unwrap();
    assert_eq!(released[0].status, HoldStatus::Released);
    assert_eq!(released[0].decided_by.as_deref(), Some("tester"));
    let v = e.probe("t.test").await;
    assert!(!v.blocked, "{v:#?}");
    assert_eq!(v.class, SecurityClass::NoSsl);
    assert_eq!(
        v.mx[0].history.as_ref().unwrap().floor,
        SecurityClass::NoSsl
    );
    let audit = e.store.audit_log(10).await.unwrap();
    assert_eq!(audit[0].action, "release");
}

#[tokio::test]
async fn a_failing_handshake_is_held() {
    let e = env(vec![scenario("hs.test", HostKind::SelfSigned)]).await;
    assert_eq!(e.probe("hs.test").await.class, SecurityClass::SslOk);
    e.world
        .peer("mx.hs.test")
        .unwrap()
        .set_behaviour(PeerBehaviour::BrokenTls);
    let v = e.probe("hs.test").await;
    assert_held(&v, "handshake now fails");
}

#[tokio::test]
async fn tlsa_records_vanishing_are_held_and_after_release_tls_is_enforced() {
    let e = env(vec![scenario("dv.test", HostKind::DaneEe)]).await;
    assert_eq!(e.probe("dv.test").await.class, SecurityClass::DaneOk);
    let ip = e.ip("mx.dv.test");
    e.zone(
        "dv.test",
        format!("@ 300 IN MX 10 mx\nmx 300 IN A {ip}\n"),
        Signing::Signed,
    )
    .await;
    let v = e.probe("dv.test").await;
    assert_held(&v, "vanished");

    sendguard::verdicts::release(&e.store, "mx.dv.test", "tester")
        .await
        .unwrap();
    let v = e.probe("dv.test").await;
    assert!(!v.blocked, "{v:#?}");
    assert_eq!(v.class, SecurityClass::SslOk);
    assert_eq!(
        v.mx[0].history.as_ref().unwrap().floor,
        SecurityClass::SslOk
    );
    // TLS is now the floor: losing STARTTLS is the next downgrade.
    e.world
        .peer("mx.dv.test")
        .unwrap()
        .set_behaviour(PeerBehaviour::NoStarttls);
    let v = e.probe("dv.test").await;
    assert_held(&v, "no longer offers STARTTLS");
}

#[tokio::test]
async fn tlsa_records_that_stop_matching_are_held() {
    let e = env(vec![scenario("dm.test", HostKind::DaneEe)]).await;
    assert_eq!(e.probe("dm.test").await.class, SecurityClass::DaneOk);
    let ip = e.ip("mx.dm.test");
    e.zone(
        "dm.test",
        format!(
            "@ 300 IN MX 10 mx\nmx 300 IN A {ip}\n_25._tcp.mx 300 IN TLSA 3 1 1 {}\n",
            "ab".repeat(32)
        ),
        Signing::Signed,
    )
    .await;
    let v = e.probe("dm.test").await;
    assert_held(&v, "no longer matches");
}

#[tokio::test]
async fn a_zone_turning_unsigned_is_held_and_bogus_blocks_without_a_hold() {
    let e = env(vec![scenario("ds.test", HostKind::DaneEe)]).await;
    assert_eq!(e.probe("ds.test").await.class, SecurityClass::DaneOk);
    let ip = e.ip("mx.ds.test");
    // Bogus: delivery deferred by RFC 7672 itself, no hold (unknown is not evidence).
    let records = format!("@ 300 IN MX 10 mx\nmx 300 IN A {ip}\n");
    e.zone("ds.test", records.clone(), Signing::Bogus).await;
    let v = e.probe("ds.test").await;
    assert!(v.blocked, "{v:#?}");
    assert!(v.reason.contains("DNSSEC"), "{}", v.reason);
    assert!(e.held().await.is_empty());
    // Insecure: a proven unsigned zone means the TLSA records no longer count.
    e.zone("ds.test", records, Signing::Unsigned).await;
    let v = e.probe("ds.test").await;
    assert_held(&v, "no longer DNSSEC-signed");
}

#[tokio::test]
async fn an_mx_set_moving_to_a_weaker_host_is_held_for_that_domain_only() {
    let e = env(vec![
        scenario("strong.test", HostKind::DaneEe),
        scenario("weak.test", HostKind::SelfSigned),
    ])
    .await;
    assert_eq!(e.probe("strong.test").await.class, SecurityClass::DaneOk);
    assert_eq!(e.probe("weak.test").await.class, SecurityClass::SslOk);
    e.zone(
        "strong.test",
        "@ 300 IN MX 10 mx.weak.test.\n".into(),
        Signing::Signed,
    )
    .await;
    let v = e.probe("strong.test").await;
    assert_held(&v, "MX records of strong.test changed");
    // The host itself did nothing wrong: weak.test's verdict is not blocked.
    let w = e.probe("weak.test").await;
    assert!(!w.blocked, "{w:#?}");
    sendguard::verdicts::release(&e.store, "mx.weak.test", "tester")
        .await
        .unwrap();
    let v = e.probe("strong.test").await;
    assert!(!v.blocked, "{v:#?}");
    assert_eq!(v.class, SecurityClass::SslOk);
}

#[tokio::test]
async fn holds_survive_a_restart_and_concurrent_probes_raise_one_hold() {
    let e = env(vec![scenario("c.test", HostKind::SelfSigned)]).await;
    e.probe("c.test").await;
    e.world
        .peer("mx.c.test")
        .unwrap()
        .set_behaviour(PeerBehaviour::NoStarttls);
    e.prober.clear_caches();
    // Many probes at once, through two independent pools (as two processes would).
    let second = common::open_location(&e.location).await;
    let other = Verdicts::new(
        e.prober.clone(),
        second.clone(),
        Alerts::default(),
        Duration::from_secs(3600),
    );
    let runs = (0..12).map(|i| {
        let v = if i % 2 == 0 {
            e.verdicts.clone()
        } else {
            other.clone()
        };
        async move { v.probe_now("c.test", true).await }
    });
    let results = futures::future::join_all(runs).await;
    for r in &results {
        assert!(r.as_ref().unwrap().blocked);
    }
    let holds = e.store.holds(true).await.unwrap();
    assert_eq!(holds.len(), 1, "{holds:#?}");
    let (probes, observations): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM probes WHERE domain = 'c.test'),
                (SELECT COUNT(*) FROM observations WHERE domain = 'c.test')",
    )
    .fetch_one(e.store.pool())
    .await
    .unwrap();
    assert_eq!(probes, 13);
    assert_eq!(observations, 13, "one address, one observation per probe");

    // Restart: close everything, reopen the file.
    second.close().await;
    e.store.close().await;
    let reopened = common::open_location(&e.location).await;
    assert_eq!(reopened.integrity_check().await.unwrap(), "ok");
    let v = reopened.verdict("c.test").await.unwrap().unwrap();
    assert!(v.blocked && v.mx[0].on_hold, "{v:#?}");
    assert_eq!(reopened.holds(false).await.unwrap().len(), 1);
    assert_eq!(
        reopened.observations("mx.c.test", 5).await.unwrap().len(),
        5
    );
}

/// The demo's own `downgrade.test`, as `sendguard demo` starts it.
fn demo_downgrade() -> Scenario {
    scenarios()
        .into_iter()
        .find(|s| s.domain == "downgrade.test")
        .expect("the demo has downgrade.test")
}

#[tokio::test]
async fn the_demo_downgrade_offers_tls_to_one_probe_then_is_held_once() {
    let e = env(vec![demo_downgrade()]).await;
    let peer = e.world.peer("mx.downgrade.test").unwrap();
    let v = e.probe("downgrade.test").await;
    assert_eq!(v.class, SecurityClass::SslOk, "{v:#?}");
    assert!(!v.blocked);
    assert_eq!(peer.connections(), 1, "a probe is one session");

    let v = e.probe("downgrade.test").await;
    assert_held(&v, "no longer offers STARTTLS");
    assert_eq!(peer.connections(), 2);
    // It stays without STARTTLS; probing again raises no second hold.
    let v = e.probe("downgrade.test").await;
    assert_held(&v, "no longer offers STARTTLS");
    let holds = e.store.holds(true).await.unwrap();
    assert_eq!(holds.len(), 1, "{holds:#?}");
    assert_eq!(holds[0].host, "mx.downgrade.test");
    assert_eq!(
        holds[0].before.as_ref().unwrap().class,
        SecurityClass::SslOk
    );
    assert_eq!(holds[0].after.class, SecurityClass::NoSsl);
}

#[tokio::test]
async fn with_the_demo_s_short_ages_a_second_lookup_raises_the_hold_in_the_background() {
    let e = env(vec![demo_downgrade()]).await;
    // What `sendguard demo --verdict-max-age 0 --min-reprobe-interval 0` builds.
    let mut config = common::sim_probe_config(&e.world);
    config.min_reprobe_interval = Duration::ZERO;
    let verdicts = Verdicts::new(
        Prober::new(config).unwrap(),
        e.store.clone(),
        Alerts::default(),
        Duration::ZERO,
    );
    let mut events = verdicts.subscribe();
    let mut finished = async || {
        tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .expect("the background probe finishes")
            .expect("a verdict event")
    };
    let address = "user@downgrade.test";

    let answer = verdicts.lookup(address).await;
    assert!(
        matches!(answer, RecipientSecurity::Pending { .. }),
        "{answer:?}"
    );
    let v = finished().await;
    assert_eq!(
        (v.class, v.blocked),
        (SecurityClass::SslOk, false),
        "{v:#?}"
    );

    // Known but stale: answered as it was, marked as being checked again, re-probed in the
    // background.
    let RecipientSecurity::Final {
        verdict,
        rechecking: true,
        ..
    } = verdicts.lookup(address).await
    else {
        panic!("a known, stale domain is answered at once and checked again");
    };
    assert_eq!(
        (verdict.class, verdict.blocked),
        (SecurityClass::SslOk, false)
    );
    assert_held(&finished().await, "no longer offers STARTTLS");

    let RecipientSecurity::Final { verdict, .. } = verdicts.lookup(address).await else {
        panic!("a known domain is answered at once");
    };
    assert_held(&verdict, "no longer offers STARTTLS");
    assert_held(&finished().await, "no longer offers STARTTLS");
    assert_eq!(e.held().await, ["mx.downgrade.test"]);
    assert_eq!(e.store.holds(true).await.unwrap().len(), 1);
    assert_eq!(
        verdicts.alerts().holds_raised(),
        1,
        "one alert for one hold"
    );
    assert_eq!(e.world.peer("mx.downgrade.test").unwrap().connections(), 3);
}

#[tokio::test]
async fn a_tlsa_lookup_that_times_out_defers_without_being_called_bogus_or_raising_a_hold() {
    let e = env(vec![scenario("slowdns.test", HostKind::DaneEe)]).await;
    assert_eq!(e.probe("slowdns.test").await.class, SecurityClass::DaneOk);
    e.world.dns().stall_tlsa("slowdns.test", true).unwrap();
    let v = e.probe("slowdns.test").await;
    assert!(
        v.blocked,
        "the records may demand TLS: delivery waits {v:#?}"
    );
    assert_eq!(v.cause, Some(BlockCause::TlsaLookupFailed), "{v:#?}");
    assert_eq!(v.class, SecurityClass::Unknown);
    assert!(
        e.held().await.is_empty(),
        "a timeout is no evidence of a downgrade"
    );
    e.world.dns().stall_tlsa("slowdns.test", false).unwrap();
    assert_eq!(e.probe("slowdns.test").await.class, SecurityClass::DaneOk);
    e.world.shutdown().await;
}

#[tokio::test]
async fn a_dane_ta_name_mismatch_blocks_that_domain_only_and_holds_nobody() {
    // One DANE-TA server whose certificate names the domain it was made for, not itself: a
    // second domain that uses it fails the name check (RFC 7672 §3.2.3).
    let e = env(vec![
        scenario("named.test", HostKind::DaneTaNaming(&["named.test"])),
        scenario("other.test", HostKind::MxElsewhere("mx.named.test")),
    ])
    .await;
    let v = e.probe("named.test").await;
    assert_eq!(v.class, SecurityClass::DaneOk, "{v:#?}");
    assert_eq!(
        v.mx[0].history.as_ref().unwrap().floor,
        SecurityClass::DaneOk
    );
    let o = e.probe("other.test").await;
    assert!(o.blocked, "{o:#?}");
    assert_eq!(o.cause, Some(BlockCause::DaneMismatch));
    assert!(!o.mx[0].on_hold);
    assert!(
        o.reason
            .contains("mx.named.test: the certificate does not match"),
        "{}",
        o.reason
    );
    assert!(e.held().await.is_empty(), "the shared server is not held");
    // The domain the certificate names keeps its DANE, unblocked.
    let v = e.probe("named.test").await;
    assert_eq!(v.class, SecurityClass::DaneOk, "{v:#?}");
    assert!(!v.blocked, "{v:#?}");
    assert_eq!(
        v.mx[0].history.as_ref().unwrap().floor,
        SecurityClass::DaneOk
    );
}

#[tokio::test]
async fn a_flapping_server_released_once_raises_no_new_hold_within_the_window() {
    let e = env(vec![scenario("flap.test", HostKind::SelfSigned)]).await;
    let peer = e.world.peer("mx.flap.test").unwrap();
    assert_eq!(e.probe("flap.test").await.class, SecurityClass::SslOk);
    peer.set_behaviour(PeerBehaviour::NoStarttls);
    assert_held(&e.probe("flap.test").await, "no longer offers STARTTLS");
    sendguard::verdicts::release(&e.store, "mx.flap.test", "tester")
        .await
        .unwrap();
    // It flaps: STARTTLS again, then gone again, within the settling window.
    peer.set_behaviour(PeerBehaviour::StartTls {
        identity: sendguard_sim::pki::self_signed(&["mx.flap.test"]).unwrap(),
    });
    let v = e.probe("flap.test").await;
    assert_eq!(v.class, SecurityClass::SslOk, "{v:#?}");
    assert_eq!(
        v.mx[0].history.as_ref().unwrap().floor,
        SecurityClass::NoSsl,
        "the accepted floor stays while the server settles"
    );
    peer.set_behaviour(PeerBehaviour::NoStarttls);
    let v = e.probe("flap.test").await;
    assert!(!v.blocked, "{v:#?}");
    assert_eq!(v.class, SecurityClass::NoSsl);
    assert!(e.held().await.is_empty(), "no new hold for the flap");
    assert_eq!(e.verdicts.alerts().holds_raised(), 1);
}
