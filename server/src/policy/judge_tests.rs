//! Tests of the one judgement and its wire view: each rule of `judge.rs` with hand-made facts.

use std::collections::BTreeMap;

use sendguard_common::{DnssecStatus, DomainVerdict};

use super::*;
use crate::dane::tlsa::TlsaRecord;
use crate::probe::facts::{EndpointFacts, SessionFacts, TlsFacts};

/// The verdict of the facts alone, as the badge shows it.
fn verdict(f: &DomainFacts) -> DomainVerdict {
    crate::policy::view::verdict(&judge(f), &BTreeMap::new())
}

fn tls(dane: DaneOutcome) -> SessionFacts {
    SessionFacts {
        starttls_offered: true,
        tls: Some(TlsFacts::tls13_example(dane)),
        tls_failure: None,
    }
}

fn plain() -> SessionFacts {
    SessionFacts {
        starttls_offered: false,
        tls: None,
        tls_failure: None,
    }
}

fn failed(f: TlsFailureFacts) -> SessionFacts {
    SessionFacts {
        starttls_offered: true,
        tls: None,
        tls_failure: Some(f),
    }
}

fn host(name: &str, tlsa: TlsaFacts, outcomes: Vec<EndpointOutcome>) -> HostFacts {
    HostFacts {
        host: name.into(),
        preference: 10,
        address_dnssec: DnssecStatus::Secure,
        tlsa,
        address_error: None,
        not_probed: None,
        endpoints: outcomes
            .into_iter()
            .enumerate()
            .map(|(i, outcome)| EndpointFacts {
                ip: format!("192.0.2.{}", i + 1).parse().unwrap(),
                outcome,
            })
            .collect(),
    }
}

fn domain(hosts: Vec<HostFacts>) -> DomainFacts {
    DomainFacts {
        domain: "example.test".into(),
        checked_at: 1,
        mx: MxFacts::Hosts {
            dnssec: DnssecStatus::Secure,
            implicit: false,
            hosts,
        },
    }
}

fn dane_records() -> TlsaFacts {
    TlsaFacts::Secure(vec![TlsaRecord {
        usage: 3,
        selector: 1,
        matching: 1,
        data: vec![0; 32],
    }])
}

#[test]
fn matched_dane_everywhere_is_dane_ok() {
    let v = verdict(&domain(vec![host(
        "mx1",
        dane_records(),
        vec![EndpointOutcome::Session(tls(DaneOutcome::Matched))],
    )]));
    assert_eq!(v.class, SecurityClass::DaneOk);
    assert!(!v.blocked);
    assert_eq!(v.mx[0].dane, DaneStatus::Verified);
    assert_eq!(v.mx[0].tls_version.as_deref(), Some("TLSv1.3"));
}

#[test]
fn the_weakest_mx_counts() {
    let v = verdict(&domain(vec![
        host(
            "mx1",
            dane_records(),
            vec![EndpointOutcome::Session(tls(DaneOutcome::Matched))],
        ),
        host(
            "backup",
            TlsaFacts::SecureNone,
            vec![EndpointOutcome::Session(tls(DaneOutcome::NotApplicable))],
        ),
    ]));
    assert_eq!(v.class, SecurityClass::SslOk);
    let v = verdict(&domain(vec![
        host(
            "mx1",
            TlsaFacts::Insecure,
            vec![EndpointOutcome::Session(tls(DaneOutcome::NotApplicable))],
        ),
        host(
            "backup",
            TlsaFacts::Insecure,
            vec![EndpointOutcome::Session(plain())],
        ),
    ]));
    assert_eq!(v.class, SecurityClass::NoSsl);
    assert!(v.reason.contains("backup"), "{}", v.reason);
    assert_eq!(v.mx[1].starttls, Some(false));
}

#[test]
fn legacy_tls_and_failed_handshakes_are_no_ssl() {
    for f in [
        TlsFailureFacts::LegacyOnly("protocol_version alert".into()),
        TlsFailureFacts::Handshake("bad record".into()),
        TlsFailureFacts::Refused("454 not now".into()),
    ] {
        let v = verdict(&domain(vec![host(
            "mx1",
            TlsaFacts::Insecure,
            vec![EndpointOutcome::Session(failed(f))],
        )]));
        assert_eq!(v.class, SecurityClass::NoSsl);
        assert!(!v.blocked);
    }
}

#[test]
fn a_dane_mismatch_blocks() {
    let v = verdict(&domain(vec![host(
        "mx1",
        dane_records(),
        vec![EndpointOutcome::Session(tls(DaneOutcome::Mismatch(
            "no record matched".into(),
        )))],
    )]));
    assert!(v.blocked);
    assert_eq!(v.cause, Some(BlockCause::DaneMismatch));
    assert_eq!(v.mx[0].dane, DaneStatus::Failed);
    assert!(v.reason.contains("TLSA"), "{}", v.reason);
}

#[test]
fn dane_without_starttls_blocks_and_is_no_ssl() {
    let v = verdict(&domain(vec![host(
        "mx1",
        dane_records(),
        vec![EndpointOutcome::Session(plain())],
    )]));
    assert_eq!(v.class, SecurityClass::NoSsl);
    assert!(v.blocked);
    assert_eq!(v.cause, Some(BlockCause::DaneWithoutTls));
}

#[test]
fn bogus_tlsa_blocks_and_is_unknown() {
    let v = verdict(&domain(vec![host(
        "mx1",
        TlsaFacts::Failed(Failure::Bogus("RRSIG expired".into())),
        vec![EndpointOutcome::Session(tls(DaneOutcome::NotApplicable))],
    )]));
    assert_eq!(v.class, SecurityClass::Unknown);
    assert!(v.blocked);
    assert_eq!(v.cause, Some(BlockCause::DnssecBogus));
    assert_eq!(v.mx[0].dane, DaneStatus::Bogus);
}

#[test]
fn a_tlsa_lookup_that_failed_for_now_defers_without_calling_it_bogus() {
    let facts = domain(vec![host(
        "mx1",
        TlsaFacts::Failed(Failure::Temporary("timed out".into())),
        vec![EndpointOutcome::Session(tls(DaneOutcome::NotApplicable))],
    )]);
    let v = verdict(&facts);
    assert_eq!(v.class, SecurityClass::Unknown);
    assert!(v.blocked, "the records may demand TLS: the delivery waits");
    assert_eq!(v.cause, Some(BlockCause::TlsaLookupFailed));
    assert_eq!(v.mx[0].dane, DaneStatus::LookupFailed);
    assert!(!v.reason.contains("DNSSEC"), "{}", v.reason);
    assert_eq!(
        v.mx[0].tls_version.as_deref(),
        Some("TLSv1.3"),
        "the session's details stay"
    );
    let j = judge(&facts);
    assert_eq!(j.hosts[0].level(), None, "not evidence for the history");
    assert_eq!(j.hosts[0].endpoints[0].outcome, Outcome::TlsaLookupFailed);
}

#[test]
fn a_server_that_refuses_the_session_for_good_is_told_apart_but_is_no_evidence() {
    let j = judge(&domain(vec![host(
        "mx1",
        TlsaFacts::Insecure,
        vec![
            EndpointOutcome::Failed(Failure::Permanent("554 no service".into())),
            EndpointOutcome::Failed(Failure::Temporary("connect: refused".into())),
        ],
    )]));
    let outcomes: Vec<Outcome> = j.hosts[0].endpoints.iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, [Outcome::SessionRejected, Outcome::Unreachable]);
    assert_eq!(j.hosts[0].level(), None);
    assert_eq!(j.cause(), None);
}

#[test]
fn unusable_tlsa_still_means_tls() {
    let records = TlsaFacts::Secure(vec![TlsaRecord {
        usage: 1,
        selector: 1,
        matching: 1,
        data: vec![1; 32],
    }]);
    let v = verdict(&domain(vec![host(
        "mx1",
        records.clone(),
        vec![EndpointOutcome::Session(tls(DaneOutcome::NoUsableRecords))],
    )]));
    assert_eq!(v.class, SecurityClass::SslOk);
    assert_eq!(v.mx[0].dane, DaneStatus::None);
    let v = verdict(&domain(vec![host(
        "mx1",
        records,
        vec![EndpointOutcome::Session(plain())],
    )]));
    assert!(v.blocked, "TLSA records exist, so plain text is refused");
}

#[test]
fn unreachable_or_forbidden_hosts_are_unknown_not_blocked() {
    let v = verdict(&domain(vec![host(
        "mx1",
        TlsaFacts::Insecure,
        vec![
            EndpointOutcome::Failed(Failure::Temporary("connect: refused".into())),
            EndpointOutcome::Forbidden("private address".into()),
        ],
    )]));
    assert_eq!(v.class, SecurityClass::Unknown);
    assert!(!v.blocked);
    assert!(v.reason.contains("refused"), "{}", v.reason);
}

#[test]
fn one_answering_address_is_enough_and_the_weakest_counts() {
    let v = verdict(&domain(vec![host(
        "mx1",
        TlsaFacts::Insecure,
        vec![
            EndpointOutcome::Failed(Failure::Temporary("timeout".into())),
            EndpointOutcome::Session(tls(DaneOutcome::NotApplicable)),
        ],
    )]));
    assert_eq!(v.class, SecurityClass::SslOk);
    let v = verdict(&domain(vec![host(
        "mx1",
        TlsaFacts::Insecure,
        vec![
            EndpointOutcome::Session(tls(DaneOutcome::NotApplicable)),
            EndpointOutcome::Session(plain()),
        ],
    )]));
    assert_eq!(v.class, SecurityClass::NoSsl);
}

#[test]
fn domain_level_failures() {
    let mk = |mx| DomainFacts {
        domain: "x.test".into(),
        checked_at: 0,
        mx,
    };
    for (mx, cause) in [
        (MxFacts::NullMx, Some(BlockCause::NullMx)),
        (MxFacts::NxDomain, Some(BlockCause::NoSuchDomain)),
        (MxFacts::NoMailHost, Some(BlockCause::NoMailServer)),
        (
            MxFacts::Failed(Failure::Bogus("bad sig".into())),
            Some(BlockCause::DnssecBogus),
        ),
        (MxFacts::Failed(Failure::Temporary("timeout".into())), None),
    ] {
        let v = verdict(&mk(mx.clone()));
        assert_eq!(v.class, SecurityClass::Unknown, "{mx:?}");
        assert_eq!((v.blocked, v.cause), (cause.is_some(), cause), "{mx:?}");
        assert!(!v.reason.is_empty());
    }
}
