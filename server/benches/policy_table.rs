//! Postfix's TLS policy table under load (issue 13, item 8): lookups per second and their
//! latency from many concurrent socketmap clients (socketmap_table(5): one netstring request and
//! reply at a time per connection, back to back, as Postfix's `smtp` processes ask).
//!
//! The table is the real server ([`tls_policy::serve`] on loopback TCP) on a real SQLite store
//! on disk filled with `SENDGUARD_BENCH_DOMAINS` (10,000) domains, a quarter of each kind:
//! DANE (`OK dane-only`), a TLS floor (`OK encrypt`), a server on hold (`TEMP ...`) and never
//! seen (`NOTFOUND`). The known ones are recorded through the real record path
//! ([`sendguard::verdicts::record`]) from the facts of real probes of the simulated internet
//! (`dane-ee.test`, `tls.test`; a hold from `tls.test`'s facts followed by `plain.test`'s),
//! renamed per domain. The never-seen ones start a background probe at their first lookup;
//! the table's prober asks a loopback resolver that never answers, so they stay unknown for the
//! whole run, as while a real probe is under way.
//!
//! First one connection asks for every domain once (the table's first lookup of each: a read
//! of the whole remembered state). Then for each of 1, 16, 64 and 256 connections
//! (`SENDGUARD_BENCH_CLIENTS`), every connection asks for domains in a spread order for `SENDGUARD_BENCH_SECONDS` (5) seconds; every answer is
//! checked against the domain's kind. Clients and server share the machine (one process, one
//! runtime of two threads). Last, the store's read alone (`Store::remembered`, what each lookup
//! of a known domain costs) is timed one call after another, to show the database's share.
//!
//! `cargo bench -p sendguard --bench policy_table`. Prints figures only; nothing is asserted but
//! the answers. See BENCHMARKS.md.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sendguard::dns::DnsConfig;
use sendguard::postfix::tls_policy;
use sendguard::probe::facts::{DomainFacts, MxFacts};
use sendguard::probe::{ProbeConfig, Prober};
use sendguard::store::Store;
use sendguard::verdicts::{self, Verdicts, alerts::Alerts};
use sendguard_common::ObservationSource;
use sendguard_sim::world::{SimWorld, scenarios};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

mod support;
use support::{env_usize, quantile};

#[path = "../tests/common/mod.rs"]
mod common;

/// The four kinds of domain, in turn by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Dane,
    Tls,
    Held,
    Unknown,
}

fn kind(i: usize) -> Kind {
    [Kind::Dane, Kind::Tls, Kind::Held, Kind::Unknown][i % 4]
}

fn domain(i: usize) -> String {
    format!("policy-{i:05}.example")
}

/// Whether `answer` is what the table must say for a domain of `kind`.
fn expected(kind: Kind, answer: &str) -> bool {
    match kind {
        Kind::Dane => answer == "OK dane-only",
        Kind::Tls => answer == "OK encrypt",
        Kind::Held => answer.starts_with("TEMP "),
        Kind::Unknown => answer == "NOTFOUND ",
    }
}

/// `template` as the facts of `domain`, its hosts renamed `mx.{domain}`, as of now.
fn renamed(template: &DomainFacts, domain: &str) -> DomainFacts {
    let mut facts = template.clone();
    facts.domain = domain.to_string();
    facts.checked_at = sendguard::probe::now_unix();
    if let MxFacts::Hosts { hosts, .. } = &mut facts.mx {
        for (n, h) in hosts.iter_mut().enumerate() {
            h.host = format!("mx{n}.{domain}");
        }
    }
    facts
}

/// Probes the three template domains in a sim world and records `n` domains of the kinds.
async fn fill(store: &Store, n: usize, dir: &std::path::Path) -> anyhow::Result<()> {
    let list = scenarios()
        .into_iter()
        .filter(|s| ["dane-ee.test", "tls.test", "plain.test"].contains(&s.domain))
        .collect();
    let world = SimWorld::start_with(list, dir).await?;
    let prober = Prober::new(common::sim_probe_config(&world))?;
    let dane = prober.probe("dane-ee.test", true).await?;
    let tls = prober.probe("tls.test", true).await?;
    let plain = prober.probe("plain.test", true).await?;
    world.shutdown().await;
    let source = ObservationSource::Probe;
    for i in 0..n {
        let d = domain(i);
        match kind(i) {
            Kind::Dane => drop(verdicts::record(store, &renamed(&dane, &d), source).await?),
            Kind::Tls => drop(verdicts::record(store, &renamed(&tls, &d), source).await?),
            Kind::Held => {
                verdicts::record(store, &renamed(&tls, &d), source).await?;
                let held = verdicts::record(store, &renamed(&plain, &d), source).await?;
                anyhow::ensure!(!held.new_holds.is_empty(), "{d}: no hold raised");
            }
            Kind::Unknown => {}
        }
    }
    Ok(())
}

/// One netstring request and its reply.
async fn ask(
    stream: &mut BufReader<TcpStream>,
    request: &str,
    reply: &mut Vec<u8>,
) -> anyhow::Result<()> {
    let framed = format!("{}:{request},", request.len());
    stream.get_mut().write_all(framed.as_bytes()).await?;
    reply.clear();
    stream.read_until(b':', reply).await?;
    let len: usize = std::str::from_utf8(&reply[..reply.len().saturating_sub(1)])?.parse()?;
    reply.resize(len + 1, 0);
    stream.read_exact(reply).await?;
    anyhow::ensure!(reply.pop() == Some(b','), "a reply without its comma");
    Ok(())
}

/// What one client connection did.
#[derive(Default)]
struct ClientRun {
    latencies: Vec<Duration>,
    wrong: usize,
}

/// One connection asking back to back until `until`, starting at domain `start`.
async fn client(
    addr: SocketAddr,
    n: usize,
    start: usize,
    until: Instant,
) -> anyhow::Result<ClientRun> {
    let mut stream = BufReader::new(TcpStream::connect(addr).await?);
    stream.get_ref().set_nodelay(true)?;
    let mut run = ClientRun::default();
    let mut reply = Vec::new();
    let mut i = start;
    while Instant::now() < until {
        // A stride coprime to n spreads the lookups over all domains.
        i = (i + 7919) % n;
        let request = format!("{} {}", tls_policy::TLS_POLICY_MAP, domain(i));
        let asked = Instant::now();
        ask(&mut stream, &request, &mut reply).await?;
        run.latencies.push(asked.elapsed());
        if !expected(kind(i), std::str::from_utf8(&reply)?) {
            run.wrong += 1;
        }
    }
    Ok(run)
}

/// One connection asks for every domain once, in order: each lookup is the table's first of
/// that domain, so each reads the whole remembered state from the store.
async fn first_lookups(addr: SocketAddr, n: usize) -> anyhow::Result<()> {
    let mut stream = BufReader::new(TcpStream::connect(addr).await?);
    stream.get_ref().set_nodelay(true)?;
    let mut reply = Vec::new();
    let mut latencies = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let request = format!("{} {}", tls_policy::TLS_POLICY_MAP, domain(i));
        let asked = Instant::now();
        ask(&mut stream, &request, &mut reply).await?;
        latencies.push(asked.elapsed());
        anyhow::ensure!(
            expected(kind(i), std::str::from_utf8(&reply)?),
            "{i}: wrong answer"
        );
    }
    let elapsed = started.elapsed();
    let rate = n as f64 / elapsed.as_secs_f64();
    let p50 = quantile(&mut latencies, 0.5).as_secs_f64() * 1e6;
    let p99 = quantile(&mut latencies, 0.99).as_secs_f64() * 1e6;
    println!(
        "  first lookup of each domain, 1 connection: {rate:.0} lookups/s; latency p50 {p50:.0} \
         µs, p99 {p99:.0} µs"
    );
    println!("RESULT first_lookup lookups_per_s={rate:.0} p50_us={p50:.0} p99_us={p99:.0}");
    Ok(())
}

/// `clients` connections for `seconds`; prints lookups/s and latency quantiles.
async fn load(addr: SocketAddr, n: usize, clients: usize, seconds: u64) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let runs = futures::future::join_all(
        (0..clients).map(|c| tokio::spawn(client(addr, n, c * (n / clients.max(1)), until))),
    )
    .await;
    let elapsed = started.elapsed();
    let mut latencies = Vec::new();
    let mut wrong = 0;
    for run in runs {
        let run = run??;
        latencies.extend(run.latencies);
        wrong += run.wrong;
    }
    let lookups = latencies.len();
    let rate = lookups as f64 / elapsed.as_secs_f64();
    let p50 = quantile(&mut latencies, 0.5).as_secs_f64() * 1e6;
    let p99 = quantile(&mut latencies, 0.99).as_secs_f64() * 1e6;
    println!(
        "  {clients:>3} connections: {lookups:>7} lookups in {:.2} s = {rate:>6.0} lookups/s; \
         latency p50 {p50:>6.0} µs, p99 {p99:>6.0} µs, max {:>6.0} µs; wrong answers {wrong}",
        elapsed.as_secs_f64(),
        quantile(&mut latencies, 1.0).as_secs_f64() * 1e6,
    );
    println!(
        "RESULT {clients}_connections lookups_per_s={rate:.0} p50_us={p50:.0} p99_us={p99:.0}"
    );
    anyhow::ensure!(wrong == 0, "{wrong} wrong answers");
    Ok(())
}

/// The store's read of one known domain, `count` calls one after another.
async fn store_read(store: &Store, n: usize, count: usize) -> anyhow::Result<()> {
    let mut latencies = Vec::with_capacity(count);
    let mut i = 0;
    for _ in 0..count {
        i = (i + 7919) % n;
        if kind(i) == Kind::Unknown {
            i = (i + 1) % n;
        }
        let d = domain(i);
        let asked = Instant::now();
        anyhow::ensure!(store.remembered(&d).await?.is_some(), "{d} not remembered");
        latencies.push(asked.elapsed());
    }
    let total: Duration = latencies.iter().sum();
    let rate = count as f64 / total.as_secs_f64();
    let p50 = quantile(&mut latencies, 0.5).as_secs_f64() * 1e6;
    let p99 = quantile(&mut latencies, 0.99).as_secs_f64() * 1e6;
    println!(
        "  Store::remembered alone, one after another: {rate:.0} reads/s; p50 {p50:.0} µs, \
         p99 {p99:.0} µs"
    );
    println!("RESULT Store::remembered reads_per_s={rate:.0} p50_us={p50:.0} p99_us={p99:.0}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let n = env_usize("SENDGUARD_BENCH_DOMAINS", 10_000).max(4);
    let seconds = env_usize("SENDGUARD_BENCH_SECONDS", 5) as u64;
    let clients: Vec<usize> = std::env::var("SENDGUARD_BENCH_CLIENTS")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 64, 256]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&dir.path().join("sendguard.db")).await?;
        let start = Instant::now();
        fill(&store, n, dir.path()).await?;
        let filled = start.elapsed();
        // The table's prober asks a resolver that never answers: never-seen domains stay
        // unknown while their background probes wait.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let mut config = ProbeConfig::new(DnsConfig {
            resolver: Some(silent.local_addr()?),
            trust_anchor: None,
            timeout: Duration::from_secs(3600),
        });
        config.allow_private_targets = true;
        let table = Verdicts::new(
            Prober::new(config)?,
            store.clone(),
            Alerts::default(),
            Duration::from_secs(24 * 3600),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(tls_policy::serve(listener, table));
        println!(
            "policy_table: {n} domains (DANE, TLS floor, held, never seen: a quarter each), \
             recorded in {:.1} s; {seconds} s per run",
            filled.as_secs_f64()
        );
        first_lookups(addr, n).await?;
        println!("  then, every domain asked before:");
        for c in clients {
            load(addr, n, c, seconds).await?;
        }
        store_read(&store, n, 20_000).await?;
        server.abort();
        drop(silent);
        store.close().await;
        anyhow::Ok(())
    })
}
