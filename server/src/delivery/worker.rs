//! The delivery worker inside `sendguard serve` and `demo`: at start it queues again what a
//! killed process left `sending`, then claims due recipients ([`Store::claim_due`]) and delivers
//! them, one domain per task and a bounded number of domains at once ([`Deliverer`]). It wakes
//! when a message is queued ([`Wake`]) and otherwise looks for due retries every
//! [`WorkerConfig::poll`]. [`Worker::stop`] (SIGTERM, Ctrl-C) lets the sessions in flight end.
//!
//! Guarantees: a recipient is claimed by one worker at a time, also across instances sharing a
//! PostgreSQL database (a claim is a lease the worker renews while it lives); every attempt ends
//! in the store (sent, deferred, held, failed) before the next claim of that recipient; a
//! recipient that was `sending` when its process died is attempted again after the restart
//! (SQLite) or, once its lease ran out, by another instance (PostgreSQL), so a message is
//! delivered twice only when the process died between the server's final reply and our record of
//! it (RFC 5321 §4.1.1.4 and RFC 1047: the one transaction in flight).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, watch};

use crate::probe::now_unix;
use crate::store::Store;
use crate::store::queue::DomainBatch;

use super::attempt::Deliverer;

/// Settings of the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    /// How often to look for due retries when nothing wakes the worker.
    pub poll: Duration,
    /// At most this many recipients per claim.
    pub claim_limit: u32,
    /// At most this many domains delivered to at once.
    pub concurrent_domains: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            poll: Duration::from_secs(5),
            claim_limit: 500,
            concurrent_domains: 16,
        }
    }
}

/// Wakes the worker when a message was queued. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// Tells the worker to look at the queue now.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// A running worker.
pub struct Worker {
    handle: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
    deliverer: Deliverer,
    running: Running,
}

/// Tells whether a worker's loop still runs (not stopped, not ended by a panic), for
/// `/api/ready`. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Running(watch::Receiver<()>);

impl Running {
    /// Whether the loop still runs: its end drops the sender.
    pub fn is_running(&self) -> bool {
        self.0.has_changed().is_ok()
    }
}

impl Worker {
    /// Whether its loop still runs.
    pub fn running(&self) -> Running {
        self.running.clone()
    }

    /// Stops it: no new claim and no new session from now on; the sessions in flight end
    /// (their transactions recorded), waited for at most `limit`. Recipients claimed but not yet
    /// tried stay `sending` and are queued again at the next start.
    pub async fn stop(self, limit: Duration) {
        self.deliverer.stop();
        let _ = self.stop.send(true);
        if tokio::time::timeout(limit, self.handle).await.is_err() {
            tracing::warn!(?limit, "delivery sessions still running at shutdown");
        }
    }
}

/// Starts the worker; it runs until [`Worker::stop`].
pub fn spawn(store: Store, deliverer: Deliverer, config: WorkerConfig, wake: Wake) -> Worker {
    let (stop, mut stopping) = watch::channel(false);
    let (alive, running) = watch::channel(());
    let worker = deliverer.clone();
    let handle = tokio::spawn(async move {
        // Dropped when the loop ends, however it ends.
        let _alive = alive;
        match store.requeue_interrupted(now_unix()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(n, "recipients interrupted mid-attempt queued again"),
            Err(e) => tracing::error!(error = %e, "cannot queue interrupted recipients again"),
        }
        // Aborted when the loop ends: this instance's leases then run out.
        let renewing = AbortOnDrop(spawn_lease_renewal(store.clone()));
        while !*stopping.borrow() {
            let batches = match store.claim_due(now_unix(), config.claim_limit).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim due recipients");
                    Vec::new()
                }
            };
            if batches.is_empty() {
                tokio::select! {
                    _ = wake.0.notified() => {}
                    _ = tokio::time::sleep(config.poll) => {}
                    _ = stopping.changed() => {}
                }
                continue;
            }
            run(&worker, batches, config.concurrent_domains).await;
        }
        drop(renewing);
    });
    Worker {
        handle,
        stop,
        deliverer,
        running: Running(running),
    }
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews this instance's leases three times per lease, so that another instance sharing the
/// database never claims a recipient this one is still delivering, however long its sessions
/// take; a renewal that fails is logged and tried again at the next turn (two more before the
/// lease runs out).
fn spawn_lease_renewal(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = (store.delivery_lease() / 3).max(Duration::from_millis(300));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = store.renew_leases(now_unix()).await {
                tracing::warn!(error = %e, "cannot renew the delivery leases");
            }
        }
    })
}

/// Delivers the claimed batches, at most `concurrent` domains at once; in relay mode hands
/// them to the relay.
pub async fn run(deliverer: &Deliverer, batches: Vec<DomainBatch>, concurrent: usize) {
    if let Some(relay) = deliverer.relay.clone() {
        deliverer.relay_batches(&relay, batches, concurrent).await;
        return;
    }
    futures::stream::iter(batches)
        .for_each_concurrent(concurrent.max(1), |batch| async move {
            deliverer
                .deliver_domain(&batch.domain, batch.recipients)
                .await;
        })
        .await;
}

/// One attempt for every due recipient of message `id`, in this process (`sendguard send
/// --wait`); afterwards each is sent, deferred, held or failed.
pub async fn deliver_message_now(
    store: &Store,
    deliverer: &Deliverer,
    id: i64,
    config: &WorkerConfig,
) -> Result<(), crate::store::StoreError> {
    let batches = store
        .claim_due_of(id, now_unix(), config.claim_limit)
        .await?;
    run(deliverer, batches, config.concurrent_domains).await;
    Ok(())
}
