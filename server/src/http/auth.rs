//! Sign-in, sessions and CSRF protection. `POST /api/session` checks a login and password
//! (argon2id, [`crate::user::password`]) and sets the session cookie: a random 256-bit token,
//! `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` when served over TLS; only its SHA-256 is
//! stored. A session ends at sign-out (`DELETE /api/session`), when the password changes, after
//! [`AuthConfig::idle`] without use and after [`AuthConfig::lifetime`] in any case. Every
//! state-changing request of a session carries its CSRF token in `x-csrf-token` (a token the
//! page reads from `GET /api/session`, which a foreign site cannot read), checked by
//! [`SignedIn`] in constant time.
//!
//! Sessions are kept in memory ([`super::session_cache`]): a request of a known valid session
//! reads one shared counter instead of the session and user rows, and an ending of a session
//! anywhere (sign-out, expiry, password change, removed user, also by another process or
//! instance) holds for the next request all the same.
//!
//! Failed sign-ins are limited per account and per client address ([`SignInLimits`]); over the
//! limit the answer is 429 with `Retry-After` whatever the password. A wrong password and an
//! unknown login get the same answer after the same work, so it never tells whether an account
//! exists.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sendguard_common::{SessionView, SignIn, paths};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::limits::Client;
use super::session_cache::CachedSession;
use super::{ApiError, AppState};
use crate::probe::now_unix;
use crate::store::Store;
use crate::store::users::UserRecord;
use crate::user::password;

/// How long sessions last.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// A session unused this long is over.
    pub idle: Duration,
    /// A session this old is over, used or not.
    pub lifetime: Duration,
    /// Whether the cookie gets `Secure` (the server speaks TLS).
    pub secure_cookie: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            idle: Duration::from_secs(2 * 3600),
            lifetime: Duration::from_secs(12 * 3600),
            secure_cookie: false,
        }
    }
}

/// Failed sign-ins one account may have within [`FAILURE_WINDOW`].
pub const FAILURES_PER_ACCOUNT: u32 = 5;
/// Failed sign-ins one client address may have within [`FAILURE_WINDOW`].
pub const FAILURES_PER_CLIENT: u32 = 20;
/// The window failures are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// At most this many accounts and clients are tracked each.
const TRACKED: usize = 10_000;

/// Counts of failed sign-ins, per account and per client, bounded.
#[derive(Clone, Default)]
pub struct SignInLimits {
    inner: Arc<Mutex<Counts>>,
}

#[derive(Default)]
struct Counts {
    accounts: HashMap<String, (u32, Instant)>,
    clients: HashMap<Client, (u32, Instant)>,
}

fn over<K: Eq + std::hash::Hash>(
    map: &HashMap<K, (u32, Instant)>,
    key: &K,
    max: u32,
) -> Option<u64> {
    let (n, since) = map.get(key)?;
    let left = FAILURE_WINDOW.checked_sub(since.elapsed())?;
    (*n >= max).then(|| left.as_secs().max(1))
}

fn count<K: Eq + std::hash::Hash>(map: &mut HashMap<K, (u32, Instant)>, key: K) {
    if map.len() >= TRACKED && !map.contains_key(&key) {
        map.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        if map.len() >= TRACKED {
            map.clear();
        }
    }
    let entry = map.entry(key).or_insert((0, Instant::now()));
    if entry.1.elapsed() >= FAILURE_WINDOW {
        *entry = (0, Instant::now());
    }
    entry.0 += 1;
}

impl SignInLimits {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Seconds until `login` or `client` may try again, when either is over its limit.
    pub fn refused(&self, login: &str, client: Client) -> Option<u64> {
        let c = self.lock();
        over(&c.accounts, &login.to_string(), FAILURES_PER_ACCOUNT)
            .or_else(|| over(&c.clients, &client, FAILURES_PER_CLIENT))
    }

    fn failed(&self, login: &str, client: Client) {
        let mut c = self.lock();
        count(&mut c.accounts, login.to_string());
        count(&mut c.clients, client);
    }

    fn succeeded(&self, login: &str) {
        self.lock().accounts.remove(login);
    }
}

/// 32 random bytes, hex.
fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("getrandom: {e}")))?;
    Ok(hex::encode(bytes))
}

fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn cookie(token: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        paths::SESSION_COOKIE,
        max_age.as_secs()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session token in the request's cookies.
pub(super) fn token_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == paths::SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn view(user: &UserRecord, csrf: &str) -> SessionView {
    SessionView {
        login: user.id.clone(),
        name: user.display_name.clone(),
        role: user.role,
        csrf_token: csrf.to_string(),
    }
}

/// `POST /api/session`: signs in.
pub async fn sign_in(
    State(state): State<AppState>,
    State(store): State<Store>,
    client: Client,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(SignIn { login, password }) = body?;
    let login = login.trim().to_ascii_lowercase();
    let limits = state.sign_in_limits();
    if let Some(retry_after) = limits.refused(&login, client) {
        tracing::warn!(
            event = "sign_in_refused",
            user = %login,
            ?client,
            reason = "too_many_failures",
            "sign-in refused: too many failures"
        );
        return Err(ApiError::TooManyRequests {
            message: "too many failed sign-ins: try again later".into(),
            retry_after,
        });
    }
    let user = match store.user(&login).await? {
        Some(u) => u,
        None => {
            tokio::task::spawn_blocking(move || password::verify_nobody(&password))
                .await
                .map_err(|e| ApiError::Internal(e.into()))?;
            limits.failed(&login, client);
            tracing::info!(
                event = "sign_in_refused",
                user = %login,
                ?client,
                reason = "unknown_user",
                "sign-in failed"
            );
            return Err(ApiError::SignInFailed);
        }
    };
    let hash = store.password_hash(&user.id).await?.unwrap_or_default();
    let ok = tokio::task::spawn_blocking(move || password::verify(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if !ok {
        limits.failed(&login, client);
        tracing::info!(
            event = "sign_in_refused",
            user = %login,
            ?client,
            reason = "wrong_password",
            "sign-in failed"
        );
        return Err(ApiError::SignInFailed);
    }
    limits.succeeded(&login);
    let config = state.auth();
    let now = now_unix();
    // Sessions nobody ended are pruned as new ones begin.
    store
        .prune_sessions(
            now - config.idle.as_secs() as i64,
            now - config.lifetime.as_secs() as i64,
        )
        .await?;
    let (token, csrf) = (random_token()?, random_token()?);
    store
        .create_session(&sha256_hex(&token), &user.id, &csrf, now)
        .await?;
    tracing::info!(login = %user.id, "signed in");
    let mut response = Json(view(&user, &csrf)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&token, config.lifetime, config.secure_cookie),
    );
    Ok(response)
}

/// `GET /api/session`: the signed-in session.
pub async fn current(session: SignedIn) -> Json<SessionView> {
    Json(view(&session.user, &session.csrf_token))
}

/// `DELETE /api/session`: signs out.
pub async fn sign_out(
    State(state): State<AppState>,
    State(store): State<Store>,
    session: SignedIn,
) -> Result<Response, ApiError> {
    store.end_session(&session.token_sha256).await?;
    tracing::info!(login = %session.user.id, "signed out");
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie("", Duration::ZERO, state.auth().secure_cookie),
    );
    Ok(response)
}

/// A request of a signed-in user, its CSRF token checked when it changes something. Rejects
/// with 401 without a valid session and 403 without the right CSRF token.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// The user.
    pub user: UserRecord,
    /// The session's CSRF token.
    pub csrf_token: String,
    token_sha256: String,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = token_of(&parts.headers).ok_or(ApiError::NotSignedIn)?;
        let key = sha256_hex(&token);
        let cache = state.sessions();
        // Read before the rows, so that a kept copy is never newer than its counter.
        let generation = cache
            .generation()
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
        let now = now_unix();
        let config = state.auth();
        let session = match cache
            .get(&key, generation)
            .filter(|s| !expired(config, s.created_at, s.last_seen, now))
        {
            Some(kept) => kept,
            None => load(state, &key, generation, now).await?,
        };
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get(paths::CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if !bool::from(sent.ct_eq(session.csrf_token.as_bytes())) {
                return Err(ApiError::Forbidden(
                    "the request lacks this session's CSRF token",
                ));
            }
        }
        if cache.used(&key, now, session.last_seen) {
            state.verdicts().store().touch_session(&key, now).await?;
        }
        Ok(SignedIn {
            user: session.user,
            csrf_token: session.csrf_token,
            token_sha256: key,
        })
    }
}

/// Whether a session that began at `created_at` and was last used at `last_seen` is over.
fn expired(config: &AuthConfig, created_at: i64, last_seen: i64, now: i64) -> bool {
    now - last_seen >= config.idle.as_secs() as i64
        || now - created_at >= config.lifetime.as_secs() as i64
}

/// The session under `key` as the store has it (ended there when it is over), kept in memory
/// under `generation`, the counter read before the rows.
async fn load(
    state: &AppState,
    key: &str,
    generation: i64,
    now: i64,
) -> Result<CachedSession, ApiError> {
    let store = state.verdicts().store();
    let cache = state.sessions();
    let Some(row) = store.session(key).await? else {
        cache.remove(key);
        return Err(ApiError::NotSignedIn);
    };
    if expired(state.auth(), row.created_at, row.last_seen, now) {
        cache.remove(key);
        store.end_session(key).await?;
        return Err(ApiError::NotSignedIn);
    }
    let Some(user) = store.user(&row.user_id).await? else {
        cache.remove(key);
        return Err(ApiError::NotSignedIn);
    };
    let session = CachedSession {
        user,
        csrf_token: row.csrf_token,
        created_at: row.created_at,
        last_seen: row.last_seen,
    };
    cache.insert(key, generation, session.clone());
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_strictly() {
        let mut h = HeaderMap::new();
        let token = "ab".repeat(32);
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {}={token}", paths::SESSION_COOKIE)).unwrap(),
        );
        assert_eq!(token_of(&h), Some(token));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{}=short", paths::SESSION_COOKIE)).unwrap(),
        );
        assert_eq!(token_of(&h), None);
        let c = cookie("t", Duration::from_secs(60), true);
        let c = c.to_str().unwrap();
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=60",
            "Secure",
        ] {
            assert!(c.contains(part), "{c}");
        }
    }

    #[test]
    fn failures_are_limited_per_account_and_per_client() {
        let limits = SignInLimits::default();
        let a = Client::of("192.0.2.1".parse().unwrap());
        let b = Client::of("192.0.2.2".parse().unwrap());
        for _ in 0..FAILURES_PER_ACCOUNT {
            assert_eq!(limits.refused("maxima", a), None);
            limits.failed("maxima", a);
        }
        assert!(
            limits.refused("maxima", b).is_some(),
            "the account, from anywhere"
        );
        assert_eq!(limits.refused("erika", b), None);
        for i in 0..FAILURES_PER_CLIENT {
            limits.failed(&format!("guess{i}"), b);
        }
        assert!(
            limits.refused("erika", b).is_some(),
            "the client, for any account"
        );
        limits.succeeded("maxima");
        assert_eq!(limits.refused("maxima", Client::Local), None);
    }
}
