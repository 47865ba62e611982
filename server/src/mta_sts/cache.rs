//! The policy cache (RFC 8461 §5.1): a policy is kept until its max_age runs out, used while
//! the TXT record's `id` is unchanged, refreshed before it expires, and still applied when a
//! later TXT lookup or fetch fails. The persistent cache is the store's (`store/mta_sts.rs`,
//! behind [`PolicyCache`], so the probe does not depend on the store); what to do with a cached
//! policy is decided here, purely.

use futures::future::BoxFuture;

use super::parse::Policy;

/// A policy as cached: what was fetched, under which TXT `id`, and for how long it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedPolicy {
    /// The TXT record's `id` the policy was fetched under.
    pub id: String,
    /// The policy.
    pub policy: Policy,
    /// When it was fetched, seconds since the Unix epoch.
    pub fetched_at: i64,
    /// Until when it may be used: `fetched_at + max_age`.
    pub expires_at: i64,
}

impl CachedPolicy {
    /// A policy fetched now under `id`.
    pub fn fetched(id: String, policy: Policy, now: i64) -> CachedPolicy {
        let expires_at = now.saturating_add(i64::try_from(policy.max_age).unwrap_or(i64::MAX));
        CachedPolicy {
            id,
            policy,
            fetched_at: now,
            expires_at,
        }
    }

    /// Whether it may still be used at `now` (§5.1: until max_age runs out).
    pub fn valid_at(&self, now: i64) -> bool {
        now < self.expires_at
    }

    /// Whether it should be fetched again at `now` although the `id` is unchanged: once a
    /// day, or once half of its max_age has passed when that is shorter (§5.1 "senders SHOULD
    /// proactively refresh"), so a policy in use never runs out between two deliveries.
    pub fn refresh_due(&self, now: i64) -> bool {
        let half = (self.expires_at - self.fetched_at) / 2;
        now >= self.fetched_at + half.min(86_400)
    }
}

/// Where policies are kept between probes and restarts.
pub trait PolicyCache: Send + Sync {
    /// The cached policy of `domain`, expired or not.
    fn load<'a>(&'a self, domain: &'a str) -> BoxFuture<'a, Result<Option<CachedPolicy>, String>>;
    /// Keeps `policy` as `domain`'s, replacing what was cached.
    fn save<'a>(
        &'a self,
        domain: &'a str,
        policy: &'a CachedPolicy,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// A cache in memory, for a prober without a store (`sendguard probe` with no database, tests
/// of the prober alone).
#[derive(Default)]
pub struct MemoryCache(std::sync::Mutex<std::collections::HashMap<String, CachedPolicy>>);

/// At most this many policies are kept by a [`MemoryCache`]; beyond, it starts afresh.
const MEMORY_CAPACITY: usize = 10_000;

impl PolicyCache for MemoryCache {
    fn load<'a>(&'a self, domain: &'a str) -> BoxFuture<'a, Result<Option<CachedPolicy>, String>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let found = map.get(domain).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn save<'a>(
        &'a self,
        domain: &'a str,
        policy: &'a CachedPolicy,
    ) -> BoxFuture<'a, Result<(), String>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MEMORY_CAPACITY && !map.contains_key(domain) {
            map.clear();
        }
        map.insert(domain.to_string(), policy.clone());
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mta_sts::parse::Mode;

    fn policy(max_age: u64) -> Policy {
        Policy {
            mode: Mode::Enforce,
            mx: vec![],
            max_age,
        }
    }

    #[test]
    fn valid_until_max_age_and_refreshed_before() {
        let week = CachedPolicy::fetched("a".into(), policy(604_800), 1_000);
        assert_eq!(week.expires_at, 605_800);
        assert!(week.valid_at(605_799) && !week.valid_at(605_800));
        assert!(!week.refresh_due(1_000 + 86_399));
        assert!(week.refresh_due(1_000 + 86_400), "a day old");
        let hour = CachedPolicy::fetched("a".into(), policy(3_600), 0);
        assert!(
            !hour.refresh_due(1_799) && hour.refresh_due(1_800),
            "half its life"
        );
    }
}
