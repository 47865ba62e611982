//! Sending: `POST` [`paths::MESSAGES`] queues a message through [`crate::delivery::submit`] and
//! answers it (201, every recipient `queued`) only once it is on disk; `GET`
//! [`paths::MESSAGES`] lists the user's messages, `GET` [`paths::MESSAGE`] shows one. A
//! message may be longer than other requests: the route has its own body limit,
//! [`super::MAX_SUBMIT_BYTES`], answered with 413 and a JSON message.
//!
//! [`paths::MESSAGES`]: sendguard_common::paths::MESSAGES
//! [`paths::MESSAGE`]: sendguard_common::paths::MESSAGE

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sendguard_common::{MessageList, MessageView, SendRequest};

use super::auth::SignedIn;
use super::{ApiError, AppState, MAX_SUBMIT_BYTES};
use crate::delivery::submit::{self, SubmitError};
use crate::delivery::view;
use crate::store::Store;
use crate::user::account::AccountConfig;

/// `POST /api/messages`: checks, builds and queues the message durably, then answers it.
pub async fn send(
    session: SignedIn,
    State(state): State<AppState>,
    body: Result<Json<SendRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let Json(request) = body.map_err(|rejection| match ApiError::from(rejection) {
        ApiError::TooLarge(_) => ApiError::TooLarge(format!(
            "the message is larger than {} KiB",
            MAX_SUBMIT_BYTES / 1024
        )),
        other => other,
    })?;
    let store = state.verdicts().store();
    let account = AccountConfig::from(&session.user);
    let queued = submit::submit(store, &account, &session.user.id, &request).await?;
    state.wake().wake();
    Ok((StatusCode::CREATED, Json(view(&queued))))
}

/// `GET /api/messages`: the user's messages, newest first.
pub async fn list(
    session: SignedIn,
    State(store): State<Store>,
) -> Result<Json<MessageList>, ApiError> {
    let messages = store.messages(&session.user.id).await?;
    Ok(Json(MessageList {
        messages: messages.iter().map(view).collect(),
    }))
}

/// `GET /api/messages/{id}`: one of the user's messages.
pub async fn one(
    session: SignedIn,
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let missing = || ApiError::Missing(format!("no message {id}"));
    let number: i64 = id.parse().map_err(|_| missing())?;
    let message = store
        .message(&session.user.id, number)
        .await?
        .ok_or_else(missing)?;
    Ok(Json(view(&message)))
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Store(e) => e.into(),
            SubmitError::Build(e) => ApiError::Internal(e.into()),
            SubmitError::BodyTooLarge => ApiError::TooLarge(SubmitError::BodyTooLarge.to_string()),
            e @ SubmitError::QueueFull { .. } => ApiError::Overloaded(e.to_string()),
            e => ApiError::BadRequest(e.to_string()),
        }
    }
}
