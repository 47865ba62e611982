//! The verdict on a recipient domain: its security class (the badge), each MX host's report (the
//! tooltip: TLS version, cipher, bits, DANE per RFC 7672, certificate) and the recipient-security
//! request and answer.

use serde::{Deserialize, Serialize};

use crate::{BlockCause, ServerHistory};

/// How securely a delivery to a recipient would be protected, weakest first.
///
/// The derived order is used to take the weakest class over a domain's MX hosts:
/// `NoSsl < Unknown < SslOk < DaneOk`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityClass {
    /// At least one MX host would receive the message unencrypted (red prohibition sign).
    NoSsl,
    /// Not known: never contacted, probe running, unreachable or DNS failure (grey "SSL?").
    Unknown,
    /// Every MX host completed STARTTLS and a TLS 1.2/1.3 handshake (outlined thumbs-up).
    SslOk,
    /// Every MX host has DNSSEC-secure usable TLSA records that matched (filled thumbs-up).
    DaneOk,
}

/// The DANE (RFC 7672) outcome for one MX host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaneStatus {
    /// Secure, usable TLSA records matched the certificate the server presented.
    Verified,
    /// Secure, usable TLSA records exist but did not match: delivery must not proceed.
    Failed,
    /// The signed zone proves that no TLSA records exist.
    None,
    /// The zone (or the host's address records) is unsigned, so TLSA records are not used.
    Insecure,
    /// DNSSEC validation failed: delivery is deferred, never downgraded.
    Bogus,
    /// The TLSA lookup failed (timeout, SERVFAIL): delivery is deferred until it succeeds.
    LookupFailed,
}

/// The first DNS answer on the way from a recipient domain to one of its MX hosts that is not
/// DNSSEC-secure. TLSA records authenticate the recipient domain only when the whole path is
/// signed (RFC 7672 §2.2.1: with an unsigned MX answer an active attacker chooses the MX host),
/// so a host with such a gap is at most "SSL ok" even when its own TLSA records matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsignedDns {
    /// The domain's MX records are not DNSSEC-secure.
    MxRecords,
    /// The domain has no MX records (implicit MX, RFC 5321 §5.1), and that denial is not
    /// DNSSEC-secure.
    MxDenial,
    /// The MX host's address records are not DNSSEC-secure.
    Addresses,
    /// The MX host's TLSA records are not DNSSEC-secure.
    Tlsa,
}

/// DNSSEC status of a lookup (RFC 4035 §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnssecStatus {
    /// A chain of trust from the trust anchor validated the answer.
    Secure,
    /// The answer provably comes from an unsigned zone.
    Insecure,
    /// Validation failed: the answer must not be used.
    Bogus,
    /// The status could not be determined (e.g. lookup failure).
    Indeterminate,
}

/// One certificate of the chain a server presented.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateDetails {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// DNS names from the subjectAltName extension.
    #[serde(default)]
    pub san: Vec<String>,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub sha256: String,
    /// SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex.
    pub spki_sha256: String,
}

/// What was learnt of the certificate chain of one MX host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// The chain as sent by the server, leaf first.
    pub chain: Vec<CertificateDetails>,
    /// Whether the chain is valid under the WebPKI roots for the MX host name.
    pub webpki_valid: bool,
    /// Why WebPKI validation failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webpki_error: Option<String>,
}

/// Facts about one MX host of a recipient domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxReport {
    /// The MX host name (A-label form, no trailing dot).
    pub host: String,
    /// MX preference (lower is preferred); 0 for an implicit MX.
    pub preference: u16,
    /// The addresses that were probed.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Whether the server offered STARTTLS; `None` when it was not reached.
    pub starttls: Option<bool>,
    /// Negotiated protocol, e.g. `TLSv1.3`.
    pub tls_version: Option<String>,
    /// Cipher suite in OpenSSL naming, e.g. `ECDHE-RSA-AES128-GCM-SHA256`.
    pub cipher: Option<String>,
    /// Cipher suite in IANA naming, e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`.
    #[serde(default)]
    pub cipher_iana: Option<String>,
    /// Symmetric key bits of the cipher, e.g. 128.
    pub bits: Option<u16>,
    /// The DANE outcome.
    pub dane: DaneStatus,
    /// Which DNS answer on the way to this host is not DNSSEC-secure, if one is: then the host
    /// is not "DANE ok" for this domain, whatever its TLSA records say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsigned: Option<UnsignedDns>,
    /// The certificate chain, when a handshake took place.
    pub certificate: Option<CertificateInfo>,
    /// The class of this host alone.
    pub class: SecurityClass,
    /// What went wrong, when something did (unreachable, timeout, handshake failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When this host was last checked, seconds since the Unix epoch.
    #[serde(default)]
    pub checked_at: Option<i64>,
    /// Whether delivery to this host is held for an administrator's review.
    #[serde(default)]
    pub on_hold: bool,
    /// What is remembered of this host, when anything is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<ServerHistory>,
    /// Whether the domain's MTA-STS policy names this host (`None` without a policy in
    /// enforce or testing mode); in enforce mode a host it does not name is never used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mta_sts_match: Option<bool>,
}

impl MxReport {
    /// The tooltip's encryption line in the seed's form, e.g.
    /// `TLSv1.2, ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)`; `None` without TLS details.
    pub fn encryption_line(&self) -> Option<String> {
        let version = self.tls_version.as_deref()?;
        let cipher = self.cipher.as_deref()?;
        Some(match self.bits {
            Some(bits) => format!("{version}, {cipher} ({bits}/{bits} bits)"),
            None => format!("{version}, {cipher}"),
        })
    }
}

/// The verdict for one recipient domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainVerdict {
    /// The domain (A-label form).
    pub domain: String,
    /// The weakest class among the MX hosts a delivery may use.
    pub class: SecurityClass,
    /// Whether a delivery now would be refused or held.
    pub blocked: bool,
    /// Why delivery is blocked (present exactly when `blocked`), for the page to say in the
    /// user's language; `reason` keeps the technical detail. Absent in verdicts stored before
    /// it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<BlockCause>,
    /// Why the domain has this class or is blocked, in plain English.
    pub reason: String,
    /// DNSSEC status of the MX answer.
    #[serde(default = "indeterminate")]
    pub dnssec: DnssecStatus,
    /// Every MX host, in order of preference.
    #[serde(default)]
    pub mx: Vec<MxReport>,
    /// When the verdict was formed, seconds since the Unix epoch.
    #[serde(default)]
    pub checked_at: Option<i64>,
    /// The domain's MTA-STS policy (RFC 8461), when it has one or finding it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mta_sts: Option<MtaStsView>,
}

/// An MTA-STS policy's mode (RFC 8461 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StsMode {
    /// Delivery only to the MX hosts it names, over TLS with a WebPKI-valid certificate.
    Enforce,
    /// Reported, not enforced.
    Testing,
    /// No active policy.
    None,
}

/// What is known of a domain's MTA-STS policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaStsView {
    /// The policy's mode; `None` when no policy applies (then `problem` says why).
    pub mode: Option<StsMode>,
    /// Its MX patterns, e.g. `*.example.net`.
    #[serde(default)]
    pub mx: Vec<String>,
    /// Until when it is cached, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_until: Option<i64>,
    /// What failed finding it (the cached policy then applies, if there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The `_mta-sts` record vanished while the policy was cached: a possible downgrade.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub downgrade: bool,
}

fn indeterminate() -> DnssecStatus {
    DnssecStatus::Indeterminate
}

/// Request body of [`paths::RECIPIENT_SECURITY`](crate::paths::RECIPIENT_SECURITY).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientSecurityRequest {
    /// The recipient addresses as typed (bare `local@domain`).
    pub addresses: Vec<String>,
}

/// The state of one recipient's verdict.
///
/// Externally tagged on the wire (`{"final": {...}}`): an internally tagged enum makes serde
/// buffer every value first, which cost the browser bundle a second deserializer of each type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientSecurity {
    /// The verdict is known.
    Final {
        /// The address as requested.
        address: String,
        /// The verdict of its domain.
        verdict: DomainVerdict,
        /// The verdict was older than the server's maximum age and a probe is checking the
        /// domain again; its verdict arrives on [`paths::RECIPIENT_EVENTS`](crate::paths::RECIPIENT_EVENTS) (with a later
        /// `checked_at`), and may differ, e.g. when the server fell below its level.
        #[serde(default)]
        rechecking: bool,
    },
    /// A probe of the domain is running; its verdict arrives on [`paths::RECIPIENT_EVENTS`](crate::paths::RECIPIENT_EVENTS).
    Pending {
        /// The address as requested.
        address: String,
        /// The domain being probed (A-label form).
        domain: String,
    },
    /// The address is malformed.
    Invalid {
        /// The address as requested.
        address: String,
        /// What is wrong with it.
        error: String,
    },
}

/// Answer of [`paths::RECIPIENT_SECURITY`](crate::paths::RECIPIENT_SECURITY): one entry per requested address, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientSecurityResponse {
    /// The results.
    pub results: Vec<RecipientSecurity>,
}
