//! Wire types shared by the Sendguard browser app and server.
//!
//! Everything that crosses HTTP between the compose page and the backend is defined here once,
//! with serde only, so that the crate builds for `wasm32-unknown-unknown` as well as natively and
//! the two sides cannot drift apart. Enums travel in `snake_case`. The meaning of each security
//! class follows the project's protocol notes: a badge predicts the security of the delivery that
//! *our* server would perform now (RFC 7672 for DANE, RFC 3207 for STARTTLS).

use serde::{Deserialize, Serialize};

/// URL paths of the HTTP API, shared so that client and server agree on them.
pub mod paths {
    /// `GET`: liveness and version of the server.
    pub const HEALTH: &str = "/api/health";
    /// `POST`: the security verdict of each of a list of recipient addresses.
    pub const RECIPIENT_SECURITY: &str = "/api/recipients/security";
    /// `GET` (server-sent events): verdicts of pending domains as their probes finish.
    pub const RECIPIENT_EVENTS: &str = "/api/recipients/events";
}

/// Answer of [`paths::HEALTH`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` when the server answers at all.
    pub status: String,
    /// The server's version (its Cargo package version).
    pub version: String,
    /// `true` when the server runs against the simulated internet (`sendguard demo`).
    #[serde(default)]
    pub demo: bool,
    /// Domains of the simulated internet, for the demo's help text; empty otherwise.
    #[serde(default)]
    pub demo_domains: Vec<DemoDomain>,
}

/// One domain of the simulated internet, with a short description of how it behaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoDomain {
    /// The domain name, e.g. `dane-ee.test`.
    pub domain: String,
    /// What its mail servers do, e.g. "DANE-EE TLSA record, signed zone".
    pub description: String,
}

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
    /// DNSSEC validation failed or the lookup failed: delivery is deferred, never downgraded.
    Bogus,
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
}

fn indeterminate() -> DnssecStatus {
    DnssecStatus::Indeterminate
}

/// Request body of [`paths::RECIPIENT_SECURITY`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientSecurityRequest {
    /// The recipient addresses as typed (bare `local@domain`).
    pub addresses: Vec<String>,
}

/// The state of one recipient's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RecipientSecurity {
    /// The verdict is known.
    Final {
        /// The address as requested.
        address: String,
        /// The verdict of its domain.
        verdict: DomainVerdict,
    },
    /// A probe of the domain is running; its verdict arrives on [`paths::RECIPIENT_EVENTS`].
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

/// Answer of [`paths::RECIPIENT_SECURITY`]: one entry per requested address, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientSecurityResponse {
    /// The results.
    pub results: Vec<RecipientSecurity>,
}

/// The JSON body of every error answer of the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// A short message for the user.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weakest_class_is_the_minimum() {
        let classes = [
            SecurityClass::DaneOk,
            SecurityClass::SslOk,
            SecurityClass::Unknown,
        ];
        assert_eq!(classes.iter().min(), Some(&SecurityClass::Unknown));
        assert!(SecurityClass::NoSsl < SecurityClass::Unknown);
    }

    #[test]
    fn classes_travel_in_snake_case() {
        let json = serde_json::to_string(&SecurityClass::DaneOk).unwrap();
        assert_eq!(json, "\"dane_ok\"");
        let back: SecurityClass = serde_json::from_str("\"no_ssl\"").unwrap();
        assert_eq!(back, SecurityClass::NoSsl);
    }

    #[test]
    fn encryption_line_has_the_seed_form() {
        let mx = MxReport {
            host: "mx.example".into(),
            preference: 10,
            addresses: vec![],
            starttls: Some(true),
            tls_version: Some("TLSv1.2".into()),
            cipher: Some("ECDHE-RSA-AES128-GCM-SHA256".into()),
            cipher_iana: None,
            bits: Some(128),
            dane: DaneStatus::None,
            certificate: None,
            class: SecurityClass::SslOk,
            error: None,
            checked_at: None,
            on_hold: false,
        };
        assert_eq!(
            mx.encryption_line().as_deref(),
            Some("TLSv1.2, ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)")
        );
    }

    #[test]
    fn recipient_results_are_tagged_by_status() {
        let r = RecipientSecurity::Pending {
            address: "a@b.example".into(),
            domain: "b.example".into(),
        };
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["status"], "pending");
        assert_eq!(json["domain"], "b.example");
    }
}
