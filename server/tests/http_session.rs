//! Sign-in and sessions through the real router with a real store: the cookie and its flags,
//! the same answer for a wrong password and an unknown login, the CSRF token required for
//! changes, sign-out, revocation by a password change, idle and absolute expiry, and the limit
//! on failed sign-ins; and the host names and origins a loopback server answers (DNS rebinding).

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sendguard::http::auth::{AuthConfig, FAILURES_PER_ACCOUNT};
use sendguard::http::{AppState, app};
use sendguard::store::Store;
use sendguard::store::users::{NewUser, Role};
use sendguard::user::password;
use sendguard_common::{ApiErrorBody, SessionView, paths};
use tower::ServiceExt;

mod common;

const SECRET: &str = "correct horse battery staple";

async fn with_user(store: &Store, login: &str) {
    let hash = password::hash(SECRET).unwrap();
    store
        .add_user(&NewUser {
            id: login,
            display_name: "Maxima Mustermann",
            role: Role::User,
            addresses: &[format!("{login}@sendguard.example")],
            password_hash: &hash,
        })
        .await
        .unwrap();
}

struct Reply {
    status: StatusCode,
    cookie: Option<String>,
    body: Vec<u8>,
}

async fn call(state: &AppState, req: Request<Body>) -> Reply {
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_string());
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply {
        status,
        cookie,
        body,
    }
}

async fn sign_in(state: &AppState, login: &str, secret: &str) -> Reply {
    let body = serde_json::json!({ "login": login, "password": secret }).to_string();
    call(
        state,
        Request::post(paths::SESSION)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// The `name=value` part of a Set-Cookie header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

fn with_cookie(method: &str, path: &str, cookie: &str, csrf: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, cookie);
    if let Some(t) = csrf {
        b = b.header(paths::CSRF_HEADER, t);
    }
    b.body(Body::empty()).unwrap()
}

fn error_of(r: &Reply) -> String {
    serde_json::from_slice::<ApiErrorBody>(&r.body)
        .unwrap()
        .error
}

#[tokio::test]
async fn a_session_begins_with_the_right_password_and_ends_at_sign_out() {
    let (state, _dir) = common::offline_state().await;
    let store = state_verdicts(&state).store().clone();
    with_user(&store, "maxima").await;

    let ok = sign_in(&state, "Maxima", SECRET).await;
    assert_eq!(ok.status, StatusCode::OK);
    let set = ok.cookie.clone().expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(
        !set.contains("Secure"),
        "plain HTTP on loopback: not Secure"
    );
    let view: SessionView = serde_json::from_slice(&ok.body).unwrap();
    assert_eq!(view.login, "maxima");
    assert_eq!(view.csrf_token.len(), 64);
    let cookie = pair(&set);
    assert_eq!(cookie.len(), paths::SESSION_COOKIE.len() + 1 + 64);

    let me = call(&state, with_cookie("GET", paths::SESSION, &cookie, None)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<SessionView>(&me.body).unwrap(),
        view
    );
    // A change without the CSRF token, or with another, is refused; the session stays.
    for csrf in [None, Some("0".repeat(64))] {
        let r = call(
            &state,
            with_cookie("DELETE", paths::SESSION, &cookie, csrf.as_deref()),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(error_of(&r).contains("CSRF"));
    }
    let out = call(
        &state,
        with_cookie("DELETE", paths::SESSION, &cookie, Some(&view.csrf_token)),
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.cookie.unwrap().contains("Max-Age=0"));
    let gone = call(&state, with_cookie("GET", paths::SESSION, &cookie, None)).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&gone), "sign in first");
    let none = call(
        &state,
        Request::get(paths::SESSION).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}

fn state_verdicts(state: &AppState) -> sendguard::verdicts::Verdicts {
    use axum::extract::FromRef;
    sendguard::verdicts::Verdicts::from_ref(state)
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_login_get_the_same_answer_until_the_limit() {
    let (state, _dir) = common::offline_state().await;
    let store = state_verdicts(&state).store().clone();
    with_user(&store, "maxima").await;
    let wrong = sign_in(&state, "maxima", "not the password at all").await;
    let unknown = sign_in(&state, "nobody", "not the password at all").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (wrong.status, wrong.body.clone()),
        (unknown.status, unknown.body)
    );
    assert_eq!(error_of(&wrong), "wrong login or password");
    assert!(wrong.cookie.is_none());
    for _ in 1..FAILURES_PER_ACCOUNT {
        sign_in(&state, "maxima", "not the password at all").await;
    }
    // Over the limit: refused even with the right password, for a while.
    let refused = sign_in(&state, "maxima", SECRET).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.cookie.is_none());
}

#[tokio::test]
async fn a_password_change_idle_time_and_age_end_sessions() {
    let (state, _dir) = common::offline_state().await;
    let store = state_verdicts(&state).store().clone();
    with_user(&store, "maxima").await;
    let cookie = pair(&sign_in(&state, "maxima", SECRET).await.cookie.unwrap());
    store
        .set_password_hash("maxima", &password::hash("a brand new password").unwrap())
        .await
        .unwrap();
    let r = call(&state, with_cookie("GET", paths::SESSION, &cookie, None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "revoked by the change");

    let short = |idle, lifetime| {
        state.clone().with_auth(AuthConfig {
            idle: Duration::from_secs(idle),
            lifetime: Duration::from_secs(lifetime),
            secure_cookie: true,
        })
    };
    let idle = short(1, 3600);
    let r = sign_in(&idle, "maxima", "a brand new password").await;
    assert!(r.cookie.as_deref().unwrap().contains("Secure"));
    let cookie = pair(&r.cookie.unwrap());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = call(&idle, with_cookie("GET", paths::SESSION, &cookie, None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "idle too long");

    let old = short(3600, 1);
    let cookie = pair(
        &sign_in(&old, "maxima", "a brand new password")
            .await
            .cookie
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = call(&old, with_cookie("GET", paths::SESSION, &cookie, None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "too old");
}

#[tokio::test]
async fn foreign_host_names_and_origins_are_refused() {
    let (state, _dir) = common::offline_state().await;
    let state = state.with_host_policy(sendguard::http::origin::HostPolicy::for_listen(
        "127.0.0.1:8080".parse().unwrap(),
        &[],
    ));
    let get = |host: &str| {
        Request::get(paths::HEALTH)
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        call(&state, get("127.0.0.1:8080")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&state, get("localhost:8080")).await.status,
        StatusCode::OK
    );
    let rebound = call(&state, get("attacker.example:8080")).await;
    assert_eq!(
        rebound.status,
        StatusCode::FORBIDDEN,
        "DNS rebinding gets nothing"
    );
    assert!(error_of(&rebound).contains("host name"));
    // A change posted by another site's page.
    let post = |origin: &str| {
        Request::post(paths::SESSION)
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::ORIGIN, origin)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"login":"x","password":"y"}"#))
            .unwrap()
    };
    let foreign = call(&state, post("https://attacker.example")).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    assert!(error_of(&foreign).contains("own pages"));
    assert_eq!(
        call(&state, post("null")).await.status,
        StatusCode::FORBIDDEN
    );
    let own = call(&state, post("http://127.0.0.1:8080")).await;
    assert_eq!(
        own.status,
        StatusCode::UNAUTHORIZED,
        "reaches sign-in: no such user"
    );
}
