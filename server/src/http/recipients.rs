//! `POST /api/recipients/security` and its event stream `GET /api/recipients/events`.
//!
//! The POST answers every address at once: known verdicts final, unknown ones `pending` with a
//! probe started in the background, malformed ones `invalid` with the reason; one bad address
//! never fails the request. The page then opens the event stream (server-sent events, WHATWG
//! HTML §9.2) for its pending domains and receives each verdict as its probe finishes, so it
//! never polls.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt, stream};
use sendguard_common::RecipientSecurityRequest;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::ApiError;
use super::auth::SignedIn;
use super::limits::{Client, Limits};
use super::shutdown::Stopping;
use crate::verdicts::Verdicts;
use crate::verdicts::answer::Answer;

/// At most this many addresses in one request.
pub const MAX_ADDRESSES: usize = 200;
/// At most this many domains in one event stream.
pub const MAX_EVENT_DOMAINS: usize = 200;
/// An event stream ends after this long; the page opens a new one if it still waits.
pub const EVENT_STREAM_LIFETIME: Duration = Duration::from_secs(300);

/// The verdict of each address; 429 when the addresses would start more new probes than the
/// client has left this minute ([`Limits`]).
pub async fn security(
    _session: SignedIn,
    State(verdicts): State<Verdicts>,
    State(limits): State<Limits>,
    client: Client,
    body: Result<Json<RecipientSecurityRequest>, JsonRejection>,
) -> Result<Answers, ApiError> {
    let Json(request) = body?;
    if request.addresses.len() > MAX_ADDRESSES {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_ADDRESSES} addresses per request"
        )));
    }
    let mut results = Vec::with_capacity(request.addresses.len());
    let mut budget = || limits.take_probe(client);
    for a in &request.addresses {
        match verdicts.answer_within(a.trim(), &mut budget).await {
            Ok(answer) => results.push(answer),
            Err(_) => return Err(limits.probes_refused(client)),
        }
    }
    Ok(Answers { results })
}

/// The body of the answer: [`sendguard_common::RecipientSecurityResponse`] on the wire, with known verdicts sent
/// as the JSON made once ([`Answer`]).
#[derive(Debug, serde::Serialize)]
pub struct Answers {
    /// One entry per requested address, in order.
    pub results: Vec<Answer>,
}

impl IntoResponse for Answers {
    /// The JSON written into a buffer sized once from the answers ([`Answer::size_hint`]):
    /// grown from axum's small default, a 13 KB answer was copied over about seven times.
    fn into_response(self) -> Response {
        let size = 16 + self.results.iter().map(Answer::size_hint).sum::<usize>();
        let mut body = Vec::with_capacity(size);
        match serde_json::to_writer(&mut body, &self) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => ApiError::Internal(e.into()).into_response(),
        }
    }
}

/// Query of the event stream: `domains=a.example,b.example`.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// Comma-separated A-label domains whose verdicts the page waits for.
    pub domains: String,
}

/// Server-sent events named `verdict`, each a [`sendguard_common::DomainVerdict`] in JSON: first the requested
/// domains already known (read at once, [`Verdicts::known_all`]), then each one as its probe
/// finishes. A client has at most a few streams open, and the server a bounded number
/// ([`Limits::open_stream`]); a stream ends after [`EVENT_STREAM_LIFETIME`], or at once when
/// the server stops ([`Stopping`]), and sends a heartbeat comment while idle
/// ([`Limits::heartbeat`]).
pub async fn events(
    _session: SignedIn,
    State(verdicts): State<Verdicts>,
    State(limits): State<Limits>,
    State(stopping): State<Stopping>,
    client: Client,
    Query(query): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let wanted: HashSet<String> = query
        .domains
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    if wanted.is_empty() || wanted.len() > MAX_EVENT_DOMAINS {
        return Err(ApiError::BadRequest(format!(
            "name between 1 and {MAX_EVENT_DOMAINS} domains"
        )));
    }
    // Counted until the stream is dropped: it ended, or the client went away.
    let guard = limits.open_stream(client)?;
    // Subscribe before reading what is known, so that nothing finishing in between is missed.
    let rx = verdicts.subscribe();
    let list: Vec<String> = wanted.iter().cloned().collect();
    let known = verdicts.known_all(&list).await;
    let live = stream::unfold((rx, wanted), |(mut rx, wanted)| async move {
        loop {
            match rx.recv().await {
                Ok(v) if wanted.contains(&v.domain) => return Some((v, (rx, wanted))),
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let stream = stream::iter(known)
        .chain(live)
        .take_until(tokio::time::sleep(EVENT_STREAM_LIFETIME))
        // Ends cleanly when the server stops, so a graceful shutdown need not wait for it.
        .take_until(stopping.wait())
        .map(move |v| {
            let _counted = &guard;
            Ok(Event::default()
                .event("verdict")
                .json_data(&v)
                .unwrap_or_else(|_| Event::default().event("error")))
        });
    let heartbeat = KeepAlive::new()
        .interval(limits.heartbeat())
        .text("heartbeat");
    Ok(Sse::new(stream).keep_alive(heartbeat))
}
