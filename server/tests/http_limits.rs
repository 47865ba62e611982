//! What one client may cost, through the router in-process: new probes per minute per client
//! (a 429 with a JSON message and `Retry-After`), requests per minute per client and per session
//! on every route but the health check, event streams per client and in total (429 and 503,
//! freed when a stream goes away) with a heartbeat while idle, and one stream carrying every
//! known verdict it names.
//! Clients are told apart by the peer address axum records (`ConnectInfo`).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRef};
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use sendguard::http::Limits;
use sendguard::http::rate::RequestRates;
use sendguard::store::Store;
use sendguard_common::{ApiErrorBody, ObservationSource};
use tower::ServiceExt;

mod common;

fn from(peer: &str, mut request: Request<Body>) -> Request<Body> {
    let ip: std::net::IpAddr = peer.parse().unwrap();
    let addr = SocketAddr::new(ip, 40000);
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

fn ask(peer: &str, addresses: &[&str]) -> Request<Body> {
    let body = serde_json::json!({ "addresses": addresses }).to_string();
    from(
        peer,
        Request::post("/api/recipients/security")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap(),
    )
}

fn stream(peer: &str, domains: &str) -> Request<Body> {
    from(
        peer,
        Request::get(format!("/api/recipients/events?domains={domains}"))
            .body(Body::empty())
            .unwrap(),
    )
}

async fn error_of(response: Response<Body>) -> String {
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice::<ApiErrorBody>(&body).unwrap().error
}

#[tokio::test]
async fn new_probes_per_client_are_limited_with_a_429() {
    let (state, _dir) = common::offline_state().await;
    let router = common::signed_in_app(state.with_limits(Limits::new(3, 6, 100))).await;
    let addresses = ["a@one.test", "b@one.test", "c@two.test", "d@three.test"];
    let ok = router
        .clone()
        .oneshot(ask("192.0.2.1", &addresses))
        .await
        .unwrap();
    assert_eq!(
        ok.status(),
        StatusCode::OK,
        "three domains, three new probes"
    );

    let refused = router
        .clone()
        .oneshot(ask("192.0.2.1", &["e@four.test"]))
        .await
        .unwrap();
    retry_after(&refused);
    let message = error_of(refused).await;
    assert!(
        message.contains("at most 3 new probes per minute"),
        "{message}"
    );

    let other = router
        .clone()
        .oneshot(ask("192.0.2.2", &["f@five.test"]))
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "another client has its own budget"
    );
}

#[tokio::test]
async fn event_streams_are_capped_per_client_and_in_total() {
    let (state, _dir) = common::offline_state().await;
    let router = common::signed_in_app(state.with_limits(Limits::new(100, 2, 3))).await;
    let open = |peer: &'static str| {
        let router = router.clone();
        async move { router.oneshot(stream(peer, "wait.test")).await.unwrap() }
    };
    let a1 = open("192.0.2.1").await;
    let a2 = open("192.0.2.1").await;
    assert_eq!((a1.status(), a2.status()), (StatusCode::OK, StatusCode::OK));
    let a3 = open("192.0.2.1").await;
    assert_eq!(a3.status(), StatusCode::TOO_MANY_REQUESTS);
    let message = error_of(a3).await;
    assert!(
        message.contains("at most 2 open at once per client"),
        "{message}"
    );

    let b1 = open("2001:db8::1").await;
    assert_eq!(b1.status(), StatusCode::OK);
    let c1 = open("198.51.100.7").await;
    assert_eq!(c1.status(), StatusCode::SERVICE_UNAVAILABLE, "three in all");
    let message = error_of(c1).await;
    assert!(message.contains("event streams open"), "{message}");

    drop(a1);
    let a4 = open("192.0.2.1").await;
    assert_eq!(
        a4.status(),
        StatusCode::OK,
        "a closed stream frees its place"
    );
    drop((a2, a4, b1));
}

#[tokio::test]
async fn one_stream_carries_every_known_verdict_it_names() {
    let (state, _dir) = common::offline_state().await;
    let store = Store::from_ref(&state);
    let domains = ["k1.test", "k2.test", "k3.test"];
    for (i, d) in domains.iter().enumerate() {
        let ip = format!("192.0.2.{}", i + 1);
        let facts = common::insecure_domain(
            d,
            sendguard::probe::now_unix(),
            vec![common::insecure_host(
                &format!("mx.{d}"),
                vec![common::tls_or_plain(&ip, true)],
            )],
        );
        sendguard::verdicts::record(&store, &facts, ObservationSource::Probe)
            .await
            .unwrap();
    }
    let router = common::signed_in_app(state).await;
    let response = router
        .oneshot(stream("192.0.2.1", "k1.test,k2.test,k3.test,unknown.test"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen: HashSet<String> =
        common::read_verdicts(response.into_body(), 3, Duration::from_secs(10))
            .await
            .into_keys()
            .collect();
    assert_eq!(seen, domains.iter().map(|d| d.to_string()).collect());
}

/// `GET path` from `peer` through `router`.
async fn get(router: &axum::Router, peer: &str, path: &str) -> Response<Body> {
    let request = from(peer, Request::get(path).body(Body::empty()).unwrap());
    router.clone().oneshot(request).await.unwrap()
}

/// The `Retry-After` of a 429, checked to be within the one-minute window.
fn retry_after(refused: &Response<Body>) -> u64 {
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    wait
}

#[tokio::test]
async fn requests_per_session_are_limited_with_a_429() {
    let (state, _dir) = common::offline_state().await;
    let router = common::signed_in_app(state.with_rates(RequestRates::new(100, 3))).await;
    for _ in 0..3 {
        let ok = get(&router, "192.0.2.1", "/api/settings").await;
        assert_eq!(ok.status(), StatusCode::OK);
    }
    // The session's budget is spent, from whichever address.
    let refused = get(&router, "192.0.2.2", "/api/draft").await;
    retry_after(&refused);
    let message = error_of(refused).await;
    assert!(
        message.contains("at most 3 per minute") && message.contains("session"),
        "{message}"
    );
    let health = get(&router, "192.0.2.1", "/api/health").await;
    assert_eq!(health.status(), StatusCode::OK, "the health check is free");
}

#[tokio::test]
async fn requests_per_client_are_limited_before_any_handler() {
    let (state, _dir) = common::offline_state().await;
    let router = sendguard::http::app(state.with_rates(RequestRates::new(4, 100)));
    for _ in 0..4 {
        let answer = get(&router, "192.0.2.1", "/api/session").await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    }
    let refused = get(&router, "192.0.2.1", "/api/session").await;
    retry_after(&refused);
    let message = error_of(refused).await;
    assert!(message.contains("from this address"), "{message}");
    let page = get(&router, "192.0.2.1", "/").await;
    assert_ne!(
        page.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the page's own files are not counted"
    );
    let other = get(&router, "198.51.100.7", "/api/session").await;
    assert_eq!(
        other.status(),
        StatusCode::UNAUTHORIZED,
        "another client has its own budget"
    );
}

#[tokio::test]
async fn an_idle_event_stream_sends_heartbeats() {
    let (state, _dir) = common::offline_state().await;
    let limits = Limits::default().with_heartbeat(Duration::from_millis(50));
    let router = common::signed_in_app(state.with_limits(limits)).await;
    // The router (and with it the verdict service the stream listens to) stays alive.
    let response = router
        .clone()
        .oneshot(stream("192.0.2.1", "wait.test"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
            }
            if seen.matches(": heartbeat\n").count() >= 2 {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "two heartbeats on an idle stream: {seen:?}"
    );
}
