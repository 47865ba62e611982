//! Delivery throughput with TLS (issue 12, item 9): Sendguard's delivery worker and a real
//! Postfix delivering the same batch to the same simulated peers, in the same run.
//!
//! A [`SimWorld`] of `SENDGUARD_BENCH_DOMAINS` (10) signed domains, one MX host each, every host
//! STARTTLS with a self-signed certificate and no TLSA record (so both tools use unauthenticated
//! TLS, RFC 3207; Sendguard because it knows nothing of the host, Postfix by
//! `smtp_tls_security_level = encrypt`). `SENDGUARD_BENCH_MESSAGES` (1,000) messages of about
//! 2 KiB, one recipient each, the domains in turn, are queued through the real submission code.
//!
//! - **Sendguard**: `sendguard serve` (the release binary) started on that queue and pointed at
//!   the world (its resolver, trust anchor and SMTP port); timed from its start until the peers
//!   have accepted every message. That includes its MX, A and TLSA lookups (DNSSEC-validated)
//!   and its first probe of each host.
//! - **Postfix** (only as root, with Debian's `postfix`): a private sending instance (see
//!   `support/postfix.rs`) is given the very same messages (the bytes Sendguard queued) by SMTP
//!   while `defer_transports = smtp` holds them; timed from `postqueue -f` until the peers have
//!   accepted every message. It looks nothing up: its transport table names each peer.
//!
//! Each tool's messages are told apart at the peers by the EHLO name; every one must have
//! arrived over TLS. `cargo bench -p sendguard --bench delivery_vs_postfix` (as root for the
//! Postfix side). Prints figures only; see BENCHMARKS.md.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sendguard::store::Store;
use sendguard::user::account::DEFAULT_USER;
use sendguard_sim::world::{HostKind, SimWorld};

mod support;
use support::postfix::{self, PostfixSender};
use support::{Serve, env_usize, fill_queue, generated};

/// The longest either tool may take for the batch.
const DEADLINE: Duration = Duration::from_secs(900);
/// The longest either tool may take for its first message.
const FIRST_DEADLINE: Duration = Duration::from_secs(120);

/// Messages accepted by the peers of `domains` so far.
fn accepted(world: &SimWorld, domains: &[&str]) -> usize {
    domains
        .iter()
        .filter_map(|d| world.peer(&format!("mx.{d}")))
        .map(|p| p.counts().accepted)
        .sum()
}

/// Waits until the peers have accepted `n` more than `before`; the time until the first and
/// until the last.
async fn until_accepted(
    world: &SimWorld,
    domains: &[&str],
    before: usize,
    n: usize,
    start: Instant,
) -> anyhow::Result<(Duration, Duration)> {
    let mut first = None;
    loop {
        let done = accepted(world, domains) - before;
        if done > 0 && first.is_none() {
            first = Some(start.elapsed());
        }
        if done >= n {
            return Ok((first.unwrap_or_default(), start.elapsed()));
        }
        anyhow::ensure!(
            start.elapsed() < DEADLINE && (done > 0 || start.elapsed() < FIRST_DEADLINE),
            "only {done} of {n} messages accepted after {:.0} s",
            start.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the peers received from one tool (the one whose EHLO name is `helo` when `is`, the
/// other one otherwise).
struct Arrived {
    messages: usize,
    over_tls: usize,
    /// SMTP sessions those messages came in (a tool that reuses a connection needs fewer).
    sessions: usize,
}

fn arrived(world: &SimWorld, domains: &[&str], helo: &str, is: bool) -> Arrived {
    let mut a = Arrived {
        messages: 0,
        over_tls: 0,
        sessions: 0,
    };
    let mut sessions = std::collections::HashSet::new();
    for (i, d) in domains.iter().enumerate() {
        if let Some(p) = world.peer(&format!("mx.{d}")) {
            for m in p.received().iter().filter(|m| (m.ehlo == helo) == is) {
                a.messages += 1;
                a.over_tls += usize::from(m.tls_facts.is_some());
                sessions.insert((i, m.session));
            }
        }
    }
    a.sessions = sessions.len();
    a
}

fn report(who: &str, n: usize, (first, last): (Duration, Duration), a: Arrived) {
    println!(
        "RESULT {} messages_per_s={:.1} over_tls={} sessions={}",
        who.replace(' ', "_"),
        n as f64 / last.as_secs_f64(),
        a.over_tls,
        a.sessions
    );
    println!(
        "  {who}: {n} messages in {:.2} s = {:.1} messages/s (first accepted after {:.2} s); \
         {} of {} over TLS, in {} SMTP sessions",
        last.as_secs_f64(),
        n as f64 / last.as_secs_f64(),
        first.as_secs_f64(),
        a.over_tls,
        a.messages,
        a.sessions
    );
}

fn main() -> anyhow::Result<()> {
    let n = env_usize("SENDGUARD_BENCH_MESSAGES", 1000);
    let k = env_usize("SENDGUARD_BENCH_DOMAINS", 10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::Builder::new()
            .prefix("sendguard-bench-")
            .tempdir()?;
        let list = generated("tput", k, &[|| HostKind::SelfSigned]);
        let domains: Vec<&'static str> = list.iter().map(|s| s.domain).collect();
        let world = SimWorld::start_with(list, dir.path()).await?;
        let db = dir.path().join("sendguard.db");
        let store = Store::open(&db).await?;
        let queued = fill_queue(&store, n, 16, |i| format!("user{i}@{}", domains[i % k])).await?;
        let mut batch = Vec::new();
        for (_, id) in queued {
            let m = store
                .message(DEFAULT_USER, id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("message {id} is not queued"))?;
            let raw = store.message_raw(m.id).await?.unwrap_or_default();
            for r in &m.recipients {
                batch.push((m.envelope_from.clone(), r.address.clone(), raw.clone()));
            }
        }
        store.close().await;
        println!(
            "delivery_vs_postfix: {n} messages to {k} domains, STARTTLS, self-signed, no TLSA"
        );

        // Postfix first: it needs nothing of Sendguard's, and a Sendguard without a delivery
        // worker is then still measured against it.
        let theirs = if PostfixSender::available() {
            let routes: Vec<(String, SocketAddr)> = domains
                .iter()
                .filter_map(|d| Some((d.to_string(), world.peer(&format!("mx.{d}"))?.addr())))
                .collect();
            let mut pf = PostfixSender::start(dir.path(), &routes);
            pf.inject(&batch)?;
            pf.wait_deferred(n, Duration::from_secs(120))?;
            let before = accepted(&world, &domains);
            let start = Instant::now();
            pf.flush();
            let theirs = until_accepted(&world, &domains, before, n, start).await?;
            report(
                "Postfix 3.7",
                n,
                theirs,
                arrived(&world, &domains, postfix::HELO_NAME, true),
            );
            Some(theirs)
        } else {
            println!("  Postfix: skipped (needs root and Debian's postfix)");
            None
        };

        let before = accepted(&world, &domains);
        let start = Instant::now();
        let serve = Serve::start(&db, &world, &dir.path().join("serve.log"))?;
        let ours = until_accepted(&world, &domains, before, n, start).await?;
        drop(serve);
        report(
            "sendguard serve",
            n,
            ours,
            arrived(&world, &domains, postfix::HELO_NAME, false),
        );
        if let Some(theirs) = theirs {
            let ratio = theirs.1.as_secs_f64() / ours.1.as_secs_f64();
            println!("  ratio: Sendguard's rate is {ratio:.2} times Postfix's");
            println!("RESULT sendguard/postfix rate_ratio={ratio:.2}");
        }
        world.shutdown().await;
        anyhow::Ok(())
    })
}
