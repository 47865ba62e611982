//! Alerts for administrators when a server goes on hold or the resolver self-test starts failing
//! ([`Alerts::resolver_changed`]), and the counters behind `GET /metrics`.
//!
//! A new hold is announced three ways besides the admin view: a warn-level log line, the
//! Prometheus counter `sendguard_holds_raised_total`, and, when a webhook URL is configured, a
//! `POST` of `{"event": "hold", "hold": HoldView}` (JSON, RFC 8259) to it over HTTP/1.1 (RFC
//! 9112). The webhook runs in its own task bounded by [`WEBHOOK_TIMEOUT`]; a failure is logged
//! and counted and never holds up the probe that raised the hold. Only `http://` URLs are
//! supported for now (a relay on the same host or network forwards them onward).
//!
//! Announcing is rate-limited per server, blocking never is: at most one announcement (log
//! warning and webhook) per server within [`ALERT_INTERVAL`]. A further hold of the same server
//! within it (e.g. one per domain when many domains move to the same weaker server) is still
//! raised, blocks and is listed for the administrator, but is only counted
//! (`sendguard_hold_alerts_suppressed_total`) and logged at info level, so that a flapping or
//! hostile peer cannot flood the webhook. The policy limits the raising itself
//! (`policy::transition`, "Raising holds is rate-limited per server").
//!
//! The metrics are rendered in the Prometheus text exposition format 0.0.4 by hand: a handful of
//! counters does not need a metrics crate.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::Uri;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sendguard_common::HoldView;
use tokio::task::JoinHandle;

use super::resolver::ResolverState;

/// At most one announcement per server within this time.
pub const ALERT_INTERVAL: Duration = Duration::from_secs(3600);

/// How many servers' last announcements are remembered; beyond it, the expired ones are forgotten
/// (and, should all still be recent, the oldest), so the map stays bounded.
const ANNOUNCED_CAPACITY: usize = 10_000;

/// The longest a webhook POST may take, connecting included.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the alert configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The webhook URL does not parse or is not `http://host[:port]/path`.
    #[error("unusable webhook URL {url:?}: {why}")]
    WebhookUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        why: String,
    },
}

/// Why one webhook delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No answer within [`WEBHOOK_TIMEOUT`] (temporary).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connecting or the exchange failed (temporary).
    #[error("request failed: {0}")]
    Request(String),
    /// The receiver answered with an error status (permanent for this alert).
    #[error("the receiver answered {0}")]
    Status(u16),
}

impl WebhookError {
    /// Whether a later attempt may succeed.
    pub fn is_temporary(&self) -> bool {
        !matches!(self, WebhookError::Status(s) if *s < 500)
    }
}

/// Announces new holds and counts them. Cheap to clone; clones share counters.
#[derive(Clone, Default)]
pub struct Alerts {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Replaced in place when the configuration is re-read (SIGHUP).
    webhook: std::sync::RwLock<Option<Arc<Webhook>>>,
    holds_raised: AtomicU64,
    alerts_suppressed: AtomicU64,
    announced: std::sync::Mutex<HashMap<String, Instant>>,
    webhook_sent: AtomicU64,
    webhook_failed: AtomicU64,
    resolver_alerts: AtomicU64,
    sts_downgrades: AtomicU64,
    pending: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

struct Webhook {
    uri: Uri,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Alerts {
    /// Alerts that post to `webhook` when one is given.
    pub fn new(webhook: Option<&str>) -> Result<Alerts, AlertError> {
        let webhook = Webhook::parse(webhook)?;
        Ok(Alerts {
            inner: Arc::new(Inner {
                webhook: std::sync::RwLock::new(webhook),
                ..Inner::default()
            }),
        })
    }

    /// Posts to `webhook` from now on (none: no more posts); an unusable URL changes nothing.
    pub fn set_webhook(&self, webhook: Option<&str>) -> Result<(), AlertError> {
        let webhook = Webhook::parse(webhook)?;
        *self
            .inner
            .webhook
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = webhook;
        Ok(())
    }

    fn webhook(&self) -> Option<Arc<Webhook>> {
        self.inner
            .webhook
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Webhook {
    /// The webhook at `url` (none when absent or empty).
    fn parse(url: Option<&str>) -> Result<Option<Arc<Webhook>>, AlertError> {
        Ok(match url.map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(url) => {
                let bad = |why: &str| AlertError::WebhookUrl {
                    url: url.to_string(),
                    why: why.to_string(),
                };
                let uri: Uri = url
                    .parse()
                    .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
                if uri.scheme_str() != Some("http") {
                    return Err(bad("only http:// webhooks are supported"));
                }
                if uri.host().is_none() {
                    return Err(bad("no host"));
                }
                let mut connector = HttpConnector::new();
                connector.set_connect_timeout(Some(WEBHOOK_TIMEOUT));
                let client = Client::builder(TokioExecutor::new()).build(connector);
                Some(Arc::new(Webhook { uri, client }))
            }
        })
    }
}

impl Alerts {
    /// Announces a new hold: log line, counter, and the webhook in the background (a task that
    /// ends within [`WEBHOOK_TIMEOUT`]; short-lived processes wait with [`Alerts::wait_idle`]).
    /// A hold of a server announced within [`ALERT_INTERVAL`] is only counted.
    pub fn raise(&self, hold: &HoldView) {
        self.inner.holds_raised.fetch_add(1, Ordering::Relaxed);
        if !self.may_announce(&hold.host, Instant::now()) {
            self.inner.alerts_suppressed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                event = "hold",
                domain = %hold.after.domain,
                host = %hold.host,
                reason = "downgrade",
                announced = false,
                "server on hold again within the alert interval, not announced: {}", hold.reason
            );
            return;
        }
        tracing::warn!(
            event = "hold",
            domain = %hold.after.domain,
            host = %hold.host,
            ip = %hold.after.ip,
            reason = "downgrade",
            floor = ?hold.floor,
            observed = ?hold.after.class,
            "server on hold: {}", hold.reason
        );
        let body = serde_json::json!({ "event": "hold", "hold": hold });
        self.post_in_background(body, &hold.host);
    }

    /// Announces a change of the resolver self-test ([`super::resolver`]) between validating
    /// and failing: a log line (error when it starts failing), a counter, and the webhook's
    /// `{"event": "resolver_failing" | "resolver_validating", "resolver": state}`. Nothing is
    /// announced while it stays as it was (a failure is announced once, not every run).
    pub fn resolver_changed(&self, before: &ResolverState, after: &ResolverState) {
        let event = match (before, after) {
            (ResolverState::Failing { .. }, ResolverState::Failing { code, reason, .. }) => {
                tracing::debug!(code, "resolver self-test still fails: {reason}");
                return;
            }
            (_, ResolverState::Failing { code, reason, .. }) => {
                self.inner.resolver_alerts.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    event = "resolver_problem",
                    reason = code,
                    "resolver self-test fails: every verdict is SSL? and delivery is deferred: {reason}"
                );
                "resolver_failing"
            }
            (ResolverState::Failing { .. }, ResolverState::Validating { .. }) => {
                tracing::warn!(
                    event = "resolver_validating",
                    "resolver self-test passes again: DNSSEC validation works"
                );
                "resolver_validating"
            }
            _ => {
                tracing::debug!("resolver self-test passes");
                return;
            }
        };
        let body = serde_json::json!({ "event": event, "resolver": after });
        self.post_in_background(body, "resolver");
    }

    /// Announces a possible MTA-STS downgrade (RFC 8461 §10.2): `domain`'s `_mta-sts` record
    /// vanished while its policy `id` is cached until `until`, so the cached policy still
    /// applies. Logged, counted (`sendguard_mta_sts_downgrades_total`) and posted to the
    /// webhook as `{"event": "mta_sts_downgrade", ...}`, at most once per domain within
    /// [`ALERT_INTERVAL`] (every probe of the domain sees it again until the policy expires).
    pub fn mta_sts_downgrade(&self, domain: &str, id: &str, until: i64) {
        self.inner.sts_downgrades.fetch_add(1, Ordering::Relaxed);
        if !self.may_announce(&format!("mta-sts:{domain}"), Instant::now()) {
            return;
        }
        tracing::warn!(
            event = "mta_sts_downgrade",
            %domain, id, until,
            "possible MTA-STS downgrade: the _mta-sts record vanished while its policy is cached; the cached policy applies"
        );
        let body = serde_json::json!({
            "event": "mta_sts_downgrade",
            "domain": domain,
            "policy_id": id,
            "cached_until": until,
        });
        self.post_in_background(body, domain);
    }

    /// Posts `body` to the webhook, if one is configured, in a task of its own.
    fn post_in_background(&self, body: serde_json::Value, about: &str) {
        if self.webhook().is_none() {
            return;
        }
        let body = body.to_string();
        let this = self.clone();
        let about = about.to_string();
        let task = tokio::spawn(async move {
            match this.post(body).await {
                Ok(()) => {
                    this.inner.webhook_sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    this.inner.webhook_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%about, error = %e, temporary = e.is_temporary(), "alert webhook failed");
                }
            }
        });
        let mut pending = self
            .inner
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.retain(|t| !t.is_finished());
        pending.push(task);
    }

    /// Whether a hold of `host` may be announced at `now`; if so, remembers that it was.
    fn may_announce(&self, host: &str, now: Instant) -> bool {
        let mut announced = self
            .inner
            .announced
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(last) = announced.get(host)
            && now.saturating_duration_since(*last) < ALERT_INTERVAL
        {
            return false;
        }
        if announced.len() >= ANNOUNCED_CAPACITY {
            announced.retain(|_, last| now.saturating_duration_since(*last) < ALERT_INTERVAL);
            if announced.len() >= ANNOUNCED_CAPACITY
                && let Some(oldest) = announced
                    .iter()
                    .min_by_key(|(_, last)| **last)
                    .map(|(h, _)| h.clone())
            {
                announced.remove(&oldest);
            }
        }
        announced.insert(host.to_string(), now);
        true
    }

    /// Holds raised since start whose announcement was suppressed by the per-server interval.
    pub fn alerts_suppressed(&self) -> u64 {
        self.inner.alerts_suppressed.load(Ordering::Relaxed)
    }

    /// Waits for the webhook posts under way (each bounded by [`WEBHOOK_TIMEOUT`]).
    pub async fn wait_idle(&self) {
        let tasks: Vec<JoinHandle<()>> = std::mem::take(
            &mut *self
                .inner
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for t in tasks {
            let _ = t.await;
        }
    }

    async fn post(&self, body: String) -> Result<(), WebhookError> {
        let Some(hook) = self.webhook() else {
            return Ok(());
        };
        let request = hyper::Request::post(hook.uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("sendguard/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| WebhookError::Request(e.to_string()))?;
        let response = tokio::time::timeout(WEBHOOK_TIMEOUT, hook.client.request(request))
            .await
            .map_err(|_| WebhookError::Timeout(WEBHOOK_TIMEOUT))?
            .map_err(|e| WebhookError::Request(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(WebhookError::Status(status.as_u16()))
        }
    }

    /// Holds raised since start.
    pub fn holds_raised(&self) -> u64 {
        self.inner.holds_raised.load(Ordering::Relaxed)
    }

    /// The metrics in Prometheus text format; `open_holds` when the store could tell.
    pub fn render_metrics(&self, open_holds: Option<i64>) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "sendguard_holds_raised_total",
            "Servers put on hold because they fell below their known level.",
            self.holds_raised(),
        );
        counter(
            "sendguard_hold_alerts_suppressed_total",
            "Holds not announced because the same server was announced within the last hour.",
            self.alerts_suppressed(),
        );
        counter(
            "sendguard_resolver_alerts_total",
            "Times the resolver self-test started failing (each announced once).",
            self.inner.resolver_alerts.load(Ordering::Relaxed),
        );
        counter(
            "sendguard_alert_webhook_sent_total",
            "Alerts (holds, resolver) delivered to the webhook.",
            self.inner.webhook_sent.load(Ordering::Relaxed),
        );
        counter(
            "sendguard_alert_webhook_failed_total",
            "Alerts (holds, resolver) the webhook did not accept in time.",
            self.inner.webhook_failed.load(Ordering::Relaxed),
        );
        counter(
            "sendguard_mta_sts_downgrades_total",
            "Probes that found a domain's _mta-sts record gone while its policy was cached.",
            self.inner.sts_downgrades.load(Ordering::Relaxed),
        );
        if let Some(open) = open_holds {
            let _ = writeln!(
                out,
                "# HELP sendguard_holds_open Servers on hold now (held or kept).\n# TYPE sendguard_holds_open gauge\nsendguard_holds_open {open}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_announcement_per_server_per_interval() {
        let alerts = Alerts::default();
        let t0 = Instant::now();
        assert!(alerts.may_announce("mx.a.test", t0));
        assert!(!alerts.may_announce("mx.a.test", t0 + Duration::from_secs(60)));
        assert!(alerts.may_announce("mx.b.test", t0 + Duration::from_secs(60)));
        assert!(alerts.may_announce("mx.a.test", t0 + ALERT_INTERVAL));
    }

    #[test]
    fn the_memory_of_announcements_stays_bounded() {
        let alerts = Alerts::default();
        let t0 = Instant::now();
        for i in 0..ANNOUNCED_CAPACITY + 5 {
            assert!(alerts.may_announce(&format!("mx{i}.test"), t0));
        }
        assert!(alerts.inner.announced.lock().unwrap().len() <= ANNOUNCED_CAPACITY);
    }
}
