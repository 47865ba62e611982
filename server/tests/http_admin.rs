//! The admin API, `/metrics`, the alert webhook, and the account and settings endpoints,
//! driven through the real router in-process, with a real store in a temporary directory.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sendguard::dns::DnsConfig;
use sendguard::http::{AppState, app};
use sendguard::probe::facts::DomainFacts;
use sendguard::probe::{ProbeConfig, Prober};
use sendguard::store::Store;
use sendguard::verdicts::Verdicts;
use sendguard::verdicts::alerts::Alerts;
use sendguard_common::{
    Account, ApiErrorBody, HoldStatus, HoldView, ObservationSource, ObservationView, SecureMode,
    SecureSendingSettings, paths,
};
use tower::ServiceExt;

mod common;

const TOKEN: &str = "s3cret-token";

/// example.test with one server, seen with TLS 1.3 or without STARTTLS.
fn facts(at: i64, tls: bool) -> DomainFacts {
    common::insecure_domain(
        "example.test",
        at,
        vec![common::insecure_host(
            "mx.example.test",
            vec![common::tls_or_plain("192.0.2.7", tls)],
        )],
    )
}

struct Setup {
    state: AppState,
    store: Store,
    alerts: Alerts,
    _dir: tempfile::TempDir,
}

async fn setup(token: Option<&str>, webhook: Option<&str>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = common::test_store(dir.path()).await;
    let prober = Prober::new(ProbeConfig::new(DnsConfig {
        resolver: Some("127.0.0.1:9".parse().unwrap()),
        trust_anchor: None,
        timeout: Duration::from_secs(1),
    }))
    .unwrap();
    let alerts = Alerts::new(webhook).unwrap();
    let verdicts = Verdicts::new(
        prober,
        store.clone(),
        alerts.clone(),
        Duration::from_secs(3600),
    );
    let state = AppState::new(verdicts).with_admin_token(token.map(str::to_string));
    Setup {
        state,
        store,
        alerts,
        _dir: dir,
    }
}

/// Records TLS, then no STARTTLS: one hold on mx.example.test.
async fn downgrade(store: &Store) -> HoldView {
    sendguard::verdicts::record(store, &facts(100, true), ObservationSource::Probe)
        .await
        .unwrap();
    let r = sendguard::verdicts::record(store, &facts(200, false), ObservationSource::Probe)
        .await
        .unwrap();
    assert_eq!(r.new_holds.len(), 1);
    r.new_holds[0].clone()
}

async fn call(state: &AppState, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec())
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> T {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(bytes));
    })
}

#[tokio::test]
async fn without_a_token_configured_the_admin_api_is_disabled() {
    let s = setup(None, None).await;
    let (status, body) = call(
        &s.state,
        Request::get(paths::ADMIN_HOLDS)
            .header(paths::ADMIN_TOKEN_HEADER, "anything")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let e: ApiErrorBody = json(&body);
    assert!(e.error.contains("--admin-token"), "{}", e.error);
}

#[tokio::test]
async fn admin_endpoints_need_the_token_and_decide_holds() {
    let s = setup(Some(TOKEN), None).await;
    downgrade(&s.store).await;

    for auth in [None, Some("wrong"), Some("")] {
        let mut r = Request::get(paths::ADMIN_HOLDS);
        if let Some(t) = auth {
            r = r.header(paths::ADMIN_TOKEN_HEADER, t);
        }
        let (status, body) = call(&s.state, r.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        let e: ApiErrorBody = json(&body);
        let expected = match auth {
            None => "sign in first",
            Some(_) => "a valid admin token is required",
        };
        assert_eq!(e.error, expected);
    }
    // A signed-in user without the admin role gets 403, an admin the holds.
    let user = common::maxima(&s.state).await;
    let get = || {
        Request::get(paths::ADMIN_HOLDS)
            .body(Body::empty())
            .unwrap()
    };
    let (status, body) = call(&s.state, user.apply(get())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        json::<ApiErrorBody>(&body).error,
        "this needs the admin role"
    );
    let admin = common::signed_in(
        &s.state,
        "admin",
        "admin@sendguard.example",
        sendguard_common::Role::Admin,
    )
    .await;
    let (status, body) = call(&s.state, admin.apply(get())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json::<Vec<HoldView>>(&body).len(), 1);

    let (status, body) = call(
        &s.state,
        Request::get(paths::ADMIN_HOLDS)
            .header(paths::ADMIN_TOKEN_HEADER, TOKEN)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let holds: Vec<HoldView> = json(&body);
    assert_eq!(holds.len(), 1);
    assert_eq!(holds[0].host, "mx.example.test");
    assert_eq!(holds[0].status, HoldStatus::Held);
    assert!(holds[0].reason.contains("no longer offers STARTTLS"));

    let path = paths::with_host(paths::ADMIN_OBSERVATIONS, "mx.example.test");
    let (status, body) = call(
        &s.state,
        Request::get(format!("{path}?limit=1"))
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let obs: Vec<ObservationView> = json(&body);
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].at, 200, "newest first");
    assert_eq!(obs[0].starttls, Some(false));

    let post = |template: &str, host: &str| {
        Request::post(paths::with_host(template, host))
            .header(paths::ADMIN_TOKEN_HEADER, TOKEN)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap()
    };
    let (status, body) = call(&s.state, post(paths::ADMIN_KEEP, "mx.example.test")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json::<Vec<HoldView>>(&body)[0].status, HoldStatus::Kept);
    let v = s.store.verdict("example.test").await.unwrap().unwrap();
    assert!(v.blocked, "a kept hold still blocks");

    let (status, body) = call(&s.state, post(paths::ADMIN_RELEASE, "MX.example.test.")).await;
    assert_eq!(status, StatusCode::OK);
    let released: Vec<HoldView> = json(&body);
    assert_eq!(released[0].status, HoldStatus::Released);
    assert_eq!(released[0].decided_by.as_deref(), Some("admin (API token)"));
    let v = s.store.verdict("example.test").await.unwrap().unwrap();
    assert!(!v.blocked, "{v:#?}");

    let (status, body) = call(&s.state, post(paths::ADMIN_RELEASE, "mx.example.test")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(json::<ApiErrorBody>(&body).error.contains("no open hold"));
    let (status, _) = call(&s.state, post(paths::ADMIN_KEEP, "bad_host%21")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let audit = s.store.audit_log(10).await.unwrap();
    assert_eq!(
        audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
        ["release", "keep"]
    );
}

#[tokio::test]
async fn metrics_count_raised_holds() {
    let s = setup(Some(TOKEN), None).await;
    let metrics = || {
        Request::get("/metrics")
            .header(paths::ADMIN_TOKEN_HEADER, TOKEN)
            .body(Body::empty())
            .unwrap()
    };
    let (status, _) = call(
        &s.state,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "for admins only");
    let metric = |text: &str, name: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing in {text}"))
            .to_string()
    };
    let (status, body) = call(&s.state, metrics()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        metric(&text, "sendguard_holds_raised_total"),
        "sendguard_holds_raised_total 0"
    );
    assert!(text.contains("# TYPE sendguard_holds_raised_total counter"));

    let hold = downgrade(&s.store).await;
    s.alerts.raise(&hold);
    let (_, body) = call(&s.state, metrics()).await;
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        metric(&text, "sendguard_holds_raised_total"),
        "sendguard_holds_raised_total 1"
    );
    assert_eq!(
        metric(&text, "sendguard_holds_open"),
        "sendguard_holds_open 1"
    );
}

#[tokio::test]
async fn a_new_hold_is_posted_to_the_webhook() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = common::webhook_receiver(listener);
    let s = setup(Some(TOKEN), Some(&url)).await;
    let hold = downgrade(&s.store).await;
    s.alerts.raise(&hold);
    let (head, body) = tokio::time::timeout(Duration::from_secs(10), receiver)
        .await
        .expect("the webhook is called in time")
        .unwrap();
    assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["event"], "hold");
    assert_eq!(json["hold"]["host"], "mx.example.test");
    s.alerts.wait_idle().await;
    let (_, metrics) = call(
        &s.state,
        Request::get("/metrics")
            .header(paths::ADMIN_TOKEN_HEADER, TOKEN)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        String::from_utf8(metrics)
            .unwrap()
            .contains("sendguard_alert_webhook_sent_total 1")
    );
}

#[tokio::test]
async fn a_failing_webhook_is_counted_and_does_not_block() {
    // A port nobody listens on: the connection is refused at once.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = setup(None, Some(&format!("http://127.0.0.1:{port}/"))).await;
    let hold = downgrade(&s.store).await;
    s.alerts.raise(&hold);
    tokio::time::timeout(Duration::from_secs(10), s.alerts.wait_idle())
        .await
        .unwrap();
    let text = s.alerts.render_metrics(None);
    assert!(
        text.contains("sendguard_alert_webhook_failed_total 1"),
        "{text}"
    );
    assert!(Alerts::new(Some("https://example.test/")).is_err());
    assert!(Alerts::new(Some("not a url")).is_err());
}

#[tokio::test]
async fn settings_round_trip_and_the_account_shows_secure_aliases() {
    let s = setup(None, None).await;
    let me = common::maxima(&s.state).await;
    let (status, body) = call(
        &s.state,
        me.apply(Request::get(paths::SETTINGS).body(Body::empty()).unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json::<SecureSendingSettings>(&body),
        SecureSendingSettings::default()
    );
    let (_, body) = call(
        &s.state,
        me.apply(Request::get(paths::ACCOUNT).body(Body::empty()).unwrap()),
    )
    .await;
    let account: Account = json(&body);
    assert_eq!(account.name, "Maxima Mustermann");
    assert_eq!(account.addresses.len(), 1);

    let mut wanted = SecureSendingSettings {
        mode: SecureMode::Expert,
        ..Default::default()
    };
    wanted.sending.tls_version = sendguard_common::MinTlsVersion::Tls13;
    let (status, body) = call(
        &s.state,
        me.apply(
            Request::put(paths::SETTINGS)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&wanted).unwrap()))
                .unwrap(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json::<SecureSendingSettings>(&body), wanted);
    let (_, body) = call(
        &s.state,
        me.apply(Request::get(paths::SETTINGS).body(Body::empty()).unwrap()),
    )
    .await;
    assert_eq!(json::<SecureSendingSettings>(&body), wanted);
    let (_, body) = call(
        &s.state,
        me.apply(Request::get(paths::ACCOUNT).body(Body::empty()).unwrap()),
    )
    .await;
    let account: Account = json(&body);
    assert_eq!(
        account.addresses[1].address,
        "maxima.mustermann@secure.sendguard.example"
    );
    assert!(account.addresses[1].secure);

    let (status, body) = call(
        &s.state,
        me.apply(
            Request::put(paths::SETTINGS)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"mode":"sometimes"}"#))
                .unwrap(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!json::<ApiErrorBody>(&body).error.is_empty());
    // The stored settings are unchanged after a refused update.
    assert_eq!(s.store.settings("maxima").await.unwrap(), wanted);
}
