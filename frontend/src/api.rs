//! All HTTP between the page and the Sendguard server, typed with the `sendguard-common` wire
//! types. One helper per method returns `Result<T, ApiError>`; requests made by a view are
//! aborted when that view goes away (`AbortController`), so no answer lands in a dead view.

use gloo_net::http::{Request, RequestBuilder, Response};
use leptos::prelude::on_cleanup;
use send_wrapper::SendWrapper;
use sendguard_common::{
    Account, ApiErrorBody, Draft, Health, HoldView, MessageList, MessageView, ObservationView,
    SecureSendingSettings, SendRequest, paths,
};
use serde::Serialize;

use crate::i18n::{Key, Lang};
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

impl ApiError {
    /// The error in the user's language (the server's own message is kept as it is).
    pub fn message(&self, lang: Lang) -> String {
        match self {
            ApiError::Network(detail) => lang.format(Key::ApiNetwork, &[detail]),
            ApiError::Server { status, message } => {
                lang.format(Key::ApiServer, &[message, &status.to_string()])
            }
            ApiError::Decode(detail) => lang.format(Key::ApiDecode, &[detail]),
        }
    }
}

/// An abort signal tied to the current reactive owner: the request is aborted on cleanup.
fn abort_on_cleanup() -> Option<web_sys::AbortSignal> {
    let controller = web_sys::AbortController::new().ok()?;
    let signal = controller.signal();
    let controller = SendWrapper::new(controller);
    on_cleanup(move || controller.abort());
    Some(signal)
}

/// Turns an error answer into [`ApiError::Server`] with the server's message.
async fn check_ok(response: Response) -> Result<Response, ApiError> {
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let message = match response.json::<ApiErrorBody>().await {
        Ok(body) => body.error,
        Err(_) => response.status_text(),
    };
    Err(ApiError::Server { status, message })
}

/// Sends a request built by `builder` (aborted with the view); errors for non-2xx answers.
async fn fetch(
    builder: RequestBuilder,
    admin_token: Option<&str>,
    body: Option<String>,
) -> Result<Response, ApiError> {
    let signal = abort_on_cleanup();
    let mut builder = builder.abort_signal(signal.as_ref());
    if let Some(token) = admin_token {
        builder = builder.header(paths::ADMIN_TOKEN_HEADER, token);
    }
    let request = match body {
        Some(json) => builder
            .header("content-type", "application/json")
            .body(json),
        None => builder.build(),
    }
    .map_err(|e| ApiError::Decode(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    check_ok(response).await
}

/// Like [`fetch`], and decodes the JSON answer.
async fn send<T: DeserializeOwned>(
    builder: RequestBuilder,
    admin_token: Option<&str>,
    body: Option<String>,
) -> Result<T, ApiError> {
    fetch(builder, admin_token, body)
        .await?
        .json::<T>()
        .await
        .map_err(|e| ApiError::Decode(e.to_string()))
}

fn to_json<B: Serialize>(body: &B) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|e| ApiError::Decode(e.to_string()))
}

/// `GET` a JSON document.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    send(Request::get(path), None, None).await
}

/// `POST` a JSON body and read a JSON answer.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    send(Request::post(path), None, Some(to_json(body)?)).await
}

/// The server's health and, in the demo, the simulated domains.
pub async fn health() -> Result<Health, ApiError> {
    get_json(paths::HEALTH).await
}

/// The signed-in user's name and sender addresses (secure aliases included when secure sending
/// is on).
pub async fn account() -> Result<Account, ApiError> {
    get_json(paths::ACCOUNT).await
}

/// The user's "Verschlüsselter Versand" settings.
pub async fn settings() -> Result<SecureSendingSettings, ApiError> {
    get_json(paths::SETTINGS).await
}

/// Stores the user's settings and returns what the server stored.
pub async fn save_settings(
    settings: SecureSendingSettings,
) -> Result<SecureSendingSettings, ApiError> {
    send(
        Request::put(paths::SETTINGS),
        None,
        Some(to_json(&settings)?),
    )
    .await
}

/// A request on the saved draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DraftCall {
    /// `GET`: the saved draft, `None` when there is none.
    Load,
    /// `PUT`: save this draft (replacing the earlier one); answered with it as stored.
    Save(Draft),
    /// `DELETE`: delete the saved draft (no error when there is none); answered with `None`.
    Delete,
}

/// Makes a request on the saved draft. One function for the three methods, so that the page
/// carries one copy of the request code instead of three.
pub async fn draft(call: DraftCall) -> Result<Option<Draft>, ApiError> {
    let (builder, body) = match &call {
        DraftCall::Load => (Request::get(paths::DRAFT), None),
        DraftCall::Save(draft) => (Request::put(paths::DRAFT), Some(to_json(draft)?)),
        DraftCall::Delete => (Request::delete(paths::DRAFT), None),
    };
    let response = fetch(builder, None, body).await?;
    if response.status() == 204 {
        return Ok(None);
    }
    response
        .json()
        .await
        .map_err(|e| ApiError::Decode(e.to_string()))
}

/// Hands a message to the server's queue; answered once it is stored, every recipient
/// `queued`. A refusal (400 with the reason, 413, 503 when the queue is full) is
/// [`ApiError::Server`] with the server's message.
pub async fn send_message(request: &SendRequest) -> Result<MessageView, ApiError> {
    post_json(paths::MESSAGES, request).await
}

/// The user's messages, newest first, with each recipient's state.
pub async fn messages() -> Result<MessageList, ApiError> {
    get_json(paths::MESSAGES).await
}

/// One of the user's messages with each recipient's state.
pub async fn message(id: i64) -> Result<MessageView, ApiError> {
    get_json(&paths::message(id)).await
}

/// Servers on hold with their evidence (admin).
pub async fn holds(token: String) -> Result<Vec<HoldView>, ApiError> {
    send(Request::get(paths::ADMIN_HOLDS), Some(&token), None).await
}

/// What an administrator decides about a held server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldDecision {
    /// Accept the new level as the floor.
    Release,
    /// Keep delivery stopped.
    Keep,
}

/// Records an administrator's decision about `host` (the answer's body is not needed: the
/// view reloads the list).
pub async fn decide(token: String, host: String, decision: HoldDecision) -> Result<(), ApiError> {
    let template = match decision {
        HoldDecision::Release => paths::ADMIN_RELEASE,
        HoldDecision::Keep => paths::ADMIN_KEEP,
    };
    let path = paths::with_host(template, &host);
    fetch(Request::post(&path), Some(&token), Some("{}".into()))
        .await
        .map(|_| ())
}

/// A server's observation history (admin).
pub async fn observations(token: String, host: String) -> Result<Vec<ObservationView>, ApiError> {
    let path = paths::with_host(paths::ADMIN_OBSERVATIONS, &host);
    send(Request::get(&path), Some(&token), None).await
}
