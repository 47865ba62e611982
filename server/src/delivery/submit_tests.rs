//! Submission's checks and the built message, parsed back with mail-parser (an independent
//! RFC 5322 / MIME parser, not the builder under test).

use mail_parser::MessageParser;
use sendguard_common::address::{AddressError, DomainError};
use sendguard_common::{RecipientKind, SendRequest};

use super::*;

const ME: &str = "maxima@mailbox.example";
const NOW: i64 = 1_780_000_000;

fn request() -> SendRequest {
    SendRequest {
        from: ME.into(),
        to: vec!["erika@example.org".into()],
        cc: vec!["jörg@bücher.example".into()],
        bcc: vec!["hidden@blind.example".into()],
        subject: "Grüße aus Köln".into(),
        body: "Hallo Erika,\n\nbis bald.\n".into(),
    }
}

fn prepare_it(r: &SendRequest) -> Result<Prepared, SubmitError> {
    let allowed = [ME.to_string(), "maxima@secure.mailbox.example".to_string()];
    prepare(r, "Maxima Mustermann", &allowed, NOW)
}

#[test]
fn the_built_message_parses_back() {
    let prepared = prepare_it(&request()).unwrap();
    let raw = prepared.raw().to_vec();
    let text = String::from_utf8_lossy(&raw).to_string();
    let parsed = MessageParser::default().parse(&raw).unwrap();

    assert_eq!(parsed.subject(), Some("Grüße aus Köln"));
    // The UTF-8 subject travels as RFC 2047 encoded words, the header itself plain ASCII.
    let subject_line = text.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(subject_line.contains("=?utf-8?"), "{subject_line}");
    assert!(subject_line.is_ascii(), "{subject_line}");

    let id = parsed.message_id().unwrap();
    assert_eq!(id, prepared.message_id);
    let (unique, domain) = id.split_once('@').unwrap();
    assert_eq!((unique.len(), domain), (32, "mailbox.example"));
    assert_eq!(parsed.date().unwrap().to_timestamp(), NOW);

    let from = parsed.from().unwrap().first().unwrap();
    assert_eq!(from.address(), Some(ME));
    assert_eq!(from.name(), Some("Maxima Mustermann"));
    assert_eq!(
        parsed.to().unwrap().first().unwrap().address(),
        Some("erika@example.org")
    );
    assert_eq!(
        parsed.cc().unwrap().first().unwrap().address(),
        Some("jörg@bücher.example")
    );
    // Bcc recipients are envelope recipients only.
    assert!(parsed.bcc().is_none());
    // No Bcc header (a random Message-ID may well contain the letters "bcc").
    assert!(
        !text
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
        "{text}"
    );
    assert!(!text.contains("hidden@blind.example"), "{text}");

    assert_eq!(
        parsed.body_text(0).unwrap().replace("\r\n", "\n"),
        request().body
    );
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: text/plain; charset=\"utf-8\""),
        "{text}"
    );

    let kinds: Vec<_> = prepared
        .recipients
        .iter()
        .map(|r| (r.address.as_str(), r.domain.as_str(), r.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("erika@example.org", "example.org", RecipientKind::To),
            (
                "jörg@bücher.example",
                "xn--bcher-kva.example",
                RecipientKind::Cc
            ),
            ("hidden@blind.example", "blind.example", RecipientKind::Bcc),
        ]
    );
}

#[test]
fn each_message_gets_its_own_id() {
    let a = prepare_it(&request()).unwrap();
    let b = prepare_it(&request()).unwrap();
    assert_ne!(a.message_id, b.message_id);
}

#[test]
fn the_sender_must_be_the_users() {
    let mut r = request();
    r.from = "someone@else.example".into();
    assert!(matches!(
        prepare_it(&r),
        Err(SubmitError::NotYourAddress(a)) if a == "someone@else.example"
    ));
    r.from = "maxima@secure.mailbox.example".into();
    assert!(prepare_it(&r).is_ok());
    r.from = "Maxima <maxima@mailbox.example>".into();
    assert!(matches!(
        prepare_it(&r),
        Err(SubmitError::BadAddress { .. })
    ));
}

#[test]
fn malformed_addresses_are_refused_by_the_shared_parser() {
    for (bad, reason) in [
        ("kaputt", AddressError::MissingAt),
        (
            "a@under_score.example",
            AddressError::Domain(DomainError::BadCharacter),
        ),
        (
            "a@b.example\r\nBcc: x@y.example",
            AddressError::BadLocalPart,
        ),
        (
            "a@b.example\r\n",
            AddressError::Domain(DomainError::BadCharacter),
        ),
    ] {
        let mut r = request();
        r.cc = vec![bad.into()];
        match prepare_it(&r) {
            Err(SubmitError::BadAddress {
                address,
                reason: got,
            }) => {
                assert_eq!((address.as_str(), got), (bad, reason));
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn recipients_are_bounded() {
    let mut r = request();
    (r.to, r.cc, r.bcc) = (vec![], vec![], vec![]);
    assert!(matches!(prepare_it(&r), Err(SubmitError::NoRecipients)));
    r.to = (0..MAX_RECIPIENTS)
        .map(|i| format!("r{i}@example.org"))
        .collect();
    assert_eq!(prepare_it(&r).unwrap().recipients.len(), MAX_RECIPIENTS);
    r.bcc = vec!["one.more@example.org".into()];
    assert!(matches!(
        prepare_it(&r),
        Err(SubmitError::TooManyRecipients(101))
    ));
    // The same address twice is one recipient, where it first appears.
    let mut r = request();
    r.bcc = vec!["erika@example.org".into()];
    let p = prepare_it(&r).unwrap();
    assert_eq!(p.recipients.len(), 2);
    assert_eq!(p.recipients[0].kind, RecipientKind::To);
}

#[test]
fn subject_and_body_are_bounded_and_cannot_inject_headers() {
    let mut r = request();
    r.subject = "Hi\r\nBcc: victim@example.org".into();
    assert!(matches!(prepare_it(&r), Err(SubmitError::SubjectControl)));
    r.subject = "x".repeat(MAX_SUBJECT_CHARS + 1);
    assert!(matches!(prepare_it(&r), Err(SubmitError::SubjectTooLong)));
    r.subject = "ü".repeat(MAX_SUBJECT_CHARS);
    assert!(prepare_it(&r).is_ok());

    let mut r = request();
    r.body = "x".repeat(MAX_BODY_BYTES + 1);
    assert!(matches!(prepare_it(&r), Err(SubmitError::BodyTooLarge)));
    r.body = "a\0b".into();
    assert!(matches!(prepare_it(&r), Err(SubmitError::BodyNul)));
    // A body line that looks like a header stays in the body.
    r.body = "\r\nBcc: victim@example.org\r\n".into();
    let raw = prepare_it(&r).unwrap().raw().to_vec();
    let parsed = MessageParser::default().parse(&raw).unwrap();
    assert!(parsed.bcc().is_none());
}

#[test]
fn only_a_busy_store_is_temporary() {
    assert!(!SubmitError::NoRecipients.is_temporary());
    let busy = SubmitError::Store(StoreError::Busy(sqlx::Error::PoolTimedOut));
    assert!(busy.is_temporary());
}

#[test]
fn a_domain_without_a_valid_a_label_is_refused() {
    let mut r = request();
    r.to = vec!["a@xn--a.example".into()];
    assert!(
        matches!(prepare_it(&r), Err(SubmitError::BadDomain(a)) if a == "a@xn--a.example"),
        "{:?}",
        prepare_it(&r).map(|p| p.recipients)
    );
}
