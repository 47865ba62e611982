//! What an MTA-STS policy (RFC 8461) means for a judgement; the rules [`super::judge`] applies,
//! each with its section:
//!
//! - DANE first (§2): a host with secure TLSA records (usable or not, or a TLSA lookup that
//!   failed) is judged and delivered to by DANE's rules alone; the policy applies to the
//!   others ([`DomainJudgement::sts_enforced`]).
//! - Enforce mode, a host that matches no `mx` pattern (§4.1): never used for delivery (§5).
//!   The badge predicts the delivery we make, so such a host does not count in the domain's
//!   class ([`DomainJudgement::sts_excluded`]; the protocol notes' class is "the weakest among
//!   the MX hosts a delivery may use") and is marked "not used" in the tooltip. When no host
//!   is left, the domain is blocked ([`BlockCause::MtaStsNoMatchingMx`]): the delivery is
//!   deferred (§5: "MUST NOT deliver"), so the badge must not promise it.
//! - Enforce mode, a matching host whose session lacks TLS 1.2+ or a certificate valid for
//!   its name under the WebPKI (§4.2, §4.3): no delivery to it (§5), and, as for a DANE
//!   mismatch on any MX host, the domain is blocked ([`BlockCause::MtaStsFailed`]).
//! - Testing mode: reported (which hosts match), never enforced (§5). Mode none: nothing.
//! - A hold on a host the enforce policy does not name is shown but blocks nothing
//!   (`view.rs`): the host is never used.
//! - Such a policy never changes a server's own level (its floor and holds): it is the
//!   recipient domain's demand, not the server's behaviour.

use sendguard_common::{BlockCause, MtaStsView};

use super::judge::{DomainJudgement, HostJudgement, Level, TlsaDemand};
use crate::mta_sts::{Mode, MxPattern, StsFacts, StsSource};

/// The MTA-STS policy a judgement was made with, as stored with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsApplied {
    /// The mode.
    pub mode: Mode,
    /// The MX patterns.
    pub mx: Vec<MxPattern>,
    /// The TXT record's id it was fetched under.
    pub id: String,
    /// Until when it is cached, seconds since the Unix epoch.
    pub expires_at: i64,
}

impl StsApplied {
    /// Whether `host` matches one of the patterns (§4.1).
    pub fn matches(&self, host: &str) -> bool {
        self.mx.iter().any(|p| p.matches(host))
    }
}

/// What MTA-STS contributed to a judgement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StsState {
    /// The policy that applied, if one did.
    pub policy: Option<StsApplied>,
    /// A failure on the way (lookup, fetch, a malformed record or policy), in words.
    pub problem: Option<String>,
    /// The `_mta-sts` record vanished while the policy was cached: a possible downgrade.
    pub downgrade: bool,
}

impl StsState {
    /// The state the discovery facts give.
    pub fn of(facts: &StsFacts) -> StsState {
        match facts {
            StsFacts::NotChecked => StsState::default(),
            StsFacts::NoPolicy { problem } => StsState {
                policy: None,
                problem: problem.as_ref().map(ToString::to_string),
                downgrade: false,
            },
            StsFacts::Applies { cached, source } => StsState {
                policy: Some(StsApplied {
                    mode: cached.policy.mode,
                    mx: cached.policy.mx.clone(),
                    id: cached.id.clone(),
                    expires_at: cached.expires_at,
                }),
                problem: match source {
                    StsSource::CachedAfterFailure(why) => Some(why.to_string()),
                    _ => None,
                },
                downgrade: *source == StsSource::RecordVanished,
            },
        }
    }

    /// The wire view for the tooltip and `sendguard probe`; `None` when there is nothing to
    /// say.
    pub fn view(&self) -> Option<MtaStsView> {
        if self.policy.is_none() && self.problem.is_none() {
            return None;
        }
        Some(MtaStsView {
            mode: self.policy.as_ref().map(|p| match p.mode {
                Mode::Enforce => sendguard_common::StsMode::Enforce,
                Mode::Testing => sendguard_common::StsMode::Testing,
                Mode::None => sendguard_common::StsMode::None,
            }),
            mx: self
                .policy
                .iter()
                .flat_map(|p| p.mx.iter().map(|m| m.as_str().to_string()))
                .collect(),
            cached_until: self.policy.as_ref().map(|p| p.expires_at),
            problem: self.problem.clone(),
            downgrade: self.downgrade,
        })
    }
}

impl DomainJudgement {
    /// The policy in enforce mode, if one applies.
    fn enforce_policy(&self) -> Option<&StsApplied> {
        self.mta_sts
            .policy
            .as_ref()
            .filter(|p| p.mode == Mode::Enforce)
    }

    /// Whether the enforce-mode policy governs delivery to `h` (DANE first, §2).
    pub fn sts_enforced(&self, h: &HostJudgement) -> bool {
        h.tlsa == TlsaDemand::Nothing && self.enforce_policy().is_some()
    }

    /// Whether `h` is never used for delivery: enforce mode and no pattern matches (§4.1, §5).
    pub fn sts_excluded(&self, h: &HostJudgement) -> bool {
        self.sts_enforced(h) && self.enforce_policy().is_some_and(|p| !p.matches(&h.host))
    }

    /// Whether `h` matches the policy (enforce or testing), `None` without such a policy.
    pub fn sts_match(&self, h: &HostJudgement) -> Option<bool> {
        self.sts_reported().map(|p| p.matches(&h.host))
    }

    /// Why a matching host governed by the enforce policy fails it (§4.2: a certificate valid
    /// for its name under the WebPKI; §4.3 and §5: TLS 1.2 or newer), if it does.
    pub fn sts_failure(&self, h: &HostJudgement) -> Option<String> {
        if !self.sts_enforced(h) || self.sts_excluded(h) {
            return None;
        }
        h.sessions().find_map(|e| match (&e.tls, e.level) {
            (Some(tls), _) if !tls.certificate.webpki_valid => Some(format!(
                "{}: the MTA-STS policy requires a certificate valid for its name ({})",
                h.host,
                tls.certificate
                    .webpki_error
                    .as_deref()
                    .unwrap_or("not valid under the WebPKI")
            )),
            (_, Some(level)) if level < Level::Tls => Some(format!(
                "{}: the MTA-STS policy requires TLS 1.2 or newer",
                h.host
            )),
            _ => None,
        })
    }

    /// What MTA-STS blocks, if anything: no host left to deliver to, or a matching host that
    /// fails the policy.
    pub fn sts_cause(&self) -> Option<BlockCause> {
        self.enforce_policy()?;
        if !self.hosts.is_empty() && self.hosts.iter().all(|h| self.sts_excluded(h)) {
            return Some(BlockCause::MtaStsNoMatchingMx);
        }
        self.hosts
            .iter()
            .any(|h| self.sts_failure(h).is_some())
            .then_some(BlockCause::MtaStsFailed)
    }

    /// The policy TLS reports name for this domain (RFC 8460 §4.4 `sts`): the one in
    /// enforce or testing mode, if one applies. Hosts with secure TLSA records are reported
    /// under `tlsa` instead (DANE first): that precedence is [`crate::tlsrpt::policy_for`]'s.
    pub fn sts_reported(&self) -> Option<&StsApplied> {
        self.mta_sts
            .policy
            .as_ref()
            .filter(|p| p.mode != Mode::None)
    }
}

#[cfg(test)]
#[path = "sts_tests.rs"]
mod tests;
