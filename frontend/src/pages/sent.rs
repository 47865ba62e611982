//! The Sent page (`/sent`, "Gesendet"): the user's messages, newest first, each recipient with
//! its state, kept up to date by [`LiveMessages`] while the page is shown. Refresh asks at once
//! and starts the polling again (it stops once every recipient is sent or failed, and after
//! [`crate::sent::MAX_POLLS`] requests).

use leptos::prelude::*;

use crate::components::live_messages::{LiveMessages, Source};
use crate::i18n::{Key, tr, use_lang};

/// The Sent page.
#[component]
pub fn SentPage() -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| tr(lang, k);
    let refresh = RwSignal::new(0u32);
    // A new list (and with it a new poll) on Refresh; the old one is dropped with its request.
    let list = move || {
        refresh.track();
        view! { <LiveMessages source=Source::All/> }
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
