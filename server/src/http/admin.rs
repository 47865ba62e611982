//! The administrators' API: servers on hold with their evidence, the release and keep
//! decisions, a server's observations, and `GET /metrics` (Prometheus text format 0.0.4).
//!
//! Every admin route needs a signed-in session with the admin role ([`super::auth::SignedIn`];
//! another user gets 403), or, for scripts, the token configured with `--admin-token`, sent in
//! the header [`paths::ADMIN_TOKEN_HEADER`] or as `Authorization: Bearer <token>` (RFC 6750
//! §2.1). The token is compared in constant time (over SHA-256 digests, so neither content nor
//! length leaks through timing); a wrong one is refused whatever the session.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use sendguard_common::address::HostName;
use std::fmt::Write as _;

use sendguard_common::{HoldView, ObservationView, RecipientState, Role, paths};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::auth::SignedIn;
use super::{ApiError, AppState};
use crate::store::queue::QueueDepth;

/// Observations returned when the query does not say.
pub const DEFAULT_OBSERVATIONS: u32 = 100;

/// An authenticated administrator (an extractor: the handler runs only with a valid token).
#[derive(Clone, Debug)]
pub struct Admin {
    /// Who, for the audit log.
    pub actor: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let given = header(paths::ADMIN_TOKEN_HEADER).or_else(|| {
            header(AUTHORIZATION.as_str()).and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
        });
        if let Some(token) = given {
            return match state.admin_token().as_deref() {
                Some(expected) if tokens_match(token.trim(), expected) => Ok(Admin {
                    actor: "admin (API token)".into(),
                }),
                Some(_) => Err(ApiError::Unauthorized),
                None => Err(ApiError::Forbidden(
                    "admin tokens are disabled: start Sendguard with --admin-token (or SENDGUARD_ADMIN_TOKEN), or sign in as an admin",
                )),
            };
        }
        let session = SignedIn::from_request_parts(parts, state).await?;
        if session.user.role != Role::Admin {
            return Err(ApiError::Forbidden("this needs the admin role"));
        }
        Ok(Admin {
            actor: session.user.id,
        })
    }
}

/// Constant-time comparison of two tokens.
pub fn tokens_match(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

/// Query of the holds list.
#[derive(Debug, Default, Deserialize)]
pub struct HoldsQuery {
    /// Include released holds.
    #[serde(default)]
    pub all: bool,
}

/// `GET /api/admin/holds`: open holds (held or kept), newest first; `?all=true` for every one.
pub async fn holds(
    _admin: Admin,
    State(state): State<AppState>,
    Query(query): Query<HoldsQuery>,
) -> Result<Json<Vec<HoldView>>, ApiError> {
    Ok(Json(state.verdicts().store().holds(query.all).await?))
}

/// `POST /api/admin/holds/{host}/release`: the released holds.
pub async fn release(
    admin: Admin,
    State(state): State<AppState>,
    Path(host): Path<String>,
) -> Result<Json<Vec<HoldView>>, ApiError> {
    let host = host_name(&host)?;
    let released = state.verdicts().release(&host, &admin.actor).await?;
    tracing::info!(%host, actor = %admin.actor, "hold released");
    Ok(Json(released))
}

/// `POST /api/admin/holds/{host}/keep`: the kept holds.
pub async fn keep(
    admin: Admin,
    State(state): State<AppState>,
    Path(host): Path<String>,
) -> Result<Json<Vec<HoldView>>, ApiError> {
    let host = host_name(&host)?;
    let kept = state.verdicts().keep(&host, &admin.actor).await?;
    tracing::info!(%host, actor = %admin.actor, "hold kept");
    Ok(Json(kept))
}

/// Query of the observations list.
#[derive(Debug, Default, Deserialize)]
pub struct ObservationsQuery {
    /// At most this many (default [`DEFAULT_OBSERVATIONS`], capped by the store).
    pub limit: Option<u32>,
}

/// `GET /api/admin/servers/{host}/observations`: newest first, bounded.
pub async fn observations(
    _admin: Admin,
    State(state): State<AppState>,
    Path(host): Path<String>,
    Query(query): Query<ObservationsQuery>,
) -> Result<Json<Vec<ObservationView>>, ApiError> {
    let host = host_name(&host)?;
    let limit = query.limit.unwrap_or(DEFAULT_OBSERVATIONS);
    Ok(Json(
        state.verdicts().store().observations(&host, limit).await?,
    ))
}

/// `GET /metrics`: counters of holds and alerts, open holds, event streams, the resolver
/// self-test, the queue, and what [`crate::metrics`] counted (probe steps, verdicts,
/// deliveries, Postfix's table). A series the store could not give is left out (and logged).
pub async fn metrics(_admin: Admin, State(state): State<AppState>) -> impl IntoResponse {
    let v = state.verdicts();
    let open = match v.store().open_hold_count().await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "cannot count open holds for /metrics");
            None
        }
    };
    let mut body = v.alerts().render_metrics(open);
    body.push_str(&state.limits().render_metrics());
    body.push_str(&state.inner.rates.render_metrics());
    if let Some(check) = v.resolver_check() {
        body.push_str(&check.render_metrics());
    }
    match v.store().queue_depth().await {
        Ok(depth) => body.push_str(&queue_metrics(&depth, crate::probe::now_unix())),
        Err(e) => tracing::warn!(error = %e, "cannot read the queue for /metrics"),
    }
    body.push_str(&crate::metrics::render());
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}

/// The queue's depth and age by state, every state named (0 when empty).
fn queue_metrics(depth: &[QueueDepth], now: i64) -> String {
    let mut out = String::from(
        "# HELP sendguard_queue_recipients Recipients not yet sent or failed, by state.\n\
         # TYPE sendguard_queue_recipients gauge\n",
    );
    let states = [
        RecipientState::Queued,
        RecipientState::Sending,
        RecipientState::Deferred,
        RecipientState::Held,
    ];
    let of = |s: RecipientState| depth.iter().find(|d| d.state == s);
    for s in states {
        let n = of(s).map_or(0, |d| d.recipients);
        let _ = writeln!(
            out,
            "sendguard_queue_recipients{{state=\"{}\"}} {n}",
            s.as_str()
        );
    }
    out.push_str(
        "# HELP sendguard_queue_oldest_age_seconds Age of the oldest message with a recipient in this state.\n\
         # TYPE sendguard_queue_oldest_age_seconds gauge\n",
    );
    for s in states {
        let age = of(s).map_or(0, |d| (now - d.oldest).max(0));
        let _ = writeln!(
            out,
            "sendguard_queue_oldest_age_seconds{{state=\"{}\"}} {age}",
            s.as_str()
        );
    }
    out
}

/// A host name from the path, as the store keys it: lower case, no trailing dot, the label
/// rules of [`HostName`] (LDH, no `_`, RFC 1035/1123 lengths); a U-label typed by hand is
/// converted to its A-label.
fn host_name(raw: &str) -> Result<String, ApiError> {
    let bad = |e: &dyn std::fmt::Display| {
        ApiError::BadRequest(format!("{raw:?} is not a host name: {e}"))
    };
    let host = HostName::parse(raw.trim()).map_err(|e| bad(&e))?;
    if host.is_ascii() {
        return Ok(host.into_string());
    }
    crate::dns::to_a_label(host.as_str()).map_err(|e| bad(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_follow_the_shared_label_rules() {
        assert_eq!(host_name(" MX.Example.test. ").unwrap(), "mx.example.test");
        assert_eq!(host_name("localhost").unwrap(), "localhost");
        assert_eq!(
            host_name("mx.bücher.example").unwrap(),
            "mx.xn--bcher-kva.example"
        );
        // Accepted here before the parsers were unified; no host name has an `_` (RFC 1123).
        for bad in [
            "bad_host.example",
            "_25._tcp.mx.example",
            "-mx.example",
            "mx..example",
            "",
        ] {
            assert!(
                matches!(host_name(bad), Err(ApiError::BadRequest(m)) if m.contains("not a host name")),
                "{bad}"
            );
        }
    }
}
