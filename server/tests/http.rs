//! Drives the real router in-process (no socket) with `tower::ServiceExt::oneshot`.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sendguard::http::{MAX_BODY_BYTES, app};
use sendguard_common::{ApiErrorBody, DemoDomain, Health};
use tower::ServiceExt;

mod common;

async fn body_json<T: serde::de::DeserializeOwned>(response: axum::response::Response) -> T {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).expect("a JSON body")
}

#[tokio::test]
async fn health_reports_ok_and_the_version() {
    let response = app(common::offline_state().await.0)
        .oneshot(Request::get("/api/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let health: Health = body_json(response).await;
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    assert!(!health.demo);
}

#[tokio::test]
async fn health_lists_the_demo_domains_in_demo_mode() {
    let (state, _dir) = common::offline_state().await;
    let state = state.with_demo_domains(vec![DemoDomain {
        domain: "dane-ee.test".into(),
        description: "DANE-EE".into(),
    }]);
    let response = app(state)
        .oneshot(Request::get("/api/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let health: Health = body_json(response).await;
    assert!(health.demo);
    assert_eq!(health.demo_domains[0].domain, "dane-ee.test");
}

#[tokio::test]
async fn unknown_api_paths_get_a_json_404_not_the_page() {
    let response = app(common::offline_state().await.0)
        .oneshot(
            Request::get("/api/no-such-thing")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body: ApiErrorBody = body_json(response).await;
    assert_eq!(body.error, "no such API endpoint");
}

#[tokio::test]
async fn missing_assets_are_404_and_other_methods_are_refused() {
    let response = app(common::offline_state().await.0)
        .oneshot(
            Request::get("/missing-0123456789abcdef.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app(common::offline_state().await.0)
        .oneshot(Request::post("/settings").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let big = vec![b'x'; MAX_BODY_BYTES + 1];
    let response = app(common::offline_state().await.0)
        .oneshot(
            Request::post("/api/health")
                .header(header::CONTENT_LENGTH, big.len())
                .body(Body::from(big))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "errors are JSON, this one too"
    );
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"], "the request body is larger than 64 KiB");
}

#[tokio::test]
async fn settings_account_and_draft_answer_without_any_probe_having_run() {
    // The state is whole: routes that only need the store never answer "not configured".
    let (state, _dir) = common::offline_state().await;
    let router = common::signed_in_app(state.clone()).await;
    for path in ["/api/settings", "/api/account", "/api/draft"] {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

/// Every route of a user's data and of the admin view is closed without a session: 401 and a
/// JSON message, nothing read or changed; only health, sign-in and the page are open.
#[tokio::test]
async fn without_a_session_every_user_and_admin_route_is_closed() {
    let (state, _dir) = common::offline_state().await;
    let closed = [
        ("GET", "/api/account"),
        ("GET", "/api/settings"),
        ("PUT", "/api/settings"),
        ("GET", "/api/draft"),
        ("PUT", "/api/draft"),
        ("DELETE", "/api/draft"),
        ("GET", "/api/messages"),
        ("POST", "/api/messages"),
        ("GET", "/api/messages/1"),
        ("POST", "/api/recipients/security"),
        ("GET", "/api/recipients/events?domains=a.example"),
        ("GET", "/api/session"),
        ("DELETE", "/api/session"),
        ("GET", "/api/admin/holds"),
        ("POST", "/api/admin/holds/mx.example/release"),
        ("POST", "/api/admin/holds/mx.example/keep"),
        ("GET", "/api/admin/servers/mx.example/observations"),
        ("GET", "/metrics"),
    ];
    for (method, path) in closed {
        let response = app(state.clone())
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from("{}"))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        let body: serde_json::Value = body_json(response).await;
        assert_eq!(body["error"], "sign in first", "{method} {path}");
    }
    for path in ["/api/health", "/"] {
        let response = app(state.clone())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_ne!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}

/// One user cannot read or change another's settings, draft or messages: each route answers
/// the signed-in user's own.
#[tokio::test]
async fn each_user_sees_only_their_own_settings_draft_and_messages() {
    let (state, _dir) = common::offline_state().await;
    let maxima = common::maxima(&state).await;
    let erika = common::signed_in(
        &state,
        "erika",
        "erika@sendguard.example",
        sendguard_common::Role::User,
    )
    .await;
    let send = |s: &common::TestSession, method: &str, path: &str, body: serde_json::Value| {
        s.apply(
            Request::builder()
                .method(method)
                .uri(path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
    };
    let ask = |r| async { app(state.clone()).oneshot(r).await.unwrap() };
    let draft = serde_json::json!({"to": ["x@example.org"], "cc": [], "bcc": [], "subject": "Geheim",
        "body": "nur für Maxima", "from": "maxima.mustermann@sendguard.example", "saved_at": 0});
    assert_eq!(
        ask(send(&maxima, "PUT", "/api/draft", draft))
            .await
            .status(),
        StatusCode::OK
    );
    let on = serde_json::to_value(sendguard_common::SecureSendingSettings {
        mode: sendguard_common::SecureMode::On,
        ..Default::default()
    })
    .unwrap();
    let r = ask(send(&maxima, "PUT", "/api/settings", on)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let message = serde_json::json!({"from": "maxima.mustermann@sendguard.example",
        "to": ["x@example.org"], "cc": [], "bcc": [], "subject": "s", "body": "b"});
    let r = ask(send(&maxima, "POST", "/api/messages", message)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id: serde_json::Value = body_json(r).await;
    let id = id["id"].as_i64().unwrap();

    let get = |s: &common::TestSession, path: &str| {
        s.apply(Request::get(path).body(Body::empty()).unwrap())
    };
    let d: serde_json::Value = body_json(ask(get(&erika, "/api/draft")).await).await;
    assert!(d.is_null(), "erika has no draft: {d}");
    let settings: serde_json::Value = body_json(ask(get(&erika, "/api/settings")).await).await;
    assert_eq!(settings["mode"], "off");
    let account: serde_json::Value = body_json(ask(get(&erika, "/api/account")).await).await;
    assert_eq!(
        account["addresses"][0]["address"],
        "erika@sendguard.example"
    );
    assert_eq!(account["addresses"].as_array().unwrap().len(), 1);
    let list: serde_json::Value = body_json(ask(get(&erika, "/api/messages")).await).await;
    assert!(list["messages"].as_array().unwrap().is_empty());
    let one = ask(get(&erika, &format!("/api/messages/{id}"))).await;
    assert_eq!(
        one.status(),
        StatusCode::NOT_FOUND,
        "maxima's message is not erika's"
    );
    // Erika cannot send as maxima, nor change her draft.
    let as_maxima = serde_json::json!({"from": "maxima.mustermann@sendguard.example",
        "to": ["x@example.org"], "cc": [], "bcc": [], "subject": "s", "body": "b"});
    let r = ask(send(&erika, "POST", "/api/messages", as_maxima)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = ask(send(
        &erika,
        "DELETE",
        "/api/draft",
        serde_json::json!(null),
    ))
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let d: serde_json::Value = body_json(ask(get(&maxima, "/api/draft")).await).await;
    assert_eq!(d["subject"], "Geheim", "maxima's draft is untouched");
    let mine: serde_json::Value = body_json(ask(get(&maxima, "/api/messages")).await).await;
    assert_eq!(mine["messages"].as_array().unwrap().len(), 1);
    // Without the CSRF token a change is refused.
    let mut no_csrf = send(&maxima, "DELETE", "/api/draft", serde_json::json!(null));
    no_csrf
        .headers_mut()
        .remove(sendguard_common::paths::CSRF_HEADER);
    assert_eq!(ask(no_csrf).await.status(), StatusCode::FORBIDDEN);
}

/// Every answer, the page's and the API's, carries the Content-Security-Policy and the other
/// headers that keep the page to itself.
#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let (state, _dir) = common::offline_state().await;
    for path in ["/api/health", "/", "/api/nothing-here", "/api/account"] {
        let response = app(state.clone())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let h = response.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for part in [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{path}");
    }
}
