//! The HTTP layer (axum): the JSON API under `/api/` and the embedded compose page.
//!
//! Handlers stay thin: they parse, call into the server's modules and turn errors into a short
//! JSON message ([`ApiError`]) while logging the detail. Every request is bounded in time and
//! body size (drafts and messages have a larger limit of their own); responses are compressed (RFC 9110
//! content coding) when the client accepts it.

pub mod account;
pub mod admin;
mod assets;
pub mod auth;
pub mod changes;
pub mod draft;
mod error;
pub mod headers;
pub mod https;
pub mod limits;
pub mod messages;
pub mod origin;
pub mod rate;
pub mod ready;
pub mod recipients;
pub mod session_cache;
pub mod shutdown;

use crate::delivery::worker::Wake;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router, middleware};
use sendguard_common::{DemoDomain, Health, paths};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use limits::Limits;

use crate::store::Store;
use crate::verdicts::Verdicts;

/// Largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest draft (`PUT /api/draft`) the API accepts: a long message, far beyond any other request.
pub const MAX_DRAFT_BYTES: usize = 1024 * 1024;
/// Largest message (`POST /api/messages`) the API accepts: the text's limit
/// ([`crate::delivery::submit::MAX_BODY_BYTES`]) with room for JSON escapes and the headers.
pub const MAX_SUBMIT_BYTES: usize = 1024 * 1024;
/// Longest time an ordinary request may take before it is answered with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the handlers share: always whole (the verdict service with its store, the admin
/// token, the session settings), so that no route fails because another part is missing. Handlers take
/// the part they need as a sub-state (`State<Store>`, `State<Verdicts>`) where they can.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    demo_domains: Option<Vec<DemoDomain>>,
    verdicts: Verdicts,
    /// Replaced in place when the configuration is re-read (SIGHUP): shared by every clone.
    admin_token: Arc<std::sync::RwLock<Option<Arc<str>>>>,
    limits: Limits,
    rates: rate::RequestRates,
    wake: Wake,
    auth: auth::AuthConfig,
    sign_in_limits: auth::SignInLimits,
    sessions: session_cache::SessionCache,
    public_hosts: Vec<String>,
    host_policy: origin::HostPolicy,
    ready: ready::ReadyParts,
    stopping: shutdown::Stopping,
}

impl FromRef<AppState> for shutdown::Stopping {
    fn from_ref(state: &AppState) -> shutdown::Stopping {
        state.inner.stopping.clone()
    }
}

impl FromRef<AppState> for Limits {
    fn from_ref(state: &AppState) -> Limits {
        state.inner.limits.clone()
    }
}

impl FromRef<AppState> for rate::RequestRates {
    fn from_ref(state: &AppState) -> rate::RequestRates {
        state.inner.rates.clone()
    }
}

impl FromRef<AppState> for origin::HostPolicy {
    fn from_ref(state: &AppState) -> origin::HostPolicy {
        state.inner.host_policy.clone()
    }
}

impl FromRef<AppState> for Verdicts {
    fn from_ref(state: &AppState) -> Verdicts {
        state.inner.verdicts.clone()
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.inner.verdicts.store().clone()
    }
}

impl AppState {
    /// State for a server that probes with `verdicts` (and stores in its store).
    pub fn new(verdicts: Verdicts) -> Self {
        let sessions = session_cache::SessionCache::new(verdicts.store().clone());
        Self {
            inner: Arc::new(Inner {
                demo_domains: None,
                verdicts,
                admin_token: Arc::default(),
                limits: Limits::default(),
                rates: rate::RequestRates::default(),
                wake: Wake::default(),
                auth: auth::AuthConfig::default(),
                sign_in_limits: auth::SignInLimits::default(),
                sessions,
                public_hosts: Vec::new(),
                host_policy: origin::HostPolicy::any(),
                ready: ready::ReadyParts::default(),
                stopping: shutdown::Stopping::default(),
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = (*self.inner).clone();
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Marks the server as running against the simulated internet, listing its domains.
    pub fn with_demo_domains(self, domains: Vec<DemoDomain>) -> Self {
        self.with(|i| i.demo_domains = Some(domains))
    }

    /// Enables the admin API with this token (`None` or empty: disabled).
    pub fn with_admin_token(self, token: Option<String>) -> Self {
        let token = token.filter(|t| !t.is_empty()).map(Arc::from);
        self.with(|i| i.admin_token = Arc::new(std::sync::RwLock::new(token)))
    }

    /// Replaces the admin token of this state and all its clones (`None` or empty: admin
    /// tokens disabled); requests under way keep the token they checked.
    pub fn set_admin_token(&self, token: Option<String>) {
        let token = token.filter(|t| !t.is_empty()).map(Arc::from);
        *self
            .inner
            .admin_token
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = token;
    }

    /// Wakes this delivery worker when a message was queued.
    pub fn with_wake(self, wake: Wake) -> Self {
        self.with(|i| i.wake = wake)
    }

    /// The delivery worker's wake-up call.
    pub fn wake(&self) -> &Wake {
        &self.inner.wake
    }

    /// What one client may cost ([`limits`]; by default [`Limits::default`]).
    pub fn with_limits(self, limits: Limits) -> Self {
        self.with(|i| i.limits = limits)
    }

    /// Requests per minute per client and per session ([`rate`]; by default
    /// [`rate::RequestRates::default`]).
    pub fn with_rates(self, rates: rate::RequestRates) -> Self {
        self.with(|i| i.rates = rates)
    }

    /// How sessions last and whether their cookie is `Secure`.
    pub fn with_auth(self, auth: auth::AuthConfig) -> Self {
        self.with(|i| i.auth = auth)
    }

    /// The names the server answers for besides loopback ones ([`origin`]); applied by
    /// [`serve`] for its listening address.
    pub fn with_public_hosts(self, names: Vec<String>) -> Self {
        self.with(|i| i.public_hosts = names)
    }

    /// Answers only for the names `policy` allows ([`origin`]).
    pub fn with_host_policy(self, policy: origin::HostPolicy) -> Self {
        self.with(|i| i.host_policy = policy)
    }

    /// What `/api/ready` checks besides the store and the resolver ([`ready`]).
    pub fn with_ready_parts(self, parts: ready::ReadyParts) -> Self {
        self.with(|i| i.ready = parts)
    }

    /// Stops with this flag ([`shutdown`]): [`serve`] sets it on SIGTERM or Ctrl-C.
    pub fn with_stopping(self, stopping: shutdown::Stopping) -> Self {
        self.with(|i| i.stopping = stopping)
    }

    fn ready_parts(&self) -> &ready::ReadyParts {
        &self.inner.ready
    }

    fn stopping(&self) -> &shutdown::Stopping {
        &self.inner.stopping
    }

    fn auth(&self) -> &auth::AuthConfig {
        &self.inner.auth
    }

    fn sign_in_limits(&self) -> &auth::SignInLimits {
        &self.inner.sign_in_limits
    }

    fn sessions(&self) -> &session_cache::SessionCache {
        &self.inner.sessions
    }

    fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    fn admin_token(&self) -> Option<Arc<str>> {
        self.inner
            .admin_token
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn verdicts(&self) -> &Verdicts {
        &self.inner.verdicts
    }
}

/// The whole application: API routes, the embedded frontend, and the middleware stack.
pub fn app(state: AppState) -> Router {
    let timeout = || TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT);
    // Drafts stay outside the general body limit: theirs is larger, and it is enforced by the
    // JSON extractor so that an oversized draft gets 413 with a JSON message (`http::draft`).
    let drafts = Router::new()
        .route(
            paths::DRAFT,
            get(draft::get_draft)
                .put(draft::put_draft)
                .delete(draft::delete_draft),
        )
        .layer(DefaultBodyLimit::max(MAX_DRAFT_BYTES))
        .layer(timeout());
    // Messages too: their limit is enforced the same way (`http::messages`).
    let messages = Router::new()
        .route(paths::MESSAGES, post(messages::send).get(messages::list))
        .route(paths::MESSAGE, get(messages::one))
        .layer(DefaultBodyLimit::max(MAX_SUBMIT_BYTES))
        .layer(timeout());
    Router::new()
        .route(paths::HEALTH, get(health))
        .route(paths::READY, get(ready::ready))
        .route(paths::RECIPIENT_SECURITY, post(recipients::security))
        .route(paths::ACCOUNT, get(account::account))
        .route(
            paths::SESSION,
            post(auth::sign_in)
                .get(auth::current)
                .delete(auth::sign_out),
        )
        .route(
            paths::SETTINGS,
            get(account::get_settings).put(account::put_settings),
        )
        .route(paths::ADMIN_HOLDS, get(admin::holds))
        .route(paths::ADMIN_RELEASE, post(admin::release))
        .route(paths::ADMIN_KEEP, post(admin::keep))
        .route(paths::ADMIN_OBSERVATIONS, get(admin::observations))
        .route("/metrics", get(admin::metrics))
        .route("/api/{*rest}", any(api_not_found))
        .fallback(assets::serve)
        // Ordinary requests are bounded in time; the event stream below bounds itself.
        .layer(timeout())
        .route(paths::RECIPIENT_EVENTS, get(recipients::events))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::map_response(json_for_oversized))
        .merge(drafts)
        .merge(messages)
        .layer(middleware::from_fn_with_state(state.clone(), origin::check))
        .layer(middleware::from_fn_with_state(state.clone(), rate::check))
        .layer(middleware::map_response(headers::add))
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
}

/// The body limit answers a request whose Content-Length is too large before any handler runs,
/// in plain text; the API answers every error as JSON, so that answer is rewritten.
async fn json_for_oversized(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::TooLarge(format!(
            "the request body is larger than {} KiB",
            MAX_BODY_BYTES / 1024
        ))
        .into_response();
    }
    response
}

/// How long open connections get to finish once a stop was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Binds `listen`, serves [`app`] (over TLS with `https`: [`https::serve`]) and shuts down
/// gracefully when the state's stop flag is set, which Ctrl-C or SIGTERM does ([`shutdown`]):
/// no new connection, open event streams end, requests under way are answered.
pub async fn serve(
    listen: SocketAddr,
    state: AppState,
    https: Option<https::TlsFiles>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr()?;
    let policy = origin::HostPolicy::for_listen(local, &state.inner.public_hosts);
    let mut state = state.with_host_policy(policy);
    let scheme = if https.is_some() { "https" } else { "http" };
    if https.is_some() {
        let auth = auth::AuthConfig {
            secure_cookie: true,
            ..state.auth().clone()
        };
        state = state.with_auth(auth);
    }
    let stopping = state.stopping().clone();
    stopping.on_signals();
    tracing::info!("Sendguard is serving on {scheme}://{local}/");
    if state.admin_token().is_some() {
        println!("Admin view: {scheme}://{local}/admin");
    }
    println!("Sendguard is running: open {scheme}://{local}/ in a browser (Ctrl-C stops it)");
    match https {
        None => {
            // The peer's address identifies the client for the limits (`limits::Client`).
            let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, service)
                .with_graceful_shutdown(stopping.wait())
                .await?;
        }
        Some(files) => {
            let app = app(state).layer(middleware::map_response(https::hsts));
            https::serve(
                listener.into_std()?,
                app,
                files,
                stopping.wait(),
                SHUTDOWN_GRACE,
            )
            .await?;
        }
    }
    tracing::info!("Sendguard stopped");
    Ok(())
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        demo: state.inner.demo_domains.is_some(),
        demo_domains: state.inner.demo_domains.clone().unwrap_or_default(),
    })
}

async fn api_not_found() -> ApiError {
    ApiError::NotFound
}
