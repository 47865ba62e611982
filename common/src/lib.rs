//! Wire types shared by the Sendguard browser app and server.
//!
//! Everything that crosses HTTP between the compose page and the backend is defined here once,
//! with serde only, so that the crate builds for `wasm32-unknown-unknown` as well as natively and
//! the two sides cannot drift apart. Enums travel in `snake_case`. The meaning of each security
//! class follows the project's protocol notes: a badge predicts the security of the delivery that
//! *our* server would perform now (RFC 7672 for DANE, RFC 3207 for STARTTLS).
//!
//! [`address`] is the one parser of mail addresses, domains and host names that both sides use.

pub mod address;

use serde::{Deserialize, Serialize};

/// URL paths of the HTTP API, shared so that client and server agree on them.
pub mod paths {
    /// `GET`: liveness and version of the server.
    pub const HEALTH: &str = "/api/health";
    /// `POST`: the security verdict of each of a list of recipient addresses.
    pub const RECIPIENT_SECURITY: &str = "/api/recipients/security";
    /// `GET` (server-sent events): verdicts of pending domains as their probes finish.
    pub const RECIPIENT_EVENTS: &str = "/api/recipients/events";
    /// `GET`: the signed-in user's name and sender addresses ([`super::Account`]).
    pub const ACCOUNT: &str = "/api/account";
    /// `GET`/`PUT`: the user's "Verschlüsselter Versand" settings ([`super::SecureSendingSettings`]).
    pub const SETTINGS: &str = "/api/settings";
    /// `GET`/`PUT`/`DELETE`: the user's saved draft ([`super::Draft`]). `GET` answers `null`
    /// when there is none; `PUT` answers the stored draft; `DELETE` answers 204.
    pub const DRAFT: &str = "/api/draft";
    /// `POST`: queue a message ([`super::SendRequest`]), answered with [`super::MessageView`]
    /// once it is stored durably. `GET`: the user's messages ([`super::MessageList`]).
    pub const MESSAGES: &str = "/api/messages";
    /// `GET /api/messages/{id}`: one message with its recipients ([`super::MessageView`]).
    pub const MESSAGE: &str = "/api/messages/{id}";
    /// `GET`: servers on hold with their evidence ([`super::HoldView`] list). Admin only.
    pub const ADMIN_HOLDS: &str = "/api/admin/holds";
    /// `POST /api/admin/holds/{host}/release`: accept the new level as the floor. Admin only.
    pub const ADMIN_RELEASE: &str = "/api/admin/holds/{host}/release";
    /// `POST /api/admin/holds/{host}/keep`: keep delivery to the server stopped. Admin only.
    pub const ADMIN_KEEP: &str = "/api/admin/holds/{host}/keep";
    /// `GET /api/admin/servers/{host}/observations`: a server's history. Admin only.
    pub const ADMIN_OBSERVATIONS: &str = "/api/admin/servers/{host}/observations";
    /// Header that carries the administrator token (`Authorization: Bearer <token>` also works).
    pub const ADMIN_TOKEN_HEADER: &str = "x-sendguard-admin-token";

    /// [`MESSAGE`] for the message `id`.
    pub fn message(id: i64) -> String {
        MESSAGE.replace("{id}", &id.to_string())
    }

    /// A path template with its `{host}` filled in.
    pub fn with_host(template: &str, host: &str) -> String {
        template.replace("{host}", host)
    }
}

/// A sender address the user may choose in the From selector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderAddress {
    /// The address, e.g. `maxima@mailbox.example` or `maxima@secure.mailbox.example`.
    pub address: String,
    /// Whether it is a secure alias: mail from it goes out only over TLS at the user's minimum.
    pub secure: bool,
}

/// Answer of [`paths::ACCOUNT`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Display name, e.g. "Maxima Mustermann".
    pub name: String,
    /// The user's addresses, followed by their secure aliases when secure sending is on.
    pub addresses: Vec<SenderAddress>,
}

/// The three choices of the setting "Verschlüsselter Versand".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecureMode {
    /// Ausschalten: no secure aliases.
    #[default]
    Off,
    /// Einschalten: secure aliases with the default requirements.
    On,
    /// Einschalten mit Profi-Einstellungen: secure aliases with the chosen requirements.
    Expert,
}

/// How a connection must be authenticated at least.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum MinAuthentication {
    /// Any TLS, with any certificate.
    #[default]
    AnyTls,
    /// Authenticated TLS: DANE, or a certificate valid under the WebPKI for the server's name.
    Authenticated,
}

/// The lowest TLS version accepted.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum MinTlsVersion {
    /// TLS 1.2 (older versions never count as encryption).
    #[default]
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// A minimum transport requirement, for sending or for receiving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransportRequirement {
    /// Minimum authentication.
    pub authentication: MinAuthentication,
    /// Minimum TLS version.
    pub tls_version: MinTlsVersion,
}

/// Body of [`paths::SETTINGS`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecureSendingSettings {
    /// Off, on, or on with expert settings.
    pub mode: SecureMode,
    /// Minimum for mail sent from a secure alias (expert mode; defaults otherwise).
    pub sending: TransportRequirement,
    /// Minimum for mail received at a secure alias (expert mode; defaults otherwise).
    pub receiving: TransportRequirement,
}

/// A message being written, saved with "Speichern" so that it is there again after a reload.
///
/// Recipients are kept as the user entered them, one entry per chip, invalid ones included, so
/// that saving loses nothing; the page parses them again when it restores the draft.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The chosen sender address, if one was chosen.
    #[serde(default)]
    pub from: Option<String>,
    /// To, as typed (e.g. `Name <a@b.example>` or an invalid entry).
    #[serde(default)]
    pub to: Vec<String>,
    /// CC, as typed.
    #[serde(default)]
    pub cc: Vec<String>,
    /// BCC, as typed.
    #[serde(default)]
    pub bcc: Vec<String>,
    /// The subject.
    #[serde(default)]
    pub subject: String,
    /// The message text.
    #[serde(default)]
    pub body: String,
    /// When the server stored it, seconds since the Unix epoch (ignored when sent by the page).
    #[serde(default)]
    pub saved_at: i64,
}

/// Where an observation came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationSource {
    /// A probe (compose page, CLI, background refresh).
    Probe,
    /// A real delivery.
    Delivery,
}

/// One stored observation of a server, as the admin view shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationView {
    /// When, seconds since the Unix epoch.
    pub at: i64,
    /// The recipient domain that led to it.
    pub domain: String,
    /// The MX host.
    pub host: String,
    /// The address contacted.
    pub ip: String,
    /// Whether STARTTLS was offered.
    pub starttls: Option<bool>,
    /// Negotiated TLS version.
    pub tls_version: Option<String>,
    /// Cipher (OpenSSL name).
    pub cipher: Option<String>,
    /// SHA-256 of the leaf certificate.
    pub cert_sha256: Option<String>,
    /// DANE outcome.
    pub dane: DaneStatus,
    /// DNSSEC status of the MX host's records.
    pub dnssec: DnssecStatus,
    /// The level this observation shows.
    pub class: SecurityClass,
    /// Probe or delivery.
    pub source: ObservationSource,
    /// What happened, in words.
    pub reason: String,
}

/// Why delivery to a domain is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockCause {
    /// A mail server fell below its known level and is held until an administrator decides.
    OnHold,
    /// A certificate does not match the DNSSEC-signed TLSA records (RFC 7672 §2.2).
    DaneMismatch,
    /// DNSSEC-signed TLSA records demand TLS, and the server offers none (RFC 7672 §2.2).
    DaneWithoutTls,
    /// DNSSEC validation failed: the answers may be forged (RFC 4035 §5.5).
    DnssecBogus,
    /// The TLSA records of a mail server could not be looked up right now; delivery waits
    /// until they can, since they may demand TLS (RFC 7672 §2.1.1). Not a forgery.
    TlsaLookupFailed,
    /// The domain says it accepts no mail (null MX, RFC 7505).
    NullMx,
    /// The domain does not exist.
    NoSuchDomain,
    /// The domain has neither MX nor address records.
    NoMailServer,
    /// Sendguard cannot consult its history of the domain's servers right now.
    HistoryUnavailable,
}

/// The state of a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    /// Delivery to the server is stopped until an administrator decides.
    Held,
    /// An administrator accepted the new level as the floor.
    Released,
    /// An administrator decided to keep delivery stopped.
    Kept,
}

/// `as_str` and `parse` for a wire enum: the same `snake_case` names serde uses (a test checks
/// that they agree), for storage columns and `data-` attributes without a JSON round trip.
macro_rules! wire_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// The value of a wire name.
            pub fn parse(name: &str) -> Option<$ty> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

mod messages;
pub use messages::{
    DeliveryView, MessageList, MessageView, RecipientKind, RecipientState, RecipientView,
    SendRequest,
};

wire_names!(RecipientKind { To => "to", Cc => "cc", Bcc => "bcc" });
wire_names!(RecipientState {
    Queued => "queued",
    Sending => "sending",
    Sent => "sent",
    Deferred => "deferred",
    Held => "held",
    Failed => "failed",
});
wire_names!(HoldStatus { Held => "held", Released => "released", Kept => "kept" });
wire_names!(ObservationSource { Probe => "probe", Delivery => "delivery" });
wire_names!(SecurityClass { NoSsl => "no_ssl", Unknown => "unknown", SslOk => "ssl_ok", DaneOk => "dane_ok" });
wire_names!(DaneStatus {
    Verified => "verified",
    Failed => "failed",
    None => "none",
    Insecure => "insecure",
    Bogus => "bogus",
    LookupFailed => "lookup_failed",
});
wire_names!(DnssecStatus {
    Secure => "secure",
    Insecure => "insecure",
    Bogus => "bogus",
    Indeterminate => "indeterminate",
});
wire_names!(UnsignedDns {
    MxRecords => "mx_records",
    MxDenial => "mx_denial",
    Addresses => "addresses",
    Tlsa => "tlsa",
});
wire_names!(BlockCause {
    OnHold => "on_hold",
    DaneMismatch => "dane_mismatch",
    DaneWithoutTls => "dane_without_tls",
    DnssecBogus => "dnssec_bogus",
    TlsaLookupFailed => "tlsa_lookup_failed",
    NullMx => "null_mx",
    NoSuchDomain => "no_such_domain",
    NoMailServer => "no_mail_server",
    HistoryUnavailable => "history_unavailable",
});

/// A server on hold after it fell below its known level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldView {
    /// The MX host.
    pub host: String,
    /// Since when, seconds since the Unix epoch.
    pub since: i64,
    /// Its state.
    pub status: HoldStatus,
    /// The level the server had reached (the floor).
    pub floor: SecurityClass,
    /// The last observation at or above the floor.
    pub before: Option<ObservationView>,
    /// The observation that fell short.
    pub after: ObservationView,
    /// Why it is a downgrade, in words.
    pub reason: String,
    /// Who decided, when someone did.
    pub decided_by: Option<String>,
    /// When the decision was made.
    pub decided_at: Option<i64>,
}

/// What Sendguard remembers of one MX host, carried by verdicts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerHistory {
    /// First observation, seconds since the Unix epoch.
    pub first_seen: i64,
    /// Latest observation.
    pub last_seen: i64,
    /// Best level ever seen.
    pub best: SecurityClass,
    /// The enforced floor: deliveries must reach at least this level.
    pub floor: SecurityClass,
    /// Since when the server is on hold, if it is.
    pub on_hold_since: Option<i64>,
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
        /// domain again; its verdict arrives on [`paths::RECIPIENT_EVENTS`] (with a later
        /// `checked_at`), and may differ, e.g. when the server fell below its level.
        #[serde(default)]
        rechecking: bool,
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
            unsigned: None,
            certificate: None,
            class: SecurityClass::SslOk,
            error: None,
            checked_at: None,
            on_hold: false,
            history: None,
        };
        assert_eq!(
            mx.encryption_line().as_deref(),
            Some("TLSv1.2, ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)")
        );
    }

    #[test]
    fn settings_default_to_off_with_tls_1_2_any_certificate() {
        let s = SecureSendingSettings::default();
        assert_eq!(s.mode, SecureMode::Off);
        let json = serde_json::to_value(s).unwrap();
        assert_eq!(json["mode"], "off");
        assert_eq!(json["sending"]["authentication"], "any_tls");
        assert_eq!(json["receiving"]["tls_version"], "tls12");
        assert_eq!(
            paths::with_host(paths::ADMIN_RELEASE, "mx.example"),
            "/api/admin/holds/mx.example/release"
        );
    }

    #[test]
    fn a_draft_may_omit_what_the_user_left_empty() {
        let draft: Draft = serde_json::from_str(r#"{"to":["a@b.example","kaputt"]}"#).unwrap();
        assert_eq!(draft.to, ["a@b.example", "kaputt"]);
        assert_eq!(draft.from, None);
        assert_eq!(draft.saved_at, 0);
        assert_eq!(paths::DRAFT, "/api/draft");
    }

    #[test]
    fn recipient_results_are_tagged_by_their_state() {
        let r = RecipientSecurity::Pending {
            address: "a@b.example".into(),
            domain: "b.example".into(),
        };
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["pending"]["domain"], "b.example");
        assert_eq!(
            serde_json::from_value::<RecipientSecurity>(json).unwrap(),
            r
        );
    }

    fn names_match_serde<T: Copy + Serialize + PartialEq + std::fmt::Debug>(
        all: &[T],
        as_str: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for &v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), as_str(v));
            assert_eq!(parse(as_str(v)), Some(v));
        }
        assert_eq!(parse("no such name"), None);
    }

    #[test]
    fn wire_names_match_serde() {
        names_match_serde(HoldStatus::ALL, HoldStatus::as_str, HoldStatus::parse);
        names_match_serde(
            ObservationSource::ALL,
            ObservationSource::as_str,
            ObservationSource::parse,
        );
        names_match_serde(
            SecurityClass::ALL,
            SecurityClass::as_str,
            SecurityClass::parse,
        );
        names_match_serde(DaneStatus::ALL, DaneStatus::as_str, DaneStatus::parse);
        names_match_serde(DnssecStatus::ALL, DnssecStatus::as_str, DnssecStatus::parse);
        names_match_serde(BlockCause::ALL, BlockCause::as_str, BlockCause::parse);
        names_match_serde(UnsignedDns::ALL, UnsignedDns::as_str, UnsignedDns::parse);
        names_match_serde(
            RecipientKind::ALL,
            RecipientKind::as_str,
            RecipientKind::parse,
        );
        names_match_serde(
            RecipientState::ALL,
            RecipientState::as_str,
            RecipientState::parse,
        );
    }
}
