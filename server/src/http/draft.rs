//! The compose page's draft: `GET`, `PUT` and `DELETE` on [`paths::DRAFT`], one draft per
//! signed-in user.
//!
//! `GET` answers the draft, or `null` when there is none (the page then has nothing to restore:
//! one decode, no status to special-case). `PUT` checks the bounds ([`crate::user::draft`]), stores the
//! draft durably and answers it as stored, with the server's `saved_at`. `DELETE` answers 204,
//! also when there was nothing to delete. A draft may be longer than other requests: this route
//! has its own body limit, [`super::MAX_DRAFT_BYTES`], and a longer body is answered with 413
//! and a JSON message; a refused draft leaves the stored one as it was.
//!
//! [`paths::DRAFT`]: sendguard_common::paths::DRAFT

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use sendguard_common::Draft;

use super::auth::SignedIn;
use super::{ApiError, MAX_DRAFT_BYTES};
use crate::store::Store;

/// `GET /api/draft`: the saved draft, `null` when there is none.
pub async fn get_draft(
    session: SignedIn,
    State(store): State<Store>,
) -> Result<Json<Option<Draft>>, ApiError> {
    Ok(Json(store.draft(&session.user.id).await?))
}

/// `PUT /api/draft`: checks, stores (replacing the earlier draft) and answers the stored draft.
pub async fn put_draft(
    session: SignedIn,
    State(store): State<Store>,
    body: Result<Json<Draft>, JsonRejection>,
) -> Result<Json<Draft>, ApiError> {
    let Json(draft) = body.map_err(|rejection| match ApiError::from(rejection) {
        ApiError::TooLarge(_) => ApiError::TooLarge(format!(
            "the draft is larger than {} KiB",
            MAX_DRAFT_BYTES / 1024
        )),
        other => other,
    })?;
    crate::user::draft::validate(&draft)?;
    Ok(Json(store.put_draft(&session.user.id, &draft).await?))
}

/// `DELETE /api/draft`: removes the saved draft (204 whether or not there was one).
pub async fn delete_draft(
    session: SignedIn,
    State(store): State<Store>,
) -> Result<StatusCode, ApiError> {
    store.delete_draft(&session.user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
