//! A store at scale (issue 15, item 6): builds a SQLite database with
//! `SENDGUARD_SCALE_DOMAINS` (100,000) recipient domains and about
//! `SENDGUARD_SCALE_OBSERVATIONS` (1,000,000) observations, for `scripts/bench.sh scale` to
//! start `sendguard demo --database` on, and times what a server does with such a store at
//! start (opening and migrating, the retention sweep) and per cold lookup.
//!
//! The rows are what the real code writes. A few template domains, one per kind (DANE-EE, TLS
//! with a self-signed certificate, two DANE hosts, three mixed hosts, and a server held after
//! STARTTLS disappeared), are probed once in the simulated internet and recorded through the
//! real record path ([`sendguard::verdicts::record`]) several times each, spread over
//! `SENDGUARD_SCALE_DAYS` (300) days before now, until each has about
//! observations / domains observations. Every other domain is then a copy of its kind's
//! template, made in SQL (`INSERT ... SELECT`) in one transaction: the same rows with the
//! domain and its hosts (`mxN.<domain>`) renamed and the ids moved, so that every domain has
//! its own probes, hosts, observations, servers, floors and holds. Certificates are shared
//! with the template (the same SHA-256), so `certificates` stays small.
//!
//! `SENDGUARD_SCALE_DB` names the file (default `target/scale/sendguard.db`); it is replaced.
//! `cargo bench -p sendguard --bench store_scale`. Prints figures; asserts only the counts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sendguard::probe::Prober;
use sendguard::probe::facts::{DomainFacts, MxFacts};
use sendguard::store::Store;
use sendguard::verdicts;
use sendguard_common::ObservationSource;
use sendguard_sim::world::{SimWorld, scenarios};

#[path = "../tests/common/mod.rs"]
mod common;
mod support;
use support::env_usize;

/// The kinds of domain, the template of each from the simulated internet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Dane,
    Tls,
    Pair,
    Mixed,
    Held,
}

/// The kinds in turn by index: of 19 domains, 8 DANE, 6 TLS, 2 with two DANE hosts, 2 mixed
/// and one held (about 5 %: many open holds for an administrator's list). 19 is prime to the
/// bench's every tenth domain, so those recently used have every kind in the same shares.
const PATTERN: [Kind; 19] = {
    use Kind::*;
    [
        Dane, Tls, Dane, Tls, Pair, Dane, Tls, Mixed, Dane, Tls, Dane, Held, Tls, Dane, Pair, Dane,
        Mixed, Tls, Dane,
    ]
};

/// The domain of index `i` (all of the same length, so renaming keeps every row's size).
fn domain(i: usize) -> String {
    format!("scale-{i:06}.example")
}

/// `template` as the facts of `domain` as of `at`, its hosts renamed `mxN.{domain}`.
fn renamed(template: &DomainFacts, domain: &str, at: i64) -> DomainFacts {
    let mut facts = template.clone();
    facts.domain = domain.to_string();
    facts.checked_at = at;
    if let MxFacts::Hosts { hosts, .. } = &mut facts.mx {
        for (n, h) in hosts.iter_mut().enumerate() {
            h.host = format!("mx{n}.{domain}");
        }
    }
    facts
}

/// Observations one probe of `facts` writes (one per address of each host).
fn observations_of(facts: &DomainFacts) -> usize {
    match &facts.mx {
        MxFacts::Hosts { hosts, .. } => hosts.iter().map(|h| h.endpoints.len().max(1)).sum(),
        _ => 0,
    }
}

/// The facts of the sim domains the templates are made of.
struct Templates {
    dane: Arc<DomainFacts>,
    tls: Arc<DomainFacts>,
    pair: Arc<DomainFacts>,
    mixed: Arc<DomainFacts>,
    plain: Arc<DomainFacts>,
}

async fn probe_templates(dir: &Path) -> anyhow::Result<Templates> {
    let names = [
        "dane-ee.test",
        "tls.test",
        "dane-pair.test",
        "mixed.test",
        "plain.test",
    ];
    let list = scenarios()
        .into_iter()
        .filter(|s| names.contains(&s.domain))
        .collect();
    let world = SimWorld::start_with(list, dir).await?;
    let prober = Prober::new(common::sim_probe_config(&world))?;
    let t = Templates {
        dane: prober.probe("dane-ee.test", true).await?,
        tls: prober.probe("tls.test", true).await?,
        pair: prober.probe("dane-pair.test", true).await?,
        mixed: prober.probe("mixed.test", true).await?,
        plain: prober.probe("plain.test", true).await?,
    };
    world.shutdown().await;
    Ok(t)
}

/// Records the template domain `k` (of kind `PATTERN[k]`) through the real record path: as
/// many probes as give about `per_domain` observations, spread evenly over `days` up to now.
async fn record_template(
    store: &Store,
    t: &Templates,
    k: usize,
    per_domain: usize,
    days: i64,
) -> anyhow::Result<()> {
    let facts: &DomainFacts = match PATTERN[k] {
        Kind::Dane => &t.dane,
        Kind::Tls | Kind::Held => &t.tls,
        Kind::Pair => &t.pair,
        Kind::Mixed => &t.mixed,
    };
    let probes = (per_domain as f64 / observations_of(facts).max(1) as f64).round() as i64;
    let probes = probes.max(1);
    let now = sendguard::probe::now_unix();
    let spacing = days * 86_400 / probes;
    let d = domain(k);
    for j in 0..probes {
        let at = now - (probes - 1 - j) * spacing;
        let source = ObservationSource::Probe;
        if PATTERN[k] == Kind::Held && j == probes - 1 {
            let held = verdicts::record(store, &renamed(&t.plain, &d, at), source).await?;
            anyhow::ensure!(!held.new_holds.is_empty(), "{d}: no hold raised");
        } else {
            verdicts::record(store, &renamed(facts, &d, at), source).await?;
        }
    }
    Ok(())
}

/// The copying, in order: the template rows are first kept in temporary tables (`t_*`), then
/// copied once per domain of `copies` (`i`: the domain's index, `template`, `domain`). Ids move
/// by a block per domain (`i` times the span of the templates' ids), so references stay.
const COPY: &[&str] = &[
    "CREATE TEMP TABLE span AS SELECT
        (SELECT MAX(id) FROM probes) AS p_max, (SELECT MAX(id) - MIN(id) + 1 FROM probes) AS p_n,
        (SELECT MAX(id) FROM observations) AS o_max,
        (SELECT MAX(id) - MIN(id) + 1 FROM observations) AS o_n",
    "CREATE TEMP TABLE t_probes AS SELECT * FROM probes",
    "CREATE TEMP TABLE t_probe_hosts AS SELECT * FROM probe_hosts",
    "CREATE TEMP TABLE t_observations AS SELECT * FROM observations",
    "CREATE TEMP TABLE t_chain AS SELECT * FROM observation_chain",
    "CREATE TEMP TABLE t_servers AS SELECT s.*, d.domain AS of_domain FROM servers s
        JOIN (SELECT DISTINCT domain, host FROM observations) d ON d.host = s.host",
    "CREATE TEMP TABLE t_domains AS SELECT * FROM domains",
    "CREATE TEMP TABLE t_domain_hosts AS SELECT * FROM domain_hosts",
    "CREATE TEMP TABLE t_holds AS SELECT * FROM holds",
    // The new id of a template probe or observation for the domain of index i.
    "INSERT INTO probes (id, domain, at, source, observation_count, mx_kind, mx_dnssec,
        mx_implicit, mx_failure, mx_detail, sts_mode, sts_mx, sts_id, sts_expires, sts_problem,
        sts_downgrade)
     SELECT p.id + c.i * s.p_n + s.p_max, c.domain, p.at, p.source,
        p.observation_count, p.mx_kind, p.mx_dnssec, p.mx_implicit, p.mx_failure,
        replace(p.mx_detail, c.template, c.domain), p.sts_mode, p.sts_mx, p.sts_id,
        p.sts_expires, p.sts_problem, p.sts_downgrade
     FROM copies c JOIN t_probes p ON p.domain = c.template, span s ORDER BY 1",
    "INSERT INTO probe_hosts SELECT h.probe_id + c.i * s.p_n + s.p_max, h.position,
        replace(h.host, c.template, c.domain), h.preference, h.address_dnssec, h.tlsa_demand
     FROM copies c JOIN t_probes p ON p.domain = c.template
        JOIN t_probe_hosts h ON h.probe_id = p.id, span s",
    "INSERT INTO observations (id, probe_id, at, domain, host, ip, starttls, tls_version,
        cipher, cert_sha256, spki_sha256, dane, dnssec, class, level, outcome, reason, source,
        cipher_iana, bits, cause, detail, webpki_valid, webpki_error)
     SELECT o.id + c.i * s.o_n + s.o_max,
        o.probe_id + c.i * s.p_n + s.p_max, o.at, c.domain, replace(o.host, c.template, c.domain),
        o.ip, o.starttls, o.tls_version, o.cipher, o.cert_sha256, o.spki_sha256, o.dane,
        o.dnssec, o.class, o.level, o.outcome, replace(o.reason, c.template, c.domain), o.source,
        o.cipher_iana, o.bits, o.cause, replace(o.detail, c.template, c.domain), o.webpki_valid,
        o.webpki_error
     FROM copies c JOIN t_observations o ON o.domain = c.template, span s ORDER BY 1",
    "INSERT INTO observation_chain SELECT x.observation_id + c.i * s.o_n + s.o_max, x.position,
        x.cert_sha256
     FROM copies c JOIN t_observations o ON o.domain = c.template
        JOIN t_chain x ON x.observation_id = o.id, span s",
    "INSERT INTO servers SELECT replace(v.host, c.template, c.domain), v.first_seen,
        v.last_seen, v.best_level, v.floor_level
     FROM copies c JOIN t_servers v ON v.of_domain = c.template",
    "INSERT INTO domains SELECT c.domain, d.first_seen, d.last_seen, d.floor_level
     FROM copies c JOIN t_domains d ON d.domain = c.template",
    "INSERT INTO domain_hosts SELECT c.domain, replace(h.host, c.template, c.domain)
     FROM copies c JOIN t_domain_hosts h ON h.domain = c.template",
    "INSERT INTO holds (host, domain, since, status, floor_level, observed_level,
        before_observation, after_observation, reason, decided_by, decided_at)
     SELECT replace(h.host, c.template, c.domain), CASE WHEN h.domain IS NULL THEN NULL
        ELSE c.domain END, h.since, h.status, h.floor_level, h.observed_level,
        h.before_observation + c.i * s.o_n + s.o_max, h.after_observation + c.i * s.o_n + s.o_max,
        replace(h.reason, c.template, c.domain), h.decided_by, h.decided_at
     FROM copies c JOIN t_observations o ON o.domain = c.template
        JOIN t_holds h ON h.after_observation = o.id, span s ORDER BY c.i, h.id",
];

/// Copies the templates to domains `templates..domains` in one transaction.
async fn copy_templates(store: &Store, templates: usize, domains: usize) -> anyhow::Result<()> {
    let mut tx = store.pool().begin().await?;
    sqlx::query(
        "CREATE TEMP TABLE copies (i INTEGER PRIMARY KEY, template TEXT NOT NULL,
            domain TEXT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    for chunk in (templates..domains).collect::<Vec<_>>().chunks(300) {
        let marks: Vec<String> = (0..chunk.len())
            .map(|n| format!("(${}, ${}, ${})", 3 * n + 1, 3 * n + 2, 3 * n + 3))
            .collect();
        let sql = format!(
            "INSERT INTO copies (i, template, domain) VALUES {}",
            marks.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &i in chunk {
            q = q.bind(i as i64).bind(domain(i % templates)).bind(domain(i));
        }
        q.execute(&mut *tx).await?;
    }
    for sql in COPY {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(&mut *tx)
            .await?;
    }
    for t in [
        "copies",
        "span",
        "t_probes",
        "t_probe_hosts",
        "t_observations",
        "t_chain",
        "t_servers",
        "t_domains",
        "t_domain_hosts",
        "t_holds",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE temp.{t}")))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn default_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/scale/sendguard.db")
}

/// Counts of the main tables, for the report and to check the copy.
async fn counts(store: &Store) -> anyhow::Result<Vec<(&'static str, i64)>> {
    let mut out = Vec::new();
    for t in [
        "domains",
        "probes",
        "observations",
        "servers",
        "observation_chain",
        "certificates",
    ] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
            .fetch_one(store.pool())
            .await?;
        out.push((t, n));
    }
    let open: i64 = store.open_hold_count().await?;
    out.push(("open holds", open));
    Ok(out)
}

/// Builds the database at `path`; prints how long each part took.
async fn build(path: &Path, n: usize, per_domain: usize, days: i64) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(&p);
    }
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let t = probe_templates(dir.path()).await?;
    let store = Store::open(path).await?;
    let templates = PATTERN.len().min(n);
    for k in 0..templates {
        record_template(&store, &t, k, per_domain, days).await?;
    }
    let recorded = started.elapsed();
    copy_templates(&store, templates, n).await?;
    let copied = started.elapsed() - recorded;
    let counts = counts(&store).await?;
    store.close().await;
    let size = std::fs::metadata(path)?.len();
    println!(
        "store_scale: {} built in {:.1} s ({templates} templates probed and recorded through \
         verdicts::record in {:.1} s, copied in SQL in {:.1} s); file {:.0} MB",
        path.display(),
        (recorded + copied).as_secs_f64(),
        recorded.as_secs_f64(),
        copied.as_secs_f64(),
        size as f64 / 1e6
    );
    let line: Vec<String> = counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!("  rows: {}", line.join(", "));
    anyhow::ensure!(counts[0].1 == n as i64, "{} domains, not {n}", counts[0].1);
    Ok(())
}

/// Checks that copies are their templates renamed: the verdict the store gives a copy (read
/// as a server reads it) is its template's with the names replaced, for the first copy of
/// each template and a few more.
async fn check_copies(path: &Path, n: usize) -> anyhow::Result<()> {
    let store = Store::open(path).await?;
    let templates = PATTERN.len().min(n);
    let mut checked = 0;
    for i in (templates..n)
        .take(templates)
        .chain((templates..n).step_by(997))
    {
        let (t, d) = (domain(i % templates), domain(i));
        let template = store.verdict(&t).await?.expect("template known");
        let copy = store.verdict(&d).await?.expect("copy known");
        let want = serde_json::to_string(&template)?.replace(&t, &d);
        anyhow::ensure!(
            serde_json::to_string(&copy)? == want,
            "{d} is not {t} renamed"
        );
        checked += 1;
    }
    println!("  {checked} copies checked: each verdict is its template's, renamed");
    store.close().await;
    Ok(())
}

/// A small deterministic generator (xorshift), so that runs pick the same domains.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// What a server does with the store at start and per cold lookup, timed.
async fn timings(path: &Path, n: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let store = Store::open(path).await?;
    let opened = started.elapsed();
    let started = Instant::now();
    let pruned = store
        .prune_older_than(Duration::from_secs(400 * 86_400))
        .await?;
    let sweep = started.elapsed();
    println!(
        "  opening and migrating {:.0} ms; the retention sweep (400 days, as at start) {:.0} ms, \
         deleting {} observations",
        opened.as_secs_f64() * 1e3,
        sweep.as_secs_f64() * 1e3,
        pruned.observations
    );
    let started = Instant::now();
    let holds = store.holds(false).await?;
    println!(
        "  the administrator's list of open holds (Store::holds): {} holds in {:.0} ms",
        holds.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let mut rng = Xorshift(0x5eed_5ca1e);
    let mut latencies = Vec::with_capacity(2000);
    for _ in 0..2000 {
        let d = domain(rng.below(n));
        let asked = Instant::now();
        anyhow::ensure!(store.verdict(&d).await?.is_some(), "{d} not known");
        latencies.push(asked.elapsed());
    }
    latencies.sort();
    let q = |f: f64| latencies[((latencies.len() - 1) as f64 * f) as usize].as_secs_f64() * 1e6;
    println!(
        "  a verdict read from the store (Store::verdict, a cold lookup's read), random domains \
         one after another: p50 {:.0} µs, p99 {:.0} µs",
        q(0.5),
        q(0.99)
    );
    store.close().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let n = env_usize("SENDGUARD_SCALE_DOMAINS", 100_000).max(1);
    let observations = env_usize("SENDGUARD_SCALE_OBSERVATIONS", 1_000_000);
    let days = env_usize("SENDGUARD_SCALE_DAYS", 300).max(1) as i64;
    let path = std::env::var_os("SENDGUARD_SCALE_DB")
        .map(PathBuf::from)
        .unwrap_or_else(default_db);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        build(&path, n, (observations / n).max(1), days).await?;
        check_copies(&path, n).await?;
        timings(&path, n).await
    })
}
