//! The probe's memory stays bounded while 100 probes of hostile SMTP peers run at once: peers
//! that stall, send an endless multi-line greeting, a 1 MiB line, garbage after the 220 to
//! STARTTLS, a reset in the middle of the handshake, or a chain of 200 certificates (the
//! simulated peers of `sendguard_sim::smtp`, in this process, on loopback).
//!
//! The measure is the growth of the process's peak resident set (`VmHWM` in
//! `/proc/self/status`) over one probe of each peer alone and then the burst, against a
//! generous bound: a resource bound, not a timing assertion. This file holds this one test
//! only, so that no other test's memory is counted.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sendguard::smtp::{HeloName, SmtpConfig, TlsParams, probe};
use sendguard_sim::pki::{SimCa, self_signed};
use sendguard_sim::smtp::{PeerBehaviour, SmtpPeer};

/// How many probes run at once.
const PROBES: usize = 100;

/// The bound on the growth of the peak resident set. Each probe may hold a bounded reply
/// (16 KiB), one TLS handshake (at most 64 KiB per message) and its task; the peers in this
/// process hold their sockets and a rustls configuration per connection. Measured here:
/// about 7 MiB. Within these short timeouts even a reader without reply bounds stays near
/// that in a debug build (the peers cannot send faster), so this guards against gross
/// growth per probe; the reply bounds themselves are proven in `smtp::reply`'s tests.
const BOUND_KIB: u64 = 32 * 1024;

/// A line of `/proc/self/status` in KiB, e.g. `VmHWM`.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

fn config() -> SmtpConfig {
    SmtpConfig {
        helo_name: HeloName::parse("probe.sendguard.test").expect("a name"),
        connect_timeout: Duration::from_secs(2),
        greeting_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(2),
        tls_timeout: Duration::from_secs(2),
        session_timeout: Duration::from_secs(5),
        ..SmtpConfig::default()
    }
}

async fn hostile_peers() -> Vec<SmtpPeer> {
    let ca = SimCa::new("Memory CA").expect("ca");
    let mut long = self_signed(&["mx.long-chain.test"]).expect("certificate");
    long.chain.extend(std::iter::repeat_n(ca.cert_der(), 199));
    let behaviours = [
        PeerBehaviour::Stall,
        PeerBehaviour::Hostile,
        PeerBehaviour::LongLine { bytes: 1 << 20 },
        PeerBehaviour::GarbageAfterStartTls,
        PeerBehaviour::ResetInHandshake,
        PeerBehaviour::StartTls { identity: long },
    ];
    let mut peers = Vec::new();
    for (i, behaviour) in behaviours.into_iter().enumerate() {
        let bind = SocketAddr::from(([127, 0, 44, i as u8 + 1], 0));
        peers.push(SmtpPeer::spawn(bind, behaviour).await.expect("peer"));
    }
    peers
}

/// One probe; `true` when it ended without TLS (as every hostile peer must).
async fn probe_once(addr: SocketAddr, cfg: &SmtpConfig) -> bool {
    let params = TlsParams::accept_any(Some("mx.hostile.test".into()));
    match probe(addr, params, cfg, ()).await {
        Err(_) => true,
        Ok(session) => session.tls.is_none() && session.tls_failure.is_some(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_while_100_hostile_probes_run() {
    let peers = hostile_peers().await;
    let addrs: Vec<SocketAddr> = peers.iter().map(SmtpPeer::addr).collect();
    let cfg = config();
    let before = status_kib("VmHWM");
    // One probe of each first, alone, then the burst: both count.
    for addr in &addrs {
        assert!(probe_once(*addr, &cfg).await, "{addr}: no TLS");
    }
    let started = Instant::now();
    let burst = (0..PROBES).map(|i| {
        let addr = addrs[i % addrs.len()];
        let cfg = &cfg;
        async move { probe_once(addr, cfg).await }
    });
    let ended = futures::future::join_all(burst).await;
    let took = started.elapsed();
    let grown = status_kib("VmHWM").saturating_sub(before);
    assert!(
        ended.iter().all(|&no_tls| no_tls),
        "every probe ends without TLS"
    );
    assert!(took < Duration::from_secs(15), "the burst took {took:?}");
    assert!(
        grown < BOUND_KIB,
        "the peak resident set grew by {grown} KiB during {PROBES} hostile probes (bound {BOUND_KIB} KiB)"
    );
    eprintln!("{PROBES} hostile probes: peak RSS +{grown} KiB, {took:?}");
    for peer in peers {
        peer.shutdown().await;
    }
}
