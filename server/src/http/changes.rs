//! Fresh reads of the store's session change counter (migration 0010), coalesced.
//!
//! Every request of a signed-in user needs to know whether a session may have ended or a user
//! changed since its copy in memory was made ([`super::session_cache`]): a revocation by
//! another process (`sendguard user passwd`) or another server instance must hold for the very
//! next request. That takes a read of the counter that *begins after the request arrived*; a
//! value read earlier could predate a revocation whose command has already returned.
//!
//! Such a read costs a trip to the database, so requests share them: a request joins the queue
//! of the next read, and one read at a time runs, taking the whole queue as it starts. Every
//! waiter of a read joined before the read began, so the value it gets is fresh for it; those
//! who come while a read runs wait for the next one. Under load one read answers many requests;
//! alone, a request waits for exactly one read.
//!
//! On SQLite the counter is first read where the request runs ([`crate::store::inline`]), a few
//! microseconds without the pool's thread; the shared reads are what remains when that cannot
//! be done, and PostgreSQL's way.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::store::Store;

/// Why no fresh value could be had.
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    /// The store failed to answer; the detail is the store's message.
    #[error("reading the session change counter: {0}")]
    Store(String),
    /// The read ended without an answer (its task failed).
    #[error("the read of the session change counter ended without an answer")]
    Lost,
}

type Reply = Result<i64, ChangesError>;

/// Coalesced fresh reads of [`Store::session_changes`]. Cheap to clone; clones share the queue.
#[derive(Clone, Debug)]
pub struct SessionChanges {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: Store,
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    /// Who waits for the next read.
    waiting: Vec<oneshot::Sender<Reply>>,
    /// Whether a reader task runs (it serves `waiting` before it ends).
    reading: bool,
}

impl SessionChanges {
    /// Reads `store`'s counter.
    pub fn new(store: Store) -> Self {
        SessionChanges {
            shared: Arc::new(Shared {
                store,
                queue: Mutex::new(Queue::default()),
            }),
        }
    }

    /// The counter's value as read by a read that began after this call: on this thread
    /// when the store can ([`Store::session_changes_now`], SQLite), else the next shared read.
    pub async fn fresh(&self) -> Result<i64, ChangesError> {
        if let Some(value) = self.shared.store.session_changes_now() {
            return Ok(value);
        }
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut queue = self.shared.lock();
            queue.waiting.push(tx);
            !std::mem::replace(&mut queue.reading, true)
        };
        if start {
            tokio::spawn(read_while_waited_for(self.shared.clone()));
        }
        rx.await.unwrap_or(Err(ChangesError::Lost))
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Marks the reader gone when its task ends in any way (also by a panic), so that the next
/// waiter starts another; waiters left in the queue then get [`ChangesError::Lost`] as their
/// senders are dropped.
struct Reading(Arc<Shared>);

impl Drop for Reading {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        queue.reading = false;
        queue.waiting.clear();
    }
}

/// Reads until nobody waits: each read takes the queue as it begins and answers it.
async fn read_while_waited_for(shared: Arc<Shared>) {
    let reading = Reading(shared);
    loop {
        let batch = {
            let mut queue = reading.0.lock();
            if queue.waiting.is_empty() {
                queue.reading = false;
                return;
            }
            std::mem::take(&mut queue.waiting)
        };
        let value = reading.0.store.session_changes().await;
        for tx in batch {
            let reply = match &value {
                Ok(v) => Ok(*v),
                Err(e) => Err(ChangesError::Store(e.to_string())),
            };
            let _ = tx.send(reply);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with one user and `sessions` sessions of hers, named "0", "1", ...
    async fn store(sessions: usize) -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).await.unwrap();
        store
            .add_user(&crate::store::users::NewUser {
                id: "maxima",
                display_name: "Maxima",
                role: crate::store::users::Role::User,
                addresses: &["maxima@example.org".to_string()],
                password_hash: "x",
            })
            .await
            .unwrap();
        for i in 0..sessions {
            store
                .create_session(&i.to_string(), "maxima", "csrf", 0)
                .await
                .unwrap();
        }
        (store, dir)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_sees_every_change_made_before_it_was_asked_for() {
        let (store, _dir) = store(2).await;
        assert!(store.session_changes_now().is_some(), "read on this thread");
        sees_every_change(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn so_does_a_shared_read_through_the_pool() {
        let (store, _dir) = store(2).await;
        let store = store.without_inline_reader();
        assert_eq!(store.session_changes_now(), None);
        sees_every_change(store).await;
    }

    async fn sees_every_change(store: Store) {
        let changes = SessionChanges::new(store.clone());
        let first = changes.fresh().await.unwrap();
        store.end_session("0").await.unwrap();
        assert!(changes.fresh().await.unwrap() > first, "a sign-out counts");
        // Many at once share reads, and each still sees the change made before it asked.
        let before = changes.fresh().await.unwrap();
        store.end_session("1").await.unwrap();
        let asks: Vec<_> = (0..200)
            .map(|_| {
                let c = changes.clone();
                tokio::spawn(async move { c.fresh().await.unwrap() })
            })
            .collect();
        for ask in asks {
            assert!(ask.await.unwrap() > before);
        }
        let after = changes.fresh().await.unwrap();
        store.end_session("no such session").await.unwrap();
        assert_eq!(changes.fresh().await.unwrap(), after, "nothing ended");
    }
}
