//! The resolver self-test against the simulated internet: it passes through a path that
//! validates, and each way of breaking validation is caught with its own code (a resolver that
//! strips signatures, a trust anchor that does not match, a "broken" name that validates, no
//! resolver at all). While it fails nothing is judged: every verdict is SSL? with the reason,
//! no probe starts, a delivery is deferred, Postfix's table answers TEMP, `/api/ready` answers
//! 503 naming the resolver, and one alert fires; when it passes again, all of it comes back.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use sendguard::delivery::attempt::Deliverer;
use sendguard::delivery::retry::RetrySchedule;
use sendguard::delivery::submit;
use sendguard::delivery::worker::{WorkerConfig, deliver_message_now};
use sendguard::dns::DnsConfig;
use sendguard::dns::selftest::SelfTestNames;
use sendguard::http::AppState;
use sendguard::postfix::memo::Memo;
use sendguard::postfix::tls_policy::{self, Answer};
use sendguard::user::account::{AccountConfig, DEFAULT_USER};
use sendguard::verdicts::alerts::Alerts;
use sendguard::verdicts::resolver::{ResolverCheck, ResolverState};
use sendguard_common::{
    BlockCause, Readiness, RecipientSecurity, RecipientState, SecurityClass, SendRequest, paths,
};
use sendguard_sim::dns::failing::{FailingResolver, Failure};
use sendguard_sim::dns::{DnsSim, Signing, ZoneSpec};
use sendguard_sim::world::{SELF_TEST_SECURE, SimWorld, scenarios};
use tower::ServiceExt;

mod common;

fn world_scenarios() -> Vec<sendguard_sim::world::Scenario> {
    scenarios()
        .into_iter()
        .filter(|s| s.domain == "tls.test")
        .collect()
}

fn dns_of(world: &SimWorld) -> DnsConfig {
    let e = world.endpoints();
    DnsConfig {
        resolver: Some(e.resolver),
        trust_anchor: Some(e.trust_anchor),
        timeout: Duration::from_secs(3),
    }
}

fn names_of(world: &SimWorld) -> SelfTestNames {
    let e = world.endpoints();
    SelfTestNames {
        secure: e.self_test_secure,
        bogus: e.self_test_bogus,
    }
}

/// Runs a self-test once and gives its failure code (`None`: it passed).
async fn outcome(dns: &DnsConfig, names: SelfTestNames) -> Option<&'static str> {
    let check = ResolverCheck::new(dns, names, Duration::from_secs(300)).unwrap();
    match check.run_once(&Alerts::default()).await {
        ResolverState::Validating { .. } => None,
        ResolverState::Failing { code, reason, .. } => {
            println!("{code}: {reason}");
            Some(code)
        }
        ResolverState::Unchecked => panic!("it ran"),
    }
}

#[tokio::test]
async fn each_way_of_breaking_validation_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let world = SimWorld::start_with(world_scenarios(), dir.path())
        .await
        .unwrap();
    let healthy = dns_of(&world);
    assert_eq!(
        outcome(&healthy, names_of(&world)).await,
        None,
        "the sim validates"
    );

    // A resolver that is not DNSSEC-aware: signatures stripped on the way.
    let stripping = FailingResolver::start(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        world.endpoints().resolver,
        vec![(".".into(), Failure::StripSignatures)],
    )
    .await
    .unwrap();
    let through_stripping = DnsConfig {
        resolver: Some(stripping.addr()),
        ..healthy.clone()
    };
    assert_eq!(
        outcome(&through_stripping, names_of(&world)).await,
        Some("signed_not_secure")
    );

    // A trust anchor that is not this root's key (another simulated root's).
    let other_dir = tempfile::tempdir().unwrap();
    let other = DnsSim::start(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        vec![ZoneSpec {
            origin: "elsewhere.test".into(),
            records: "@ 300 IN A 192.0.2.1\n".into(),
            signing: Signing::Signed,
        }],
        other_dir.path(),
    )
    .await
    .unwrap();
    let wrong_anchor = DnsConfig {
        trust_anchor: Some(other.trust_anchor_path().to_path_buf()),
        ..healthy.clone()
    };
    assert_eq!(
        outcome(&wrong_anchor, names_of(&world)).await,
        Some("signed_not_secure")
    );

    // A "broken" name that validates: the self-test does not pass on a signed name alone.
    let not_broken = SelfTestNames {
        bogus: "mx.tls.test".into(),
        ..names_of(&world)
    };
    assert_eq!(outcome(&healthy, not_broken).await, Some("broken_accepted"));

    // No resolver at all.
    let nobody = DnsConfig {
        resolver: Some("127.0.0.1:9".parse().unwrap()),
        ..healthy
    };
    assert_eq!(outcome(&nobody, names_of(&world)).await, Some("no_answer"));
    other.shutdown().await;
    world.shutdown().await;
}

#[tokio::test]
async fn a_failing_self_test_is_posted_to_the_webhook() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = common::webhook_receiver(listener);
    let alerts = Alerts::new(Some(&url)).unwrap();
    let nobody = DnsConfig {
        resolver: Some("127.0.0.1:9".parse().unwrap()),
        trust_anchor: None,
        timeout: Duration::from_secs(1),
    };
    let check =
        ResolverCheck::new(&nobody, SelfTestNames::default(), Duration::from_secs(300)).unwrap();
    check.run_once(&alerts).await;
    let (head, body) = tokio::time::timeout(Duration::from_secs(10), receiver)
        .await
        .expect("the webhook is called in time")
        .unwrap();
    assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["event"], "resolver_failing");
    assert_eq!(json["resolver"]["state"], "failing");
    assert_eq!(json["resolver"]["code"], "no_answer");
    alerts.wait_idle().await;
}

/// Breaks (or mends) the signed name of the self-test in `world`.
async fn sign_self_test_name(world: &SimWorld, signing: Signing) {
    world
        .dns()
        .replace_zone(ZoneSpec {
            origin: SELF_TEST_SECURE.into(),
            records: "@ 300 IN A 192.0.2.53\n".into(),
            signing,
        })
        .await
        .unwrap();
}

async fn ready(state: &AppState, admin: bool) -> (u16, Readiness) {
    let mut request = Request::get(paths::READY);
    if admin {
        request = request.header(paths::ADMIN_TOKEN_HEADER, "secret");
    }
    let response = sendguard::http::app(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

async fn table(verdicts: &sendguard::verdicts::Verdicts, domain: &str) -> Answer {
    let request = format!("{} {domain}", tls_policy::TLS_POLICY_MAP);
    tls_policy::answer(verdicts, &Memo::default(), request.as_bytes()).await
}

fn verdict_of(answer: RecipientSecurity) -> sendguard_common::DomainVerdict {
    match answer {
        RecipientSecurity::Final { verdict, .. } => verdict,
        other => panic!("a final verdict expected: {other:?}"),
    }
}

/// A message to tls.test, attempted once through `verdicts`: deferred, saying why.
async fn assert_deferred(env: &common::SimEnv, verdicts: &sendguard::verdicts::Verdicts) {
    let request = SendRequest {
        from: "maxima.mustermann@sendguard.example".into(),
        to: vec!["someone@tls.test".into()],
        subject: "Während der Resolver nicht validiert".into(),
        body: "Text".into(),
        ..Default::default()
    };
    let queued = submit::submit(
        &env.store,
        &AccountConfig::default(),
        DEFAULT_USER,
        &request,
    )
    .await
    .unwrap();
    let smtp = env.prober.smtp_config().clone();
    let deliverer = Deliverer::new(verdicts.clone(), smtp, RetrySchedule::default());
    deliver_message_now(&env.store, &deliverer, queued.id, &WorkerConfig::default())
        .await
        .unwrap();
    let message = env
        .store
        .message(DEFAULT_USER, queued.id)
        .await
        .unwrap()
        .unwrap();
    let r = &sendguard::delivery::view(&message).recipients[0];
    assert_eq!(r.state, RecipientState::Deferred, "{r:?}");
    let reason = r.reason.clone().unwrap_or_default();
    assert!(reason.contains("self-test fails"), "{reason}");
    assert!(
        env.world.peer("mx.tls.test").unwrap().received().is_empty(),
        "nothing sent"
    );
}

#[tokio::test]
async fn while_the_self_test_fails_nothing_is_judged() {
    let dir = tempfile::tempdir().unwrap();
    let env = common::sim_env(world_scenarios(), dir.path()).await;
    let alerts = Alerts::default();
    let check = ResolverCheck::new(
        &dns_of(&env.world),
        names_of(&env.world),
        Duration::from_secs(300),
    )
    .unwrap();
    assert!(matches!(
        check.run_once(&alerts).await,
        ResolverState::Validating { .. }
    ));
    let verdicts = env.verdicts.clone().with_resolver_check(check.clone());
    let state = AppState::new(verdicts.clone()).with_admin_token(Some("secret".into()));
    let before = verdicts.probe_now("tls.test", true).await.unwrap();
    assert_eq!(before.class, SecurityClass::SslOk);
    assert!(!matches!(
        table(&verdicts, "tls.test").await,
        Answer::Temp(_)
    ));
    assert_eq!(ready(&state, false).await.0, 200);

    sign_self_test_name(&env.world, Signing::Bogus).await;
    let failing = check.run_once(&alerts).await;
    assert!(matches!(
        failing,
        ResolverState::Failing {
            code: "signed_not_secure",
            ..
        }
    ));
    check.run_once(&alerts).await;
    assert!(
        alerts
            .render_metrics(None)
            .contains("sendguard_resolver_alerts_total 1\n"),
        "one alert, however often it fails"
    );

    // A known verdict and an unknown domain alike: SSL?, blocked, with the reason.
    for address in ["a@tls.test", "b@never-seen.test"] {
        let v = verdict_of(verdicts.lookup(address).await);
        assert_eq!(v.class, SecurityClass::Unknown, "{address}");
        assert!(v.blocked);
        assert_eq!(v.cause, Some(BlockCause::ResolverNotValidating));
        assert!(v.reason.contains("self-test fails"), "{}", v.reason);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.store.verdict("never-seen.test").await.unwrap(),
        None,
        "no probe started"
    );
    assert!(verdicts.probe_now("tls.test", true).await.is_err());
    match table(&verdicts, "tls.test").await {
        Answer::Temp(why) => assert!(why.contains("self-test"), "{why}"),
        other => panic!("TEMP expected: {other:?}"),
    }
    assert_deferred(&env, &verdicts).await;
    let (status, body) = ready(&state, false).await;
    assert_eq!(status, 503);
    assert_eq!(body.failing, ["resolver"]);
    let resolver = &body.checks["resolver"];
    assert_eq!(resolver.code.as_deref(), Some("signed_not_secure"));
    assert_eq!(resolver.detail, None, "the detail is for administrators");
    let (_, body) = ready(&state, true).await;
    let detail = body.checks["resolver"].detail.clone().unwrap();
    assert!(detail.contains(SELF_TEST_SECURE), "{detail}");
    assert!(body.checks["database"].ok);

    sign_self_test_name(&env.world, Signing::Signed).await;
    assert!(matches!(
        check.run_once(&alerts).await,
        ResolverState::Validating { .. }
    ));
    let after = verdict_of(verdicts.lookup("a@tls.test").await);
    assert_eq!(after.class, SecurityClass::SslOk);
    assert!(!matches!(
        table(&verdicts, "tls.test").await,
        Answer::Temp(_)
    ));
    let (status, body) = ready(&state, false).await;
    assert_eq!((status, body.ready), (200, true));
    env.world.shutdown().await;
}

#[tokio::test]
async fn ready_names_the_worker_and_the_postfix_services() {
    use axum::extract::FromRef;
    use sendguard::http::ready::ReadyParts;
    let (state, _dir) = common::offline_state().await;
    let verdicts = sendguard::verdicts::Verdicts::from_ref(&state);
    let smtp = verdicts.prober().smtp_config().clone();
    let deliverer = Deliverer::new(verdicts.clone(), smtp, RetrySchedule::default());
    let worker = sendguard::delivery::worker::spawn(
        verdicts.store().clone(),
        deliverer,
        WorkerConfig::default(),
        Default::default(),
    );
    let table = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone_addr = gone.local_addr().unwrap();
    drop(gone);
    let state = state.with_ready_parts(ReadyParts {
        worker: Some(worker.running()),
        services: vec![
            ("postfix_tls_policy", table.local_addr().unwrap()),
            ("postfix_policy_service", gone_addr),
        ],
    });
    let (status, body) = ready(&state, false).await;
    assert_eq!(status, 503);
    assert_eq!(body.failing, ["postfix_policy_service"]);
    assert_eq!(
        body.checks["postfix_policy_service"].code.as_deref(),
        Some("not_listening")
    );
    assert!(body.checks["delivery"].ok && body.checks["postfix_tls_policy"].ok);
    worker.stop(Duration::from_secs(5)).await;
    let (_, body) = ready(&state, false).await;
    assert_eq!(body.failing, ["delivery", "postfix_policy_service"]);
}

#[tokio::test]
async fn a_stopping_server_is_not_ready() {
    let (state, _dir) = common::offline_state().await;
    let stopping = sendguard::http::shutdown::Stopping::default();
    let state = state.with_stopping(stopping.clone());
    assert_eq!(ready(&state, false).await.0, 200, "no self-test attached");
    stopping.trigger();
    let (status, body) = ready(&state, false).await;
    assert_eq!(status, 503);
    assert_eq!(body.failing, ["stopping"]);
}
