//! What a delivery to one domain does, read from the same judgement and history as the badge
//! (the verdict [`super::view::verdict`] made of them), so the badge and the delivery cannot
//! disagree (the protocol notes, "Delivery"):
//!
//! - a blocked verdict is no delivery: on hold -> the message waits for an administrator; a
//!   domain that accepts no mail (null MX, RFC 7505; no such domain; no mail server) -> failed;
//!   anything else (bogus DNSSEC, a failed TLSA lookup, a TLSA mismatch, RFC 7672 §2.1.1 and
//!   §2.2) -> deferred;
//! - a secure sender's message (the seed's secure.mailbox.org) is not sent to a domain that
//!   falls short of the sender's minimum ([`sendguard_common::secure::check`], the rule the
//!   compose page applies), and where it is sent, TLS is required at that minimum;
//! - otherwise every MX host in preference order, each with its [`Enforcement`]: DANE-only for
//!   secure usable TLSA records, WebPKI verification where an MTA-STS policy in enforce mode
//!   applies (hosts it does not name left out, RFC 8461 §5), TLS for the host's floor (or the
//!   domain's), opportunistic when nothing is known.

use std::collections::BTreeMap;
use std::net::IpAddr;

use sendguard_common::TransportRequirement;
use sendguard_common::secure::{Shortfall, check};
use sendguard_common::{BlockCause, DomainVerdict, MinAuthentication, MinTlsVersion};

use super::enforcement::{Enforcement, enforcement};
use super::judge::{DomainJudgement, Level, Outcome, TlsaDemand};
use super::transition::HostRecord;

/// How one MX host is to be tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPlan {
    /// The MX host.
    pub host: String,
    /// Its position in the judgement's hosts (and the facts').
    pub index: usize,
    /// Its addresses to try, in order (those the probe may contact).
    pub addresses: Vec<IpAddr>,
    /// How the session must be protected.
    pub enforcement: Enforcement,
    /// Only TLS 1.3 (a secure sender's expert minimum).
    pub tls13_only: bool,
}

/// What a delivery to a domain does now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainPlan {
    /// Try these hosts in order until one takes the message.
    Deliver(Vec<HostPlan>),
    /// Not attempted: a server is on hold until an administrator decides.
    Hold(String),
    /// Not attempted now; later.
    Defer(String),
    /// Not attempted, ever: why.
    Fail(String),
}

/// The plan for a delivery to `j.domain`, from its judgement, the verdict made of it with
/// `history`, the domain's floor, and, for a secure sender, the sender's minimum.
pub fn plan(
    j: &DomainJudgement,
    verdict: &DomainVerdict,
    history: &BTreeMap<String, HostRecord>,
    domain_floor: Option<Level>,
    secure: Option<TransportRequirement>,
) -> DomainPlan {
    if verdict.blocked {
        return match verdict.cause {
            Some(BlockCause::OnHold) => DomainPlan::Hold(verdict.reason.clone()),
            Some(BlockCause::NullMx | BlockCause::NoSuchDomain | BlockCause::NoMailServer) => {
                DomainPlan::Fail(verdict.reason.clone())
            }
            _ => DomainPlan::Defer(verdict.reason.clone()),
        };
    }
    if j.hosts.is_empty() {
        // Not blocked and no host: the MX lookup failed for now.
        return DomainPlan::Defer(verdict.reason.clone());
    }
    if let Some(required) = secure
        && let Err(shortfall) = check(Some(verdict), required)
    {
        let why = format!(
            "not sent from a secure address: {} ({})",
            shortfall.english(),
            verdict.reason
        );
        return match shortfall {
            Shortfall::Unknown | Shortfall::Blocked => DomainPlan::Defer(why),
            _ => DomainPlan::Fail(why),
        };
    }
    let mut hosts = Vec::with_capacity(j.hosts.len());
    for (index, h) in j.hosts.iter().enumerate() {
        // RFC 8461 §5: in enforce mode a host the policy does not name is never used.
        if j.sts_excluded(h) {
            continue;
        }
        let own = history.get(&h.host).and_then(|r| r.state.floor);
        let floor = own.max(domain_floor);
        let mut e = enforcement(h.tlsa, j.sts_enforced(h), floor);
        if let Some(required) = secure {
            e = raised(e, h.tlsa, required);
        }
        let addresses = h
            .endpoints
            .iter()
            .filter(|e| e.outcome != Outcome::NotProbed)
            .filter_map(|e| e.ip)
            .collect();
        hosts.push(HostPlan {
            host: h.host.clone(),
            index,
            addresses,
            enforcement: e,
            tls13_only: secure.is_some_and(|r| r.tls_version == MinTlsVersion::Tls13),
        });
    }
    DomainPlan::Deliver(hosts)
}

/// A host's enforcement raised to a secure sender's minimum: TLS always; authenticated TLS
/// when asked (DANE where the host has secure TLSA records, else the WebPKI).
fn raised(e: Enforcement, tlsa: TlsaDemand, required: TransportRequirement) -> Enforcement {
    match (e, required.authentication) {
        (Enforcement::DaneOnly | Enforcement::Defer | Enforcement::Verify, _) => e,
        (_, MinAuthentication::Authenticated) if tlsa == TlsaDemand::Dane => Enforcement::DaneOnly,
        (_, MinAuthentication::Authenticated) => Enforcement::Verify,
        (Enforcement::May | Enforcement::Encrypt, MinAuthentication::AnyTls) => {
            Enforcement::Encrypt
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
