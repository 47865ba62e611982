//! What a probe observed about a recipient domain, before any judgement: the MX answer, each MX
//! host's addresses and TLSA records, and what each address did when we connected to it.
//!
//! The probe ([`crate::probe`]) fills these in (a delivery attempt will too); the policy
//! ([`crate::policy::judge`]) turns them into a judgement. Keeping the two apart lets the policy
//! be a pure, exhaustively tested function.
//!
//! Types for one observation, by side: `smtp::ProbeSession` is what the SMTP client saw of one
//! session; the probe caches it per server before DANE matching (its private `RawEndpoint`,
//! since one session serves every domain that uses the server); [`EndpointFacts`] is that
//! session seen for one recipient domain (DANE matched against that domain's names);
//! `policy::EndpointJudgement` is what the policy decided of it; `MxReport` and
//! `ObservationView` in `common/` are the wire views made from facts and judgement together.
//!
//! Failures keep three different answers apart ([`Failure`]): a temporary failure (try again
//! later), a permanent one (trying again will not help) and bogus DNSSEC (the answer may be
//! forged). Nothing is called bogus that was only slow.

use std::net::IpAddr;

use sendguard_common::{CertificateInfo, DnssecStatus};

use crate::dane::tlsa::TlsaRecord;
use crate::tls::TlsVersion;

/// Why a lookup or a protocol step gave no answer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// Trying again later may succeed: a timeout, SERVFAIL, a reset connection, a 4xx reply.
    Temporary(String),
    /// Trying again will not help: a 5xx reply, a malformed name, a protocol violation.
    Permanent(String),
    /// DNSSEC validation failed (RFC 4035 §5.5): the answer may be forged and must not be used.
    Bogus(String),
}

impl Failure {
    /// What went wrong, in the words of the layer that failed.
    pub fn detail(&self) -> &str {
        match self {
            Failure::Temporary(d) | Failure::Permanent(d) | Failure::Bogus(d) => d,
        }
    }
}

impl From<crate::dns::DnsError> for Failure {
    fn from(e: crate::dns::DnsError) -> Self {
        use crate::dns::DnsError;
        match e {
            DnsError::Temporary(d) => Failure::Temporary(d),
            DnsError::Permanent(d) => Failure::Permanent(d),
            DnsError::Bogus(d) => Failure::Bogus(d),
        }
    }
}

/// Everything observed about one recipient domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainFacts {
    /// The domain, A-label form.
    pub domain: String,
    /// When the observation finished, seconds since the Unix epoch.
    pub checked_at: i64,
    /// The MX lookup's outcome.
    pub mx: MxFacts,
    /// What MTA-STS discovery found (RFC 8461).
    pub mta_sts: crate::mta_sts::StsFacts,
}

impl DomainFacts {
    /// The MX host at `index`, when the lookup found hosts.
    pub fn host(&self, index: usize) -> Option<&HostFacts> {
        match &self.mx {
            MxFacts::Hosts { hosts, .. } => hosts.get(index),
            _ => None,
        }
    }

    /// The position of the MX host named `name` (ASCII case and a trailing dot ignored).
    pub fn host_index(&self, name: &str) -> Option<usize> {
        let name = name.strip_suffix('.').unwrap_or(name);
        match &self.mx {
            MxFacts::Hosts { hosts, .. } => {
                hosts.iter().position(|h| h.host.eq_ignore_ascii_case(name))
            }
            _ => None,
        }
    }

    /// These facts as of `at`, with what address `ip` of host `index` showed replaced by
    /// `outcome` (added when the address was not there): what a delivery (ours or Postfix's)
    /// adds to the probe's view. Also the endpoint's position; `None` (and the facts unchanged
    /// but for the time) when there is no such host.
    pub fn with_endpoint(
        &self,
        index: usize,
        ip: IpAddr,
        outcome: EndpointOutcome,
        at: i64,
    ) -> (DomainFacts, Option<usize>) {
        let mut facts = self.clone();
        facts.checked_at = at;
        let MxFacts::Hosts { hosts, .. } = &mut facts.mx else {
            return (facts, None);
        };
        let Some(h) = hosts.get_mut(index) else {
            return (facts, None);
        };
        let position = match h.endpoints.iter().position(|e| e.ip == ip) {
            Some(p) => {
                h.endpoints[p].outcome = outcome;
                p
            }
            None => {
                h.endpoints.push(EndpointFacts { ip, outcome });
                h.endpoints.len() - 1
            }
        };
        (facts, Some(position))
    }
}

/// The outcome of the MX lookup (RFC 5321 §5.1, RFC 7505).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxFacts {
    /// MX hosts (or the implicit MX), each probed.
    Hosts {
        /// DNSSEC status of the MX RRset (for an implicit MX, the weaker of the MX denial and
        /// the address records).
        dnssec: DnssecStatus,
        /// Whether the domain had no MX and is its own mail host.
        implicit: bool,
        /// The hosts in order of preference.
        hosts: Vec<HostFacts>,
    },
    /// `MX 0 .`: the domain accepts no mail (RFC 7505).
    NullMx,
    /// The domain does not exist.
    NxDomain,
    /// Neither MX nor address records.
    NoMailHost,
    /// The MX lookup failed: for now, for good, or because the answer did not validate
    /// (RFC 4035 §5.5: defer, never guess).
    Failed(Failure),
}

/// What was found for one MX host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    /// Host name, A-label form, no trailing dot.
    pub host: String,
    /// MX preference.
    pub preference: u16,
    /// DNSSEC status of its address records.
    pub address_dnssec: DnssecStatus,
    /// The TLSA lookup's outcome.
    pub tlsa: TlsaFacts,
    /// Why the host's addresses could not be looked up, if they could not (bogus included).
    pub address_error: Option<Failure>,
    /// Why the host was not probed at all (beyond the probe's limit of MX hosts per domain).
    pub not_probed: Option<String>,
    /// One entry per address.
    pub endpoints: Vec<EndpointFacts>,
}

impl HostFacts {
    /// A host that was not probed, with the reason: nothing is known of it.
    pub fn not_probed(host: &str, preference: u16, why: String) -> HostFacts {
        HostFacts {
            host: host.to_string(),
            preference,
            address_dnssec: DnssecStatus::Indeterminate,
            tlsa: TlsaFacts::NotLookedUp,
            address_error: None,
            not_probed: Some(why),
            endpoints: Vec::new(),
        }
    }
}

/// The TLSA lookup for one MX host (RFC 7672 §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsaFacts {
    /// Not looked up, because the host's address records are not DNSSEC-secure (RFC 7672 §2.2.2).
    NotLookedUp,
    /// DNSSEC-secure TLSA records.
    Secure(Vec<TlsaRecord>),
    /// The signed zone proves there are none.
    SecureNone,
    /// The zone is unsigned: records, if any, are ignored.
    Insecure,
    /// The lookup failed or did not validate: delivery must be deferred, never treated as "no
    /// DANE" (RFC 7672 §2.1.1).
    Failed(Failure),
}

impl TlsaFacts {
    /// The usable DANE-TA/DANE-EE records, when the answer is secure.
    pub fn usable(&self) -> Vec<&TlsaRecord> {
        match self {
            TlsaFacts::Secure(records) => {
                records.iter().filter(|r| r.is_usable_for_smtp()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether secure TLSA records exist (usable or not): TLS is then mandatory (RFC 7672 §2.2).
    pub fn makes_tls_mandatory(&self) -> bool {
        matches!(self, TlsaFacts::Secure(r) if !r.is_empty())
    }
}

/// What happened at one address of an MX host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointFacts {
    /// The address.
    pub ip: IpAddr,
    /// What we saw.
    pub outcome: EndpointOutcome,
}

/// The result of connecting to one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointOutcome {
    /// Not contacted: the address is loopback, private or otherwise special-purpose and the
    /// operator has not allowed such targets, or it is beyond the probe's limit of addresses
    /// per host; the text says which.
    Forbidden(String),
    /// Not reached, or the SMTP dialogue failed before STARTTLS: temporary (refused
    /// connection, timeout, 4xx) or permanent (a 5xx greeting or EHLO reply).
    Failed(Failure),
    /// The server answered EHLO.
    Session(SessionFacts),
}

/// The STARTTLS part of an SMTP session (RFC 3207).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFacts {
    /// Whether STARTTLS was offered in the EHLO reply.
    pub starttls_offered: bool,
    /// The server's 5yz reply to EHLO when it then accepted HELO (RFC 5321 §4.1.1.1): no
    /// ESMTP, and so no STARTTLS (RFC 3207 §4). `None` when EHLO was accepted.
    pub ehlo_refused: Option<String>,
    /// The TLS session, when the handshake succeeded.
    pub tls: Option<TlsFacts>,
    /// Why there is no TLS session although STARTTLS was offered.
    pub tls_failure: Option<TlsFailureFacts>,
}

/// A completed TLS handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFacts {
    /// The protocol version.
    pub version: TlsVersion,
    /// OpenSSL-style cipher name.
    pub cipher_openssl: String,
    /// IANA cipher name.
    pub cipher_iana: String,
    /// Symmetric key bits.
    pub bits: u16,
    /// The chain the server sent, described.
    pub certificate: CertificateInfo,
    /// DANE matching of that chain against the host's secure TLSA records.
    pub dane: DaneOutcome,
}

impl TlsFacts {
    /// A session known from a log or a policy request rather than our own handshake: the
    /// version, the OpenSSL cipher name (its IANA name looked up, else kept), the key bits; no
    /// chain, so `certificate` says what is known of it.
    pub fn logged(
        version: TlsVersion,
        cipher_openssl: &str,
        bits: u16,
        certificate: CertificateInfo,
        dane: DaneOutcome,
    ) -> TlsFacts {
        TlsFacts {
            version,
            cipher_openssl: cipher_openssl.to_string(),
            cipher_iana: crate::tls::iana_for_openssl(cipher_openssl)
                .unwrap_or(cipher_openssl)
                .to_string(),
            bits,
            certificate,
            dane,
        }
    }

    /// A TLS 1.3 handshake (AES-128-GCM) whose chain was not described and is not WebPKI-valid,
    /// with the given DANE outcome: facts written by hand, for tests and examples.
    pub fn tls13_example(dane: DaneOutcome) -> TlsFacts {
        TlsFacts {
            version: TlsVersion::Tls13,
            cipher_openssl: "TLS_AES_128_GCM_SHA256".into(),
            cipher_iana: "TLS_AES_128_GCM_SHA256".into(),
            bits: 128,
            certificate: CertificateInfo {
                chain: vec![],
                webpki_valid: false,
                webpki_error: None,
            },
            dane,
        }
    }
}

/// The DANE check of one handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaneOutcome {
    /// No secure TLSA records to check against.
    NotApplicable,
    /// Secure TLSA records exist, but none with usage 2 or 3: TLS mandatory, unauthenticated.
    NoUsableRecords,
    /// A usable record matched the chain.
    Matched,
    /// No usable record matched: delivery must not proceed to this server (RFC 7672 §2.2).
    Mismatch(String),
    /// A DANE-TA record matched and the chain validated to it, but the leaf names neither the
    /// MX host nor this recipient domain (RFC 7672 §3.2.3): delivery for this domain must not
    /// proceed, but the server itself fits its TLSA records (a domain it names may use it).
    NameMismatch(String),
}

/// Why STARTTLS did not lead to a TLS session.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsFailureFacts {
    /// The server only speaks TLS versions we will not use (TLS 1.0/1.1).
    LegacyOnly(String),
    /// The server answered STARTTLS with an error reply.
    Refused(String),
    /// The session went without TLS for a reason the observer does not know (Postfix's log
    /// shows a delivery without a TLS session, whether Postfix's policy or the server chose it;
    /// an inbound client did not use STARTTLS); the text says who saw it.
    NotUsed(String),
    /// The handshake failed for another reason.
    Handshake(String),
    /// The handshake did not finish in time.
    Timeout,
    /// The upgrade broke off in a way that says nothing about the server's TLS (a STARTTLS
    /// reply beyond the protocol or the limits, bytes sent unasked, the connection lost during
    /// the handshake, a chain beyond the limit): not evidence.
    Aborted(String),
}
