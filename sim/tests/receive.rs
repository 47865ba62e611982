//! Simulated SMTP peers that receive mail, driven by a real SMTP client over loopback: a raw
//! tokio `TcpStream`, upgraded with tokio-rustls after STARTTLS (RFC 3207). Each test checks
//! what the peer answered (RFC 5321 reply codes) and what it kept: the envelope, the bytes
//! after dot-unstuffing, the TLS version and cipher suite, the EHLO name, and which commands
//! came in plain text.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sendguard_common::address::Address;
use sendguard_sim::pki::SimCa;
use sendguard_sim::smtp::{
    PeerBehaviour, PeerOptions, Reception, SmtpPeer, Step, Verb, tls_server_config,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const HOST: &str = "mx.sim.test";

fn loopback(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 43, last], 0))
}

/// A minimal SMTP client: one command, one (multi-line) reply.
struct Client<S> {
    stream: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Reads one reply; returns its code and all its lines.
    async fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(5), self.stream.read_line(&mut line))
                .await
                .expect("reply in time")
                .expect("read");
            assert!(n > 0, "peer closed; so far: {text}");
            text.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                let code = line[..3].parse().expect("reply code");
                return (code, text);
            }
        }
    }

    /// Sends raw bytes.
    async fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.expect("write");
    }

    /// Sends one command line and returns the reply code.
    async fn cmd(&mut self, line: &str) -> u16 {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await.0
    }

    /// Sends DATA, the message dot-stuffed by the caller, and the terminating dot; returns
    /// the reply to DATA and, after a 354, the final reply.
    async fn data(&mut self, stuffed: &[u8]) -> (u16, Option<u16>) {
        let code = self.cmd("DATA").await;
        if code != 354 {
            return (code, None);
        }
        self.send(stuffed).await;
        self.send(b".\r\n").await;
        (code, Some(self.reply().await.0))
    }

    /// One whole transaction that the peer should accept.
    async fn deliver(&mut self, from: &str, to: &[&str], stuffed: &[u8]) {
        assert_eq!(self.cmd(&format!("MAIL FROM:<{from}>")).await, 250);
        for rcpt in to {
            assert_eq!(self.cmd(&format!("RCPT TO:<{rcpt}>")).await, 250);
        }
        assert_eq!(self.data(stuffed).await, (354, Some(250)));
    }
}

/// Connects and reads the greeting.
async fn connect(addr: SocketAddr) -> Client<TcpStream> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let mut client = Client {
        stream: BufReader::new(stream),
    };
    assert_eq!(client.reply().await.0, 220);
    client
}

/// EHLO, STARTTLS and the handshake against `ca`; returns the client over TLS (before its
/// second EHLO) and the suite the client negotiated.
async fn starttls(
    mut client: Client<TcpStream>,
    ca: &SimCa,
) -> (
    Client<tokio_rustls::client::TlsStream<TcpStream>>,
    rustls::CipherSuite,
) {
    let (code, ehlo) = {
        client.send(b"EHLO client.test\r\n").await;
        client.reply().await
    };
    assert_eq!(code, 250);
    assert!(ehlo.contains("250 STARTTLS"), "{ehlo}");
    assert_eq!(client.cmd("STARTTLS").await, 220);
    assert!(client.stream.buffer().is_empty());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der()).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(HOST).expect("name");
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, client.stream.into_inner())
        .await
        .expect("handshake");
    let suite = tls
        .get_ref()
        .1
        .negotiated_cipher_suite()
        .expect("suite")
        .suite();
    let client = Client {
        stream: BufReader::new(tls),
    };
    (client, suite)
}

#[tokio::test]
async fn plain_text_delivery_is_kept_with_envelope_ehlo_and_time() {
    let peer = SmtpPeer::spawn(loopback(1), PeerBehaviour::NoStarttls)
        .await
        .expect("spawn");
    let before = SystemTime::now();
    let mut client = connect(peer.addr()).await;
    assert_eq!(client.cmd("EHLO client.test").await, 250);
    let body = b"From: a@x.test\r\nSubject: hi\r\n\r\nHello.\r\n";
    client
        .deliver("a@x.test", &["b@y.test", "c@y.test"], body)
        .await;
    assert_eq!(client.cmd("QUIT").await, 221);

    let received = peer.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.mail_from, "a@x.test");
    assert_eq!(message.rcpt_to, ["b@y.test", "c@y.test"]);
    assert_eq!(message.data, body);
    assert!(!message.tls);
    assert_eq!(message.tls_facts, None);
    assert_eq!(message.ehlo, "client.test");
    assert!(message.received_at >= before && message.received_at <= SystemTime::now());
    let sessions = peer.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].id, message.session);
    assert!(sessions[0].mail_in_plain_text());
    assert!(sessions[0].saw_in_plain_text(Verb::Data));
    assert_eq!(sessions[0].tls, None);
    let counts = peer.counts();
    assert_eq!((counts.mail, counts.mail_in_plain_text), (1, 1));
    assert_eq!((counts.data_in_plain_text, counts.accepted), (1, 1));
    peer.shutdown().await;
}

#[tokio::test]
async fn starttls_delivery_records_version_and_suite_and_nothing_in_plain_text() {
    let ca = SimCa::new("Receive Test CA").expect("ca");
    let identity = ca.issue(&[HOST], false).expect("cert");
    let tls12 = tls_server_config(&identity, &[&rustls::version::TLS12]).expect("config");
    let peer = SmtpPeer::spawn(loopback(2), PeerBehaviour::StartTls { identity })
        .await
        .expect("spawn");

    for (expected, behaviour) in [
        (rustls::ProtocolVersion::TLSv1_3, None),
        (
            rustls::ProtocolVersion::TLSv1_2,
            Some(PeerBehaviour::StartTlsWith { config: tls12 }),
        ),
    ] {
        if let Some(behaviour) = behaviour {
            peer.set_behaviour(behaviour);
        }
        let (mut client, suite) = starttls(connect(peer.addr()).await, &ca).await;
        let (code, ehlo) = {
            client.send(b"EHLO secure.client.test\r\n").await;
            client.reply().await
        };
        assert_eq!(code, 250);
        assert!(!ehlo.contains("STARTTLS"), "not again over TLS: {ehlo}");
        client
            .deliver("a@x.test", &["b@y.test"], b"Subject: tls\r\n\r\nsecret\r\n")
            .await;
        assert_eq!(client.cmd("QUIT").await, 221);

        let message = peer.received().pop().expect("kept");
        assert!(message.tls);
        let facts = message.tls_facts.expect("TLS facts");
        assert_eq!(facts.version, expected);
        assert_eq!(facts.cipher_suite, suite);
        assert_eq!(message.ehlo, "secure.client.test");
        let session = peer.sessions().pop().expect("logged");
        assert_eq!(session.tls, Some(facts));
        assert!(session.saw_in_plain_text(Verb::StartTls));
        assert!(!session.mail_in_plain_text());
        assert!(!session.saw_in_plain_text(Verb::Data));
        assert!(
            session
                .commands
                .iter()
                .any(|c| c.verb == Verb::Mail && c.tls)
        );
    }
    let counts = peer.counts();
    assert_eq!((counts.mail, counts.mail_in_plain_text), (2, 0));
    assert_eq!(counts.data_in_plain_text, 0);
    peer.shutdown().await;
}

#[tokio::test]
async fn dot_stuffing_round_trips() {
    let peer = SmtpPeer::spawn(loopback(3), PeerBehaviour::NoStarttls)
        .await
        .expect("spawn");
    let original = b"Subject: dots\r\n\r\n.leading dot\r\n.\r\n..\r\nmid . dot\r\n.\r\n";
    // RFC 5321 §4.5.2: the client doubles every leading dot.
    let stuffed = b"Subject: dots\r\n\r\n..leading dot\r\n..\r\n...\r\nmid . dot\r\n..\r\n";
    let mut client = connect(peer.addr()).await;
    assert_eq!(client.cmd("EHLO client.test").await, 250);
    client.deliver("a@x.test", &["b@y.test"], stuffed).await;
    assert_eq!(client.cmd("QUIT").await, 221);
    // Line endings are kept as sent: a bare LF stays one.
    let mut client = connect(peer.addr()).await;
    assert_eq!(client.cmd("EHLO client.test").await, 250);
    client
        .deliver("a@x.test", &["b@y.test"], b"bare\nlf\r\n..\n")
        .await;
    assert_eq!(client.cmd("QUIT").await, 221);
    let received = peer.received();
    assert_eq!(received[0].data, original);
    assert_eq!(received[1].data, b"bare\nlf\r\n.\n");
    peer.shutdown().await;
}

#[tokio::test]
async fn message_size_is_advertised_and_enforced() {
    let opts = PeerOptions {
        max_message: 1000,
        ..PeerOptions::default()
    };
    let peer = SmtpPeer::spawn_with(loopback(4), PeerBehaviour::NoStarttls, opts)
        .await
        .expect("spawn");
    let mut client = connect(peer.addr()).await;
    client.send(b"EHLO client.test\r\n").await;
    let (_, ehlo) = client.reply().await;
    assert!(ehlo.contains("250-SIZE 1000\r\n"), "{ehlo}");
    // Declared too big (RFC 1870): refused at MAIL.
    assert_eq!(client.cmd("MAIL FROM:<a@x.test> SIZE=1001").await, 552);
    assert_eq!(client.cmd("MAIL FROM:<a@x.test> SIZE=ten").await, 501);
    // Not declared, sent too big: read to its end, refused, the session goes on.
    assert_eq!(client.cmd("MAIL FROM:<a@x.test> SIZE=900").await, 250);
    assert_eq!(client.cmd("RCPT TO:<b@y.test>").await, 250);
    let big = "x".repeat(98) + "\r\n";
    assert_eq!(
        client.data(big.repeat(11).as_bytes()).await,
        (354, Some(552))
    );
    client
        .deliver("a@x.test", &["b@y.test"], big.repeat(10).as_bytes())
        .await;
    assert_eq!(client.cmd("QUIT").await, 221);
    // Far past the limit: the peer stops reading, answers 552 and closes.
    let mut client = connect(peer.addr()).await;
    assert_eq!(client.cmd("EHLO client.test").await, 250);
    assert_eq!(client.cmd("MAIL FROM:<a@x.test>").await, 250);
    assert_eq!(client.cmd("RCPT TO:<b@y.test>").await, 250);
    assert_eq!(client.cmd("DATA").await, 354);
    client.send(big.repeat(21).as_bytes()).await;
    assert_eq!(client.reply().await.0, 552);
    let mut rest = String::new();
    let closed = client.stream.read_line(&mut rest).await;
    assert!(matches!(closed, Ok(0) | Err(_)), "closed, got {rest:?}");

    let received = peer.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].data.len(), 1000);
    peer.shutdown().await;
}

#[tokio::test]
async fn rset_sequence_and_two_transactions_in_one_session() {
    let opts = PeerOptions {
        max_recipients: 2,
        ..PeerOptions::default()
    };
    let peer = SmtpPeer::spawn_with(loopback(5), PeerBehaviour::NoStarttls, opts)
        .await
        .expect("spawn");
    let mut client = connect(peer.addr()).await;
    assert_eq!(client.cmd("MAIL FROM:<a@x.test>").await, 503, "before EHLO");
    assert_eq!(client.cmd("EHLO").await, 501, "EHLO needs a name");
    assert_eq!(client.cmd("EHLO client.test").await, 250);
    assert_eq!(client.cmd("RCPT TO:<b@y.test>").await, 503, "before MAIL");
    assert_eq!(client.cmd("DATA").await, 503, "before MAIL");
    assert_eq!(client.cmd("MAIL FROM:a@x.test").await, 501);
    assert_eq!(client.cmd("MAIL FROM:<a@x.test>").await, 250);
    assert_eq!(client.cmd("MAIL FROM:<a@x.test>").await, 503, "nested");
    assert_eq!(client.cmd("DATA").await, 503, "before RCPT");
    assert_eq!(client.cmd("RCPT TO:<not an address>").await, 501);
    assert_eq!(client.cmd("RCPT TO:<b@y.test>").await, 250);
    assert_eq!(client.cmd("NOOP").await, 250);
    assert_eq!(client.cmd("RSET").await, 250);
    assert_eq!(client.cmd("DATA").await, 503, "RSET ended the transaction");

    client
        .deliver("one@x.test", &["b@y.test"], b"first\r\n")
        .await;
    assert_eq!(client.cmd("MAIL FROM:<>").await, 250, "null reverse path");
    assert_eq!(client.cmd("RCPT TO:<b@y.test>").await, 250);
    assert_eq!(client.cmd("RCPT TO:<c@y.test>").await, 250);
    assert_eq!(client.cmd("RCPT TO:<d@y.test>").await, 452, "too many");
    assert_eq!(client.data(b"second\r\n").await, (354, Some(250)));
    assert_eq!(client.cmd("QUIT").await, 221);

    let received = peer.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        (received[0].mail_from.as_str(), received[0].data.as_slice()),
        ("one@x.test", &b"first\r\n"[..])
    );
    assert_eq!(received[1].mail_from, "");
    assert_eq!(received[1].rcpt_to, ["b@y.test", "c@y.test"]);
    assert_eq!(received[0].session, received[1].session);
    peer.shutdown().await;
}

/// A session that tries one transaction: the codes of MAIL, DATA and the end of data.
async fn attempt(addr: SocketAddr) -> (u16, Option<(u16, Option<u16>)>) {
    let mut client = connect(addr).await;
    assert_eq!(client.cmd("EHLO client.test").await, 250);
    let mail = client.cmd("MAIL FROM:<a@x.test>").await;
    if mail != 250 {
        assert_eq!(client.cmd("QUIT").await, 221);
        return (mail, None);
    }
    assert_eq!(client.cmd("RCPT TO:<b@y.test>").await, 250);
    let data = client.data(b"retry me\r\n").await;
    assert_eq!(client.cmd("QUIT").await, 221);
    (mail, Some(data))
}

#[tokio::test]
async fn the_first_transactions_fail_temporarily_then_mail_is_accepted() {
    let peer = SmtpPeer::spawn(loopback(6), PeerBehaviour::NoStarttls)
        .await
        .expect("spawn");
    let failing = |step| PeerBehaviour::Receiving {
        reception: Reception::temporary_failures(step, 2),
        then: Box::new(PeerBehaviour::NoStarttls),
    };
    // One transaction before the behaviour is set does not count towards it.
    assert_eq!(attempt(peer.addr()).await, (250, Some((354, Some(250)))));
    peer.set_behaviour(failing(Step::Mail));
    assert_eq!(attempt(peer.addr()).await, (451, None));
    assert_eq!(attempt(peer.addr()).await, (451, None));
    assert_eq!(attempt(peer.addr()).await, (250, Some((354, Some(250)))));

    peer.set_behaviour(failing(Step::Data));
    assert_eq!(attempt(peer.addr()).await, (250, Some((451, None))));
    assert_eq!(attempt(peer.addr()).await, (250, Some((451, None))));
    assert_eq!(attempt(peer.addr()).await, (250, Some((354, Some(250)))));

    peer.set_behaviour(failing(Step::EndOfData));
    assert_eq!(attempt(peer.addr()).await, (250, Some((354, Some(451)))));
    assert_eq!(attempt(peer.addr()).await, (250, Some((354, Some(451)))));
    assert_eq!(attempt(peer.addr()).await, (250, Some((354, Some(250)))));
    assert_eq!(peer.received().len(), 4, "only the accepted ones are kept");
    peer.shutdown().await;
}

#[tokio::test]
async fn permanent_failures_and_refused_recipients() {
    let refused = Address::parse("nobody@y.test").expect("address");
    let peer = SmtpPeer::spawn(
        loopback(7),
        PeerBehaviour::Receiving {
            reception: Reception::rejecting([refused]),
            then: Box::new(PeerBehaviour::NoStarttls),
        },
    )
    .await
    .expect("spawn");
    let mut client = connect(peer.addr()).await;
    assert_eq!(client.cmd("EHLO client.test").await, 250);
    assert_eq!(client.cmd("MAIL FROM:<a@x.test>").await, 250);
    assert_eq!(client.cmd("RCPT TO:<nobody@Y.test>").await, 550);
    assert_eq!(client.cmd("RCPT TO:<b@y.test>").await, 250);
    assert_eq!(client.data(b"hi\r\n").await, (354, Some(250)));
    assert_eq!(client.cmd("QUIT").await, 221);
    assert_eq!(peer.received()[0].rcpt_to, ["b@y.test"]);

    // Replaces the reception, keeps the rest of the behaviour.
    peer.set_reception(Reception::permanent_failure(Step::Data));
    assert!(matches!(
        peer.behaviour(),
        PeerBehaviour::Receiving { then, .. } if matches!(*then, PeerBehaviour::NoStarttls)
    ));
    for _ in 0..3 {
        assert_eq!(attempt(peer.addr()).await, (250, Some((554, None))));
    }
    peer.set_reception(Reception::permanent_failure(Step::Mail));
    assert_eq!(attempt(peer.addr()).await, (550, None));
    assert_eq!(peer.received().len(), 1);
    peer.shutdown().await;
}

#[tokio::test]
async fn a_full_mailbox_refuses_with_452_until_emptied() {
    let opts = PeerOptions {
        max_stored: 1,
        ..PeerOptions::default()
    };
    let peer = SmtpPeer::spawn_with(loopback(8), PeerBehaviour::NoStarttls, opts)
        .await
        .expect("spawn");
    assert_eq!(attempt(peer.addr()).await, (250, Some((354, Some(250)))));
    assert_eq!(attempt(peer.addr()).await, (250, Some((354, Some(452)))));
    assert_eq!(peer.take_received().len(), 1);
    assert_eq!(attempt(peer.addr()).await, (250, Some((354, Some(250)))));
    let counts = peer.counts();
    assert_eq!((counts.accepted, counts.refused_full), (2, 1));
    peer.shutdown().await;
}
