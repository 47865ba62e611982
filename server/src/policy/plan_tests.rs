//! Tests of the delivery plan: each rule of `plan.rs`, on judgements of hand-made facts.

use std::collections::BTreeMap;

use sendguard_common::{MinAuthentication, MinTlsVersion, TransportRequirement};

use super::*;
use crate::policy::judge::tests::{dane_records, domain, host, plain, tls};
use crate::policy::transition::{HostState, OpenHold};
use crate::policy::{judge, view};
use crate::probe::facts::{DaneOutcome, DomainFacts, EndpointOutcome, MxFacts, TlsaFacts};

fn plan_of(
    facts: &DomainFacts,
    history: &BTreeMap<String, HostRecord>,
    domain_floor: Option<Level>,
    secure: Option<TransportRequirement>,
) -> DomainPlan {
    let j = judge(facts);
    let v = view::verdict(&j, history);
    plan(&j, &v, history, domain_floor, secure)
}

fn enforcements(p: &DomainPlan) -> Vec<Enforcement> {
    match p {
        DomainPlan::Deliver(hosts) => hosts.iter().map(|h| h.enforcement).collect(),
        other => panic!("no delivery: {other:?}"),
    }
}

fn dane_host() -> crate::probe::facts::HostFacts {
    host(
        "mx1.example.test",
        dane_records(),
        vec![EndpointOutcome::Session(tls(DaneOutcome::Matched))],
    )
}

fn tls_host() -> crate::probe::facts::HostFacts {
    host(
        "mx2.example.test",
        TlsaFacts::SecureNone,
        vec![EndpointOutcome::Session(tls(DaneOutcome::NotApplicable))],
    )
}

fn plain_host() -> crate::probe::facts::HostFacts {
    host(
        "mx3.example.test",
        TlsaFacts::SecureNone,
        vec![EndpointOutcome::Session(plain())],
    )
}

fn floor(level: Level) -> HostRecord {
    HostRecord {
        state: HostState {
            first_seen: 0,
            last_seen: 0,
            best: Some(level),
            floor: Some(level),
        },
        holds: vec![],
    }
}

#[test]
fn each_host_gets_the_enforcement_of_its_records_and_floor() {
    let facts = domain(vec![dane_host(), tls_host(), plain_host()]);
    let none = BTreeMap::new();
    assert_eq!(
        enforcements(&plan_of(&facts, &none, None, None)),
        [Enforcement::DaneOnly, Enforcement::May, Enforcement::May]
    );
    // TLS seen before on mx2: TLS from now on.
    let seen = BTreeMap::from([("mx2.example.test".to_string(), floor(Level::Tls))]);
    assert_eq!(
        enforcements(&plan_of(&facts, &seen, None, None)),
        [
            Enforcement::DaneOnly,
            Enforcement::Encrypt,
            Enforcement::May
        ]
    );
    // The domain's floor covers a host without a record of its own.
    assert_eq!(
        enforcements(&plan_of(
            &domain(vec![tls_host()]),
            &none,
            Some(Level::Tls),
            None
        )),
        [Enforcement::Encrypt]
    );
}

#[test]
fn the_addresses_are_those_the_probe_may_contact() {
    let mut h = tls_host();
    h.endpoints.push(crate::probe::facts::EndpointFacts {
        ip: "192.0.2.9".parse().unwrap(),
        outcome: EndpointOutcome::Forbidden("a private address is not probed".into()),
    });
    let DomainPlan::Deliver(hosts) = plan_of(&domain(vec![h]), &BTreeMap::new(), None, None) else {
        panic!("no delivery")
    };
    assert_eq!(hosts[0].addresses, ["192.0.2.1".parse::<IpAddr>().unwrap()]);
}

#[test]
fn a_blocked_verdict_is_no_delivery_held_deferred_or_failed_by_its_cause() {
    let mut held = floor(Level::Tls);
    held.holds.push(OpenHold {
        domain: None,
        since: 1,
        reason: "mx2.example.test no longer offers STARTTLS".into(),
    });
    let history = BTreeMap::from([("mx2.example.test".to_string(), held)]);
    let p = plan_of(&domain(vec![tls_host()]), &history, None, None);
    assert!(
        matches!(&p, DomainPlan::Hold(r) if r.contains("on hold")),
        "{p:?}"
    );

    let mismatch = host(
        "mx1.example.test",
        dane_records(),
        vec![EndpointOutcome::Session(tls(DaneOutcome::Mismatch(
            "no record matched".into(),
        )))],
    );
    let p = plan_of(&domain(vec![mismatch]), &BTreeMap::new(), None, None);
    assert!(matches!(p, DomainPlan::Defer(_)), "{p:?}");

    let mut null = domain(vec![]);
    null.mx = MxFacts::NullMx;
    let p = plan_of(&null, &BTreeMap::new(), None, None);
    assert!(
        matches!(&p, DomainPlan::Fail(r) if r.contains("null MX")),
        "{p:?}"
    );
}

#[test]
fn a_secure_sender_is_refused_below_its_minimum_and_requires_tls_above_it() {
    let any = TransportRequirement::default();
    let p = plan_of(
        &domain(vec![plain_host()]),
        &BTreeMap::new(),
        None,
        Some(any),
    );
    assert!(
        matches!(&p, DomainPlan::Fail(r) if r.contains("does not offer TLS")),
        "{p:?}"
    );
    let p = plan_of(&domain(vec![tls_host()]), &BTreeMap::new(), None, Some(any));
    assert_eq!(enforcements(&p), [Enforcement::Encrypt]);

    let authenticated = TransportRequirement {
        authentication: MinAuthentication::Authenticated,
        tls_version: MinTlsVersion::Tls13,
    };
    let p = plan_of(
        &domain(vec![tls_host()]),
        &BTreeMap::new(),
        None,
        Some(authenticated),
    );
    assert!(
        matches!(&p, DomainPlan::Fail(r) if r.contains("cannot be authenticated")),
        "{p:?}"
    );
    let p = plan_of(
        &domain(vec![dane_host()]),
        &BTreeMap::new(),
        None,
        Some(authenticated),
    );
    let DomainPlan::Deliver(hosts) = p else {
        panic!("no delivery")
    };
    assert_eq!(hosts[0].enforcement, Enforcement::DaneOnly);
    assert!(hosts[0].tls13_only);
}
