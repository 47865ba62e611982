//! Probes against small scripted TCP servers on loopback, for misbehaviour the simulated peers
//! do not offer (replies sent ahead, cut or drip-fed), and the greeting and EHLO/HELO steps
//! against canned replies on an in-memory stream.

use super::*;

/// One step of a scripted server.
enum Act {
    /// Send these bytes.
    Send(&'static [u8]),
    /// Read one line from the client and record it.
    Read,
    /// Do nothing for a while.
    Sleep(Duration),
    /// Close the connection now.
    Close,
}

/// A one-connection TCP server that follows a script and records the client's lines.
async fn scripted(last: u8, script: Vec<Act>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind(loopback(last)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let mut stream = BufReader::new(stream);
        for act in script {
            match act {
                Act::Send(bytes) => {
                    if stream.get_mut().write_all(bytes).await.is_err() {
                        return;
                    }
                }
                Act::Read => {
                    let mut line = String::new();
                    match tokio::time::timeout(Duration::from_secs(5), stream.read_line(&mut line))
                        .await
                    {
                        Ok(Ok(n)) if n > 0 => record
                            .lock()
                            .expect("lock")
                            .push(line.trim_end().to_string()),
                        _ => return,
                    }
                }
                Act::Sleep(d) => tokio::time::sleep(d).await,
                Act::Close => return,
            }
        }
        // Keep the connection open a little so the client sees no early close.
        tokio::time::sleep(Duration::from_secs(3)).await;
    });
    (addr, seen)
}

const EHLO_WITH_STARTTLS: &[u8] = b"250-x.test\r\n250-PIPELINING\r\n250 starttls\r\n";

#[tokio::test]
async fn a_probe_sends_only_ehlo_and_quit_to_a_plain_server() {
    let (addr, seen) = scripted(
        20,
        vec![
            Act::Send(b"220 x.test ESMTP\r\n"),
            Act::Read,
            Act::Send(b"250-x.test\r\n250 SIZE 1000\r\n"),
            Act::Read,
            Act::Send(b"221 bye\r\n"),
        ],
    )
    .await;
    let s = probe(addr, TlsParams::accept_any(None), &quick())
        .await
        .expect("probe");
    assert_eq!(s.extensions, vec!["SIZE 1000"]);
    // The QUIT leaves from a task of its own, after the probe returned.
    for _ in 0..100 {
        if seen.lock().expect("lock").len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        *seen.lock().expect("lock"),
        vec!["EHLO probe.sendguard.test", "QUIT"]
    );
}

#[tokio::test]
async fn starttls_keyword_is_case_insensitive_and_handshake_timeout_is_reported() {
    let (addr, seen) = scripted(
        21,
        vec![
            Act::Send(b"220 x.test ESMTP\r\n"),
            Act::Read,
            Act::Send(EHLO_WITH_STARTTLS),
            Act::Read,
            Act::Send(b"220 go ahead\r\n"),
            Act::Sleep(Duration::from_secs(3)),
        ],
    )
    .await;
    let cfg = SmtpConfig {
        tls_timeout: Duration::from_millis(300),
        ..quick()
    };
    let s = probe(addr, any("x.test"), &cfg).await.expect("probe");
    assert!(s.starttls_offered);
    assert_eq!(s.tls_failure, Some(TlsFailure::Timeout));
    assert_eq!(seen.lock().expect("lock")[1], "STARTTLS");
}

#[tokio::test]
async fn silence_after_starttls_is_a_timeout_finding() {
    let (addr, _) = scripted(
        22,
        vec![
            Act::Send(b"220 x.test ESMTP\r\n"),
            Act::Read,
            Act::Send(EHLO_WITH_STARTTLS),
            Act::Read,
            Act::Sleep(Duration::from_secs(3)),
        ],
    )
    .await;
    let cfg = SmtpConfig {
        command_timeout: Duration::from_millis(300),
        ..quick()
    };
    let s = probe(addr, any("x.test"), &cfg).await.expect("probe");
    assert_eq!(s.tls_failure, Some(TlsFailure::Timeout));
}

#[tokio::test]
async fn data_after_the_starttls_reply_is_refused() {
    let (addr, _) = scripted(
        23,
        vec![
            Act::Send(b"220 x.test ESMTP\r\n"),
            Act::Read,
            Act::Send(EHLO_WITH_STARTTLS),
            Act::Read,
            Act::Send(b"220 go ahead\r\n250 injected\r\n"),
        ],
    )
    .await;
    let s = probe(addr, any("x.test"), &quick()).await.expect("probe");
    match s.tls_failure {
        Some(TlsFailure::Aborted(text)) => assert!(text.contains("after its 220"), "{text}"),
        other => panic!("expected an aborted upgrade, got {other:?}"),
    }
}

#[tokio::test]
async fn a_non_smtp_greeting_is_a_protocol_violation() {
    let (addr, _) = scripted(24, vec![Act::Send(b"SSH-2.0-OpenSSH_9.2\r\n")]).await;
    let err = probe(addr, any("x.test"), &quick())
        .await
        .expect_err("not SMTP");
    assert!(!err.is_temporary());
    assert_eq!(err.step(), step::GREETING);
    assert!(err.detail().contains("malformed"), "{err}");
}

#[tokio::test]
async fn ehlo_4xx_is_temporary_and_closing_mid_reply_too() {
    let (addr, _) = scripted(
        25,
        vec![
            Act::Send(b"220 x.test ESMTP\r\n"),
            Act::Read,
            Act::Send(b"421 4.7.0 try later\r\n"),
        ],
    )
    .await;
    let err = probe(addr, any("x.test"), &quick()).await.expect_err("421");
    assert!(err.is_temporary());
    assert_eq!(err.step(), step::EHLO);

    let (addr, _) = scripted(
        26,
        vec![
            Act::Send(b"220 x.test ESMTP\r\n"),
            Act::Read,
            Act::Send(b"250-x.test\r\n"),
        ],
    )
    .await;
    // The scripted server keeps the connection open, then closes it: a timeout or closed
    // connection, both temporary.
    let cfg = SmtpConfig {
        command_timeout: Duration::from_millis(300),
        ..quick()
    };
    let err = probe(addr, any("x.test"), &cfg).await.expect_err("cut");
    assert!(err.is_temporary());
    assert_eq!(err.step(), step::EHLO);
}

#[test]
fn errors_name_their_step_and_class() {
    let e = SmtpError::temporary(step::EHLO, "x");
    assert!(e.is_temporary());
    assert_eq!(e.to_string(), "temporary SMTP failure during EHLO: x");
    let e = SmtpError::permanent(step::GREETING, "554 no");
    assert!(!e.is_temporary());
    assert_eq!(e.step(), "reading greeting");
    assert_eq!(e.detail(), "554 no");
}

#[test]
fn starttls_detection_looks_at_the_keyword_only() {
    assert!(offers_starttls(&["STARTTLS".into()]));
    assert!(offers_starttls(&["starttls".into()]));
    assert!(!offers_starttls(&[
        "XSTARTTLS".into(),
        "AUTH STARTTLS".into()
    ]));
}

/// Runs the greeting and EHLO/HELO steps against canned replies on an in-memory stream (no
/// network); gives the outcome and every line the client sent.
async fn hello_against(replies: &'static [u8]) -> (Result<Hello, SmtpError>, String) {
    use tokio::io::AsyncReadExt;
    let cfg = quick();
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    server.write_all(replies).await.expect("canned replies");
    let mut smtp = Session::new(client, &cfg, [127, 0, 0, 1].into());
    let result = match smtp.greeting().await {
        Ok(_) => smtp.hello().await,
        Err(err) => Err(err),
    };
    drop(smtp);
    let mut sent = String::new();
    server
        .read_to_string(&mut sent)
        .await
        .expect("client lines");
    (result, sent)
}

#[tokio::test]
async fn negative_replies_are_temporary_for_4yz_and_permanent_otherwise() {
    const EHLO: &str = "EHLO probe.sendguard.test\r\n";
    const HELO: &str = "HELO probe.sendguard.test\r\n";
    const QUIT: &str = "QUIT\r\n";
    let cases: [(&[u8], &str, bool, String); 6] = [
        (b"250 hi\r\n221 bye\r\n", step::GREETING, false, QUIT.into()),
        (b"354 go\r\n221 bye\r\n", step::GREETING, false, QUIT.into()),
        (
            b"220 hi\r\n421 4.3.2 closing\r\n221 bye\r\n",
            step::EHLO,
            true,
            format!("{EHLO}{QUIT}"),
        ),
        // A 3yz reply to EHLO is a protocol violation, not a refusal to fall back from.
        (
            b"220 hi\r\n354 what\r\n221 bye\r\n",
            step::EHLO,
            false,
            format!("{EHLO}{QUIT}"),
        ),
        (
            b"220 hi\r\n500 no\r\n450 later\r\n221 bye\r\n",
            step::HELO,
            true,
            format!("{EHLO}{HELO}{QUIT}"),
        ),
        (
            b"220 hi\r\n502 no\r\n550 never\r\n221 bye\r\n",
            step::HELO,
            false,
            format!("{EHLO}{HELO}{QUIT}"),
        ),
    ];
    for (replies, failed_step, temporary, lines) in cases {
        let (result, sent) = hello_against(replies).await;
        let err = result.expect_err("a refusal");
        assert_eq!(err.step(), failed_step, "{err}");
        assert_eq!(err.is_temporary(), temporary, "{err}");
        assert_eq!(sent, lines, "{err}");
    }

    // A malformed reply is permanent, and the session is abandoned without QUIT.
    let (result, sent) = hello_against(b"220 hi\r\nhello there\r\n").await;
    let err = result.expect_err("malformed");
    assert_eq!((err.step(), err.is_temporary()), (step::EHLO, false));
    assert_eq!(sent, EHLO);

    // HELO accepted after a refused EHLO: no ESMTP, no extensions.
    let (result, _) = hello_against(b"220 hi\r\n500 no\r\n250 ok\r\n").await;
    let hello = result.expect("HELO fallback");
    assert!(!hello.esmtp && hello.extensions.is_empty());
}

#[tokio::test]
async fn ehlo_refused_then_closed_is_permanent() {
    let (addr, seen) = scripted(
        27,
        vec![
            Act::Send(b"220 x.test ESMTP\r\n"),
            Act::Read,
            Act::Send(b"554 5.7.1 go away\r\n"),
            Act::Close,
        ],
    )
    .await;
    let err = probe(addr, any("x.test"), &quick())
        .await
        .expect_err("no session");
    assert!(!err.is_temporary(), "{err}");
    assert!(err.detail().contains("554 5.7.1 go away"), "{err}");
    assert_eq!(seen.lock().expect("lock")[0], "EHLO probe.sendguard.test");
}

#[tokio::test]
async fn an_oversized_starttls_reply_keeps_the_plaintext_findings() {
    static HUGE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let mut reply = b"220-".to_vec();
        reply.extend(std::iter::repeat_n(b'x', 64 * 1024));
        reply.extend_from_slice(b"\r\n");
        reply
    });
    let huge: &'static [u8] = HUGE.as_slice();
    for (last, reply) in [(28, huge), (29, &b"2x0 not a reply code\r\n"[..])] {
        let (addr, _) = scripted(
            last,
            vec![
                Act::Send(b"220 x.test ESMTP\r\n"),
                Act::Read,
                Act::Send(EHLO_WITH_STARTTLS),
                Act::Read,
                Act::Send(reply),
            ],
        )
        .await;
        let s = probe(addr, any("x.test"), &quick())
            .await
            .expect("the plaintext session is a finding");
        assert!(s.esmtp && s.starttls_offered, "{s:?}");
        assert_eq!(s.extensions, vec!["PIPELINING", "starttls"]);
        assert_eq!(s.tls, None);
        let failure = s.tls_failure.expect("a STARTTLS failure").to_string();
        assert!(failure.contains("STARTTLS"), "{failure}");
    }
}

#[tokio::test]
async fn a_220_sent_before_starttls_is_refused_before_sending_it() {
    let (addr, seen) = scripted(
        30,
        vec![
            Act::Send(b"220 x.test ESMTP\r\n"),
            Act::Read,
            Act::Send(b"250-x.test\r\n250 STARTTLS\r\n220 2.0.0 go ahead\r\n"),
            Act::Read,
            Act::Send(b"220 2.0.0 go ahead\r\n"),
        ],
    )
    .await;
    let s = probe(addr, any("x.test"), &quick())
        .await
        .expect("a finding");
    assert!(s.starttls_offered);
    assert_eq!(s.tls, None);
    let failure = s.tls_failure.expect("refused").to_string();
    assert!(failure.contains("before STARTTLS"), "{failure}");
    let seen = seen.lock().expect("lock").clone();
    assert!(!seen.iter().any(|l| l == "STARTTLS"), "{seen:?}");
}

#[tokio::test]
async fn the_whole_session_ends_at_its_deadline() {
    // Each reply comes within its step's limit, but not all of them within the session's.
    let (addr, _) = scripted(
        31,
        vec![
            Act::Sleep(Duration::from_millis(700)),
            Act::Send(b"220 x.test ESMTP\r\n"),
            Act::Read,
            Act::Sleep(Duration::from_millis(700)),
            Act::Send(b"250 x.test\r\n"),
            Act::Read,
            Act::Send(b"221 bye\r\n"),
        ],
    )
    .await;
    let cfg = SmtpConfig {
        greeting_timeout: Duration::from_secs(1),
        command_timeout: Duration::from_secs(1),
        session_timeout: Duration::from_secs(1),
        ..quick()
    };
    let started = Instant::now();
    let err = probe(addr, any("x.test"), &cfg)
        .await
        .expect_err("past the deadline");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.is_temporary(), "{err}");
    assert_eq!(err.step(), step::EHLO);
    assert!(err.detail().contains("deadline of 1s"), "{err}");
}

#[tokio::test]
async fn a_machine_without_a_name_announces_its_address() {
    let (addr, seen) = scripted(
        19,
        vec![
            Act::Send(b"220 x.test ESMTP\r\n"),
            Act::Read,
            Act::Send(b"250 x.test\r\n"),
            Act::Read,
        ],
    )
    .await;
    let cfg = SmtpConfig {
        helo_name: HeloName::LocalAddress,
        ..quick()
    };
    probe(addr, TlsParams::accept_any(None), &cfg)
        .await
        .expect("probe");
    assert_eq!(seen.lock().expect("lock")[0], "EHLO [127.0.0.1]");
    // The default is never `localhost` (the machine's name, or its address).
    assert_ne!(
        SmtpConfig::default()
            .helo_name
            .argument([127, 0, 0, 1].into()),
        "localhost"
    );
}
