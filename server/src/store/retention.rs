//! Retention: observations older than the operator's setting (`--keep-observations DAYS`) are
//! deleted, except what the memory still needs: every server's floor and best level stay (they
//! live in `servers` and `domains`, which are never pruned), and so do the evidence of every hold
//! (its before and after observations), each server's last observation (the "before" of the
//! next downgrade), and the whole latest probe of each domain (its verdict). Probes left without
//! observations and certificates no longer in any chain go with them.
//!
//! One `BEGIN IMMEDIATE` transaction, so a pruning never races a probe's write; it changes no
//! verdict, so the store's generation is not raised. `serve` and `demo` run it at start and
//! then every [`PRUNE_EVERY`] ([`spawn_pruning`]).

use std::time::Duration;

use super::{Store, StoreError};

/// How often `serve` and `demo` prune.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The old observations that are not kept (the module documentation says which are), found
/// from the index on `at` (migration 0013), each checked by index lookups (its host's last
/// observation, its domain's latest probe) and against the holds' evidence: no statement reads
/// every row, so a sweep that finds little to delete costs little however many rows are kept
/// (issue 15: at 1,000,000 observations the sweep read them all, over a second holding the
/// write lock).
const DOOMED: &str = "
    SELECT o.id FROM observations o
    WHERE o.at < $1
      AND o.id <> (SELECT MAX(l.id) FROM observations l WHERE l.host = o.host)
      AND o.probe_id <> (SELECT MAX(q.id) FROM probes q WHERE q.domain = o.domain)
      AND o.id NOT IN (SELECT after_observation FROM holds)
      AND o.id NOT IN (SELECT before_observation FROM holds WHERE before_observation IS NOT NULL)";

/// Old probes left without observations, except each domain's latest.
const EMPTY: &str = "
    SELECT p.id FROM probes p
    WHERE p.at < $1
      AND p.id <> (SELECT MAX(q.id) FROM probes q WHERE q.domain = p.domain)
      AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.probe_id = p.id)";

/// The statements of one pruning, children first (the foreign keys are enforced); each uses
/// `$1`, the time before which observations are old, except the last.
pub(super) fn statements() -> [String; 5] {
    [
        format!("DELETE FROM observation_chain WHERE observation_id IN ({DOOMED})"),
        format!("DELETE FROM observations WHERE id IN ({DOOMED})"),
        format!("DELETE FROM probe_hosts WHERE probe_id IN ({EMPTY})"),
        format!("DELETE FROM probes WHERE id IN ({EMPTY})"),
        // Read whole, but only after a chain went (below).
        "DELETE FROM certificates WHERE sha256 NOT IN (SELECT cert_sha256 FROM observation_chain)"
            .to_string(),
    ]
}

/// What one pruning deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Observations deleted.
    pub observations: u64,
    /// Probes deleted (none of their observations was left).
    pub probes: u64,
    /// Certificates deleted (no longer in any observation's chain).
    pub certificates: u64,
}

impl Store {
    /// Deletes the observations made before `before` (seconds since the Unix epoch) that are
    /// not kept (see the module documentation), the probes left empty and the certificates
    /// left unused.
    pub async fn prune_observations(&self, before: i64) -> Result<Pruned, StoreError> {
        let mut tx = self.begin_immediate().await?;
        let mut deleted = [0u64; 5];
        for (n, sql) in statements().into_iter().enumerate() {
            // A certificate becomes unused only when a chain goes.
            if n == 4 && deleted[0] == 0 {
                break;
            }
            // Built from the constants above only; the one value is bound where it is used
            // (PostgreSQL refuses a value for a statement without a placeholder).
            let uses_before = sql.contains("$1");
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            if uses_before {
                query = query.bind(before);
            }
            deleted[n] = query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(Pruned {
            observations: deleted[1],
            probes: deleted[3],
            certificates: deleted[4],
        })
    }

    /// Prunes what is older than `keep` ([`Store::prune_observations`]), as of now.
    pub async fn prune_older_than(&self, keep: Duration) -> Result<Pruned, StoreError> {
        let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
        self.prune_observations(crate::probe::now_unix().saturating_sub(keep))
            .await
    }
}

/// Prunes what is older than `keep` now and then every [`PRUNE_EVERY`], until the task is
/// aborted; a failed pruning is logged and tried again at the next turn.
pub fn spawn_pruning(store: Store, keep: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        loop {
            every.tick().await;
            match store.prune_older_than(keep).await {
                Ok(p) if p == Pruned::default() => {}
                Ok(p) => tracing::info!(
                    observations = p.observations,
                    probes = p.probes,
                    certificates = p.certificates,
                    "pruned old observations"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot prune old observations"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    /// Every table a sweep reads that grows with the observations, under the names the
    /// statements give them.
    const LARGE: [&str; 8] = [
        "observations",
        "probes",
        "observation_chain",
        "probe_hosts",
        "o",
        "l",
        "p",
        "q",
    ];

    #[tokio::test]
    async fn a_sweep_reads_no_large_table_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).await.unwrap();
        // The last statement (certificates) runs only when a chain was deleted.
        for sql in &statements()[..4] {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
            if sql.contains("$1") {
                query = query.bind(0i64);
            }
            let rows = query.fetch_all(store.pool()).await.unwrap();
            for r in rows {
                let detail: String = r.try_get("detail").unwrap();
                let scanned = detail
                    .strip_prefix("SCAN ")
                    .and_then(|t| t.split(' ').next());
                assert!(
                    scanned.is_none_or(|t| !LARGE.contains(&t)),
                    "{detail} in the plan of {sql}"
                );
            }
        }
        store.close().await;
    }
}
