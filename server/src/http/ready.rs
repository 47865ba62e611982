//! `GET /api/ready`: whether this server can do its work now, for a load balancer, systemd or a
//! monitoring system; `GET /api/health` only says that it answers at all.
//!
//! Checks: `database` (a write transaction commits, [`crate::store::Store::check_writable`]),
//! `resolver` (the DNSSEC self-test passes, [`crate::verdicts::resolver`]), `delivery` (the
//! worker's loop runs), one per Postfix service configured (`postfix_tls_policy`,
//! `postfix_policy_service`: a TCP connection to it is accepted), and `stopping` (no SIGTERM
//! yet). 200 when all pass, 503 otherwise, with a [`Readiness`] body naming what fails.
//!
//! Open without a session, like `/api/health`: whoever asks must learn *whether* and *what*
//! fails (a failing check's name and short code, e.g. `resolver` / `broken_accepted`). The
//! whole reason (error texts, resolver names, file paths, listening addresses) is shown only to
//! an administrator (admin session or admin token, [`super::admin::Admin`]): it describes the
//! installation, which an anonymous client has no need to know.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sendguard_common::{Readiness, ReadinessCheck};

use super::admin::Admin;
use super::{ApiError, AppState};
use crate::delivery::worker::Running;
use crate::verdicts::resolver::ResolverState;

/// The longest the database and each service may take to answer.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What readiness looks at besides the verdict service: the delivery worker and the Postfix
/// services this process started.
#[derive(Clone, Debug, Default)]
pub struct ReadyParts {
    /// The delivery worker, when this process runs one.
    pub worker: Option<Running>,
    /// The Postfix services listening, by check name.
    pub services: Vec<(&'static str, SocketAddr)>,
}

/// One check's result: ok, or a code with its detail.
fn check(result: Result<(), (&str, String)>) -> ReadinessCheck {
    match result {
        Ok(()) => ReadinessCheck {
            ok: true,
            code: None,
            detail: None,
        },
        Err((code, detail)) => ReadinessCheck {
            ok: false,
            code: Some(code.to_string()),
            detail: Some(detail),
        },
    }
}

/// `GET /api/ready`.
pub async fn ready(State(state): State<AppState>, admin: Result<Admin, ApiError>) -> Response {
    let mut checks = BTreeMap::new();
    let store = state.verdicts().store();
    let database = match tokio::time::timeout(CHECK_TIMEOUT, store.check_writable()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(("not_writable", e.to_string())),
        Err(_) => Err(("timeout", format!("no write within {CHECK_TIMEOUT:?}"))),
    };
    checks.insert("database".to_string(), check(database));
    let resolver = match state.verdicts().resolver_check().map(|c| c.state()) {
        None | Some(ResolverState::Validating { .. }) => Ok(()),
        Some(ResolverState::Unchecked) => Err(("not_checked", "not checked yet".into())),
        Some(ResolverState::Failing { code, reason, .. }) => Err((code, reason)),
    };
    checks.insert("resolver".to_string(), check(resolver));
    let parts = state.ready_parts();
    if let Some(worker) = &parts.worker {
        let running = if worker.is_running() {
            Ok(())
        } else {
            Err(("not_running", "the delivery worker has stopped".into()))
        };
        checks.insert("delivery".to_string(), check(running));
    }
    for (name, addr) in &parts.services {
        checks.insert(name.to_string(), check(listening(*addr).await));
    }
    let stopping = if state.stopping().is_set() {
        Err((
            "stopping",
            "the server is stopping (SIGTERM or Ctrl-C)".into(),
        ))
    } else {
        Ok(())
    };
    checks.insert("stopping".to_string(), check(stopping));
    if admin.is_err() {
        for c in checks.values_mut() {
            c.detail = None;
        }
    }
    let failing: Vec<String> = checks
        .iter()
        .filter(|(_, c)| !c.ok)
        .map(|(name, _)| name.clone())
        .collect();
    let ready = failing.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        ready,
        failing,
        checks,
    };
    (status, Json(body)).into_response()
}

/// Whether a service accepts a TCP connection at `addr` (an unspecified address is reached
/// over loopback).
async fn listening(addr: SocketAddr) -> Result<(), (&'static str, String)> {
    let target = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    match tokio::time::timeout(CHECK_TIMEOUT, tokio::net::TcpStream::connect(target)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(("not_listening", format!("{target}: {e}"))),
        Err(_) => Err((
            "not_listening",
            format!("{target}: no answer within {CHECK_TIMEOUT:?}"),
        )),
    }
}
