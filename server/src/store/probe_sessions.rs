//! The session ledger in the store (migration 0011): the table `probe_sessions` behind
//! [`crate::probe::ledger::SessionLedger`], so that every instance on one database (SQLite, or
//! PostgreSQL shared by a cluster) contacts a server once within the re-contact interval.
//!
//! One row per server (host name and address). A claim is one statement: insert the row, or
//! take it over when the other instance's claim has run out and no session recent enough is
//! stored (`INSERT .. ON CONFLICT .. DO UPDATE .. WHERE .. RETURNING`, atomic in both engines);
//! no row comes back when the server is someone else's. Storing a session ends this instance's
//! claim. Rows whose session and claim are both older than the interval are deleted while
//! storing, at most once per interval per instance. Nothing here decides whether to contact:
//! that is the prober's.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::Row;

use super::{Store, StoreError};
use crate::probe::ledger::{Claim, SessionLedger};

/// This instance's view of the session ledger in a [`Store`]: the store, the name its claims
/// carry (random, new for each ledger) and how long sessions are kept.
#[derive(Debug)]
pub struct StoreLedger {
    store: Store,
    instance: String,
    keep_ms: i64,
    pruned_at: AtomicI64,
}

impl StoreLedger {
    /// The ledger in `store` for one instance, keeping sessions `keep` long (the prober's
    /// minimum re-contact interval).
    pub fn new(store: Store, keep: Duration) -> Self {
        let mut bytes = [0u8; 12];
        let instance = match getrandom::fill(&mut bytes) {
            Ok(()) => hex::encode(bytes),
            // Without randomness the process id and the time still tell instances apart.
            Err(_) => format!(
                "{}-{}",
                std::process::id(),
                crate::probe::now_unix().unsigned_abs()
            ),
        };
        Self {
            store,
            instance,
            keep_ms: i64::try_from(keep.as_millis()).unwrap_or(i64::MAX),
            pruned_at: AtomicI64::new(0),
        }
    }

    /// The name this instance's claims carry.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The session with `host` at `ip` stored at `since` or later (milliseconds).
    pub async fn recent(
        &self,
        host: &str,
        ip: IpAddr,
        since: i64,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT raw FROM probe_sessions
             WHERE host = $1 AND ip = $2 AND at >= $3 AND raw IS NOT NULL",
        )
        .bind(host)
        .bind(ip.to_string())
        .bind(since)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.map(|r| r.try_get::<String, _>("raw")).transpose()?)
    }

    /// Claims `host` at `ip` for this instance ([`SessionLedger::claim`]).
    pub async fn claim(&self, host: &str, ip: IpAddr, claim: Claim) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "INSERT INTO probe_sessions (host, ip, claimed_by, claimed_until)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (host, ip) DO UPDATE
                SET claimed_by = excluded.claimed_by, claimed_until = excluded.claimed_until
                WHERE (probe_sessions.claimed_until < $5 OR probe_sessions.claimed_by = $3)
                  AND (probe_sessions.at IS NULL OR probe_sessions.at < $6)
             RETURNING claimed_by",
        )
        .bind(host)
        .bind(ip.to_string())
        .bind(&self.instance)
        .bind(claim.until)
        .bind(claim.now)
        .bind(claim.since)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Stores the session with `host` at `ip` that ended at `at` (milliseconds), ending this
    /// instance's claim; prunes old rows now and then.
    pub async fn put(&self, host: &str, ip: IpAddr, at: i64, raw: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO probe_sessions (host, ip, claimed_by, claimed_until, at, raw)
             VALUES ($1, $2, $3, 0, $4, $5)
             ON CONFLICT (host, ip) DO UPDATE SET at = excluded.at, raw = excluded.raw,
                claimed_until = CASE WHEN probe_sessions.claimed_by = excluded.claimed_by
                                     THEN 0 ELSE probe_sessions.claimed_until END",
        )
        .bind(host)
        .bind(ip.to_string())
        .bind(&self.instance)
        .bind(at)
        .bind(raw)
        .execute(self.store.pool())
        .await?;
        let last = self.pruned_at.load(Ordering::Relaxed);
        if at.saturating_sub(last) >= self.keep_ms
            && self
                .pruned_at
                .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.prune(at.saturating_sub(self.keep_ms)).await?;
        }
        Ok(())
    }

    /// Deletes the rows whose session and claim both ended before `before` (milliseconds);
    /// how many.
    pub async fn prune(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM probe_sessions
             WHERE claimed_until < $1 AND (at IS NULL OR at < $1)",
        )
        .bind(before)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

impl SessionLedger for StoreLedger {
    fn recent<'a>(
        &'a self,
        host: &'a str,
        ip: IpAddr,
        since: i64,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            StoreLedger::recent(self, host, ip, since)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn claim<'a>(
        &'a self,
        host: &'a str,
        ip: IpAddr,
        claim: Claim,
    ) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            StoreLedger::claim(self, host, ip, claim)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn put<'a>(
        &'a self,
        host: &'a str,
        ip: IpAddr,
        at: i64,
        session: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            StoreLedger::put(self, host, ip, at, session)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
