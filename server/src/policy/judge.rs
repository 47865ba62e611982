//! The one judgement: what the facts of one probe (or delivery) of a recipient domain mean for
//! our delivery, endpoint by endpoint. [`judge`] is the only place where a level, an outcome or
//! a block cause is decided; the badge class, the tooltip, the history's floors and holds and
//! the delivery's requirement are all read from the [`DomainJudgement`] it returns.
//!
//! The rules, each with its reason (protocol notes, "What a badge means"):
//!
//! - No STARTTLS, or only TLS 1.0/1.1, or a handshake that fails: the message would travel in
//!   clear text (opportunistic TLS falls back to plain text, RFC 3207 §4), so [`Level::Plain`].
//! - STARTTLS + TLS 1.2/1.3 with any certificate: [`Level::Tls`].
//! - DNSSEC-secure usable TLSA records (RFC 7672 §2.2) that matched the handshake:
//!   [`Level::Dane`] for the server itself (its floor, its holds, what a delivery to it demands).
//! - For the recipient domain, DANE counts only along a signed path: the MX answer (or, for an
//!   implicit MX, the denial of MX records), the host's address records and its TLSA records
//!   all DNSSEC-secure. With an unsigned MX answer an active attacker chooses the MX host, so
//!   TLSA records at that host authenticate nothing about the domain: such a host shows at most
//!   [`Level::Tls`] in the domain's class ([`DomainJudgement::level_via`]), and
//!   [`DomainJudgement::unsigned`] names the unsigned answer. Delivery still uses the host's
//!   secure TLSA records (RFC 7672 §2.2.1, a MAY we take): they protect against passive and
//!   on-path attackers who do not rewrite the MX answer, so TLS stays mandatory and the
//!   certificate must match ([`TlsaDemand`] is the host's, whatever the MX answer).
//! - Secure TLSA records that did not match, or TLS not achieved although secure TLSA records
//!   demand it: the delivery must not proceed (RFC 7672 §2.2), so blocked.
//! - A DANE-TA chain that validated to the server's trust anchor but whose leaf names neither
//!   the MX host nor this recipient domain (RFC 7672 §3.2.3): blocked for this domain, but no
//!   level, since it says nothing about the server (a domain the leaf names may use it), so
//!   no floor or hold of the shared server follows from it ([`Outcome::DaneNameMismatch`]).
//! - Bogus DNSSEC anywhere on the path (MX, address, TLSA): defer, never downgrade (RFC 7672
//!   §2.1.1), so no level and blocked. A TLSA lookup that failed for another reason (timeout,
//!   SERVFAIL) also defers the delivery (the records may exist and demand TLS), with a cause of
//!   its own: it is not a forgery.
//! - Null MX (RFC 7505), NXDOMAIN or no mail host at all: no delivery possible, blocked.
//! - Unreachable addresses, timeouts, a server that refuses the session, DNS failures, and
//!   addresses we may not contact: no level (unknown is not evidence), not blocked.
//!
//! - An MTA-STS policy (RFC 8461) rules out MX hosts it does not name and blocks a domain whose
//!   named hosts fail it, in enforce mode only and never where DANE applies: the rules are in
//!   [`super::sts`].
//!
//! A host takes the weakest level among its addresses that showed one, since a delivery may use
//! any of them; a domain takes the weakest class among its MX hosts, backup MX included.

use std::net::IpAddr;

use sendguard_common::{BlockCause, DaneStatus, DnssecStatus, SecurityClass, UnsignedDns};

use super::sts::StsState;
use crate::probe::facts::{
    DaneOutcome, DomainFacts, EndpointFacts, EndpointOutcome, Failure, HostFacts, MxFacts,
    SessionFacts, TlsFacts, TlsFailureFacts, TlsaFacts,
};

/// The transport security a delivery to a server reaches, weakest first.
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
    /// TLS, the chain validated to the DANE-TA anchor, but the leaf does not name this
    /// recipient domain or the MX host (RFC 7672 §3.2.3: refuse for this domain; not evidence
    /// about the server).
    DaneNameMismatch,
    /// TLS 1.2+ without DANE.
    Tls,
    /// STARTTLS not offered.
    NoStarttls,
    /// EHLO refused with 5yz, HELO accepted: no ESMTP, so no STARTTLS (RFC 5321 §4.1.1.1).
    NoEsmtp,
    /// STARTTLS answered with an error reply.
    StarttlsRefused,
    /// A session went without TLS and what we know does not say why (Postfix's log, or an
    /// inbound client that did not use STARTTLS).
    WithoutTls,
    /// Only TLS older than 1.2.
    LegacyTls,
    /// The handshake failed, or STARTTLS was not completed.
    HandshakeFailed,
    /// The handshake timed out (not evidence).
    HandshakeTimeout,
    /// The upgrade broke off for reasons that say nothing about the server's TLS: a STARTTLS
    /// reply beyond the protocol or the limits, bytes sent unasked, the connection lost during
    /// the handshake, a chain beyond the limit (not evidence).
    TlsAborted,
    /// Not reached, or the dialogue failed for now before STARTTLS (not evidence).
    Unreachable,
    /// The server refused the session for good (a 5xx greeting or EHLO reply; not evidence).
    SessionRejected,
    /// A special-purpose address we may not contact (not evidence).
    NotProbed,
    /// DNSSEC validation failed for the host's records (not evidence; delivery deferred).
    DnssecBogus,
    /// The host's TLSA records could not be looked up (not evidence; delivery deferred).
    TlsaLookupFailed,
    /// The host's addresses could not be looked up (not evidence).
    AddressLookupFailed,
}

impl Outcome {
    const ALL: [Outcome; 18] = [
        Outcome::DaneVerified,
        Outcome::DaneMismatch,
        Outcome::DaneNameMismatch,
        Outcome::Tls,
        Outcome::NoStarttls,
        Outcome::NoEsmtp,
        Outcome::StarttlsRefused,
        Outcome::WithoutTls,
        Outcome::LegacyTls,
        Outcome::HandshakeFailed,
        Outcome::HandshakeTimeout,
        Outcome::TlsAborted,
        Outcome::Unreachable,
        Outcome::SessionRejected,
        Outcome::NotProbed,
        Outcome::DnssecBogus,
        Outcome::TlsaLookupFailed,
        Outcome::AddressLookupFailed,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::DaneVerified => "dane_verified",
            Outcome::DaneMismatch => "dane_mismatch",
            Outcome::DaneNameMismatch => "dane_name_mismatch",
            Outcome::Tls => "tls",
            Outcome::NoStarttls => "no_starttls",
            Outcome::NoEsmtp => "no_esmtp",
            Outcome::StarttlsRefused => "starttls_refused",
            Outcome::WithoutTls => "without_tls",
            Outcome::LegacyTls => "legacy_tls",
            Outcome::HandshakeFailed => "handshake_failed",
            Outcome::HandshakeTimeout => "handshake_timeout",
            Outcome::TlsAborted => "tls_aborted",
            Outcome::Unreachable => "unreachable",
            Outcome::SessionRejected => "session_rejected",
            Outcome::NotProbed => "not_probed",
            Outcome::DnssecBogus => "dnssec_bogus",
            Outcome::TlsaLookupFailed => "tlsa_lookup_failed",
            Outcome::AddressLookupFailed => "address_lookup_failed",
        }
    }

    /// The outcome of a stored code.
    pub fn from_code(code: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.code() == code)
    }
}

/// What DNSSEC-secure TLSA records demand of a delivery to a host (RFC 7672 §2.2). A property of
/// the host's own records: it applies even when the recipient domain's MX answer is unsigned
/// (RFC 7672 §2.2.1), although the badge then does not promise DANE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsaDemand {
    /// No secure TLSA records (none, unsigned zone, or not looked up): nothing demanded.
    Nothing,
    /// Secure records exist but none is usable (usage 0/1 only): TLS, unauthenticated.
    Tls,
    /// Secure usable DANE-TA/DANE-EE records: TLS with a matching certificate.
    Dane,
    /// The lookup failed or did not validate: defer until it can be made.
    Unknown,
}

/// The judgement of one address of one MX host (or of the host itself when no address could be
/// tried: then `ip` is `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointJudgement {
    /// The address, if one was tried.
    pub ip: Option<IpAddr>,
    /// Whether STARTTLS was offered; `None` without an SMTP session.
    pub starttls: Option<bool>,
    /// The TLS session, when the handshake succeeded.
    pub tls: Option<TlsFacts>,
    /// The level shown; `None` when nothing was learnt (unknown is not evidence).
    pub level: Option<Level>,
    /// What happened.
    pub outcome: Outcome,
    /// Why delivery through this endpoint is refused or deferred, if it is.
    pub cause: Option<BlockCause>,
    /// The DANE status of this endpoint.
    pub dane: DaneStatus,
    /// The words of the peer or of the failing layer, when there are any.
    pub detail: Option<String>,
}

impl EndpointJudgement {
    /// The class this endpoint shows.
    pub fn class(&self) -> SecurityClass {
        class_of(self.level)
    }
}

/// The judgement of one MX host: one entry per address (at least one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostJudgement {
    /// Host name, A-label form.
    pub host: String,
    /// MX preference.
    pub preference: u16,
    /// DNSSEC status of its address records.
    pub address_dnssec: DnssecStatus,
    /// What its TLSA records demand.
    pub tlsa: TlsaDemand,
    /// One judgement per address tried, or one for the host when none could be.
    pub endpoints: Vec<EndpointJudgement>,
}

impl HostJudgement {
    /// The server's own level: the weakest over the addresses that showed one. What a recipient
    /// domain gets through it is [`DomainJudgement::level_via`].
    pub fn level(&self) -> Option<Level> {
        self.endpoints.iter().filter_map(|e| e.level).min()
    }

    /// The endpoint that blocks delivery to this host, if any does.
    pub fn blocking(&self) -> Option<&EndpointJudgement> {
        self.endpoints.iter().find(|e| e.cause.is_some())
    }

    /// Index of the endpoint that shows the host's level (the evidence of a downgrade).
    pub fn weakest(&self) -> usize {
        let level = self.level();
        self.endpoints
            .iter()
            .position(|e| e.level == level)
            .unwrap_or(0)
    }

    /// The endpoints that held an SMTP session.
    pub fn sessions(&self) -> impl Iterator<Item = &EndpointJudgement> {
        self.endpoints.iter().filter(|e| e.starttls.is_some())
    }

    /// The host's DANE status: verified only when every session matched.
    pub fn dane(&self) -> DaneStatus {
        let first = self
            .endpoints
            .first()
            .map_or(DaneStatus::Insecure, |e| e.dane);
        if !matches!(first, DaneStatus::Verified | DaneStatus::Failed) {
            return first;
        }
        let mut sessions = self.sessions().peekable();
        if sessions.peek().is_none() {
            return DaneStatus::Failed;
        }
        if sessions.all(|e| e.dane == DaneStatus::Verified) {
            DaneStatus::Verified
        } else {
            DaneStatus::Failed
        }
    }
}

/// The MX lookup as judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxJudgement {
    /// MX hosts (or the implicit MX), judged in [`DomainJudgement::hosts`].
    Hosts {
        /// DNSSEC status of the MX RRset (for an implicit MX, the weaker of the MX denial and
        /// the address records).
        dnssec: DnssecStatus,
        /// Whether the domain had no MX and is its own mail host.
        implicit: bool,
    },
    /// `MX 0 .`: the domain accepts no mail (RFC 7505).
    NullMx,
    /// The domain does not exist.
    NxDomain,
    /// Neither MX nor address records.
    NoMailHost,
    /// The MX lookup failed or did not validate.
    Failed(Failure),
}

/// The judgement of one probe (or delivery) of a recipient domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainJudgement {
    /// The domain, A-label form.
    pub domain: String,
    /// When the facts were gathered, seconds since the Unix epoch.
    pub checked_at: i64,
    /// The MX lookup.
    pub mx: MxJudgement,
    /// Every MX host in order of preference (empty unless `mx` is `Hosts`).
    pub hosts: Vec<HostJudgement>,
    /// The MTA-STS policy that applied, and what went wrong finding it ([`super::sts`]).
    pub mta_sts: StsState,
}

impl DomainJudgement {
    /// The badge class: the weakest among the MX hosts a delivery may use (an MTA-STS policy
    /// in enforce mode rules out those it does not name, [`super::sts`]); unknown without any.
    pub fn class(&self) -> SecurityClass {
        self.hosts
            .iter()
            .filter(|h| !self.sts_excluded(h))
            .map(|h| self.class_via(h))
            .min()
            .unwrap_or(SecurityClass::Unknown)
    }

    /// The first answer on the way from this domain to `h` that is not DNSSEC-secure: the MX
    /// answer (its denial for an implicit MX), the host's addresses, its TLSA records.
    pub fn unsigned(&self, h: &HostJudgement) -> Option<UnsignedDns> {
        let MxJudgement::Hosts { dnssec, implicit } = &self.mx else {
            return None;
        };
        if *dnssec != DnssecStatus::Secure {
            Some(if *implicit {
                UnsignedDns::MxDenial
            } else {
                UnsignedDns::MxRecords
            })
        } else if h.address_dnssec != DnssecStatus::Secure {
            Some(UnsignedDns::Addresses)
        } else if h.endpoints.iter().any(|e| e.dane == DaneStatus::Insecure) {
            Some(UnsignedDns::Tlsa)
        } else {
            None
        }
    }

    /// The level a delivery to this domain reaches through `h`: the server's own level, but at
    /// most TLS unless the whole DNS path to it is signed (RFC 7672 §2.2.1, see the module).
    pub fn level_via(&self, h: &HostJudgement) -> Option<Level> {
        let level = h.level();
        match self.unsigned(h) {
            Some(_) => level.map(|l| l.min(Level::Tls)),
            None => level,
        }
    }

    /// The class `h` shows in this domain's verdict.
    pub fn class_via(&self, h: &HostJudgement) -> SecurityClass {
        class_of(self.level_via(h))
    }

    /// Why a delivery now would be refused or deferred, from the facts alone (history adds
    /// holds, see [`super::view`]).
    pub fn cause(&self) -> Option<BlockCause> {
        match &self.mx {
            MxJudgement::NullMx => Some(BlockCause::NullMx),
            MxJudgement::NxDomain => Some(BlockCause::NoSuchDomain),
            MxJudgement::NoMailHost => Some(BlockCause::NoMailServer),
            MxJudgement::Failed(Failure::Bogus(_)) => Some(BlockCause::DnssecBogus),
            MxJudgement::Failed(_) => None,
            MxJudgement::Hosts { .. } => self
                .hosts
                .iter()
                .find_map(|h| h.blocking())
                .and_then(|e| e.cause)
                .or_else(|| self.sts_cause()),
        }
    }

    /// The DNSSEC status of the MX answer.
    pub fn dnssec(&self) -> DnssecStatus {
        match &self.mx {
            MxJudgement::Hosts { dnssec, .. } => *dnssec,
            MxJudgement::Failed(Failure::Bogus(_)) => DnssecStatus::Bogus,
            _ => DnssecStatus::Indeterminate,
        }
    }
}

/// Judges what one probe (or delivery) of a domain observed.
pub fn judge(facts: &DomainFacts) -> DomainJudgement {
    let (mx, hosts) = match &facts.mx {
        MxFacts::Hosts {
            dnssec,
            implicit,
            hosts,
        } => (
            MxJudgement::Hosts {
                dnssec: *dnssec,
                implicit: *implicit,
            },
            hosts.iter().map(judge_host).collect(),
        ),
        MxFacts::NullMx => (MxJudgement::NullMx, Vec::new()),
        MxFacts::NxDomain => (MxJudgement::NxDomain, Vec::new()),
        MxFacts::NoMailHost => (MxJudgement::NoMailHost, Vec::new()),
        MxFacts::Failed(f) => (MxJudgement::Failed(f.clone()), Vec::new()),
    };
    DomainJudgement {
        domain: facts.domain.clone(),
        checked_at: facts.checked_at,
        mx,
        hosts,
        mta_sts: StsState::of(&facts.mta_sts),
    }
}

/// What the TLSA answer demands, and the DANE status it gives before any handshake.
fn tlsa_demand(tlsa: &TlsaFacts) -> (TlsaDemand, DaneStatus) {
    match tlsa {
        TlsaFacts::NotLookedUp | TlsaFacts::Insecure => (TlsaDemand::Nothing, DaneStatus::Insecure),
        TlsaFacts::SecureNone => (TlsaDemand::Nothing, DaneStatus::None),
        TlsaFacts::Secure(records) if records.iter().any(|r| r.is_usable_for_smtp()) => {
            // Refined per endpoint once the handshake is known.
            (TlsaDemand::Dane, DaneStatus::Failed)
        }
        TlsaFacts::Secure(records) if records.is_empty() => (TlsaDemand::Nothing, DaneStatus::None),
        TlsaFacts::Secure(_) => (TlsaDemand::Tls, DaneStatus::None),
        TlsaFacts::Failed(Failure::Bogus(_)) => (TlsaDemand::Unknown, DaneStatus::Bogus),
        TlsaFacts::Failed(_) => (TlsaDemand::Unknown, DaneStatus::LookupFailed),
    }
}

fn judge_host(host: &HostFacts) -> HostJudgement {
    let (demand, dane) = tlsa_demand(&host.tlsa);
    let blank = |outcome, cause, dane, detail: &str| EndpointJudgement {
        ip: None,
        starttls: None,
        tls: None,
        level: None,
        outcome,
        cause,
        dane,
        detail: Some(detail.to_string()),
    };
    let host_wide = match &host.address_error {
        // Beyond the probe's limit of MX hosts: nothing is known of it.
        _ if let Some(why) = &host.not_probed => Some(blank(Outcome::NotProbed, None, dane, why)),
        Some(Failure::Bogus(d)) => Some(blank(
            Outcome::DnssecBogus,
            Some(BlockCause::DnssecBogus),
            DaneStatus::Bogus,
            &format!("address records: {d}"),
        )),
        Some(e) => Some(blank(Outcome::AddressLookupFailed, None, dane, e.detail())),
        None if host.endpoints.is_empty() => {
            Some(blank(Outcome::Unreachable, None, dane, "no address"))
        }
        None => None,
    };
    let mut endpoints = match host_wide {
        Some(one) => vec![one],
        None => host
            .endpoints
            .iter()
            .map(|e| judge_endpoint(e, demand, dane))
            .collect(),
    };
    // RFC 7672 §2.1.1: without a usable TLSA answer, what the sessions showed is no evidence
    // and the delivery waits; the sessions' details stay for the tooltip.
    if let TlsaFacts::Failed(f) = &host.tlsa {
        let (outcome, cause) = match f {
            Failure::Bogus(_) => (Outcome::DnssecBogus, BlockCause::DnssecBogus),
            _ => (Outcome::TlsaLookupFailed, BlockCause::TlsaLookupFailed),
        };
        for e in &mut endpoints {
            e.level = None;
            e.outcome = outcome;
            e.cause = Some(cause);
            e.dane = dane;
            e.detail = Some(f.detail().to_string());
        }
    }
    HostJudgement {
        host: host.host.clone(),
        preference: host.preference,
        address_dnssec: host.address_dnssec,
        tlsa: demand,
        endpoints,
    }
}

/// The one function that turns what one address showed into a level, an outcome and a cause.
fn judge_endpoint(ep: &EndpointFacts, demand: TlsaDemand, dane: DaneStatus) -> EndpointJudgement {
    let mut j = EndpointJudgement {
        ip: Some(ep.ip),
        starttls: None,
        tls: None,
        level: None,
        outcome: Outcome::Unreachable,
        cause: None,
        dane,
        detail: None,
    };
    match &ep.outcome {
        EndpointOutcome::Forbidden(why) => {
            j.outcome = Outcome::NotProbed;
            j.detail = Some(why.clone());
        }
        EndpointOutcome::Failed(f) => {
            if let Failure::Permanent(_) = f {
                j.outcome = Outcome::SessionRejected;
            }
            j.detail = Some(f.detail().to_string());
        }
        EndpointOutcome::Session(s) => judge_session(&mut j, s, demand),
    }
    j
}

fn judge_session(j: &mut EndpointJudgement, s: &SessionFacts, demand: TlsaDemand) {
    j.starttls = Some(s.starttls_offered);
    if let Some(tls) = &s.tls {
        j.tls = Some(tls.clone());
        j.level = Some(Level::Tls);
        match &tls.dane {
            DaneOutcome::Matched => {
                j.level = Some(Level::Dane);
                j.outcome = Outcome::DaneVerified;
                j.dane = DaneStatus::Verified;
            }
            DaneOutcome::Mismatch(why) => {
                j.outcome = Outcome::DaneMismatch;
                j.cause = Some(BlockCause::DaneMismatch);
                j.dane = DaneStatus::Failed;
                j.detail = Some(why.clone());
            }
            DaneOutcome::NameMismatch(why) => {
                j.level = None;
                j.outcome = Outcome::DaneNameMismatch;
                j.cause = Some(BlockCause::DaneMismatch);
                j.dane = DaneStatus::Failed;
                j.detail = Some(why.clone());
            }
            DaneOutcome::NoUsableRecords | DaneOutcome::NotApplicable => j.outcome = Outcome::Tls,
        }
        return;
    }
    let (outcome, detail) = match &s.tls_failure {
        Some(TlsFailureFacts::Timeout) => {
            j.outcome = Outcome::HandshakeTimeout;
            return;
        }
        Some(TlsFailureFacts::Aborted(d)) => {
            j.outcome = Outcome::TlsAborted;
            j.detail = Some(d.clone());
            return;
        }
        Some(TlsFailureFacts::LegacyOnly(d)) => (Outcome::LegacyTls, Some(d)),
        Some(TlsFailureFacts::Refused(d)) => (Outcome::StarttlsRefused, Some(d)),
        Some(TlsFailureFacts::NotUsed(d)) => (Outcome::WithoutTls, Some(d)),
        Some(TlsFailureFacts::Handshake(d)) => (Outcome::HandshakeFailed, Some(d)),
        None if !s.starttls_offered => match &s.ehlo_refused {
            Some(refusal) => (Outcome::NoEsmtp, Some(refusal)),
            None => (Outcome::NoStarttls, None),
        },
        None => (Outcome::HandshakeFailed, None),
    };
    j.level = Some(Level::Plain);
    j.outcome = outcome;
    j.detail = detail.cloned();
    if matches!(demand, TlsaDemand::Tls | TlsaDemand::Dane) {
        j.cause = Some(BlockCause::DaneWithoutTls);
    }
}

#[cfg(test)]
#[path = "judge_tests.rs"]
pub(super) mod tests;
