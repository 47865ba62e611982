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

pub(in crate::policy) fn tls(dane: DaneOutcome) -> SessionFacts {
    SessionFacts {
        starttls_offered: true,
        ehlo_refused: None,
        tls: Some(TlsFacts::tls13_example(dane)),
        tls_failure: None,
    }
}

pub(in crate::policy) fn plain() -> SessionFacts {
    SessionFacts {
        starttls_offered: false,
        ehlo_refused: None,
        tls: None,
        tls_failure: None,
    }
}

fn failed(f: TlsFailureFacts) -> SessionFacts {
    SessionFacts {
        starttls_offered: true,
        ehlo_refused: None,
        tls: None,
        tls_failure: Some(f),
    }
}

pub(in crate::policy) fn host(
    name: &str,
    tlsa: TlsaFacts,
    outcomes: Vec<EndpointOutcome>,
) -> HostFacts {
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

pub(in crate::policy) fn domain(hosts: Vec<HostFacts>) -> DomainFacts {
    DomainFacts {
        domain: "example.test".into(),
        checked_at: 1,
        mx: MxFacts::Hosts {
            dnssec: DnssecStatus::Secure,
            implicit: false,
            hosts,
        },
        mta_sts: crate::mta_sts::StsFacts::NotChecked,
    }
}

pub(in crate::policy) fn dane_records() -> TlsaFacts {
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
        mta_sts: crate::mta_sts::StsFacts::NotChecked,
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

#[test]
fn a_refused_ehlo_is_no_esmtp_with_its_reason() {
    let no_esmtp = SessionFacts {
        ehlo_refused: Some("500 5.5.1 Command unrecognized".into()),
        ..plain()
    };
    let f = domain(vec![host(
        "mx1",
        TlsaFacts::Insecure,
        vec![EndpointOutcome::Session(no_esmtp)],
    )]);
    let j = judge(&f);
    assert_eq!(j.hosts[0].endpoints[0].outcome, Outcome::NoEsmtp);
    let v = verdict(&f);
    assert_eq!(v.class, SecurityClass::NoSsl);
    assert!(
        v.reason
            .contains("no ESMTP: EHLO refused (500 5.5.1 Command unrecognized)"),
        "{}",
        v.reason
    );
    assert_eq!(Outcome::from_code("no_esmtp"), Some(Outcome::NoEsmtp));
}

#[test]
fn an_aborted_upgrade_is_not_evidence() {
    let v = verdict(&domain(vec![host(
        "mx1",
        TlsaFacts::Insecure,
        vec![EndpointOutcome::Session(failed(TlsFailureFacts::Aborted(
            "the server sent 9 bytes after its 220 to STARTTLS".into(),
        )))],
    )]));
    assert_eq!(v.class, SecurityClass::Unknown, "{v:#?}");
    assert!(!v.blocked);
    assert!(
        v.reason
            .contains("STARTTLS aborted (the server sent 9 bytes"),
        "{}",
        v.reason
    );
    assert_eq!(Outcome::from_code("tls_aborted"), Some(Outcome::TlsAborted));
}

/// The facts of `domain` with its MX answer's DNSSEC status and kind replaced.
fn with_mx(mut f: DomainFacts, status: DnssecStatus, is_implicit: bool) -> DomainFacts {
    if let MxFacts::Hosts {
        dnssec, implicit, ..
    } = &mut f.mx
    {
        *dnssec = status;
        *implicit = is_implicit;
    }
    f
}

#[test]
fn dane_ok_needs_a_signed_mx_answer() {
    let matched = || {
        domain(vec![host(
            "mx.provider.test",
            dane_records(),
            vec![EndpointOutcome::Session(tls(DaneOutcome::Matched))],
        )])
    };
    for (status, implicit, part) in [
        (DnssecStatus::Insecure, false, UnsignedDns::MxRecords),
        (DnssecStatus::Indeterminate, false, UnsignedDns::MxRecords),
        (DnssecStatus::Insecure, true, UnsignedDns::MxDenial),
    ] {
        let f = with_mx(matched(), status, implicit);
        let j = judge(&f);
        // The server itself reached DANE: its floor and its delivery requirement say so ...
        assert_eq!(j.hosts[0].level(), Some(Level::Dane));
        assert_eq!(j.hosts[0].tlsa, TlsaDemand::Dane);
        assert_eq!(
            crate::policy::enforcement(j.hosts[0].tlsa, false, None),
            crate::policy::Enforcement::DaneOnly,
            "RFC 7672 2.2.1: the secure TLSA records are still used for delivery"
        );
        // ... but the domain is not authenticated by it.
        assert_eq!(j.unsigned(&j.hosts[0]), Some(part));
        assert_eq!(j.level_via(&j.hosts[0]), Some(Level::Tls));
        let v = verdict(&f);
        assert_eq!(v.class, SecurityClass::SslOk, "{status:?} {implicit}");
        assert!(!v.blocked);
        assert_eq!(v.mx[0].class, SecurityClass::SslOk);
        assert_eq!(v.mx[0].dane, DaneStatus::Verified);
        assert_eq!(v.mx[0].unsigned, Some(part));
        assert!(v.reason.contains("not DNSSEC-signed"), "{}", v.reason);
    }
    let v = verdict(&matched());
    assert_eq!(v.class, SecurityClass::DaneOk);
    assert_eq!(v.mx[0].unsigned, None);
}

#[test]
fn an_unsigned_mx_answer_still_blocks_a_tlsa_mismatch() {
    let f = with_mx(
        domain(vec![host(
            "mx.provider.test",
            dane_records(),
            vec![EndpointOutcome::Session(tls(DaneOutcome::Mismatch(
                "no match".into(),
            )))],
        )]),
        DnssecStatus::Insecure,
        false,
    );
    let v = verdict(&f);
    assert!(v.blocked, "{v:#?}");
    assert_eq!(v.cause, Some(BlockCause::DaneMismatch));
}

#[test]
fn unsigned_host_records_are_named() {
    let mut h = host(
        "mx",
        TlsaFacts::NotLookedUp,
        vec![EndpointOutcome::Session(tls(DaneOutcome::NotApplicable))],
    );
    h.address_dnssec = DnssecStatus::Insecure;
    let v = verdict(&domain(vec![h]));
    assert_eq!(v.mx[0].unsigned, Some(UnsignedDns::Addresses));
    let v = verdict(&domain(vec![host(
        "mx",
        TlsaFacts::Insecure,
        vec![EndpointOutcome::Session(tls(DaneOutcome::NotApplicable))],
    )]));
    assert_eq!(v.mx[0].unsigned, Some(UnsignedDns::Tlsa));
    assert_eq!(v.class, SecurityClass::SslOk);
}

#[test]
fn a_host_s_details_are_its_weakest_address_s() {
    let mut strong = TlsFacts::tls13_example(DaneOutcome::NotApplicable);
    strong.certificate.webpki_valid = true;
    let mut weak = TlsFacts::tls13_example(DaneOutcome::NotApplicable);
    weak.version = crate::tls::TlsVersion::Tls12;
    weak.cipher_openssl = "ECDHE-RSA-AES128-GCM-SHA256".into();
    let session = |t: &TlsFacts| {
        EndpointOutcome::Session(SessionFacts {
            starttls_offered: true,
            tls: Some(t.clone()),
            tls_failure: None,
            ehlo_refused: None,
        })
    };
    let v = verdict(&domain(vec![host(
        "mx",
        TlsaFacts::SecureNone,
        vec![session(&strong), session(&weak)],
    )]));
    assert_eq!(v.mx[0].tls_version.as_deref(), Some("TLSv1.2"));
    assert_eq!(
        v.mx[0].cipher.as_deref(),
        Some("ECDHE-RSA-AES128-GCM-SHA256")
    );
    assert!(!v.mx[0].certificate.as_ref().unwrap().webpki_valid);
    // A valid certificate on one address and TLS 1.3 on another: both weak points show.
    let mut weak13 = strong.clone();
    weak13.certificate.webpki_valid = false;
    let mut strong12 = strong.clone();
    strong12.version = crate::tls::TlsVersion::Tls12;
    let v = verdict(&domain(vec![host(
        "mx",
        TlsaFacts::SecureNone,
        vec![session(&weak13), session(&strong12)],
    )]));
    assert_eq!(v.mx[0].tls_version.as_deref(), Some("TLSv1.2"));
    assert!(!v.mx[0].certificate.as_ref().unwrap().webpki_valid);
    // An address without STARTTLS beside one with TLS 1.3: no TLS line for the host.
    let v = verdict(&domain(vec![host(
        "mx",
        TlsaFacts::SecureNone,
        vec![session(&strong), EndpointOutcome::Session(plain())],
    )]));
    assert_eq!(v.class, SecurityClass::NoSsl);
    assert_eq!(v.mx[0].starttls, Some(false));
    assert_eq!(v.mx[0].tls_version, None);
    assert_eq!(v.mx[0].certificate, None);
}
