//! Messages from the queue with each recipient's state, kept up to date while shown: the Sent
//! page lists every message of the user (`GET /api/messages`), the compose page follows the
//! message it just queued (`GET /api/messages/{id}`). How often it asks is [`next_poll`]'s
//! decision (every 2 s while a recipient is queued or being sent to, every 30 s while only
//! deferred or held ones are left, not at all once all are sent or failed), one request at a
//! time, stopped when the view goes away; the words are [`crate::sent`]'s.
//!
//! The lines are plain text rendered again as a whole when an answer differs or the language
//! changes: one view type for every state keeps the bundle small.

use leptos::prelude::*;
use sendguard_common::MessageView;

use crate::api;
use crate::components::notice::notice;
use crate::describe::local_time;
use crate::i18n::{Key, Lang, use_lang};
use crate::load::{LocalFuture, poll};
use crate::sent::{Answer, Live, detail, kind_key, next_poll, state_key, state_slug};

/// What a [`LiveMessages`] follows.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Every message of the user, newest first, each as a card.
    All,
    /// One message, as the server accepted it: its recipients only.
    One(MessageView),
}

/// One line per recipient of `message`: how it was addressed, the address, the state and what
/// happened. `data-state` carries the state as on the wire, `data-plain` whether a sent
/// message travelled unencrypted.
pub fn recipient_lines(lang: Lang, message: &MessageView) -> impl IntoView + use<> {
    let lines = message
        .recipients
        .iter()
        .map(|r| {
            let slug = state_slug(r.state);
            let plain = r.delivery.as_ref().is_some_and(|d| d.tls_version.is_none());
            let text = detail(lang, r, |at| local_time(lang, at));
            view! {
                <li
                    class=format!("recipient-status state-{slug}")
                    data-testid="recipient-status"
                    data-address=r.address.clone()
                    data-state=slug
                    data-plain=plain.to_string()
                >
                    <span class="rs-kind">{lang.text(kind_key(r.kind))}</span>
                    <span class="rs-address">{r.address.clone()}</span>
                    <span class="rs-state">{lang.text(state_key(r.state))}</span>
                    {text.map(|t| view! { <span class="rs-detail">{t}</span> })}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="recipient-states" aria-label=lang.text(Key::SentRecipients)>{lines}</ul> }
}

/// A message with its recipients; `data-id` is the queue's id. With `header` (the Sent page)
/// the subject, sender and time of acceptance come first; without it (after Send) only the
/// recipients are shown.
pub fn message_card(lang: Lang, message: &MessageView, header: bool) -> impl IntoView + use<> {
    let head = header.then(|| {
        let subject = if message.subject.is_empty() {
            lang.text(Key::SentNoSubject).to_string()
        } else {
            message.subject.clone()
        };
        let meta = lang.format(
            Key::SentMeta,
            &[&message.from, &local_time(lang, message.created_at)],
        );
        view! {
            <h2 class="message-subject">{subject}</h2>
            <p class="message-meta">{meta}</p>
        }
    });
    let css = if header {
        "message-card"
    } else {
        "message-lines"
    };
    view! {
        <article class=css data-testid="sent-message" data-id=message.id.to_string()>
            {head}
            {recipient_lines(lang, message)}
        </article>
    }
}

/// How a poller asks the queue.
type Fetch = Box<dyn Fn() -> LocalFuture<Answer>>;

/// Whether one message is followed, what is shown before the first answer, and how to ask.
fn request(source: Source) -> (bool, Option<Vec<MessageView>>, Fetch) {
    match source {
        Source::All => (
            false,
            None,
            Box::new(|| Box::pin(async { api::messages().await.map(|l| l.messages) })),
        ),
        Source::One(message) => {
            let id = message.id;
            (
                true,
                Some(vec![message]),
                Box::new(move || Box::pin(async move { api::message(id).await.map(|m| vec![m]) })),
            )
        }
    }
}

/// Messages from the queue, asked about again until nothing can change any more.
#[component]
pub fn LiveMessages(
    /// Every message, or the one just queued.
    source: Source,
) -> impl IntoView {
    let lang = use_lang();
    let (one, initial, fetch) = request(source);
    let live = RwSignal::new(Live {
        messages: initial,
        error: None,
    });
    poll(
        fetch,
        Box::new(move |answer, polls| {
            let wait = next_poll(&answer, polls);
            let next = live.with_untracked(|l| l.after(answer));
            if live.with_untracked(|l| *l != next) {
                live.set(next);
            }
            wait
        }),
    );
    move || {
        let l = lang.get();
        live.with(|live| {
            let note = match (&live.error, &live.messages) {
                (Some(e), _) => Some((
                    "notice notice-error",
                    "alert",
                    "status-error",
                    l.format(Key::StatusLoadFailed, &[&e.message(l)]),
                )),
                (None, None) => Some((
                    "notice notice-info",
                    "status",
                    "status-loading",
                    l.text(Key::Loading).to_string(),
                )),
                (None, Some(list)) if list.is_empty() => Some((
                    "notice notice-info",
                    "status",
                    "sent-empty",
                    l.text(Key::SentEmpty).to_string(),
                )),
                _ => None,
            };
            let cards: Vec<_> = live
                .messages
                .iter()
                .flatten()
                .map(|m| message_card(l, m, !one))
                .collect();
            view! {
                {note.map(|(css, role, id, text)| notice(css, role, id, text))}
                <div class="live-messages" aria-live="polite">{cards}</div>
            }
        })
    }
}
