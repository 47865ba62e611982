//! Postfix integration: the services an operator's Postfix asks, each a view of the same
//! judgement as the badge: the TLS policy table ([`tls_policy`], socketmap_table(5) with
//! [`netstring`] framing), so Postfix delivers with the security level Sendguard learned, and the
//! inbound policy service ([`inbound`], SMTPD_POLICY_README), so mail to a secure address is
//! accepted only over TLS; and learning from Postfix's own deliveries ([`follow`] its log,
//! [`maillog`] lines read, [`learn`] what they prove), so a downgrade Postfix sees raises a
//! hold like one a probe sees. The table keeps what it read between lookups while the store
//! has not changed ([`memo`]).

pub mod follow;
pub mod inbound;
pub mod inbound_seen;
pub mod learn;
pub mod maillog;
pub mod memo;
pub mod netstring;
pub mod tls_policy;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Accepts connections on `listener` until the process ends, each served by `serve` in its own
/// task, at most `max` at once (further ones wait in the listen queue).
pub async fn accept_loop<F, Fut>(listener: TcpListener, max: usize, serve: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(max.max(1)));
    loop {
        // Never closed: the semaphore lives as long as this loop.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "postfix service: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let served = serve(stream);
        tokio::spawn(async move {
            served.await;
            drop(permit);
        });
    }
}
