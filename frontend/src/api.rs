//! All HTTP between the page and the Sendguard server, typed with the `sendguard-common` wire
//! types. One helper per method returns `Result<T, ApiError>`; requests made by a view are
//! aborted when that view goes away (`AbortController`), so no answer lands in a dead view.

use gloo_net::http::{Request, Response};
use leptos::prelude::on_cleanup;
use send_wrapper::SendWrapper;
use sendguard_common::{ApiErrorBody, Health, paths};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why an API call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The server could not be reached (network error or aborted request).
    #[error("the server cannot be reached: {0}")]
    Network(String),
    /// The server answered with an error; the message is the server's.
    #[error("{message}")]
    Server {
        /// HTTP status code.
        status: u16,
        /// The server's short message.
        message: String,
    },
    /// The answer was not what the API promises.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

/// An abort signal tied to the current reactive owner: the request is aborted on cleanup.
fn abort_on_cleanup() -> Option<web_sys::AbortSignal> {
    let controller = web_sys::AbortController::new().ok()?;
    let signal = controller.signal();
    let controller = SendWrapper::new(controller);
    on_cleanup(move || controller.abort());
    Some(signal)
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    if !response.ok() {
        let status = response.status();
        let message = match response.json::<ApiErrorBody>().await {
            Ok(body) => body.error,
            Err(_) => response.status_text(),
        };
        return Err(ApiError::Server { status, message });
    }
    response
        .json::<T>()
        .await
        .map_err(|e| ApiError::Decode(e.to_string()))
}

/// `GET` a JSON document.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    let signal = abort_on_cleanup();
    let response = Request::get(path)
        .abort_signal(signal.as_ref())
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    decode(response).await
}

/// `POST` a JSON body and read a JSON answer.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    let signal = abort_on_cleanup();
    let response = Request::post(path)
        .abort_signal(signal.as_ref())
        .json(body)
        .map_err(|e| ApiError::Decode(e.to_string()))?
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    decode(response).await
}

/// The server's health and, in the demo, the simulated domains.
pub async fn health() -> Result<Health, ApiError> {
    get_json(paths::HEALTH).await
}
