//! The simulated SMTP peer from the outside: scripted clients over loopback TCP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::session::path_argument;
use super::*;

fn loopback(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 42, last], 0))
}

/// A tiny scripted client: sends each line, returns everything the peer answered.
async fn talk(addr: SocketAddr, script: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(script.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("peer closes after QUIT")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn paths_are_extracted() {
    assert_eq!(
        path_argument("FROM:<a@b.test> SIZE=10", "FROM:", true),
        Some("a@b.test".into())
    );
    assert_eq!(
        path_argument("from: <>", "FROM:", true),
        Some(String::new())
    );
    assert_eq!(path_argument("TO:a@b.test", "TO:", false), None);
    assert_eq!(path_argument("", "TO:", false), None);
    // The path must hold an address by the shared parser (RFC 5321 §4.1.2).
    assert_eq!(path_argument("TO:<not an address>", "TO:", false), None);
    assert_eq!(path_argument("TO:<a@b..test>", "TO:", false), None);
    assert_eq!(
        path_argument("TO:<>", "TO:", false),
        None,
        "only MAIL FROM may be null"
    );
}

#[tokio::test]
async fn accepts_and_stores_a_pipelined_message() {
    let peer = SmtpPeer::spawn(loopback(1), PeerBehaviour::NoStarttls)
        .await
        .expect("spawn");
    let out = talk(
        peer.addr(),
        "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\n.\r\nNOOP\r\nRSET\r\nQUIT\r\n",
    )
    .await;
    assert!(out.starts_with("220 mx.sim.test"), "{out}");
    assert!(!out.contains("STARTTLS"), "{out}");
    assert!(
        out.contains("250-PIPELINING") && out.contains("250 8BITMIME"),
        "{out}"
    );
    assert!(
        out.contains("354 ") && out.ends_with("221 2.0.0 Bye\r\n"),
        "{out}"
    );
    let received = peer.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].mail_from, "a@x.test");
    assert_eq!(received[0].rcpt_to, vec!["b@y.test", "c@y.test"]);
    assert_eq!(received[0].data, b"Subject: hi\r\n\r\n.dot\r\n");
    assert!(!received[0].tls);
    assert_eq!(peer.connections(), 1);
    peer.shutdown().await;
}

#[tokio::test]
async fn enforces_command_order_and_line_limits() {
    let opts = PeerOptions {
        max_line: 100,
        ..PeerOptions::default()
    };
    let peer = SmtpPeer::spawn_with(loopback(2), PeerBehaviour::NoStarttls, opts)
        .await
        .expect("spawn");
    let out = talk(
        peer.addr(),
        "MAIL FROM:<a@x.test>\r\nHELO c.test\r\nRCPT TO:<b@y.test>\r\nDATA\r\nBOGUS\r\nQUIT\r\n",
    )
    .await;
    let codes: Vec<&str> = out.lines().map(|l| &l[..3]).collect();
    assert_eq!(
        codes,
        ["220", "503", "250", "503", "503", "500", "221"],
        "{out}"
    );
    let long = format!("NOOP {}\r\n", "x".repeat(200));
    let out = talk(peer.addr(), &long).await;
    assert!(out.contains("500 5.5.2 Line too long"), "{out}");
    peer.shutdown().await;
}

#[tokio::test]
async fn behaviour_changes_apply_to_new_connections() {
    let id = crate::pki::self_signed(&["mx.sim.test"]).expect("cert");
    let peer = SmtpPeer::spawn(loopback(3), PeerBehaviour::NoStarttls)
        .await
        .expect("spawn");
    assert!(
        !talk(peer.addr(), "EHLO c\r\nQUIT\r\n")
            .await
            .contains("STARTTLS")
    );
    peer.set_behaviour(PeerBehaviour::StartTls { identity: id });
    assert!(
        talk(peer.addr(), "EHLO c\r\nQUIT\r\n")
            .await
            .contains("250 STARTTLS")
    );
    peer.set_behaviour(PeerBehaviour::RejectGreeting);
    let out = talk(peer.addr(), "EHLO c\r\nQUIT\r\n").await;
    assert!(out.starts_with("554 ") && out.contains("503 ") && out.contains("221 "));
    assert_eq!(peer.connections(), 3);
    peer.shutdown().await;
}

#[tokio::test]
async fn first_connections_switch_after_the_count_from_when_they_were_set() {
    let id = crate::pki::self_signed(&["mx.sim.test"]).expect("cert");
    let switch = || PeerBehaviour::FirstConnections {
        count: 2,
        first: Box::new(PeerBehaviour::StartTls {
            identity: id.clone(),
        }),
        then: Box::new(PeerBehaviour::NoStarttls),
    };
    let peer = SmtpPeer::spawn(loopback(5), PeerBehaviour::NoStarttls)
        .await
        .expect("spawn");
    let offers = |out: String| out.contains("250 STARTTLS");
    assert!(!offers(talk(peer.addr(), "EHLO c\r\nQUIT\r\n").await));
    // Set after one connection: the count starts here, not at spawn.
    peer.set_behaviour(switch());
    let seen: Vec<bool> = futures::future::join_all(
        (0..3).map(|_| async { offers(talk(peer.addr(), "EHLO c\r\nQUIT\r\n").await) }),
    )
    .await;
    assert_eq!(
        seen.iter().filter(|&&offered| offered).count(),
        2,
        "{seen:?}"
    );
    assert!(!offers(talk(peer.addr(), "EHLO c\r\nQUIT\r\n").await));
    assert_eq!(peer.connections(), 5);
    peer.shutdown().await;
}

#[tokio::test]
async fn idle_clients_are_dropped() {
    let opts = PeerOptions {
        io_timeout: Duration::from_millis(200),
        ..PeerOptions::default()
    };
    let peer = SmtpPeer::spawn_with(loopback(4), PeerBehaviour::NoStarttls, opts)
        .await
        .expect("spawn");
    // Says nothing: the peer greets, waits 200 ms for a command, then closes.
    let out = talk(peer.addr(), "").await;
    assert!(out.starts_with("220 "));
    peer.shutdown().await;
}

#[tokio::test]
async fn a_submission_peer_refuses_auth_and_mail_in_plain_text() {
    let opts = PeerOptions {
        submission: Some(SubmissionAccount {
            user: "relay".into(),
            password: "secret".into(),
        }),
        ..PeerOptions::default()
    };
    let peer = SmtpPeer::spawn_with(loopback(9), PeerBehaviour::NoStarttls, opts)
        .await
        .expect("spawn");
    // "\0relay\0secret" in base64: right credentials, but in plain text.
    let out = talk(
        peer.addr(),
        "EHLO client.test\r\nAUTH PLAIN AHJlbGF5AHNlY3JldA==\r\nMAIL FROM:<a@x.test>\r\nQUIT\r\n",
    )
    .await;
    assert!(
        !out.contains("AUTH PLAIN"),
        "AUTH offered in plain text: {out}"
    );
    assert!(out.contains("538 5.7.11"), "{out}");
    assert!(out.contains("530 5.7.0"), "{out}");
    assert_eq!(peer.counts().auth_in_plain_text, 1);
    assert!(peer.received().is_empty());
}
