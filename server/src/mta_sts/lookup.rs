//! Discovery (RFC 8461 §3, §5.1): the `_mta-sts.<domain>` TXT record, then the cached policy
//! or a fetch, into the [`StsFacts`] the policy judges.
//!
//! - Exactly one `v=STSv1` record with a valid `id`; anything else is no record (§3.1).
//! - Same `id` as the cached, still valid policy: the cached one applies, fetched again only
//!   when its refresh is due ([`CachedPolicy::refresh_due`]).
//! - New `id`, or nothing cached: fetch; a fetched policy is cached.
//! - A TXT lookup or fetch that fails: a valid cached policy still applies (§5.1), with the
//!   failure noted; without one, the domain is treated as having no policy (§5.1).
//! - No record while a valid policy is cached: the policy still applies (§5.1, a record removed
//!   is not a policy withdrawn: that takes `mode: none`, §8.3), and this is reported as a
//!   possible downgrade (an attacker who can strip the record cannot strip the cache).

use super::cache::{CachedPolicy, PolicyCache};
use super::fetch::Fetcher;
use super::parse::{Mode, sts_record};
use super::{StsFacts, StsProblem, StsSource, StsStep};

/// The MTA-STS facts of `domain` (A-label form) at `now`.
pub async fn discover(
    fetcher: &Fetcher,
    cache: &dyn PolicyCache,
    domain: &str,
    now: i64,
) -> StsFacts {
    let cached = match cache.load(domain).await {
        Ok(c) => c.filter(|c| c.valid_at(now)),
        Err(e) => {
            tracing::warn!(%domain, error = %e, "cannot read the cached MTA-STS policy");
            None
        }
    };
    // The records' bytes as text, non-UTF-8 bytes replaced (the parser refuses them anyway);
    // their DNSSEC status is not needed: MTA-STS trusts the HTTPS policy, not DNS (RFC 8461 §10).
    let records = fetcher
        .dns
        .txt(&format!("_mta-sts.{domain}"))
        .await
        .map(|answer| {
            answer
                .records
                .iter()
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .collect::<Vec<String>>()
        });
    let id = match records {
        Err(e) => {
            let detail = format!("the _mta-sts TXT lookup failed: {e}");
            return fallback(cached, StsStep::Record, detail);
        }
        Ok(records) => match sts_record(&records) {
            Err(e) => return fallback(cached, StsStep::Record, e.to_string()),
            Ok(None) => {
                // A cached policy of mode none withdrew itself: its record going is no downgrade.
                return match cached {
                    None => StsFacts::NoPolicy { problem: None },
                    Some(cached) if cached.policy.mode == Mode::None => StsFacts::Applies {
                        cached,
                        source: StsSource::Cached,
                    },
                    Some(cached) => StsFacts::Applies {
                        cached,
                        source: StsSource::RecordVanished,
                    },
                };
            }
            Ok(Some(id)) => id,
        },
    };
    if let Some(c) = &cached
        && c.id == id
        && !c.refresh_due(now)
    {
        return StsFacts::Applies {
            cached: c.clone(),
            source: StsSource::Cached,
        };
    }
    match fetcher.fetch(domain).await {
        Ok(policy) => {
            let fresh = CachedPolicy::fetched(id, policy, now);
            if let Err(e) = cache.save(domain, &fresh).await {
                tracing::warn!(%domain, error = %e, "cannot cache the MTA-STS policy");
            }
            StsFacts::Applies {
                cached: fresh,
                source: StsSource::Fetched,
            }
        }
        Err(e) => {
            tracing::info!(%domain, error = %e, "MTA-STS policy not fetched");
            fallback(cached, e.step(), e.to_string())
        }
    }
}

/// After a failure at `step`: the valid cached policy, or no policy; the failure noted either
/// way.
fn fallback(cached: Option<CachedPolicy>, step: StsStep, detail: String) -> StsFacts {
    let problem = StsProblem { step, detail };
    match cached {
        Some(cached) => StsFacts::Applies {
            cached,
            source: StsSource::CachedAfterFailure(problem),
        },
        None => StsFacts::NoPolicy {
            problem: Some(problem),
        },
    }
}
