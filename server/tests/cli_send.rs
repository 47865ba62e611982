//! `sendguard send` as an operator runs it: the real binary, the text on standard input, a real
//! database file; what it printed is what the queue holds, and a refused message exits 1 with
//! the reason and queues nothing.

use std::path::Path;
use std::process::Output;

use sendguard::store::Store;
use sendguard_common::{MessageView, RecipientKind, RecipientState};

mod common;

fn send(database: &Path, args: &[&str], body: &str) -> Output {
    let args: Vec<&str> = std::iter::once("send")
        .chain(args.iter().copied())
        .collect();
    common::run_sendguard(database, &args, body)
}

#[tokio::test]
async fn send_queues_and_prints_each_recipients_state() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sendguard.db");
    let account = ["--account", "Erika Muster <erika@mailbox.example>"];
    let mut args = account.to_vec();
    args.extend([
        "--from",
        "erika@mailbox.example",
        "--to",
        "a@example.org",
        "b@example.org",
        "--cc",
        "c@example.org",
        "--bcc",
        "d@blind.example",
        "--subject",
        "Übersicht",
        "--json",
    ]);
    let out = send(&db, &args, "Zeile 1\nZeile 2\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: MessageView = serde_json::from_slice(&out.stdout).unwrap();
    let recipients: Vec<_> = printed
        .recipients
        .iter()
        .map(|r| (r.address.as_str(), r.kind, r.state))
        .collect();
    assert_eq!(
        recipients,
        [
            ("a@example.org", RecipientKind::To, RecipientState::Queued),
            ("b@example.org", RecipientKind::To, RecipientState::Queued),
            ("c@example.org", RecipientKind::Cc, RecipientState::Queued),
            (
                "d@blind.example",
                RecipientKind::Bcc,
                RecipientState::Queued
            ),
        ]
    );

    // Text output: the id and one line per recipient.
    let mut args = account.to_vec();
    args.extend(["--from", "erika@mailbox.example", "--to", "z@example.org"]);
    let out = send(&db, &args, "kurz");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Queued message "), "{text}");
    assert!(text.contains("to   z@example.org"), "{text}");
    assert!(text.trim_end().ends_with("queued"), "{text}");

    // Refused: not the account's address; exit 1, the reason on stderr, nothing queued.
    let mut args = account.to_vec();
    args.extend(["--from", "maxima@else.example", "--to", "a@example.org"]);
    let out = send(&db, &args, "x");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "sendguard send: maxima@else.example is not one of your sender addresses"
    );

    let store = Store::open(&db).await.unwrap();
    let messages = store.messages("default").await.unwrap();
    assert_eq!(messages.len(), 2);
    let first = messages.iter().find(|m| m.id == printed.id).unwrap();
    assert_eq!(sendguard::delivery::view(first), printed);
    let raw = store.message_raw(printed.id).await.unwrap().unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(
        raw.contains("From: \"Erika Muster\" <erika@mailbox.example>"),
        "{raw}"
    );
    assert!(raw.contains("Zeile 2"), "{raw}");
    assert!(!raw.contains("d@blind.example"), "{raw}");
    store.close().await;
}

// Several threads: the sim answers while this thread waits for the child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_wait_delivers_in_process_and_prints_how_each_recipient_went() {
    let dir = tempfile::tempdir().unwrap();
    let list = sendguard_sim::world::scenarios()
        .into_iter()
        .filter(|s| ["dane-ee.test", "plain.test", "wrong-tlsa.test"].contains(&s.domain))
        .collect();
    let world = sendguard_sim::world::SimWorld::start_with(list, dir.path())
        .await
        .unwrap();
    let e = world.endpoints();
    let db = dir.path().join("sendguard.db");
    let (resolver, port) = (e.resolver.to_string(), e.smtp_port.to_string());
    let anchor = e.trust_anchor.to_string_lossy().to_string();
    let args = [
        "--from",
        "maxima.mustermann@sendguard.example",
        "--to",
        "user@dane-ee.test",
        "user@plain.test",
        "user@wrong-tlsa.test",
        "--subject",
        "Warten",
        "--wait",
        "--json",
        "--dns-resolver",
        &resolver,
        "--trust-anchor",
        &anchor,
        "--smtp-port",
        &port,
        "--allow-private-targets",
    ];
    let out = send(&db, &args, "Hallo\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: MessageView = serde_json::from_slice(&out.stdout).expect("JSON");
    let state = |a: &str| {
        view.recipients
            .iter()
            .find(|r| r.address == a)
            .unwrap_or_else(|| panic!("{a}"))
    };
    let dane = state("user@dane-ee.test");
    assert_eq!(dane.state, RecipientState::Sent, "{dane:?}");
    assert!(dane.delivery.as_ref().unwrap().verified);
    let plain = state("user@plain.test");
    assert_eq!(plain.state, RecipientState::Sent);
    assert_eq!(plain.delivery.as_ref().unwrap().tls_version, None);
    let wrong = state("user@wrong-tlsa.test");
    assert_eq!(wrong.state, RecipientState::Deferred, "{wrong:?}");
    assert!(wrong.reason.is_some());
    assert_eq!(world.peer("mx.dane-ee.test").unwrap().received().len(), 1);
    assert_eq!(world.peer("mx.wrong-tlsa.test").unwrap().counts().mail, 0);
}

// Several threads: the sim answers while this thread waits for the child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_wait_with_relay_hands_the_message_to_the_relay_and_says_so() {
    use sendguard_sim::smtp::{PeerBehaviour, PeerOptions, SmtpPeer, SubmissionAccount};
    let dir = tempfile::tempdir().unwrap();
    let list = sendguard_sim::world::scenarios()
        .into_iter()
        .filter(|s| s.domain == "tls.test")
        .collect();
    let world = sendguard_sim::world::SimWorld::start_with(list, dir.path())
        .await
        .unwrap();
    let ca = sendguard_sim::pki::SimCa::new("Operator CA").unwrap();
    let options = PeerOptions {
        submission: Some(SubmissionAccount {
            user: "sendguard".into(),
            password: "geheim".into(),
        }),
        ..PeerOptions::default()
    };
    let identity = ca.issue(&["localhost"], false).unwrap();
    let bind = "127.0.0.1:0".parse().unwrap();
    let relay = SmtpPeer::spawn_with(bind, PeerBehaviour::StartTls { identity }, options)
        .await
        .unwrap();
    let ca_file = dir.path().join("ca.pem");
    common::write_pem(&ca.cert_der(), &ca_file);
    let password_file = dir.path().join("relay-password");
    std::fs::write(&password_file, "geheim\n").unwrap();
    let e = world.endpoints();
    let (resolver, port) = (e.resolver.to_string(), e.smtp_port.to_string());
    let anchor = e.trust_anchor.to_string_lossy().to_string();
    let relay_addr = format!("localhost:{}", relay.addr().port());
    let args = [
        "--from",
        "maxima.mustermann@sendguard.example",
        "--to",
        "user@tls.test",
        "--wait",
        "--dns-resolver",
        &resolver,
        "--trust-anchor",
        &anchor,
        "--smtp-port",
        &port,
        "--allow-private-targets",
        "--relay",
        &relay_addr,
        "--relay-user",
        "sendguard",
        "--relay-password-file",
        password_file.to_str().unwrap(),
        "--relay-ca",
        ca_file.to_str().unwrap(),
    ];
    let out = send(&dir.path().join("sendguard.db"), &args, "Hallo\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("sent relayed to localhost (TLSv1."),
        "{stdout}"
    );
    let received = relay.received();
    assert_eq!(received.len(), 1, "{stdout}");
    assert_eq!(received[0].auth.as_deref(), Some("sendguard"));
    assert_eq!(world.peer("mx.tls.test").unwrap().counts().mail, 0);
}
