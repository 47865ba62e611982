//! Requests per minute, per client and per session, on every route but the health check.
//!
//! Each client (its address, an IPv6 peer by its /64: [`Client`]) and each session cookie has
//! a budget of requests per fixed one-minute window; a request over either budget is answered
//! 429 Too Many Requests (RFC 6585 §4) with `Retry-After` and a JSON message before any handler
//! runs, so a flood costs neither a database read nor a probe. The session is counted by its
//! cookie as sent, before it is checked: a client that invents cookies is still held by its own
//! budget. The page's own files (`/`, the wasm, its CSS) are not counted: they are served from
//! memory, and one page load fetches several. The counts are kept for a bounded number of
//! clients and sessions ([`TRACKED`]); windows that have ended are dropped first.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sendguard_common::paths;

use super::ApiError;
use super::auth::token_of;
use super::limits::Client;

/// Requests one client address may make per minute ([`RequestRates::default`]).
pub const PER_CLIENT: u32 = 2400;
/// Requests one session may make per minute ([`RequestRates::default`]).
pub const PER_SESSION: u32 = 600;
/// At most this many clients and sessions are counted each.
pub const TRACKED: usize = 10_000;
const MINUTE: Duration = Duration::from_secs(60);

/// Counts per key in fixed windows of one length, for a bounded number of keys.
#[derive(Debug)]
pub struct Windows<K> {
    counts: HashMap<K, (Instant, u32)>,
    window: Duration,
    tracked: usize,
}

impl<K: Eq + Hash> Windows<K> {
    /// Windows of length `window` for at most `tracked` keys.
    pub fn new(window: Duration, tracked: usize) -> Self {
        Windows {
            counts: HashMap::new(),
            window,
            tracked,
        }
    }

    /// Counts one use by `key` unless its window already holds `max`; `Err` carries the seconds
    /// until its window ends (at least 1). With every place taken by a live window, the
    /// newcomer is let through uncounted rather than another key forgotten early.
    pub fn take(&mut self, key: K, max: u32) -> Result<(), u64> {
        if self.counts.len() >= self.tracked && !self.counts.contains_key(&key) {
            let window = self.window;
            self.counts.retain(|_, (since, _)| since.elapsed() < window);
            if self.counts.len() >= self.tracked {
                return Ok(());
            }
        }
        let (since, used) = self.counts.entry(key).or_insert((Instant::now(), 0));
        if since.elapsed() >= self.window {
            (*since, *used) = (Instant::now(), 0);
        }
        if *used >= max {
            let left = self.window.saturating_sub(since.elapsed());
            return Err(left.as_secs().max(1));
        }
        *used += 1;
        Ok(())
    }

    /// Seconds until `key`'s window ends (a whole window when it has none).
    pub fn retry_after(&self, key: &K) -> u64 {
        let left = self.counts.get(key).map_or(self.window, |(since, _)| {
            self.window.saturating_sub(since.elapsed())
        });
        left.as_secs().max(1)
    }
}

/// The per-minute request budgets and what each client and session used. Cheap to clone;
/// clones share the counts. A budget of 0 turns that limit off.
#[derive(Clone, Debug)]
pub struct RequestRates {
    counts: Arc<Mutex<Counts>>,
    per_client: u32,
    per_session: u32,
    hasher: RandomState,
}

#[derive(Debug)]
struct Counts {
    clients: Windows<Client>,
    /// Sessions by a keyed hash of the cookie, so that no token is kept in memory here.
    sessions: Windows<u64>,
    refused: u64,
}

impl Default for RequestRates {
    fn default() -> Self {
        RequestRates::new(PER_CLIENT, PER_SESSION)
    }
}

impl RequestRates {
    /// Budgets of `per_client` requests per minute per client and `per_session` per session.
    pub fn new(per_client: u32, per_session: u32) -> Self {
        RequestRates {
            counts: Arc::new(Mutex::new(Counts {
                clients: Windows::new(MINUTE, TRACKED),
                sessions: Windows::new(MINUTE, TRACKED),
                refused: 0,
            })),
            per_client,
            per_session,
            hasher: RandomState::new(),
        }
    }

    /// Counts one request of `client` with the session cookie `token`, or says why not.
    pub fn take(&self, client: Client, token: Option<&str>) -> Result<(), ApiError> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if self.per_client > 0
            && let Err(retry_after) = c.clients.take(client, self.per_client)
        {
            c.refused += 1;
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "too many requests from this address: at most {} per minute, try again in {retry_after} s",
                    self.per_client
                ),
                retry_after,
            });
        }
        if self.per_session > 0
            && let Some(token) = token
            && let Err(retry_after) = c
                .sessions
                .take(self.hasher.hash_one(token), self.per_session)
        {
            c.refused += 1;
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "too many requests in this session: at most {} per minute, try again in {retry_after} s",
                    self.per_session
                ),
                retry_after,
            });
        }
        Ok(())
    }

    /// The lines of `GET /metrics` about refused requests (Prometheus text format 0.0.4).
    pub fn render_metrics(&self) -> String {
        let refused = self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .refused;
        format!(
            "# HELP sendguard_requests_rate_limited_total Requests refused for a client's or a session's per-minute budget.\n\
             # TYPE sendguard_requests_rate_limited_total counter\n\
             sendguard_requests_rate_limited_total {refused}\n"
        )
    }
}

/// Whether a request to `path` counts: the API and `/metrics`, but not the health check (load
/// balancers ask it often; it touches nothing) nor the page's own files. Readiness counts: it
/// commits a database write, which no anonymous client may cause without bound.
fn counted(path: &str) -> bool {
    (path.starts_with("/api/") && path != paths::HEALTH) || path == "/metrics"
}

/// The middleware: counts the request and answers 429 when a budget is spent.
pub async fn check(
    State(rates): State<RequestRates>,
    client: Client,
    request: Request,
    next: Next,
) -> Response {
    if counted(request.uri().path()) {
        let token = token_of(request.headers());
        if let Err(e) = rates.take(client, token.as_deref()) {
            return e.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_to_its_maximum_and_says_when_it_ends() {
        let mut w = Windows::new(MINUTE, 10);
        assert_eq!(w.take("a", 2), Ok(()));
        assert_eq!(w.take("a", 2), Ok(()));
        let wait = w.take("a", 2).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(w.take("b", 2), Ok(()), "b has its own window");
        assert!(w.retry_after(&"a") <= 60);
    }

    #[test]
    fn an_ended_window_starts_again() {
        let mut w = Windows::new(Duration::from_millis(20), 10);
        assert_eq!(w.take(1, 1), Ok(()));
        assert!(w.take(1, 1).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(w.take(1, 1), Ok(()));
    }

    #[test]
    fn the_number_of_keys_is_bounded() {
        let mut w = Windows::new(MINUTE, 3);
        for k in 0..3 {
            w.take(k, 1).unwrap();
        }
        assert_eq!(w.take(99, 1), Ok(()), "let through uncounted");
        assert_eq!(w.counts.len(), 3);
        assert!(w.take(0, 1).is_err(), "known keys stay counted");
    }

    #[test]
    fn sessions_and_clients_have_their_own_budgets() {
        let rates = RequestRates::new(5, 2);
        let (a, b) = (
            Client::of([192, 0, 2, 1].into()),
            Client::of([192, 0, 2, 2].into()),
        );
        rates.take(a, Some("s1")).unwrap();
        rates.take(a, Some("s1")).unwrap();
        assert!(matches!(
            rates.take(b, Some("s1")),
            Err(ApiError::TooManyRequests { .. })
        ));
        rates.take(a, Some("s2")).unwrap();
        rates.take(a, None).unwrap();
        rates.take(a, None).unwrap();
        assert!(rates.take(a, None).is_err(), "a's five are spent");
        assert!(rates.render_metrics().contains("rate_limited_total 2\n"));
        let off = RequestRates::new(0, 0);
        for _ in 0..100 {
            off.take(a, Some("s")).unwrap();
        }
    }

    #[test]
    fn health_and_the_page_are_not_counted() {
        assert!(!counted(paths::HEALTH));
        assert!(counted(paths::READY), "it writes to the database");
        assert!(!counted("/"));
        assert!(!counted("/sendguard-frontend-1234_bg.wasm"));
        assert!(counted(paths::SESSION));
        assert!(counted("/metrics"));
    }
}
