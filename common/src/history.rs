//! What is remembered of a recipient's mail servers, as the API shows it: observations (what a
//! probe or a delivery saw of one TLS session, RFC 3207/RFC 8446), why a recipient is blocked, and
//! holds after a server fell below its known level.

use serde::{Deserialize, Serialize};

use crate::{DaneStatus, DnssecStatus, SecurityClass};

/// Where an observation came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationSource {
    /// A probe (compose page, CLI, background refresh).
    Probe,
    /// A real delivery.
    Delivery,
    /// A delivery the operator's Postfix made, read from its log.
    Postfix,
    /// A server that delivered mail to us, as the inbound policy service saw its connection.
    Inbound,
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
    /// Sendguard's resolver self-test fails: DNSSEC validation cannot be shown to work, so no
    /// DNS answer is relied on and delivery waits (RFC 4035 §5; not a fact about the domain).
    ResolverNotValidating,
    /// The domain's MTA-STS policy (enforce) names none of its MX hosts: no delivery
    /// (RFC 8461 §5).
    MtaStsNoMatchingMx,
    /// An MX host the MTA-STS policy (enforce) names lacks a certificate valid for its name or
    /// TLS 1.2+ (RFC 8461 §4.2, §5).
    MtaStsFailed,
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
