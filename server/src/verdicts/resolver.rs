//! The resolver self-test as the verdict service sees it: run at start and every
//! [`ResolverCheck::interval`] ([`crate::dns::selftest`] says what is checked and why), its last
//! result kept as a [`ResolverState`].
//!
//! While the state is not [`ResolverState::Validating`] (failing, or not yet checked), no DNS
//! answer is relied on, so nothing is judged from one (RFC 4035 §4.3: without validation a
//! security-aware resolver cannot tell secure from forged):
//!
//! - every verdict is "SSL?", blocked with [`sendguard_common::BlockCause::ResolverNotValidating`]
//!   and the self-test's reason ([`super::Verdicts::answer`]); no probe starts, so no floor
//!   rises and no hold is raised on facts that only the broken path produced;
//! - a delivery is deferred with that reason (its probe is refused, [`super::VerdictError`]);
//! - Postfix's TLS policy table answers `TEMP` (Postfix defers, [`crate::postfix::tls_policy`]);
//! - `/api/ready` answers 503 naming the reason;
//! - an alert fires once when it starts failing and once when it recovers
//!   ([`super::alerts::Alerts::resolver_changed`]).
//!
//! A failing self-test is run again every [`RETRY_WHILE_FAILING`] (at most), so an outage ends
//! quickly once the resolver is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::alerts::Alerts;
use crate::dns::selftest::{self, SelfTestNames};
use crate::dns::{Dns, DnsConfig, DnsError};
use crate::probe::now_unix;

/// How often the self-test runs when the operator does not say.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
/// How often a failing self-test is run again (or the interval, when shorter).
pub const RETRY_WHILE_FAILING: Duration = Duration::from_secs(30);

/// The last result of the self-test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ResolverState {
    /// Not run yet.
    Unchecked,
    /// The signed name was secure and the broken one bogus.
    Validating {
        /// When, seconds since the Unix epoch.
        checked_at: i64,
    },
    /// The last run failed.
    Failing {
        /// Since when it fails, seconds since the Unix epoch.
        since: i64,
        /// When it last ran.
        checked_at: i64,
        /// [`selftest::SelfTestFailure::code`].
        code: &'static str,
        /// What was found and what it means.
        reason: String,
    },
}

impl ResolverState {
    /// Why no DNS answer can be relied on now; `None` while the resolver validates.
    pub fn failure(&self) -> Option<String> {
        match self {
            ResolverState::Validating { .. } => None,
            ResolverState::Unchecked => {
                Some("the resolver's DNSSEC validation has not been checked yet".into())
            }
            ResolverState::Failing { reason, .. } => Some(format!(
                "the resolver self-test fails, DNSSEC cannot be relied on: {reason}"
            )),
        }
    }

    /// The Prometheus value: 1 validating, 0 failing, -1 not checked yet.
    fn gauge(&self) -> i64 {
        match self {
            ResolverState::Validating { .. } => 1,
            ResolverState::Failing { .. } => 0,
            ResolverState::Unchecked => -1,
        }
    }
}

/// The self-test with its own resolver (same address and trust anchor as the prober's, its own
/// cache) and its last result. Cheap to clone.
#[derive(Clone)]
pub struct ResolverCheck {
    inner: Arc<Inner>,
}

struct Inner {
    dns: Dns,
    names: SelfTestNames,
    interval: Duration,
    state: watch::Sender<ResolverState>,
    runs: AtomicU64,
    failures: AtomicU64,
}

impl ResolverCheck {
    /// A self-test through the resolver and trust anchor of `config`, looking up `names`, run
    /// every `interval` once [`ResolverCheck::spawn`]ed; not run yet.
    pub fn new(
        config: &DnsConfig,
        names: SelfTestNames,
        interval: Duration,
    ) -> Result<Self, DnsError> {
        Ok(ResolverCheck {
            inner: Arc::new(Inner {
                dns: Dns::new(config)?,
                names,
                interval: interval.max(Duration::from_secs(1)),
                state: watch::channel(ResolverState::Unchecked).0,
                runs: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
        })
    }

    /// The last result.
    pub fn state(&self) -> ResolverState {
        self.inner.state.borrow().clone()
    }

    /// How often it runs while it passes.
    pub fn interval(&self) -> Duration {
        self.inner.interval
    }

    /// The names it looks up.
    pub fn names(&self) -> &SelfTestNames {
        &self.inner.names
    }

    /// Runs the self-test now, keeps its result and tells `alerts` when the state changed
    /// between validating and failing.
    pub async fn run_once(&self, alerts: &Alerts) -> ResolverState {
        let result = selftest::run(&self.inner.dns, &self.inner.names).await;
        self.inner.runs.fetch_add(1, Ordering::Relaxed);
        let now = now_unix();
        let before = self.state();
        let after = match result {
            Ok(()) => ResolverState::Validating { checked_at: now },
            Err(failure) => {
                self.inner.failures.fetch_add(1, Ordering::Relaxed);
                let since = match &before {
                    ResolverState::Failing { since, .. } => *since,
                    _ => now,
                };
                ResolverState::Failing {
                    since,
                    checked_at: now,
                    code: failure.code(),
                    reason: failure.to_string(),
                }
            }
        };
        self.inner.state.send_replace(after.clone());
        alerts.resolver_changed(&before, &after);
        after
    }

    /// Runs the self-test now and then every [`ResolverCheck::interval`] (every
    /// [`RETRY_WHILE_FAILING`] while it fails) until the task is aborted.
    pub fn spawn(&self, alerts: Alerts) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                this.run_once(&alerts).await;
                let wait = match this.state() {
                    ResolverState::Validating { .. } => this.inner.interval,
                    _ => this.inner.interval.min(RETRY_WHILE_FAILING),
                };
                tokio::time::sleep(wait).await;
            }
        })
    }

    /// Waits until the first run ended, at most `limit`; the state then.
    pub async fn first_result(&self, limit: Duration) -> ResolverState {
        let mut state = self.inner.state.subscribe();
        let _ = tokio::time::timeout(
            limit,
            state.wait_for(|s| !matches!(s, ResolverState::Unchecked)),
        )
        .await;
        self.state()
    }

    /// The self-test's metrics in Prometheus text format.
    pub fn render_metrics(&self) -> String {
        format!(
            "# HELP sendguard_resolver_validating Resolver self-test: 1 validating, 0 failing, -1 not checked yet.\n\
             # TYPE sendguard_resolver_validating gauge\n\
             sendguard_resolver_validating {}\n\
             # HELP sendguard_resolver_selftest_runs_total Resolver self-tests run since start.\n\
             # TYPE sendguard_resolver_selftest_runs_total counter\n\
             sendguard_resolver_selftest_runs_total {}\n\
             # HELP sendguard_resolver_selftest_failures_total Resolver self-tests that failed since start.\n\
             # TYPE sendguard_resolver_selftest_failures_total counter\n\
             sendguard_resolver_selftest_failures_total {}\n",
            self.state().gauge(),
            self.inner.runs.load(Ordering::Relaxed),
            self.inner.failures.load(Ordering::Relaxed),
        )
    }
}
