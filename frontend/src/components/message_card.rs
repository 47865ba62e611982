//! One message on the Sent page: subject, sender, when it was accepted, and its recipients'
//! states ([`RecipientStates`]).

use leptos::prelude::*;
use sendguard_common::MessageView;

use crate::components::recipient_states::RecipientStates;
use crate::describe::local_time;
use crate::i18n::{Key, use_lang};

/// A card for one message; `data-id` is the queue's id.
#[component]
pub fn MessageCard(
    /// The message as the queue reports it.
    message: MessageView,
) -> impl IntoView {
    let lang = use_lang();
    let (id, from, at) = (message.id, message.from.clone(), message.created_at);
    let subject = message.subject.clone();
    let title = move || {
        if subject.is_empty() {
            lang.get().text(Key::SentNoSubject).to_string()
        } else {
            subject.clone()
        }
    };
    let meta = move || {
        let l = lang.get();
        l.format(Key::SentMeta, &[&from, &local_time(l, at)])
    };
    view! {
        <article class="message-card" data-testid="sent-message" data-id=id.to_string()>
            <h2 class="message-subject">{title}</h2>
            <p class="message-meta">{meta}</p>
            <RecipientStates message=message/>
        </article>
    }
}
