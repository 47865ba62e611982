//! The resolver self-test: does DNSSEC validation (RFC 4033 §3, RFC 4035 §5) actually work
//! through the configured resolver, with the configured trust anchor, right now?
//!
//! Sendguard validates every answer itself ([`super::Dns`], hickory as a validating stub
//! against its own trust anchor), so "the resolver does not validate" cannot mean a missing AD
//! bit: the upstream's AD bit is never trusted. What can make every DNSSEC status meaningless
//! is the path as a whole, and each case shows in two lookups:
//!
//! | What is wrong | The signed name | The broken name |
//! |---|---|---|
//! | nothing | secure | bogus |
//! | the upstream (or a middlebox) strips RRSIG/DNSKEY records, not DNSSEC-aware | bogus or insecure | bogus or insecure |
//! | the trust anchor does not match the root (a stale or wrong anchor file) | bogus | bogus |
//! | validation is not in effect (a build or configuration without it) | insecure | secure or insecure |
//! | the resolver is unreachable or answers SERVFAIL for everything | no answer | no answer |
//!
//! The signed name ([`SelfTestNames::secure`]) must come back [`DnssecStatus::Secure`]:
//! otherwise every DANE-ok badge would turn into a DNSSEC failure or an "unsigned" verdict and,
//! worse, floors and holds would be raised on facts that only the broken path produced. The
//! deliberately broken name ([`SelfTestNames::bogus`]) must come back [`DnsError::Bogus`]:
//! otherwise a forged answer would pass for a genuine one and the badges would mean nothing.
//! Anything else, an outage included, is a failure of the self-test: while the resolver cannot
//! show that it validates, no DNS answer can be relied on, so nothing is judged from it
//! ([`crate::verdicts::resolver`] says what follows).
//!
//! Each run uses its own resolver with an empty cache ([`Dns::clear_cache`]), so a cached answer
//! from before the failure cannot hide it. The default names are on the real internet:
//! `isc.org` (signed since 2009) and `dnssec-failed.org` (kept deliberately bogus by Comcast for
//! exactly this test); the simulated internet publishes its own pair
//! (`sendguard_sim::world::SELF_TEST_SECURE`, `SELF_TEST_BOGUS`).

use sendguard_common::DnssecStatus;

use super::{AddressAnswer, Dns, DnsError};

/// The default signed name: a zone signed for many years by the Internet Systems Consortium.
pub const DEFAULT_SECURE_NAME: &str = "isc.org";
/// The default broken name: kept with a bad signature on purpose so resolvers can be tested.
pub const DEFAULT_BOGUS_NAME: &str = "dnssec-failed.org";

/// The two names the self-test looks up (address records, A and AAAA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfTestNames {
    /// A correctly signed name: must validate as secure.
    pub secure: String,
    /// A deliberately broken name: must fail validation (bogus).
    pub bogus: String,
}

impl Default for SelfTestNames {
    fn default() -> Self {
        SelfTestNames {
            secure: DEFAULT_SECURE_NAME.into(),
            bogus: DEFAULT_BOGUS_NAME.into(),
        }
    }
}

/// Why the self-test failed: each says what it found and what that means.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelfTestFailure {
    /// The signed name came back without a valid signature chain.
    #[error(
        "the signed name {name} came back {found}: the resolver strips DNSSEC signatures or the trust anchor does not match ({detail})"
    )]
    SignedNotSecure {
        /// The name asked for.
        name: String,
        /// The status found (`insecure`, `bogus`, `indeterminate`).
        found: &'static str,
        /// The resolver's or validator's words.
        detail: String,
    },
    /// The deliberately broken name came back as if it were fine.
    #[error(
        "the deliberately broken name {name} came back {found} instead of bogus: DNSSEC validation is not in effect"
    )]
    BrokenAccepted {
        /// The name asked for.
        name: String,
        /// The status found (`secure`, `insecure`, `indeterminate`).
        found: &'static str,
    },
    /// No usable answer (timeout, SERVFAIL without a DNSSEC reason, unreachable): whether the
    /// resolver validates cannot be shown. Temporary by nature.
    #[error("no usable answer for {name}: {detail}")]
    NoAnswer {
        /// The name asked for.
        name: String,
        /// Why.
        detail: String,
    },
}

impl SelfTestFailure {
    /// Whether the failure may go away by itself (an outage) rather than needing the
    /// operator (a resolver or trust anchor that breaks validation).
    pub fn is_temporary(&self) -> bool {
        matches!(self, SelfTestFailure::NoAnswer { .. })
    }

    /// A short code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SelfTestFailure::SignedNotSecure { .. } => "signed_not_secure",
            SelfTestFailure::BrokenAccepted { .. } => "broken_accepted",
            SelfTestFailure::NoAnswer { .. } => "no_answer",
        }
    }
}

/// Runs the self-test once: both names looked up afresh through `dns`.
pub async fn run(dns: &Dns, names: &SelfTestNames) -> Result<(), SelfTestFailure> {
    dns.clear_cache();
    let (secure, bogus) = futures::join!(dns.addresses(&names.secure), dns.addresses(&names.bogus));
    judge(names, secure, bogus)
}

/// What the two answers say about validation (pure; the table in the module doc).
pub fn judge(
    names: &SelfTestNames,
    secure: Result<AddressAnswer, DnsError>,
    bogus: Result<AddressAnswer, DnsError>,
) -> Result<(), SelfTestFailure> {
    let no_answer = |name: &str, e: &DnsError| SelfTestFailure::NoAnswer {
        name: name.to_string(),
        detail: e.to_string(),
    };
    match secure {
        Ok(a) if a.dnssec == DnssecStatus::Secure && !a.addresses.is_empty() => {}
        Ok(a) => {
            return Err(SelfTestFailure::SignedNotSecure {
                name: names.secure.clone(),
                found: status_word(a.dnssec, a.addresses.is_empty()),
                detail: "answered without a valid signature".into(),
            });
        }
        Err(DnsError::Bogus(detail)) => {
            return Err(SelfTestFailure::SignedNotSecure {
                name: names.secure.clone(),
                found: "bogus",
                detail,
            });
        }
        Err(e) => return Err(no_answer(&names.secure, &e)),
    }
    match bogus {
        Err(DnsError::Bogus(_)) => Ok(()),
        Ok(a) => Err(SelfTestFailure::BrokenAccepted {
            name: names.bogus.clone(),
            found: status_word(a.dnssec, a.addresses.is_empty()),
        }),
        Err(e) => Err(no_answer(&names.bogus, &e)),
    }
}

/// The word for a status found where another was expected.
fn status_word(status: DnssecStatus, empty: bool) -> &'static str {
    match status {
        _ if empty && status == DnssecStatus::Secure => "secure but without addresses",
        DnssecStatus::Secure => "secure",
        DnssecStatus::Insecure => "insecure (unsigned)",
        DnssecStatus::Bogus => "bogus",
        DnssecStatus::Indeterminate => "indeterminate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(dnssec: DnssecStatus) -> Result<AddressAnswer, DnsError> {
        Ok(AddressAnswer {
            addresses: vec!["192.0.2.1".parse().unwrap()],
            dnssec,
            canonical: None,
        })
    }

    fn bogus() -> Result<AddressAnswer, DnsError> {
        Err(DnsError::Bogus("rrsig invalid".into()))
    }

    #[test]
    fn each_row_of_the_table_is_told_apart() {
        let names = SelfTestNames::default();
        assert_eq!(judge(&names, answer(DnssecStatus::Secure), bogus()), Ok(()));
        // Validation off: the signed name looks unsigned, the broken one passes.
        let off = judge(
            &names,
            answer(DnssecStatus::Insecure),
            answer(DnssecStatus::Insecure),
        )
        .unwrap_err();
        assert!(
            matches!(off, SelfTestFailure::SignedNotSecure { .. }),
            "{off}"
        );
        assert!(!off.is_temporary());
        // Wrong trust anchor, or signatures stripped: the signed name is bogus too.
        let anchor = judge(&names, bogus(), bogus()).unwrap_err();
        assert!(
            anchor.to_string().contains("isc.org came back bogus"),
            "{anchor}"
        );
        // The broken name accepted.
        let accepted = judge(
            &names,
            answer(DnssecStatus::Secure),
            answer(DnssecStatus::Secure),
        )
        .unwrap_err();
        assert_eq!(accepted.code(), "broken_accepted");
        assert!(
            accepted.to_string().contains("dnssec-failed.org"),
            "{accepted}"
        );
        // An outage is a failure too, but a temporary one.
        let outage =
            judge(&names, Err(DnsError::Temporary("timeout".into())), bogus()).unwrap_err();
        assert!(outage.is_temporary());
        let later = judge(
            &names,
            answer(DnssecStatus::Secure),
            Err(DnsError::Temporary("SERVFAIL".into())),
        )
        .unwrap_err();
        assert_eq!(later.code(), "no_answer");
    }
}
