//! The DNS layer against the simulated DNS: the real hickory resolver (validating, with the
//! simulator's root key as its only trust anchor) asks the real hickory-server on loopback.
//! Nothing is mocked and nothing leaves 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use sendguard::dane::tlsa::TlsaRecord;
use sendguard::dns::{Dns, DnsConfig, DnsError, MxHost, MxKind, to_a_label};
use sendguard_common::DnssecStatus;
use sendguard_sim::dns::{DnsSim, Signing, ZoneSpec};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SPKI_HASH: &str = "8bd1da95272f7fa4ffb24137fc0ed03aae67e5c4d8b3c50734e1050a7920b922";

fn zone(origin: &str, signing: Signing, records: &str) -> ZoneSpec {
    ZoneSpec {
        origin: origin.into(),
        records: records.into(),
        signing,
    }
}

fn zones() -> Vec<ZoneSpec> {
    vec![
        zone(
            "signed.test",
            Signing::Signed,
            &format!(
                "@ 300 IN MX 20 mx2\n\
                 @ 300 IN MX 10 mx1\n\
                 @ 300 IN MX 10 mx0\n\
                 mx0 300 IN A 127.0.0.10\n\
                 mx1 300 IN A 127.0.0.11\n\
                 mx1 300 IN AAAA ::1\n\
                 mx2 300 IN A 127.0.0.12\n\
                 _25._tcp.mx1 300 IN TLSA 3 1 1 {SPKI_HASH}\n\
                 _25._tcp.mx1 300 IN TLSA 2 0 2 {SPKI_HASH}{SPKI_HASH}\n\
                 _25._tcp.mx0 300 IN TXT \"not a TLSA record\"\n"
            ),
        ),
        zone(
            "unsigned.test",
            Signing::Unsigned,
            &format!(
                "@ IN MX 10 mx\n\
                 mx IN A 127.0.0.21\n\
                 _25._tcp.mx IN TLSA 3 1 1 {SPKI_HASH}\n"
            ),
        ),
        zone(
            "bogus.test",
            Signing::Bogus,
            &format!(
                "@ IN MX 10 mx\n\
                 mx IN A 127.0.0.31\n\
                 _25._tcp.mx IN TLSA 3 1 1 {SPKI_HASH}\n"
            ),
        ),
        zone("nullmx.test", Signing::Signed, "@ IN MX 0 .\n"),
        zone("implicit.test", Signing::Signed, "@ IN A 127.0.0.41\n"),
        zone(
            "nomail.test",
            Signing::Signed,
            "@ IN TXT \"no mail here\"\n",
        ),
        zone(
            "alias.test",
            Signing::Signed,
            "@ IN MX 10 mail\n\
             mail IN CNAME real.signed.test.\n",
        ),
        zone(
            "changing.test",
            Signing::Signed,
            "@ IN MX 10 old\nold IN A 127.0.0.51\n",
        ),
    ]
}

struct World {
    sim: DnsSim,
    dns: Dns,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut specs = zones();
    // `alias.test` points into `signed.test`; give the target an address there.
    specs[0].records.push_str("real 300 IN A 127.0.0.61\n");
    let sim = DnsSim::start(LOOPBACK, specs, dir.path())
        .await
        .expect("start the simulated DNS");
    let dns = Dns::new(&DnsConfig {
        resolver: Some(sim.addr()),
        trust_anchor: Some(sim.trust_anchor_path().to_path_buf()),
        timeout: Duration::from_secs(5),
    })
    .expect("build the resolver");
    World {
        sim,
        dns,
        _dir: dir,
    }
}

fn host(preference: u16, host: &str) -> MxHost {
    MxHost {
        preference,
        host: host.into(),
    }
}

#[tokio::test]
async fn signed_mx_is_secure_and_sorted_by_preference_then_name() {
    let w = world().await;
    let answer = w.dns.mx("signed.test").await.expect("MX answer");
    assert_eq!(answer.dnssec, DnssecStatus::Secure);
    assert_eq!(
        answer.kind,
        MxKind::Hosts(vec![
            host(10, "mx0.signed.test"),
            host(10, "mx1.signed.test"),
            host(20, "mx2.signed.test"),
        ])
    );
    let addresses = w.dns.addresses("mx1.signed.test").await.expect("addresses");
    assert_eq!(addresses.dnssec, DnssecStatus::Secure);
    assert_eq!(
        addresses.addresses,
        vec![
            "127.0.0.11".parse::<IpAddr>().unwrap(),
            "::1".parse::<IpAddr>().unwrap()
        ]
    );
    assert_eq!(addresses.canonical, None);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn unsigned_zone_is_insecure() {
    let w = world().await;
    let answer = w.dns.mx("unsigned.test").await.expect("MX answer");
    assert_eq!(answer.dnssec, DnssecStatus::Insecure);
    assert_eq!(
        answer.kind,
        MxKind::Hosts(vec![host(10, "mx.unsigned.test")])
    );
    let addresses = w
        .dns
        .addresses("mx.unsigned.test")
        .await
        .expect("addresses");
    assert_eq!(addresses.dnssec, DnssecStatus::Insecure);
    assert_eq!(
        addresses.addresses,
        vec!["127.0.0.21".parse::<IpAddr>().unwrap()]
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn bogus_zone_is_an_error_not_an_answer() {
    let w = world().await;
    let err = w
        .dns
        .mx("bogus.test")
        .await
        .expect_err("bogus MX must fail");
    assert!(matches!(err, DnsError::Bogus(_)), "{err:?}");
    assert!(err.is_temporary(), "bogus means defer");
    let err = w
        .dns
        .tlsa("mx.bogus.test")
        .await
        .expect_err("bogus TLSA must fail");
    assert!(matches!(err, DnsError::Bogus(_)), "{err:?}");
    let err = w
        .dns
        .addresses("mx.bogus.test")
        .await
        .expect_err("bogus A must fail");
    assert!(matches!(err, DnsError::Bogus(_)), "{err:?}");
    w.sim.shutdown().await;
}

#[tokio::test]
async fn missing_domain_is_a_secure_nxdomain() {
    let w = world().await;
    let answer = w.dns.mx("does-not-exist.test").await.expect("MX answer");
    assert_eq!(answer.kind, MxKind::NxDomain);
    assert_eq!(answer.dnssec, DnssecStatus::Secure);
    let addresses = w
        .dns
        .addresses("nohost.signed.test")
        .await
        .expect("addresses");
    assert!(addresses.addresses.is_empty());
    assert_eq!(addresses.dnssec, DnssecStatus::Secure);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn null_mx_is_recognised() {
    let w = world().await;
    let answer = w.dns.mx("nullmx.test").await.expect("MX answer");
    assert_eq!(answer.kind, MxKind::NullMx);
    assert_eq!(answer.dnssec, DnssecStatus::Secure);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn domain_with_only_an_address_is_its_own_mx() {
    let w = world().await;
    let answer = w.dns.mx("implicit.test").await.expect("MX answer");
    assert_eq!(answer.kind, MxKind::Implicit);
    assert_eq!(answer.dnssec, DnssecStatus::Secure);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn domain_without_mx_or_address_has_no_mail_host() {
    let w = world().await;
    let answer = w.dns.mx("nomail.test").await.expect("MX answer");
    assert_eq!(answer.kind, MxKind::NoMailHost);
    assert_eq!(answer.dnssec, DnssecStatus::Secure);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn tlsa_in_signed_zone_is_secure_with_its_fields() {
    let w = world().await;
    let answer = w.dns.tlsa("mx1.signed.test").await.expect("TLSA answer");
    assert_eq!(answer.dnssec, DnssecStatus::Secure);
    let hash = hex::decode(SPKI_HASH).unwrap();
    let mut records = answer.records.clone();
    records.sort_by_key(|r| r.usage);
    assert_eq!(
        records,
        vec![
            TlsaRecord {
                usage: 2,
                selector: 0,
                matching: 2,
                data: [hash.clone(), hash.clone()].concat(),
            },
            TlsaRecord {
                usage: 3,
                selector: 1,
                matching: 1,
                data: hash,
            },
        ]
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn signed_zone_without_tlsa_proves_there_is_none() {
    let w = world().await;
    // No name at all under mx2 (NXDOMAIN).
    let answer = w.dns.tlsa("mx2.signed.test").await.expect("TLSA answer");
    assert_eq!(answer.dnssec, DnssecStatus::Secure);
    assert!(answer.records.is_empty());
    // The owner name exists with another type (NODATA).
    let answer = w.dns.tlsa("mx0.signed.test").await.expect("TLSA answer");
    assert_eq!(answer.dnssec, DnssecStatus::Secure);
    assert!(answer.records.is_empty());
    w.sim.shutdown().await;
}

#[tokio::test]
async fn tlsa_in_unsigned_zone_is_insecure_but_returned() {
    let w = world().await;
    let answer = w.dns.tlsa("mx.unsigned.test").await.expect("TLSA answer");
    assert_eq!(answer.dnssec, DnssecStatus::Insecure);
    assert_eq!(answer.records.len(), 1);
    assert_eq!(answer.records[0].usage, 3);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn mx_host_that_is_a_cname_reports_its_canonical_name() {
    let w = world().await;
    let answer = w.dns.mx("alias.test").await.expect("MX answer");
    assert_eq!(
        answer.kind,
        MxKind::Hosts(vec![host(10, "mail.alias.test")])
    );
    let addresses = w.dns.addresses("mail.alias.test").await.expect("addresses");
    assert_eq!(addresses.canonical.as_deref(), Some("real.signed.test"));
    assert_eq!(
        addresses.addresses,
        vec!["127.0.0.61".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(addresses.dnssec, DnssecStatus::Secure);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn replaced_zone_is_seen_after_the_cache_is_cleared() {
    let w = world().await;
    let before = w.dns.mx("changing.test").await.expect("MX answer");
    assert_eq!(
        before.kind,
        MxKind::Hosts(vec![host(10, "old.changing.test")])
    );
    assert_eq!(before.dnssec, DnssecStatus::Secure);

    w.sim
        .replace_zone(zone(
            "changing.test",
            Signing::Signed,
            "@ IN MX 5 new\nnew IN A 127.0.0.52\n",
        ))
        .await
        .expect("replace the zone");
    w.dns.clear_cache();
    let after = w.dns.mx("changing.test").await.expect("MX answer");
    assert_eq!(
        after.kind,
        MxKind::Hosts(vec![host(5, "new.changing.test")])
    );
    assert_eq!(after.dnssec, DnssecStatus::Secure);

    // The signing can change too: the parent's DS follows.
    w.sim
        .replace_zone(zone(
            "changing.test",
            Signing::Unsigned,
            "@ IN MX 5 new\nnew IN A 127.0.0.52\n",
        ))
        .await
        .expect("replace the zone");
    w.dns.clear_cache();
    let unsigned = w.dns.mx("changing.test").await.expect("MX answer");
    assert_eq!(unsigned.dnssec, DnssecStatus::Insecure);

    w.sim
        .replace_zone(zone(
            "changing.test",
            Signing::Bogus,
            "@ IN MX 5 new\nnew IN A 127.0.0.52\n",
        ))
        .await
        .expect("replace the zone");
    w.dns.clear_cache();
    let err = w.dns.mx("changing.test").await.expect_err("now bogus");
    assert!(err.is_bogus(), "{err:?}");

    let unknown = w
        .sim
        .replace_zone(zone("never-started.test", Signing::Signed, ""))
        .await;
    assert!(unknown.is_err());
    w.sim.shutdown().await;
}

#[tokio::test]
async fn resolver_trusting_another_root_key_sees_bogus() {
    let w = world().await;
    let other_dir = tempfile::tempdir().unwrap();
    let other = DnsSim::start(LOOPBACK, vec![], other_dir.path())
        .await
        .unwrap();
    let dns = Dns::new(&DnsConfig {
        resolver: Some(w.sim.addr()),
        trust_anchor: Some(other.trust_anchor_path().to_path_buf()),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let err = dns.mx("signed.test").await.expect_err("wrong anchor");
    assert!(err.is_bogus(), "{err:?}");
    other.shutdown().await;
    w.sim.shutdown().await;
}

#[test]
fn unreadable_trust_anchor_is_a_permanent_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anchor.txt");
    std::fs::write(&path, "this is not a DNSKEY\n").unwrap();
    let err = Dns::new(&DnsConfig {
        resolver: Some((Ipv4Addr::LOCALHOST, 53).into()),
        trust_anchor: Some(path),
        timeout: Duration::from_secs(1),
    })
    .expect_err("bad trust anchor");
    assert!(matches!(err, DnsError::Permanent(_)), "{err:?}");
}

#[tokio::test]
async fn unreachable_resolver_is_a_temporary_error_within_the_timeout() {
    // A UDP port on loopback with nobody listening: the lookup must give up in time.
    let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = socket.local_addr().unwrap();
    drop(socket);
    let dir = tempfile::tempdir().unwrap();
    let sim = DnsSim::start(LOOPBACK, vec![], dir.path()).await.unwrap();
    let dns = Dns::new(&DnsConfig {
        resolver: Some(addr),
        trust_anchor: Some(sim.trust_anchor_path().to_path_buf()),
        timeout: Duration::from_millis(500),
    })
    .unwrap();
    let started = std::time::Instant::now();
    let err = dns.mx("signed.test").await.expect_err("nobody answers");
    assert!(matches!(err, DnsError::Temporary(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    sim.shutdown().await;
}

#[test]
fn idna_names_become_a_labels() {
    assert_eq!(
        to_a_label("bücher.example").unwrap(),
        "xn--bcher-kva.example"
    );
    assert!(to_a_label("bad_label.example").is_err());
    assert!(to_a_label("a..b").is_err());
}
