//! Relay mode end to end: messages submitted through the real submission code into a real
//! SQLite queue, handed by the real worker code to a sim peer acting as the operator's
//! submission service (STARTTLS, a certificate from the test's own CA, AUTH PLAIN checked
//! against one account), while the recipients' domains are probed over signed DNS as usual.
//! Each test checks what the relay received and saw in plain text, that no recipient's own
//! server was contacted with mail, and where each recipient stands in the queue.

use std::net::SocketAddr;
use std::time::Duration;

use sendguard::delivery::attempt::Deliverer;
use sendguard::delivery::relay::Relay;
use sendguard::delivery::retry::RetrySchedule;
use sendguard::delivery::submit;
use sendguard::delivery::worker::{WorkerConfig, deliver_message_now};
use sendguard::smtp::Credentials;
use sendguard::store::queue::QueuedMessage;
use sendguard::user::account::{AccountConfig, DEFAULT_USER};
use sendguard_common::{RecipientState, RecipientView, SendRequest};
use sendguard_sim::pki::SimCa;
use sendguard_sim::smtp::{
    PeerBehaviour, PeerOptions, Reception, SmtpPeer, SubmissionAccount, Verb,
};
use sendguard_sim::world::scenarios;

mod common;

const FROM: &str = "maxima.mustermann@sendguard.example";
const USER: &str = "sendguard";
const PASSWORD: &str = "correct horse battery staple";

struct Env {
    sim: common::SimEnv,
    relay: SmtpPeer,
    deliverer: Deliverer,
    _dir: tempfile::TempDir,
}

/// What the relay is and how Sendguard is told of it.
struct Setup {
    /// The relay's behaviour (its TLS).
    behaviour: fn(&SimCa) -> PeerBehaviour,
    /// Whether Sendguard trusts the test's CA (`--relay-ca`) or only the WebPKI roots.
    trust_ca: bool,
    /// The password Sendguard uses.
    password: &'static str,
    /// Whether the relay offers AUTH (a submission service) or is a plain MTA.
    offers_auth: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            behaviour: |ca| PeerBehaviour::StartTls {
                identity: ca.issue(&["localhost"], false).expect("a certificate"),
            },
            trust_ca: true,
            password: PASSWORD,
            offers_auth: true,
        }
    }
}

async fn env(setup: Setup) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let sim = common::sim_env(scenarios(), dir.path()).await;
    let ca = SimCa::new("Operator CA").unwrap();
    let options = PeerOptions {
        hostname: "postfix.operator.test".into(),
        submission: setup.offers_auth.then(|| SubmissionAccount {
            user: USER.into(),
            password: PASSWORD.into(),
        }),
        ..PeerOptions::default()
    };
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let relay = SmtpPeer::spawn_with(bind, (setup.behaviour)(&ca), options)
        .await
        .unwrap();
    let ca_file = dir.path().join("operator-ca.pem");
    common::write_pem(&ca.cert_der(), &ca_file);
    let credentials = Credentials {
        user: USER.into(),
        password: setup.password.into(),
    };
    let trust = setup.trust_ca.then_some(ca_file.as_path());
    let port = relay.addr().port();
    let relay_config = Relay::new("localhost", port, trust, Some(credentials)).unwrap();
    let mut smtp = sim.prober.smtp_config().clone();
    smtp.session_timeout = Duration::from_secs(120);
    let deliverer = Deliverer::new(sim.verdicts.clone(), smtp, RetrySchedule::default())
        .with_relay(relay_config);
    Env {
        sim,
        relay,
        deliverer,
        _dir: dir,
    }
}

impl Env {
    async fn submit(&self, to: &[&str]) -> QueuedMessage {
        let request = SendRequest {
            from: FROM.into(),
            to: to.iter().map(|s| s.to_string()).collect(),
            subject: "Über den Relay".into(),
            body: "Grüße.\n.eine Zeile mit Punkt\nEnde".into(),
            ..Default::default()
        };
        submit::submit(
            &self.sim.store,
            &AccountConfig::default(),
            DEFAULT_USER,
            &request,
        )
        .await
        .expect("queued")
    }

    async fn deliver(&self, id: i64) -> Vec<RecipientView> {
        deliver_message_now(
            &self.sim.store,
            &self.deliverer,
            id,
            &WorkerConfig::default(),
        )
        .await
        .expect("delivered");
        let message = self.sim.store.message(DEFAULT_USER, id).await.unwrap();
        sendguard::delivery::view(&message.expect("the message")).recipients
    }

    /// No MX host of the world received anything: everything went through the relay.
    fn no_mx_received_mail(&self) {
        for host in [
            "mx.tls.test",
            "mx.plain.test",
            "mx.dane-ee.test",
            "mx.downgrade.test",
        ] {
            let peer = self.sim.world.peer(host).expect("a peer");
            assert_eq!(peer.counts().mail, 0, "{host} saw MAIL FROM");
        }
    }

    /// The relay saw no AUTH and no MAIL FROM at all.
    fn relay_saw_nothing(&self) {
        let counts = self.relay.counts();
        assert_eq!(counts.auth, 0, "AUTH sent");
        assert_eq!(counts.mail, 0, "MAIL FROM sent");
        assert!(self.relay.received().is_empty());
    }
}

fn state_of<'a>(views: &'a [RecipientView], address: &str) -> &'a RecipientView {
    views
        .iter()
        .find(|r| r.address == address)
        .unwrap_or_else(|| panic!("{address} in {views:?}"))
}

/// One message to tls.test through a relay set up as `setup`: its recipient must be deferred
/// (to be tried again); the environment and the reason.
async fn deferred(setup: Setup) -> (Env, String) {
    let env = env(setup).await;
    let queued = env.submit(&["user@tls.test"]).await;
    let views = env.deliver(queued.id).await;
    let r = state_of(&views, "user@tls.test");
    assert_eq!(r.state, RecipientState::Deferred, "{r:?}");
    assert!(r.next_attempt_at.is_some(), "{r:?}");
    let reason = r.reason.clone().expect("a reason");
    (env, reason)
}

#[tokio::test]
async fn a_message_is_relayed_over_tls_with_auth_in_one_transaction() {
    let env = env(Setup::default()).await;
    let to = ["user@dane-ee.test", "user@tls.test", "user@plain.test"];
    let queued = env.submit(&to).await;
    let raw = env.sim.store.message_raw(queued.id).await.unwrap().unwrap();
    let views = env.deliver(queued.id).await;
    for address in to {
        let r = state_of(&views, address);
        assert_eq!(r.state, RecipientState::Sent, "{r:?}");
        let via = r.delivery.as_ref().expect("how");
        assert!(via.relayed, "{via:?}");
        assert_eq!(via.mx_host, "localhost");
        assert_eq!(via.ip, "127.0.0.1");
        assert!(via.tls_version.is_some() && via.verified, "{via:?}");
        assert_eq!(via.dane, None, "the relay's hop says nothing of DANE");
    }
    let received = env.relay.received();
    assert_eq!(received.len(), 1, "one transaction for the message");
    let m = &received[0];
    assert_eq!(m.mail_from, FROM);
    assert_eq!(m.rcpt_to, to);
    assert_eq!(m.data, raw, "the message arrived intact");
    assert!(m.tls);
    assert_eq!(m.auth.as_deref(), Some(USER));
    let counts = env.relay.counts();
    assert_eq!(counts.auth_in_plain_text, 0);
    assert_eq!(counts.mail_in_plain_text, 0);
    assert_eq!(counts.data_in_plain_text, 0);
    env.no_mx_received_mail();
}

#[tokio::test]
async fn a_relay_without_starttls_gets_no_auth_and_no_mail_and_the_message_waits() {
    let (env, reason) = deferred(Setup {
        behaviour: |_| PeerBehaviour::NoStarttls,
        ..Setup::default()
    })
    .await;
    assert!(
        reason.contains("the relay does not offer STARTTLS; nothing was sent"),
        "{reason}"
    );
    env.relay_saw_nothing();
    let session = env.relay.sessions().pop().expect("a session");
    assert!(!session.saw_in_plain_text(Verb::Auth));
    env.no_mx_received_mail();
}

#[tokio::test]
async fn a_relay_certificate_not_trusted_gets_nothing() {
    // The relay's certificate is from the test's CA, which Sendguard is not told of: the
    // WebPKI roots do not vouch for it.
    let (env, reason) = deferred(Setup {
        trust_ca: false,
        ..Setup::default()
    })
    .await;
    assert!(reason.contains("certificate rejected"), "{reason}");
    env.relay_saw_nothing();
}

#[tokio::test]
async fn a_wrong_password_is_deferred_with_the_relays_refusal_and_no_mail_is_sent() {
    let (env, reason) = deferred(Setup {
        password: "wrong",
        ..Setup::default()
    })
    .await;
    assert!(
        reason.contains("the relay refused the credentials of \"sendguard\"")
            && reason.contains("535 5.7.8"),
        "{reason}"
    );
    assert!(
        !reason.contains("wrong"),
        "the password in the reason: {reason}"
    );
    let counts = env.relay.counts();
    assert_eq!((counts.auth, counts.auth_in_plain_text), (1, 0));
    assert_eq!(counts.mail, 0, "MAIL FROM after a refused AUTH");
}

#[tokio::test]
async fn a_relay_that_offers_no_auth_gets_no_mail_when_an_account_is_configured() {
    let (env, reason) = deferred(Setup {
        offers_auth: false,
        ..Setup::default()
    })
    .await;
    assert!(
        reason.contains("does not offer AUTH PLAIN over TLS"),
        "{reason}"
    );
    env.relay_saw_nothing();
}

#[tokio::test]
async fn a_held_domain_is_not_relayed_the_others_are() {
    let env = env(Setup::default()).await;
    // The first probe sees TLS, the second no STARTTLS: a downgrade, the server on hold.
    for _ in 0..2 {
        env.sim.prober.clear_caches();
        env.sim
            .verdicts
            .probe_now("downgrade.test", true)
            .await
            .unwrap();
    }
    assert_eq!(env.sim.store.holds(false).await.unwrap().len(), 1);
    let queued = env.submit(&["user@downgrade.test", "user@tls.test"]).await;
    let views = env.deliver(queued.id).await;
    let held = state_of(&views, "user@downgrade.test");
    assert_eq!(held.state, RecipientState::Held, "{held:?}");
    let sent = state_of(&views, "user@tls.test");
    assert_eq!(sent.state, RecipientState::Sent, "{sent:?}");
    let received = env.relay.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt_to, ["user@tls.test"]);
    env.no_mx_received_mail();
}

#[tokio::test]
async fn a_recipient_the_relay_refuses_fails_the_others_are_sent() {
    let env = env(Setup::default()).await;
    env.relay.set_reception(Reception::rejecting([
        sendguard_common::address::Address::parse("user@plain.test").unwrap(),
    ]));
    let queued = env.submit(&["user@plain.test", "user@tls.test"]).await;
    let views = env.deliver(queued.id).await;
    let refused = state_of(&views, "user@plain.test");
    assert_eq!(refused.state, RecipientState::Failed, "{refused:?}");
    assert!(refused.reason.as_deref().unwrap().contains("550 5.1.1"));
    assert_eq!(
        state_of(&views, "user@tls.test").state,
        RecipientState::Sent
    );
    assert_eq!(env.relay.received()[0].rcpt_to, ["user@tls.test"]);
}
