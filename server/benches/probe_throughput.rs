//! Probe throughput against the simulated internet: how many recipient domains per second one
//! [`Prober`] judges end to end (MX, A and TLSA lookups validated with DNSSEC per RFC 4035 by
//! hickory-resolver, then an SMTP session with STARTTLS per RFC 3207 and the TLS handshake with
//! DANE matching per RFC 7672), and the process's peak memory.
//!
//! It starts a [`SimWorld`] with generated domains (1,000 by default, one MX host each, the
//! behaviours taking turns: DANE-EE, DANE-TA, self-signed TLS, no STARTTLS, wrong TLSA), times
//! that setup separately (it signs every zone), then probes every domain at once with a fresh
//! prober, whose `max_concurrent_sessions` bounds the SMTP sessions. Prints figures only; no
//! timing is asserted.
//!
//! `cargo bench -p sendguard --bench probe_throughput` (`SENDGUARD_BENCH_DOMAINS=N` for
//! another count). Results are recorded in BENCHMARKS.md.

use std::time::{Duration, Instant};

use sendguard::probe::Prober;
use sendguard_common::SecurityClass;
use sendguard_sim::dns::Signing;
use sendguard_sim::world::{HostKind, Scenario, SimWorld};

// The tests' helpers, for the probe configuration that talks to the world.
#[path = "../tests/common/mod.rs"]
mod common;
// The sending benchmarks' helpers, for the memory figures.
mod support;

/// `n` domains `bench-00001.test` …, one MX host each, behaviours in turn.
fn generated(n: usize) -> Vec<Scenario> {
    (0..n)
        .map(|i| {
            let kind = match i % 5 {
                0 => HostKind::DaneEe,
                1 => HostKind::DaneTa,
                2 => HostKind::SelfSigned,
                3 => HostKind::Plain,
                _ => HostKind::WrongTlsa,
            };
            // Scenario names are 'static (the demo's are literals); a benchmark may leak them.
            let domain: &'static str = Box::leak(format!("bench-{i:05}.test").into_boxed_str());
            Scenario {
                domain,
                description: "generated",
                signing: Signing::Signed,
                hosts: vec![("mx", 10, kind)],
                null_mx: false,
                mta_sts: None,
            }
        })
        .collect()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("unknown".into(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    })
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let n: usize = std::env::var("SENDGUARD_BENCH_DOMAINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let start = Instant::now();
        let world = SimWorld::start_with(generated(n), dir.path()).await?;
        let setup = start.elapsed();
        let rss_setup = support::status_kib(None, "VmRSS");
        let domains: Vec<String> = world.domains().iter().map(|d| d.domain.clone()).collect();

        let prober = Prober::new(common::sim_probe_config(&world))?;
        let store = sendguard::store::Store::open(&dir.path().join("sendguard.db")).await?;
        let alerts = sendguard::verdicts::alerts::Alerts::new(None)?;
        let service = sendguard::verdicts::Verdicts::new(prober, store, alerts, Duration::from_secs(3600));
        let start = Instant::now();
        let verdicts =
            futures::future::join_all(domains.iter().map(|d| service.probe_now(d, true))).await;
        let elapsed = start.elapsed();

        let mut counts = [0usize; 5];
        for v in &verdicts {
            let i = match v.as_ref().map(|v| (v.class, v.blocked)) {
                Ok((_, true)) => 4,
                Ok((SecurityClass::DaneOk, _)) => 0,
                Ok((SecurityClass::SslOk, _)) => 1,
                Ok((SecurityClass::NoSsl, _)) => 2,
                Ok((SecurityClass::Unknown, _)) | Err(_) => 3,
            };
            counts[i] += 1;
        }
        let sessions = common::sim_probe_config(&world).max_concurrent_sessions;
        println!("probe_throughput: {n} domains, one MX host each, at most {sessions} SMTP sessions at once");
        println!("  setup (sign {n} zones, {n} certificates, start DNS and peers): {:.2} s", setup.as_secs_f64());
        println!("  probing all domains: {:.2} s = {:.0} domains/s", elapsed.as_secs_f64(), n as f64 / elapsed.as_secs_f64());
        println!(
            "  verdicts: {} DANE ok, {} SSL ok, {} no SSL, {} SSL?, {} blocked",
            counts[0], counts[1], counts[2], counts[3], counts[4]
        );
        println!(
            "  memory: RSS after setup {}, peak RSS (VmHWM, sim world included) {}",
            mib(rss_setup),
            mib(support::status_kib(None, "VmHWM"))
        );
        world.shutdown().await;
        anyhow::Ok(())
    })
}
