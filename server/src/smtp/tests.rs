//! Probes against real loopback servers: the simulated peers of [`sendguard_sim::smtp`] and, for
//! misbehaviour the peers do not offer, small scripted TCP servers. Real TCP, real TLS
//! handshakes, only 127.0.0.0/8.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::session::Hello;
use super::*;
use sendguard_sim::pki::{Identity, SimCa, self_signed};
use sendguard_sim::smtp::{PeerBehaviour, SmtpPeer, tls_server_config};

/// [`super::probe`] with nothing to hold until its QUIT is over.
async fn probe(
    addr: SocketAddr,
    tls: TlsParams,
    cfg: &SmtpConfig,
) -> Result<ProbeSession, SmtpError> {
    super::probe(addr, tls, cfg, ()).await
}

/// A loopback address of its own for each test (127.0.43.x), any free port.
fn loopback(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 43, last], 0))
}

/// Short timeouts, so a failing test fails fast.
fn quick() -> SmtpConfig {
    SmtpConfig {
        helo_name: HeloName::parse("probe.sendguard.test").expect("a name"),
        connect_timeout: Duration::from_secs(2),
        greeting_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(2),
        tls_timeout: Duration::from_secs(2),
        ..SmtpConfig::default()
    }
}

fn any(sni: &str) -> TlsParams {
    TlsParams::accept_any(Some(sni.to_string()))
}

async fn peer(last: u8, behaviour: PeerBehaviour) -> SmtpPeer {
    SmtpPeer::spawn(loopback(last), behaviour)
        .await
        .expect("peer listens")
}

fn ca_identity(ca: &SimCa, name: &str, with_ca: bool) -> Identity {
    ca.issue(&[name], with_ca).expect("certificate")
}

#[tokio::test]
async fn starttls_peer_gives_tls13_and_the_chain_as_sent() {
    let ca = SimCa::new("Sim CA").expect("ca");
    let identity = ca_identity(&ca, "mx1.sim.test", true);
    let leaf = identity.chain[0].as_ref().to_vec();
    let peer = peer(1, PeerBehaviour::StartTls { identity }).await;

    let s = probe(peer.addr(), any("mx1.sim.test"), &quick())
        .await
        .expect("probe completes");
    assert_eq!(s.greeting_code, 220);
    assert!(s.greeting.contains("ESMTP"));
    assert!(s.esmtp && s.starttls_offered);
    for ext in ["PIPELINING", "8BITMIME", "STARTTLS"] {
        assert!(
            s.extensions.iter().any(|e| e == ext),
            "{ext} in {:?}",
            s.extensions
        );
    }
    assert!(s.extensions.iter().any(|e| e.starts_with("SIZE ")));
    assert_eq!(s.tls_failure, None);
    let tls = s.tls.expect("TLS established");
    assert_eq!(tls.version, crate::tls::TlsVersion::Tls13);
    assert!(tls.cipher_iana.starts_with("TLS_") && !tls.cipher_iana.contains("WITH"));
    assert_eq!(tls.cipher_openssl, tls.cipher_iana);
    assert!(matches!(tls.bits, 128 | 256));
    assert_eq!(tls.peer_chain.len(), 2);
    assert_eq!(tls.peer_chain[0], leaf);
    assert_eq!(tls.peer_chain[1], ca.cert_der().as_ref().to_vec());
    assert!(tls.ehlo_after_tls);
    assert!(!tls.extensions_after_tls.iter().any(|e| e == "STARTTLS"));
    assert!(tls.extensions_after_tls.iter().any(|e| e == "PIPELINING"));
    assert_eq!(peer.connections(), 1);
    assert!(peer.received().is_empty(), "a probe never sends mail");
    peer.shutdown().await;
}

/// A TLS 1.2-only server configuration offering exactly one cipher suite.
fn tls12_only(identity: &Identity, suite: rustls::SupportedCipherSuite) -> Arc<ServerConfig> {
    let provider = CryptoProvider {
        cipher_suites: vec![suite],
        ..rustls::crypto::ring::default_provider()
    };
    let config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("TLS 1.2 supported")
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .expect("server config");
    Arc::new(config)
}

#[tokio::test]
async fn tls12_server_reports_openssl_and_iana_names_and_bits() {
    use rustls::crypto::ring::cipher_suite as cs;
    let identity = self_signed(&["mx2.sim.test"]).expect("certificate");
    let cases = [
        (
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            128,
        ),
        (
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            256,
        ),
        (
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            256,
        ),
    ];
    let peer = peer(2, PeerBehaviour::NoStarttls).await;
    for (suite, openssl, iana, bits) in cases {
        peer.set_behaviour(PeerBehaviour::StartTlsWith {
            config: tls12_only(&identity, suite),
        });
        let s = probe(peer.addr(), any("mx2.sim.test"), &quick())
            .await
            .expect("probe completes");
        let tls = s.tls.expect("TLS established");
        assert_eq!(tls.version, crate::tls::TlsVersion::Tls12);
        assert_eq!(tls.cipher_openssl, openssl);
        assert_eq!(tls.cipher_iana, iana);
        assert_eq!(tls.bits, bits);
        assert_eq!(tls.peer_chain.len(), 1, "self-signed: leaf only");
        assert!(tls.ehlo_after_tls);
    }
    assert_eq!(peer.connections(), 3);
    peer.shutdown().await;
}

#[tokio::test]
async fn tls12_only_peer_helper_negotiates_tls12() {
    let identity = self_signed(&["mx3.sim.test"]).expect("certificate");
    let config = tls_server_config(&identity, &[&rustls::version::TLS12]).expect("config");
    let peer = peer(3, PeerBehaviour::StartTlsWith { config }).await;
    let s = probe(peer.addr(), any("mx3.sim.test"), &quick())
        .await
        .expect("probe completes");
    let tls = s.tls.expect("TLS established");
    assert_eq!(tls.version, crate::tls::TlsVersion::Tls12);
    assert!(tls.cipher_openssl.starts_with("ECDHE-ECDSA-"));
    peer.shutdown().await;
}

#[tokio::test]
async fn plain_server_without_starttls() {
    let peer = peer(4, PeerBehaviour::NoStarttls).await;
    let s = probe(peer.addr(), any("mx4.sim.test"), &quick())
        .await
        .expect("probe completes");
    assert!(s.esmtp);
    assert!(!s.starttls_offered);
    assert_eq!(s.tls, None);
    assert_eq!(s.tls_failure, None);
    peer.shutdown().await;
}

#[tokio::test]
async fn refused_starttls_is_a_finding_with_the_reply() {
    let peer = peer(5, PeerBehaviour::RefuseStartTls).await;
    let s = probe(peer.addr(), any("mx5.sim.test"), &quick())
        .await
        .expect("probe completes");
    assert!(s.starttls_offered);
    assert_eq!(s.tls, None);
    match s.tls_failure {
        Some(TlsFailure::StarttlsRefused(text)) => assert!(text.starts_with("454 "), "{text}"),
        other => panic!("expected StarttlsRefused, got {other:?}"),
    }
    peer.shutdown().await;
}

#[tokio::test]
async fn garbage_instead_of_tls_is_a_handshake_failure() {
    let peer = peer(6, PeerBehaviour::BrokenTls).await;
    let s = probe(peer.addr(), any("mx6.sim.test"), &quick())
        .await
        .expect("probe completes");
    assert!(s.starttls_offered);
    assert!(
        matches!(s.tls_failure, Some(TlsFailure::Handshake(_))),
        "{:?}",
        s.tls_failure
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn slow_greeting_within_the_timeout_is_tolerated() {
    let peer = peer(
        7,
        PeerBehaviour::SlowGreeting {
            delay: Duration::from_secs(1),
            then: Box::new(PeerBehaviour::NoStarttls),
        },
    )
    .await;
    let cfg = SmtpConfig {
        greeting_timeout: Duration::from_secs(3),
        command_timeout: Duration::from_millis(700), // shorter than the delay: not used for it
        ..quick()
    };
    let s = probe(peer.addr(), any("mx7.sim.test"), &cfg)
        .await
        .expect("slow greeting accepted");
    assert_eq!(s.greeting_code, 220);
    peer.shutdown().await;
}

#[tokio::test]
async fn greeting_beyond_the_timeout_is_a_temporary_error() {
    let peer = peer(
        8,
        PeerBehaviour::SlowGreeting {
            delay: Duration::from_secs(5),
            then: Box::new(PeerBehaviour::NoStarttls),
        },
    )
    .await;
    let cfg = SmtpConfig {
        greeting_timeout: Duration::from_millis(300),
        ..quick()
    };
    let started = Instant::now();
    let err = probe(peer.addr(), any("mx8.sim.test"), &cfg)
        .await
        .expect_err("greeting too slow");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(err.is_temporary(), "{err}");
    assert_eq!(err.step(), step::GREETING);
    assert!(err.to_string().contains("reading greeting"), "{err}");
    peer.shutdown().await;
}

#[tokio::test]
async fn rejected_greeting_is_a_permanent_error() {
    let peer = peer(9, PeerBehaviour::RejectGreeting).await;
    let err = probe(peer.addr(), any("mx9.sim.test"), &quick())
        .await
        .expect_err("554 greeting");
    assert!(!err.is_temporary(), "{err}");
    assert_eq!(err.step(), step::GREETING);
    assert!(err.detail().starts_with("554 "), "{err}");
    peer.shutdown().await;
}

#[tokio::test]
async fn temporarily_failing_greeting_is_a_temporary_error() {
    let peer = peer(10, PeerBehaviour::TempFailGreeting).await;
    let err = probe(peer.addr(), any("mx10.sim.test"), &quick())
        .await
        .expect_err("421 greeting");
    assert!(err.is_temporary(), "{err}");
    assert!(err.detail().starts_with("421 "), "{err}");
    peer.shutdown().await;
}

#[tokio::test]
async fn hostile_server_hits_the_reply_limit_quickly() {
    let peer = peer(11, PeerBehaviour::Hostile).await;
    let cfg = SmtpConfig {
        greeting_timeout: Duration::from_secs(10),
        ..quick()
    };
    let started = Instant::now();
    let err = probe(peer.addr(), any("mx11.sim.test"), &cfg)
        .await
        .expect_err("endless greeting");
    assert!(started.elapsed() < Duration::from_secs(5), "no hang");
    assert!(!err.is_temporary(), "{err}");
    assert_eq!(err.step(), step::GREETING);
    assert!(err.detail().contains("exceeds"), "{err}");
    peer.shutdown().await;

    // With a generous byte limit, the line limit stops it instead.
    let peer = SmtpPeer::spawn(loopback(11), PeerBehaviour::Hostile)
        .await
        .expect("peer");
    let cfg = SmtpConfig {
        max_reply_bytes: 1 << 20,
        max_reply_lines: 20,
        ..cfg
    };
    let err = probe(peer.addr(), any("mx11.sim.test"), &cfg)
        .await
        .expect_err("endless greeting");
    assert!(err.detail().contains("20 lines"), "{err}");
    peer.shutdown().await;
}

#[tokio::test]
async fn refused_connection_is_a_temporary_error() {
    // Take a free port, then close it again.
    let listener = TcpListener::bind(loopback(12)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = probe(addr, any("mx12.sim.test"), &quick())
        .await
        .expect_err("nothing listens");
    assert!(err.is_temporary(), "{err}");
    assert_eq!(err.step(), step::CONNECT);
    assert!(err.detail().contains("refused"), "{err}");
}

#[tokio::test]
async fn multi_line_greeting_is_read_whole() {
    let peer = peer(
        13,
        PeerBehaviour::MultiLineGreeting {
            lines: vec![
                "mx13.sim.test ESMTP".into(),
                "No UCE".into(),
                "Be nice".into(),
            ],
            then: Box::new(PeerBehaviour::NoStarttls),
        },
    )
    .await;
    let s = probe(peer.addr(), any("mx13.sim.test"), &quick())
        .await
        .expect("probe completes");
    assert_eq!(s.greeting, "mx13.sim.test ESMTP\nNo UCE\nBe nice");
    assert!(
        s.esmtp,
        "the greeting's lines were not taken as the EHLO reply"
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn old_server_gets_helo() {
    let peer = peer(14, PeerBehaviour::NoEsmtp).await;
    let s = probe(peer.addr(), any("mx14.sim.test"), &quick())
        .await
        .expect("HELO fallback");
    assert!(!s.esmtp);
    assert!(
        s.ehlo_refused
            .as_deref()
            .is_some_and(|r| r.starts_with("500 ")),
        "the refusal is kept: {:?}",
        s.ehlo_refused
    );
    assert!(s.extensions.is_empty());
    assert!(!s.starttls_offered);
    peer.shutdown().await;
}

#[tokio::test]
async fn the_given_verifier_judges_the_certificate_and_sni() {
    let ca = SimCa::new("Sim CA").expect("ca");
    let other_ca = SimCa::new("Other CA").expect("ca");
    let peer = peer(
        15,
        PeerBehaviour::StartTls {
            identity: ca_identity(&ca, "mx15.sim.test", false),
        },
    )
    .await;
    let webpki = |root: &SimCa| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root.cert_der()).expect("root");
        rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            tls::provider(),
        )
        .build()
        .expect("verifier")
    };
    // Right root, right name: established.
    let params = TlsParams {
        sni: Some("mx15.sim.test.".into()),
        verifier: webpki(&ca),
    };
    let s = probe(peer.addr(), params, &quick()).await.expect("probe");
    assert!(s.tls.is_some(), "{:?}", s.tls_failure);
    // Wrong root: a certificate failure, reported as a finding.
    let params = TlsParams {
        sni: Some("mx15.sim.test".into()),
        verifier: webpki(&other_ca),
    };
    let s = probe(peer.addr(), params, &quick()).await.expect("probe");
    assert!(
        matches!(s.tls_failure, Some(TlsFailure::Certificate(_))),
        "{:?}",
        s.tls_failure
    );
    // Right root, wrong name (the SNI is what the verifier checks).
    let params = TlsParams {
        sni: Some("other.sim.test".into()),
        verifier: webpki(&ca),
    };
    let s = probe(peer.addr(), params, &quick()).await.expect("probe");
    assert!(matches!(s.tls_failure, Some(TlsFailure::Certificate(_))));
    peer.shutdown().await;
}

/// Presents a certificate whose key the server does not hold.
#[derive(Debug)]
struct WrongKey(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for WrongKey {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[tokio::test]
async fn accept_any_still_requires_the_server_to_hold_the_key() {
    let shown = self_signed(&["mx16.sim.test"]).expect("certificate");
    let held = self_signed(&["mx16.sim.test"]).expect("certificate");
    let provider = tls::provider();
    let key = provider
        .key_provider
        .load_private_key(held.key.clone_key())
        .expect("key");
    let certified = rustls::sign::CertifiedKey::new(shown.chain.clone(), key);
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let config = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[version])
            .expect("versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(WrongKey(Arc::new(certified.clone()))));
        let peer = peer(
            16,
            PeerBehaviour::StartTlsWith {
                config: Arc::new(config),
            },
        )
        .await;
        let s = probe(peer.addr(), any("mx16.sim.test"), &quick())
            .await
            .expect("probe");
        assert_eq!(s.tls, None);
        assert!(
            matches!(s.tls_failure, Some(TlsFailure::Certificate(_))),
            "{version:?}: {:?}",
            s.tls_failure
        );
        peer.shutdown().await;
    }
}

#[tokio::test]
async fn a_peer_can_change_between_two_probes() {
    let peer = peer(17, PeerBehaviour::NoStarttls).await;
    let first = probe(peer.addr(), any("mx17.sim.test"), &quick())
        .await
        .expect("probe");
    assert!(!first.starttls_offered);
    peer.set_behaviour(PeerBehaviour::StartTls {
        identity: self_signed(&["mx17.sim.test"]).expect("certificate"),
    });
    let second = probe(peer.addr(), any("mx17.sim.test"), &quick())
        .await
        .expect("probe");
    assert!(second.tls.is_some());
    assert_eq!(peer.connections(), 2);
    peer.shutdown().await;
}

#[tokio::test]
async fn bad_settings_are_refused_before_connecting() {
    let peer = peer(18, PeerBehaviour::NoStarttls).await;
    let err = probe(peer.addr(), any("not a host name"), &quick())
        .await
        .expect_err("bad SNI");
    assert_eq!(err.step(), step::CONFIG);
    assert!(!err.is_temporary());
    assert_eq!(peer.connections(), 0);
    peer.shutdown().await;
}

#[tokio::test]
async fn a_chain_beyond_the_limit_is_an_aborted_upgrade() {
    let ca = SimCa::new("Sim CA").expect("ca");
    let mut identity = self_signed(&["mx32.sim.test"]).expect("certificate");
    identity
        .chain
        .extend(std::iter::repeat_n(ca.cert_der(), crate::tls::MAX_CHAIN));
    let peer = peer(32, PeerBehaviour::StartTls { identity }).await;
    let s = probe(peer.addr(), any("mx32.sim.test"), &quick())
        .await
        .expect("a finding");
    assert!(s.starttls_offered);
    assert_eq!(s.tls, None);
    match s.tls_failure {
        Some(TlsFailure::Aborted(why)) => assert!(why.contains("17 certificates"), "{why}"),
        other => panic!("expected an aborted upgrade, got {other:?}"),
    }
    peer.shutdown().await;
}

#[path = "tests_scripted.rs"]
mod scripted_servers;

/// A delivery of one small message to `rcpt` through `addr`.
async fn deliver_to(addr: SocketAddr, demand: TlsDemand, gate: Gate<'_>, rcpt: &str) -> Delivery {
    let rcpts = vec![rcpt.to_string()];
    let envelope = Envelope {
        mail_from: "a@sender.test",
        recipients: &rcpts,
        data: b"Subject: x\r\n\r\n.dot\r\n",
    };
    let tls = DeliveryTls {
        sni: Some("mx.sim.test".into()),
        demand,
        tls13_only: false,
    };
    deliver(addr, &tls, gate, &[envelope], &quick(), None)
        .await
        .expect("the plain-text part completes")
}

#[tokio::test]
async fn delivery_where_tls_is_required_sends_nothing_to_a_server_without_starttls() {
    let peer = peer(60, PeerBehaviour::NoStarttls).await;
    let d = deliver_to(peer.addr(), TlsDemand::Required, &|_| Ok(()), "b@sim.test").await;
    assert_eq!(d.replies, None);
    assert!(!d.session.starttls_offered);
    assert_eq!(peer.counts().mail, 0, "MAIL FROM was sent");
    // Opportunistic: plain text, because STARTTLS is not offered at all.
    let d = deliver_to(
        peer.addr(),
        TlsDemand::WhenOffered,
        &|_| Ok(()),
        "b@sim.test",
    )
    .await;
    assert!(
        matches!(d.replies.as_deref(), Some([r]) if matches!(r.as_slice(), [RecipientReply::Accepted(_)])),
        "{d:?}"
    );
    assert_eq!(peer.received()[0].data, b"Subject: x\r\n\r\n.dot\r\n");
}

#[tokio::test]
async fn delivery_never_falls_back_to_plain_text_after_a_failed_upgrade() {
    for (last, behaviour) in [
        (61, PeerBehaviour::GarbageAfterStartTls),
        (62, PeerBehaviour::RefuseStartTls),
        (63, PeerBehaviour::BrokenTls),
    ] {
        let peer = peer(last, behaviour).await;
        let d = deliver_to(
            peer.addr(),
            TlsDemand::WhenOffered,
            &|_| Ok(()),
            "b@sim.test",
        )
        .await;
        assert_eq!(d.replies, None, "{d:?}");
        assert!(d.session.tls_failure.is_some());
        assert_eq!(peer.counts().mail, 0, "MAIL FROM was sent");
    }
}

#[tokio::test]
async fn delivery_over_tls_runs_the_transaction_only_when_the_gate_agrees() {
    let ca = SimCa::new("Sim CA").expect("ca");
    let identity = ca_identity(&ca, "mx.sim.test", true);
    let peer = peer(64, PeerBehaviour::StartTls { identity }).await;
    let refuse = |_: &ProbeSession| Err("not good enough".to_string());
    let d = deliver_to(peer.addr(), TlsDemand::Required, &refuse, "b@sim.test").await;
    assert_eq!(d.refused.as_deref(), Some("not good enough"));
    assert!(d.session.tls.is_some());
    assert_eq!(peer.counts().mail, 0);

    let d = deliver_to(
        peer.addr(),
        TlsDemand::Required,
        &|s| {
            assert!(s.tls.as_ref().is_some_and(|t| !t.peer_chain.is_empty()));
            Ok(())
        },
        "b@sim.test",
    )
    .await;
    assert!(
        matches!(d.replies.as_deref(), Some([r]) if matches!(r.as_slice(), [RecipientReply::Accepted(_)])),
        "{d:?}"
    );
    let received = peer.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].tls);
    assert_eq!(peer.counts().mail_in_plain_text, 0);
}

#[tokio::test]
async fn several_messages_share_one_session_and_a_refused_one_is_reset() {
    use sendguard_sim::smtp::{Reception, Step};
    let peer = peer(65, PeerBehaviour::NoStarttls).await;
    peer.set_reception(Reception::temporary_failures(Step::Mail, 1));
    let rcpts = [
        vec!["a@sim.test".to_string()],
        vec!["b@sim.test".to_string()],
    ];
    let envelopes: Vec<Envelope<'_>> = [b"Subject: 1\r\n\r\none\r\n", b"Subject: 2\r\n\r\ntwo\r\n"]
        .iter()
        .chain([b"Subject: 3\r\n\r\nsix\r\n"].iter())
        .zip(rcpts.iter().cycle())
        .map(|(data, r)| Envelope {
            mail_from: "s@sender.test",
            recipients: r,
            data: &data[..],
        })
        .collect();
    let tls = DeliveryTls {
        sni: None,
        demand: TlsDemand::WhenOffered,
        tls13_only: false,
    };
    let d = deliver(peer.addr(), &tls, &|_| Ok(()), &envelopes, &quick(), None)
        .await
        .expect("delivered");
    let replies = d.replies.expect("transactions ran");
    assert!(
        matches!(replies[0].as_slice(), [RecipientReply::Temporary(t)] if t.starts_with("MAIL FROM: 4")),
        "{replies:?}"
    );
    assert!(
        matches!(replies[1].as_slice(), [RecipientReply::Accepted(_)]),
        "{replies:?}"
    );
    assert!(
        matches!(replies[2].as_slice(), [RecipientReply::Accepted(_)]),
        "{replies:?}"
    );
    assert_eq!(peer.connections(), 1, "one session");
    let received = peer.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].data, b"Subject: 2\r\n\r\ntwo\r\n");
    assert_eq!(received[1].rcpt_to, ["a@sim.test"]);
    assert!(
        peer.sessions()[0]
            .commands
            .iter()
            .any(|c| c.verb == sendguard_sim::smtp::Verb::Rset)
    );
}
