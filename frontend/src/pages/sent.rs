//! The Sent page (`/sent`, "Gesendet"): the user's messages from `GET`
//! [`sendguard_common::paths::MESSAGES`], newest first, each recipient with its state. It asks
//! again by itself while anything can still change ([`crate::sent::pace`]: every 2 s while a
//! recipient is queued or being sent to, every 30 s while only deferred or held ones are left,
//! not at all once all are sent or failed), one request at a time; Refresh asks at once and
//! starts again.

use leptos::prelude::*;
use sendguard_common::MessageList;

use crate::api::{self, ApiError};
use crate::components::message_card::MessageCard;
use crate::i18n::{Key, use_lang};
use crate::load::poll;
use crate::sent::{delay, pace, retry_delay};

/// How long to wait after this answer of the message list.
fn next(answer: &Result<MessageList, ApiError>, polls: u32) -> Option<u32> {
    match answer {
        Ok(list) => {
            let states = list
                .messages
                .iter()
                .flat_map(|m| m.recipients.iter().map(|r| r.state));
            delay(pace(states), polls)
        }
        Err(_) => retry_delay(polls),
    }
}

/// The list, kept up to date while it is shown. The last list that arrived stays visible
/// when a later request fails, with the error above it.
#[component]
fn SentList() -> impl IntoView {
    let lang = use_lang();
    let answer = poll(api::messages, next);
    let latest = Memo::new(move |_| answer.get());
    let shown = Memo::new(
        move |previous: Option<&Option<MessageList>>| match latest.get() {
            Some(Ok(list)) => Some(list),
            _ => previous.cloned().flatten(),
        },
    );
    let error = move || match latest.get() {
        Some(Err(e)) => {
            let l = lang.get();
            Some(view! {
                <p class="notice notice-error" role="alert" data-testid="sent-error">
                    {l.format(Key::SentLoadFailed, &[&e.message(l)])}
                </p>
            })
        }
        _ => None,
    };
    let list = move || {
        match shown.get() {
        None if latest.with(Option::is_none) => {
            view! { <p class="notice notice-info">{move || lang.get().text(Key::Loading)}</p> }
                .into_any()
        }
        None => ().into_any(),
        Some(list) if list.messages.is_empty() => view! {
            <p class="notice notice-info" data-testid="sent-empty">{move || lang.get().text(Key::SentEmpty)}</p>
        }
        .into_any(),
        Some(list) => list
            .messages
            .into_iter()
            .map(|message| view! { <MessageCard message=message/> })
            .collect_view()
            .into_any(),
    }
    };
    view! {
        {error}
        <div class="sent-list">{list}</div>
    }
}

/// The Sent page.
#[component]
pub fn SentPage() -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| move || lang.get().text(k);
    let refresh = RwSignal::new(0u32);
    // A new list (and with it a new poll) on Refresh; the old one is dropped with its requests.
    let list = move || {
        refresh.track();
        view! { <SentList/> }
    };
    view! {
        <section class="sent">
            <div class="sent-head">
                <h1>{t(Key::SentTitle)}</h1>
                <button type="button" on:click=move |_| refresh.update(|n| *n += 1)>
                    {t(Key::SentRefresh)}
                </button>
            </div>
            <p>{t(Key::SentIntro)}</p>
            {list}
        </section>
    }
}
