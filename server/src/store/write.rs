//! One write transaction (`BEGIN IMMEDIATE`: the write lock is taken before what is remembered
//! is read, so concurrent probes, also from other processes, are judged one after the other):
//! load the prior state a policy decision needs, persist what the policy decided, commit. The
//! decisions themselves ([`crate::policy::transition`], [`crate::policy::release`]) are made by
//! the caller between the loads and the writes; nothing here decides.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyConnection, Row};

use super::{OPEN, Store, StoreError, judgements};
use crate::policy::{
    DomainJudgement, HeldLevel, HostRecord, HostState, Level, OpenHold, Prior, Release, Transition,
};
use sendguard_common::ObservationSource;

/// An open write transaction. Dropped without [`WriteTx::commit`], it rolls back.
pub struct WriteTx {
    tx: super::Immediate,
    /// Who is told of the change at commit ([`Change`]), and which domain it was about.
    change: Change,
}

fn level_of(n: Option<i64>) -> Option<Level> {
    n.and_then(Level::from_i64)
}

impl Store {
    /// Starts a write transaction.
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        Ok(WriteTx {
            tx: self.begin_immediate().await?,
            change: self.change(None),
        })
    }
}

impl WriteTx {
    fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Commits everything written, raising the store's generation (see [`Store::generation`]).
    pub async fn commit(mut self) -> Result<(), StoreError> {
        let change = std::mem::replace(&mut self.change, Change::none());
        bump_generation(self.conn(), &change).await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// What is remembered of the hosts and the domain of `j`, for [`crate::policy::transition`].
    pub async fn prior(&mut self, j: &DomainJudgement) -> Result<Prior, StoreError> {
        let conn = self.conn();
        let mut prior = Prior::default();
        for h in &j.hosts {
            if let Some(state) = host_state(conn, &h.host).await? {
                prior.hosts.insert(h.host.clone(), state);
            }
            let domains: Vec<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT domain FROM holds WHERE host = $1 AND {OPEN}"
            )))
            .bind(&h.host)
            .fetch_all(&mut *conn)
            .await?;
            for d in domains {
                prior.open_holds.insert((h.host.clone(), d));
            }
            let released: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(decided_at) FROM holds WHERE host = $1 AND status = 'released'",
            )
            .bind(&h.host)
            .fetch_one(&mut *conn)
            .await?;
            if let Some(at) = released {
                prior.released_at.insert(h.host.clone(), at);
            }
        }
        let floor: Option<Option<i64>> =
            sqlx::query_scalar("SELECT floor_level FROM domains WHERE domain = $1")
                .bind(&j.domain)
                .fetch_optional(&mut *conn)
                .await?;
        prior.domain_floor = level_of(floor.flatten());
        let previous: Vec<String> =
            sqlx::query_scalar("SELECT host FROM domain_hosts WHERE domain = $1")
                .bind(&j.domain)
                .fetch_all(&mut *conn)
                .await?;
        prior.previous_mx = previous.into_iter().collect();
        Ok(prior)
    }

    /// Persists a judgement and the transition the policy computed from it: the probe with its
    /// observations, the hosts' and the domain's new state, the domain's MX set, the new holds
    /// with their evidence. Answers the ids of the holds it raised (none when an equal hold was
    /// open already).
    pub async fn persist(
        &mut self,
        j: &DomainJudgement,
        t: &Transition,
        source: ObservationSource,
    ) -> Result<Vec<i64>, StoreError> {
        self.change.domain = Some(j.domain.clone());
        let conn = self.conn();
        let probe_id = judgements::insert_probe(conn, j, source).await?;
        let ids = judgements::insert_hosts(conn, probe_id, j, source).await?;
        for (host, s) in &t.hosts {
            sqlx::query(
                "INSERT INTO servers (host, first_seen, last_seen, best_level, floor_level)
                 VALUES ($1, $2, $3, $4, $5)
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
            "INSERT INTO domains (domain, first_seen, last_seen, floor_level) VALUES ($1, $2, $3, $4)
             ON CONFLICT (domain) DO UPDATE SET last_seen = CASE WHEN excluded.last_seen > domains.last_seen
                THEN excluded.last_seen ELSE domains.last_seen END,
                floor_level = excluded.floor_level",
        )
        .bind(&j.domain)
        .bind(j.checked_at)
        .bind(j.checked_at)
        .bind(t.domain_floor.map(Level::as_i64))
        .execute(&mut *conn)
        .await?;
        if let Some(set) = &t.mx_set {
            write_mx_set(conn, &j.domain, set).await?;
        }
        insert_holds(conn, j, t, &ids).await
    }

    /// What is remembered of each MX host of `j` (state and open holds), as written so far in
    /// this transaction, for the verdict's view.
    pub async fn history(
        &mut self,
        j: &DomainJudgement,
    ) -> Result<BTreeMap<String, HostRecord>, StoreError> {
        host_records(self.conn(), j).await
    }

    /// The open holds of `host` with their ids, for [`crate::policy::release`].
    pub async fn open_holds(&mut self, host: &str) -> Result<Vec<(i64, HeldLevel)>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, domain, observed_level FROM holds WHERE host = $1 AND {OPEN}"
        )))
        .bind(host)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| {
                let observed = level_of(r.try_get("observed_level")?)
                    .ok_or_else(|| StoreError::Corrupt(format!("hold level of {host}")))?;
                Ok((
                    r.try_get("id")?,
                    HeldLevel {
                        domain: r.try_get("domain")?,
                        observed,
                    },
                ))
            })
            .collect()
    }

    /// The floors a release of `host` may lower: the server's own (`None` without a record)
    /// and those of the domains concerned (the ones in `held` and the ones the server serves).
    pub async fn floors(
        &mut self,
        host: &str,
        held: &[HeldLevel],
    ) -> Result<(Option<Option<Level>>, BTreeMap<String, Option<Level>>), StoreError> {
        let conn = self.conn();
        let own = host_state(conn, host).await?.map(|s| s.floor);
        let mut domains: BTreeSet<String> = held.iter().filter_map(|h| h.domain.clone()).collect();
        let served: Vec<String> =
            sqlx::query_scalar("SELECT domain FROM domain_hosts WHERE host = $1")
                .bind(host)
                .fetch_all(&mut *conn)
                .await?;
        domains.extend(served);
        let mut floors = BTreeMap::new();
        for d in domains {
            let floor: Option<Option<i64>> =
                sqlx::query_scalar("SELECT floor_level FROM domains WHERE domain = $1")
                    .bind(&d)
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(f) = floor {
                floors.insert(d, level_of(f));
            }
        }
        Ok((own, floors))
    }

    /// Persists an administrator's release that the policy computed: the holds `ids` become
    /// released, the floors are lowered, the decision goes into the audit log.
    pub async fn apply_release(
        &mut self,
        host: &str,
        ids: &[i64],
        release: &Release,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        for id in ids {
            sqlx::query(
                "UPDATE holds SET status = 'released', decided_by = $1, decided_at = $2 WHERE id = $3",
            )
            .bind(actor)
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        if let Some(floor) = release.host_floor {
            sqlx::query("UPDATE servers SET floor_level = $1 WHERE host = $2")
                .bind(floor.as_i64())
                .bind(host)
                .execute(&mut *conn)
                .await?;
        }
        for (d, floor) in &release.domain_floors {
            sqlx::query("UPDATE domains SET floor_level = $1 WHERE domain = $2")
                .bind(floor.as_i64())
                .bind(d)
                .execute(&mut *conn)
                .await?;
        }
        let detail = format!("accepted {} as the floor", release.accepted.label());
        audit(conn, now, actor, "release", host, &detail).await
    }
}

async fn write_mx_set(
    conn: &mut AnyConnection,
    domain: &str,
    set: &BTreeSet<String>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM domain_hosts WHERE domain = $1")
        .bind(domain)
        .execute(&mut *conn)
        .await?;
    for host in set {
        sqlx::query(
            "INSERT INTO domain_hosts (domain, host) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(domain)
        .bind(host)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Writes the transition's holds; the evidence is the weakest observation of the held host in
/// this probe, and the last earlier observation of that host at or above the floor.
async fn insert_holds(
    conn: &mut AnyConnection,
    j: &DomainJudgement,
    t: &Transition,
    ids: &[Vec<i64>],
) -> Result<Vec<i64>, StoreError> {
    let first_of_probe = ids.iter().flatten().min().copied().unwrap_or(i64::MAX);
    let mut new_ids = Vec::new();
    for h in &t.holds {
        let after = ids[h.host_index][j.hosts[h.host_index].weakest()];
        let before: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM observations WHERE host = $1 AND level >= $2 AND id < $3
             ORDER BY id DESC LIMIT 1",
        )
        .bind(&h.host)
        .bind(h.floor.as_i64())
        .bind(first_of_probe)
        .fetch_optional(&mut *conn)
        .await?;
        // An equal open hold makes this a no-op (the partial unique index `holds_one_open`).
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO holds (host, domain, since, status, floor_level,
                observed_level, before_observation, after_observation, reason)
             VALUES ($1, $2, $3, 'held', $4, $5, $6, $7, $8)
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&h.host)
        .bind(&h.domain)
        .bind(j.checked_at)
        .bind(h.floor.as_i64())
        .bind(h.observed.as_i64())
        .bind(before)
        .bind(after)
        .bind(&h.reason)
        .fetch_optional(&mut *conn)
        .await?;
        new_ids.extend(inserted);
    }
    Ok(new_ids)
}

pub(super) async fn host_state(
    conn: &mut AnyConnection,
    host: &str,
) -> Result<Option<HostState>, StoreError> {
    let row = sqlx::query(
        "SELECT first_seen, last_seen, best_level, floor_level FROM servers WHERE host = $1",
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

/// What is remembered of one server: its state and open holds.
pub(super) async fn host_record(
    conn: &mut AnyConnection,
    host: &str,
) -> Result<Option<HostRecord>, StoreError> {
    let Some(state) = host_state(conn, host).await? else {
        return Ok(None);
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT domain, since, reason FROM holds WHERE host = $1 AND {OPEN} ORDER BY id"
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

/// The records of every MX host of `j`.
pub(super) async fn host_records(
    conn: &mut AnyConnection,
    j: &DomainJudgement,
) -> Result<BTreeMap<String, HostRecord>, StoreError> {
    let mut records = BTreeMap::new();
    for h in &j.hosts {
        if let Some(r) = host_record(conn, &h.host).await? {
            records.insert(h.host.clone(), r);
        }
    }
    Ok(records)
}

/// Raises the generation counter; every write transaction does, before it commits. On
/// PostgreSQL it also sends [`CHANGES`] with the change's instance and domain, delivered to
/// every listening instance when (and only if) the transaction commits.
pub(super) async fn bump_generation(
    conn: &mut AnyConnection,
    change: &Change,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE generation SET value = value + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    if let Some(instance) = &change.notify {
        let payload = format!("{instance}\n{}", change.domain.as_deref().unwrap_or(""));
        sqlx::query("SELECT 1 FROM pg_notify($1, $2)")
            .bind(CHANGES)
            .bind(payload)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The PostgreSQL channel on which write transactions announce themselves: the payload is the
/// writing instance's name, a line feed, and the domain whose verdict changed (empty when the
/// change was a hold's decision, which may concern several).
pub const CHANGES: &str = "sendguard_changes";

/// What a committed write transaction tells the other instances.
#[derive(Debug)]
pub(super) struct Change {
    /// This instance's name, on PostgreSQL; `None`: nobody is told (SQLite).
    pub notify: Option<std::sync::Arc<str>>,
    /// The domain whose verdict changed.
    pub domain: Option<String>,
}

impl Change {
    fn none() -> Change {
        Change {
            notify: None,
            domain: None,
        }
    }
}

impl Store {
    /// The change a write transaction of this store announces, about `domain`.
    pub(super) fn change(&self, domain: Option<String>) -> Change {
        Change {
            notify: (self.backend() == super::Backend::Postgres).then(|| self.instance.clone()),
            domain,
        }
    }
}

pub(super) async fn audit(
    conn: &mut AnyConnection,
    at: i64,
    actor: &str,
    action: &str,
    host: &str,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, host, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(host)
    .bind(detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
