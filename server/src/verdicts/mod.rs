//! Verdicts for the compose page and the CLI: answered at once from the store when known,
//! probed in the background when not, every probe recorded and judged with history, every
//! finished probe announced to subscribers (the page's event stream). [`record`] is the one path
//! from facts to memory that every probe (and later every delivery) takes, and [`release`] the
//! one path for an administrator's release.
//!
//! Known verdicts younger than `max_age` are final; older ones are answered as they are, marked
//! `rechecking`, and re-probed in the background (the event stream then carries the new verdict,
//! so an open page learns of a server that fell below its level); a domain never seen is
//! `pending` (the badge shows "SSL?") until its probe finishes. Every probe goes through [`Store::record`], so its observations are kept,
//! floors rise, and a downgrade raises a hold (and an alert) before any verdict is shown. The
//! prober merges concurrent probes of a domain, so a burst of requests costs one probe.
//!
//! With a resolver self-test attached ([`Verdicts::with_resolver_check`]) and not passing,
//! every verdict is "SSL?" and blocked with the self-test's reason, and no probe starts
//! ([`resolver`] says why).

pub mod alerts;
pub mod answer;
pub mod memory;
pub mod remote;
pub mod resolver;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sendguard_common::{
    BlockCause, DnssecStatus, DomainVerdict, HoldView, ObservationSource, RecipientSecurity,
    SecurityClass, TransportRequirement,
};
use tokio::sync::broadcast;

use crate::policy;
use crate::probe::facts::DomainFacts;
use crate::probe::{ProbeError, Prober, domain_of_address, now_unix};
use crate::store::{Remembered, Store, StoreError};

/// What recording one probe (or delivery) did.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The verdict with history applied, as of this transaction.
    pub verdict: DomainVerdict,
    /// Holds raised by this probe.
    pub new_holds: Vec<HoldView>,
    /// The judgement the verdict was made of, with the history and floor as of this
    /// transaction.
    pub remembered: Remembered,
}

impl Recorded {
    /// What a delivery to the domain does now: [`policy::plan`] of this judgement and history,
    /// for a sender with the minimum `secure` (a secure address) or none.
    pub fn plan(&self, secure: Option<TransportRequirement>) -> policy::DomainPlan {
        self.remembered.plan_with(&self.verdict, secure)
    }
}

/// The one path from facts to memory: judges `facts` ([`policy::judge`]), loads what is
/// remembered, computes the transition ([`policy::transition`]), persists both and views the
/// verdict with the history this transaction wrote, all in one write transaction.
pub async fn record(
    store: &Store,
    facts: &DomainFacts,
    source: ObservationSource,
) -> Result<Recorded, StoreError> {
    let judgement = policy::judge(facts);
    let mut tx = store.begin_write().await?;
    let prior = tx.prior(&judgement).await?;
    let transition = policy::transition(&judgement, &prior);
    let new_hold_ids = tx.persist(&judgement, &transition, source).await?;
    // Viewed with the history this transaction wrote, not with what a later probe may have
    // committed by the time it is read again.
    let history = tx.history(&judgement).await?;
    tx.commit().await?;
    Ok(Recorded {
        verdict: policy::view::verdict(&judgement, &history),
        new_holds: store.holds_by_id(&new_hold_ids).await?,
        remembered: Remembered {
            judgement,
            history,
            domain_floor: transition.domain_floor,
        },
    })
}

/// An administrator releases every open hold of `host` ([`policy::release`]): the level that
/// fell short becomes the floor of the server and of the domains concerned. Recorded in the
/// audit log as `actor`'s.
pub async fn release(store: &Store, host: &str, actor: &str) -> Result<Vec<HoldView>, StoreError> {
    let mut tx = store.begin_write().await?;
    let open = tx.open_holds(host).await?;
    let held: Vec<_> = open.iter().map(|(_, h)| h.clone()).collect();
    let (own, domains) = tx.floors(host, &held).await?;
    let Some(decision) = policy::release(&held, own, &domains) else {
        return Err(StoreError::NoOpenHold(host.to_string()));
    };
    let ids: Vec<i64> = open.iter().map(|(id, _)| *id).collect();
    tx.apply_release(host, &ids, &decision, actor, now_unix())
        .await?;
    tx.commit().await?;
    // Held messages go out again at the newly accepted level; those still blocked by another
    // hold are held again by their next attempt.
    let requeued = store.requeue_held(now_unix()).await?;
    tracing::info!(
        event = "release",
        %host,
        user = %actor,
        reason = "released",
        requeued,
        "released; held recipients queued again"
    );
    store.holds_by_id(&ids).await
}
use crate::verdicts::alerts::Alerts;

/// Why a verdict could not be formed.
#[derive(Debug, thiserror::Error)]
pub enum VerdictError {
    /// The probe could not start (bad input or resolver setup): permanent.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// The store failed; see [`StoreError::is_temporary`].
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Not probed: the resolver self-test fails, so no DNS answer can be relied on
    /// ([`resolver`]). Temporary.
    #[error("{0}")]
    ResolverNotValidating(String),
}

/// The verdict store and background prober behind the recipient API and the CLI.
#[derive(Clone)]
pub struct Verdicts {
    inner: Arc<Inner>,
}

struct Inner {
    prober: Prober,
    store: Store,
    alerts: Alerts,
    max_age: Duration,
    memory: memory::Memory,
    running: Mutex<HashSet<String>>,
    events: broadcast::Sender<DomainVerdict>,
    resolver: OnceLock<resolver::ResolverCheck>,
}

impl Verdicts {
    /// Verdicts from `prober`, remembered in `store`, re-probed in the background when older
    /// than `max_age`; new holds are announced through `alerts`.
    pub fn new(prober: Prober, store: Store, alerts: Alerts, max_age: Duration) -> Self {
        let (events, _) = broadcast::channel(1024);
        // MTA-STS policies are cached in the store (RFC 8461 §5.1: across restarts).
        prober.use_policy_cache(Arc::new(store.clone()));
        Self {
            inner: Arc::new(Inner {
                prober,
                store,
                alerts,
                max_age,
                memory: memory::Memory::default(),
                running: Mutex::new(HashSet::new()),
                events,
                resolver: OnceLock::new(),
            }),
        }
    }

    /// Judges nothing while `check` does not pass ([`resolver`]). Attached once, before the
    /// service is used; a second check is ignored.
    pub fn with_resolver_check(self, check: resolver::ResolverCheck) -> Self {
        let _ = self.inner.resolver.set(check);
        self
    }

    /// The resolver self-test, when one is attached.
    pub fn resolver_check(&self) -> Option<&resolver::ResolverCheck> {
        self.inner.resolver.get()
    }

    /// Why no verdict can be formed now: the attached self-test does not pass. `None` without a
    /// self-test, or while it passes.
    pub fn resolver_failure(&self) -> Option<String> {
        self.inner.resolver.get()?.state().failure()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The alerts (and their counters).
    pub fn alerts(&self) -> &Alerts {
        &self.inner.alerts
    }

    /// The state of one recipient address: final, pending (a probe was started), or invalid.
    pub async fn lookup(&self, address: &str) -> RecipientSecurity {
        self.answer(address).await.into_wire()
    }

    /// [`Verdicts::lookup`], with a known verdict's JSON made once ([`answer::Answer`]).
    pub async fn answer(&self, address: &str) -> answer::Answer {
        match self.answer_within(address, &mut || true).await {
            Ok(a) | Err(OverBudget(a)) => a,
        }
    }

    /// [`Verdicts::answer`], starting a new probe only when `budget` allows it (the caller's
    /// limit of new probes): a domain never seen whose probe is refused is
    /// [`OverBudget`]; a known one is answered as it is, and checked again later.
    pub async fn answer_within(
        &self,
        address: &str,
        budget: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<answer::Answer, OverBudget> {
        let invalid = |error: String| {
            answer::Answer::Other(RecipientSecurity::Invalid {
                address: address.to_string(),
                error,
            })
        };
        let parsed = match sendguard_common::address::Address::parse(address) {
            Ok(parsed) => parsed,
            Err(e) => return Ok(invalid(e.to_string())),
        };
        let domain = match domain_of_address(address, &parsed) {
            Ok(d) => d,
            Err(e) => return Ok(invalid(e.to_string())),
        };
        if let Some(why) = self.resolver_failure() {
            return Ok(answer::Answer::Other(RecipientSecurity::Final {
                address: address.to_string(),
                verdict: not_judged(&domain, BlockCause::ResolverNotValidating, why),
                rechecking: false,
            }));
        }
        match self.known_entry(&domain).await {
            Some(known) => {
                let checked = known.verdict.checked_at.unwrap_or(0);
                let age = now_unix().saturating_sub(checked);
                let rechecking = (age < 0 || age as u64 >= self.inner.max_age.as_secs())
                    && self.start_probe(&domain, budget);
                Ok(answer::Answer::Known {
                    address: address.to_string(),
                    known,
                    rechecking,
                })
            }
            None => {
                let pending = answer::Answer::Other(RecipientSecurity::Pending {
                    address: address.to_string(),
                    domain: domain.clone(),
                });
                if self.start_probe(&domain, budget) {
                    Ok(pending)
                } else {
                    Err(OverBudget(pending))
                }
            }
        }
    }

    /// The known verdicts among `domains` (A-label form): from memory, the rest read from the
    /// store in one transaction ([`Store::verdicts`]) and then kept in memory. A store failure
    /// is logged and answered as "not known".
    pub async fn known_all(&self, domains: &[String]) -> Vec<DomainVerdict> {
        if let Some(why) = self.resolver_failure() {
            let cause = BlockCause::ResolverNotValidating;
            return domains
                .iter()
                .map(|d| not_judged(d, cause, why.clone()))
                .collect();
        }
        self.check_generation().await;
        let mut known = Vec::with_capacity(domains.len());
        let mut missing = Vec::new();
        for d in domains {
            match self.inner.memory.get(d) {
                Some(k) => known.push(k.verdict.clone()),
                None => missing.push(d.clone()),
            }
        }
        match self.inner.store.verdicts(&missing).await {
            Ok(read) => {
                for v in read {
                    known.push(v.clone());
                    self.remember(v);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read verdicts from the store"),
        }
        known
    }

    /// The known verdict of a domain (A-label form) with its history, if any: from memory,
    /// else from the store (then kept in memory). A store failure is logged and answered as
    /// "not known", so the page waits for the probe.
    pub async fn known(&self, domain: &str) -> Option<DomainVerdict> {
        self.known_entry(domain).await.map(|k| k.verdict.clone())
    }

    /// Drops the memory when another process changed the store (checked at most once per
    /// [`memory::GENERATION_CHECK`]).
    async fn check_generation(&self) {
        let memory = &self.inner.memory;
        if memory.generation_check_due() {
            match self.inner.store.generation().await {
                Ok(g) => memory.observe_generation(g),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the store's generation");
                    memory.clear();
                }
            }
        }
    }

    async fn known_entry(&self, domain: &str) -> Option<Arc<memory::Known>> {
        self.check_generation().await;
        if let Some(known) = self.inner.memory.get(domain) {
            return Some(known);
        }
        match self.inner.store.verdict(domain).await {
            Ok(Some(v)) => self.remember(v),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(%domain, error = %e, "cannot read the verdict from the store");
                None
            }
        }
    }

    /// Keeps `verdict` in memory with its JSON. A verdict that cannot be serialized (which
    /// the wire types make impossible) is logged and treated as not known.
    fn remember(&self, verdict: DomainVerdict) -> Option<Arc<memory::Known>> {
        let domain = verdict.domain.clone();
        match memory::Known::new(verdict) {
            Ok(known) => {
                let known = Arc::new(known);
                self.inner.memory.put(known.clone());
                Some(known)
            }
            Err(e) => {
                tracing::error!(%domain, error = %e, "cannot serialize a verdict");
                None
            }
        }
    }

    /// Releases the open holds of `host` ([`release`]) and forgets the verdicts in memory.
    pub async fn release(&self, host: &str, actor: &str) -> Result<Vec<HoldView>, StoreError> {
        let released = release(&self.inner.store, host, actor).await;
        self.inner.memory.clear();
        released
    }

    /// Keeps delivery to `host` stopped ([`Store::keep`]) and forgets the verdicts in memory.
    pub async fn keep(&self, host: &str, actor: &str) -> Result<Vec<HoldView>, StoreError> {
        let kept = self.inner.store.keep(host, actor).await;
        if kept.is_ok() {
            tracing::info!(event = "keep", %host, user = %actor, reason = "kept", "kept on hold");
        }
        self.inner.memory.clear();
        kept
    }

    /// Forgets every verdict kept in memory (another instance changed the store).
    pub fn forget_all(&self) {
        self.inner.memory.clear();
    }

    /// Another instance recorded a new verdict of `domain`: forgets the memory (its holds may
    /// touch other domains' servers too) and tells this instance's open pages the new verdict.
    pub async fn changed_elsewhere(&self, domain: &str) {
        self.inner.memory.clear();
        match self.inner.store.verdict(domain).await {
            Ok(Some(v)) => {
                if let Some(known) = self.remember(v) {
                    // Nobody listening is fine.
                    let _ = self.inner.events.send(known.verdict.clone());
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(%domain, error = %e, "cannot read another instance's verdict"),
        }
    }

    /// Every verdict finished from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DomainVerdict> {
        self.inner.events.subscribe()
    }

    /// Probes the domain of `input` now, records what was seen, raises alerts for new holds
    /// and returns the verdict with history. `fresh` skips the minimum re-probe interval.
    pub async fn probe_now(&self, input: &str, fresh: bool) -> Result<DomainVerdict, VerdictError> {
        Ok(self.probe_recorded(input, fresh).await?.1.verdict)
    }

    /// Like [`Verdicts::probe_now`], also giving the facts and all that was recorded: what a
    /// delivery plans with. Within the minimum re-probe interval the servers' recent sessions
    /// are used again, so a delivery does not contact a server twice for one message.
    pub async fn probe_recorded(
        &self,
        input: &str,
        fresh: bool,
    ) -> Result<(Arc<DomainFacts>, Recorded), VerdictError> {
        if let Some(why) = self.resolver_failure() {
            return Err(VerdictError::ResolverNotValidating(why));
        }
        let facts = self.inner.prober.probe(input, fresh).await?;
        let recorded = self.publish(&facts, ObservationSource::Probe).await?;
        Ok((facts, recorded))
    }

    /// Records what a delivery showed ([`record`] with `source` delivery for ours, postfix for
    /// the operator's Postfix), raises alerts for new holds and tells open pages, like a probe.
    pub async fn record_observed(
        &self,
        facts: &DomainFacts,
        source: ObservationSource,
    ) -> Result<Recorded, StoreError> {
        self.publish(facts, source).await
    }

    async fn publish(
        &self,
        facts: &DomainFacts,
        source: ObservationSource,
    ) -> Result<Recorded, StoreError> {
        let recorded = record(&self.inner.store, facts, source).await?;
        crate::metrics::count_verdict(&recorded.verdict);
        self.inner.memory.forget_related(&recorded.verdict);
        self.remember(recorded.verdict.clone());
        for hold in &recorded.new_holds {
            self.inner.alerts.raise(hold);
        }
        let sts = &recorded.remembered.judgement.mta_sts;
        if let (true, Some(p)) = (sts.downgrade, &sts.policy) {
            self.inner
                .alerts
                .mta_sts_downgrade(&facts.domain, &p.id, p.expires_at);
        }
        if source != ObservationSource::Probe {
            let _ = self.inner.events.send(recorded.verdict.clone());
        }
        Ok(recorded)
    }

    /// Starts a background probe of `domain` (an A-label domain) unless one is running; its
    /// verdict is recorded and announced like any other.
    pub fn probe_in_background(&self, domain: &str) {
        self.start_probe(domain, &mut || true);
    }

    /// The prober (its address guard and SMTP settings serve deliveries too).
    pub fn prober(&self) -> &Prober {
        &self.inner.prober
    }

    /// Starts a background probe of `domain` unless one is running (then `budget` is not
    /// asked); whether one is running now.
    fn start_probe(&self, domain: &str, budget: &mut (dyn FnMut() -> bool + Send)) -> bool {
        {
            let mut running = lock(&self.inner.running);
            if running.contains(domain) {
                return true;
            }
            if !budget() {
                return false;
            }
            running.insert(domain.to_string());
        }
        let this = self.clone();
        let domain = domain.to_string();
        tokio::spawn(async move {
            let result = this.probe_now(&domain, false).await;
            lock(&this.inner.running).remove(&domain);
            let verdict = match result {
                Ok(v) => v,
                Err(VerdictError::Probe(e)) => {
                    tracing::warn!(%domain, error = %e, "probe could not start");
                    return;
                }
                Err(VerdictError::ResolverNotValidating(why)) => {
                    not_judged(&domain, BlockCause::ResolverNotValidating, why)
                }
                Err(VerdictError::Store(e)) => {
                    // Without the memory a downgrade cannot be recognised: never reassure.
                    tracing::error!(%domain, error = %e, "cannot record the probe");
                    not_judged(
                        &domain,
                        BlockCause::HistoryUnavailable,
                        "Sendguard cannot consult its history of this domain's mail servers right now; delivery is deferred.".into(),
                    )
                }
            };
            // Nobody listening is fine: the verdict is in the store for the next request.
            let _ = this.inner.events.send(verdict);
        });
        true
    }
}

/// A new probe was needed and the caller's budget refused it; carries the answer it would
/// have had (`pending`), for callers that answer anyway.
#[derive(Debug)]
pub struct OverBudget(pub answer::Answer);

/// The verdict shown when nothing can be judged now (the store cannot be used, the resolver
/// does not validate): unknown and blocked, so delivery is deferred ([`policy::plan`]), with
/// `cause` and `reason`. Never stored, never remembered.
fn not_judged(domain: &str, cause: BlockCause, reason: String) -> DomainVerdict {
    DomainVerdict {
        domain: domain.to_string(),
        class: SecurityClass::Unknown,
        blocked: true,
        cause: Some(cause),
        reason,
        dnssec: DnssecStatus::Indeterminate,
        mx: Vec::new(),
        checked_at: Some(now_unix()),
        mta_sts: None,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
