//! Observations, floors and holds: recording a probe (judged against what is remembered by
//! [`crate::policy::history`]), reading verdicts with their history back, and the
//! administrators' release and keep decisions.

use std::collections::{BTreeMap, BTreeSet};

use sendguard_common::{
    DomainVerdict, HoldStatus, HoldView, ObservationSource, ObservationView, ServerHistory,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{MAX_OBSERVATIONS, Store, StoreError, enum_text, parse_enum};
use crate::policy::history::{
    self, HostRecord, HostState, Level, OpenHold, Prior, class_of, released_floor,
};
use crate::probe::facts::DomainFacts;

/// What recording a probe did.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The probe's row id.
    pub probe_id: i64,
    /// The verdict with history applied.
    pub verdict: DomainVerdict,
    /// Holds raised by this probe.
    pub new_holds: Vec<HoldView>,
}

const OPEN: &str = "status IN ('held', 'kept')";

fn level_of(n: Option<i64>) -> Option<Level> {
    n.and_then(Level::from_i64)
}

impl Store {
    /// Records what a probe (or delivery) of one domain observed and judges it against what is
    /// remembered: floors rise, downgrades raise holds. All in one transaction.
    pub async fn record(
        &self,
        facts: &DomainFacts,
        source: ObservationSource,
    ) -> Result<Recorded, StoreError> {
        let base = crate::policy::verdict(facts);
        let observed = history::observe(facts);
        let at = facts.checked_at;
        let domain = facts.domain.as_str();
        let verdict_json = serde_json::to_string(&base)
            .map_err(|e| StoreError::Corrupt(format!("verdict: {e}")))?;
        let count: usize = observed.iter().map(|h| h.endpoints.len()).sum();

        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let conn: &mut SqliteConnection = &mut tx;

        let mut prior = Prior::default();
        for obs in &observed {
            if let Some(state) = host_state(conn, &obs.host).await? {
                prior.hosts.insert(obs.host.clone(), state);
            }
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT domain FROM holds WHERE host = ? AND {OPEN}"
            )))
            .bind(&obs.host)
            .fetch_all(&mut *conn)
            .await?;
            for r in rows {
                prior
                    .open_holds
                    .insert((obs.host.clone(), r.try_get::<Option<String>, _>("domain")?));
            }
        }
        let domain_row = sqlx::query("SELECT floor_level FROM domains WHERE domain = ?")
            .bind(domain)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(r) = &domain_row {
            prior.domain_floor = level_of(r.try_get("floor_level")?);
        }
        let previous: Vec<String> =
            sqlx::query_scalar("SELECT host FROM domain_hosts WHERE domain = ?")
                .bind(domain)
                .fetch_all(&mut *conn)
                .await?;
        prior.previous_mx = previous.into_iter().collect();

        let t = history::transition(domain, at, &prior, &observed);

        let source_text = enum_text(&source);
        let probe_id: i64 = sqlx::query_scalar(
            "INSERT INTO probes (domain, at, source, verdict_json, observation_count)
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(domain)
        .bind(at)
        .bind(&source_text)
        .bind(&verdict_json)
        .bind(count as i64)
        .fetch_one(&mut *conn)
        .await?;

        let mut ids: Vec<Vec<i64>> = Vec::new();
        for obs in &observed {
            let mut host_ids = Vec::new();
            for e in &obs.endpoints {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO observations (probe_id, at, domain, host, ip, starttls, tls_version,
                        cipher, cert_sha256, spki_sha256, dane, dnssec, class, level, outcome,
                        reason, source)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(probe_id)
                .bind(at)
                .bind(domain)
                .bind(&e.host)
                .bind(&e.ip)
                .bind(e.starttls)
                .bind(&e.tls_version)
                .bind(&e.cipher)
                .bind(&e.cert_sha256)
                .bind(&e.spki_sha256)
                .bind(enum_text(&e.dane))
                .bind(enum_text(&e.dnssec))
                .bind(enum_text(&class_of(e.level)))
                .bind(e.level.map(Level::as_i64))
                .bind(e.outcome.code())
                .bind(&e.reason)
                .bind(&source_text)
                .fetch_one(&mut *conn)
                .await?;
                host_ids.push(id);
            }
            ids.push(host_ids);
        }

        for (host, s) in &t.hosts {
            sqlx::query(
                "INSERT INTO servers (host, first_seen, last_seen, best_level, floor_level)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (host) DO UPDATE SET first_seen = excluded.first_seen,
                    last_seen = excluded.last_seen, best_level = excluded.best_level,
                    floor_level = excluded.floor_level",
            )
            .bind(host)
            .bind(s.first_seen)
            .bind(s.last_seen)
            .bind(s.best.map(Level::as_i64))
            .bind(s.floor.map(Level::as_i64))
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query(
            "INSERT INTO domains (domain, first_seen, last_seen, floor_level) VALUES (?, ?, ?, ?)
             ON CONFLICT (domain) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen),
                floor_level = excluded.floor_level",
        )
        .bind(domain)
        .bind(at)
        .bind(at)
        .bind(t.domain_floor.map(Level::as_i64))
        .execute(&mut *conn)
        .await?;
        if !observed.is_empty() {
            sqlx::query("DELETE FROM domain_hosts WHERE domain = ?")
                .bind(domain)
                .execute(&mut *conn)
                .await?;
            for obs in &observed {
                sqlx::query("INSERT OR IGNORE INTO domain_hosts (domain, host) VALUES (?, ?)")
                    .bind(domain)
                    .bind(&obs.host)
                    .execute(&mut *conn)
                    .await?;
            }
        }

        let first_of_probe = ids.iter().flatten().min().copied().unwrap_or(i64::MAX);
        let mut new_ids = Vec::new();
        for h in &t.holds {
            let evidence = &observed[h.host_index];
            let after = ids[h.host_index][evidence.weakest()];
            let before: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM observations WHERE host = ? AND level >= ? AND id < ?
                 ORDER BY id DESC LIMIT 1",
            )
            .bind(&h.host)
            .bind(h.floor.as_i64())
            .bind(first_of_probe)
            .fetch_optional(&mut *conn)
            .await?;
            let inserted = sqlx::query(
                "INSERT OR IGNORE INTO holds (host, domain, since, status, floor_level,
                    observed_level, before_observation, after_observation, reason)
                 VALUES (?, ?, ?, 'held', ?, ?, ?, ?, ?)",
            )
            .bind(&h.host)
            .bind(&h.domain)
            .bind(at)
            .bind(h.floor.as_i64())
            .bind(h.observed.as_i64())
            .bind(before)
            .bind(after)
            .bind(&h.reason)
            .execute(&mut *conn)
            .await?;
            if inserted.rows_affected() == 1 {
                new_ids.push(inserted.last_insert_rowid());
            }
        }
        // Judged with the history this transaction wrote, not with what a later probe may have
        // committed by the time it is read again.
        let verdict = with_history(&mut tx, base).await?;
        tx.commit().await?;

        let mut new_holds = Vec::new();
        for id in new_ids {
            if let Some(h) = self.hold_by_id(id).await? {
                new_holds.push(h);
            }
        }
        Ok(Recorded {
            probe_id,
            verdict,
            new_holds,
        })
    }

    /// The latest verdict of `domain` with history applied, and when it was observed. Read in
    /// one transaction, so the facts and the history belong together: a probe committing in
    /// between cannot pair the old facts with its new hold.
    pub async fn verdict(&self, domain: &str) -> Result<Option<DomainVerdict>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT verdict_json FROM probes WHERE domain = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(domain)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.try_get("verdict_json")?;
        let base: DomainVerdict = serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("verdict of {domain}: {e}")))?;
        let verdict = with_history(&mut tx, base).await?;
        tx.commit().await?;
        Ok(Some(verdict))
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
            sqlx::query("SELECT * FROM observations WHERE host = ? ORDER BY id DESC LIMIT ?")
                .bind(host)
                .bind(i64::from(limit.min(MAX_OBSERVATIONS)))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(observation_view).collect()
    }

    /// Holds, newest first: the open ones (held or kept), or with `all` every one ever raised.
    pub async fn holds(&self, all: bool) -> Result<Vec<HoldView>, StoreError> {
        let filter = if all { "1" } else { OPEN };
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM holds WHERE {filter} ORDER BY id DESC"
        )))
        .fetch_all(&self.pool)
        .await?;
        self.holds_by_ids(ids).await
    }

    /// Every hold of one server, newest first.
    pub async fn holds_of(&self, host: &str) -> Result<Vec<HoldView>, StoreError> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM holds WHERE host = ? ORDER BY id DESC")
                .bind(host)
                .fetch_all(&self.pool)
                .await?;
        self.holds_by_ids(ids).await
    }

    /// How many holds are open.
    pub async fn open_hold_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM holds WHERE {OPEN}"
        )))
        .fetch_one(&self.pool)
        .await?)
    }

    /// Releases every open hold of `host`: the level that fell short becomes the floor of the
    /// server and of the domains that use it. Recorded in the audit log as `actor`'s.
    pub async fn release(&self, host: &str, actor: &str) -> Result<Vec<HoldView>, StoreError> {
        let now = crate::probe::now_unix();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let conn: &mut SqliteConnection = &mut tx;
        let open = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, domain, observed_level FROM holds WHERE host = ? AND {OPEN}"
        )))
        .bind(host)
        .fetch_all(&mut *conn)
        .await?;
        if open.is_empty() {
            return Err(StoreError::NoOpenHold(host.to_string()));
        }
        let mut accepted: Option<Level> = None;
        let mut domains: BTreeSet<String> = BTreeSet::new();
        let mut ids = Vec::new();
        for r in &open {
            ids.push(r.try_get::<i64, _>("id")?);
            let level = level_of(r.try_get("observed_level")?)
                .ok_or_else(|| StoreError::Corrupt(format!("hold level of {host}")))?;
            accepted = Some(accepted.map_or(level, |a| a.min(level)));
            if let Some(d) = r.try_get::<Option<String>, _>("domain")? {
                domains.insert(d);
            }
        }
        let accepted = accepted.unwrap_or(Level::Plain);
        for id in &ids {
            sqlx::query(
                "UPDATE holds SET status = 'released', decided_by = ?, decided_at = ? WHERE id = ?",
            )
            .bind(actor)
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        if let Some(state) = host_state(conn, host).await? {
            let floor = released_floor(state.floor, accepted);
            sqlx::query("UPDATE servers SET floor_level = ? WHERE host = ?")
                .bind(floor.as_i64())
                .bind(host)
                .execute(&mut *conn)
                .await?;
        }
        let users: Vec<String> =
            sqlx::query_scalar("SELECT domain FROM domain_hosts WHERE host = ?")
                .bind(host)
                .fetch_all(&mut *conn)
                .await?;
        domains.extend(users);
        for d in &domains {
            let floor: Option<Option<i64>> =
                sqlx::query_scalar("SELECT floor_level FROM domains WHERE domain = ?")
                    .bind(d)
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(Some(f)) = floor {
                let lowered = released_floor(Level::from_i64(f), accepted);
                sqlx::query("UPDATE domains SET floor_level = ? WHERE domain = ?")
                    .bind(lowered.as_i64())
                    .bind(d)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        audit(
            conn,
            now,
            actor,
            "release",
            host,
            &format!("accepted {} as the floor", accepted.label()),
        )
        .await?;
        tx.commit().await?;
        self.holds_by_ids(ids).await
    }

    /// Keeps delivery to `host` stopped: its open holds become `kept` (still blocking).
    pub async fn keep(&self, host: &str, actor: &str) -> Result<Vec<HoldView>, StoreError> {
        let now = crate::probe::now_unix();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let conn: &mut SqliteConnection = &mut tx;
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM holds WHERE host = ? AND {OPEN}"
        )))
        .bind(host)
        .fetch_all(&mut *conn)
        .await?;
        if ids.is_empty() {
            return Err(StoreError::NoOpenHold(host.to_string()));
        }
        sqlx::query(
            "UPDATE holds SET status = 'kept', decided_by = ?, decided_at = ?
             WHERE host = ? AND status = 'held'",
        )
        .bind(actor)
        .bind(now)
        .bind(host)
        .execute(&mut *conn)
        .await?;
        audit(conn, now, actor, "keep", host, "delivery stays stopped").await?;
        tx.commit().await?;
        self.holds_by_ids(ids).await
    }

    async fn holds_by_ids(&self, ids: Vec<i64>) -> Result<Vec<HoldView>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(h) = self.hold_by_id(id).await? {
                out.push(h);
            }
        }
        Ok(out)
    }

    async fn hold_by_id(&self, id: i64) -> Result<Option<HoldView>, StoreError> {
        let Some(r) = sqlx::query("SELECT * FROM holds WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let observation = |oid: i64| async move {
            let row = sqlx::query("SELECT * FROM observations WHERE id = ?")
                .bind(oid)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(observation_view).transpose()
        };
        let before = match r.try_get::<Option<i64>, _>("before_observation")? {
            Some(oid) => observation(oid).await?,
            None => None,
        };
        let after_id: i64 = r.try_get("after_observation")?;
        let after = observation(after_id).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("hold {id}: observation {after_id} missing"))
        })?;
        let status: String = r.try_get("status")?;
        Ok(Some(HoldView {
            host: r.try_get("host")?,
            since: r.try_get("since")?,
            status: parse_enum::<HoldStatus>(&status)?,
            floor: class_of(level_of(r.try_get("floor_level")?)),
            before,
            after,
            reason: r.try_get("reason")?,
            decided_by: r.try_get("decided_by")?,
            decided_at: r.try_get("decided_at")?,
        }))
    }
}

async fn host_state(
    conn: &mut SqliteConnection,
    host: &str,
) -> Result<Option<HostState>, StoreError> {
    let row = sqlx::query(
        "SELECT first_seen, last_seen, best_level, floor_level FROM servers WHERE host = ?",
    )
    .bind(host)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(HostState {
            first_seen: r.try_get("first_seen")?,
            last_seen: r.try_get("last_seen")?,
            best: level_of(r.try_get("best_level")?),
            floor: level_of(r.try_get("floor_level")?),
        })
    })
    .transpose()
}

/// Applies what is remembered of each MX host, read on `conn`, to a verdict from facts alone.
async fn with_history(
    conn: &mut SqliteConnection,
    verdict: DomainVerdict,
) -> Result<DomainVerdict, StoreError> {
    let mut hosts = BTreeMap::new();
    for mx in &verdict.mx {
        if let Some(record) = host_record(conn, &mx.host).await? {
            hosts.insert(mx.host.clone(), record);
        }
    }
    Ok(history::apply_history(verdict, &hosts))
}

async fn host_record(
    conn: &mut SqliteConnection,
    host: &str,
) -> Result<Option<HostRecord>, StoreError> {
    let Some(state) = host_state(conn, host).await? else {
        return Ok(None);
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT domain, since, reason FROM holds WHERE host = ? AND {OPEN} ORDER BY id"
    )))
    .bind(host)
    .fetch_all(&mut *conn)
    .await?;
    let holds = rows
        .iter()
        .map(|r| {
            Ok(OpenHold {
                domain: r.try_get("domain")?,
                since: r.try_get("since")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(HostRecord { state, holds }))
}

async fn audit(
    conn: &mut SqliteConnection,
    at: i64,
    actor: &str,
    action: &str,
    host: &str,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit_log (at, actor, action, host, detail) VALUES (?, ?, ?, ?, ?)")
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(host)
        .bind(detail)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn observation_view(r: &SqliteRow) -> Result<ObservationView, StoreError> {
    let text = |c: &str| r.try_get::<String, _>(c);
    Ok(ObservationView {
        at: r.try_get("at")?,
        domain: text("domain")?,
        host: text("host")?,
        ip: text("ip")?,
        starttls: r.try_get("starttls")?,
        tls_version: r.try_get("tls_version")?,
        cipher: r.try_get("cipher")?,
        cert_sha256: r.try_get("cert_sha256")?,
        dane: parse_enum(&text("dane")?)?,
        dnssec: parse_enum(&text("dnssec")?)?,
        class: parse_enum(&text("class")?)?,
        source: parse_enum(&text("source")?)?,
        reason: text("reason")?,
    })
}
