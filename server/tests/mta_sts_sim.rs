//! MTA-STS (RFC 8461) end to end against the simulated internet: the real probe looks up the
//! `_mta-sts` TXT record in the signed sim DNS and fetches the policy over HTTPS from the sim's
//! policy host (certificate from the sim CA, trusted through the extra roots), the one judgement
//! decides, the store caches the policy, and the real delivery worker and the real Postfix
//! policy table act on it. Each case of issue 14 item 6 is one test (or one step of one).

use std::time::Duration;

use sendguard::delivery::attempt::Deliverer;
use sendguard::delivery::retry::RetrySchedule;
use sendguard::delivery::submit;
use sendguard::delivery::worker::{WorkerConfig, deliver_message_now};
use sendguard::postfix::memo::Memo;
use sendguard::postfix::tls_policy;
use sendguard::user::account::{AccountConfig, DEFAULT_USER};
use sendguard_common::{
    BlockCause, DomainVerdict, RecipientState, RecipientView, SecurityClass, SendRequest, StsMode,
};
use sendguard_sim::https::{PolicyResponse, policy_text};
use sendguard_sim::world::{HostKind, Scenario, StsSetup, sts_scenarios};

mod common;

const FROM: &str = "maxima.mustermann@sendguard.example";

struct Env {
    sim: common::SimEnv,
    deliverer: Deliverer,
    _dir: tempfile::TempDir,
}

async fn env_of(list: Vec<Scenario>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let sim = common::sim_env(list, dir.path()).await;
    let mut smtp = sim.prober.smtp_config().clone();
    smtp.session_timeout = Duration::from_secs(60);
    let deliverer = Deliverer::new(sim.verdicts.clone(), smtp, RetrySchedule::default());
    Env {
        sim,
        deliverer,
        _dir: dir,
    }
}

impl Env {
    /// A fresh probe, DNS answers forgotten (the tests change the world between probes).
    async fn probe(&self, domain: &str) -> DomainVerdict {
        self.sim.prober.clear_caches();
        self.sim
            .verdicts
            .probe_now(domain, true)
            .await
            .expect("a verdict")
    }

    /// What the Postfix TLS policy table answers for `domain`.
    async fn table(&self, domain: &str) -> String {
        let request = format!("{} {domain}", tls_policy::TLS_POLICY_MAP);
        tls_policy::answer(&self.sim.verdicts, &Memo::default(), request.as_bytes())
            .await
            .wire()
    }

    /// Submits one message to `to` and makes one delivery attempt; where it stands then.
    async fn send(&self, to: &str) -> RecipientView {
        let request = SendRequest {
            from: FROM.into(),
            to: vec![to.into()],
            subject: "MTA-STS".into(),
            body: "Hallo".into(),
            ..Default::default()
        };
        let store = &self.sim.store;
        let queued = submit::submit(store, &AccountConfig::default(), DEFAULT_USER, &request)
            .await
            .expect("queued");
        deliver_message_now(store, &self.deliverer, queued.id, &WorkerConfig::default())
            .await
            .expect("an attempt");
        let message = store
            .message(DEFAULT_USER, queued.id)
            .await
            .unwrap()
            .unwrap();
        sendguard::delivery::view(&message).recipients.remove(0)
    }

    fn received(&self, host: &str) -> usize {
        self.sim.world.peer(host).expect("a peer").received().len()
    }
}

fn sts_mode(v: &DomainVerdict) -> Option<StsMode> {
    v.mta_sts.as_ref().and_then(|s| s.mode)
}

fn problem(v: &DomainVerdict) -> String {
    v.mta_sts
        .as_ref()
        .and_then(|s| s.problem.clone())
        .unwrap_or_default()
}

/// One domain whose MX host is WebPKI-valid and whose policy host answers `response`.
fn scenario(domain: &'static str, id: &'static str, response: PolicyResponse) -> Scenario {
    Scenario {
        domain,
        description: "test",
        signing: sendguard_sim::dns::Signing::Signed,
        hosts: vec![("mx", 10, HostKind::WebPki)],
        null_mx: false,
        mta_sts: Some(StsSetup {
            id: Some(id),
            response,
        }),
    }
}

#[tokio::test]
async fn enforce_with_a_matching_mx_is_shown_verified_delivered_and_answered_secure() {
    let env = env_of(sts_scenarios()).await;
    let v = env.probe("sts-enforce.test").await;
    assert_eq!((v.class, v.blocked), (SecurityClass::SslOk, false), "{v:?}");
    let sts = v.mta_sts.clone().expect("the policy is shown");
    assert_eq!(sts.mode, Some(StsMode::Enforce));
    assert_eq!(sts.mx, ["mx.sts-enforce.test"]);
    let until = sts.cached_until.expect("cached until");
    let now = sendguard::probe::now_unix();
    assert!((now + 86_000..=now + 86_400).contains(&until), "{until}");
    let mx = &v.mx[0];
    assert_eq!(mx.mta_sts_match, Some(true));
    assert!(mx.certificate.as_ref().unwrap().webpki_valid, "{mx:?}");
    // The secure sender's "authenticated" minimum is met through the policy (the zone is
    // signed too, but the policy alone would do).
    let required = sendguard_common::TransportRequirement {
        authentication: sendguard_common::MinAuthentication::Authenticated,
        ..Default::default()
    };
    assert_eq!(sendguard_common::secure::check(Some(&v), required), Ok(()));

    assert_eq!(
        env.table("sts-enforce.test").await,
        "OK secure match=mx.sts-enforce.test servername=hostname"
    );
    let sent = env.send("user@sts-enforce.test").await;
    assert_eq!(sent.state, RecipientState::Sent, "{sent:?}");
    assert_eq!(env.received("mx.sts-enforce.test"), 1);
    // The policy is cached in the store: the next probe does not fetch it again.
    let fetched = env.sim.world.policies().fetches("sts-enforce.test");
    env.probe("sts-enforce.test").await;
    assert_eq!(
        env.sim.world.policies().fetches("sts-enforce.test"),
        fetched
    );
}

#[tokio::test]
async fn enforce_never_uses_an_mx_it_does_not_name() {
    let env = env_of(sts_scenarios()).await;
    // No host named: blocked, nothing sent, Postfix defers.
    let v = env.probe("sts-nomatch.test").await;
    assert!(v.blocked, "{v:?}");
    assert_eq!(v.cause, Some(BlockCause::MtaStsNoMatchingMx));
    assert_eq!(v.mx[0].mta_sts_match, Some(false));
    let sent = env.send("user@sts-nomatch.test").await;
    assert_eq!(sent.state, RecipientState::Deferred, "{sent:?}");
    assert_eq!(env.received("mx.sts-nomatch.test"), 0);
    assert!(env.table("sts-nomatch.test").await.starts_with("TEMP "));

    // A backup MX without TLS that the policy does not name: not counted, not used.
    let v = env.probe("sts-backup.test").await;
    assert_eq!((v.class, v.blocked), (SecurityClass::SslOk, false), "{v:?}");
    assert_eq!(v.mx[1].mta_sts_match, Some(false));
    let before = env
        .sim
        .world
        .peer("mx2.sts-backup.test")
        .unwrap()
        .connections();
    env.sim
        .world
        .peer("mx1.sts-backup.test")
        .unwrap()
        .set_behaviour(sendguard_sim::smtp::PeerBehaviour::TempFailGreeting);
    let sent = env.send("user@sts-backup.test").await;
    assert_eq!(sent.state, RecipientState::Deferred, "{sent:?}");
    assert_eq!(
        env.sim
            .world
            .peer("mx2.sts-backup.test")
            .unwrap()
            .connections(),
        before,
        "the unnamed backup MX is never contacted for delivery"
    );
    assert_eq!(env.received("mx2.sts-backup.test"), 0);
}

#[tokio::test]
async fn testing_mode_is_reported_not_enforced() {
    let env = env_of(sts_scenarios()).await;
    let v = env.probe("sts-testing.test").await;
    assert_eq!((v.class, v.blocked), (SecurityClass::SslOk, false), "{v:?}");
    assert_eq!(sts_mode(&v), Some(StsMode::Testing));
    assert_eq!(v.mx[0].mta_sts_match, Some(false));
    assert!(!v.mx[0].certificate.as_ref().unwrap().webpki_valid);
    assert!(!env.table("sts-testing.test").await.contains("secure"));
    let sent = env.send("user@sts-testing.test").await;
    assert_eq!(sent.state, RecipientState::Sent, "{sent:?}");
}

#[tokio::test]
async fn broken_policies_are_no_policy_with_the_reason_shown() {
    let big = PolicyResponse::Oversized(100 * 1024);
    let html = PolicyResponse::Typed(
        policy_text("enforce", &["*.elsewhere.test"]),
        "text/html".into(),
    );
    let moved = PolicyResponse::Redirect("https://mta-sts.elsewhere.test/".into());
    let mut list = sts_scenarios();
    list.push(scenario("sts-redirect.test", "r1", moved));
    list.push(scenario("sts-type.test", "c1", html));
    list.push(scenario("sts-big.test", "o1", big));
    let env = env_of(list).await;
    for (domain, why) in [
        ("sts-malformed.test", "max_age is missing"),
        ("sts-redirect.test", "redirect"),
        ("sts-type.test", "text/plain"),
        ("sts-big.test", "larger than 65536"),
    ] {
        let v = env.probe(domain).await;
        assert_eq!((v.class, v.blocked), (SecurityClass::SslOk, false), "{v:?}");
        assert_eq!(sts_mode(&v), None, "{domain}: no policy applies");
        assert!(problem(&v).contains(why), "{domain}: {}", problem(&v));
        assert_eq!(env.table(domain).await, "OK encrypt", "{domain}");
    }
}

#[tokio::test]
async fn the_cache_survives_failures_follows_the_id_and_outlives_a_vanished_record() {
    let policy = |mx: &str| PolicyResponse::Policy(policy_text("enforce", &[mx]));
    let env = env_of(vec![scenario(
        "sts-life.test",
        "v1",
        policy("mx.sts-life.test"),
    )])
    .await;
    let world = &env.sim.world;
    let v = env.probe("sts-life.test").await;
    assert_eq!((sts_mode(&v), v.blocked), (Some(StsMode::Enforce), false));
    assert_eq!(world.policies().fetches("sts-life.test"), 1);

    // The policy host changes its policy but the id stays: the cached policy applies.
    world
        .policies()
        .set("sts-life.test", policy("*.elsewhere.test"));
    let v = env.probe("sts-life.test").await;
    assert!(!v.blocked, "{v:?}");
    assert_eq!(world.policies().fetches("sts-life.test"), 1);

    // A new id with the policy host failing: the cached policy still applies, and says so.
    world
        .policies()
        .set("sts-life.test", PolicyResponse::Refuse);
    world
        .set_sts_record("sts-life.test", Some("v2"))
        .await
        .unwrap();
    let v = env.probe("sts-life.test").await;
    assert_eq!((sts_mode(&v), v.blocked), (Some(StsMode::Enforce), false));
    assert!(!problem(&v).is_empty(), "{v:?}");
    assert_eq!(
        env.table("sts-life.test").await,
        "OK secure match=mx.sts-life.test servername=hostname"
    );

    // The new id's policy arrives: it names another host now, so nothing is delivered.
    world
        .policies()
        .set("sts-life.test", policy("*.elsewhere.test"));
    let v = env.probe("sts-life.test").await;
    assert_eq!(v.cause, Some(BlockCause::MtaStsNoMatchingMx), "{v:?}");
    let sent = env.send("user@sts-life.test").await;
    assert_eq!(sent.state, RecipientState::Deferred, "{sent:?}");
    assert_eq!(env.received("mx.sts-life.test"), 0);

    // The record vanishes while the policy is cached: it still applies, a possible downgrade.
    world.set_sts_record("sts-life.test", None).await.unwrap();
    let v = env.probe("sts-life.test").await;
    assert_eq!(sts_mode(&v), Some(StsMode::Enforce));
    assert!(v.mta_sts.as_ref().unwrap().downgrade, "{v:?}");
    assert!(
        env.sim
            .verdicts
            .alerts()
            .render_metrics(None)
            .contains("sendguard_mta_sts_downgrades_total 1")
    );

    // Withdrawn properly (RFC 8461 §8.3): mode none under a new id ends the enforcement.
    world
        .set_sts_record("sts-life.test", Some("v3"))
        .await
        .unwrap();
    world.policies().set(
        "sts-life.test",
        PolicyResponse::Policy("version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n".into()),
    );
    let v = env.probe("sts-life.test").await;
    assert_eq!(
        (sts_mode(&v), v.blocked),
        (Some(StsMode::None), false),
        "{v:?}"
    );
    let sent = env.send("user@sts-life.test").await;
    assert_eq!(sent.state, RecipientState::Sent, "{sent:?}");
}

#[tokio::test]
async fn a_cached_policy_applies_after_a_restart_when_the_fetch_fails() {
    let dir = tempfile::tempdir().unwrap();
    let list = vec![scenario(
        "sts-restart.test",
        "r1",
        PolicyResponse::Policy(policy_text("enforce", &["*.elsewhere.test"])),
    )];
    let sim = common::sim_env(list, dir.path()).await;
    let v = sim
        .verdicts
        .probe_now("sts-restart.test", true)
        .await
        .unwrap();
    assert_eq!(v.cause, Some(BlockCause::MtaStsNoMatchingMx));
    sim.world
        .policies()
        .set("sts-restart.test", PolicyResponse::Status(503));
    sim.world
        .set_sts_record("sts-restart.test", Some("r2"))
        .await
        .unwrap();
    // A new process: its own prober and verdicts over the same database.
    let prober = sendguard::probe::Prober::new(common::sim_probe_config(&sim.world)).unwrap();
    let verdicts = sendguard::verdicts::Verdicts::new(
        prober,
        sim.store.clone(),
        sendguard::verdicts::alerts::Alerts::default(),
        Duration::from_secs(3600),
    );
    let v = verdicts.probe_now("sts-restart.test", true).await.unwrap();
    assert_eq!(v.cause, Some(BlockCause::MtaStsNoMatchingMx), "{v:?}");
    assert!(problem(&v).contains("503"), "{v:?}");
}

#[tokio::test]
async fn the_policy_fetch_goes_through_the_address_guard() {
    let dir = tempfile::tempdir().unwrap();
    let sim = common::sim_env(sts_scenarios(), dir.path()).await;
    // The same world, but loopback targets not allowed: neither the MX host nor the policy
    // host (both on 127.0.0.0/8) is contacted.
    let mut config = common::sim_probe_config(&sim.world);
    config.allow_private_targets = false;
    let log = sendguard::probe::safety::ConnectLog::new();
    config.connect_log = Some(log.clone());
    let prober = sendguard::probe::Prober::new(config).unwrap();
    let fetches = sim.world.policies().fetches("sts-enforce.test");
    let facts = prober.probe("sts-enforce.test", true).await.unwrap();
    match &facts.mta_sts {
        sendguard::mta_sts::StsFacts::NoPolicy { problem: Some(p) } => {
            assert!(p.detail.contains("is not contacted"), "{p}");
            assert_eq!(p.step, sendguard::mta_sts::StsStep::Fetch);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.world.policies().fetches("sts-enforce.test"), fetches);
    assert!(log.attempts().is_empty(), "{:?}", log.attempts());
}

#[tokio::test]
async fn a_hold_on_a_host_the_policy_does_not_name_blocks_nothing() {
    let mut s = scenario(
        "sts-held.test",
        "h1",
        PolicyResponse::Policy(policy_text("enforce", &["mx.sts-held.test"])),
    );
    s.hosts
        .push(("backup", 20, HostKind::DropsStartTls { sessions: 1 }));
    let env = env_of(vec![s]).await;
    let first = env.probe("sts-held.test").await;
    assert!(!first.blocked, "{first:?}");
    // The unnamed backup drops STARTTLS: it goes on hold, but delivery never uses it.
    let v = env.probe("sts-held.test").await;
    let backup =
        v.mx.iter()
            .find(|m| m.host == "backup.sts-held.test")
            .unwrap();
    assert!(backup.on_hold, "{v:?}");
    assert!(!v.blocked, "{v:?}");
    let sent = env.send("user@sts-held.test").await;
    assert_eq!(sent.state, RecipientState::Sent, "{sent:?}");
    assert_eq!(env.received("backup.sts-held.test"), 0);
}

#[tokio::test]
async fn the_policy_table_has_an_expired_policy_refreshed() {
    let env = env_of(sts_scenarios()).await;
    let domain = "sts-enforce.test";
    // What is remembered: a judgement made with a policy that has run out, and that policy in
    // the cache.
    let facts = env.sim.prober.probe(domain, true).await.unwrap();
    let mut old = (*facts).clone();
    let sendguard::mta_sts::StsFacts::Applies { cached, .. } = &mut old.mta_sts else {
        panic!("{:?}", old.mta_sts)
    };
    cached.fetched_at = 1;
    cached.expires_at = 2;
    let expired = cached.clone();
    env.sim
        .store
        .put_mta_sts_policy(domain, &expired)
        .await
        .unwrap();
    sendguard::verdicts::record(
        &env.sim.store,
        &old,
        sendguard_common::ObservationSource::Probe,
    )
    .await
    .unwrap();
    let fetched = env.sim.world.policies().fetches(domain);
    // Answered as judged (the stricter way), and fetched again in the background.
    assert!(env.table(domain).await.starts_with("OK secure match="));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while env.sim.world.policies().fetches(domain) == fetched {
        assert!(tokio::time::Instant::now() < deadline, "no refresh");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
