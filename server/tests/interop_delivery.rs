//! Interop: delivery by Sendguard to real Postfix peers (issue 12, item 8) behind a real DNSSEC
//! tree, the world of `interop/mod.rs` (nsd, a validating unbound, one Postfix smtpd per peer;
//! every peer a final destination that delivers into a Maildir per domain).
//!
//! One message to a recipient at each level goes through `sendguard send --wait --json`
//! (resolver = unbound, trust anchor = the private root's DNSKEY, port 25, private targets
//! allowed), which queues it and runs the delivery in-process until every recipient is done:
//!
//! | recipient | Postfix peer | expected |
//! |---|---|---|
//! | `user@dane-ee.test` | STARTTLS, DANE-EE `3 1 1` TLSA (RFC 7672) | sent over TLS 1.2+, DANE verified |
//! | `user@dane-ta.test` | STARTTLS, DANE-TA `2 0 1` TLSA of its CA (RFC 7671) | sent over TLS 1.2+, DANE verified |
//! | `user@tls.test` | STARTTLS (RFC 3207), self-signed, no TLSA | sent over TLS 1.2+, not verified |
//! | `user@plain.test` | no STARTTLS in EHLO | sent in plain text |
//! | `user@wrong-tlsa.test` | STARTTLS, a DANE-EE record of another key | deferred, the peer never sees MAIL FROM |
//! | `user@bogus.test` | in a zone whose DS names another key (unbound: SERVFAIL) | deferred, the peer never sees MAIL FROM |
//!
//! Then Postfix is asked what it got: each domain's Maildir holds the message intact (Subject
//! with non-ASCII text, the body, including lines that need dot-stuffing (RFC 5321 §4.5.2), and
//! the Message-ID Sendguard reported), its Received header (`smtpd_tls_received_header`) names
//! the TLS version Sendguard reported, and smtpd's log of the session that accepted it shows the
//! TLS line with that version, or, for the plain peer, no TLS line at all; no session of a TLS
//! peer carried MAIL FROM without TLS.
//!
//! Needs root and Debian's nsd, unbound, ldnsutils and postfix, so it is `#[ignore]`d in a plain
//! `cargo test`; `scripts/test.sh` runs it with `--ignored`.

mod interop;

use std::path::Path;
use std::time::Duration;

use sendguard_common::{DaneStatus, MessageView, RecipientState, RecipientView};

use interop::World;
use interop::process::run_with_input;
use interop::received::{
    LoggedTls, maildir_messages, queue_ids_of, smtpd_sessions, wait_for_maildirs,
};

/// The default account's address (`sendguard_common`'s default user, Maxima Mustermann).
const FROM: &str = "maxima.mustermann@sendguard.example";
/// A subject that needs RFC 2047 encoding.
const SUBJECT: &str = "Interop: Grüße an Postfix";
/// A body with a line of only a dot and one that starts with a dot (both must be dot-stuffed
/// on the wire and arrive as written), and non-ASCII text.
const BODY: &str = "Hallo Postfix,\n\nthis came through Sendguard's delivery.\n.\n\
                    .a line that starts with a dot\nUmlaute: äöü ß, and a euro: €\n";
/// How long `sendguard send --wait` may take for the four recipients.
const SEND_TIMEOUT: Duration = Duration::from_secs(120);

/// The protection a recipient's peer must have been given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// TLS 1.2 or newer, certificate matched against secure TLSA records.
    Dane,
    /// TLS 1.2 or newer, not authenticated.
    Tls,
    /// Plain text: the peer offers no STARTTLS.
    Plain,
}

const RECIPIENTS: &[(&str, Level)] = &[
    ("dane-ee.test", Level::Dane),
    ("dane-ta.test", Level::Dane),
    ("tls.test", Level::Tls),
    ("plain.test", Level::Plain),
];

/// Recipients whose peer must never see MAIL FROM: the DANE-EE record does not match the
/// certificate (RFC 7672 §2.2: no delivery), and a zone whose DS names another key (bogus,
/// RFC 4035 §5.5). Sendguard defers them.
const WITHHELD: &[&str] = &["wrong-tlsa.test", "bogus.test"];

/// `sendguard send --wait --json` of one message to `user@` each domain of [`RECIPIENTS`].
fn send(world: &World, database: &Path) -> MessageView {
    let to: Vec<String> = RECIPIENTS
        .iter()
        .map(|(d, _)| *d)
        .chain(WITHHELD.iter().copied())
        .map(|d| format!("user@{d}"))
        .collect();
    let mut cmd = world.sendguard_command("send", Some(database));
    cmd.args(["--wait", "--json", "--from", FROM, "--subject", SUBJECT])
        .arg("--to")
        .args(&to);
    let out = run_with_input(
        "sendguard send --wait",
        &mut cmd,
        Some(BODY.as_bytes()),
        SEND_TIMEOUT,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sendguard send --wait failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("sendguard's JSON: {e}\n{stdout}"))
}

/// What Sendguard reports for the recipient must fit the level; returns its TLS version.
fn check_report(r: &RecipientView, domain: &str, level: Level) -> Result<Option<String>, String> {
    if r.state != RecipientState::Sent {
        return Err(format!("state {:?}, reason {:?}", r.state, r.reason));
    }
    let d = r.delivery.as_ref().ok_or("sent, but no delivery facts")?;
    if d.mx_host != format!("mx.{domain}") {
        return Err(format!("delivered to {}, not mx.{domain}", d.mx_host));
    }
    let modern = matches!(d.tls_version.as_deref(), Some("TLSv1.2" | "TLSv1.3"));
    let ok = match level {
        Level::Dane => modern && d.dane == Some(DaneStatus::Verified) && d.verified,
        Level::Tls => modern && d.dane != Some(DaneStatus::Verified) && !d.verified,
        Level::Plain => d.tls_version.is_none() && d.cipher.is_none(),
    };
    if !ok {
        return Err(format!("delivered as {d:?}, not at the {level:?} level"));
    }
    Ok(d.tls_version.clone())
}

/// The message in `domain`'s Maildir must be the one sent, intact, received with `tls`.
fn check_mailbox(
    world: &World,
    view: &MessageView,
    domain: &str,
    tls: Option<&str>,
) -> Result<(), String> {
    let messages = maildir_messages(&world.mail, domain);
    let [raw] = messages.as_slice() else {
        return Err(format!(
            "{} messages in the Maildir, not one",
            messages.len()
        ));
    };
    let parsed = mail_parser::MessageParser::default()
        .parse(raw)
        .ok_or("Postfix's copy does not parse")?;
    let text = String::from_utf8_lossy(raw);
    let mut problems = Vec::new();
    if parsed.subject() != Some(SUBJECT) {
        problems.push(format!("Subject {:?}", parsed.subject()));
    }
    if parsed.message_id() != Some(view.message_id.as_str()) {
        problems.push(format!(
            "Message-ID {:?}, reported {}",
            parsed.message_id(),
            view.message_id
        ));
    }
    let body = parsed.body_text(0).map(|b| b.replace("\r\n", "\n"));
    if body.as_deref().map(str::trim_end) != Some(BODY.trim_end()) {
        problems.push(format!("body {body:?}"));
    }
    // Postfix's own Received header, the first one, says how it received the message.
    let received = parsed.header_raw("Received").unwrap_or_default();
    match tls {
        Some(v) if !received.contains(&format!("using {v} with cipher")) => {
            problems.push(format!("Received header without `using {v}`: {received:?}"))
        }
        None if received.contains("using TLS") => problems.push(format!(
            "Received header names TLS for a plain delivery: {received:?}"
        )),
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}; the message as stored:\n{text}",
            problems.join("; ")
        ))
    }
}

/// A withheld recipient: deferred with a reason, nothing in its Maildir, and no session of its
/// peer got as far as MAIL FROM.
fn check_withheld(
    world: &World,
    maillog: &str,
    r: &RecipientView,
    domain: &str,
) -> Result<String, String> {
    if r.state != RecipientState::Deferred || r.delivery.is_some() {
        return Err(format!(
            "state {:?}, reason {:?}, delivery {:?}",
            r.state, r.reason, r.delivery
        ));
    }
    let stored = maildir_messages(&world.mail, domain).len();
    let host = format!("mx.{domain}");
    let with_mail = smtpd_sessions(maillog, &host)
        .into_iter()
        .filter(|s| s.saw_mail())
        .count();
    if stored > 0 || with_mail > 0 {
        return Err(format!(
            "{stored} messages stored, {with_mail} sessions of {host} saw MAIL FROM"
        ));
    }
    Ok(r.reason.clone().unwrap_or_default())
}

/// smtpd's log of the session that accepted the message must show the TLS version `tls` (and,
/// for TLS 1.3, whose suites OpenSSL names as IANA does, the `cipher` Sendguard reported); a
/// plain peer's log must show no TLS session at all.
fn check_log(
    maillog: &str,
    queue_ids: &[String],
    domain: &str,
    tls: Option<&str>,
    cipher: Option<&str>,
) -> Result<Option<LoggedTls>, String> {
    let host = format!("mx.{domain}");
    let sessions = smtpd_sessions(maillog, &host);
    let session = sessions
        .iter()
        .find(|s| s.queue_ids().iter().any(|id| queue_ids.contains(id)))
        .ok_or_else(|| format!("no session of {host} accepted the message"))?;
    let logged = session.tls();
    // Where TLS was used, no session of this peer may have carried MAIL FROM without it.
    if tls.is_some() && sessions.iter().any(|s| s.saw_mail() && s.tls().is_none()) {
        return Err(format!("a session of {host} saw MAIL FROM in plain text"));
    }
    match (tls, &logged) {
        (Some(v), Some(l))
            if l.version == v && (v != "TLSv1.3" || cipher == Some(l.cipher.as_str())) =>
        {
            Ok(logged)
        }
        (None, None) if sessions.iter().all(|s| s.tls().is_none()) => Ok(None),
        _ => Err(format!(
            "reported TLS {tls:?} with {cipher:?}, smtpd logged {logged:?}; the session:\n{}",
            session.lines.join("\n")
        )),
    }
}

#[test]
#[ignore = "needs root and Debian's nsd, unbound, ldnsutils, postfix: scripts/test.sh runs it"]
fn delivery_to_postfix_peers_at_each_level() {
    let mut world = World::start();
    let database = world.dir.path().join("sendguard.db");
    let view = send(&world, &database);
    println!("--- sendguard send --wait --json:\n{view:#?}");
    assert_eq!(
        view.recipients.len(),
        RECIPIENTS.len() + WITHHELD.len(),
        "{view:#?}"
    );

    let domains: Vec<&str> = RECIPIENTS.iter().map(|(d, _)| *d).collect();
    let arrived = wait_for_maildirs(&world.mail, &domains, Duration::from_secs(30));
    let maillog = std::fs::read_to_string(&world.maillog).unwrap_or_default();
    let queue_ids = queue_ids_of(&maillog, &view.message_id);
    let mut failures = Vec::new();
    let mut table = format!(
        "\n{:<20} {:<32} {}\n",
        "recipient", "sendguard reported", "smtpd logged"
    );
    for ((domain, level), r) in RECIPIENTS.iter().zip(&view.recipients) {
        assert_eq!(
            r.address,
            format!("user@{domain}"),
            "recipients in the order given"
        );
        let outcome = check_report(r, domain, *level).and_then(|tls| {
            check_mailbox(&world, &view, domain, tls.as_deref())
                .map_err(|e| format!("Maildir: {e}"))?;
            let cipher = r.delivery.as_ref().and_then(|d| d.cipher.as_deref());
            let logged = check_log(&maillog, &queue_ids, domain, tls.as_deref(), cipher)
                .map_err(|e| format!("log: {e}"))?;
            Ok((tls, logged))
        });
        match outcome {
            Ok((tls, logged)) => table.push_str(&format!(
                "{:<20} {:<32} {}\n",
                r.address,
                match r.delivery.as_ref() {
                    Some(d) if d.dane == Some(DaneStatus::Verified) =>
                        format!("{} DANE verified", tls.as_deref().unwrap_or("?")),
                    _ => tls.as_deref().unwrap_or("plain text").to_string(),
                },
                logged.map_or("no TLS".into(), |l| format!("{} {}", l.version, l.cipher))
            )),
            Err(e) => failures.push(format!("{}: {e}", r.address)),
        }
    }
    for (domain, r) in WITHHELD.iter().zip(&view.recipients[RECIPIENTS.len()..]) {
        assert_eq!(
            r.address,
            format!("user@{domain}"),
            "recipients in the order given"
        );
        match check_withheld(&world, &maillog, r, domain) {
            Ok(reason) => table.push_str(&format!("{:<20} deferred: {reason}\n", r.address)),
            Err(e) => failures.push(format!("{}: {e}", r.address)),
        }
    }
    println!("{table}");
    world.assert_daemons_running();
    assert!(
        failures.is_empty() && arrived,
        "{} of {} recipients not delivered as expected (all Maildirs filled: {arrived}):\n{}\n\
         --- Postfix log:\n{maillog}",
        failures.len(),
        RECIPIENTS.len() + WITHHELD.len(),
        failures.join("\n")
    );
}

/// The log reading itself, on lines as Postfix 3.7 wrote them in this world: two sessions of
/// one smtpd process (a probe that stopped after TLS, then a delivery), another peer's plain
/// delivery in between.
#[test]
fn smtpd_log_is_read_per_session() {
    let log = "\
Dec 01 21:52:15 mx postfix/mx.tls.test/smtpd[31321]: connect from localhost[127.0.0.1]
Dec 01 21:52:15 mx postfix/mx.tls.test/smtpd[31321]: Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)
Dec 01 21:52:15 mx postfix/mx.tls.test/smtpd[31321]: disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 quit=1 commands=4
Dec 01 21:52:16 mx postfix/mx.tls.test/smtpd[31321]: connect from localhost[127.0.0.1]
Dec 01 21:52:16 mx postfix/mx.plain.test/smtpd[31322]: connect from localhost[127.0.0.1]
Dec 01 21:52:16 mx postfix/mx.tls.test/smtpd[31321]: Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256
Dec 01 21:52:16 mx postfix/mx.plain.test/smtpd[31322]: 8C4799AE089: client=localhost[127.0.0.1]
Dec 01 21:52:16 mx postfix/mx.tls.test/smtpd[31321]: 8ADC29AE054: client=localhost[127.0.0.1]
Dec 01 21:52:16 mx postfix/cleanup[31603]: 8ADC29AE054: message-id=<abc@x>
Dec 01 21:52:16 mx postfix/cleanup[31603]: 8C4799AE089: message-id=<abc@x>
Dec 01 21:52:16 mx postfix/mx.tls.test/smtpd[31321]: disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7
Dec 01 21:52:16 mx postfix/mx.plain.test/smtpd[31322]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
";
    let ids = queue_ids_of(log, "abc@x");
    assert_eq!(ids, ["8ADC29AE054", "8C4799AE089"]);
    let tls = smtpd_sessions(log, "mx.tls.test");
    assert_eq!(tls.len(), 2);
    assert!(tls[0].queue_ids().is_empty());
    assert!(!tls[0].saw_mail() && tls[1].saw_mail(), "{tls:?}");
    assert_eq!(tls[1].queue_ids(), ["8ADC29AE054"]);
    let logged = LoggedTls {
        version: "TLSv1.3".into(),
        cipher: "TLS_AES_256_GCM_SHA384".into(),
    };
    assert_eq!(tls[1].tls(), Some(logged.clone()));
    assert_eq!(
        check_log(
            log,
            &ids,
            "tls.test",
            Some("TLSv1.3"),
            Some("TLS_AES_256_GCM_SHA384")
        ),
        Ok(Some(logged))
    );
    let aes = Some("TLS_AES_256_GCM_SHA384");
    assert!(check_log(log, &ids, "tls.test", Some("TLSv1.2"), aes).is_err());
    assert!(check_log(log, &ids, "tls.test", Some("TLSv1.3"), Some("TLS_CHACHA20")).is_err());
    assert_eq!(check_log(log, &ids, "plain.test", None, None), Ok(None));
    assert!(check_log(log, &ids, "plain.test", Some("TLSv1.3"), aes).is_err());
    assert!(check_log(log, &["OTHER".into()], "tls.test", Some("TLSv1.3"), aes).is_err());
}
