//! Verdicts for the compose page: answered at once when known, probed in the background when
//! not, with every finished probe announced to subscribers (the page's event stream).
//!
//! Known verdicts younger than `max_age` are final; older ones are answered as they are and
//! re-probed in the background; a domain never seen is `pending` until its probe finishes.
//! The prober merges concurrent probes of a domain, so a burst of requests costs one probe.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sendguard_common::{DomainVerdict, RecipientSecurity};
use tokio::sync::broadcast;

use crate::probe::{Prober, domain_of};

/// The verdict cache and background prober behind the recipient API.
#[derive(Clone)]
pub struct Verdicts {
    inner: Arc<Inner>,
}

struct Inner {
    prober: Prober,
    max_age: Duration,
    known: Mutex<HashMap<String, (Instant, DomainVerdict)>>,
    running: Mutex<std::collections::HashSet<String>>,
    events: broadcast::Sender<DomainVerdict>,
}

impl Verdicts {
    /// Verdicts from `prober`, re-probed in the background when older than `max_age`.
    pub fn new(prober: Prober, max_age: Duration) -> Self {
        let (events, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                prober,
                max_age,
                known: Mutex::new(HashMap::new()),
                running: Mutex::new(Default::default()),
                events,
            }),
        }
    }

    /// The state of one recipient address: final, pending (a probe was started), or invalid.
    pub fn lookup(&self, address: &str) -> RecipientSecurity {
        let invalid = |error: String| RecipientSecurity::Invalid {
            address: address.to_string(),
            error,
        };
        let Some((local, _)) = address.rsplit_once('@') else {
            return invalid("the address has no @".into());
        };
        if local.is_empty() || local.len() > 64 || address.len() > 254 {
            return invalid("the part before the @ is empty or too long".into());
        }
        let domain = match domain_of(address) {
            Ok(d) => d,
            Err(e) => return invalid(e.to_string()),
        };
        let known = lock(&self.inner.known).get(&domain).cloned();
        match known {
            Some((at, verdict)) => {
                if at.elapsed() >= self.inner.max_age {
                    self.start_probe(&domain);
                }
                RecipientSecurity::Final {
                    address: address.to_string(),
                    verdict,
                }
            }
            None => {
                self.start_probe(&domain);
                RecipientSecurity::Pending {
                    address: address.to_string(),
                    domain,
                }
            }
        }
    }

    /// The known verdict of a domain (A-label form), if any.
    pub fn known(&self, domain: &str) -> Option<DomainVerdict> {
        lock(&self.inner.known).get(domain).map(|(_, v)| v.clone())
    }

    /// Every verdict finished from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DomainVerdict> {
        self.inner.events.subscribe()
    }

    fn start_probe(&self, domain: &str) {
        if !lock(&self.inner.running).insert(domain.to_string()) {
            return;
        }
        let this = self.clone();
        let domain = domain.to_string();
        tokio::spawn(async move {
            let result = this.inner.prober.verdict(&domain, false).await;
            lock(&this.inner.running).remove(&domain);
            match result {
                Ok(verdict) => {
                    lock(&this.inner.known).insert(domain, (Instant::now(), verdict.clone()));
                    // Nobody listening is fine: the verdict is kept for the next request.
                    let _ = this.inner.events.send(verdict);
                }
                Err(e) => tracing::warn!(%domain, error = %e, "probe could not start"),
            }
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
