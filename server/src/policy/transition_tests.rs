//! Tests of the history rules: floors, holds, releases, with hand-made facts judged by `judge`.

use super::*;
use crate::dane::tlsa::TlsaRecord;
use crate::policy::judge::judge;
use crate::probe::facts::{
    DaneOutcome, DomainFacts, EndpointFacts, EndpointOutcome, Failure, HostFacts, MxFacts,
    SessionFacts, TlsFacts, TlsFailureFacts, TlsaFacts,
};
use proptest::prelude::*;
use sendguard_common::{DnssecStatus, SecurityClass};

fn record() -> TlsaRecord {
    TlsaRecord {
        usage: 3,
        selector: 1,
        matching: 1,
        data: vec![0; 32],
    }
}

fn session(
    tls: Option<DaneOutcome>,
    failure: Option<TlsFailureFacts>,
    offered: bool,
) -> EndpointOutcome {
    EndpointOutcome::Session(SessionFacts {
        starttls_offered: offered,
        ehlo_refused: None,
        tls: tls.map(TlsFacts::tls13_example),
        tls_failure: failure,
    })
}

fn host(name: &str, tlsa: TlsaFacts, dnssec: DnssecStatus, outcome: EndpointOutcome) -> HostFacts {
    HostFacts {
        host: name.into(),
        preference: 10,
        address_dnssec: dnssec,
        tlsa,
        address_error: None,
        not_probed: None,
        endpoints: vec![EndpointFacts {
            ip: "192.0.2.1".parse().unwrap(),
            outcome,
        }],
    }
}

fn facts(hosts: Vec<HostFacts>) -> DomainFacts {
    DomainFacts {
        domain: "d.test".into(),
        checked_at: 100,
        mx: MxFacts::Hosts {
            dnssec: DnssecStatus::Secure,
            implicit: false,
            hosts,
        },
        mta_sts: crate::mta_sts::StsFacts::NotChecked,
    }
}

fn dane() -> HostFacts {
    host(
        "mx.d.test",
        TlsaFacts::Secure(vec![record()]),
        DnssecStatus::Secure,
        session(Some(DaneOutcome::Matched), None, true),
    )
}

/// Applies one probe to `prior` as the store does.
fn step(prior: &mut Prior, f: &DomainFacts) -> Transition {
    let j = judge(f);
    let t = transition(&j, prior);
    for (h, s) in &t.hosts {
        prior.hosts.insert(h.clone(), s.clone());
    }
    for h in &t.holds {
        prior.open_holds.insert((h.host.clone(), h.domain.clone()));
    }
    prior.domain_floor = t.domain_floor;
    prior.previous_mx = j.hosts.iter().map(|h| h.host.clone()).collect();
    t
}

fn after_dane(next: HostFacts) -> (Transition, Prior) {
    let mut prior = Prior::default();
    assert!(step(&mut prior, &facts(vec![dane()])).holds.is_empty());
    let t = step(&mut prior, &facts(vec![next]));
    (t, prior)
}

#[test]
fn the_first_observation_sets_the_floor_and_a_better_one_raises_it() {
    let mut prior = Prior::default();
    let tls = host(
        "mx.d.test",
        TlsaFacts::Insecure,
        DnssecStatus::Insecure,
        session(Some(DaneOutcome::NotApplicable), None, true),
    );
    step(&mut prior, &facts(vec![tls]));
    assert_eq!(prior.hosts["mx.d.test"].floor, Some(Level::Tls));
    step(&mut prior, &facts(vec![dane()]));
    assert_eq!(prior.hosts["mx.d.test"].floor, Some(Level::Dane));
    assert_eq!(prior.domain_floor, Some(Level::Dane));
}

#[test]
fn starttls_no_longer_offered_is_a_downgrade() {
    let (t, prior) = after_dane(host(
        "mx.d.test",
        TlsaFacts::Secure(vec![record()]),
        DnssecStatus::Secure,
        session(None, None, false),
    ));
    assert_eq!(t.holds.len(), 1);
    assert_eq!(t.holds[0].observed, Level::Plain);
    assert!(
        t.holds[0].reason.contains("no longer offers STARTTLS"),
        "{}",
        t.holds[0].reason
    );
    assert_eq!(
        prior.hosts["mx.d.test"].floor,
        Some(Level::Dane),
        "the floor stays"
    );
}

#[test]
fn failing_or_legacy_handshakes_are_downgrades() {
    for (failure, words) in [
        (
            TlsFailureFacts::Handshake("bad".into()),
            "handshake now fails",
        ),
        (
            TlsFailureFacts::LegacyOnly("alert".into()),
            "older than 1.2",
        ),
        (TlsFailureFacts::Refused("454".into()), "refuses STARTTLS"),
    ] {
        let (t, _) = after_dane(host(
            "mx.d.test",
            TlsaFacts::Secure(vec![record()]),
            DnssecStatus::Secure,
            session(None, Some(failure), true),
        ));
        assert_eq!(t.holds.len(), 1);
        assert!(t.holds[0].reason.contains(words), "{}", t.holds[0].reason);
    }
}

#[test]
fn tlsa_vanishing_mismatching_or_turning_insecure_are_downgrades() {
    for (tlsa, dnssec, dane, words) in [
        (
            TlsaFacts::SecureNone,
            DnssecStatus::Secure,
            DaneOutcome::NotApplicable,
            "vanished",
        ),
        (
            TlsaFacts::Secure(vec![record()]),
            DnssecStatus::Secure,
            DaneOutcome::Mismatch("no match".into()),
            "no longer matches",
        ),
        (
            TlsaFacts::NotLookedUp,
            DnssecStatus::Insecure,
            DaneOutcome::NotApplicable,
            "no longer DNSSEC-signed",
        ),
    ] {
        let (t, _) = after_dane(host(
            "mx.d.test",
            tlsa,
            dnssec,
            session(Some(dane), None, true),
        ));
        assert_eq!(t.holds.len(), 1, "{words}");
        assert_eq!(t.holds[0].observed, Level::Tls);
        assert!(t.holds[0].reason.contains(words), "{}", t.holds[0].reason);
    }
}

#[test]
fn unknown_is_not_evidence() {
    for h in [
        host(
            "mx.d.test",
            TlsaFacts::Failed(Failure::Bogus("expired".into())),
            DnssecStatus::Bogus,
            session(None, None, false),
        ),
        host(
            "mx.d.test",
            TlsaFacts::Secure(vec![record()]),
            DnssecStatus::Secure,
            EndpointOutcome::Failed(Failure::Temporary("timeout".into())),
        ),
        host(
            "mx.d.test",
            TlsaFacts::Secure(vec![record()]),
            DnssecStatus::Secure,
            session(None, Some(TlsFailureFacts::Timeout), true),
        ),
    ] {
        let (t, prior) = after_dane(h);
        assert!(t.holds.is_empty(), "{t:?}");
        assert_eq!(prior.hosts["mx.d.test"].floor, Some(Level::Dane));
    }
}

#[test]
fn an_mx_set_changing_to_weaker_hosts_is_held_for_that_domain() {
    let mut prior = Prior::default();
    step(&mut prior, &facts(vec![dane()]));
    let weaker = host(
        "new.other.test",
        TlsaFacts::Insecure,
        DnssecStatus::Insecure,
        session(Some(DaneOutcome::NotApplicable), None, true),
    );
    let t = step(&mut prior, &facts(vec![weaker]));
    assert_eq!(t.holds.len(), 1);
    assert_eq!(t.holds[0].domain.as_deref(), Some("d.test"));
    assert!(
        t.holds[0].reason.contains("MX records of d.test changed"),
        "{}",
        t.holds[0].reason
    );
    assert_eq!(t.domain_floor, Some(Level::Dane));
    // Nothing new for the same state again.
    let again = step(
        &mut prior,
        &facts(vec![host(
            "new.other.test",
            TlsaFacts::Insecure,
            DnssecStatus::Insecure,
            session(Some(DaneOutcome::NotApplicable), None, true),
        )]),
    );
    assert!(again.holds.is_empty());
}

#[test]
fn history_blocks_verdicts_with_a_reason_naming_the_downgrade() {
    let mut other = dane();
    other.host = "other".into();
    let judged = judge(&facts(vec![dane(), other]));
    let mut hosts = BTreeMap::new();
    hosts.insert(
        "mx.d.test".to_string(),
        HostRecord {
            state: HostState {
                first_seen: 1,
                last_seen: 5,
                best: Some(Level::Dane),
                floor: Some(Level::Dane),
            },
            holds: vec![OpenHold {
                domain: None,
                since: 4,
                reason: "mx.d.test no longer offers STARTTLS".into(),
            }],
        },
    );
    hosts.insert(
        "other".to_string(),
        HostRecord {
            holds: vec![OpenHold {
                domain: Some("elsewhere.test".into()),
                since: 3,
                reason: "x".into(),
            }],
            ..Default::default()
        },
    );
    let v = crate::policy::view::verdict(&judged, &hosts);
    assert!(v.blocked);
    assert!(
        v.reason.contains("no longer offers STARTTLS"),
        "{}",
        v.reason
    );
    assert!(v.mx[0].on_hold);
    assert!(
        !v.mx[1].on_hold,
        "a hold for another domain does not block this one"
    );
    let h = v.mx[0].history.as_ref().unwrap();
    assert_eq!((h.floor, h.on_hold_since), (SecurityClass::DaneOk, Some(4)));
}

fn level_facts(level: Option<Level>) -> DomainFacts {
    let (tlsa, outcome) = match level {
        Some(Level::Dane) => (
            TlsaFacts::Secure(vec![record()]),
            session(Some(DaneOutcome::Matched), None, true),
        ),
        Some(Level::Tls) => (
            TlsaFacts::SecureNone,
            session(Some(DaneOutcome::NotApplicable), None, true),
        ),
        Some(Level::Plain) => (TlsaFacts::SecureNone, session(None, None, false)),
        None => (
            TlsaFacts::SecureNone,
            EndpointOutcome::Failed(Failure::Temporary("refused".into())),
        ),
    };
    facts(vec![host("mx.d.test", tlsa, DnssecStatus::Secure, outcome)])
}

proptest! {
    /// No sequence of observations lowers a floor; only a release does, to the level it
    /// accepts, and every observation below the floor raises (or keeps) a hold.
    #[test]
    fn no_observation_lowers_a_floor(
        events in proptest::collection::vec(
            prop_oneof![
                4 => proptest::option::of(prop_oneof![Just(Level::Plain), Just(Level::Tls), Just(Level::Dane)]).prop_map(Some),
                1 => Just(None),
            ],
            1..40,
        )
    ) {
        let mut prior = Prior::default();
        let mut last_accepted: Option<Level> = None;
        for event in events {
            let before = prior.hosts.get("mx.d.test").and_then(|s| s.floor);
            match event {
                Some(level) => {
                    let t = step(&mut prior, &level_facts(level));
                    let after = prior.hosts["mx.d.test"].floor;
                    prop_assert!(after >= before, "{before:?} -> {after:?} on {level:?}");
                    if let (Some(l), Some(f)) = (level, before) && l < f {
                        let held = prior.open_holds.iter().any(|(h, _)| h == "mx.d.test");
                        prop_assert!(held);
                    }
                    if t.holds.is_empty() && level >= before {
                        prop_assert_eq!(after, before.max(level));
                    }
                }
                None => {
                    // An administrator releases whatever is held, accepting the last level.
                    let held: Vec<HoldKey> = prior.open_holds.iter().cloned().collect();
                    if held.is_empty() { continue; }
                    let accepted = last_accepted.unwrap_or(Level::Plain);
                    let state = prior.hosts.get_mut("mx.d.test").unwrap();
                    let held = [HeldLevel { domain: None, observed: accepted }];
                    let r = release(&held, Some(state.floor), &BTreeMap::new()).unwrap();
                    state.floor = r.host_floor;
                    prior.domain_floor = prior.domain_floor.map(|f| f.min(accepted));
                    prior.open_holds.clear();
                    prop_assert!(prior.hosts["mx.d.test"].floor <= Some(accepted));
                }
            }
            if let Some(Some(l)) = event { last_accepted = Some(l); }
        }
    }
}

#[test]
fn a_name_mismatch_for_one_domain_is_no_evidence_about_the_server() {
    let mut prior = Prior::default();
    step(&mut prior, &facts(vec![dane()]));
    let other = host(
        "mx.d.test",
        TlsaFacts::Secure(vec![record()]),
        DnssecStatus::Secure,
        session(
            Some(DaneOutcome::NameMismatch("names none of".into())),
            None,
            true,
        ),
    );
    let mut f = facts(vec![other]);
    f.domain = "other.test".into();
    let j = judge(&f);
    assert_eq!(j.cause(), Some(sendguard_common::BlockCause::DaneMismatch));
    let t = transition(&j, &prior);
    assert!(t.holds.is_empty(), "{:?}", t.holds);
    assert_eq!(t.hosts["mx.d.test"].floor, Some(Level::Dane));
}

#[test]
fn dane_behind_an_unsigned_mx_answer_keeps_the_server_s_floor_but_not_the_domain_s() {
    let mut prior = Prior::default();
    step(&mut prior, &facts(vec![dane()]));
    let mut f = facts(vec![dane()]);
    f.domain = "hosted.test".into();
    if let MxFacts::Hosts { dnssec, .. } = &mut f.mx {
        *dnssec = DnssecStatus::Insecure;
    }
    let mut hosted = Prior {
        hosts: prior.hosts.clone(),
        ..Prior::default()
    };
    let t = step(&mut hosted, &f);
    assert!(t.holds.is_empty(), "the server did not fall: {:?}", t.holds);
    assert_eq!(t.hosts["mx.d.test"].floor, Some(Level::Dane));
    assert_eq!(
        t.domain_floor,
        Some(Level::Tls),
        "the domain never had DANE"
    );
}

#[test]
fn a_released_server_settles_at_the_accepted_floor_for_a_while() {
    let tls = || {
        host(
            "mx.d.test",
            TlsaFacts::Insecure,
            DnssecStatus::Insecure,
            session(Some(DaneOutcome::NotApplicable), None, true),
        )
    };
    let plain = || {
        host(
            "mx.d.test",
            TlsaFacts::Insecure,
            DnssecStatus::Insecure,
            session(None, None, false),
        )
    };
    let mut prior = Prior::default();
    prior.hosts.insert(
        "mx.d.test".into(),
        HostState {
            floor: Some(Level::Plain),
            best: Some(Level::Tls),
            ..HostState::default()
        },
    );
    prior.domain_floor = Some(Level::Plain);
    prior.released_at.insert("mx.d.test".into(), 50);
    // Within the window: TLS does not raise the floor, so the next flap raises no hold.
    let t = step(&mut prior, &facts(vec![tls()]));
    assert_eq!(t.hosts["mx.d.test"].floor, Some(Level::Plain));
    assert_eq!(t.domain_floor, Some(Level::Plain));
    assert!(step(&mut prior, &facts(vec![plain()])).holds.is_empty());
    // After it, the floor rises again and a fall is held as always.
    let mut later = facts(vec![tls()]);
    later.checked_at = 50 + SETTLE_AFTER_RELEASE;
    assert_eq!(
        step(&mut prior, &later).hosts["mx.d.test"].floor,
        Some(Level::Tls)
    );
    let mut fall = facts(vec![plain()]);
    fall.checked_at = 51 + SETTLE_AFTER_RELEASE;
    assert_eq!(step(&mut prior, &fall).holds.len(), 1);
}
