//! MTA-STS in the store (migration 0008): the persistent policy cache behind
//! [`crate::mta_sts::PolicyCache`] (RFC 8461 §5.1: kept across restarts until max_age runs out),
//! and the policy each probe's judgement was made with, so a judgement read back (for the
//! badge, the Postfix policy table, a delivery's plan) is the one that was made.

use futures::future::BoxFuture;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};
use crate::mta_sts::{CachedPolicy, Mode, MxPattern, Policy, PolicyCache};
use crate::policy::{StsApplied, StsState};

/// MX patterns as stored (space-separated) back into patterns; a stored pattern that no longer
/// parses is a corrupt row.
fn patterns(text: &str) -> Result<Vec<MxPattern>, StoreError> {
    text.split_whitespace()
        .map(|p| {
            MxPattern::parse(p)
                .map_err(|e| super::judgements::corrupt(format!("MTA-STS pattern: {e}")))
        })
        .collect()
}

fn joined(mx: &[MxPattern]) -> String {
    let list: Vec<&str> = mx.iter().map(MxPattern::as_str).collect();
    list.join(" ")
}

fn mode(text: &str) -> Result<Mode, StoreError> {
    Mode::parse(text).ok_or_else(|| super::judgements::corrupt(format!("MTA-STS mode {text:?}")))
}

impl Store {
    /// The cached MTA-STS policy of `domain`, expired or not.
    pub async fn mta_sts_policy(&self, domain: &str) -> Result<Option<CachedPolicy>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM mta_sts_policies WHERE domain = $1")
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let max_age: i64 = row.try_get("max_age")?;
        Ok(Some(CachedPolicy {
            id: row.try_get("policy_id")?,
            policy: Policy {
                mode: mode(&row.try_get::<String, _>("mode")?)?,
                mx: patterns(&row.try_get::<String, _>("mx")?)?,
                max_age: u64::try_from(max_age).unwrap_or(0),
            },
            fetched_at: row.try_get("fetched_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    /// Caches `policy` as `domain`'s, replacing what was cached.
    pub async fn put_mta_sts_policy(
        &self,
        domain: &str,
        policy: &CachedPolicy,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mta_sts_policies (domain, policy_id, mode, mx, max_age, fetched_at,
                expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id,
                mode = excluded.mode, mx = excluded.mx, max_age = excluded.max_age,
                fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
        )
        .bind(domain)
        .bind(&policy.id)
        .bind(policy.policy.mode.as_str())
        .bind(joined(&policy.policy.mx))
        .bind(i64::try_from(policy.policy.max_age).unwrap_or(i64::MAX))
        .bind(policy.fetched_at)
        .bind(policy.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl PolicyCache for Store {
    fn load<'a>(&'a self, domain: &'a str) -> BoxFuture<'a, Result<Option<CachedPolicy>, String>> {
        Box::pin(async move { self.mta_sts_policy(domain).await.map_err(|e| e.to_string()) })
    }

    fn save<'a>(
        &'a self,
        domain: &'a str,
        policy: &'a CachedPolicy,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.put_mta_sts_policy(domain, policy)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Writes the MTA-STS part of a judgement into its probe row.
pub(super) async fn write_probe_sts(
    conn: &mut AnyConnection,
    probe_id: i64,
    sts: &StsState,
) -> Result<(), StoreError> {
    if sts == &StsState::default() {
        return Ok(());
    }
    let p = sts.policy.as_ref();
    sqlx::query(
        "UPDATE probes SET sts_mode = $1, sts_mx = $2, sts_id = $3, sts_expires = $4,
            sts_problem = $5, sts_downgrade = $6 WHERE id = $7",
    )
    .bind(p.map(|p| p.mode.as_str()))
    .bind(p.map(|p| joined(&p.mx)))
    .bind(p.map(|p| p.id.as_str()))
    .bind(p.map(|p| p.expires_at))
    .bind(sts.problem.as_deref())
    .bind(i64::from(sts.downgrade))
    .bind(probe_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The MTA-STS part of a judgement from its probe row.
pub(super) fn read_probe_sts(row: &AnyRow) -> Result<StsState, StoreError> {
    let policy = match row.try_get::<Option<String>, _>("sts_mode")? {
        None => None,
        Some(m) => Some(StsApplied {
            mode: mode(&m)?,
            mx: patterns(
                &row.try_get::<Option<String>, _>("sts_mx")?
                    .unwrap_or_default(),
            )?,
            id: row
                .try_get::<Option<String>, _>("sts_id")?
                .unwrap_or_default(),
            expires_at: row.try_get::<Option<i64>, _>("sts_expires")?.unwrap_or(0),
        }),
    };
    Ok(StsState {
        policy,
        problem: row.try_get("sts_problem")?,
        downgrade: row
            .try_get::<Option<i64>, _>("sts_downgrade")?
            .map(|n| n != 0)
            .unwrap_or(false),
    })
}
