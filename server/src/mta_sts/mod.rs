//! MTA-STS, SMTP MTA Strict Transport Security (RFC 8461): whether a recipient domain publishes
//! a policy that its mail must travel over TLS with a WebPKI-valid certificate to MX hosts it
//! names. Split by step, as the probe runs them:
//!
//! - [`parse`]: the `_mta-sts` TXT record (§3.1) and the policy file (§3.2), strictly;
//! - [`lookup`]: discovery, the TXT record then the cached policy or a fetch (§3.3, §5.1);
//! - [`fetch`]: the HTTPS GET of `https://mta-sts.<domain>/.well-known/mta-sts.txt`;
//! - [`cache`]: when a cached policy applies and when it is refreshed (the store keeps it).
//!
//! What comes out is a fact ([`StsFacts`], part of the probe's `DomainFacts`); what it means
//! for the badge and the delivery is decided by `policy::judge` alone (enforce mode: only
//! matching MX hosts, each with a WebPKI-valid certificate for its name and TLS 1.2+, §4, §5;
//! testing mode: reported, not enforced; DANE first, §2).

pub mod cache;
pub mod fetch;
pub mod lookup;
pub mod parse;

pub use cache::{CachedPolicy, MemoryCache, PolicyCache};
pub use fetch::{FetchConfig, FetchError, Fetcher};
pub use parse::{Mode, MxPattern, Policy};

/// What discovery found for a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StsFacts {
    /// Not looked for: the facts come from somewhere that cannot (Postfix's log, an inbound
    /// session), or from before MTA-STS was known.
    NotChecked,
    /// No policy applies: no `_mta-sts` record and nothing cached, or a failure with nothing
    /// cached (§5.1: deliver as if the domain had no policy); the failure, if there was one.
    NoPolicy {
        /// What failed (a lookup, a fetch, a malformed record or policy), when something did.
        problem: Option<StsProblem>,
    },
    /// A policy applies.
    Applies {
        /// The policy, with its id and lifetime.
        cached: CachedPolicy,
        /// Where it came from now.
        source: StsSource,
    },
}

impl StsFacts {
    /// The policy that applies, if one does.
    pub fn applied(&self) -> Option<&CachedPolicy> {
        match self {
            StsFacts::Applies { cached, .. } => Some(cached),
            _ => None,
        }
    }
}

/// How the applying policy was had this time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StsSource {
    /// Fetched now.
    Fetched,
    /// From the cache, the TXT record's id unchanged.
    Cached,
    /// From the cache because the lookup or the fetch failed (the failure in words).
    CachedAfterFailure(StsProblem),
    /// From the cache although the `_mta-sts` record vanished: a possible downgrade.
    RecordVanished,
}

/// A failure on the way to a domain's policy: the step that failed and what happened, in
/// words. The step is what TLS reporting names (RFC 8460 §4.3.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsProblem {
    /// The step that failed.
    pub step: StsStep,
    /// What happened, in words.
    pub detail: String,
}

impl std::fmt::Display for StsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The steps of discovery that can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StsStep {
    /// The `_mta-sts` TXT lookup failed, or its records are malformed (§3.1): no policy was
    /// asked for.
    Record,
    /// The policy could not be retrieved: no address, no connection, an HTTP error or
    /// redirect, a timeout (§3.3).
    Fetch,
    /// The policy host's certificate is not valid under the WebPKI (§3.3).
    Certificate,
    /// An answer came back but is no valid policy: not `text/plain`, too large, or it does not
    /// parse (§3.2).
    Policy,
}
