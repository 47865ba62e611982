//! What one client may cost the server: new probes per minute and open event streams, per client
//! and (for streams) in total.
//!
//! A client is the signed-in user once authentication exists; until then (a single configured
//! user) it is the peer's address, an IPv6 peer counted by its /64 prefix (RFC 4291 §2.5.4: one
//! interface identifier space, which one host may fill). A request without a peer address (a
//! router driven in-process) counts as one local client. Over a limit, the API answers
//! 429 Too Many Requests (RFC 6585 §4) with a `Retry-After` header, or 503 when the server as a
//! whole has too many streams open.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::ApiError;
use super::rate::Windows;

/// New probes a client may cause per minute.
pub const PROBES_PER_MINUTE: u32 = 120;
/// Event streams one client may have open at once.
pub const STREAMS_PER_CLIENT: usize = 6;
/// Event streams open at once over all clients.
pub const STREAMS_TOTAL: usize = 512;
/// An idle event stream sends a comment line this often, so that proxies keep it open and a
/// client that went away is noticed at the next write (WHATWG HTML §9.2.7 suggests about 15 s).
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// At most this many clients are tracked; windows that have ended are forgotten first, and
/// beyond that a newcomer is not counted ([`Windows::take`]).
const CLIENTS: usize = 10_000;
const MINUTE: Duration = Duration::from_secs(60);

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    /// The peer's IPv4 address, or an IPv6 peer's /64 prefix.
    Peer(IpAddr),
    /// A request that came without a peer address (in-process).
    Local,
}

impl Client {
    /// The client of a peer at `ip`.
    pub fn of(ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(_) => Client::Peer(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::Peer(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Client::Peer(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Client, Infallible> {
        Ok(parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(Client::Local, |c| Client::of(c.0.ip())))
    }
}

/// The limits and what each client has used. Cheap to clone; clones share the counts.
#[derive(Clone, Debug)]
pub struct Limits {
    inner: Arc<Mutex<State>>,
    probes_per_minute: u32,
    streams_per_client: usize,
    streams_total: usize,
    heartbeat: Duration,
}

#[derive(Debug)]
struct State {
    /// Per client: the probes it caused in its current minute.
    probes: Windows<Client>,
    streams: HashMap<Client, usize>,
    streams_total: usize,
    streams_opened: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(PROBES_PER_MINUTE, STREAMS_PER_CLIENT, STREAMS_TOTAL)
    }
}

impl Limits {
    /// Limits of `probes_per_minute` new probes per client, `streams_per_client` open streams
    /// per client and `streams_total` in all.
    pub fn new(probes_per_minute: u32, streams_per_client: usize, streams_total: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                probes: Windows::new(MINUTE, CLIENTS),
                streams: HashMap::new(),
                streams_total: 0,
                streams_opened: 0,
            })),
            probes_per_minute,
            streams_per_client,
            streams_total,
            heartbeat: HEARTBEAT,
        }
    }

    /// The same limits with event-stream heartbeats every `every` instead of [`HEARTBEAT`].
    pub fn with_heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// How often an idle event stream sends its heartbeat.
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one new probe for `client`, unless its budget for this minute is spent.
    pub fn take_probe(&self, client: Client) -> bool {
        self.lock()
            .probes
            .take(client, self.probes_per_minute)
            .is_ok()
    }

    /// The error for a client whose probe budget is spent: 429 with the time until its minute
    /// ends.
    pub fn probes_refused(&self, client: Client) -> ApiError {
        let retry_after = self.lock().probes.retry_after(&client);
        ApiError::TooManyRequests {
            message: format!(
                "too many new recipient domains: at most {} new probes per minute, try again in {retry_after} s",
                self.probes_per_minute
            ),
            retry_after,
        }
    }

    /// Opens an event stream for `client`: the guard counts it until dropped.
    pub fn open_stream(&self, client: Client) -> Result<StreamGuard, ApiError> {
        let mut s = self.lock();
        if s.streams_total >= self.streams_total {
            return Err(ApiError::Overloaded(format!(
                "the server has {} event streams open, its limit; try again later",
                self.streams_total
            )));
        }
        let open = s.streams.entry(client).or_insert(0);
        if *open >= self.streams_per_client {
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "too many event streams: at most {} open at once per client",
                    self.streams_per_client
                ),
                retry_after: 5,
            });
        }
        *open += 1;
        s.streams_total += 1;
        s.streams_opened += 1;
        Ok(StreamGuard {
            limits: self.clone(),
            client,
        })
    }

    /// How many event streams are open, in all.
    pub fn open_streams(&self) -> usize {
        self.lock().streams_total
    }

    /// The lines of `GET /metrics` about event streams (Prometheus text format 0.0.4).
    pub fn render_metrics(&self) -> String {
        let s = self.lock();
        format!(
            "# HELP sendguard_event_streams_opened_total Event streams opened since start.\n\
             # TYPE sendguard_event_streams_opened_total counter\n\
             sendguard_event_streams_opened_total {}\n\
             # HELP sendguard_event_streams_open Event streams open now.\n\
             # TYPE sendguard_event_streams_open gauge\n\
             sendguard_event_streams_open {}\n",
            s.streams_opened, s.streams_total
        )
    }
}

/// One open event stream, counted until dropped (the stream ended or the client went away).
#[derive(Debug)]
pub struct StreamGuard {
    limits: Limits,
    client: Client,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut s = self.limits.lock();
        s.streams_total = s.streams_total.saturating_sub(1);
        if let Some(open) = s.streams.get_mut(&self.client) {
            *open -= 1;
            if *open == 0 {
                s.streams.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64_prefix() {
        let a = Client::of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Client::of("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = Client::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Client::of("::ffff:192.0.2.1".parse().unwrap()),
            Client::of("192.0.2.1".parse().unwrap())
        );
    }

    #[test]
    fn probes_are_counted_per_client_and_streams_until_dropped() {
        let limits = Limits::new(2, 1, 2);
        let (a, b) = (Client::of([192, 0, 2, 1].into()), Client::Local);
        assert!(limits.take_probe(a) && limits.take_probe(a));
        assert!(!limits.take_probe(a), "a's budget is spent");
        assert!(limits.take_probe(b), "b has its own");
        let first = limits.open_stream(a).unwrap();
        assert!(limits.open_stream(a).is_err(), "one per client");
        let second = limits.open_stream(b).unwrap();
        assert!(
            matches!(
                limits.open_stream(Client::of([192, 0, 2, 9].into())),
                Err(ApiError::Overloaded(_))
            ),
            "two in all"
        );
        drop((first, second));
        assert_eq!(limits.open_streams(), 0);
        let metrics = limits.render_metrics();
        assert!(
            metrics.contains("sendguard_event_streams_opened_total 2\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("sendguard_event_streams_open 0\n"),
            "{metrics}"
        );
        assert!(
            limits.open_stream(a).is_ok(),
            "a closed stream frees its place"
        );
    }
}
