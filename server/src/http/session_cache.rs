//! Signed-in sessions kept in memory, so that a request of a known valid session reads no
//! session or user row ([`super::auth::SignedIn`]).
//!
//! The copy is only as good as the store's session change counter says (migration 0012): every
//! ending of a session (sign-out, expiry, the sweep, a password change, a removed user) and
//! every change to a user's record bumps it in the same transaction, in whichever process or
//! server instance made it. Each request reads the counter afresh ([`SessionChanges::fresh`]:
//! a read that began after the request arrived, shared with the requests around it), and an
//! entry serves only while the counter still has the value it had when the entry's rows were
//! read. A bump empties the cache; the next request of each session reads its rows again.
//! So a revocation holds for the very next request, as it did when every request read the rows.
//!
//! Idle time and age are checked on the copy too; a session the copy finds over is looked up in
//! the store again (another instance may have used it), which decides. The last use is written
//! to the store at most once per [`TOUCH_EVERY`] seconds per session, not per request.
//! At most [`CAPACITY`] sessions are kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::changes::{ChangesError, SessionChanges};
use crate::store::Store;
use crate::store::users::UserRecord;

/// At most this many sessions are kept in memory.
pub const CAPACITY: usize = 10_000;
/// A session's last use is written to the store at most this often, in seconds.
pub const TOUCH_EVERY: i64 = 60;

/// What a request needs of its session.
#[derive(Clone, Debug)]
pub struct CachedSession {
    /// The user, as stored when the entry was made.
    pub user: UserRecord,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// When the session began, seconds since the Unix epoch.
    pub created_at: i64,
    /// When it was last used, as far as this process knows (never before the stored value).
    pub last_seen: i64,
}

#[derive(Debug)]
struct Entry {
    session: CachedSession,
    /// The last use the store holds, as far as this process knows.
    written: i64,
}

#[derive(Debug, Default)]
struct Entries {
    /// The counter's value the entries were read under.
    generation: i64,
    /// By the SHA-256 (hex) of the session's token.
    map: HashMap<String, Entry>,
}

impl Entries {
    /// Follows the counter: a newer value than the entries' empties the map.
    fn follow(&mut self, generation: i64) {
        if generation > self.generation {
            self.map.clear();
            self.generation = generation;
        }
    }
}

/// The sessions in memory and the counter they follow. Cheap to clone; clones share both.
#[derive(Clone, Debug)]
pub struct SessionCache {
    changes: SessionChanges,
    entries: Arc<Mutex<Entries>>,
}

impl SessionCache {
    /// An empty cache following `store`'s counter.
    pub fn new(store: Store) -> Self {
        SessionCache {
            changes: SessionChanges::new(store),
            entries: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counter, read after this call began: what [`Self::get`] and [`Self::insert`] take.
    pub async fn generation(&self) -> Result<i64, ChangesError> {
        self.changes.fresh().await
    }

    /// The session stored under `key` when it was read under `generation` and nothing changed
    /// since.
    pub fn get(&self, key: &str, generation: i64) -> Option<CachedSession> {
        let mut entries = self.lock();
        entries.follow(generation);
        if entries.generation != generation {
            return None;
        }
        entries.map.get(key).map(|e| e.session.clone())
    }

    /// Keeps `session`, whose rows were read after the counter was `generation`; ignored when
    /// the counter has moved on since (the rows may be out of date).
    pub fn insert(&self, key: &str, generation: i64, session: CachedSession) {
        let mut entries = self.lock();
        entries.follow(generation);
        if entries.generation != generation {
            return;
        }
        if entries.map.len() >= CAPACITY && !entries.map.contains_key(key) {
            entries.map.clear();
        }
        let written = session.last_seen;
        entries
            .map
            .insert(key.to_string(), Entry { session, written });
    }

    /// Forgets the session under `key`.
    pub fn remove(&self, key: &str) {
        self.lock().map.remove(key);
    }

    /// Notes a use of the session under `key` at `now`; whether the caller should write it to
    /// the store now (at most once per [`TOUCH_EVERY`]; decided by `stored_last_seen` when the
    /// session is not kept).
    pub fn used(&self, key: &str, now: i64, stored_last_seen: i64) -> bool {
        let mut entries = self.lock();
        let Some(entry) = entries.map.get_mut(key) else {
            return now - stored_last_seen >= TOUCH_EVERY;
        };
        entry.session.last_seen = entry.session.last_seen.max(now);
        if now - entry.written >= TOUCH_EVERY {
            entry.written = now;
            return true;
        }
        false
    }

    /// How many sessions are kept.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::users::Role;

    fn session(last_seen: i64) -> CachedSession {
        CachedSession {
            user: UserRecord {
                id: "maxima".into(),
                display_name: "Maxima".into(),
                role: Role::User,
                addresses: vec!["maxima@example.org".into()],
                created_at: 0,
                password_changed_at: 0,
            },
            csrf_token: "c".into(),
            created_at: 0,
            last_seen,
        }
    }

    async fn cache() -> (SessionCache, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).await.unwrap();
        (SessionCache::new(store), dir)
    }

    #[tokio::test]
    async fn an_entry_serves_only_under_the_counter_it_was_read_under() {
        let (cache, _dir) = cache().await;
        cache.insert("a", 3, session(100));
        assert!(cache.get("a", 3).is_some());
        assert!(cache.get("a", 4).is_none(), "a change since");
        assert!(cache.is_empty(), "a newer counter empties the cache");
        assert!(
            cache.get("a", 3).is_none(),
            "an older read never revives it"
        );
        cache.insert("b", 3, session(100));
        assert!(
            cache.is_empty(),
            "rows read under an older counter are not kept"
        );
        cache.insert("b", 4, session(100));
        assert_eq!(cache.len(), 1);
        cache.remove("b");
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn the_last_use_is_written_at_most_once_a_minute() {
        let (cache, _dir) = cache().await;
        cache.insert("a", 0, session(1000));
        assert!(!cache.used("a", 1030, 1000));
        assert_eq!(cache.get("a", 0).unwrap().last_seen, 1030, "kept in memory");
        assert!(
            cache.used("a", 1060, 1000),
            "a minute after the stored value"
        );
        assert!(!cache.used("a", 1061, 1000), "written just now");
        assert!(cache.used("a", 1120, 1000));
        assert!(
            cache.used("b", 1120, 1000),
            "not kept: decided by the stored value"
        );
        assert!(!cache.used("b", 1120, 1100));
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let (cache, _dir) = cache().await;
        for i in 0..CAPACITY + 5 {
            cache.insert(&i.to_string(), 0, session(0));
        }
        assert!(cache.len() <= CAPACITY);
    }
}
