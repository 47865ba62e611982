//! The simulated DNS server's round-trip time (see [`crate::latency`]): a request handler in
//! front of the catalog that holds each answer back for the round-trip time, then notes it in
//! the world's [`ReplyLog`] (the question's type and name). Questions are answered
//! concurrently (hickory-server handles each UDP request in a task of its own), so questions
//! asked together are answered together.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::Catalog;

use crate::latency::ReplyLog;

/// The catalog behind a delay.
pub(super) struct Delayed {
    pub(super) catalog: Catalog,
    pub(super) rtt: Duration,
    pub(super) log: Option<ReplyLog>,
}

/// A boxed future, as `#[async_trait]` makes them.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// hickory-server declares `RequestHandler` with `#[async_trait]`; this is the signature that
// macro produces, written out (as in `slot.rs`) so the crate needs no extra dependency.
impl RequestHandler for Delayed {
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 Request,
        response_handle: R,
    ) -> BoxFuture<'async_trait, ResponseInfo>
    where
        R: ResponseHandler + 'async_trait,
        T: Time + 'async_trait,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            if !self.rtt.is_zero() {
                tokio::time::sleep(self.rtt).await;
            }
            if let Some(log) = &self.log {
                let what = match request.request_info() {
                    Ok(info) => format!("{} {}", info.query.query_type(), info.query.name()),
                    Err(_) => "a malformed question".to_string(),
                };
                log.record("dns", what);
            }
            self.catalog
                .handle_request::<R, T>(request, response_handle)
                .await
        })
    }
}
