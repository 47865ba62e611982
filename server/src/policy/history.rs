//! Remember-TLS: pure functions from what was just observed plus what is remembered to the new
//! memory, the holds to raise, the verdict with its history, and the enforcement for delivery.
//!
//! Not standardised; the model is mailbox.org's: once our servers reached a server over TLS,
//! TLS is enforced from then on, and a server that falls below its known level is held until an
//! administrator has looked at it. The rules, each with its reason:
//!
//! - **Levels.** Each observation of one address of an MX host shows a [`Level`]: no TLS, TLS
//!   1.2+ with any certificate, or DANE verified (RFC 7672). A host's level in one probe is the
//!   weakest over the addresses that answered, because a delivery may use any of them.
//! - **Unknown is not evidence.** Unreachable addresses, timeouts (TCP or handshake), forbidden
//!   targets, failed address lookups and bogus DNSSEC show no level. They never lower and never
//!   raise anything. Bogus DNSSEC (RFC 4035 §5.5) already stops delivery by itself (RFC 7672
//!   §2.1.1: defer, never downgrade), and as soon as validation works again the next observation
//!   is judged against the floor as usual, so a hold would add nothing but an administrator's
//!   chore for every expired signature; the verdict still says blocked and names it.
//! - **The floor rises, never falls by itself.** The first known level sets a host's floor; a
//!   better one raises it; no single observation lowers it ([`transition`]).
//! - **A downgrade is an observation below the floor.** The host goes on hold; every verdict
//!   that depends on it says blocked, naming the downgrade; delivery to it stops. Kinds: STARTTLS
//!   no longer offered, refused, the handshake now failing or falling to TLS < 1.2 (DANE or TLS
//!   to no TLS); TLSA records vanishing from a signed zone, no longer matching, or the zone
//!   turning DNSSEC-insecure (DANE to TLS). A mismatch is also refused by RFC 7672 §2.2 itself.
//! - **Only an administrator lowers a floor**: releasing a hold accepts the level that fell
//!   short as the new floor ([`released_floor`]); keeping it leaves delivery stopped.
//! - **The MX set is tracked per domain too.** A domain's floor is the best *weakest level over
//!   its MX set* ever seen complete (every host known). If the MX records change to hosts that
//!   are new or weaker, the per-host floors say nothing (a new host has no history), so a host
//!   whose level is below its domain's floor is held *for that domain*: such a hold blocks the
//!   verdicts of that domain only, because other domains that use the same host never relied on
//!   more. Releasing it lowers the domain's floor.
//! - **Enforcement precedence** for delivery: DANE > MTA-STS enforce > remembered level >
//!   opportunistic ([`enforcement`]), in Postfix's terms dane-only, verify, encrypt, may.

use std::collections::{BTreeMap, BTreeSet};

use sendguard_common::{
    BlockCause, DaneStatus, DnssecStatus, DomainVerdict, ObservationSource, ObservationView,
    SecurityClass, ServerHistory,
};

use crate::probe::facts::{
    DaneOutcome, DomainFacts, EndpointOutcome, HostFacts, MxFacts, TlsFailureFacts, TlsaFacts,
};

/// The transport security a delivery to a server reached, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The server answered but mail would travel unencrypted.
    Plain,
    /// STARTTLS with TLS 1.2 or 1.3, any certificate.
    Tls,
    /// TLS authenticated by DNSSEC-signed TLSA records that matched (RFC 7672).
    Dane,
}

impl Level {
    /// The stored integer (0, 1, 2).
    pub fn as_i64(self) -> i64 {
        match self {
            Level::Plain => 0,
            Level::Tls => 1,
            Level::Dane => 2,
        }
    }

    /// The level of a stored integer.
    pub fn from_i64(n: i64) -> Option<Level> {
        match n {
            0 => Some(Level::Plain),
            1 => Some(Level::Tls),
            2 => Some(Level::Dane),
            _ => None,
        }
    }

    /// The badge class this level shows.
    pub fn class(self) -> SecurityClass {
        match self {
            Level::Plain => SecurityClass::NoSsl,
            Level::Tls => SecurityClass::SslOk,
            Level::Dane => SecurityClass::DaneOk,
        }
    }

    /// Words for reasons and the CLI.
    pub fn label(self) -> &'static str {
        match self {
            Level::Plain => "no TLS",
            Level::Tls => "TLS",
            Level::Dane => "DANE",
        }
    }
}

/// The class of an optional level: unknown when there is none.
pub fn class_of(level: Option<Level>) -> SecurityClass {
    level.map_or(SecurityClass::Unknown, Level::class)
}

/// What happened at one address, in one word (stored as [`Outcome::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// TLS, and secure usable TLSA records matched the chain.
    DaneVerified,
    /// TLS, but secure usable TLSA records did not match (RFC 7672 §2.2: refuse).
    DaneMismatch,
    /// TLS 1.2+ without DANE.
    Tls,
    /// STARTTLS not offered.
    NoStarttls,
    /// STARTTLS answered with an error reply.
    StarttlsRefused,
    /// Only TLS older than 1.2.
    LegacyTls,
    /// The handshake failed.
    HandshakeFailed,
    /// The handshake timed out (not evidence).
    HandshakeTimeout,
    /// Not reached, or the dialogue failed before STARTTLS (not evidence).
    Unreachable,
    /// A special-purpose address we may not contact (not evidence).
    NotProbed,
    /// DNSSEC validation failed for the host's records (not evidence; delivery deferred).
    DnssecBogus,
    /// The host's addresses could not be looked up (not evidence).
    AddressLookupFailed,
}

impl Outcome {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::DaneVerified => "dane_verified",
            Outcome::DaneMismatch => "dane_mismatch",
            Outcome::Tls => "tls",
            Outcome::NoStarttls => "no_starttls",
            Outcome::StarttlsRefused => "starttls_refused",
            Outcome::LegacyTls => "legacy_tls",
            Outcome::HandshakeFailed => "handshake_failed",
            Outcome::HandshakeTimeout => "handshake_timeout",
            Outcome::Unreachable => "unreachable",
            Outcome::NotProbed => "not_probed",
            Outcome::DnssecBogus => "dnssec_bogus",
            Outcome::AddressLookupFailed => "address_lookup_failed",
        }
    }
}

/// What one address of one MX host showed in one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointObservation {
    /// The MX host.
    pub host: String,
    /// The address, empty when none could be contacted.
    pub ip: String,
    /// Whether STARTTLS was offered; `None` without an SMTP session.
    pub starttls: Option<bool>,
    /// Negotiated TLS version.
    pub tls_version: Option<String>,
    /// Cipher, OpenSSL naming.
    pub cipher: Option<String>,
    /// SHA-256 of the leaf certificate.
    pub cert_sha256: Option<String>,
    /// SHA-256 of the leaf's SubjectPublicKeyInfo.
    pub spki_sha256: Option<String>,
    /// DANE outcome.
    pub dane: DaneStatus,
    /// DNSSEC status of the host's address records.
    pub dnssec: DnssecStatus,
    /// The level shown; `None` when nothing was learnt.
    pub level: Option<Level>,
    /// What happened.
    pub outcome: Outcome,
    /// What happened, in words.
    pub reason: String,
}

impl EndpointObservation {
    /// The view the admin pages show.
    pub fn view(&self, at: i64, domain: &str, source: ObservationSource) -> ObservationView {
        ObservationView {
            at,
            domain: domain.to_string(),
            host: self.host.clone(),
            ip: self.ip.clone(),
            starttls: self.starttls,
            tls_version: self.tls_version.clone(),
            cipher: self.cipher.clone(),
            cert_sha256: self.cert_sha256.clone(),
            dane: self.dane,
            dnssec: self.dnssec,
            class: class_of(self.level),
            source,
            reason: self.reason.clone(),
        }
    }
}

/// Everything one probe showed of one MX host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostObservation {
    /// The MX host.
    pub host: String,
    /// One entry per address (at least one, possibly without an address).
    pub endpoints: Vec<EndpointObservation>,
}

impl HostObservation {
    /// The host's level: the weakest over the addresses that showed one.
    pub fn level(&self) -> Option<Level> {
        self.endpoints.iter().filter_map(|e| e.level).min()
    }

    /// Index of the endpoint that shows the host's level (the evidence of a downgrade).
    pub fn weakest(&self) -> usize {
        let level = self.level();
        self.endpoints
            .iter()
            .position(|e| e.level == level)
            .unwrap_or(0)
    }
}

/// The observations in a domain's facts, one per MX host (none for null MX, NXDOMAIN, …).
pub fn observe(facts: &DomainFacts) -> Vec<HostObservation> {
    match &facts.mx {
        MxFacts::Hosts { hosts, .. } => hosts.iter().map(observe_host).collect(),
        _ => Vec::new(),
    }
}

fn observe_host(host: &HostFacts) -> HostObservation {
    let dane = dane_of(&host.tlsa);
    let blank = |outcome: Outcome, reason: String, dane: DaneStatus| EndpointObservation {
        host: host.host.clone(),
        ip: String::new(),
        starttls: None,
        tls_version: None,
        cipher: None,
        cert_sha256: None,
        spki_sha256: None,
        dane,
        dnssec: host.address_dnssec,
        level: None,
        outcome,
        reason,
    };
    if let TlsaFacts::Bogus(detail) = &host.tlsa {
        return HostObservation {
            host: host.host.clone(),
            endpoints: vec![blank(
                Outcome::DnssecBogus,
                format!("DNSSEC validation failed ({detail})"),
                DaneStatus::Bogus,
            )],
        };
    }
    if let Some(e) = &host.address_error {
        return HostObservation {
            host: host.host.clone(),
            endpoints: vec![blank(
                Outcome::AddressLookupFailed,
                format!("address lookup failed ({e})"),
                dane,
            )],
        };
    }
    let mandatory = host.tlsa.makes_tls_mandatory();
    let usable = !host.tlsa.usable().is_empty();
    let mut endpoints = Vec::new();
    for ep in &host.endpoints {
        let mut o = blank(Outcome::Unreachable, String::new(), dane);
        o.ip = ep.ip.to_string();
        match &ep.outcome {
            EndpointOutcome::Forbidden(why) => {
                o.outcome = Outcome::NotProbed;
                o.reason = why.clone();
            }
            EndpointOutcome::Failed { detail, .. } => {
                o.reason = format!("not reached ({detail})");
            }
            EndpointOutcome::Session(s) => {
                o.starttls = Some(s.starttls_offered);
                match (&s.tls, &s.tls_failure) {
                    (Some(tls), _) => {
                        o.tls_version = Some(tls.version.clone());
                        o.cipher = Some(tls.cipher_openssl.clone());
                        if let Some(leaf) = tls.certificate.chain.first() {
                            o.cert_sha256 = Some(leaf.sha256.clone());
                            o.spki_sha256 = Some(leaf.spki_sha256.clone());
                        }
                        let tls_words = format!("{} {}", tls.version, tls.cipher_openssl);
                        match &tls.dane {
                            DaneOutcome::Matched => {
                                o.level = Some(Level::Dane);
                                o.outcome = Outcome::DaneVerified;
                                o.dane = DaneStatus::Verified;
                                o.reason = format!("DANE verified, {tls_words}");
                            }
                            DaneOutcome::Mismatch(why) => {
                                o.level = Some(Level::Tls);
                                o.outcome = Outcome::DaneMismatch;
                                o.dane = DaneStatus::Failed;
                                o.reason = format!(
                                    "{tls_words}, but the certificate does not match the TLSA records ({why})"
                                );
                            }
                            DaneOutcome::NoUsableRecords | DaneOutcome::NotApplicable => {
                                o.level = Some(Level::Tls);
                                o.outcome = Outcome::Tls;
                                o.reason = tls_words;
                                if usable {
                                    o.dane = DaneStatus::Failed;
                                }
                            }
                        }
                    }
                    (None, Some(TlsFailureFacts::Timeout)) => {
                        o.outcome = Outcome::HandshakeTimeout;
                        o.reason = "the TLS handshake timed out".into();
                    }
                    (None, failure) => {
                        o.level = Some(Level::Plain);
                        let (outcome, reason) = match failure {
                            Some(TlsFailureFacts::LegacyOnly(d)) => {
                                (Outcome::LegacyTls, format!("only TLS older than 1.2 ({d})"))
                            }
                            Some(TlsFailureFacts::Refused(d)) => {
                                (Outcome::StarttlsRefused, format!("STARTTLS refused ({d})"))
                            }
                            Some(TlsFailureFacts::Handshake(d)) => (
                                Outcome::HandshakeFailed,
                                format!("the TLS handshake failed ({d})"),
                            ),
                            _ if !s.starttls_offered => {
                                (Outcome::NoStarttls, "STARTTLS not offered".to_string())
                            }
                            _ => (
                                Outcome::HandshakeFailed,
                                "STARTTLS was not completed".to_string(),
                            ),
                        };
                        o.outcome = outcome;
                        o.reason = reason;
                        if mandatory && usable {
                            o.dane = DaneStatus::Failed;
                        }
                    }
                }
            }
        }
        endpoints.push(o);
    }
    if endpoints.is_empty() {
        endpoints.push(blank(Outcome::Unreachable, "no address".into(), dane));
    }
    HostObservation {
        host: host.host.clone(),
        endpoints,
    }
}

fn dane_of(tlsa: &TlsaFacts) -> DaneStatus {
    match tlsa {
        TlsaFacts::Bogus(_) => DaneStatus::Bogus,
        TlsaFacts::NotLookedUp | TlsaFacts::Insecure => DaneStatus::Insecure,
        TlsaFacts::SecureNone => DaneStatus::None,
        TlsaFacts::Secure(_) if tlsa.usable().is_empty() => DaneStatus::None,
        // Refined per endpoint once the handshake is known.
        TlsaFacts::Secure(_) => DaneStatus::Failed,
    }
}

/// What is remembered of one MX host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostState {
    /// First observation, seconds since the Unix epoch.
    pub first_seen: i64,
    /// Latest observation.
    pub last_seen: i64,
    /// Best level ever seen.
    pub best: Option<Level>,
    /// The enforced floor.
    pub floor: Option<Level>,
}

/// An open hold (held or kept): which server, for which domain (`None`: every domain).
pub type HoldKey = (String, Option<String>);

/// What is remembered before a probe of one domain is judged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prior {
    /// The observed hosts that have a record.
    pub hosts: BTreeMap<String, HostState>,
    /// Open holds of those hosts.
    pub open_holds: BTreeSet<HoldKey>,
    /// The domain's floor over its MX set.
    pub domain_floor: Option<Level>,
    /// The MX set the domain had last time (empty when never seen).
    pub previous_mx: BTreeSet<String>,
}

/// A hold to raise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHold {
    /// The server.
    pub host: String,
    /// The domain whose floor it fell below, for MX-set downgrades; `None` for the host's own.
    pub domain: Option<String>,
    /// The floor it fell below.
    pub floor: Level,
    /// The level observed.
    pub observed: Level,
    /// Why, in words.
    pub reason: String,
    /// Which host observation (index into the observed hosts) is the evidence.
    pub host_index: usize,
}

/// The new memory after one probe of a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The new state of every observed host.
    pub hosts: BTreeMap<String, HostState>,
    /// The domain's new floor.
    pub domain_floor: Option<Level>,
    /// Holds to raise.
    pub holds: Vec<NewHold>,
}

/// Judges one probe of `domain` at time `at` against what is remembered.
pub fn transition(
    domain: &str,
    at: i64,
    prior: &Prior,
    observed: &[HostObservation],
) -> Transition {
    let mut hosts = BTreeMap::new();
    let mut holds: Vec<NewHold> = Vec::new();
    for (i, obs) in observed.iter().enumerate() {
        let before = prior.hosts.get(&obs.host).cloned();
        let mut state = before.clone().unwrap_or(HostState {
            first_seen: at,
            last_seen: at,
            best: None,
            floor: None,
        });
        state.last_seen = state.last_seen.max(at);
        if let Some(level) = obs.level() {
            state.best = state.best.max(Some(level));
            match state.floor {
                Some(floor) if level < floor => {
                    if !prior.open_holds.contains(&(obs.host.clone(), None)) {
                        let e = &obs.endpoints[obs.weakest()];
                        holds.push(NewHold {
                            host: obs.host.clone(),
                            domain: None,
                            floor,
                            observed: level,
                            reason: downgrade_reason(&obs.host, floor, e),
                            host_index: i,
                        });
                    }
                }
                _ => state.floor = state.floor.max(Some(level)),
            }
        }
        hosts.insert(obs.host.clone(), state);
    }

    let levels: Vec<Option<Level>> = observed.iter().map(HostObservation::level).collect();
    let mut domain_floor = prior.domain_floor;
    if let Some(floor) = prior.domain_floor {
        for (i, obs) in observed.iter().enumerate() {
            let Some(level) = levels[i] else { continue };
            let host_held = prior.open_holds.contains(&(obs.host.clone(), None))
                || holds.iter().any(|h| h.host == obs.host);
            let key = (obs.host.clone(), Some(domain.to_string()));
            if level < floor && !host_held && !prior.open_holds.contains(&key) {
                let e = &obs.endpoints[obs.weakest()];
                let reason = if prior.previous_mx.contains(&obs.host) {
                    format!(
                        "{domain} had reached {} on all of its mail servers, but {} now shows {} ({})",
                        floor.label(),
                        obs.host,
                        level.label(),
                        e.reason
                    )
                } else {
                    format!(
                        "the MX records of {domain} changed: the new server {} shows {} ({}), below the {} that {domain} had reached",
                        obs.host,
                        level.label(),
                        e.reason,
                        floor.label()
                    )
                };
                holds.push(NewHold {
                    host: obs.host.clone(),
                    domain: Some(domain.to_string()),
                    floor,
                    observed: level,
                    reason,
                    host_index: i,
                });
            }
        }
    }
    // The domain's floor rises only from a complete picture: every host showed a level.
    if !levels.is_empty() && levels.iter().all(Option::is_some) {
        let weakest = levels.iter().flatten().min().copied();
        domain_floor = domain_floor.max(weakest);
    }
    Transition {
        hosts,
        domain_floor,
        holds,
    }
}

/// The reason of a host's downgrade from `floor` to what `e` shows, naming its kind.
pub fn downgrade_reason(host: &str, floor: Level, e: &EndpointObservation) -> String {
    let what = match (floor, e.outcome) {
        (_, Outcome::NoStarttls) => "no longer offers STARTTLS".to_string(),
        (_, Outcome::StarttlsRefused) => "now refuses STARTTLS".to_string(),
        (_, Outcome::LegacyTls) => "now only offers TLS older than 1.2".to_string(),
        (_, Outcome::HandshakeFailed) => "the TLS handshake now fails".to_string(),
        (Level::Dane, Outcome::DaneMismatch) => {
            "its certificate no longer matches its TLSA records".to_string()
        }
        (Level::Dane, _)
            if e.dnssec == DnssecStatus::Insecure || e.dane == DaneStatus::Insecure =>
        {
            "its DNS records are no longer DNSSEC-signed, so its TLSA records no longer count"
                .to_string()
        }
        (Level::Dane, _) if e.dane == DaneStatus::None => {
            "its TLSA records vanished from its signed zone".to_string()
        }
        _ => format!("now shows {}", e.level.map_or("nothing", Level::label)),
    };
    format!(
        "{host} {what} ({}); it had reached {}",
        e.reason,
        floor.label()
    )
}

/// A host's floor after an administrator released its hold, accepting `accepted`.
pub fn released_floor(floor: Option<Level>, accepted: Level) -> Level {
    floor.map_or(accepted, |f| f.min(accepted))
}

/// An open hold as verdicts need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenHold {
    /// `None` for the host's own downgrade, else the domain it blocks.
    pub domain: Option<String>,
    /// Since when.
    pub since: i64,
    /// Why.
    pub reason: String,
}

/// What verdicts need to know of one MX host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostRecord {
    /// The remembered state.
    pub state: HostState,
    /// Its open holds.
    pub holds: Vec<OpenHold>,
}

impl HostRecord {
    /// The history as the wire type carries it, for verdicts of `domain`.
    pub fn server_history(&self, domain: &str) -> ServerHistory {
        ServerHistory {
            first_seen: self.state.first_seen,
            last_seen: self.state.last_seen,
            best: class_of(self.state.best),
            floor: class_of(self.state.floor),
            on_hold_since: self.holds_for(domain).map(|h| h.since).min(),
        }
    }

    /// The holds that block deliveries to `domain`.
    pub fn holds_for<'a>(&'a self, domain: &'a str) -> impl Iterator<Item = &'a OpenHold> + 'a {
        self.holds
            .iter()
            .filter(move |h| h.domain.as_deref().is_none_or(|d| d == domain))
    }
}

/// The verdict from the facts ([`super::verdict`]) with each MX host's history applied: hosts
/// on hold are marked, and the domain is blocked with a reason that names the downgrade.
pub fn apply_history(
    mut verdict: DomainVerdict,
    hosts: &BTreeMap<String, HostRecord>,
) -> DomainVerdict {
    let mut held_reason: Option<String> = None;
    for mx in &mut verdict.mx {
        let Some(record) = hosts.get(&mx.host) else {
            continue;
        };
        mx.history = Some(record.server_history(&verdict.domain));
        if let Some(hold) = record.holds_for(&verdict.domain).next() {
            mx.on_hold = true;
            if held_reason.is_none() {
                held_reason = Some(format!(
                    "Delivery to {} is on hold since it fell below its known level: {}. An administrator must review it.",
                    mx.host, hold.reason
                ));
            }
        }
    }
    if let Some(reason) = held_reason {
        verdict.blocked = true;
        verdict.cause = Some(BlockCause::OnHold);
        verdict.reason = reason;
    }
    verdict
}

/// How a delivery to one server must be protected, Postfix's security levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Enforcement {
    /// TLS authenticated by the TLSA records, or no delivery (RFC 7672 §2.2).
    DaneOnly,
    /// TLS with a certificate valid for the MX host name under the WebPKI (RFC 8461 §4).
    Verify,
    /// TLS 1.2+ with any certificate, or no delivery.
    Encrypt,
    /// TLS when offered, plain text otherwise (RFC 3207 opportunistic).
    May,
}

impl Enforcement {
    /// Postfix's name of the level.
    pub fn label(self) -> &'static str {
        match self {
            Enforcement::DaneOnly => "dane-only",
            Enforcement::Verify => "verify",
            Enforcement::Encrypt => "encrypt",
            Enforcement::May => "may",
        }
    }
}

/// The enforcement for a delivery to one server, with the precedence DANE > MTA-STS enforce >
/// remembered level > opportunistic:
///
/// - DNSSEC-secure usable TLSA records: dane-only (RFC 7672 §2.2); secure but unusable ones
///   still make TLS mandatory: encrypt. MTA-STS never overrides DANE (RFC 8461 §2).
/// - An MTA-STS policy in enforce mode: verify (RFC 8461 §5).
/// - The remembered floor: DANE reached keeps dane-only (the records vanishing is a downgrade,
///   held anyway), TLS reached keeps encrypt.
/// - Nothing known: may.
pub fn enforcement(tlsa: &TlsaFacts, mta_sts_enforce: bool, floor: Option<Level>) -> Enforcement {
    if !tlsa.usable().is_empty() {
        return Enforcement::DaneOnly;
    }
    if tlsa.makes_tls_mandatory() {
        return Enforcement::Encrypt;
    }
    if mta_sts_enforce {
        return Enforcement::Verify;
    }
    match floor {
        Some(Level::Dane) => Enforcement::DaneOnly,
        Some(Level::Tls) => Enforcement::Encrypt,
        Some(Level::Plain) | None => Enforcement::May,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dane::tlsa::TlsaRecord;
    use crate::probe::facts::{EndpointFacts, SessionFacts, TlsFacts};
    use proptest::prelude::*;
    use sendguard_common::MxReport;

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
            tls: tls.map(TlsFacts::tls13_example),
            tls_failure: failure,
        })
    }

    fn host(
        name: &str,
        tlsa: TlsaFacts,
        dnssec: DnssecStatus,
        outcome: EndpointOutcome,
    ) -> HostFacts {
        HostFacts {
            host: name.into(),
            preference: 10,
            address_dnssec: dnssec,
            tlsa,
            address_error: None,
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
        let obs = observe(f);
        let t = transition("d.test", f.checked_at, prior, &obs);
        for (h, s) in &t.hosts {
            prior.hosts.insert(h.clone(), s.clone());
        }
        for h in &t.holds {
            prior.open_holds.insert((h.host.clone(), h.domain.clone()));
        }
        prior.domain_floor = t.domain_floor;
        prior.previous_mx = obs.iter().map(|o| o.host.clone()).collect();
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
                TlsaFacts::Bogus("expired".into()),
                DnssecStatus::Bogus,
                session(None, None, false),
            ),
            host(
                "mx.d.test",
                TlsaFacts::Secure(vec![record()]),
                DnssecStatus::Secure,
                EndpointOutcome::Failed {
                    detail: "timeout".into(),
                    temporary: true,
                },
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
        let mut verdict = crate::policy::verdict(&facts(vec![dane()]));
        verdict.mx.push(MxReport {
            host: "other".into(),
            ..verdict.mx[0].clone()
        });
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
        let v = apply_history(verdict, &hosts);
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

    #[test]
    fn enforcement_precedence() {
        let secure = TlsaFacts::Secure(vec![record()]);
        let unusable = TlsaFacts::Secure(vec![TlsaRecord {
            usage: 1,
            ..record()
        }]);
        assert_eq!(enforcement(&secure, true, None), Enforcement::DaneOnly);
        assert_eq!(enforcement(&unusable, true, None), Enforcement::Encrypt);
        assert_eq!(
            enforcement(&TlsaFacts::SecureNone, true, Some(Level::Dane)),
            Enforcement::Verify
        );
        assert_eq!(
            enforcement(&TlsaFacts::SecureNone, false, Some(Level::Dane)),
            Enforcement::DaneOnly
        );
        assert_eq!(
            enforcement(&TlsaFacts::Insecure, false, Some(Level::Tls)),
            Enforcement::Encrypt
        );
        assert_eq!(
            enforcement(&TlsaFacts::Insecure, false, Some(Level::Plain)),
            Enforcement::May
        );
        assert_eq!(
            enforcement(&TlsaFacts::Insecure, false, None),
            Enforcement::May
        );
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
                EndpointOutcome::Failed {
                    detail: "refused".into(),
                    temporary: true,
                },
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
                        state.floor = Some(released_floor(state.floor, accepted));
                        prior.domain_floor = prior.domain_floor.map(|f| f.min(accepted));
                        prior.open_holds.clear();
                        prop_assert!(prior.hosts["mx.d.test"].floor <= Some(accepted));
                    }
                }
                if let Some(Some(l)) = event { last_accepted = Some(l); }
            }
        }
    }
}
