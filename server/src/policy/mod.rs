//! The policy: pure functions from observed facts to the verdict a badge shows.
//!
//! A badge predicts the security of the delivery our server would perform now (protocol notes,
//! "What a badge means"). Each MX host gets a class of its own; the domain's class is the weakest
//! among the hosts a delivery may use, backup MX included. Separately, a domain is `blocked` when
//! a delivery now would be refused or held. The rules, each with its reason:
//!
//! - No STARTTLS, or only TLS 1.0/1.1, or a handshake that fails: the message would travel in
//!   clear text (opportunistic TLS falls back to plain text), so **no SSL**.
//! - STARTTLS + TLS 1.2/1.3 with any certificate: **SSL ok**.
//! - DNSSEC-secure usable TLSA records (RFC 7672 §2.2) that matched the handshake: **DANE ok**.
//! - Secure TLSA records that did not match, or TLS not achieved although secure TLSA records
//!   demand it: the delivery must not proceed (RFC 7672 §2.2), so **blocked**.
//! - Bogus DNSSEC anywhere on the path (MX, TLSA): defer, never downgrade (RFC 7672 §2.1.1), so
//!   **SSL?** and **blocked**.
//! - Null MX (RFC 7505), NXDOMAIN or no mail host at all: no delivery possible, **blocked**.
//! - Unreachable hosts, timeouts, DNS failures: **SSL?**, not blocked (the delivery would be
//!   retried later).
//! - An address we may not contact (loopback, private, …) counts as unreachable.
//!
//! A host with several addresses takes the weakest class among the addresses that answered,
//! since a delivery may use any of them.
//!
//! What is remembered between probes (floors, holds, enforcement) is judged in [`history`].

pub mod history;

use sendguard_common::{
    BlockCause, DaneStatus, DnssecStatus, DomainVerdict, MxReport, SecurityClass,
};

use crate::probe::facts::{
    DaneOutcome, DomainFacts, EndpointOutcome, HostFacts, MxFacts, TlsFailureFacts, TlsaFacts,
};

/// The verdict for one domain from what was observed.
pub fn verdict(facts: &DomainFacts) -> DomainVerdict {
    let base = |class, cause: Option<BlockCause>, reason: String, dnssec| DomainVerdict {
        domain: facts.domain.clone(),
        class,
        blocked: cause.is_some(),
        cause,
        reason,
        dnssec,
        mx: Vec::new(),
        checked_at: Some(facts.checked_at),
    };
    let unknown = SecurityClass::Unknown;
    match &facts.mx {
        MxFacts::NullMx => base(
            unknown,
            Some(BlockCause::NullMx),
            "The domain accepts no mail (null MX, RFC 7505).".into(),
            DnssecStatus::Indeterminate,
        ),
        MxFacts::NxDomain => base(
            unknown,
            Some(BlockCause::NoSuchDomain),
            "The domain does not exist.".into(),
            DnssecStatus::Indeterminate,
        ),
        MxFacts::NoMailHost => base(
            unknown,
            Some(BlockCause::NoMailServer),
            "The domain has no mail server (neither MX nor address records).".into(),
            DnssecStatus::Indeterminate,
        ),
        MxFacts::Bogus(detail) => base(
            unknown,
            Some(BlockCause::DnssecBogus),
            format!("DNSSEC validation of the MX records failed; delivery is deferred ({detail})."),
            DnssecStatus::Bogus,
        ),
        MxFacts::DnsFailure(detail) => base(
            unknown,
            None,
            format!("The mail servers could not be looked up right now ({detail})."),
            DnssecStatus::Indeterminate,
        ),
        MxFacts::Hosts { dnssec, hosts, .. } => {
            let reports: Vec<MxReport> = hosts
                .iter()
                .map(|h| host_report(h, facts.checked_at))
                .collect();
            let judged: Vec<HostJudgement> = hosts.iter().map(judge_host).collect();
            let class = judged
                .iter()
                .map(|j| j.class)
                .min()
                .unwrap_or(SecurityClass::Unknown);
            let blocked = judged.iter().find(|j| j.cause.is_some());
            let (cause, reason) = match blocked {
                Some(first) => (first.cause, first.reason.clone()),
                None => (None, domain_reason(class, &judged)),
            };
            let mut v = base(class, cause, reason, *dnssec);
            v.mx = reports;
            v
        }
    }
}

/// The judgement of one host: its class, whether delivery to it is blocked, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostJudgement {
    class: SecurityClass,
    cause: Option<BlockCause>,
    reason: String,
}

fn domain_reason(class: SecurityClass, judged: &[HostJudgement]) -> String {
    match class {
        SecurityClass::DaneOk => {
            "Every mail server is authenticated by DNSSEC-signed TLSA records (DANE).".into()
        }
        SecurityClass::SslOk => "Every mail server accepts STARTTLS with TLS 1.2 or newer.".into(),
        SecurityClass::NoSsl | SecurityClass::Unknown => judged
            .iter()
            .find(|j| j.class == class)
            .map(|j| j.reason.clone())
            .unwrap_or_default(),
    }
}

fn judge_host(host: &HostFacts) -> HostJudgement {
    let name = &host.host;
    let j = |class, cause, reason: String| HostJudgement {
        class,
        cause,
        reason,
    };
    if let TlsaFacts::Bogus(detail) = &host.tlsa {
        return j(
            SecurityClass::Unknown,
            Some(BlockCause::DnssecBogus),
            format!(
                "{name}: DNSSEC validation of the TLSA records failed; delivery is deferred ({detail})."
            ),
        );
    }
    if let Some(e) = &host.address_error {
        return j(
            SecurityClass::Unknown,
            None,
            format!("{name}: its address could not be looked up ({e})."),
        );
    }
    let dane_required = host.tlsa.makes_tls_mandatory();
    let mut answered: Vec<HostJudgement> = Vec::new();
    let mut silent: Vec<String> = Vec::new();
    for ep in &host.endpoints {
        match &ep.outcome {
            EndpointOutcome::Forbidden(why) => silent.push(format!("{}: {why}", ep.ip)),
            EndpointOutcome::Failed { detail, .. } => silent.push(format!("{}: {detail}", ep.ip)),
            EndpointOutcome::Session(s) => {
                let judgement = match (&s.tls, &s.tls_failure) {
                    (Some(tls), _) => match &tls.dane {
                        DaneOutcome::Matched => j(
                            SecurityClass::DaneOk,
                            None,
                            format!(
                                "{name}: DANE verified, {} {}.",
                                tls.version, tls.cipher_openssl
                            ),
                        ),
                        DaneOutcome::Mismatch(why) => j(
                            SecurityClass::SslOk,
                            Some(BlockCause::DaneMismatch),
                            format!(
                                "{name}: the certificate does not match its DNSSEC-signed TLSA records; delivery is refused ({why})."
                            ),
                        ),
                        DaneOutcome::NoUsableRecords | DaneOutcome::NotApplicable => j(
                            SecurityClass::SslOk,
                            None,
                            format!("{name}: {} {}.", tls.version, tls.cipher_openssl),
                        ),
                    },
                    (None, failure) => {
                        let why = match failure {
                            None if !s.starttls_offered => "does not offer STARTTLS".to_string(),
                            None => "STARTTLS was not completed".to_string(),
                            Some(TlsFailureFacts::LegacyOnly(d)) => {
                                format!("only offers TLS versions older than 1.2 ({d})")
                            }
                            Some(TlsFailureFacts::Refused(d)) => format!("refused STARTTLS ({d})"),
                            Some(TlsFailureFacts::Handshake(d)) => {
                                format!("the TLS handshake failed ({d})")
                            }
                            Some(TlsFailureFacts::Timeout) => {
                                "the TLS handshake timed out".to_string()
                            }
                        };
                        if matches!(failure, Some(TlsFailureFacts::Timeout)) {
                            j(SecurityClass::Unknown, None, format!("{name}: {why}."))
                        } else if dane_required {
                            j(
                                SecurityClass::NoSsl,
                                Some(BlockCause::DaneWithoutTls),
                                format!(
                                    "{name}: {why}, but its DNSSEC-signed TLSA records require TLS; delivery is refused."
                                ),
                            )
                        } else {
                            j(
                                SecurityClass::NoSsl,
                                None,
                                format!("{name}: {why}; mail would travel unencrypted."),
                            )
                        }
                    }
                };
                answered.push(judgement);
            }
        }
    }
    if answered.is_empty() {
        let detail = if silent.is_empty() {
            "no address".to_string()
        } else {
            silent.join("; ")
        };
        return j(
            SecurityClass::Unknown,
            None,
            format!("{name}: not reachable ({detail})."),
        );
    }
    let weakest = answered
        .iter()
        .min_by_key(|j| j.class)
        .cloned()
        .expect("answered is not empty");
    match answered.into_iter().find(|j| j.cause.is_some()) {
        Some(blocked) => HostJudgement {
            class: weakest.class,
            ..blocked
        },
        None => weakest,
    }
}

/// The report of one MX host as the API shows it.
fn host_report(host: &HostFacts, checked_at: i64) -> MxReport {
    let judgement = judge_host(host);
    let sessions = host.endpoints.iter().filter_map(|e| match &e.outcome {
        EndpointOutcome::Session(s) => Some(s),
        _ => None,
    });
    let sessions: Vec<_> = sessions.collect();
    let tls = sessions.iter().find_map(|s| s.tls.as_ref());
    let starttls = if sessions.is_empty() {
        None
    } else {
        Some(sessions.iter().all(|s| s.starttls_offered))
    };
    let dane = dane_status(host, &sessions);
    let error = (!matches!(
        judgement.class,
        SecurityClass::DaneOk | SecurityClass::SslOk
    ) || judgement.cause.is_some())
    .then(|| judgement.reason.clone());
    MxReport {
        host: host.host.clone(),
        preference: host.preference,
        addresses: host.endpoints.iter().map(|e| e.ip.to_string()).collect(),
        starttls,
        tls_version: tls.map(|t| t.version.clone()),
        cipher: tls.map(|t| t.cipher_openssl.clone()),
        cipher_iana: tls.map(|t| t.cipher_iana.clone()),
        bits: tls.map(|t| t.bits),
        dane,
        certificate: tls.map(|t| t.certificate.clone()),
        class: judgement.class,
        error,
        checked_at: Some(checked_at),
        on_hold: false,
        history: None,
    }
}

fn dane_status(host: &HostFacts, sessions: &[&crate::probe::facts::SessionFacts]) -> DaneStatus {
    match &host.tlsa {
        TlsaFacts::Bogus(_) => DaneStatus::Bogus,
        TlsaFacts::NotLookedUp | TlsaFacts::Insecure => DaneStatus::Insecure,
        TlsaFacts::SecureNone => DaneStatus::None,
        TlsaFacts::Secure(_) if host.tlsa.usable().is_empty() => DaneStatus::None,
        TlsaFacts::Secure(_) => {
            let mut any = false;
            for s in sessions {
                match s.tls.as_ref().map(|t| &t.dane) {
                    Some(DaneOutcome::Matched) => any = true,
                    _ => return DaneStatus::Failed,
                }
            }
            if any {
                DaneStatus::Verified
            } else {
                DaneStatus::Failed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dane::tlsa::TlsaRecord;
    use crate::probe::facts::{EndpointFacts, SessionFacts, TlsFacts};

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
            TlsaFacts::Bogus("RRSIG expired".into()),
            vec![EndpointOutcome::Session(tls(DaneOutcome::NotApplicable))],
        )]));
        assert_eq!(v.class, SecurityClass::Unknown);
        assert!(v.blocked);
        assert_eq!(v.cause, Some(BlockCause::DnssecBogus));
        assert_eq!(v.mx[0].dane, DaneStatus::Bogus);
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
                EndpointOutcome::Failed {
                    detail: "connect: refused".into(),
                    temporary: true,
                },
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
                EndpointOutcome::Failed {
                    detail: "timeout".into(),
                    temporary: true,
                },
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
                MxFacts::Bogus("bad sig".into()),
                Some(BlockCause::DnssecBogus),
            ),
            (MxFacts::DnsFailure("timeout".into()), None),
        ] {
            let v = verdict(&mk(mx.clone()));
            assert_eq!(v.class, SecurityClass::Unknown, "{mx:?}");
            assert_eq!((v.blocked, v.cause), (cause.is_some(), cause), "{mx:?}");
            assert!(!v.reason.is_empty());
        }
    }
}
