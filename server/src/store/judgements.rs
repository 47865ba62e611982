//! A judgement in typed rows (migration 0003): the probe's MX outcome, each MX host, and per
//! observation the judged outcome with the TLS details the tooltip shows and the certificate
//! chain (certificates stored once each). Written with the probe's transition in one
//! transaction; read back as the [`DomainJudgement`] it was, for verdicts after a restart.

use std::collections::BTreeMap;
use std::net::IpAddr;

use sendguard_common::{
    BlockCause, CertificateDetails, CertificateInfo, DaneStatus, DnssecStatus, ObservationSource,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::StoreError;
use crate::policy::reason::endpoint_words;
use crate::policy::{
    DomainJudgement, EndpointJudgement, HostJudgement, Level, MxJudgement, Outcome, TlsaDemand,
};
use crate::probe::facts::{DaneOutcome, Failure, TlsFacts};
use crate::tls::TlsVersion;

pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn demand_code(d: TlsaDemand) -> &'static str {
    match d {
        TlsaDemand::Nothing => "nothing",
        TlsaDemand::Tls => "tls",
        TlsaDemand::Dane => "dane",
        TlsaDemand::Unknown => "unknown",
    }
}

fn demand_of(code: &str) -> Result<TlsaDemand, StoreError> {
    [
        TlsaDemand::Nothing,
        TlsaDemand::Tls,
        TlsaDemand::Dane,
        TlsaDemand::Unknown,
    ]
    .into_iter()
    .find(|d| demand_code(*d) == code)
    .ok_or_else(|| corrupt(format!("TLSA demand {code:?}")))
}

/// The MX columns of a probe row: kind, DNSSEC, implicit, failure kind, failure detail.
type MxColumns = (
    &'static str,
    Option<&'static str>,
    Option<bool>,
    Option<&'static str>,
    Option<String>,
);

fn mx_columns(mx: &MxJudgement) -> MxColumns {
    match mx {
        MxJudgement::Hosts { dnssec, implicit } => {
            ("hosts", Some(dnssec.as_str()), Some(*implicit), None, None)
        }
        MxJudgement::NullMx => ("null_mx", None, None, None, None),
        MxJudgement::NxDomain => ("nx_domain", None, None, None, None),
        MxJudgement::NoMailHost => ("no_mail_host", None, None, None, None),
        MxJudgement::Failed(f) => {
            let kind = match f {
                Failure::Temporary(_) => "temporary",
                Failure::Permanent(_) => "permanent",
                Failure::Bogus(_) => "bogus",
            };
            (
                "failed",
                None,
                None,
                Some(kind),
                Some(f.detail().to_string()),
            )
        }
    }
}

/// Writes the probe row of `j` and returns its id.
pub(super) async fn insert_probe(
    conn: &mut AnyConnection,
    j: &DomainJudgement,
    source: ObservationSource,
) -> Result<i64, StoreError> {
    let (kind, dnssec, implicit, failure, detail) = mx_columns(&j.mx);
    let count: usize = j.hosts.iter().map(|h| h.endpoints.len()).sum();
    let id = sqlx::query_scalar(
        "INSERT INTO probes (domain, at, source, observation_count, mx_kind, mx_dnssec,
            mx_implicit, mx_failure, mx_detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(&j.domain)
    .bind(j.checked_at)
    .bind(source.as_str())
    .bind(count as i64)
    .bind(kind)
    .bind(dnssec)
    .bind(implicit.map(i64::from))
    .bind(failure)
    .bind(detail)
    .fetch_one(&mut *conn)
    .await?;
    super::mta_sts::write_probe_sts(conn, id, &j.mta_sts).await?;
    Ok(id)
}

/// Writes the hosts and observations of `j` under `probe_id`; the observation ids per host.
pub(super) async fn insert_hosts(
    conn: &mut AnyConnection,
    probe_id: i64,
    j: &DomainJudgement,
    source: ObservationSource,
) -> Result<Vec<Vec<i64>>, StoreError> {
    let mut ids = Vec::with_capacity(j.hosts.len());
    for (position, h) in j.hosts.iter().enumerate() {
        sqlx::query(
            "INSERT INTO probe_hosts (probe_id, position, host, preference, address_dnssec,
                tlsa_demand) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(probe_id)
        .bind(position as i64)
        .bind(&h.host)
        .bind(i64::from(h.preference))
        .bind(h.address_dnssec.as_str())
        .bind(demand_code(h.tlsa))
        .execute(&mut *conn)
        .await?;
        let mut host_ids = Vec::with_capacity(h.endpoints.len());
        for e in &h.endpoints {
            host_ids.push(insert_observation(conn, probe_id, j, h, e, source).await?);
        }
        ids.push(host_ids);
    }
    Ok(ids)
}

async fn insert_observation(
    conn: &mut AnyConnection,
    probe_id: i64,
    j: &DomainJudgement,
    h: &HostJudgement,
    e: &EndpointJudgement,
    source: ObservationSource,
) -> Result<i64, StoreError> {
    let tls = e.tls.as_ref();
    let leaf = tls.and_then(|t| t.certificate.chain.first());
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO observations (probe_id, at, domain, host, ip, starttls, tls_version, cipher,
            cert_sha256, spki_sha256, dane, dnssec, class, level, outcome, reason, source,
            cipher_iana, bits, cause, detail, webpki_valid, webpki_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
         RETURNING id",
    )
    .bind(probe_id)
    .bind(j.checked_at)
    .bind(&j.domain)
    .bind(&h.host)
    .bind(e.ip.map(|ip| ip.to_string()).unwrap_or_default())
    .bind(e.starttls.map(i64::from))
    .bind(tls.map(|t| t.version.name()))
    .bind(tls.map(|t| t.cipher_openssl.as_str()))
    .bind(leaf.map(|c| c.sha256.as_str()))
    .bind(leaf.map(|c| c.spki_sha256.as_str()))
    .bind(e.dane.as_str())
    .bind(h.address_dnssec.as_str())
    .bind(e.class().as_str())
    .bind(e.level.map(Level::as_i64))
    .bind(e.outcome.code())
    .bind(endpoint_words(e))
    .bind(source.as_str())
    .bind(tls.map(|t| t.cipher_iana.as_str()))
    .bind(tls.map(|t| i64::from(t.bits)))
    .bind(e.cause.map(BlockCause::as_str))
    .bind(e.detail.as_deref())
    .bind(tls.map(|t| i64::from(t.certificate.webpki_valid)))
    .bind(tls.and_then(|t| t.certificate.webpki_error.as_deref()))
    .fetch_one(&mut *conn)
    .await?;
    if let Some(t) = tls {
        for (position, c) in t.certificate.chain.iter().enumerate() {
            insert_certificate(conn, id, position, c).await?;
        }
    }
    Ok(id)
}

async fn insert_certificate(
    conn: &mut AnyConnection,
    observation: i64,
    position: usize,
    c: &CertificateDetails,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO certificates (sha256, subject, issuer, san, not_before, not_after,
            spki_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&c.sha256)
    .bind(&c.subject)
    .bind(&c.issuer)
    .bind(c.san.join(" "))
    .bind(&c.not_before)
    .bind(&c.not_after)
    .bind(&c.spki_sha256)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO observation_chain (observation_id, position, cert_sha256) VALUES ($1, $2, $3)",
    )
    .bind(observation)
    .bind(position as i64)
    .bind(&c.sha256)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The judgement of the latest probe of `domain`, if that probe was stored typed.
pub(super) async fn latest(
    conn: &mut AnyConnection,
    domain: &str,
) -> Result<Option<DomainJudgement>, StoreError> {
    let Some(row) = sqlx::query("SELECT * FROM probes WHERE domain = $1 ORDER BY id DESC LIMIT 1")
        .bind(domain)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    judgement_of(conn, &row).await
}

/// The judgements of the latest probes of `domains` that were stored typed, the probes read in
/// one query (an event stream's known verdicts).
pub(super) async fn latest_of_each(
    conn: &mut AnyConnection,
    domains: &[String],
) -> Result<Vec<DomainJudgement>, StoreError> {
    if domains.is_empty() {
        return Ok(Vec::new());
    }
    let marks = (1..=domains.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    // Only placeholders are put into the text; the domains are bound.
    let sql = format!(
        "SELECT * FROM probes WHERE id IN
         (SELECT MAX(id) FROM probes WHERE domain IN ({marks}) GROUP BY domain)"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for d in domains {
        query = query.bind(d);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut judgements = Vec::with_capacity(rows.len());
    for row in &rows {
        judgements.extend(judgement_of(conn, row).await?);
    }
    Ok(judgements)
}

/// The judgement of a probe's row with its hosts; `None` for a probe written before 0003.
async fn judgement_of(
    conn: &mut AnyConnection,
    row: &AnyRow,
) -> Result<Option<DomainJudgement>, StoreError> {
    let Some(kind) = row.try_get::<Option<String>, _>("mx_kind")? else {
        return Ok(None); // written before migration 0003: probed again when asked for
    };
    let probe_id: i64 = row.try_get("id")?;
    let mx = mx_of(row, &kind)?;
    let hosts = match mx {
        MxJudgement::Hosts { .. } => read_hosts(conn, probe_id).await?,
        _ => Vec::new(),
    };
    Ok(Some(DomainJudgement {
        domain: row.try_get("domain")?,
        checked_at: row.try_get("at")?,
        mx,
        hosts,
        mta_sts: super::mta_sts::read_probe_sts(row)?,
    }))
}

fn mx_of(row: &AnyRow, kind: &str) -> Result<MxJudgement, StoreError> {
    Ok(match kind {
        "hosts" => MxJudgement::Hosts {
            dnssec: dnssec_of(&row.try_get::<String, _>("mx_dnssec")?)?,
            implicit: row
                .try_get::<Option<i64>, _>("mx_implicit")?
                .map(|n| n != 0)
                .unwrap_or(false),
        },
        "null_mx" => MxJudgement::NullMx,
        "nx_domain" => MxJudgement::NxDomain,
        "no_mail_host" => MxJudgement::NoMailHost,
        "failed" => {
            let detail: String = row
                .try_get::<Option<String>, _>("mx_detail")?
                .unwrap_or_default();
            MxJudgement::Failed(
                match row.try_get::<Option<String>, _>("mx_failure")?.as_deref() {
                    Some("bogus") => Failure::Bogus(detail),
                    Some("permanent") => Failure::Permanent(detail),
                    _ => Failure::Temporary(detail),
                },
            )
        }
        other => return Err(corrupt(format!("MX kind {other:?}"))),
    })
}

fn dnssec_of(text: &str) -> Result<DnssecStatus, StoreError> {
    DnssecStatus::parse(text).ok_or_else(|| corrupt(format!("DNSSEC status {text:?}")))
}

async fn read_hosts(
    conn: &mut AnyConnection,
    probe_id: i64,
) -> Result<Vec<HostJudgement>, StoreError> {
    let rows = sqlx::query("SELECT * FROM probe_hosts WHERE probe_id = $1 ORDER BY position")
        .bind(probe_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut chains = read_chains(conn, probe_id).await?;
    let observations = sqlx::query("SELECT * FROM observations WHERE probe_id = $1 ORDER BY id")
        .bind(probe_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut hosts = Vec::with_capacity(rows.len());
    for r in &rows {
        let host: String = r.try_get("host")?;
        let mut endpoints = Vec::new();
        for o in observations.iter() {
            if o.try_get::<String, _>("host")? == host {
                let chain = chains
                    .remove(&o.try_get::<i64, _>("id")?)
                    .unwrap_or_default();
                endpoints.push(endpoint_of(o, chain)?);
            }
        }
        hosts.push(HostJudgement {
            host,
            preference: u16::try_from(r.try_get::<i64, _>("preference")?).unwrap_or(0),
            address_dnssec: dnssec_of(&r.try_get::<String, _>("address_dnssec")?)?,
            tlsa: demand_of(&r.try_get::<String, _>("tlsa_demand")?)?,
            endpoints,
        });
    }
    Ok(hosts)
}

async fn read_chains(
    conn: &mut AnyConnection,
    probe_id: i64,
) -> Result<BTreeMap<i64, Vec<CertificateDetails>>, StoreError> {
    let rows = sqlx::query(
        "SELECT oc.observation_id, c.* FROM observation_chain oc
         JOIN certificates c ON c.sha256 = oc.cert_sha256
         WHERE oc.observation_id IN (SELECT id FROM observations WHERE probe_id = $1)
         ORDER BY oc.observation_id, oc.position",
    )
    .bind(probe_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut chains: BTreeMap<i64, Vec<CertificateDetails>> = BTreeMap::new();
    for r in &rows {
        let san: String = r.try_get("san")?;
        chains
            .entry(r.try_get("observation_id")?)
            .or_default()
            .push(CertificateDetails {
                subject: r.try_get("subject")?,
                issuer: r.try_get("issuer")?,
                san: san.split_whitespace().map(str::to_string).collect(),
                not_before: r.try_get("not_before")?,
                not_after: r.try_get("not_after")?,
                sha256: r.try_get("sha256")?,
                spki_sha256: r.try_get("spki_sha256")?,
            });
    }
    Ok(chains)
}

fn endpoint_of(
    r: &AnyRow,
    chain: Vec<CertificateDetails>,
) -> Result<EndpointJudgement, StoreError> {
    let text = |c: &str| r.try_get::<Option<String>, _>(c);
    let outcome_code: String = r.try_get("outcome")?;
    let outcome = Outcome::from_code(&outcome_code)
        .ok_or_else(|| corrupt(format!("outcome {outcome_code:?}")))?;
    let detail = text("detail")?;
    let ip = text("ip")?.filter(|s| !s.is_empty());
    let ip: Option<IpAddr> = match ip {
        Some(s) => Some(s.parse().map_err(|_| corrupt(format!("address {s:?}")))?),
        None => None,
    };
    let tls = match text("tls_version")? {
        Some(v) => Some(TlsFacts {
            version: TlsVersion::from_name(&v)
                .ok_or_else(|| corrupt(format!("TLS version {v:?}")))?,
            cipher_openssl: text("cipher")?.unwrap_or_default(),
            cipher_iana: text("cipher_iana")?.unwrap_or_default(),
            bits: u16::try_from(r.try_get::<Option<i64>, _>("bits")?.unwrap_or(0)).unwrap_or(0),
            certificate: CertificateInfo {
                chain,
                webpki_valid: r
                    .try_get::<Option<i64>, _>("webpki_valid")?
                    .map(|n| n != 0)
                    .unwrap_or(false),
                webpki_error: text("webpki_error")?,
            },
            dane: match outcome {
                Outcome::DaneVerified => DaneOutcome::Matched,
                Outcome::DaneMismatch => DaneOutcome::Mismatch(detail.clone().unwrap_or_default()),
                Outcome::DaneNameMismatch => {
                    DaneOutcome::NameMismatch(detail.clone().unwrap_or_default())
                }
                _ => DaneOutcome::NotApplicable,
            },
        }),
        None => None,
    };
    let dane = text("dane")?.unwrap_or_default();
    let cause = match text("cause")? {
        Some(c) => Some(BlockCause::parse(&c).ok_or_else(|| corrupt(format!("cause {c:?}")))?),
        None => None,
    };
    Ok(EndpointJudgement {
        ip,
        starttls: super::flag(r, "starttls")?,
        tls,
        level: r
            .try_get::<Option<i64>, _>("level")?
            .and_then(Level::from_i64),
        outcome,
        cause,
        dane: DaneStatus::parse(&dane).ok_or_else(|| corrupt(format!("DANE status {dane:?}")))?,
        detail,
    })
}
