//! The address guard end to end (issue 10, item 8): a signed zone of the simulated DNS gives an
//! MX host addresses that are not global unicast (IPv6 outside the allow-list, and addresses
//! that carry a private or loopback IPv4 address inside NAT64, 6to4 and Teredo), and the probe,
//! with loopback allowed as in every test, must not even try to connect to any of them. The
//! prober's connect log records every attempt at the connect step itself; the one loopback
//! address among them (nothing listens there) shows that the log does see attempts.
//!
//! Only loopback is ever connected to: every other address in the zone is one the guard
//! refuses, so even a broken guard would be caught by the log rather than by the network.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use sendguard::dns::DnsConfig;
use sendguard::probe::facts::{EndpointOutcome, MxFacts};
use sendguard::probe::safety::ConnectLog;
use sendguard::probe::{ProbeConfig, Prober};
use sendguard_sim::dns::{DnsSim, Signing, ZoneSpec};

/// The addresses the zone gives `mx.guard.test` and `mx2.guard.test`, none of which may be contacted.
const REFUSED: &[&str] = &[
    // 6to4 of 10.0.0.1 and of 127.0.0.1 (a loopback inside 6to4 leaves the machine).
    "2002:a00:1::1",
    "2002:7f00:1::1",
    // Teredo whose client is 10.0.0.1 (stored inverted).
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",
    // NAT64: local-use 64:ff9b:1::/48 with 10.0.0.1, well-known with 192.168.1.1, and the
    // operator's prefix 2a00:64::/96 (configured below) with 172.16.0.1.
    "64:ff9b:1:a00:0:100::",
    "64:ff9b::c0a8:101",
    "2a00:64::ac10:1",
    // Inside 2000::/3 but special: documentation, benchmarking, ORCHIDv2.
    "3fff::25",
    "2001:2::25",
    "2001:20::25",
    // Outside 2000::/3: not global unicast.
    "4000::25",
    "fec0::25",
    "fd00::25",
];

/// Loopback, allowed in tests; nothing listens on [`CLOSED_PORT`] there.
const LOOPBACK: Ipv4Addr = Ipv4Addr::new(127, 0, 93, 1);
const CLOSED_PORT: u16 = 9;

#[tokio::test]
async fn no_connection_is_attempted_to_an_address_outside_the_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    // Two MX hosts, so that each stays within the probe's bound of addresses per host.
    let mut records = String::from("@ MX 10 mx\n@ MX 20 mx2\n");
    records.push_str(&format!("mx A {LOOPBACK}\n"));
    for (i, ip) in REFUSED.iter().enumerate() {
        let host = if i < REFUSED.len() / 2 { "mx" } else { "mx2" };
        records.push_str(&format!("{host} AAAA {ip}\n"));
    }
    let zone = ZoneSpec {
        origin: "guard.test".into(),
        records,
        signing: Signing::Signed,
    };
    let sim = DnsSim::start(IpAddr::V4(Ipv4Addr::LOCALHOST), vec![zone], dir.path())
        .await
        .expect("the simulated DNS starts");

    let mut config = ProbeConfig::new(DnsConfig {
        resolver: Some(sim.addr()),
        trust_anchor: Some(sim.trust_anchor_path().to_path_buf()),
        timeout: Duration::from_secs(5),
    });
    config.allow_private_targets = true;
    config.nat64_prefixes = vec!["2a00:64::/96".parse().unwrap()];
    config.smtp.port = CLOSED_PORT;
    config.smtp.connect_timeout = Duration::from_secs(2);
    let log = ConnectLog::new();
    config.connect_log = Some(log.clone());
    let prober = Prober::new(config).unwrap();

    let facts = prober.probe("guard.test", true).await.unwrap();
    let MxFacts::Hosts { hosts, .. } = &facts.mx else {
        panic!("MX hosts expected: {facts:#?}");
    };
    let endpoints: Vec<_> = hosts.iter().flat_map(|h| &h.endpoints).collect();
    assert_eq!(endpoints.len(), REFUSED.len() + 1, "{facts:#?}");

    assert_eq!(
        log.attempts(),
        [SocketAddr::from((LOOPBACK, CLOSED_PORT))],
        "only the loopback address may be tried"
    );
    for e in endpoints.iter().filter(|e| e.ip != IpAddr::V4(LOOPBACK)) {
        match &e.outcome {
            EndpointOutcome::Forbidden(why) => {
                assert!(why.ends_with("is not probed"), "{}: {why}", e.ip)
            }
            other => panic!("{} must be refused, got {other:?}", e.ip),
        }
    }
    let reason = |ip: &str| {
        let ip: IpAddr = ip.parse().unwrap();
        match &endpoints.iter().find(|e| e.ip == ip).unwrap().outcome {
            EndpointOutcome::Forbidden(why) => why.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        reason("2002:a00:1::1"),
        "a 6to4 address that carries a private address (RFC 1918) (10.0.0.1) is not probed"
    );
    assert!(reason("2a00:64::ac10:1").starts_with("a NAT64 address"));
    sim.shutdown().await;
}
