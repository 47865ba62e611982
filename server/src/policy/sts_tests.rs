//! The MTA-STS rules of the judgement and their views, with hand-made facts.

use std::collections::BTreeMap;

use sendguard_common::{BlockCause, SecurityClass};

use super::*;
use crate::mta_sts::{CachedPolicy, Policy, StsFacts};
use crate::policy::judge::tests::{dane_records, domain, host, plain, tls};
use crate::policy::{DomainPlan, Enforcement, enforcement, judge, plan};
use crate::probe::facts::{
    DaneOutcome, DomainFacts, EndpointOutcome, HostFacts, SessionFacts, TlsaFacts,
};

fn policy(mode: Mode, patterns: &[&str]) -> StsFacts {
    StsFacts::Applies {
        cached: CachedPolicy::fetched(
            "id1".into(),
            Policy {
                mode,
                mx: patterns
                    .iter()
                    .map(|p| MxPattern::parse(p).unwrap())
                    .collect(),
                max_age: 86_400,
            },
            1,
        ),
        source: StsSource::Fetched,
    }
}

/// TLS 1.3 with a certificate valid (or not) under the WebPKI.
fn tls_cert(valid: bool) -> EndpointOutcome {
    let mut s: SessionFacts = tls(DaneOutcome::NotApplicable);
    if let Some(t) = &mut s.tls {
        t.certificate.webpki_valid = valid;
        if !valid {
            t.certificate.webpki_error = Some("self-signed".into());
        }
    }
    EndpointOutcome::Session(s)
}

fn with(hosts: Vec<HostFacts>, sts: StsFacts) -> DomainFacts {
    let mut f = domain(hosts);
    f.mta_sts = sts;
    f
}

fn plain_host(name: &str, outcome: EndpointOutcome) -> HostFacts {
    host(name, TlsaFacts::Insecure, vec![outcome])
}

#[test]
fn enforce_with_matching_valid_hosts_is_ssl_ok_and_verified() {
    let f = with(
        vec![
            plain_host("mx1.example.test", tls_cert(true)),
            plain_host("mx2.example.test", tls_cert(true)),
        ],
        policy(Mode::Enforce, &["*.example.test"]),
    );
    let j = judge(&f);
    assert_eq!(j.class(), SecurityClass::SslOk);
    assert_eq!(j.cause(), None);
    let v = crate::policy::view::verdict(&j, &BTreeMap::new());
    assert!(!v.blocked);
    let sts = v.mta_sts.clone().expect("the policy is shown");
    assert_eq!(sts.mode, Some(sendguard_common::StsMode::Enforce));
    assert_eq!(sts.mx, ["*.example.test"]);
    assert_eq!(sts.cached_until, Some(1 + 86_400));
    assert!(v.mx.iter().all(|m| m.mta_sts_match == Some(true)));
    let DomainPlan::Deliver(hosts) = plan(&j, &v, &BTreeMap::new(), None, None) else {
        panic!("delivered")
    };
    assert!(hosts.iter().all(|h| h.enforcement == Enforcement::Verify));
    assert!(j.sts_reported().is_some());
}

#[test]
fn a_host_the_enforce_policy_does_not_name_is_not_used_nor_counted() {
    // The backup MX speaks no TLS at all; the policy does not name it, so delivery never uses
    // it and the badge must not count it (RFC 8461 §4.1, §5).
    let f = with(
        vec![
            plain_host("mx1.example.test", tls_cert(true)),
            plain_host("backup.elsewhere.test", EndpointOutcome::Session(plain())),
        ],
        policy(Mode::Enforce, &["mx1.example.test"]),
    );
    let j = judge(&f);
    assert_eq!(j.class(), SecurityClass::SslOk);
    assert_eq!(j.cause(), None);
    let v = crate::policy::view::verdict(&j, &BTreeMap::new());
    assert_eq!(v.mx[1].mta_sts_match, Some(false));
    assert!(v.mx[1].error.as_deref().unwrap().contains("not used"));
    let DomainPlan::Deliver(hosts) = plan(&j, &v, &BTreeMap::new(), None, None) else {
        panic!("delivered")
    };
    let names: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(names, ["mx1.example.test"]);
}

#[test]
fn no_matching_host_blocks_and_defers() {
    let f = with(
        vec![plain_host("mx.example.test", tls_cert(true))],
        policy(Mode::Enforce, &["mx.other.test"]),
    );
    let j = judge(&f);
    assert_eq!(j.cause(), Some(BlockCause::MtaStsNoMatchingMx));
    assert_eq!(j.class(), SecurityClass::Unknown);
    let v = crate::policy::view::verdict(&j, &BTreeMap::new());
    assert!(v.blocked && v.reason.contains("names none of its MX hosts"));
    assert!(matches!(
        plan(&j, &v, &BTreeMap::new(), None, None),
        DomainPlan::Defer(_)
    ));
}

#[test]
fn a_matching_host_without_a_valid_certificate_or_tls_fails_the_policy() {
    for outcome in [tls_cert(false), EndpointOutcome::Session(plain())] {
        let f = with(
            vec![plain_host("mx.example.test", outcome)],
            policy(Mode::Enforce, &["mx.example.test"]),
        );
        let j = judge(&f);
        assert_eq!(j.cause(), Some(BlockCause::MtaStsFailed));
        let v = crate::policy::view::verdict(&j, &BTreeMap::new());
        assert!(v.blocked && v.reason.contains("MTA-STS"), "{}", v.reason);
        // The server's own level is untouched: the policy is the domain's demand.
        assert!(j.hosts[0].level().is_some());
    }
}

#[test]
fn testing_mode_is_reported_not_enforced() {
    let f = with(
        vec![plain_host("mx.example.test", tls_cert(false))],
        policy(Mode::Testing, &["mx.other.test"]),
    );
    let j = judge(&f);
    assert_eq!((j.class(), j.cause()), (SecurityClass::SslOk, None));
    let v = crate::policy::view::verdict(&j, &BTreeMap::new());
    assert_eq!(v.mx[0].mta_sts_match, Some(false));
    let DomainPlan::Deliver(hosts) = plan(&j, &v, &BTreeMap::new(), None, None) else {
        panic!("delivered")
    };
    assert_eq!(hosts[0].enforcement, Enforcement::May);
    assert!(j.sts_reported().is_some());
}

#[test]
fn dane_comes_first() {
    // A DANE host is judged by its TLSA records, named by the policy or not (RFC 8461 §2).
    let f = with(
        vec![host(
            "mx.dane.test",
            dane_records(),
            vec![EndpointOutcome::Session(tls(DaneOutcome::Matched))],
        )],
        policy(Mode::Enforce, &["mx.example.test"]),
    );
    let j = judge(&f);
    assert_eq!((j.class(), j.cause()), (SecurityClass::DaneOk, None));
    assert!(!j.sts_enforced(&j.hosts[0]));
    // Reported under `tlsa` all the same: TLS reporting puts DANE first.
    let sts = j
        .sts_reported()
        .map(|_| crate::tlsrpt::ReportPolicy::sts(&j.domain, "mode: enforce", &[]));
    let reported = crate::tlsrpt::policy_for(&j.domain, f.host(0).unwrap(), sts.as_ref());
    assert_eq!(reported.kind, crate::tlsrpt::PolicyType::Tlsa);
    // A failing DANE check is never rescued by the policy.
    assert_eq!(
        enforcement(TlsaDemand::Dane, true, None),
        Enforcement::DaneOnly
    );
}

#[test]
fn no_policy_and_failures_are_shown_not_enforced() {
    let f = with(
        vec![plain_host("mx.example.test", tls_cert(false))],
        StsFacts::NoPolicy {
            problem: Some(crate::mta_sts::StsProblem {
                step: crate::mta_sts::StsStep::Policy,
                detail: "the policy is served as \"text/html\", not text/plain".into(),
            }),
        },
    );
    let j = judge(&f);
    assert_eq!((j.class(), j.cause()), (SecurityClass::SslOk, None));
    let v = crate::policy::view::verdict(&j, &BTreeMap::new());
    let sts = v.mta_sts.unwrap();
    assert_eq!(sts.mode, None);
    assert!(sts.problem.unwrap().contains("text/plain"));
    assert_eq!(j.sts_reported(), None);
    let none = judge(&with(vec![], StsFacts::NoPolicy { problem: None }));
    assert_eq!(none.mta_sts.view(), None);
}
