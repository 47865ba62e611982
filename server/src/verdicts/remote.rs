//! Changes made by the other instances sharing a PostgreSQL database (issue 16), heard with
//! `LISTEN` (PostgreSQL's `NOTIFY`, sent by every write transaction at its commit:
//! [`crate::store::CHANGES`]).
//!
//! On a change to a domain's verdict this instance forgets what it keeps in memory and tells its
//! open pages the new verdict, as if it had probed the domain itself; on a hold's decision it
//! forgets its memory. Notifications sent while the connection was down are lost, so after a
//! reconnection the memory is forgotten as well; and the store's generation, checked every few
//! seconds whatever happens here ([`super::memory::GENERATION_CHECK`]), stays the fallback.

use std::time::Duration;

use sqlx::postgres::PgListener;

use super::Verdicts;

/// How long to wait before connecting again after the listening connection failed.
const RECONNECT: Duration = Duration::from_secs(2);

/// Listens on the database at `url` until the task is aborted.
pub fn spawn(url: String, verdicts: Verdicts) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = listen(&url, &verdicts).await {
                tracing::warn!(error = %e, "not hearing other instances' changes; retrying");
            }
            verdicts.forget_all();
            tokio::time::sleep(RECONNECT).await;
        }
    })
}

/// One listening connection: returns when it fails.
async fn listen(url: &str, verdicts: &Verdicts) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.ignore_pool_close_event(true);
    listener.listen(crate::store::CHANGES).await?;
    // What changed before we listened is not known: start from the store.
    verdicts.forget_all();
    let ours = verdicts.store().instance().to_string();
    loop {
        // `None`: the connection was lost (and is re-established by the next `try_recv`).
        let Some(n) = listener.try_recv().await? else {
            verdicts.forget_all();
            continue;
        };
        let (instance, domain) = n.payload().split_once('\n').unwrap_or(("", ""));
        if instance == ours {
            continue;
        }
        if domain.is_empty() {
            verdicts.forget_all();
        } else {
            verdicts.changed_elsewhere(domain).await;
        }
    }
}
