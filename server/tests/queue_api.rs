//! The outgoing queue through the real router (in-process, `oneshot`) and a real SQLite file:
//! `POST /api/messages` answers only once the message is on disk (a second connection finds
//! it), `GET` shows it back, refused messages answer a short JSON error and queue nothing; and
//! the queue functions a delivery worker uses (claim by domain, record an attempt, requeue what
//! a killed process left `sending`).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sendguard::http::MAX_SUBMIT_BYTES;
use sendguard::store::Store;
use sendguard::store::queue::{Attempt, SentVia};
use sendguard::tls::TlsVersion;
use sendguard_common::{
    ApiErrorBody, DaneStatus, MessageList, MessageView, RecipientKind, RecipientState, SendRequest,
    paths,
};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tower::ServiceExt;

mod common;

const ME: &str = "maxima.mustermann@sendguard.example";

fn request() -> SendRequest {
    SendRequest {
        from: ME.into(),
        to: vec!["erika@example.org".into(), "max@example.org".into()],
        cc: vec!["jörg@bücher.example".into()],
        bcc: vec!["hidden@blind.example".into()],
        subject: "Grüße".into(),
        body: "Hallo!\n".into(),
    }
}

/// Through the router of `common::signed_in_app`: every request goes with maxima's session.
async fn call(router: &axum::Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(is_json, "{status}: {}", String::from_utf8_lossy(&body));
    (status, body.to_vec())
}

fn post(body: Vec<u8>) -> Request<Body> {
    Request::post(paths::MESSAGES)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_posted_message_is_on_disk_when_answered_and_comes_back() {
    let (state, dir) = common::offline_state().await;
    let router = common::signed_in_app(state).await;
    let (status, body) = call(&router, post(serde_json::to_vec(&request()).unwrap())).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let queued: MessageView = serde_json::from_slice(&body).unwrap();
    let states: Vec<_> = queued
        .recipients
        .iter()
        .map(|r| (r.address.as_str(), r.kind, r.state))
        .collect();
    assert_eq!(
        states,
        [
            (
                "erika@example.org",
                RecipientKind::To,
                RecipientState::Queued
            ),
            ("max@example.org", RecipientKind::To, RecipientState::Queued),
            (
                "jörg@bücher.example",
                RecipientKind::Cc,
                RecipientState::Queued
            ),
            (
                "hidden@blind.example",
                RecipientKind::Bcc,
                RecipientState::Queued
            ),
        ]
    );
    assert_eq!(queued.from, ME);

    // Durable: another connection to the file, opened after the answer, finds the message
    // with its text and recipients (on SQLite; PostgreSQL's durability is its own).
    if !dir.path().join("sendguard.db").exists() {
        return;
    }
    let other = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(dir.path().join("sendguard.db"))
                .read_only(true),
        )
        .await
        .unwrap();
    let row = sqlx::query("SELECT raw, message_id FROM messages WHERE id = ?")
        .bind(queued.id)
        .fetch_one(&other)
        .await
        .unwrap();
    let raw: Vec<u8> = row.get("raw");
    assert_eq!(row.get::<String, _>("message_id"), queued.message_id);
    assert_eq!(raw.len() as u64, queued.size);
    assert!(String::from_utf8_lossy(&raw).contains(&format!("<{}>", queued.message_id)));
    let n: i64 = sqlx::query("SELECT count(*) FROM message_recipients WHERE message = ?")
        .bind(queued.id)
        .fetch_one(&other)
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
    other.close().await;

    let (status, body) = call(&router, get(&paths::message(queued.id))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<MessageView>(&body).unwrap(),
        queued
    );
    let (status, body) = call(&router, get(paths::MESSAGES)).await;
    assert_eq!(status, StatusCode::OK);
    let list: MessageList = serde_json::from_slice(&body).unwrap();
    assert_eq!(list.messages, [queued]);
    for missing in [paths::message(999), "/api/messages/abc".to_string()] {
        let (status, _) = call(&router, get(&missing)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn refused_messages_get_a_short_json_error_and_queue_nothing() {
    let (state, _dir) = common::offline_state().await;
    let store = <Store as axum::extract::FromRef<_>>::from_ref(&state);
    let router = common::signed_in_app(state).await;
    let mut not_mine = request();
    not_mine.from = "someone@else.example".into();
    let mut malformed = request();
    malformed.to.push("kaputt".into());
    let mut too_many = request();
    too_many.bcc = (0..100).map(|i| format!("r{i}@example.org")).collect();
    let mut long_text = request();
    long_text.body = "x".repeat(600 * 1024);
    let cases = [
        (
            not_mine,
            StatusCode::BAD_REQUEST,
            "someone@else.example is not one of your sender addresses",
        ),
        (
            malformed,
            StatusCode::BAD_REQUEST,
            "\"kaputt\": the address has no @",
        ),
        (
            too_many,
            StatusCode::BAD_REQUEST,
            "the message has 103 recipients; at most 100 are allowed",
        ),
        (
            long_text,
            StatusCode::PAYLOAD_TOO_LARGE,
            "the text is larger than 512 KiB",
        ),
    ];
    for (request, want_status, want_error) in cases {
        let (status, body) = call(&router, post(serde_json::to_vec(&request).unwrap())).await;
        let error: ApiErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, error.error.as_str()), (want_status, want_error));
    }
    // Beyond the route's body limit: refused before it is parsed.
    let huge = vec![b' '; MAX_SUBMIT_BYTES + 1];
    let (status, body) = call(&router, post(huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let error: ApiErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!(error.error, "the message is larger than 1024 KiB");
    assert!(store.messages("maxima").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_worker_claims_by_domain_and_records_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::test_store(dir.path()).await;
    let account = sendguard::user::account::AccountConfig::default();
    let submit = sendguard::delivery::submit::submit;
    let first = submit(&store, &account, "default", &request())
        .await
        .unwrap();
    let second = submit(&store, &account, "default", &request())
        .await
        .unwrap();
    let now = first.created_at.max(second.created_at);

    let batches = store.claim_due(now, 100).await.unwrap();
    let domains: Vec<_> = batches
        .iter()
        .map(|b| (b.domain.as_str(), b.recipients.len()))
        .collect();
    assert_eq!(
        domains,
        [
            ("blind.example", 2),
            ("example.org", 4),
            ("xn--bcher-kva.example", 2)
        ]
    );
    assert!(
        batches
            .iter()
            .flat_map(|b| &b.recipients)
            .all(|r| r.state == RecipientState::Sending)
    );
    // Claimed recipients are not claimed again.
    assert!(store.claim_due(now, 100).await.unwrap().is_empty());

    let org = &batches[1].recipients;
    let via = SentVia {
        mx_host: "mx.example.org".into(),
        ip: "192.0.2.25".parse().unwrap(),
        tls_version: Some(TlsVersion::Tls13),
        cipher: Some("TLS13_AES_256_GCM_SHA384".into()),
        dane: Some(DaneStatus::Verified),
        verified: true,
        relayed: false,
    };
    let sent = Attempt::Sent {
        via: via.clone(),
        reply: "250 2.0.0 Ok: queued".into(),
    };
    store.record_attempt(org[0].id, now, &sent).await.unwrap();
    let deferred = Attempt::Deferred {
        reason: "451 try later".into(),
        next_attempt_at: now + 300,
    };
    store
        .record_attempt(org[1].id, now, &deferred)
        .await
        .unwrap();

    let shown = store.message("default", first.id).await.unwrap().unwrap();
    let erika = &shown.recipients[0];
    assert_eq!(
        (erika.state, erika.attempts, erika.sent.as_ref()),
        (RecipientState::Sent, 1, Some(&via))
    );
    assert_eq!(erika.reason.as_deref(), Some("250 2.0.0 Ok: queued"));
    let max = &shown.recipients[1];
    assert_eq!(
        (max.state, max.next_attempt_at, max.sent.as_ref()),
        (RecipientState::Deferred, Some(now + 300), None)
    );
    // Due again only when its time has come.
    assert!(store.claim_due(now + 299, 100).await.unwrap().is_empty());
    assert_eq!(store.claim_due(now + 300, 100).await.unwrap().len(), 1);

    // A restart puts back what a killed process left `sending`: 8 recipients less the sent one.
    // On PostgreSQL other instances may be sending: those recipients are claimed again once
    // their lease has run out instead.
    let again = match store.backend() {
        sendguard::store::Backend::Sqlite => {
            assert_eq!(store.requeue_interrupted(now).await.unwrap(), 7);
            now
        }
        sendguard::store::Backend::Postgres => {
            assert_eq!(store.requeue_interrupted(now).await.unwrap(), 0);
            // The last claim was at now + 300.
            now + 300 + store.delivery_lease().as_secs() as i64 + 1
        }
    };
    let due: usize = store
        .claim_due(again, 100)
        .await
        .unwrap()
        .iter()
        .map(|b| b.recipients.len())
        .sum();
    assert_eq!(due, 7);
    store.close().await;
}

#[tokio::test]
async fn the_secure_alias_is_a_sender_only_while_secure_sending_is_on() {
    let (state, _dir) = common::offline_state().await;
    let store = <Store as axum::extract::FromRef<_>>::from_ref(&state);
    let router = common::signed_in_app(state).await;
    let mut alias = request();
    alias.from = "maxima.mustermann@secure.sendguard.example".into();
    let body = serde_json::to_vec(&alias).unwrap();
    let (status, answer) = call(&router, post(body.clone())).await;
    let error: ApiErrorBody = serde_json::from_slice(&answer).unwrap();
    assert_eq!(
        (status, error.error.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "maxima.mustermann@secure.sendguard.example is not one of your sender addresses"
        )
    );
    let on = sendguard_common::SecureSendingSettings {
        mode: sendguard_common::SecureMode::On,
        ..Default::default()
    };
    store.set_settings("maxima", &on).await.unwrap();
    let (status, answer) = call(&router, post(body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let queued: MessageView = serde_json::from_slice(&answer).unwrap();
    assert_eq!(queued.from, "maxima.mustermann@secure.sendguard.example");
}

#[tokio::test]
async fn the_queue_of_one_user_is_bounded() {
    // 200 messages of 100 recipients fill a user's share of the queue; the next message is
    // refused for now (503, nothing queued) and the user's earlier messages are all kept.
    let (state, _dir) = common::offline_state().await;
    let store = <Store as axum::extract::FromRef<_>>::from_ref(&state);
    let router = common::signed_in_app(state).await;
    let full = SendRequest {
        to: (0..100).map(|i| format!("r{i}@example.org")).collect(),
        cc: vec![],
        bcc: vec![],
        ..request()
    };
    let per_message = full.to.len() as i64;
    let messages = sendguard::delivery::submit::MAX_PENDING_PER_USER / per_message;
    let body = serde_json::to_vec(&full).unwrap();
    for _ in 0..messages {
        let (status, answer) = call(&router, post(body.clone())).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    let (status, answer) = call(&router, post(serde_json::to_vec(&request()).unwrap())).await;
    let error: ApiErrorBody = serde_json::from_slice(&answer).unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{}", error.error);
    assert!(
        error.error.contains("at most 20000 may wait at once"),
        "{}",
        error.error
    );
    assert_eq!(
        store.pending_recipients("maxima").await.unwrap(),
        messages * per_message
    );
}
