//! Known verdicts in memory, so that the compose page's questions about known domains are
//! answered without a database read: a bounded map from domain to its current verdict (with
//! history applied), filled from the store on a miss and by the same path that persists a
//! probe's transition ([`super::record`]). The store stays the durable copy.
//!
//! A probe of one domain can change the verdicts of others (a hold on a shared MX host), and an
//! administrator's decision or another process (`sendguard holds release`, another instance)
//! can change any of them. So: a recorded verdict replaces its own entry and drops every entry
//! that shares an MX host with it; a release or keep made here drops everything; and at most
//! once per [`GENERATION_CHECK`] the store's generation counter is read, and a change made by
//! anyone drops everything. Delivery does not read this map: it reads the store.
//!
//! Each entry keeps the verdict's JSON as well ([`Known::json`]), made once when the entry is
//! put, so that answering the page costs no serialization of known verdicts.
//!
//! A full map makes room by the CLOCK algorithm (second chance, an approximation of least
//! recently used): the domains wait in a ring in the order they were put; an entry read since
//! the hand last passed it is passed over once more, and the first one not read is dropped. So
//! the domains a user keeps writing to stay, and a burst of cold lookups pushes out what was
//! not asked for.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sendguard_common::DomainVerdict;
use serde_json::value::RawValue;

/// A known verdict and its JSON, made once.
#[derive(Debug)]
pub struct Known {
    /// The verdict.
    pub verdict: DomainVerdict,
    /// The verdict serialized as the API sends it.
    pub json: Box<RawValue>,
}

impl Known {
    /// The entry of `verdict`, serialized now.
    pub fn new(verdict: DomainVerdict) -> Result<Known, serde_json::Error> {
        let json = serde_json::value::to_raw_value(&verdict)?;
        Ok(Known { verdict, json })
    }
}

/// How often the store's generation is compared with the one the map was filled at.
pub const GENERATION_CHECK: Duration = Duration::from_secs(1);
/// At most this many domains are kept.
pub const CAPACITY: usize = 10_000;

/// The map and what it knows about its freshness.
#[derive(Debug)]
pub struct Memory {
    state: Mutex<State>,
    capacity: usize,
}

#[derive(Debug)]
struct State {
    verdicts: HashMap<String, Entry>,
    /// The CLOCK's ring: every domain in `verdicts`, in the order it was put (a domain removed
    /// or put again may leave a stale or second place behind, skipped by the hand and dropped
    /// when the ring is rebuilt).
    ring: VecDeque<String>,
    /// The domains in `verdicts` by each of their MX hosts, so that dropping the domains that
    /// share a host costs a look-up, not a scan of the whole map for every recorded verdict
    /// (which was a fifth of probing's time with 10,000 domains in memory).
    by_host: HashMap<String, HashSet<String>>,
    generation: Option<i64>,
    checked: Option<Instant>,
}

/// One kept verdict, and whether it was read since the CLOCK's hand last passed it.
#[derive(Debug)]
struct Entry {
    known: Arc<Known>,
    read: bool,
}

impl State {
    fn insert(&mut self, domain: String, known: Arc<Known>) {
        self.remove(&domain);
        for m in &known.verdict.mx {
            self.by_host
                .entry(m.host.clone())
                .or_default()
                .insert(domain.clone());
        }
        if self.ring.len() >= 2 * self.verdicts.len().max(16) {
            // Mostly stale places: rebuild the ring from the map, in the old order.
            let State { ring, verdicts, .. } = self;
            let mut seen = HashSet::with_capacity(verdicts.len());
            ring.retain(|d| verdicts.contains_key(d) && seen.insert(d.clone()));
        }
        self.ring.push_back(domain.clone());
        self.verdicts.insert(domain, Entry { known, read: false });
    }

    /// Drops one entry: the first on the ring not read since the hand last passed it.
    fn evict(&mut self) {
        // Two turns at most: the first clears every mark it passes.
        for _ in 0..2 * self.ring.len() + 1 {
            let Some(domain) = self.ring.pop_front() else {
                return;
            };
            match self.verdicts.get_mut(&domain) {
                None => continue,
                Some(entry) if entry.read => {
                    entry.read = false;
                    self.ring.push_back(domain);
                }
                Some(_) => {
                    self.remove(&domain);
                    return;
                }
            }
        }
    }

    fn remove(&mut self, domain: &str) {
        let Some(Entry { known: old, .. }) = self.verdicts.remove(domain) else {
            return;
        };
        for m in &old.verdict.mx {
            if let Some(domains) = self.by_host.get_mut(&m.host) {
                domains.remove(domain);
                if domains.is_empty() {
                    self.by_host.remove(&m.host);
                }
            }
        }
    }

    fn clear(&mut self) {
        self.verdicts.clear();
        self.ring.clear();
        self.by_host.clear();
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl Memory {
    /// An empty map holding at most `capacity` domains.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                verdicts: HashMap::new(),
                ring: VecDeque::new(),
                by_host: HashMap::new(),
                generation: None,
                checked: None,
            }),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The known verdict of `domain`, if it is in memory (marked as read, for the CLOCK).
    pub fn get(&self, domain: &str) -> Option<Arc<Known>> {
        let mut s = self.lock();
        let entry = s.verdicts.get_mut(domain)?;
        entry.read = true;
        Some(Arc::clone(&entry.known))
    }

    /// Keeps `known` as its domain's current verdict, making room when the map is full.
    pub fn put(&self, known: Arc<Known>) {
        let domain = known.verdict.domain.clone();
        let mut s = self.lock();
        if s.verdicts.len() >= self.capacity && !s.verdicts.contains_key(&domain) {
            // A dropped entry is read from the store again when asked for.
            s.evict();
        }
        s.insert(domain, known);
    }

    /// Drops the entry of `verdict`'s domain and of every domain sharing one of its MX hosts.
    pub fn forget_related(&self, verdict: &DomainVerdict) {
        let mut s = self.lock();
        let mut related: HashSet<String> = verdict
            .mx
            .iter()
            .filter_map(|m| s.by_host.get(&m.host))
            .flatten()
            .cloned()
            .collect();
        related.insert(verdict.domain.clone());
        for domain in &related {
            s.remove(domain);
        }
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Whether the store's generation should be read again now; marks the check as made.
    pub fn generation_check_due(&self) -> bool {
        let mut s = self.lock();
        let due = s.checked.is_none_or(|at| at.elapsed() >= GENERATION_CHECK);
        if due {
            s.checked = Some(Instant::now());
        }
        due
    }

    /// Takes note of the store's generation; a change since the last one drops everything.
    pub fn observe_generation(&self, generation: i64) {
        let mut s = self.lock();
        if s.generation != Some(generation) {
            s.clear();
            s.generation = Some(generation);
        }
    }

    /// How many domains are kept.
    pub fn len(&self) -> usize {
        self.lock().verdicts.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendguard_common::{DaneStatus, DnssecStatus, MxReport, SecurityClass};

    fn known(domain: &str, hosts: &[&str]) -> Arc<Known> {
        Arc::new(Known::new(verdict(domain, hosts)).unwrap())
    }

    fn verdict(domain: &str, hosts: &[&str]) -> DomainVerdict {
        DomainVerdict {
            domain: domain.into(),
            class: SecurityClass::SslOk,
            blocked: false,
            cause: None,
            reason: String::new(),
            dnssec: DnssecStatus::Insecure,
            mx: hosts
                .iter()
                .map(|h| MxReport {
                    host: h.to_string(),
                    preference: 10,
                    addresses: vec![],
                    starttls: Some(true),
                    tls_version: None,
                    cipher: None,
                    cipher_iana: None,
                    bits: None,
                    dane: DaneStatus::Insecure,
                    unsigned: None,
                    certificate: None,
                    class: SecurityClass::SslOk,
                    error: None,
                    checked_at: None,
                    on_hold: false,
                    history: None,
                    mta_sts_match: None,
                })
                .collect(),
            checked_at: Some(1),
            mta_sts: None,
        }
    }

    #[test]
    fn bounded_and_related_entries_are_dropped_together() {
        let m = Memory::with_capacity(3);
        m.put(known("a.test", &["mx.shared"]));
        m.put(known("b.test", &["mx.shared", "mx.b"]));
        m.put(known("c.test", &["mx.c"]));
        m.put(known("d.test", &["mx.d"]));
        assert_eq!(m.len(), 3, "the capacity holds");
        m.put(known("a.test", &["mx.shared"]));
        m.forget_related(&verdict("a.test", &["mx.shared"]));
        assert!(m.get("a.test").is_none() && m.get("b.test").is_none());
        let kept = m
            .get("c.test")
            .or(m.get("d.test"))
            .expect("an unrelated entry stays");
        let back: DomainVerdict = serde_json::from_str(kept.json.get()).unwrap();
        assert_eq!(back, kept.verdict, "the JSON made once is the verdict's");
    }

    #[test]
    fn a_replaced_or_evicted_entry_leaves_nothing_behind_in_the_host_index() {
        let m = Memory::with_capacity(2);
        m.put(known("a.test", &["mx.old"]));
        m.put(known("a.test", &["mx.new"]));
        m.put(known("b.test", &["mx.b"]));
        // a.test no longer uses mx.old: a verdict of another domain there leaves it alone.
        m.forget_related(&verdict("x.test", &["mx.old"]));
        assert!(m.get("a.test").is_some() && m.get("b.test").is_some());
        m.put(known("c.test", &["mx.new", "mx.b"]));
        assert_eq!(m.len(), 2, "one of a and b evicted");
        m.forget_related(&verdict("y.test", &["mx.b"]));
        assert!(m.get("c.test").is_none() && m.get("b.test").is_none());
        m.clear();
        assert!(
            m.lock().by_host.is_empty(),
            "the index empties with the map"
        );
        m.put(known("d.test", &["mx.d"]));
        m.forget_related(&verdict("d.test", &[]));
        assert!(m.is_empty() && m.lock().by_host.is_empty());
    }

    #[test]
    fn a_full_map_drops_what_was_not_read_and_keeps_what_was() {
        let m = Memory::with_capacity(100);
        let name = |i: usize| format!("d{i}.test");
        for i in 0..100 {
            m.put(known(&name(i), &[&format!("mx.{i}")]));
        }
        // A user keeps writing to every other domain while 50 new ones come in.
        for i in (0..100).step_by(2) {
            assert!(m.get(&name(i)).is_some());
        }
        for i in 100..150 {
            m.put(known(&name(i), &[&format!("mx.{i}")]));
        }
        assert_eq!(m.len(), 100);
        let dropped: Vec<usize> = (0..100).filter(|i| m.get(&name(*i)).is_none()).collect();
        assert_eq!(
            dropped,
            (1..100).step_by(2).collect::<Vec<_>>(),
            "the unread ones go"
        );
        // Forgotten and put again, often: the ring stays bounded.
        for _ in 0..1000 {
            m.forget_related(&verdict(&name(0), &["mx.0"]));
            m.put(known(&name(0), &["mx.0"]));
        }
        assert!(m.lock().ring.len() <= 200 + 1, "{}", m.lock().ring.len());
        assert_eq!(m.len(), 100);
    }

    #[test]
    fn a_new_generation_drops_everything_and_checks_are_spaced() {
        let m = Memory::default();
        m.observe_generation(1);
        m.put(known("a.test", &["mx.a"]));
        m.observe_generation(1);
        assert!(
            m.get("a.test").is_some(),
            "the same generation keeps the map"
        );
        m.observe_generation(2);
        assert!(m.is_empty());
        assert!(m.generation_check_due());
        assert!(!m.generation_check_due(), "at most one check per interval");
    }
}
