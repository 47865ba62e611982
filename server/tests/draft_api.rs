//! The draft endpoints (`GET`/`PUT`/`DELETE /api/draft`) on a real server listening on loopback,
//! with a real SQLite file: a draft comes back as saved, survives closing and reopening the
//! database, and a refused draft (too large, malformed, out of bounds) answers a JSON error and
//! leaves the stored draft as it was.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sendguard::dns::DnsConfig;
use sendguard::http::{AppState, MAX_BODY_BYTES, MAX_DRAFT_BYTES, app};
use sendguard::probe::{ProbeConfig, Prober};
use sendguard::store::Store;
use sendguard::verdicts::Verdicts;
use sendguard::verdicts::alerts::Alerts;
use sendguard_common::{ApiErrorBody, Draft, paths};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod common;

/// Bound on waiting for the server to stop (it has no open requests by then).
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// The real application on `127.0.0.1:0` over the database at a path.
struct Server {
    addr: SocketAddr,
    store: Store,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    client: Client<HttpConnector, Full<Bytes>>,
    session: common::TestSession,
}

impl Server {
    async fn start(db: &Path) -> Server {
        let store = Store::open(db).await.unwrap();
        // The draft endpoints never probe; the resolver is a closed loopback port all the same.
        let prober = Prober::new(ProbeConfig::new(DnsConfig {
            resolver: Some("127.0.0.1:9".parse().unwrap()),
            trust_anchor: None,
            timeout: Duration::from_secs(1),
        }))
        .unwrap();
        let verdicts = Verdicts::new(
            prober,
            store.clone(),
            Alerts::default(),
            Duration::from_secs(3600),
        );
        let state = AppState::new(verdicts);
        let session = common::maxima(&state).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app(state))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let client = Client::builder(TokioExecutor::new()).build_http();
        Server {
            addr,
            store,
            stop,
            task,
            client,
            session,
        }
    }

    /// Stops serving and closes the database, as `sendguard serve` does on SIGTERM.
    async fn stop(self) {
        drop(self.client);
        let _ = self.stop.send(());
        tokio::time::timeout(STOP_WITHIN, self.task)
            .await
            .expect("the server stops")
            .unwrap();
        self.store.close().await;
    }

    async fn call(&self, method: Method, body: Option<Vec<u8>>) -> (StatusCode, String, Vec<u8>) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{}", self.addr, paths::DRAFT))
            .header(header::COOKIE, &self.session.cookie)
            .header(paths::CSRF_HEADER, &self.session.csrf);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, bytes.to_vec())
    }

    async fn get(&self) -> Option<Draft> {
        let (status, _, body) = self.call(Method::GET, None).await;
        assert_eq!(status, StatusCode::OK);
        serde_json::from_slice(&body).unwrap()
    }

    async fn put(&self, draft: &Draft) -> (StatusCode, String, Vec<u8>) {
        self.call(Method::PUT, Some(serde_json::to_vec(draft).unwrap()))
            .await
    }

    /// PUT that must be refused with `status` and a JSON message; returns the message.
    async fn refused(&self, body: Vec<u8>, status: StatusCode) -> String {
        let (got, content_type, body) = self.call(Method::PUT, Some(body)).await;
        assert_eq!(got, status, "{}", String::from_utf8_lossy(&body));
        assert_eq!(content_type, "application/json");
        let message: ApiErrorBody = serde_json::from_slice(&body).unwrap();
        assert!(!message.error.is_empty());
        message.error
    }
}

/// A draft as the page sends it: a named, a plain and an invalid recipient, a long body.
fn sample() -> Draft {
    Draft {
        from: Some("maxima.mustermann@sendguard.example".into()),
        to: vec!["\"Doe, Jane\" <jane@tls.test>".into(), "kaputt".into()],
        cc: vec!["user@dane-ee.test".into()],
        bcc: vec![],
        subject: "Grüße aus Köln".into(),
        // Longer than any other request may be: the draft route has its own limit.
        body: "Zeile mit Umlauten: äöü\n".repeat(MAX_BODY_BYTES / 8),
        saved_at: 0,
    }
}

/// `saved` is `wanted` as stored: the same content, stamped with a time.
fn assert_stored(saved: &Draft, wanted: &Draft) {
    assert!(saved.saved_at > 0, "the server sets saved_at");
    assert_eq!(
        &Draft {
            saved_at: 0,
            ..saved.clone()
        },
        wanted
    );
}

#[tokio::test]
async fn a_draft_comes_back_as_saved_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sendguard.db");
    let server = Server::start(&db).await;
    assert_eq!(server.get().await, None, "no draft yet: null");

    let wanted = sample();
    assert!(serde_json::to_vec(&wanted).unwrap().len() > MAX_BODY_BYTES);
    let (status, _, body) = server.put(&wanted).await;
    assert_eq!(status, StatusCode::OK);
    let saved: Draft = serde_json::from_slice(&body).unwrap();
    assert_stored(&saved, &wanted);
    assert_eq!(server.get().await.as_ref(), Some(&saved));

    // A second save replaces the first.
    let shorter = Draft {
        to: vec!["kaputt".into()],
        cc: vec![],
        body: "kurz".into(),
        ..wanted
    };
    let (status, _, body) = server.put(&shorter).await;
    assert_eq!(status, StatusCode::OK);
    let saved: Draft = serde_json::from_slice(&body).unwrap();
    assert_stored(&saved, &shorter);
    server.stop().await;

    let server = Server::start(&db).await;
    assert_eq!(server.get().await, Some(saved));
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_draft_gets_413_and_the_stored_draft_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("sendguard.db")).await;
    let (status, _, _) = server.put(&sample()).await;
    assert_eq!(status, StatusCode::OK);
    let before = server.get().await;

    let huge = Draft {
        body: "x".repeat(MAX_DRAFT_BYTES),
        ..sample()
    };
    let message = server
        .refused(
            serde_json::to_vec(&huge).unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
    assert_eq!(message, "the draft is larger than 1024 KiB");
    assert_eq!(server.get().await, before);
    server.stop().await;
}

#[tokio::test]
async fn malformed_or_out_of_bounds_drafts_get_400_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("sendguard.db")).await;
    let (status, _, _) = server.put(&sample()).await;
    assert_eq!(status, StatusCode::OK);
    let before = server.get().await;

    server
        .refused(
            br#"{"to": ["a@b.example"], "subject": "#.to_vec(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    let message = server
        .refused(
            br#"{"to": "a@b.example"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(message.contains("to"), "{message}");
    let crowded = Draft {
        cc: vec!["a@b.example".into(); 501],
        ..Draft::default()
    };
    let message = server
        .refused(
            serde_json::to_vec(&crowded).unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert_eq!(
        message,
        "CC has 501 recipients; a draft may have at most 500"
    );
    let wordy = Draft {
        subject: "x".repeat(1001),
        ..Draft::default()
    };
    let message = server
        .refused(serde_json::to_vec(&wordy).unwrap(), StatusCode::BAD_REQUEST)
        .await;
    assert_eq!(message, "the subject is longer than 1000 characters");

    assert_eq!(server.get().await, before);
    server.stop().await;
}

#[tokio::test]
async fn a_deleted_draft_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sendguard.db");
    let server = Server::start(&db).await;
    let (status, _, _) = server.put(&sample()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = server.call(Method::DELETE, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(body.is_empty());
    assert_eq!(server.get().await, None);
    // Deleting again is no error: there is simply nothing to delete.
    let (status, _, _) = server.call(Method::DELETE, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.stop().await;

    let server = Server::start(&db).await;
    assert_eq!(server.get().await, None, "the deletion was durable");
    server.stop().await;
}
