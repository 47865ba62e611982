//! DS-form trust anchors (the form IANA publishes the root anchor in): the key a DS record
//! names is fetched and then trusted, against the simulated signed DNS tree; a DS record that
//! names no key of the zone makes every lookup fail as bogus.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use hickory_proto::dnssec::rdata::DNSKEY;
use hickory_proto::dnssec::{DigestType, TrustAnchors};
use hickory_proto::rr::Name;
use sendguard::dns::{Dns, DnsConfig, DnsError, MxKind};
use sendguard_common::DnssecStatus;
use sendguard_sim::dns::{DnsSim, Signing, ZoneSpec};

/// The DS record (SHA-256) of the first DNSKEY in a DNSKEY trust anchor file.
fn ds_line(dnskey_file: &Path, corrupt: bool) -> String {
    let anchors = TrustAnchors::from_file(dnskey_file).unwrap();
    let key = DNSKEY::from_key(anchors.get(0).expect("a key in the sim's anchor file"));
    let mut digest = key
        .to_digest(&Name::root(), DigestType::SHA256)
        .unwrap()
        .as_ref()
        .to_vec();
    if corrupt {
        digest[0] ^= 0xff;
    }
    format!(
        ". 3600 IN DS {} 13 2 {}\n",
        key.calculate_key_tag().unwrap(),
        hex::encode_upper(digest)
    )
}

#[tokio::test]
async fn a_ds_anchor_validates_like_the_key_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let zone = ZoneSpec {
        origin: "anchored.test".into(),
        records: "@ 300 IN MX 10 mx\nmx 300 IN A 127.0.9.1\n".into(),
        signing: Signing::Signed,
    };
    let sim = DnsSim::start(
        IpAddr::V4(Ipv4Addr::new(127, 0, 54, 1)),
        vec![zone],
        dir.path(),
    )
    .await
    .unwrap();
    let config = |anchor: &Path| DnsConfig {
        resolver: Some(sim.addr()),
        trust_anchor: Some(anchor.to_path_buf()),
        timeout: Duration::from_secs(5),
    };

    let good = dir.path().join("ds.txt");
    std::fs::write(&good, ds_line(sim.trust_anchor_path(), false)).unwrap();
    let dns = Dns::new(&config(&good)).unwrap();
    let mx = dns.mx("anchored.test").await.unwrap();
    assert_eq!(mx.dnssec, DnssecStatus::Secure);
    assert!(matches!(mx.kind, MxKind::Hosts(ref h) if h[0].host == "mx.anchored.test"));

    let wrong = dir.path().join("wrong-ds.txt");
    std::fs::write(&wrong, ds_line(sim.trust_anchor_path(), true)).unwrap();
    let dns = Dns::new(&config(&wrong)).unwrap();
    match dns.mx("anchored.test").await {
        Err(DnsError::Bogus(why)) => assert!(why.contains("DS trust anchor"), "{why}"),
        other => panic!("a DS naming no key must be bogus, got {other:?}"),
    }
    sim.shutdown().await;
}

#[test]
fn other_record_types_in_an_anchor_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.txt");
    std::fs::write(&path, ". 3600 IN A 192.0.2.1\n").unwrap();
    let err = Dns::new(&DnsConfig {
        resolver: Some("127.0.0.1:53".parse().unwrap()),
        trust_anchor: Some(path),
        timeout: Duration::from_secs(1),
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("neither a DNSKEY nor a DS"),
        "{err}"
    );
}
