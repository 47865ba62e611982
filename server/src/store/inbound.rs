//! Inbound observations: the TLS a sending server used on a connection to us (seen by the
//! inbound policy service), stored as history of that server with `source = inbound`. They sit
//! under a probe row with no recipient domain (`''`) and no MX outcome, so no verdict reads them
//! and no floor or hold follows from them (a server's TLS as a client says nothing of what it
//! offers as a receiving MX); they are pruned like every other observation.

use sendguard_common::ObservationSource;

use super::{Store, StoreError, judgements};
use crate::policy::DomainJudgement;

impl Store {
    /// Records the judged connection `j` (one host, one address). Does not raise the
    /// generation: no verdict changes.
    pub async fn record_inbound(&self, j: &DomainJudgement) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        let count: usize = j.hosts.iter().map(|h| h.endpoints.len()).sum();
        let probe_id: i64 = sqlx::query_scalar(
            "INSERT INTO probes (domain, at, source, observation_count) VALUES ('', $1, $2, $3)
             RETURNING id",
        )
        .bind(j.checked_at)
        .bind(ObservationSource::Inbound.as_str())
        .bind(count as i64)
        .fetch_one(&mut *tx)
        .await?;
        judgements::insert_hosts(&mut tx, probe_id, j, ObservationSource::Inbound).await?;
        tx.commit().await?;
        Ok(())
    }
}
