//! Reading what is remembered: a domain's verdict (its latest judgement viewed with its hosts'
//! history, read in one transaction), a server's history and observations, the holds with their
//! evidence; and an administrator's decision to keep a hold, which changes no floor.

use std::collections::HashMap;

use sendguard_common::{
    DaneStatus, DnssecStatus, DomainVerdict, HoldStatus, HoldView, ObservationSource,
    ObservationView, SecurityClass, ServerHistory,
};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::write::{audit, bump_generation, host_record, host_records};
use super::{MAX_OBSERVATIONS, OPEN, Store, StoreError, judgements};
use crate::policy::{Level, class_of};

/// What is remembered of one domain: the latest judgement with its history.
#[derive(Clone, Debug)]
pub struct Remembered {
    /// The latest judgement.
    pub judgement: crate::policy::DomainJudgement,
    /// What is remembered of its hosts.
    pub history: std::collections::BTreeMap<String, crate::policy::HostRecord>,
    /// The domain's floor over its MX set.
    pub domain_floor: Option<Level>,
}

impl Remembered {
    /// The verdict the badge shows.
    pub fn verdict(&self) -> DomainVerdict {
        crate::policy::view::verdict(&self.judgement, &self.history)
    }

    /// What a delivery does now ([`crate::policy::plan`]), for a sender with the minimum
    /// `secure` or none.
    pub fn plan(
        &self,
        secure: Option<sendguard_common::TransportRequirement>,
    ) -> crate::policy::DomainPlan {
        self.plan_with(&self.verdict(), secure)
    }

    /// [`Remembered::plan`] with the verdict already made of this judgement and history.
    pub fn plan_with(
        &self,
        verdict: &DomainVerdict,
        secure: Option<sendguard_common::TransportRequirement>,
    ) -> crate::policy::DomainPlan {
        crate::policy::plan(
            &self.judgement,
            verdict,
            &self.history,
            self.domain_floor,
            secure,
        )
    }
}

impl Store {
    /// The latest verdict of `domain`: its stored judgement viewed with what is remembered of
    /// its hosts. Read in one transaction, so the judgement and the history belong together: a
    /// probe committing in between cannot pair the old facts with its new hold.
    pub async fn verdict(&self, domain: &str) -> Result<Option<DomainVerdict>, StoreError> {
        let mut tx = self.begin_read().await?;
        let Some(j) = judgements::latest(&mut tx, domain).await? else {
            return Ok(None);
        };
        let history = host_records(&mut tx, &j).await?;
        tx.commit().await?;
        Ok(Some(crate::policy::view::verdict(&j, &history)))
    }

    /// What is remembered of `domain` for a decision without probing (the Postfix policy
    /// table): its latest judgement, its hosts' history and its floor, read in one transaction.
    pub async fn remembered(&self, domain: &str) -> Result<Option<Remembered>, StoreError> {
        let mut tx = self.begin_read().await?;
        let Some(judgement) = judgements::latest(&mut tx, domain).await? else {
            return Ok(None);
        };
        let history = host_records(&mut tx, &judgement).await?;
        let floor: Option<Option<i64>> =
            sqlx::query_scalar("SELECT floor_level FROM domains WHERE domain = $1")
                .bind(domain)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(Some(Remembered {
            judgement,
            history,
            domain_floor: floor.flatten().and_then(Level::from_i64),
        }))
    }

    /// The verdicts of those of `domains` that are known, read in one transaction (the latest
    /// probes in one query); in no particular order.
    pub async fn verdicts(&self, domains: &[String]) -> Result<Vec<DomainVerdict>, StoreError> {
        let mut tx = self.begin_read().await?;
        let judgements = judgements::latest_of_each(&mut tx, domains).await?;
        let mut verdicts = Vec::with_capacity(judgements.len());
        for j in &judgements {
            let history = host_records(&mut tx, j).await?;
            verdicts.push(crate::policy::view::verdict(j, &history));
        }
        tx.commit().await?;
        Ok(verdicts)
    }

    /// The generation of what is remembered: raised by every committed write (probe, release,
    /// keep) from any process, so a cache of verdicts can tell that it is out of date.
    pub async fn generation(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM generation WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Shows that the database takes a write now (for `/api/ready`): a write transaction that
    /// rewrites the generation with its own value, committed, so readers see no change.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        sqlx::query("UPDATE generation SET value = value WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// What is remembered of one server.
    pub async fn server_history(&self, host: &str) -> Result<Option<ServerHistory>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(host_record(&mut conn, host)
            .await?
            .map(|r| r.server_history("")))
    }

    /// The observations of one server, newest first, at most `limit` (capped at
    /// [`MAX_OBSERVATIONS`]).
    pub async fn observations(
        &self,
        host: &str,
        limit: u32,
    ) -> Result<Vec<ObservationView>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM observations WHERE host = $1 ORDER BY id DESC LIMIT $2")
                .bind(host)
                .bind(i64::from(limit.min(MAX_OBSERVATIONS)))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(observation_view).collect()
    }

    /// Holds, newest first: the open ones (held or kept), or with `all` every one ever raised.
    pub async fn holds(&self, all: bool) -> Result<Vec<HoldView>, StoreError> {
        let filter = if all { "TRUE" } else { OPEN };
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM holds WHERE {filter} ORDER BY id DESC"
        )))
        .fetch_all(&self.pool)
        .await?;
        self.holds_by_id(&ids).await
    }

    /// Every hold of one server, newest first.
    pub async fn holds_of(&self, host: &str) -> Result<Vec<HoldView>, StoreError> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM holds WHERE host = $1 ORDER BY id DESC")
                .bind(host)
                .fetch_all(&self.pool)
                .await?;
        self.holds_by_id(&ids).await
    }

    /// How many holds are open.
    pub async fn open_hold_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM holds WHERE {OPEN}"
        )))
        .fetch_one(&self.pool)
        .await?)
    }

    /// Keeps delivery to `host` stopped: its open holds become `kept` (still blocking).
    pub async fn keep(&self, host: &str, actor: &str) -> Result<Vec<HoldView>, StoreError> {
        let now = crate::probe::now_unix();
        let mut tx = self.begin_immediate().await?;
        let conn: &mut AnyConnection = &mut tx;
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM holds WHERE host = $1 AND {OPEN}"
        )))
        .bind(host)
        .fetch_all(&mut *conn)
        .await?;
        if ids.is_empty() {
            return Err(StoreError::NoOpenHold(host.to_string()));
        }
        sqlx::query(
            "UPDATE holds SET status = 'kept', decided_by = $1, decided_at = $2
             WHERE host = $3 AND status = 'held'",
        )
        .bind(actor)
        .bind(now)
        .bind(host)
        .execute(&mut *conn)
        .await?;
        audit(conn, now, actor, "keep", host, "delivery stays stopped").await?;
        bump_generation(conn, &self.change(None)).await?;
        tx.commit().await?;
        self.holds_by_id(&ids).await
    }

    /// The holds with these ids, in this order, each with its evidence; ids that name no hold
    /// are skipped. A few statements in all, not a few per hold: the holds, then their
    /// observations, each read [`ID_CHUNK`] ids at a time.
    pub async fn holds_by_id(&self, ids: &[i64]) -> Result<Vec<HoldView>, StoreError> {
        let rows = self.rows_by_id("holds", ids).await?;
        let mut wanted = Vec::with_capacity(2 * rows.len());
        for r in rows.values() {
            wanted.extend(r.try_get::<Option<i64>, _>("before_observation")?);
            wanted.push(r.try_get::<i64, _>("after_observation")?);
        }
        let mut observations = HashMap::with_capacity(wanted.len());
        for (oid, r) in self.rows_by_id("observations", &wanted).await? {
            observations.insert(oid, observation_view(&r)?);
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = rows.get(id) {
                out.push(hold_view(*id, r, &observations)?);
            }
        }
        Ok(out)
    }

    /// The rows of `table` (`holds` or `observations`) with these ids, by id.
    async fn rows_by_id(
        &self,
        table: &'static str,
        ids: &[i64],
    ) -> Result<HashMap<i64, AnyRow>, StoreError> {
        let mut rows = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("SELECT * FROM {table} WHERE id IN ({})", marks.join(", "));
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            for r in query.fetch_all(&self.pool).await? {
                rows.insert(r.try_get::<i64, _>("id")?, r);
            }
        }
        Ok(rows)
    }
}

/// At most this many ids in one `IN (...)` list (SQLite allows 32,766 parameters, PostgreSQL
/// 65,535).
const ID_CHUNK: usize = 500;

/// The view of hold `id` (row `r`), its evidence looked up in `observations`.
fn hold_view(
    id: i64,
    r: &AnyRow,
    observations: &HashMap<i64, ObservationView>,
) -> Result<HoldView, StoreError> {
    let before = r
        .try_get::<Option<i64>, _>("before_observation")?
        .and_then(|oid| observations.get(&oid).cloned());
    let after_id: i64 = r.try_get("after_observation")?;
    let after = observations
        .get(&after_id)
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("hold {id}: observation {after_id} missing")))?;
    let status: String = r.try_get("status")?;
    Ok(HoldView {
        host: r.try_get("host")?,
        since: r.try_get("since")?,
        status: wire(&status, HoldStatus::parse)?,
        floor: class_of(
            r.try_get::<Option<i64>, _>("floor_level")?
                .and_then(Level::from_i64),
        ),
        before,
        after,
        reason: r.try_get("reason")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
    })
}

fn observation_view(r: &AnyRow) -> Result<ObservationView, StoreError> {
    let text = |c: &str| r.try_get::<String, _>(c);
    Ok(ObservationView {
        at: r.try_get("at")?,
        domain: text("domain")?,
        host: text("host")?,
        ip: text("ip")?,
        starttls: super::flag(r, "starttls")?,
        tls_version: r.try_get("tls_version")?,
        cipher: r.try_get("cipher")?,
        cert_sha256: r.try_get("cert_sha256")?,
        dane: wire(&text("dane")?, DaneStatus::parse)?,
        dnssec: wire(&text("dnssec")?, DnssecStatus::parse)?,
        class: wire(&text("class")?, SecurityClass::parse)?,
        source: wire(&text("source")?, ObservationSource::parse)?,
        reason: text("reason")?,
    })
}

/// A stored wire name read back, or a clear error when the row is damaged.
fn wire<T>(text: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown stored value {text:?}")))
}
