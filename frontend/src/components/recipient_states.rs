//! A queued message's recipients, one line each: how they were addressed, the address, the
//! state (queued, sending, sent, deferred, held, failed) and what happened ([`crate::sent`]).
//! The compose page shows it after Send, the Sent page for every message.

use leptos::prelude::*;
use sendguard_common::{MessageView, RecipientView};

use crate::describe::local_time;
use crate::i18n::{Key, use_lang};
use crate::sent::{detail, kind_key, state_key, state_slug};

/// One recipient's line; `data-state` carries the state as on the wire, `data-plain` whether a
/// sent message travelled unencrypted.
#[component]
fn RecipientLine(
    /// The recipient.
    recipient: RecipientView,
) -> impl IntoView {
    let lang = use_lang();
    let slug = state_slug(recipient.state);
    let plain = recipient
        .delivery
        .as_ref()
        .is_some_and(|d| d.tls_version.is_none());
    let (state, kind, address) = (recipient.state, recipient.kind, recipient.address.clone());
    let line = move || {
        let l = lang.get();
        detail(l, &recipient, |at| local_time(l, at))
            .map(|text| view! { <span class="rs-detail">{text}</span> })
    };
    view! {
        <li
            class=format!("recipient-status state-{slug}")
            data-testid="recipient-status"
            data-address=address.clone()
            data-state=slug
            data-plain=plain.to_string()
        >
            <span class="rs-kind">{move || lang.get().text(kind_key(kind))}</span>
            <span class="rs-address">{address.clone()}</span>
            <span class="rs-state">{move || lang.get().text(state_key(state))}</span>
            {line}
        </li>
    }
}

/// Every recipient of `message` with its state.
#[component]
pub fn RecipientStates(
    /// The message as the queue reports it.
    message: MessageView,
) -> impl IntoView {
    let lang = use_lang();
    let lines = message
        .recipients
        .into_iter()
        .map(|recipient| view! { <RecipientLine recipient=recipient/> })
        .collect_view();
    view! {
        <ul class="recipient-states" aria-label=move || lang.get().text(Key::SentRecipients)>
            {lines}
        </ul>
    }
}
