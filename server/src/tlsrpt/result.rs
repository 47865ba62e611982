//! One session in the terms of RFC 8460 §4.3, read from the judgement the delivery acted on:
//! the endpoint's [`EndpointJudgement`] (outcome, TLS facts) and whether the session met the
//! host's [`Enforcement`] ([`crate::policy::permits`]). Nothing is judged here a second time.
//!
//! - The session met the enforcement over TLS: success.
//! - It met it without TLS (opportunistic delivery to a server without STARTTLS): a failure,
//!   since no encrypted channel was negotiated (RFC 8460 §4.4 `total-failure-session-count`).
//! - STARTTLS not offered, not usable (EHLO refused) or refused: `starttls-not-supported`.
//! - DANE: a certificate that matched none of the secure TLSA records, or a DANE-TA chain whose
//!   leaf names neither the MX host nor the domain: `validation-failure` (§4.3.1, the general
//!   negotiation failure; `tlsa-invalid` is left for records that cannot be used at all).
//! - Bogus DNSSEC on the host's records, or a TLSA lookup that failed: `dnssec-invalid`
//!   (§4.3.2.1: "no valid records were returned from the recursive resolver").
//! - A certificate not valid under the WebPKI where the enforcement asks for it (MTA-STS enforce,
//!   RFC 8461 §4.2): `certificate-expired`, `certificate-host-mismatch` or
//!   `certificate-not-trusted`, from the validation's finding.
//! - A handshake that failed, timed out or broke off, or TLS older than 1.2: `validation-failure`.
//! - No session (unreachable, refused, not contacted, addresses not found): not counted.

use crate::policy::{EndpointJudgement, Enforcement, Outcome, permits};
use crate::probe::facts::{HostFacts, TlsaFacts};

use crate::mta_sts::{StsFacts, StsSource, StsStep};

use super::{ReportPolicy, ResultType, SessionRecord, SessionResult};

/// The policy a session with `host` of `domain` is judged under, by the precedence of the
/// enforcement (protocol notes: DANE > MTA-STS > the rest): the host's DNSSEC-secure TLSA
/// records (or a TLSA lookup that failed: what they demand is unknown, the host is reported
/// under `tlsa` without records); else `sts`, the domain's MTA-STS policy when it has one (in
/// enforce or testing mode, [`ReportPolicy::sts`]); else `no-policy-found`.
pub fn policy_for(domain: &str, host: &HostFacts, sts: Option<&ReportPolicy>) -> ReportPolicy {
    let tlsa = |strings: Vec<String>| ReportPolicy {
        kind: super::PolicyType::Tlsa,
        domain: domain.to_string(),
        strings,
        mx_hosts: vec![host.host.clone()],
    };
    match &host.tlsa {
        TlsaFacts::Secure(records) if !records.is_empty() => tlsa(
            records
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {} {}",
                        r.usage,
                        r.selector,
                        r.matching,
                        hex::encode_upper(&r.data)
                    )
                })
                .collect(),
        ),
        TlsaFacts::Failed(_) => tlsa(Vec::new()),
        _ => match sts {
            Some(policy) => policy.clone(),
            None => ReportPolicy::none(domain),
        },
    }
}

/// The failure of `domain`'s MTA-STS policy itself that the discovery `facts` show, to count
/// once per delivery (RFC 8460 §4.3.2.2): a policy that could not be fetched
/// (`sts-policy-fetch-error`), a policy host whose certificate is not valid under the WebPKI
/// (`sts-webpki-invalid`), an answer that is no valid policy (`sts-policy-invalid`); also
/// when a cached policy applied in its place. A failed or malformed `_mta-sts` TXT record
/// names no policy to fetch and is not counted.
pub fn sts_policy_failure(domain: &str, facts: &StsFacts) -> Option<SessionRecord> {
    let problem = match facts {
        StsFacts::NoPolicy { problem } => problem.as_ref()?,
        StsFacts::Applies {
            source: StsSource::CachedAfterFailure(problem),
            ..
        } => problem,
        _ => return None,
    };
    let result = match problem.step {
        StsStep::Record => return None,
        StsStep::Fetch => ResultType::StsPolicyFetchError,
        StsStep::Certificate => ResultType::StsWebpkiInvalid,
        StsStep::Policy => ResultType::StsPolicyInvalid,
    };
    Some(SessionRecord::policy_failure(
        domain,
        result,
        &problem.detail,
    ))
}

/// What a session is held to in the report under `policy`: the delivery's enforcement, raised
/// to a certificate valid for the MX host under an MTA-STS policy (RFC 8461 §4.2), also in
/// testing mode, where the delivery went on but the report still says what failed (RFC 8461
/// §5, RFC 8460 §4.3). Under `tlsa` and `no-policy-found` it is the enforcement itself.
pub fn demanded(enforcement: Enforcement, policy: &ReportPolicy) -> Enforcement {
    match (policy.kind, enforcement) {
        (super::PolicyType::Sts, Enforcement::May | Enforcement::Encrypt) => Enforcement::Verify,
        _ => enforcement,
    }
}

/// What the session judged as `e` came to for a delivery that had to meet `enforcement`;
/// `None` when there was no session to speak of TLS.
pub fn result_of(e: &EndpointJudgement, enforcement: Enforcement) -> Option<SessionResult> {
    use Outcome::*;
    let failure = |result: ResultType| {
        Some(SessionResult::Failure {
            result,
            reason: e.outcome.code().replace('_', "-"),
        })
    };
    match e.outcome {
        Unreachable | SessionRejected | NotProbed | AddressLookupFailed => None,
        DnssecBogus | TlsaLookupFailed => failure(ResultType::DnssecInvalid),
        NoStarttls | NoEsmtp | StarttlsRefused | WithoutTls => {
            failure(ResultType::StarttlsNotSupported)
        }
        LegacyTls | HandshakeFailed | HandshakeTimeout | TlsAborted => {
            failure(ResultType::ValidationFailure)
        }
        DaneMismatch | DaneNameMismatch => failure(ResultType::ValidationFailure),
        DaneVerified | Tls => match permits(enforcement, e) {
            Ok(()) => Some(SessionResult::Success),
            Err(_) => failure(certificate_failure(e)),
        },
    }
}

/// Why a certificate failed the WebPKI check, as far as the validation said
/// ([`crate::tls::certinfo::webpki_check`]'s sentences).
fn certificate_failure(e: &EndpointJudgement) -> ResultType {
    let error = e
        .tls
        .as_ref()
        .and_then(|t| t.certificate.webpki_error.as_deref())
        .unwrap_or("");
    if error.contains("has expired") || error.contains("not valid yet") {
        ResultType::CertificateExpired
    } else if error.contains("is not valid for") {
        ResultType::CertificateHostMismatch
    } else if error.is_empty() {
        ResultType::ValidationFailure
    } else {
        ResultType::CertificateNotTrusted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dane::tlsa::TlsaRecord;
    use crate::policy::Level;
    use crate::probe::facts::{DaneOutcome, Failure, TlsFacts};
    use sendguard_common::{CertificateInfo, DaneStatus, DnssecStatus};

    fn endpoint(
        outcome: Outcome,
        level: Option<Level>,
        webpki: Result<(), &str>,
    ) -> EndpointJudgement {
        let tls = matches!(
            outcome,
            Outcome::Tls | Outcome::DaneVerified | Outcome::DaneMismatch
        )
        .then(|| {
            let mut tls = TlsFacts::tls13_example(DaneOutcome::NotApplicable);
            tls.certificate = CertificateInfo {
                chain: vec![],
                webpki_valid: webpki.is_ok(),
                webpki_error: webpki.err().map(str::to_string),
            };
            tls
        });
        EndpointJudgement {
            ip: Some([192, 0, 2, 1].into()),
            starttls: Some(true),
            tls,
            level,
            outcome,
            cause: None,
            dane: DaneStatus::None,
            detail: None,
        }
    }

    fn failed(result: ResultType, reason: &str) -> Option<SessionResult> {
        Some(SessionResult::Failure {
            result,
            reason: reason.into(),
        })
    }

    #[test]
    fn tls_that_meets_the_enforcement_is_a_success() {
        let tls = endpoint(Outcome::Tls, Some(Level::Tls), Err("self-signed"));
        assert_eq!(
            result_of(&tls, Enforcement::May),
            Some(SessionResult::Success)
        );
        assert_eq!(
            result_of(&tls, Enforcement::Encrypt),
            Some(SessionResult::Success)
        );
        let dane = endpoint(Outcome::DaneVerified, Some(Level::Dane), Err("self-signed"));
        assert_eq!(
            result_of(&dane, Enforcement::DaneOnly),
            Some(SessionResult::Success)
        );
    }

    #[test]
    fn no_starttls_is_reported_even_when_delivery_went_on_in_plain_text() {
        for outcome in [
            Outcome::NoStarttls,
            Outcome::NoEsmtp,
            Outcome::StarttlsRefused,
        ] {
            let e = endpoint(outcome, Some(Level::Plain), Ok(()));
            let code = outcome.code().replace('_', "-");
            assert_eq!(
                result_of(&e, Enforcement::May),
                failed(ResultType::StarttlsNotSupported, &code)
            );
        }
    }

    #[test]
    fn dane_mismatch_and_dns_failures_have_their_types() {
        let e = endpoint(Outcome::DaneMismatch, Some(Level::Tls), Ok(()));
        assert_eq!(
            result_of(&e, Enforcement::DaneOnly),
            failed(ResultType::ValidationFailure, "dane-mismatch")
        );
        let e = endpoint(Outcome::DnssecBogus, None, Ok(()));
        assert_eq!(
            result_of(&e, Enforcement::Defer),
            failed(ResultType::DnssecInvalid, "dnssec-bogus")
        );
        let e = endpoint(Outcome::TlsaLookupFailed, None, Ok(()));
        assert_eq!(
            result_of(&e, Enforcement::Defer),
            failed(ResultType::DnssecInvalid, "tlsa-lookup-failed")
        );
    }

    #[test]
    fn a_certificate_that_fails_a_verify_enforcement_says_why() {
        let cases = [
            (
                "the certificate has expired",
                ResultType::CertificateExpired,
            ),
            (
                "the certificate is not valid for mx.example",
                ResultType::CertificateHostMismatch,
            ),
            (
                "not issued by a certificate authority trusted by the WebPKI",
                ResultType::CertificateNotTrusted,
            ),
        ];
        for (why, expected) in cases {
            let e = endpoint(Outcome::Tls, Some(Level::Tls), Err(why));
            assert_eq!(result_of(&e, Enforcement::Verify), failed(expected, "tls"));
        }
        let valid = endpoint(Outcome::Tls, Some(Level::Tls), Ok(()));
        assert_eq!(
            result_of(&valid, Enforcement::Verify),
            Some(SessionResult::Success)
        );
    }

    #[test]
    fn an_sts_policy_holds_sessions_to_a_valid_certificate_even_in_testing_mode() {
        let sts = ReportPolicy::sts("example.org", "mode: testing", &[]);
        let none = ReportPolicy::none("example.org");
        assert_eq!(demanded(Enforcement::May, &sts), Enforcement::Verify);
        assert_eq!(demanded(Enforcement::Encrypt, &sts), Enforcement::Verify);
        assert_eq!(demanded(Enforcement::DaneOnly, &sts), Enforcement::DaneOnly);
        assert_eq!(demanded(Enforcement::May, &none), Enforcement::May);
        let self_signed = endpoint(Outcome::Tls, Some(Level::Tls), Err("not issued by a CA"));
        assert_eq!(
            result_of(&self_signed, demanded(Enforcement::May, &sts)),
            failed(ResultType::CertificateNotTrusted, "tls")
        );
    }

    #[test]
    fn sessions_that_never_spoke_of_tls_are_not_counted() {
        for outcome in [
            Outcome::Unreachable,
            Outcome::SessionRejected,
            Outcome::NotProbed,
            Outcome::AddressLookupFailed,
        ] {
            assert_eq!(
                result_of(&endpoint(outcome, None, Ok(())), Enforcement::May),
                None
            );
        }
    }

    fn host(tlsa: TlsaFacts) -> HostFacts {
        HostFacts {
            host: "mx.example.org".into(),
            preference: 10,
            address_dnssec: DnssecStatus::Secure,
            tlsa,
            address_error: None,
            not_probed: None,
            endpoints: vec![],
        }
    }

    #[test]
    fn dane_takes_precedence_over_mta_sts_in_the_reported_policy() {
        let sts = ReportPolicy::sts(
            "example.org",
            "version: STSv1\r\nmode: enforce\r\nmx: *.example.org\r\nmax_age: 86400\r\n",
            &["*.example.org".to_string()],
        );
        assert_eq!(
            sts.strings,
            [
                "version: STSv1",
                "mode: enforce",
                "mx: *.example.org",
                "max_age: 86400"
            ]
        );
        let record = TlsaRecord {
            usage: 3,
            selector: 1,
            matching: 1,
            data: vec![0xab, 0x01],
        };
        let dane = policy_for(
            "example.org",
            &host(TlsaFacts::Secure(vec![record])),
            Some(&sts),
        );
        assert_eq!(dane.kind, super::super::PolicyType::Tlsa);
        assert_eq!(dane.strings, ["3 1 1 AB01"]);
        assert_eq!(dane.mx_hosts, ["mx.example.org"]);
        let failed = policy_for(
            "example.org",
            &host(TlsaFacts::Failed(Failure::Temporary("timeout".into()))),
            None,
        );
        assert_eq!(failed.kind, super::super::PolicyType::Tlsa);
        assert!(failed.strings.is_empty());
        assert_eq!(
            policy_for("example.org", &host(TlsaFacts::SecureNone), Some(&sts)),
            sts
        );
        assert_eq!(
            policy_for("example.org", &host(TlsaFacts::Insecure), None),
            ReportPolicy::none("example.org")
        );
    }

    #[test]
    fn policy_failures_are_named_by_the_step_that_failed_and_a_txt_failure_is_not_counted() {
        use crate::mta_sts::{StsProblem, StsStep};
        let no_policy = |step| StsFacts::NoPolicy {
            problem: Some(StsProblem {
                step,
                detail: "what happened".into(),
            }),
        };
        let cases = [
            (StsStep::Fetch, Some(ResultType::StsPolicyFetchError)),
            (StsStep::Certificate, Some(ResultType::StsWebpkiInvalid)),
            (StsStep::Policy, Some(ResultType::StsPolicyInvalid)),
            (StsStep::Record, None),
        ];
        for (step, expected) in cases {
            let record = sts_policy_failure("example.org", &no_policy(step));
            let result = record.as_ref().map(|r| match &r.result {
                SessionResult::Failure { result, reason } => {
                    assert_eq!(reason, "what happened");
                    *result
                }
                SessionResult::Success => panic!("a failure"),
            });
            assert_eq!(result, expected, "{step:?}");
            if let Some(r) = record {
                assert_eq!(r.policy.kind, super::super::PolicyType::Sts);
                assert_eq!(r.mx_host, "mta-sts.example.org");
            }
        }
        assert_eq!(
            sts_policy_failure("example.org", &StsFacts::NoPolicy { problem: None }),
            None
        );
        assert_eq!(
            sts_policy_failure("example.org", &StsFacts::NotChecked),
            None
        );
    }
}
