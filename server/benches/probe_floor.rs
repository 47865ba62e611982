//! One never-seen domain against the protocol's floor (issue 15, item 4): how long a fresh
//! [`Prober`] (cold resolver cache, no validated keys) takes to judge one DANE-EE domain of the
//! simulated internet when every reply of its DNS server and SMTP peers is held back for a
//! simulated round-trip time ([`sendguard_sim::latency`], 20 ms by default), against the 7 round
//! trips the protocol needs at least: MX, A + TLSA (RFC 7672 §2.2), TCP with the greeting, EHLO,
//! STARTTLS (RFC 3207), the TLS 1.3 handshake (RFC 8446, one round trip) and EHLO over TLS.
//!
//! Each run takes a domain no earlier run saw, so nothing is cached anywhere. The world's
//! replies are logged as they leave: the bench counts them (DNS and SMTP) and groups them into
//! round trips (a reply that leaves more than half a round trip after the first of the current
//! group opens the next one), which shows where the round trips beyond the floor go, e.g. the
//! DNSKEY and DS fetches of DNSSEC validation (RFC 4035 §5). Runs alternate between the bare
//! probe ([`Prober::probe`]) and a whole verdict ([`Verdicts::probe_now`]: probe, judgement and
//! the store's write with its fsync). Prints figures and a `RESULT` line; asserts no timing.
//!
//! `cargo bench -p sendguard --bench probe_floor` (`SENDGUARD_BENCH_RTT_MS`, 20;
//! `SENDGUARD_BENCH_FLOOR_RUNS`, 5 of each kind). Results are recorded in BENCHMARKS.md.

use std::time::{Duration, Instant};

use sendguard::probe::Prober;
use sendguard::verdicts::Verdicts;
use sendguard_common::SecurityClass;
use sendguard_sim::dns::Signing;
use sendguard_sim::latency::Reply;
use sendguard_sim::world::{HostKind, Scenario, SimWorld, WorldOptions};

// The tests' helpers, for the probe configuration that talks to the world.
#[path = "../tests/common/mod.rs"]
mod common;

/// Round trips the protocol needs at least (see the module documentation).
const FLOOR_ROUND_TRIPS: u32 = 7;

/// `n` DANE-EE domains `floor-00000.test` …, one MX host each.
fn domains(n: usize) -> Vec<Scenario> {
    (0..n)
        .map(|i| Scenario {
            // Scenario names are 'static (the demo's are literals); a benchmark may leak them.
            domain: Box::leak(format!("floor-{i:05}.test").into_boxed_str()),
            description: "generated",
            signing: Signing::Signed,
            hosts: vec![("mx", 10, HostKind::DaneEe)],
            null_mx: false,
            mta_sts: None,
        })
        .collect()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One run: how long it took, and the replies the world sent meanwhile.
struct Run {
    elapsed: Duration,
    replies: Vec<Reply>,
    start: Instant,
}

impl Run {
    fn count(&self, server: &str) -> usize {
        self.replies.iter().filter(|r| r.server == server).count()
    }

    /// The replies grouped into round trips (see the module documentation).
    fn rounds(&self, rtt: Duration) -> Vec<Vec<&Reply>> {
        let mut rounds: Vec<Vec<&Reply>> = Vec::new();
        for reply in &self.replies {
            match rounds.last_mut() {
                Some(round) if reply.at.duration_since(round[0].at) <= rtt / 2 => round.push(reply),
                _ => rounds.push(vec![reply]),
            }
        }
        rounds
    }
}

/// Median, min and max.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

/// Probes `domain` with a fresh prober, through a whole verdict when `verdict`.
async fn run(world: &SimWorld, domain: &str, verdict: bool) -> anyhow::Result<Run> {
    let prober = Prober::new(common::sim_probe_config(world))?;
    let dir = tempfile::tempdir()?;
    let store = sendguard::store::Store::open(&dir.path().join("sendguard.db")).await?;
    let alerts = sendguard::verdicts::alerts::Alerts::new(None)?;
    let service = Verdicts::new(prober.clone(), store, alerts, Duration::from_secs(3600));
    let log = world.replies().expect("the world logs its replies");
    log.take();
    let start = Instant::now();
    let (class, elapsed) = if verdict {
        let class = service.probe_now(domain, true).await?.class;
        (class, start.elapsed())
    } else {
        let facts = prober.probe(domain, true).await?;
        let elapsed = start.elapsed();
        // Judged after the clock stopped, to check that the probe went the whole way.
        (sendguard::policy::judge(&facts).class(), elapsed)
    };
    anyhow::ensure!(class == SecurityClass::DaneOk, "{domain} judged {class:?}");
    Ok(Run {
        elapsed,
        replies: log.take(),
        start,
    })
}

/// Prints the replies of `run`, one round trip a line.
fn print_timeline(run: &Run, rtt: Duration) {
    for (i, round) in run.rounds(rtt).iter().enumerate() {
        let at = round[0].at.duration_since(run.start).as_secs_f64() * 1000.0;
        let what: Vec<String> = round
            .iter()
            .map(|r| format!("{} {}", r.server, r.what))
            .collect();
        println!("    {:>2}. {at:6.1} ms  {}", i + 1, what.join(" | "));
    }
}

fn main() -> anyhow::Result<()> {
    let rtt = Duration::from_millis(env_or("SENDGUARD_BENCH_RTT_MS", 20));
    let runs: usize = env_or("SENDGUARD_BENCH_FLOOR_RUNS", 5usize).max(1);
    let floor = rtt * FLOOR_ROUND_TRIPS;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let options = WorldOptions {
            rtt,
            log_replies: true,
        };
        // One warm-up run (not counted), then `runs` of each kind, each on a domain of its own.
        let world =
            SimWorld::start_with_options(domains(2 * runs + 1), dir.path(), options).await?;
        let names: Vec<String> = world.domains().iter().map(|d| d.domain.clone()).collect();
        run(&world, &names[0], false).await?;
        let (mut probes, mut verdicts) = (Vec::new(), Vec::new());
        for i in 0..runs {
            probes.push(run(&world, &names[1 + 2 * i], false).await?);
            verdicts.push(run(&world, &names[2 + 2 * i], true).await?);
        }
        report(rtt, floor, &probes, &verdicts);
        world.shutdown().await;
        anyhow::Ok(())
    })
}

fn report(rtt: Duration, floor: Duration, probes: &[Run], verdicts: &[Run]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let floor_ms = ms(floor);
    println!(
        "probe_floor: one never-seen DANE-EE domain, fresh prober (cold cache), RTT {} ms, floor {FLOOR_ROUND_TRIPS} round trips = {floor_ms:.0} ms",
        rtt.as_millis()
    );
    let mut fields = vec![
        format!("rtt_ms={}", rtt.as_millis()),
        format!("floor_ms={floor_ms:.0}"),
    ];
    for (kind, runs) in [("probe", probes), ("verdict", verdicts)] {
        let times: Vec<f64> = runs.iter().map(|r| ms(r.elapsed)).collect();
        let (t, lo, hi) = spread(times.clone());
        let (rounds, rlo, rhi) = spread(runs.iter().map(|r| r.rounds(rtt).len() as f64).collect());
        let (dns, _, _) = spread(runs.iter().map(|r| r.count("dns") as f64).collect());
        let (smtp, _, _) = spread(runs.iter().map(|r| r.count("smtp") as f64).collect());
        println!(
            "  {kind:<7}: {t:.1} ms (runs {}), {:.2} x the floor ({:.2}-{:.2}); {rounds:.0} round trips ({rlo:.0}-{rhi:.0}), {dns:.0} DNS and {smtp:.0} SMTP replies",
            times
                .iter()
                .map(|t| format!("{t:.1}"))
                .collect::<Vec<_>>()
                .join(" "),
            t / floor_ms,
            lo / floor_ms,
            hi / floor_ms,
        );
        fields.extend([
            format!("{kind}_ms={t:.1}"),
            format!("{kind}_ms_min={lo:.1}"),
            format!("{kind}_ms_max={hi:.1}"),
            format!("{kind}_ratio={:.2}", t / floor_ms),
            format!("{kind}_round_trips={rounds:.0}"),
            format!("{kind}_dns_replies={dns:.0}"),
            format!("{kind}_smtp_replies={smtp:.0}"),
        ]);
    }
    if let Some(last) = probes.last() {
        println!("  the last probe's replies, one round trip a line (time the first left):");
        print_timeline(last, rtt);
    }
    println!("RESULT probe_floor {}", fields.join(" "));
}
