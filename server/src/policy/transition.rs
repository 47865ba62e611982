//! Remember-TLS: pure functions from a judgement plus what is remembered to the new memory and
//! the holds to raise ([`transition`]), and from an administrator's release to the new floors
//! ([`release`]). The store loads the [`Prior`] and persists what these return; it decides
//! nothing itself.
//!
//! Not standardised; the model is mailbox.org's: once our servers reached a server over TLS,
//! TLS is enforced from then on, and a server that falls below its known level is held until an
//! administrator has looked at it. The rules, each with its reason:
//!
//! - **Levels** come from the one judgement ([`super::judge`]); a host's level in one probe is
//!   the weakest over the addresses that showed one, because a delivery may use any of them.
//! - **Unknown is not evidence.** Unreachable addresses, timeouts, forbidden targets, failed
//!   lookups and bogus DNSSEC show no level. They never lower and never raise anything. Bogus
//!   DNSSEC (RFC 4035 §5.5) already stops delivery by itself (RFC 7672 §2.1.1: defer, never
//!   downgrade), and as soon as validation works again the next observation is judged against
//!   the floor as usual, so a hold would add nothing but an administrator's chore for every
//!   expired signature; the verdict still says blocked and names it.
//! - **The floor rises, never falls by itself.** The first known level sets a host's floor; a
//!   better one raises it; no single observation lowers it.
//! - **A downgrade is an observation below the floor.** The host goes on hold; every verdict
//!   that depends on it says blocked, naming the downgrade; delivery to it stops. Kinds: STARTTLS
//!   no longer offered, refused, the handshake now failing or falling to TLS < 1.2 (DANE or TLS
//!   to no TLS); TLSA records vanishing from a signed zone, no longer matching, or the zone
//!   turning DNSSEC-insecure (DANE to TLS). A mismatch is also refused by RFC 7672 §2.2 itself.
//! - **Only an administrator lowers a floor**: releasing a hold accepts the level that fell
//!   short as the new floor of the server and of the domains it serves; keeping it leaves
//!   delivery stopped.
//! - **The MX set is tracked per domain too.** A domain's floor is the best *weakest level over
//!   its MX set* ever seen complete (every host known). If the MX records change to hosts that
//!   are new or weaker, the per-host floors say nothing (a new host has no history), so a host
//!   whose level is below its domain's floor is held *for that domain*: such a hold blocks the
//!   verdicts of that domain only, because other domains that use the same host never relied on
//!   more. Releasing it lowers the domain's floor. A domain's level through a host is the one
//!   its badge shows ([`DomainJudgement::level_via`]): DANE behind an unsigned MX answer counts
//!   as TLS for the domain, while the server's own floor is DANE.
//! - **Holds only for what belongs to the server.** A server's floor and holds follow from what
//!   the server itself showed. A DANE-TA certificate that fits the server's TLSA records but
//!   does not name one recipient domain ([`Outcome::DaneNameMismatch`]) blocks that domain by
//!   itself (RFC 7672 §3.2.3) and is no evidence about the server: it never puts the shared
//!   server on hold, nor holds the domain (the block ends when the certificate names it).
//! - **Raising holds is rate-limited per server, blocking never is.** After an administrator
//!   released a server, its floor does not rise again for [`SETTLE_AFTER_RELEASE`]: a server
//!   that flaps (STARTTLS on, off, on, ...) would otherwise climb back to its old floor with the
//!   next good session and be held again at the next bad one, refilling the admin queue and the
//!   webhook after every release. Within that window better observations still count as its
//!   best level, but its floor, and what it lends to the floors of the domains it serves, stay
//!   at the level the administrator accepted; so it does not fall below a floor, and no hold
//!   follows from flapping. Safety is kept: a server is never below its floor and still gets
//!   mail, because its floor is what an administrator accepted; a fall below that accepted level
//!   is held at once as always. After the window the next better observation raises the floor
//!   again, so flapping raises at most one hold per server per window. The announcement of
//!   holds is limited too (`verdicts::alerts`: one alert per server per hour, further holds are
//!   only counted).

use std::collections::{BTreeMap, BTreeSet};

use sendguard_common::{DaneStatus, ServerHistory};

use super::judge::{DomainJudgement, EndpointJudgement, Level, Outcome, class_of};
use super::reason::endpoint_words;

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

/// How long after an administrator's release a server's floor does not rise again, in
/// seconds (one day): the rate limit of holds for a flapping server (see the module).
pub const SETTLE_AFTER_RELEASE: i64 = 24 * 3600;

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
    /// When an administrator last released a hold of each host that has had one released.
    pub released_at: BTreeMap<String, i64>,
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
    /// Which host of the judgement (index into its hosts) is the evidence; its weakest endpoint
    /// is the observation that fell short.
    pub host_index: usize,
}

/// The new memory after one probe of a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The new state of every observed host.
    pub hosts: BTreeMap<String, HostState>,
    /// The domain's new floor.
    pub domain_floor: Option<Level>,
    /// The domain's MX set to remember (unchanged when the probe saw no hosts).
    pub mx_set: Option<BTreeSet<String>>,
    /// Holds to raise.
    pub holds: Vec<NewHold>,
}

/// Judges one probe, as judged by [`super::judge`], against what is remembered.
pub fn transition(j: &DomainJudgement, prior: &Prior) -> Transition {
    let at = j.checked_at;
    let mut hosts = BTreeMap::new();
    let mut holds: Vec<NewHold> = Vec::new();
    // What each host lends to the domain's floor: its level for this domain, held to its
    // accepted floor while it settles after a release.
    let mut lent: Vec<Option<Level>> = Vec::with_capacity(j.hosts.len());
    for (i, h) in j.hosts.iter().enumerate() {
        let mut state = prior.hosts.get(&h.host).cloned().unwrap_or(HostState {
            first_seen: at,
            last_seen: at,
            best: None,
            floor: None,
        });
        state.last_seen = state.last_seen.max(at);
        let settling = prior
            .released_at
            .get(&h.host)
            .is_some_and(|t| at.saturating_sub(*t) < SETTLE_AFTER_RELEASE);
        if let Some(level) = h.level() {
            state.best = state.best.max(Some(level));
            match state.floor {
                Some(floor) if level < floor => {
                    if !prior.open_holds.contains(&(h.host.clone(), None)) {
                        let e = &h.endpoints[h.weakest()];
                        holds.push(NewHold {
                            host: h.host.clone(),
                            domain: None,
                            floor,
                            observed: level,
                            reason: downgrade_reason(&h.host, floor, e),
                            host_index: i,
                        });
                    }
                }
                Some(_) if settling => {}
                _ => state.floor = state.floor.max(Some(level)),
            }
        }
        let via = j.level_via(h);
        lent.push(match state.floor {
            Some(floor) if settling => via.map(|l| l.min(floor)),
            _ => via,
        });
        hosts.insert(h.host.clone(), state);
    }
    if let Some(floor) = prior.domain_floor {
        holds.extend(mx_set_holds(j, prior, floor, &holds));
    }
    // The domain's floor rises only from a complete picture: every host showed a level.
    let mut domain_floor = prior.domain_floor;
    if !lent.is_empty() && lent.iter().all(Option::is_some) {
        domain_floor = domain_floor.max(lent.iter().flatten().min().copied());
    }
    let mx_set = (!j.hosts.is_empty()).then(|| j.hosts.iter().map(|h| h.host.clone()).collect());
    Transition {
        hosts,
        domain_floor,
        mx_set,
        holds,
    }
}

/// Holds for hosts below the domain's floor that are not already held for themselves.
fn mx_set_holds(
    j: &DomainJudgement,
    prior: &Prior,
    floor: Level,
    host_holds: &[NewHold],
) -> Vec<NewHold> {
    let domain = &j.domain;
    let mut holds = Vec::new();
    for (i, h) in j.hosts.iter().enumerate() {
        let Some(level) = j.level_via(h) else {
            continue;
        };
        let host_held = prior.open_holds.contains(&(h.host.clone(), None))
            || host_holds.iter().any(|n| n.host == h.host);
        let key = (h.host.clone(), Some(domain.clone()));
        if level >= floor || host_held || prior.open_holds.contains(&key) {
            continue;
        }
        let words = endpoint_words(&h.endpoints[h.weakest()]);
        let unsigned = j.unsigned(h).filter(|_| h.level() >= Some(floor));
        let reason = if let Some(part) = unsigned {
            format!(
                "{domain} had reached {} on all of its mail servers, but the DNS answers on the way to {} are no longer all DNSSEC-signed ({}), so its TLSA records no longer authenticate it for {domain} ({words})",
                floor.label(),
                h.host,
                part.as_str(),
            )
        } else if prior.previous_mx.contains(&h.host) {
            format!(
                "{domain} had reached {} on all of its mail servers, but {} now shows {} ({words})",
                floor.label(),
                h.host,
                level.label(),
            )
        } else {
            format!(
                "the MX records of {domain} changed: the new server {} shows {} ({words}), below the {} that {domain} had reached",
                h.host,
                level.label(),
                floor.label()
            )
        };
        holds.push(NewHold {
            host: h.host.clone(),
            domain: Some(domain.clone()),
            floor,
            observed: level,
            reason,
            host_index: i,
        });
    }
    holds
}

/// The reason of a host's downgrade from `floor` to what `e` shows, naming its kind.
pub fn downgrade_reason(host: &str, floor: Level, e: &EndpointJudgement) -> String {
    let what = match (floor, e.outcome) {
        (_, Outcome::NoStarttls) => "no longer offers STARTTLS".to_string(),
        (_, Outcome::NoEsmtp) => "no longer speaks ESMTP, so no STARTTLS".to_string(),
        (_, Outcome::StarttlsRefused) => "now refuses STARTTLS".to_string(),
        (_, Outcome::WithoutTls) => "was delivered to without TLS".to_string(),
        (_, Outcome::LegacyTls) => "now only offers TLS older than 1.2".to_string(),
        (_, Outcome::HandshakeFailed) => "the TLS handshake now fails".to_string(),
        (Level::Dane, Outcome::DaneMismatch) => {
            "its certificate no longer matches its TLSA records".to_string()
        }
        (Level::Dane, _) if e.dane == DaneStatus::Insecure => {
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
        endpoint_words(e),
        floor.label()
    )
}

/// An open hold of one server as an administrator's release sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldLevel {
    /// `None` for the host's own downgrade, else the domain it was held for.
    pub domain: Option<String>,
    /// The level that fell short.
    pub observed: Level,
}

/// What releasing a server's open holds changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// The level accepted: the lowest that fell short.
    pub accepted: Level,
    /// The server's new floor (`None` when the server has no record).
    pub host_floor: Option<Level>,
    /// The new floors of the domains concerned (the ones it was held for and the ones it serves
    /// that have a floor).
    pub domain_floors: BTreeMap<String, Level>,
}

/// The release of a server's open holds: the level that fell short becomes the floor of the
/// server and of every domain concerned that had reached more. `None` without an open hold.
pub fn release(
    held: &[HeldLevel],
    host_floor: Option<Option<Level>>,
    domain_floors: &BTreeMap<String, Option<Level>>,
) -> Option<Release> {
    let accepted = held.iter().map(|h| h.observed).min()?;
    let lowered = |floor: Option<Level>| floor.map_or(accepted, |f| f.min(accepted));
    Some(Release {
        accepted,
        host_floor: host_floor.map(lowered),
        domain_floors: domain_floors
            .iter()
            .filter_map(|(d, f)| f.map(|f| (d.clone(), f.min(accepted))))
            .collect(),
    })
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

#[cfg(test)]
#[path = "transition_tests.rs"]
mod tests;
