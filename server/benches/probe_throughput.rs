//! Probe throughput against the simulated internet: how many recipient domains per second one
//! [`Prober`] judges end to end (MX, A and TLSA lookups validated with DNSSEC per RFC 4035 by
//! hickory-resolver, then an SMTP session with STARTTLS per RFC 3207 and the TLS handshake with
//! DANE matching per RFC 7672), and the prober's peak memory.
//!
//! The [`SimWorld`] of generated domains (1,000 by default, one MX host each, the behaviours
//! taking turns: DANE-EE, DANE-TA, self-signed TLS, no STARTTLS, wrong TLSA) runs in a process
//! of its own (`support::sim_process`: this executable started again), so the peak memory
//! (VmHWM) is that of the probing process alone. Two passes over every domain, 256 requested at a
//! time (`SENDGUARD_BENCH_IN_FLIGHT`, 0 for all at once), each with a fresh prober (cold
//! resolver cache): through the verdict service, as the server probes
//! (judgement and a SQLite transaction with its fsync per verdict), then the bare probes, so the
//! difference is what judging and recording costs. Each pass also reports the CPU time per
//! domain of the probing process and of the sim's (from `/proc`): on a machine whose cores the
//! two share, their sum bounds the rate. `max_concurrent_sessions` and
//! `max_concurrent_domains` keep their defaults (`SENDGUARD_BENCH_PARALLEL=K` sets the latter). Prints figures and a `RESULT` line; no timing
//! is asserted.
//!
//! `cargo bench -p sendguard --bench probe_throughput` (`SENDGUARD_BENCH_DOMAINS=N` for
//! another count). Results are recorded in BENCHMARKS.md.

use std::sync::Arc;

use futures::StreamExt as _;
use std::time::{Duration, Instant};

use sendguard::probe::Prober;
use sendguard_common::SecurityClass;
use sendguard_sim::dns::Signing;
use sendguard_sim::world::{HostKind, Scenario};

// The tests' helpers, for the probe configuration that talks to the world.
#[path = "../tests/common/mod.rs"]
mod common;
// The sending benchmarks' helpers: the memory figures and the world in its own process.
mod support;

use support::sim_process::SimProcess;

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

/// Verdict counts: DANE ok, SSL ok, no SSL, SSL? (or an error), blocked.
fn tally(classes: impl Iterator<Item = Option<(SecurityClass, bool)>>) -> [usize; 5] {
    let mut counts = [0usize; 5];
    for c in classes {
        let i = match c {
            Some((_, true)) => 4,
            Some((SecurityClass::DaneOk, _)) => 0,
            Some((SecurityClass::SslOk, _)) => 1,
            Some((SecurityClass::NoSsl, _)) => 2,
            Some((SecurityClass::Unknown, _)) | None => 3,
        };
        counts[i] += 1;
    }
    counts
}

/// The CPU time used so far by this process and by the sim's, to be read again after a pass.
struct Cpu {
    sim_pid: u32,
    own: f64,
    sim: f64,
}

impl Cpu {
    fn now(sim_pid: u32) -> Cpu {
        Cpu {
            sim_pid,
            own: support::cpu_seconds(None).unwrap_or(0.0),
            sim: support::cpu_seconds(Some(sim_pid)).unwrap_or(0.0),
        }
    }

    /// The CPU milliseconds per domain each process used since [`Cpu::now`]: (ours, the sim's).
    /// Unlike a rate, it hardly depends on what else the machine runs.
    fn per_domain_ms(&self, n: usize) -> (f64, f64) {
        let later = Cpu::now(self.sim_pid);
        let per = |d: f64| d * 1000.0 / n.max(1) as f64;
        (per(later.own - self.own), per(later.sim - self.sim))
    }
}

fn main() -> anyhow::Result<()> {
    if support::sim_process::run_child_if_asked(generated)? {
        return Ok(());
    }
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let n: usize = std::env::var("SENDGUARD_BENCH_DOMAINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    // Requests waiting at once (0: every domain at once). The prober works on
    // `max_concurrent_domains` of them; each waiting one is a whole verdict future of the
    // caller's, which with 10,000 at once weighs about a gigabyte.
    let in_flight = match std::env::var("SENDGUARD_BENCH_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
    {
        0 => n.max(1),
        k => k,
    };
    let sim = SimProcess::start(n)?;
    let domains: Vec<String> = generated(n).iter().map(|s| s.domain.to_string()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let rss_before = support::status_kib(None, "VmRSS");
        let mut config = common::probe_config_for(sim.endpoints.clone());
        if let Ok(k) = std::env::var("SENDGUARD_BENCH_PARALLEL").map(|v| v.parse::<usize>()) {
            config.max_concurrent_domains = k?;
        }
        let sessions = config.max_concurrent_sessions;
        let parallel = config.max_concurrent_domains;

        let prober = Prober::new(config.clone())?;
        let store = sendguard::store::Store::open(&dir.path().join("sendguard.db")).await?;
        let alerts = sendguard::verdicts::alerts::Alerts::new(None)?;
        let service =
            sendguard::verdicts::Verdicts::new(prober, store, alerts, Duration::from_secs(3600));
        let cpu = Cpu::now(sim.pid());
        let start = Instant::now();
        let verdicts: Vec<_> = futures::stream::iter(&domains)
            .map(|d| service.probe_now(d, true))
            .buffer_unordered(in_flight)
            .collect()
            .await;
        let with_store = start.elapsed();
        let verdict_cpu = cpu.per_domain_ms(n);
        let peak = support::status_kib(None, "VmHWM");
        let counts = tally(verdicts.iter().map(|v| v.as_ref().ok().map(|v| (v.class, v.blocked))));
        drop((verdicts, service));

        let prober = Prober::new(config)?;
        let cpu = Cpu::now(sim.pid());
        let start = Instant::now();
        let facts: Vec<_> = futures::stream::iter(&domains)
            .map(|d| prober.probe(d, true))
            .buffer_unordered(in_flight)
            .collect()
            .await;
        let bare = start.elapsed();
        let probe_cpu = cpu.per_domain_ms(n);
        let judged = tally(facts.iter().map(|f| {
            let j = sendguard::policy::judge(f.as_ref().ok()?);
            Some((j.class(), false))
        }));
        let facts: Vec<Arc<_>> = facts.into_iter().filter_map(Result::ok).collect();
        drop(facts);

        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        println!(
            "probe_throughput: {n} domains, one MX host each, {in_flight} requested at a time, at most {parallel} domains and {sessions} SMTP sessions at once; the sim in process {}",
            sim.pid()
        );
        println!("  sim setup (sign {n} zones, {n} certificates, start DNS and peers): {:.2} s", sim.setup.as_secs_f64());
        println!(
            "  verdicts (probe, judgement, SQLite transaction with fsync): {:.2} s = {:.0} domains/s",
            with_store.as_secs_f64(),
            rate(with_store)
        );
        println!(
            "  probes alone (fresh prober, same domains): {:.2} s = {:.0} domains/s; judging and recording is {:.0} % of the verdicts' time",
            bare.as_secs_f64(),
            rate(bare),
            100.0 * (1.0 - bare.as_secs_f64() / with_store.as_secs_f64())
        );
        println!(
            "  CPU per domain, the probing process + the sim's: verdicts {:.2} + {:.2} ms, probes alone {:.2} + {:.2} ms",
            verdict_cpu.0, verdict_cpu.1, probe_cpu.0, probe_cpu.1
        );
        println!(
            "  verdicts: {} DANE ok, {} SSL ok, {} no SSL, {} SSL?, {} blocked (probes alone judged: {} DANE ok, {} SSL ok, {} no SSL, {} SSL?)",
            counts[0], counts[1], counts[2], counts[3], counts[4], judged[0], judged[1], judged[2], judged[3]
        );
        let sim_peak = support::status_kib(Some(sim.pid()), "VmHWM");
        println!(
            "  memory of the probing process: RSS before {}, peak RSS (VmHWM) after the verdicts {}, after both passes {}; the sim process's peak {}",
            support::mib(rss_before),
            support::mib(peak),
            support::mib(support::status_kib(None, "VmHWM")),
            support::mib(sim_peak)
        );
        let mb = |k: Option<u64>| k.map_or(0.0, |k| k as f64 / 1024.0);
        println!(
            "RESULT probe_throughput domains={n} in_flight={in_flight} verdicts_per_s={:.0} probes_per_s={:.0} store_share_pct={:.0} peak_mib={:.1} sim_peak_mib={:.1} verdict_cpu_ms={:.2} verdict_sim_cpu_ms={:.2} probe_cpu_ms={:.2} probe_sim_cpu_ms={:.2} setup_s={:.2} dane_ok={} ssl_ok={} no_ssl={} unknown={} blocked={}",
            rate(with_store),
            rate(bare),
            100.0 * (1.0 - bare.as_secs_f64() / with_store.as_secs_f64()),
            mb(peak),
            mb(sim_peak),
            verdict_cpu.0,
            verdict_cpu.1,
            probe_cpu.0,
            probe_cpu.1,
            sim.setup.as_secs_f64(),
            counts[0], counts[1], counts[2], counts[3], counts[4]
        );
        anyhow::Ok(())
    })
}
