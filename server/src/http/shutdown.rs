//! Stopping: SIGTERM or Ctrl-C sets one flag that everything that must stop watches: the HTTP
//! server stops accepting connections and lets those open finish, open event streams end
//! (cleanly, the last chunk sent, so the page's EventSource sees a closed stream rather than a
//! broken one), `/api/ready` answers 503, and the delivery worker starts no new session while
//! the ones in flight finish ([`crate::delivery::worker::Worker::stop`], bounded).

use std::sync::Arc;

use tokio::sync::watch;

/// The stop flag. Cheap to clone; clones share it.
#[derive(Clone, Debug)]
pub struct Stopping(Arc<watch::Sender<bool>>);

impl Default for Stopping {
    fn default() -> Self {
        Stopping(Arc::new(watch::channel(false).0))
    }
}

impl Stopping {
    /// Sets the flag (again is harmless).
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the flag is set.
    pub async fn wait(self) {
        let mut flag = self.0.subscribe();
        let _ = flag.wait_for(|set| *set).await;
    }

    /// Sets the flag on Ctrl-C or SIGTERM, in a task of its own.
    pub fn on_signals(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            signal().await;
            tracing::info!("stopping: no new work; deliveries in flight may finish");
            this.trigger();
        });
    }
}

async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot watch for SIGTERM: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
