//! The reporting pass (RFC 8460 §4.1, §5): each domain's results of a UTC day are reported once
//! the day is over. A pass ([`Reporter::run_once`]):
//!
//! 1. starts a report (with its id, kept for every retry) for each finished day and domain
//!    with results;
//! 2. for each report due: looks up the domain's `_smtp._tls` record unless that was done
//!    (none, or an unusable one: nothing is sent; a failed lookup is tried again, at most
//!    [`MAX_LOOKUPS`] times), then sends the report to each URI not yet served: once sent, a URI
//!    is never sent that report again; a temporary failure is retried after [`RETRY_AFTER`]
//!    (doubling), at most [`MAX_SEND_ATTEMPTS`] attempts;
//! 3. forgets the results and reports of days older than [`KEEP_DAYS`].
//!
//! [`spawn`] runs a pass at start and then every interval; `sendguard tlsrpt send-now` runs one.
//! The clock of a pass is a parameter (which days are over, when a retry is due), so tests
//! report "yesterday" without waiting a day; report mail is queued with the real time.

use std::time::Duration;

use hyper::Uri;
use sendguard_common::address::Address;

use super::discover::{self, DiscoverError, ReportUri};
use super::report::{self, Header};
use super::send::{self, HttpsClient, SendError};
use super::{TlsRptConfig, day_of};
use crate::delivery::worker::Wake;
use crate::probe::now_unix;
use crate::store::tlsrpt::{ReportRow, SendOutcome, SendRow};
use crate::store::{Store, StoreError};

/// Lookups of the `_smtp._tls` record before a report is given up.
pub const MAX_LOOKUPS: u32 = 5;
/// Attempts to send a report to one URI before it is given up.
pub const MAX_SEND_ATTEMPTS: u32 = 5;
/// The wait after the first failure; it doubles with each further one.
pub const RETRY_AFTER: Duration = Duration::from_secs(15 * 60);
/// How long a pass has a report to itself (two passes never send the same report at once).
pub const CLAIM_LEASE: Duration = Duration::from_secs(10 * 60);
/// Days of results kept (the reports of older days are all done or given up).
pub const KEEP_DAYS: i64 = 14;

/// Sends the reports. Cheap to clone.
#[derive(Clone)]
pub struct Reporter {
    store: Store,
    config: TlsRptConfig,
    https: HttpsClient,
    wake: Option<Wake>,
}

/// What one pass did, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Reports handed to a URI (queued or uploaded).
    pub sent: usize,
    /// Attempts that failed (retried or given up).
    pub failed: usize,
    /// Reports not sent because the domain publishes no usable record.
    pub no_rua: usize,
}

impl Reporter {
    /// A reporter writing as `config`, uploading with `https`; `wake` tells the delivery worker
    /// that report mail was queued.
    pub fn new(store: Store, config: TlsRptConfig, https: HttpsClient, wake: Option<Wake>) -> Self {
        Reporter {
            store,
            config,
            https,
            wake,
        }
    }

    /// One pass at time `now` (see the module).
    pub async fn run_once(&self, now: i64) -> Result<Pass, StoreError> {
        let today = day_of(now);
        self.store.tlsrpt_prune(today - KEEP_DAYS).await?;
        for (day, domain) in self.store.tlsrpt_unreported(today).await? {
            let id = format!(
                "{}.{}.{domain}@{}",
                &report::rfc3339(day * 86_400)[..10],
                send::random_hex(),
                self.config.submitter
            );
            self.store
                .tlsrpt_start_report(day, &domain, &id, now)
                .await?;
        }
        let mut pass = Pass::default();
        for row in self.store.tlsrpt_due_reports(now).await? {
            // Another pass may have taken it meanwhile; a pass that dies leaves it to the next
            // one after the lease.
            let lease = now + CLAIM_LEASE.as_secs() as i64;
            if self
                .store
                .tlsrpt_claim_report(row.day, &row.domain, now, lease)
                .await?
            {
                self.advance(&row, now, &mut pass).await?;
            }
        }
        Ok(pass)
    }

    /// Takes one report as far as it goes now.
    async fn advance(&self, row: &ReportRow, now: i64, pass: &mut Pass) -> Result<(), StoreError> {
        let (day, domain) = (row.day, row.domain.as_str());
        let Some(sends) = self.sends_of(row, now, pass).await? else {
            return Ok(());
        };
        let policies = self.store.tlsrpt_day(day, domain).await?;
        let header = Header {
            organization: &self.config.organization,
            contact: &self.config.contact,
            report_id: &row.report_id,
        };
        let report = report::build(&header, day, &policies);
        let gz = report
            .to_gzip()
            .map_err(|e| StoreError::Corrupt(format!("compressing a report: {e}")))?;
        for s in sends
            .iter()
            .filter(|s| s.state == "pending" && s.next_attempt_at <= now)
        {
            let result = match from_key(&s.uri) {
                Ok(uri) => self.send(&uri, &report, day, domain, gz.clone()).await,
                Err(e) => Err(e),
            };
            let outcome = match result {
                Ok(()) => {
                    pass.sent += 1;
                    tracing::info!(%domain, uri = %s.uri, "TLS report sent");
                    SendOutcome::Sent(now)
                }
                Err(e) => {
                    pass.failed += 1;
                    tracing::warn!(%domain, uri = %s.uri, error = %e, "TLS report not sent");
                    match e {
                        SendError::Temporary(error) if s.attempts + 1 < MAX_SEND_ATTEMPTS => {
                            SendOutcome::Retry {
                                error,
                                next_attempt_at: now + backoff(s.attempts),
                            }
                        }
                        other => SendOutcome::Failed(other.to_string()),
                    }
                }
            };
            self.store
                .tlsrpt_send_result(day, domain, &s.uri, &outcome)
                .await?;
        }
        let sends = self.store.tlsrpt_sends(day, domain).await?;
        match sends
            .iter()
            .filter(|s| s.state == "pending")
            .map(|s| s.next_attempt_at)
            .min()
        {
            Some(next) => {
                self.store
                    .tlsrpt_report_state(day, domain, "pending", next, None, false)
                    .await
            }
            None => self.finish(row, "done", None).await,
        }
    }

    /// Where the report goes: the URIs found before, else those of the domain's record, looked
    /// up now; `None` when the report is finished or waits for another lookup.
    async fn sends_of(
        &self,
        row: &ReportRow,
        now: i64,
        pass: &mut Pass,
    ) -> Result<Option<Vec<SendRow>>, StoreError> {
        let (day, domain) = (row.day, row.domain.as_str());
        let sends = self.store.tlsrpt_sends(day, domain).await?;
        if !sends.is_empty() {
            return Ok(Some(sends));
        }
        let record = match discover::discover(self.https.dns(), domain).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                pass.no_rua += 1;
                self.finish(row, "no-rua", None).await?;
                return Ok(None);
            }
            Err(e) if e.is_temporary() && row.lookups + 1 < MAX_LOOKUPS => {
                let next = now + backoff(row.lookups);
                let error = e.to_string();
                self.store
                    .tlsrpt_report_state(day, domain, "pending", next, Some(&error), true)
                    .await?;
                return Ok(None);
            }
            Err(e) => {
                tracing::info!(%domain, error = %e, "no TLS report: the record is unusable");
                pass.no_rua += usize::from(matches!(e, DiscoverError::Record(_)));
                self.finish(row, "no-rua", Some(&e.to_string())).await?;
                return Ok(None);
            }
        };
        let keys: Vec<String> = record.rua.iter().map(ReportUri::key).collect();
        self.store.tlsrpt_add_sends(day, domain, &keys, now).await?;
        Ok(Some(self.store.tlsrpt_sends(day, domain).await?))
    }

    async fn finish(
        &self,
        row: &ReportRow,
        state: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.store
            .tlsrpt_report_state(row.day, &row.domain, state, 0, error, false)
            .await
    }

    /// Sends the report to one URI.
    async fn send(
        &self,
        uri: &ReportUri,
        report: &report::Report,
        day: i64,
        domain: &str,
        gz: Vec<u8>,
    ) -> Result<(), SendError> {
        match uri {
            ReportUri::Https(uri) => self.https.post(uri, gz).await,
            ReportUri::Mailto {
                address,
                domain: to_domain,
            } => {
                let message = send::report_message(
                    &self.config,
                    report,
                    day,
                    domain,
                    gz,
                    (address, to_domain),
                    // Queued now, due at once, whatever clock the pass runs on.
                    now_unix(),
                )?;
                self.store.enqueue(&message).await.map_err(|e| {
                    if e.is_temporary() {
                        SendError::Temporary(e.to_string())
                    } else {
                        SendError::Permanent(e.to_string())
                    }
                })?;
                if let Some(wake) = &self.wake {
                    wake.wake();
                }
                Ok(())
            }
        }
    }
}

/// The URI a stored key names ([`ReportUri::key`]).
fn from_key(key: &str) -> Result<ReportUri, SendError> {
    let bad = |why: String| SendError::Permanent(format!("stored URI {key:?}: {why}"));
    if let Some(address) = key.strip_prefix("mailto:") {
        let parsed = Address::parse(address).map_err(|e| bad(e.to_string()))?;
        let domain =
            crate::dns::to_a_label(parsed.domain().as_str()).map_err(|e| bad(e.to_string()))?;
        return Ok(ReportUri::Mailto {
            address: address.to_string(),
            domain,
        });
    }
    let uri: Uri = key.parse().map_err(|e| bad(format!("{e}")))?;
    Ok(ReportUri::Https(uri))
}

/// The wait after the `failures`-th failure (counted from 0): [`RETRY_AFTER`], doubling.
fn backoff(failures: u32) -> i64 {
    let base = RETRY_AFTER.as_secs() as i64;
    base.saturating_mul(1i64 << failures.min(10))
}

/// Runs a pass now and then every `interval`, until the task is aborted.
pub fn spawn(reporter: Reporter, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_secs(1)));
        loop {
            ticks.tick().await;
            match reporter.run_once(now_unix()).await {
                Ok(pass) if pass != Pass::default() => {
                    tracing::info!(?pass, "TLS reporting pass");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "TLS reporting pass failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_and_stays_bounded() {
        assert_eq!(backoff(0), 900);
        assert_eq!(backoff(1), 1800);
        assert_eq!(backoff(3), 7200);
        assert_eq!(backoff(40), 900 * 1024);
    }

    #[test]
    fn stored_keys_read_back() {
        assert_eq!(
            from_key("mailto:r@example.org").unwrap(),
            ReportUri::Mailto {
                address: "r@example.org".into(),
                domain: "example.org".into()
            }
        );
        assert!(matches!(
            from_key("https://r.example/x").unwrap(),
            ReportUri::Https(_)
        ));
        assert!(from_key("mailto:nope").is_err());
    }
}
