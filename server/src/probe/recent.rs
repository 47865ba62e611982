//! What the probe remembers of recent SMTP sessions, bounded in size and age: the result of each
//! session by server (host name and address), reused within the minimum re-contact interval, and
//! the times each address was contacted, so that many MX names pointing at one address cannot
//! make the prober contact it more than a few times per interval.
//!
//! Entries older than the interval are of no use and are dropped on the next write once the
//! interval has passed; a map that is still full then loses its oldest entries first.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Recent sessions by key `K` (host name and address) with their results `V`, and recent
/// contacts by address.
#[derive(Debug)]
pub struct Recent<K, V> {
    interval: Duration,
    capacity: usize,
    per_address: usize,
    sessions: HashMap<K, (Instant, V)>,
    contacts: HashMap<IpAddr, VecDeque<Instant>>,
    swept: Instant,
}

/// Whether a new session with an address may start now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Yes; the contact is counted.
    Admitted,
    /// No: the address was contacted this many times within the interval.
    TooSoon(usize),
}

impl<K: Eq + Hash + Clone, V: Clone> Recent<K, V> {
    /// Remembers sessions for `interval`, at most `capacity` sessions and addresses, and admits
    /// at most `per_address` sessions with one address per interval (each at least 1).
    pub fn new(interval: Duration, capacity: usize, per_address: usize) -> Self {
        Self {
            interval,
            capacity: capacity.max(1),
            per_address: per_address.max(1),
            sessions: HashMap::new(),
            contacts: HashMap::new(),
            swept: Instant::now(),
        }
    }

    /// The result of a session with `key` younger than the interval.
    pub fn get(&self, key: &K) -> Option<V> {
        self.sessions
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.interval)
            .map(|(_, v)| v.clone())
    }

    /// Remembers the result of a session that just ended.
    pub fn put(&mut self, key: K, value: V) {
        self.sweep();
        if self.sessions.len() >= self.capacity && !self.sessions.contains_key(&key) {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.sessions.remove(&k);
            }
        }
        self.sessions.insert(key, (Instant::now(), value));
    }

    /// Counts a new session with `ip` unless it had `per_address` sessions within the interval;
    /// `force` (an operator's fresh probe) counts it in any case.
    pub fn admit(&mut self, ip: IpAddr, force: bool) -> Admission {
        self.sweep();
        let interval = self.interval;
        if self.contacts.len() >= self.capacity && !self.contacts.contains_key(&ip) {
            let oldest = self
                .contacts
                .iter()
                .min_by_key(|(_, times)| times.back().copied())
                .map(|(ip, _)| *ip);
            if let Some(old) = oldest {
                self.contacts.remove(&old);
            }
        }
        let times = self.contacts.entry(ip).or_default();
        while times.front().is_some_and(|t| t.elapsed() >= interval) {
            times.pop_front();
        }
        if !force && times.len() >= self.per_address {
            return Admission::TooSoon(times.len());
        }
        if times.len() >= self.per_address {
            times.pop_front();
        }
        times.push_back(Instant::now());
        Admission::Admitted
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.sessions.clear();
        self.contacts.clear();
    }

    /// How many sessions and addresses are remembered.
    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        (self.sessions.len(), self.contacts.len())
    }

    /// Drops what is older than the interval, at most once per interval.
    fn sweep(&mut self) {
        if self.swept.elapsed() < self.interval {
            return;
        }
        self.swept = Instant::now();
        let interval = self.interval;
        self.sessions.retain(|_, (at, _)| at.elapsed() < interval);
        self.contacts
            .retain(|_, times| times.back().is_some_and(|t| t.elapsed() < interval));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn the_map_is_bounded_in_size_and_keeps_the_newest() {
        let mut r: Recent<u32, u32> = Recent::new(Duration::from_secs(60), 3, 4);
        for k in 0..10 {
            r.put(k, k * 10);
        }
        assert_eq!(r.sizes().0, 3);
        assert_eq!(r.get(&9), Some(90), "the newest stays");
        assert_eq!(r.get(&0), None, "the oldest went first");
        for last in 0..10 {
            assert_eq!(r.admit(ip(last), false), Admission::Admitted);
        }
        assert_eq!(r.sizes().1, 3, "addresses are bounded too");
    }

    #[test]
    fn entries_older_than_the_interval_are_dropped() {
        let mut r: Recent<u32, u32> = Recent::new(Duration::from_millis(30), 100, 1);
        r.put(1, 1);
        assert_eq!(r.admit(ip(1), false), Admission::Admitted);
        assert_eq!(r.get(&1), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(r.get(&1), None, "too old to be reused");
        r.put(2, 2);
        assert_eq!(r.sizes(), (1, 0), "the old session and contact are gone");
    }

    #[test]
    fn an_address_is_contacted_at_most_per_address_times_per_interval() {
        let mut r: Recent<u32, u32> = Recent::new(Duration::from_secs(60), 100, 2);
        assert_eq!(r.admit(ip(1), false), Admission::Admitted);
        assert_eq!(r.admit(ip(1), false), Admission::Admitted);
        assert_eq!(r.admit(ip(1), false), Admission::TooSoon(2));
        assert_eq!(r.admit(ip(2), false), Admission::Admitted, "per address");
        assert_eq!(r.admit(ip(1), true), Admission::Admitted, "forced");
    }
}
