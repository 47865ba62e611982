//! All HTTP between the page and the Sendguard server, typed with the `sendguard-common` wire
//! types. One helper per method returns `Result<T, ApiError>`; requests made by a view are
//! aborted when that view goes away (`AbortController`), so no answer lands in a dead view.
//!
//! The session is the server's `HttpOnly` cookie, which the browser sends by itself; the page
//! keeps only the session's CSRF token, in memory, and sends it in
//! [`paths::CSRF_HEADER`] with every `POST`, `PUT` and `DELETE` (OWASP's synchronizer token
//! pattern). Any 401 means the session is gone and reaches [`on_signed_out`].

use std::cell::RefCell;
use std::rc::Rc;

use gloo_net::http::{Method, RequestBuilder, Response};
use leptos::prelude::on_cleanup;
use send_wrapper::SendWrapper;
use sendguard_common::{
    Account, ApiErrorBody, Draft, Health, HoldView, MessageList, MessageView, ObservationView,
    SecureSendingSettings, SendRequest, SessionView, SignIn, paths,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::i18n::{Key, Lang};

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

thread_local! {
    /// The CSRF token of the signed-in session: in this page's memory only (never in web
    /// storage, where another script of the origin could read it after the page is gone).
    static CSRF_TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Called when the server says the session is gone (401).
    static ON_SIGNED_OUT: RefCell<Option<Rc<dyn Fn()>>> = const { RefCell::new(None) };
}

/// Calls `handler` whenever an API answer says that no one is signed in (HTTP 401), except for
/// a refused sign-in itself; the page then shows the sign-in page.
pub fn on_signed_out(handler: impl Fn() + 'static) {
    ON_SIGNED_OUT.with(|h| *h.borrow_mut() = Some(Rc::new(handler)));
}

fn remember(session: &SessionView) {
    CSRF_TOKEN.with(|t| *t.borrow_mut() = Some(session.csrf_token.clone()));
}

fn forget() {
    CSRF_TOKEN.with(|t| *t.borrow_mut() = None);
}

/// The session is gone: the token is forgotten and the page told.
fn signed_out() {
    forget();
    if let Some(handler) = ON_SIGNED_OUT.with(|h| h.borrow().clone()) {
        handler();
    }
}

/// Whether `method` changes something, so that it must carry the CSRF token.
fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Turns an error answer into [`ApiError::Server`] with the server's message.
async fn check_ok(response: Response) -> Result<Response, ApiError> {
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let status_text = response.status_text();
    let message = match parse(response).await.and_then(from_js::<ApiErrorBody>) {
        Ok(body) => body.error,
        Err(_) => status_text,
    };
    Err(ApiError::Server { status, message })
}

/// Sends `method` to `path` with an optional JSON body (aborted with the view), the CSRF
/// token on every change; errors for non-2xx answers. A 401 tells the page that the session
/// is gone (unless it answers a sign-in, where it means a wrong login or password).
async fn fetch(method: Method, path: &str, body: Option<String>) -> Result<Response, ApiError> {
    let signal = abort_on_cleanup();
    let sign_in = method == Method::POST && path == paths::SESSION;
    let mut builder = RequestBuilder::new(path)
        .method(method.clone())
        .abort_signal(signal.as_ref());
    if changes(&method)
        && let Some(token) = CSRF_TOKEN.with(|t| t.borrow().clone())
    {
        builder = builder.header(paths::CSRF_HEADER, &token);
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
    if response.status() == 401 && !sign_in {
        signed_out();
    }
    check_ok(response).await
}

/// Like [`fetch`], and decodes the JSON answer. The asynchronous part is not generic
/// ([`fetch_json`]), so that each wire type adds only its conversion.
async fn send<T: DeserializeOwned>(
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<T, ApiError> {
    from_js(fetch_json(method, path, body).await?)
}

/// Like [`fetch`], and parses the JSON answer into a JS value.
async fn fetch_json(method: Method, path: &str, body: Option<String>) -> Result<JsValue, ApiError> {
    parse(fetch(method, path, body).await?).await
}

/// Parses a JSON answer in the browser (`Response.json()`); [`from_js`] then reads the wire
/// type from the JS value, which takes far less wasm than a JSON parser compiled into every
/// type's deserializer.
async fn parse(response: Response) -> Result<JsValue, ApiError> {
    let decode_error = |e: JsValue| ApiError::Decode(js_message(&e));
    let parsed = web_sys::Response::from(response)
        .json()
        .map_err(decode_error)?;
    JsFuture::from(parsed).await.map_err(decode_error)
}

/// Reads a wire type from a JS value (such as `JSON.parse` returns).
pub fn from_js<T: DeserializeOwned>(value: JsValue) -> Result<T, ApiError> {
    crate::wire::from_js(value).map_err(|e| ApiError::Decode(e.to_string()))
}

/// The message of a JS error (a `SyntaxError` from a body that is not JSON), or the value.
fn js_message(error: &JsValue) -> String {
    match error.dyn_ref::<js_sys::Error>() {
        Some(e) => e.message().into(),
        None => format!("{error:?}"),
    }
}

/// A request body as JSON.
fn to_json<B: Serialize>(body: &B) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|e| ApiError::Decode(e.to_string()))
}

/// `GET` a JSON document.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    send(Method::GET, path, None).await
}

/// `POST` a JSON body and read a JSON answer.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    send(Method::POST, path, Some(to_json(body)?)).await
}

/// The signed-in session, its CSRF token kept for the requests that follow; a 401 (no one is
/// signed in) also reaches the [`on_signed_out`] handler.
pub async fn session() -> Result<SessionView, ApiError> {
    let session: SessionView = get_json(paths::SESSION).await?;
    remember(&session);
    Ok(session)
}

/// Signs in; a wrong login or password is a 401 and too many failed attempts a 429
/// ([`ApiError::Server`]), neither of which counts as the session being gone.
pub async fn sign_in(login: String, password: String) -> Result<SessionView, ApiError> {
    let session: SessionView = post_json(paths::SESSION, &SignIn { login, password }).await?;
    remember(&session);
    Ok(session)
}

/// Signs out (the server ends the session and clears the cookie); the CSRF token is forgotten
/// once the server confirmed it, or said that the session was already gone.
pub async fn sign_out() -> Result<(), ApiError> {
    match fetch(Method::DELETE, paths::SESSION, None).await {
        Ok(_) => {
            forget();
            Ok(())
        }
        Err(ApiError::Server { status: 401, .. }) => Ok(()),
        Err(e) => Err(e),
    }
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
    send(Method::PUT, paths::SETTINGS, Some(to_json(&settings)?)).await
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
    let (method, body) = match &call {
        DraftCall::Load => (Method::GET, None),
        DraftCall::Save(draft) => (Method::PUT, Some(to_json(draft)?)),
        DraftCall::Delete => (Method::DELETE, None),
    };
    let response = fetch(method, paths::DRAFT, body).await?;
    if response.status() == 204 {
        return Ok(None);
    }
    from_js(parse(response).await?)
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

/// Servers on hold with their evidence (a session with the admin role).
pub async fn holds() -> Result<Vec<HoldView>, ApiError> {
    get_json(paths::ADMIN_HOLDS).await
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
pub async fn decide(host: String, decision: HoldDecision) -> Result<(), ApiError> {
    let template = match decision {
        HoldDecision::Release => paths::ADMIN_RELEASE,
        HoldDecision::Keep => paths::ADMIN_KEEP,
    };
    let path = paths::with_host(template, &host);
    fetch(Method::POST, &path, Some("{}".into()))
        .await
        .map(|_| ())
}

/// A server's observation history (admin).
pub async fn observations(host: String) -> Result<Vec<ObservationView>, ApiError> {
    get_json(&paths::with_host(paths::ADMIN_OBSERVATIONS, &host)).await
}
