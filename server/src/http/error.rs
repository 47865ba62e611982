//! The API's one error type: each variant maps to a status code and a short JSON message
//! (`{"error": "..."}`); the detail goes to the log, not to the client.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sendguard_common::ApiErrorBody;

use crate::store::StoreError;
use crate::user::draft::DraftError;

/// An error answer of the HTTP API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No API endpoint at this path.
    #[error("no such API endpoint")]
    NotFound,
    /// The request was malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// No valid administrator token was sent.
    #[error("a valid admin token is required")]
    Unauthorized,
    /// No valid session: sign in first.
    #[error("sign in first")]
    NotSignedIn,
    /// The login or the password is wrong (never saying which).
    #[error("wrong login or password")]
    SignInFailed,
    /// The request is not allowed on this server (e.g. the admin API is disabled).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The thing asked for does not exist; the message says which.
    #[error("{0}")]
    Missing(String),
    /// The request body is larger than this endpoint accepts; the message says the limit.
    #[error("{0}")]
    TooLarge(String),
    /// The client asked for more than its share (RFC 6585 §4); it may try again after
    /// `retry_after` seconds (sent as `Retry-After`).
    #[error("{message}")]
    TooManyRequests {
        /// What was refused and the limit.
        message: String,
        /// Seconds until the client may try again.
        retry_after: u64,
    },
    /// The server as a whole is at a limit for now; the message says which.
    #[error("{0}")]
    Overloaded(String),
    /// The database is busy for now; the client may try again.
    #[error("the database is busy, please try again")]
    Busy(#[source] StoreError),
    /// Something failed inside the server; the detail is logged, not shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Busy(_) | ApiError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthorized | ApiError::NotSignedIn | ApiError::SignInFailed => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Missing(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Busy(e) = &self {
            tracing::warn!(error = %e, "database busy");
        } else if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        } else {
            tracing::debug!(error = %self, "request refused");
        }
        let body = ApiErrorBody {
            error: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests { retry_after, .. } = &self {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        response
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        // A body beyond the route's `DefaultBodyLimit` is too large, not malformed.
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(rejection.body_text())
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    }
}

impl From<DraftError> for ApiError {
    fn from(e: DraftError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoOpenHold(host) => ApiError::Missing(format!("no open hold for {host}")),
            e if e.is_temporary() => ApiError::Busy(e),
            e => ApiError::Internal(e.into()),
        }
    }
}
