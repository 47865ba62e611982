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
    for path in ["/api/settings", "/api/account", "/api/draft"] {
        let response = app(state.clone())
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}
