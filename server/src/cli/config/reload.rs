//! SIGHUP for a running `serve`: the configuration file is read again and the keys of
//! [`RELOADABLE_KEYS`] take effect at once, for new requests, without dropping a connection;
//! a changed key that needs a restart is logged by name. A file that no longer parses is
//! refused as a whole (logged with its line and key) and the running configuration stays.
//! The TLS certificate is re-read on the same signal by `http::https`.

use tokio::task::JoinHandle;

use super::{Change, RELOADABLE_KEYS, reread};
use crate::http::AppState;
use crate::verdicts::alerts::Alerts;

/// Watches for SIGHUP for as long as the runtime runs, applying the file's new values to
/// `state` (the admin token) and `alerts` (the webhook).
pub fn spawn(state: AppState, alerts: Alerts) -> JoinHandle<()> {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot watch for SIGHUP: the configuration file is not re-read");
            return;
        };
        while hangups.recv().await.is_some() {
            if super::applied().is_none() {
                tracing::info!("SIGHUP: no configuration file in use, nothing to re-read");
                continue;
            }
            match reread() {
                Ok(changes) => apply(&changes, &state, &alerts),
                Err(e) => tracing::error!(
                    reason = "config_refused",
                    error = %e,
                    "configuration file refused on SIGHUP: nothing changed"
                ),
            }
        }
    })
}

/// Applies what can change at run time; names what cannot.
fn apply(changes: &[Change], state: &AppState, alerts: &Alerts) {
    let mut applied = Vec::new();
    for change in changes {
        if !change.reloadable {
            tracing::warn!(
                key = change.key,
                reason = "restart_needed",
                "changed in the configuration file: takes effect at the next start"
            );
            continue;
        }
        match change.key {
            "accounts.admin_token" => state.set_admin_token(change.value.clone()),
            "alerts.webhook" => {
                if let Err(e) = alerts.set_webhook(change.value.as_deref()) {
                    tracing::error!(key = change.key, error = %e, "not applied");
                    continue;
                }
            }
            other => debug_assert!(!RELOADABLE_KEYS.contains(&other), "{other} not applied"),
        }
        applied.push(change.key);
    }
    tracing::info!(
        applied = applied.join(","),
        "configuration file re-read on SIGHUP"
    );
}
