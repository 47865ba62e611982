//! What the TLS policy table keeps between lookups: each domain's remembered state (judgement,
//! history, floor, [`Remembered`]) as last read from the store, tagged with the store's
//! generation at the time of reading ([`Store::generation`]).
//!
//! A lookup reads the generation (one row) and uses a kept entry only when its generation is
//! the same; otherwise it reads the whole state again. Every committed write to what is
//! remembered, by this process or another (a probe, a delivery's observation, `sendguard holds
//! release`), raises the generation, so an answer is exactly as fresh as a read of the whole
//! state would have been: a hold committed before the lookup is always seen. The generation is
//! read before the state, so a state is never kept under a generation newer than itself.
//! Bounded: at most [`CAPACITY`] domains; when full, entries of older generations go first,
//! then any.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::{Remembered, Store, StoreError};

/// At most this many domains are kept.
pub const CAPACITY: usize = 100_000;

/// A kept state (`None`: never seen) and the generation it was read at.
type Entry = (i64, Option<Arc<Remembered>>);

/// The kept states. Shared by the table's connections.
#[derive(Debug, Default)]
pub struct Memo {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Memo {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What `store` remembers of `domain` now: the kept state when the store has not changed
    /// since it was read, else read again (and kept).
    pub async fn remembered(
        &self,
        store: &Store,
        domain: &str,
    ) -> Result<Option<Arc<Remembered>>, StoreError> {
        let generation = store.generation().await?;
        if let Some((kept, state)) = self.lock().get(domain)
            && *kept == generation
        {
            return Ok(state.clone());
        }
        let state = store.remembered(domain).await?.map(Arc::new);
        self.keep(domain, generation, state.clone());
        Ok(state)
    }

    fn keep(&self, domain: &str, generation: i64, state: Option<Arc<Remembered>>) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(domain) {
            entries.retain(|_, (kept, _)| *kept >= generation);
            if entries.len() >= CAPACITY
                && let Some(victim) = entries.keys().next().cloned()
            {
                entries.remove(&victim);
            }
        }
        entries.insert(domain.to_string(), (generation, state));
    }
}
