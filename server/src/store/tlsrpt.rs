//! TLS reporting's rows (migration `0009_tls_reports.sql`): per UTC day, recipient domain and
//! policy the count of successful and failed sessions, the failure details (at most
//! [`MAX_FAILURE_ROWS`] distinct ones per domain and day: a hostile or broken domain with many
//! addresses cannot grow the table without bound; further failures are still counted in the
//! summary), and per report and URI what was sent. The store decides nothing: what a session
//! came to is [`crate::tlsrpt::result_of`]'s, when to retry is [`crate::tlsrpt::worker`]'s.

use std::net::IpAddr;

use sqlx::Row;

use super::{Store, StoreError};
use crate::tlsrpt::{PolicyType, ReportPolicy, ResultType, SessionRecord, SessionResult};

/// At most this many distinct failure details are kept per domain and day.
pub const MAX_FAILURE_ROWS: i64 = 100;

/// A policy's counts of one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayPolicy {
    /// The policy.
    pub policy: ReportPolicy,
    /// Sessions that negotiated TLS as required.
    pub successes: u64,
    /// Sessions that did not.
    pub failures: u64,
    /// The failure details kept.
    pub details: Vec<FailureRow>,
}

/// One failure detail with its count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureRow {
    /// The result type.
    pub result: ResultType,
    /// Our address, when known.
    pub sending_ip: Option<IpAddr>,
    /// The MX host.
    pub mx_host: String,
    /// Its address, when a connection was made.
    pub receiving_ip: Option<IpAddr>,
    /// The failure reason code.
    pub reason: String,
    /// How many sessions.
    pub sessions: u64,
}

/// The state of one day's report for one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// The UTC day.
    pub day: i64,
    /// The policy domain.
    pub domain: String,
    /// `report-id`, the same on every retry.
    pub report_id: String,
    /// `pending`, `done` or `no-rua`.
    pub state: String,
    /// Failed lookups of the domain's `_smtp._tls` record so far.
    pub lookups: u32,
}

/// The state of one report's sending to one URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendRow {
    /// The URI as [`crate::tlsrpt::discover::ReportUri::key`] writes it.
    pub uri: String,
    /// `pending`, `sent` or `failed`.
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: i64,
    /// When it was sent.
    pub sent_at: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
}

/// What one attempt to send a report to one URI came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Handed over (queued, or accepted by the HTTPS endpoint) at this time.
    Sent(i64),
    /// Failed; try again at `next_attempt_at`.
    Retry {
        /// Why.
        error: String,
        /// When.
        next_attempt_at: i64,
    },
    /// Failed for good.
    Failed(String),
}

fn json(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn ip_text(ip: Option<IpAddr>) -> String {
    ip.map(|i| i.to_string()).unwrap_or_default()
}

impl Store {
    /// Counts one session of `day` (a UTC day number).
    pub async fn record_tls_session(&self, day: i64, s: &SessionRecord) -> Result<(), StoreError> {
        let failed = matches!(s.result, SessionResult::Failure { .. });
        let mut tx = self.begin_immediate().await?;
        let policy: i64 = sqlx::query(
            "INSERT INTO tlsrpt_policies
                 (day, domain, policy_type, policy_strings, mx_hosts, successes, failures)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (day, domain, policy_type, policy_strings, mx_hosts) DO UPDATE SET
                 successes = tlsrpt_policies.successes + excluded.successes,
                 failures = tlsrpt_policies.failures + excluded.failures
             RETURNING id",
        )
        .bind(day)
        .bind(&s.policy.domain)
        .bind(s.policy.kind.code())
        .bind(json(&s.policy.strings)?)
        .bind(json(&s.policy.mx_hosts)?)
        .bind(i64::from(!failed))
        .bind(i64::from(failed))
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if let SessionResult::Failure { result, reason } = &s.result {
            let key = (
                result.code(),
                ip_text(s.sending_ip),
                &s.mx_host,
                ip_text(s.receiving_ip),
                reason,
            );
            let updated = sqlx::query(
                "UPDATE tlsrpt_failures SET sessions = sessions + 1
                 WHERE policy = $1 AND result_type = $2 AND sending_ip = $3 AND mx_host = $4
                   AND receiving_ip = $5 AND reason = $6",
            )
            .bind(policy)
            .bind(key.0)
            .bind(&key.1)
            .bind(key.2)
            .bind(&key.3)
            .bind(key.4)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let kept: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM tlsrpt_failures f JOIN tlsrpt_policies p ON p.id = f.policy
                 WHERE p.day = $1 AND p.domain = $2",
            )
            .bind(day)
            .bind(&s.policy.domain)
            .fetch_one(&mut *tx)
            .await?;
            if updated == 0 && kept < MAX_FAILURE_ROWS {
                sqlx::query(
                    "INSERT INTO tlsrpt_failures (policy, result_type, sending_ip, mx_host,
                                                  receiving_ip, reason, sessions)
                     VALUES ($1, $2, $3, $4, $5, $6, 1)",
                )
                .bind(policy)
                .bind(key.0)
                .bind(&key.1)
                .bind(key.2)
                .bind(&key.3)
                .bind(key.4)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The days before `before_day` with results for a domain whose report was not started yet,
    /// oldest first.
    pub async fn tlsrpt_unreported(
        &self,
        before_day: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT p.day, p.domain FROM tlsrpt_policies p
             LEFT JOIN tlsrpt_reports r ON r.day = p.day AND r.domain = p.domain
             WHERE p.day < $1 AND r.day IS NULL ORDER BY p.day, p.domain",
        )
        .bind(before_day)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Starts the report of `day` for `domain` (pending, due at `now`) unless it was started.
    pub async fn tlsrpt_start_report(
        &self,
        day: i64,
        domain: &str,
        report_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tlsrpt_reports (day, domain, report_id, state, next_attempt_at)
             VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT DO NOTHING",
        )
        .bind(day)
        .bind(domain)
        .bind(report_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The pending reports due at `now`.
    pub async fn tlsrpt_due_reports(&self, now: i64) -> Result<Vec<ReportRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT day, domain, report_id, state, lookups FROM tlsrpt_reports
             WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY day, domain",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(report_row).collect()
    }

    /// Takes the pending report of `day` for `domain` if it is still due at `now`, so that no
    /// other pass (another process, `sendguard tlsrpt send-now`) works on it before `until`;
    /// whether it was taken.
    pub async fn tlsrpt_claim_report(
        &self,
        day: i64,
        domain: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "UPDATE tlsrpt_reports SET next_attempt_at = $1
             WHERE day = $2 AND domain = $3 AND state = 'pending' AND next_attempt_at <= $4",
        )
        .bind(until)
        .bind(day)
        .bind(domain)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    /// Every report of `domain`, oldest first (tests and the admin).
    pub async fn tlsrpt_reports(&self, domain: &str) -> Result<Vec<ReportRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT day, domain, report_id, state, lookups FROM tlsrpt_reports
             WHERE domain = $1 ORDER BY day",
        )
        .bind(domain)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(report_row).collect()
    }

    /// Sets a report's state (`pending`, `done`, `no-rua`), when it is due next, and the last
    /// error; `lookup_failed` counts a failed lookup of the domain's record.
    pub async fn tlsrpt_report_state(
        &self,
        day: i64,
        domain: &str,
        state: &str,
        next_attempt_at: i64,
        error: Option<&str>,
        lookup_failed: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tlsrpt_reports SET state = $1, next_attempt_at = $2, last_error = $3,
                 lookups = lookups + $4
             WHERE day = $5 AND domain = $6",
        )
        .bind(state)
        .bind(next_attempt_at)
        .bind(error)
        .bind(i64::from(lookup_failed))
        .bind(day)
        .bind(domain)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// What `domain` showed on `day`, policy by policy.
    pub async fn tlsrpt_day(&self, day: i64, domain: &str) -> Result<Vec<DayPolicy>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, policy_type, policy_strings, mx_hosts, successes, failures
             FROM tlsrpt_policies WHERE day = $1 AND domain = $2 ORDER BY id",
        )
        .bind(day)
        .bind(domain)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get(0)?;
            let kind: String = r.try_get(1)?;
            let strings: String = r.try_get(2)?;
            let mx: String = r.try_get(3)?;
            let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
            out.push(DayPolicy {
                policy: ReportPolicy {
                    kind: PolicyType::from_code(&kind)
                        .ok_or_else(|| corrupt(&format!("policy type {kind:?}")))?,
                    domain: domain.to_string(),
                    strings: serde_json::from_str(&strings).map_err(|e| corrupt(&e))?,
                    mx_hosts: serde_json::from_str(&mx).map_err(|e| corrupt(&e))?,
                },
                successes: r.try_get::<i64, _>(4)?.max(0) as u64,
                failures: r.try_get::<i64, _>(5)?.max(0) as u64,
                details: self.tlsrpt_failures(id).await?,
            });
        }
        Ok(out)
    }

    async fn tlsrpt_failures(&self, policy: i64) -> Result<Vec<FailureRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT result_type, sending_ip, mx_host, receiving_ip, reason, sessions
             FROM tlsrpt_failures WHERE policy = $1 ORDER BY id",
        )
        .bind(policy)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let code: String = r.try_get(0)?;
                let ip = |i: usize| -> Result<Option<IpAddr>, StoreError> {
                    let text: String = r.try_get(i)?;
                    Ok(text.parse().ok())
                };
                Ok(FailureRow {
                    result: ResultType::from_code(&code)
                        .ok_or_else(|| StoreError::Corrupt(format!("result type {code:?}")))?,
                    sending_ip: ip(1)?,
                    mx_host: r.try_get(2)?,
                    receiving_ip: ip(3)?,
                    reason: r.try_get(4)?,
                    sessions: r.try_get::<i64, _>(5)?.max(0) as u64,
                })
            })
            .collect()
    }

    /// Adds the URIs a report goes to (those already there are kept as they are), due at `now`.
    pub async fn tlsrpt_add_sends(
        &self,
        day: i64,
        domain: &str,
        uris: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        for uri in uris {
            sqlx::query(
                "INSERT INTO tlsrpt_sends (day, domain, uri, state, next_attempt_at)
                 VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT DO NOTHING",
            )
            .bind(day)
            .bind(domain)
            .bind(uri)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Where the report of `day` for `domain` goes, and how far each got.
    pub async fn tlsrpt_sends(&self, day: i64, domain: &str) -> Result<Vec<SendRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT uri, state, attempts, next_attempt_at, sent_at, last_error FROM tlsrpt_sends
             WHERE day = $1 AND domain = $2 ORDER BY uri",
        )
        .bind(day)
        .bind(domain)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SendRow {
                    uri: r.try_get(0)?,
                    state: r.try_get(1)?,
                    attempts: r.try_get::<i64, _>(2)?.clamp(0, i64::from(u32::MAX)) as u32,
                    next_attempt_at: r.try_get(3)?,
                    sent_at: r.try_get(4)?,
                    last_error: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Records one attempt to send a report to `uri`.
    pub async fn tlsrpt_send_result(
        &self,
        day: i64,
        domain: &str,
        uri: &str,
        outcome: &SendOutcome,
    ) -> Result<(), StoreError> {
        let (state, next, sent_at, error) = match outcome {
            SendOutcome::Sent(at) => ("sent", *at, Some(*at), None),
            SendOutcome::Retry {
                error,
                next_attempt_at,
            } => ("pending", *next_attempt_at, None, Some(error.as_str())),
            SendOutcome::Failed(error) => ("failed", 0, None, Some(error.as_str())),
        };
        sqlx::query(
            "UPDATE tlsrpt_sends SET state = $1, attempts = attempts + 1, next_attempt_at = $2,
                 sent_at = $3, last_error = $4
             WHERE day = $5 AND domain = $6 AND uri = $7 AND state = 'pending'",
        )
        .bind(state)
        .bind(next)
        .bind(sent_at)
        .bind(error)
        .bind(day)
        .bind(domain)
        .bind(uri)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes the results and reports of days before `before_day`.
    pub async fn tlsrpt_prune(&self, before_day: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        sqlx::query("DELETE FROM tlsrpt_policies WHERE day < $1")
            .bind(before_day)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tlsrpt_reports WHERE day < $1")
            .bind(before_day)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn report_row(r: &sqlx::any::AnyRow) -> Result<ReportRow, StoreError> {
    Ok(ReportRow {
        day: r.try_get(0)?,
        domain: r.try_get(1)?,
        report_id: r.try_get(2)?,
        state: r.try_get(3)?,
        lookups: r.try_get::<i64, _>(4)?.clamp(0, i64::from(u32::MAX)) as u32,
    })
}
