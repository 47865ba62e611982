//! The settings page's endpoints: `GET /api/account` (the user and the From selector's
//! addresses, secure aliases included when secure sending is on) and `GET`/`PUT /api/settings`
//! ("Verschlüsselter Versand"), stored per signed-in user.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use sendguard_common::{Account, SecureSendingSettings};

use super::ApiError;
use super::auth::SignedIn;
use crate::store::Store;
use crate::user::account::AccountConfig;

/// `GET /api/account`.
pub async fn account(
    session: SignedIn,
    State(store): State<Store>,
) -> Result<Json<Account>, ApiError> {
    let settings = store.settings(&session.user.id).await?;
    Ok(Json(AccountConfig::from(&session.user).account(&settings)))
}

/// `GET /api/settings`: the defaults until the user saved something.
pub async fn get_settings(
    session: SignedIn,
    State(store): State<Store>,
) -> Result<Json<SecureSendingSettings>, ApiError> {
    Ok(Json(store.settings(&session.user.id).await?))
}

/// `PUT /api/settings`: validates (the typed body: unknown modes or levels are refused with a
/// JSON message), stores, and answers what was stored. Expert requirements are kept in every
/// mode so that switching modes does not lose them; they apply only in expert mode.
pub async fn put_settings(
    session: SignedIn,
    State(store): State<Store>,
    body: Result<Json<SecureSendingSettings>, JsonRejection>,
) -> Result<Json<SecureSendingSettings>, ApiError> {
    let Json(settings) = body?;
    store.set_settings(&session.user.id, &settings).await?;
    Ok(Json(store.settings(&session.user.id).await?))
}
