//! The cost of the durable queue, and the memory of a server with a full one (issue 12, item 9).
//!
//! 1. **Per message**: `SENDGUARD_BENCH_MESSAGES` (1,000) messages of about 2 KiB, one
//!    recipient each, queued through the real submission code ([`submit::submit`], what
//!    `POST /api/messages` and `sendguard send` run: checks, the RFC 5322 message built by
//!    mail-builder, one `BEGIN IMMEDIATE` transaction in SQLite with WAL and
//!    `synchronous = FULL`, so one fsync per message) into a database file on disk, first one
//!    after another (the latency of one submission), then 16 at a time (SQLite has one writer,
//!    so this shows what waiting for it costs and gains).
//! 2. **Memory**: `SENDGUARD_BENCH_QUEUED` (10,000) messages queued to 100 domains of a
//!    [`SimWorld`] (self-signed TLS, DANE-EE, no STARTTLS and STARTTLS refused, in turn), then
//!    `sendguard serve` (the release binary) started on that database and pointed at the world;
//!    its resident set size is read from `/proc/PID/status` when it listens, after `GET
//!    /api/messages` (which lists every message), and every 250 ms while its delivery worker
//!    works through the queue (until the peers stop receiving for 15 s), then its peak
//!    (`VmHWM`).
//!
//! `cargo bench -p sendguard --bench queue_cost`. Prints figures only; nothing is asserted.
//! The database lives in a temporary folder under `SENDGUARD_BENCH_DIR` (default: the system's
//! temporary folder, which must be on a real disk for the fsync to count). See BENCHMARKS.md.

use std::time::{Duration, Instant};

use sendguard::delivery::submit;
use sendguard::store::Store;
use sendguard_sim::world::{HostKind, SimWorld};

mod support;
use support::{
    Serve, add_queue_owner, env_usize, fill_queue, generated, http_get, mib, quantile,
    sign_in_as_owner, status_kib,
};

fn bench_dir() -> anyhow::Result<tempfile::TempDir> {
    let base = std::env::var_os("SENDGUARD_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    Ok(tempfile::Builder::new()
        .prefix("sendguard-bench-")
        .tempdir_in(base)?)
}

/// Part 1: `n` submissions, `parallel` at a time, into a fresh database file.
async fn per_message(n: usize, parallel: usize) -> anyhow::Result<()> {
    let dir = bench_dir()?;
    let path = dir.path().join("queue.db");
    let store = Store::open(&path).await?;
    let start = Instant::now();
    let mut latencies: Vec<Duration> = fill_queue(&store, n, parallel, |i| {
        format!("user{i}@bench-{:05}.test", i % 100)
    })
    .await?
    .into_iter()
    .map(|(took, _)| took)
    .collect();
    let total = start.elapsed();
    store.close().await;
    let size: u64 = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "  {n} messages, {parallel} at a time: {:.2} s = {:.0} messages/s, {:.0} µs/message; \
         one submission p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; database {:.1} MiB",
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        total.as_secs_f64() * 1e6 / n as f64,
        quantile(&mut latencies, 0.5).as_secs_f64() * 1e6,
        quantile(&mut latencies, 0.99).as_secs_f64() * 1e6,
        quantile(&mut latencies, 1.0).as_secs_f64() * 1e6,
        size as f64 / (1024.0 * 1024.0)
    );
    println!(
        "RESULT {parallel}_at_a_time messages_per_s={:.0} p50_us={:.0} p99_us={:.0}",
        n as f64 / total.as_secs_f64(),
        quantile(&mut latencies, 0.5).as_secs_f64() * 1e6,
        quantile(&mut latencies, 0.99).as_secs_f64() * 1e6,
    );
    Ok(())
}

/// Part 2: `sendguard serve` with `n` messages queued.
async fn serve_memory(n: usize) -> anyhow::Result<()> {
    let dir = bench_dir()?;
    let kinds: &[fn() -> HostKind] = &[
        || HostKind::SelfSigned,
        || HostKind::DaneEe,
        || HostKind::Plain,
        || HostKind::RefuseStartTls,
    ];
    let list = generated("mem", 100, kinds);
    let domains: Vec<&'static str> = list.iter().map(|s| s.domain).collect();
    let world = SimWorld::start_with(list, dir.path()).await?;
    let path = dir.path().join("sendguard.db");
    let store = Store::open(&path).await?;
    let start = Instant::now();
    let filled = fill_queue(&store, n, 16, |i| {
        format!("user{i}@{}", domains[i % domains.len()])
    })
    .await?;
    // Submission counts the user's unfinished recipients (the per-user bound), so its cost
    // grows with the queue: the mean of the first and of the last thousand shows how much.
    let mean_ms = |part: &[(Duration, i64)]| {
        part.iter().map(|(t, _)| t.as_secs_f64()).sum::<f64>() * 1e3 / part.len().max(1) as f64
    };
    let tenth = (n / 10).max(1);
    println!(
        "  queued {n} messages to {} domains in {:.1} s, 16 at a time; one submission took \
         {:.1} ms on average among the first {tenth}, {:.1} ms among the last {tenth}",
        domains.len(),
        start.elapsed().as_secs_f64(),
        mean_ms(&filled[..tenth.min(filled.len())]),
        mean_ms(&filled[filled.len().saturating_sub(tenth)..])
    );
    add_queue_owner(&store).await?;
    store.close().await;

    let serve = Serve::start(&path, &world, &dir.path().join("serve.log"))?;
    let pid = Some(serve.pid());
    let listening = status_kib(pid, "VmRSS");
    let cookie = sign_in_as_owner(serve.addr)?;
    let t = Instant::now();
    let (status, bytes) = http_get(serve.addr, "/api/messages", &cookie)?;
    println!(
        "  GET /api/messages: {status}, {:.1} MiB of JSON in {:.2} s",
        bytes as f64 / (1024.0 * 1024.0),
        t.elapsed().as_secs_f64()
    );
    let after_list = status_kib(pid, "VmRSS");
    let received = || -> usize {
        domains
            .iter()
            .filter_map(|d| world.peer(&format!("mx.{d}")))
            .map(|p| p.counts().accepted)
            .sum()
    };
    let (mut last, mut last_change, mut peak_sampled) = (received(), Instant::now(), 0);
    let start = Instant::now();
    while last_change.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak_sampled = peak_sampled.max(status_kib(pid, "VmRSS").unwrap_or(0));
        let now = received();
        if now != last {
            (last, last_change) = (now, Instant::now());
        }
    }
    let working = start.elapsed().saturating_sub(Duration::from_secs(15));
    println!(
        "  sendguard serve: RSS {} when listening, {} after the listing; the peers received \
         {last} messages in {:.1} s (RSS sampled up to {}); peak RSS (VmHWM) {}",
        mib(listening),
        mib(after_list),
        working.as_secs_f64(),
        mib(Some(peak_sampled)),
        mib(status_kib(pid, "VmHWM"))
    );
    println!(
        "RESULT serve_with_{n}_queued peak_rss_mib={:.1} delivered_per_s={:.1}",
        status_kib(pid, "VmHWM").unwrap_or(0) as f64 / 1024.0,
        last as f64 / working.as_secs_f64().max(1e-3)
    );
    drop(serve);
    world.shutdown().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let n = env_usize("SENDGUARD_BENCH_MESSAGES", 1000);
    let queued = env_usize("SENDGUARD_BENCH_QUEUED", 10_000);
    assert!(
        queued as i64 <= submit::MAX_PENDING_PER_USER,
        "at most {} recipients may wait for one user",
        submit::MAX_PENDING_PER_USER
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!("queue_cost: submission into the durable queue (one fsync per message)");
        per_message(n, 1).await?;
        per_message(n, 16).await?;
        println!("queue_cost: sendguard serve with {queued} messages queued");
        serve_memory(queued).await
    })
}
