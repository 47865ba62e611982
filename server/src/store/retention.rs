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

/// The observations that are kept whatever their age.
const KEPT: &str = "
    SELECT MAX(id) FROM observations GROUP BY host
    UNION SELECT before_observation FROM holds WHERE before_observation IS NOT NULL
    UNION SELECT after_observation FROM holds
    UNION SELECT id FROM observations
          WHERE probe_id IN (SELECT MAX(id) FROM probes GROUP BY domain)";

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
        let doomed = format!("SELECT id FROM observations WHERE at < $1 AND id NOT IN ({KEPT})");
        let empty = "SELECT p.id FROM probes p WHERE p.at < $1
             AND p.id NOT IN (SELECT MAX(id) FROM probes GROUP BY domain)
             AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.probe_id = p.id)";
        // Children first: the foreign keys are enforced.
        let steps = [
            format!("DELETE FROM observation_chain WHERE observation_id IN ({doomed})"),
            format!("DELETE FROM observations WHERE id IN ({doomed})"),
            format!("DELETE FROM probe_hosts WHERE probe_id IN ({empty})"),
            format!("DELETE FROM probes WHERE id IN ({empty})"),
            "DELETE FROM certificates
             WHERE sha256 NOT IN (SELECT cert_sha256 FROM observation_chain)"
                .to_string(),
        ];
        let mut deleted = [0u64; 5];
        for (sql, n) in steps.into_iter().zip(&mut deleted) {
            // Built from the constants above only; the one value is bound where it is used
            // (PostgreSQL refuses a value for a statement without a placeholder).
            let uses_before = sql.contains("$1");
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            if uses_before {
                query = query.bind(before);
            }
            *n = query.execute(&mut *tx).await?.rows_affected();
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
