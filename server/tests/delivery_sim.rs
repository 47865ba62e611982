//! Delivery end to end against the simulated internet: messages submitted through the real
//! submission code into a real SQLite queue, delivered by the real worker code to sim peers over
//! real TLS, behind signed DNS. Each test checks what the peer received (envelope, message, TLS)
//! and what it saw in plain text, and where each recipient stands in the queue.

use std::time::Duration;

use sendguard::delivery::attempt::Deliverer;
use sendguard::delivery::retry::RetrySchedule;
use sendguard::delivery::submit;
use sendguard::delivery::worker::{WorkerConfig, deliver_message_now};
use sendguard::probe::Prober;
use sendguard::store::Store;
use sendguard::store::queue::QueuedMessage;
use sendguard::user::account::{AccountConfig, DEFAULT_USER};
use sendguard::verdicts::Verdicts;
use sendguard_common::{
    DaneStatus, RecipientState, RecipientView, SecureMode, SecureSendingSettings, SendRequest,
};
use sendguard_sim::smtp::{Reception, Step};
use sendguard_sim::world::{SimWorld, scenarios};

mod common;

const FROM: &str = "maxima.mustermann@sendguard.example";

struct Env {
    world: SimWorld,
    prober: Prober,
    store: Store,
    verdicts: Verdicts,
    deliverer: Deliverer,
    _dir: tempfile::TempDir,
}

async fn env_with(schedule: RetrySchedule) -> Env {
    env_of(scenarios(), schedule).await
}

async fn env_of(list: Vec<sendguard_sim::world::Scenario>, schedule: RetrySchedule) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let common::SimEnv {
        world,
        prober,
        store,
        verdicts,
        ..
    } = common::sim_env(list, dir.path()).await;
    let mut smtp = prober.smtp_config().clone();
    smtp.session_timeout = Duration::from_secs(120);
    let deliverer = Deliverer::new(verdicts.clone(), smtp, schedule);
    Env {
        world,
        prober,
        store,
        verdicts,
        deliverer,
        _dir: dir,
    }
}

async fn env() -> Env {
    env_with(RetrySchedule::default()).await
}

impl Env {
    async fn submit(&self, from: &str, to: &[&str], subject: &str) -> QueuedMessage {
        let request = SendRequest {
            from: from.into(),
            to: to.iter().map(|s| s.to_string()).collect(),
            subject: subject.into(),
            body: "Grüße aus der Simulation.\n.eine Zeile mit Punkt\nEnde".into(),
            ..Default::default()
        };
        submit::submit(
            &self.store,
            &AccountConfig::default(),
            DEFAULT_USER,
            &request,
        )
        .await
        .expect("queued")
    }

    /// One attempt for every due recipient of `id`, then where each stands.
    async fn deliver(&self, id: i64) -> Vec<RecipientView> {
        deliver_message_now(&self.store, &self.deliverer, id, &WorkerConfig::default())
            .await
            .expect("delivered");
        let message = self
            .store
            .message(DEFAULT_USER, id)
            .await
            .unwrap()
            .expect("the message");
        sendguard::delivery::view(&message).recipients
    }

    fn peer(&self, host: &str) -> &sendguard_sim::smtp::SmtpPeer {
        self.world.peer(host).expect("a peer")
    }
}

fn state_of<'a>(views: &'a [RecipientView], address: &str) -> &'a RecipientView {
    views
        .iter()
        .find(|r| r.address == address)
        .unwrap_or_else(|| panic!("{address} in {views:?}"))
}

#[tokio::test]
async fn each_level_is_delivered_intact_with_the_protection_it_promised() {
    let env = env().await;
    let to = ["user@dane-ee.test", "user@tls.test", "user@plain.test"];
    let queued = env.submit(FROM, &to, "Stufen").await;
    let raw = env.store.message_raw(queued.id).await.unwrap().unwrap();
    let views = env.deliver(queued.id).await;

    let dane = state_of(&views, "user@dane-ee.test");
    assert_eq!(dane.state, RecipientState::Sent, "{dane:?}");
    let via = dane.delivery.as_ref().expect("how");
    assert_eq!(via.mx_host, "mx.dane-ee.test");
    assert!(via.tls_version.is_some());
    assert_eq!(via.dane, Some(DaneStatus::Verified));
    assert!(via.verified);

    let tls = state_of(&views, "user@tls.test");
    assert_eq!(tls.state, RecipientState::Sent, "{tls:?}");
    let via = tls.delivery.as_ref().expect("how");
    assert!(via.tls_version.is_some());
    assert!(
        !via.verified,
        "a self-signed certificate authenticates nothing"
    );

    let plain = state_of(&views, "user@plain.test");
    assert_eq!(plain.state, RecipientState::Sent, "{plain:?}");
    assert_eq!(plain.delivery.as_ref().unwrap().tls_version, None);

    for (host, rcpt, over_tls) in [
        ("mx.dane-ee.test", "user@dane-ee.test", true),
        ("mx.tls.test", "user@tls.test", true),
        ("mx.plain.test", "user@plain.test", false),
    ] {
        let peer = env.peer(host);
        let received = peer.received();
        assert_eq!(received.len(), 1, "{host}: exactly one message");
        let m = &received[0];
        assert_eq!(m.mail_from, FROM);
        assert_eq!(m.rcpt_to, [rcpt]);
        assert_eq!(m.data, raw, "{host}: the message arrived intact");
        assert_eq!(m.tls, over_tls, "{host}");
        if over_tls {
            assert_eq!(
                peer.counts().mail_in_plain_text,
                0,
                "{host}: MAIL in plain text"
            );
            assert_eq!(
                peer.counts().data_in_plain_text,
                0,
                "{host}: DATA in plain text"
            );
        }
    }
}

#[tokio::test]
async fn a_dane_mismatch_and_bogus_dnssec_are_deferred_and_nothing_is_sent() {
    let env = env().await;
    let queued = env
        .submit(FROM, &["user@wrong-tlsa.test", "user@bogus.test"], "Nein")
        .await;
    let views = env.deliver(queued.id).await;
    for address in ["user@wrong-tlsa.test", "user@bogus.test"] {
        let r = state_of(&views, address);
        assert_eq!(r.state, RecipientState::Deferred, "{r:?}");
        assert!(r.next_attempt_at.is_some());
        assert!(r.reason.as_deref().is_some_and(|t| !t.is_empty()));
    }
    for host in ["mx.wrong-tlsa.test", "mx.bogus.test"] {
        assert_eq!(env.peer(host).counts().mail, 0, "{host} saw MAIL FROM");
        assert!(env.peer(host).received().is_empty());
    }
}

#[tokio::test]
async fn starttls_refused_is_deferred_never_sent_in_plain_text() {
    let env = env().await;
    let queued = env.submit(FROM, &["user@refuse.test"], "Weigerung").await;
    let views = env.deliver(queued.id).await;
    let r = state_of(&views, "user@refuse.test");
    assert_eq!(r.state, RecipientState::Deferred, "{r:?}");
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("never sent in plain text"),
        "{r:?}"
    );
    assert_eq!(env.peer("mx.refuse.test").counts().mail, 0);
}

#[tokio::test]
async fn a_downgrade_while_delivering_holds_until_released_then_delivers_at_the_accepted_level() {
    let env = env().await;
    // The first session (the probe before the delivery) has TLS; from the second on the server
    // no longer offers STARTTLS: the delivery itself sees the downgrade.
    let queued = env.submit(FROM, &["user@downgrade.test"], "Abstieg").await;
    let views = env.deliver(queued.id).await;
    let r = state_of(&views, "user@downgrade.test");
    assert_eq!(r.state, RecipientState::Held, "{r:?}");
    assert!(r.reason.as_deref().unwrap().contains("on hold"), "{r:?}");
    let peer = env.peer("mx.downgrade.test");
    assert_eq!(
        peer.counts().mail,
        0,
        "nothing sent to the downgraded server"
    );
    let holds = env.store.holds(false).await.unwrap();
    assert_eq!(holds.len(), 1, "{holds:?}");

    // Held stays held: another attempt does not touch it.
    assert_eq!(
        state_of(&env.deliver(queued.id).await, "user@downgrade.test").state,
        RecipientState::Held
    );

    env.verdicts
        .release("mx.downgrade.test", "test")
        .await
        .expect("released");
    env.prober.clear_caches();
    let views = env.deliver(queued.id).await;
    let r = state_of(&views, "user@downgrade.test");
    assert_eq!(r.state, RecipientState::Sent, "{r:?}");
    assert_eq!(r.delivery.as_ref().unwrap().tls_version, None);
    assert_eq!(peer.received().len(), 1);
}

#[tokio::test]
async fn a_secure_sender_is_refused_before_mail_from_where_tls_is_missing() {
    let env = env().await;
    let on = SecureSendingSettings {
        mode: SecureMode::On,
        ..Default::default()
    };
    env.store.set_settings(DEFAULT_USER, &on).await.unwrap();
    let secure_from = "maxima.mustermann@secure.sendguard.example";
    let queued = env
        .submit(secure_from, &["user@plain.test", "user@tls.test"], "Sicher")
        .await;
    let views = env.deliver(queued.id).await;
    let plain = state_of(&views, "user@plain.test");
    assert_eq!(plain.state, RecipientState::Failed, "{plain:?}");
    let reason = plain.reason.as_deref().unwrap();
    assert!(
        reason.contains("secure address") && reason.contains("TLS"),
        "{reason}"
    );
    assert_eq!(
        env.peer("mx.plain.test").counts().mail,
        0,
        "the peer saw MAIL FROM"
    );

    let tls = state_of(&views, "user@tls.test");
    assert_eq!(tls.state, RecipientState::Sent, "{tls:?}");
    assert_eq!(env.peer("mx.tls.test").counts().mail_in_plain_text, 0);
}

#[tokio::test]
async fn temporary_failures_are_retried_by_the_schedule_and_permanent_ones_fail() {
    let schedule = RetrySchedule {
        waits: vec![Duration::ZERO],
        max_age: Duration::from_secs(3600),
    };
    let env = env_with(schedule).await;
    env.peer("mx.tls.test")
        .set_reception(Reception::temporary_failures(Step::Data, 1));
    env.peer("mx.dane-ta.test")
        .set_reception(Reception::permanent_failure(Step::Mail));
    let queued = env
        .submit(FROM, &["user@tls.test", "user@dane-ta.test"], "Nochmal")
        .await;
    let views = env.deliver(queued.id).await;
    let tls = state_of(&views, "user@tls.test");
    assert_eq!(tls.state, RecipientState::Deferred, "{tls:?}");
    assert!(
        tls.reason.as_deref().unwrap().starts_with("DATA: 4"),
        "{tls:?}"
    );
    let ta = state_of(&views, "user@dane-ta.test");
    assert_eq!(ta.state, RecipientState::Failed, "{ta:?}");
    assert!(
        ta.reason.as_deref().unwrap().starts_with("MAIL FROM: 5"),
        "{ta:?}"
    );

    let views = env.deliver(queued.id).await;
    let tls = state_of(&views, "user@tls.test");
    assert_eq!(tls.state, RecipientState::Sent, "{tls:?}");
    assert_eq!(tls.attempts, 2);
    assert_eq!(
        env.peer("mx.tls.test").received().len(),
        1,
        "delivered once"
    );
    // A failed recipient is not attempted again.
    assert_eq!(state_of(&views, "user@dane-ta.test").attempts, 1);
}

#[tokio::test]
async fn a_message_queued_too_long_fails_with_the_last_reason() {
    let schedule = RetrySchedule {
        waits: vec![Duration::from_secs(300)],
        max_age: Duration::ZERO,
    };
    let env = env_with(schedule).await;
    let queued = env.submit(FROM, &["user@refuse.test"], "Zu alt").await;
    let views = env.deliver(queued.id).await;
    let r = state_of(&views, "user@refuse.test");
    assert_eq!(r.state, RecipientState::Failed, "{r:?}");
    let reason = r.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("given up after 0 s in the queue; last: "),
        "{reason}"
    );
    assert!(reason.contains("mx.refuse.test"), "{reason}");
}

#[tokio::test]
async fn dane_behind_an_unsigned_mx_answer_is_not_reported_as_authenticated() {
    let env = env().await;
    let queued = env
        .submit(FROM, &["user@unsigned-mx.test"], "Unsigniert")
        .await;
    let views = env.deliver(queued.id).await;
    let r = state_of(&views, "user@unsigned-mx.test");
    assert_eq!(r.state, RecipientState::Sent, "{r:?}");
    let via = r.delivery.as_ref().unwrap();
    assert_eq!(via.mx_host, "mx.dane-ee.test");
    assert!(via.tls_version.is_some());
    assert!(!via.verified, "the badge says SSL ok, not DANE ok: {via:?}");
    assert_ne!(via.dane, Some(DaneStatus::Verified));
}

#[tokio::test]
async fn hostile_servers_defer_the_message_within_the_time_limits_and_see_no_mail() {
    let env = env_of(
        sendguard_sim::world::hostile_scenarios(),
        RetrySchedule::default(),
    )
    .await;
    let domains: Vec<String> = env
        .world
        .domains()
        .iter()
        .map(|d| d.domain.to_string())
        .collect();
    let to: Vec<String> = domains.iter().map(|d| format!("user@{d}")).collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let queued = env.submit(FROM, &to, "Feindlich").await;
    // Every session ends within the step timeouts and the session deadline: this returns.
    for r in env.deliver(queued.id).await {
        assert_eq!(r.state, RecipientState::Deferred, "{r:?}");
        assert!(r.reason.as_deref().is_some_and(|t| !t.is_empty()), "{r:?}");
    }
    for d in &domains {
        assert_eq!(
            env.peer(&format!("mx.{d}")).counts().mail,
            0,
            "{d} saw MAIL FROM"
        );
    }
}

#[tokio::test]
async fn messages_to_one_domain_share_a_session() {
    let env = env().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            env.submit(FROM, &["user@tls.test"], &format!("Nr. {i}"))
                .await
                .id,
        );
    }
    // One pass over everything due, as the worker does.
    let batches = env.store.claim_due(i64::MAX, 100).await.unwrap();
    sendguard::delivery::worker::run(&env.deliverer, batches, 4).await;
    for id in ids {
        let m = env.store.message(DEFAULT_USER, id).await.unwrap().unwrap();
        assert_eq!(m.recipients[0].state, RecipientState::Sent, "{m:?}");
    }
    let peer = env.peer("mx.tls.test");
    assert_eq!(peer.received().len(), 3);
    // One session for the probe, one for the three deliveries.
    assert_eq!(peer.connections(), 2);
}
