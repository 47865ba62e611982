//! The recipient API in-process against the simulated internet: unknown domains answer
//! `pending` at once, their verdicts arrive on the event stream, and a second request answers
//! them as final. Malformed addresses get a per-address error; malformed requests a JSON 400.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sendguard::http::{AppState, app};
use sendguard::probe::Prober;
use sendguard::verdicts::Verdicts;
use sendguard::verdicts::alerts::Alerts;
use sendguard_common::{ApiErrorBody, RecipientSecurity, RecipientSecurityResponse, SecurityClass};
use sendguard_sim::world::SimWorld;
use tower::ServiceExt;

mod common;

async fn post(router: axum::Router, body: String) -> (StatusCode, Vec<u8>) {
    let response = router
        .oneshot(
            Request::post("/api/recipients/security")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_verdicts_arrive_on_the_event_stream() {
    let dir = tempfile::tempdir().unwrap();
    let world = SimWorld::start(dir.path()).await.unwrap();
    let prober = Prober::new(common::sim_probe_config(&world)).unwrap();
    let store = common::test_store(dir.path()).await;
    let verdicts = Verdicts::new(prober, store, Alerts::default(), Duration::from_secs(3600));
    let router = common::signed_in_app(AppState::new(verdicts)).await;

    let request = r#"{"addresses":["user@tls.test","not-an-address","Someone@PLAIN.test"]}"#;
    let (status, body) = post(router.clone(), request.into()).await;
    assert_eq!(status, StatusCode::OK);
    let answer: RecipientSecurityResponse = serde_json::from_slice(&body).unwrap();
    assert!(
        matches!(&answer.results[0], RecipientSecurity::Pending { domain, .. } if domain == "tls.test")
    );
    assert!(
        matches!(&answer.results[1], RecipientSecurity::Invalid { error, .. } if error.contains('@'))
    );
    assert!(
        matches!(&answer.results[2], RecipientSecurity::Pending { domain, .. } if domain == "plain.test")
    );

    let response = router
        .clone()
        .oneshot(
            Request::get("/api/recipients/events?domains=tls.test,plain.test")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let seen = common::read_verdicts(response.into_body(), 2, Duration::from_secs(30)).await;
    assert_eq!(seen["tls.test"].class, SecurityClass::SslOk);
    assert_eq!(seen["plain.test"].class, SecurityClass::NoSsl);

    // Now known and fresh: answered as final at once, not checked again.
    let (_, body) = post(router.clone(), r#"{"addresses":["other@tls.test"]}"#.into()).await;
    let answer: RecipientSecurityResponse = serde_json::from_slice(&body).unwrap();
    match &answer.results[0] {
        RecipientSecurity::Final {
            verdict,
            rechecking,
            ..
        } => {
            assert_eq!(verdict.class, SecurityClass::SslOk);
            assert!(!rechecking);
        }
        other => panic!("expected a final verdict, got {other:?}"),
    }
    world.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_a_json_error() {
    let (state, _dir) = common::offline_state().await;
    // Signed out: nothing is read.
    let (status, body) = post(app(state.clone()), "{not json".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_slice::<ApiErrorBody>(&body).unwrap().error,
        "sign in first"
    );
    let router = common::signed_in_app(state).await;
    let (status, body) = post(router.clone(), "{not json".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error: ApiErrorBody = serde_json::from_slice(&body).unwrap();
    assert!(!error.error.is_empty());
    let many = serde_json::json!({ "addresses": vec!["a@b.example"; 201] }).to_string();
    let (status, body) = post(router, many).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error: ApiErrorBody = serde_json::from_slice(&body).unwrap();
    assert!(error.error.contains("200"), "{}", error.error);
}
