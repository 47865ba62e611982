//! Hostile DNS answers (issue 10, item 11, the DNS part): a signed zone of the simulated DNS
//! whose names form a CNAME loop, and one with a chain of 20 CNAME links, for an MX host and
//! for the recipient domain itself. Each probe must end well within its DNS timeout as "SSL?"
//! (not blocked: nothing was forged) with a reason that names the CNAME chain.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use sendguard::dns::DnsConfig;
use sendguard::probe::{ProbeConfig, Prober};
use sendguard_common::{DomainVerdict, SecurityClass};
use sendguard_sim::dns::{DnsSim, Signing, ZoneSpec};

mod common;

/// The whole-lookup DNS timeout of the prober: each probe must end well before twice this.
const DNS_TIMEOUT: Duration = Duration::from_secs(3);

/// `hostile.test`: `loop-mx` has an MX host in a two-name CNAME loop, `chain-mx` one at the
/// head of 20 CNAME links (ending at an address), and `loop-domain` / `chain-domain` are
/// themselves the aliases.
fn zone() -> ZoneSpec {
    let mut records = String::from(
        "loop-mx MX 10 a.loop\na.loop CNAME b.loop\nb.loop CNAME a.loop\n\
         chain-mx MX 10 l0.chain\n\
         loop-domain CNAME c.loop\nc.loop CNAME loop-domain\n\
         chain-domain CNAME l0.chain\n",
    );
    for i in 0..20 {
        records.push_str(&format!("l{i}.chain CNAME l{}.chain\n", i + 1));
    }
    records.push_str("l20.chain A 127.0.94.1\nl20.chain MX 10 l20.chain\n");
    ZoneSpec {
        origin: "hostile.test".into(),
        records,
        signing: Signing::Signed,
    }
}

async fn probe_all(sim: &DnsSim, domains: &[&str]) -> Vec<(DomainVerdict, Duration)> {
    let mut config = ProbeConfig::new(DnsConfig {
        resolver: Some(sim.addr()),
        trust_anchor: Some(sim.trust_anchor_path().to_path_buf()),
        timeout: DNS_TIMEOUT,
    });
    config.allow_private_targets = true;
    config.smtp.port = 9; // nothing listens there: no SMTP session is wanted
    let mut out = Vec::new();
    for domain in domains {
        let prober = Prober::new(config.clone()).unwrap();
        let start = Instant::now();
        let verdict = tokio::time::timeout(DNS_TIMEOUT * 4, common::probe_verdict(prober, domain))
            .await
            .unwrap_or_else(|_| panic!("the probe of {domain} did not end"));
        out.push((verdict, start.elapsed()));
    }
    out
}

#[tokio::test]
async fn cname_loops_and_long_chains_end_as_unknown_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let sim = DnsSim::start(IpAddr::V4(Ipv4Addr::LOCALHOST), vec![zone()], dir.path())
        .await
        .expect("the simulated DNS starts");
    let domains = [
        "loop-mx.hostile.test",
        "chain-mx.hostile.test",
        "loop-domain.hostile.test",
        "chain-domain.hostile.test",
    ];
    let mut wrong = Vec::new();
    for (v, took) in probe_all(&sim, &domains).await {
        let seen = format!(
            "{}: {:?}{} in {took:?}: {}",
            v.domain,
            v.class,
            if v.blocked { ", blocked" } else { "" },
            v.reason
        );
        println!("{seen}");
        // Not blocked: nothing was forged; "SSL?" with a reason that names the chain.
        let ok = took < DNS_TIMEOUT * 2
            && v.class == SecurityClass::Unknown
            && !v.blocked
            && v.reason.contains("CNAME");
        if !ok {
            wrong.push(seen);
        }
    }
    sim.shutdown().await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
