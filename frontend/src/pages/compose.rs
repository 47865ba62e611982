//! The compose page: From selector, To/CC/BCC recipient fields, subject and message, and the
//! Senden / Speichern / Verwerfen actions, laid out like a webmail compose window.
//!
//! Send checks the recipients first ([`crate::secure::check_send`]): invalid entries, and, with a
//! secure sender, recipients below the required level, are named and nothing is sent. There is no
//! send API yet, so a message that passes is not sent either, and the page says so.

use leptos::prelude::*;
use sendguard_common::{DomainVerdict, SenderAddress};

use crate::api;
use crate::components::demo_hint::DemoHint;
use crate::components::recipient_field::RecipientField;
use crate::components::sender_select::SenderSelect;
use crate::i18n::{Key, Lang, use_lang};
use crate::load::load;
use crate::recipients::RecipientList;
use crate::secure::{SendCheck, SenderRequirement, check_send, sending_requirement};
use crate::verdicts::{DomainState, VerdictStore};

/// The outcome of the last press of Send, worded in the current language.
fn send_message(lang: Lang, outcome: &SendCheck) -> String {
    match outcome {
        SendCheck::NoRecipients => lang.text(Key::SendNoRecipients).to_string(),
        SendCheck::Invalid(list) => lang.format(Key::SendInvalid, &[&list.join(", ")]),
        SendCheck::Refused(list) => {
            let names: Vec<String> = list
                .iter()
                .map(|(address, s)| format!("{address} ({})", lang.text(s.message_key())))
                .collect();
            lang.format(Key::SendRefusedSecure, &[&names.join(", ")])
        }
        SendCheck::Ready => lang.text(Key::SendNotConnected).to_string(),
    }
}

/// The compose window.
#[component]
pub fn ComposePage() -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| move || lang.get().text(k);
    let store = VerdictStore::use_store();
    let to = RwSignal::new(RecipientList::default());
    let cc = RwSignal::new(RecipientList::default());
    let bcc = RwSignal::new(RecipientList::default());
    let subject = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let sender = RwSignal::new(None::<SenderAddress>);
    let secure_sender = Memo::new(move |_| sender.with(|s| s.as_ref().is_some_and(|s| s.secure)));
    // The settings are only needed (and only asked for) while a secure sender is chosen.
    let settings = load(move || {
        let secure = secure_sender.get();
        async move {
            if secure {
                api::settings().await.ok()
            } else {
                None
            }
        }
    });
    let requirement = Signal::derive(move || {
        secure_sender.get().then(|| {
            let loaded = settings.get().flatten();
            sending_requirement(loaded.as_ref())
        })
    });
    provide_context(SenderRequirement(requirement));
    let outcome = RwSignal::new(None::<SendCheck>);
    let discard = move |_| {
        to.set(RecipientList::default());
        cc.set(RecipientList::default());
        bcc.set(RecipientList::default());
        subject.set(String::new());
        body.set(String::new());
        outcome.set(None);
    };
    let pick = move |address: String| {
        to.update(|list| {
            list.add_text(&address);
        })
    };
    let on_send = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let verdict_of = |domain: &str| -> Option<DomainVerdict> {
            match store.state_untracked(domain) {
                Some(DomainState::Final(v)) => Some(*v),
                _ => None,
            }
        };
        let (t, c, b) = (to.get_untracked(), cc.get_untracked(), bcc.get_untracked());
        outcome.set(Some(check_send(
            [&t, &c, &b],
            requirement.get_untracked(),
            verdict_of,
        )));
    };
    let notice = move || {
        outcome.get().map(|o| {
            let css = if o == SendCheck::Ready {
                "notice notice-info"
            } else {
                "notice notice-error"
            };
            view! {
                <p class=css role="alert" data-testid="send-result">{send_message(lang.get(), &o)}</p>
            }
        })
    };
    let secure_note = move || {
        requirement.get().map(|_| {
            view! { <p class="notice notice-secure" data-testid="secure-note">{t(Key::SecureSenderNote)}</p> }
        })
    };
    view! {
        <DemoHint on_pick=pick/>
        <form class="compose" on:submit=on_send>
            <div class="actions" role="toolbar">
                <button type="submit" class="primary">{t(Key::Send)}</button>
                <button type="button">{t(Key::Save)}</button>
                <button type="button" on:click=discard>{t(Key::Discard)}</button>
            </div>
            {notice}
            <SenderSelect selected=sender/>
            {secure_note}
            <RecipientField label=Key::To id="to" recipients=to/>
            <RecipientField label=Key::Cc id="cc" recipients=cc/>
            <RecipientField label=Key::Bcc id="bcc" recipients=bcc/>
            <div class="field">
                <label for="subject">{t(Key::Subject)}</label>
                <input id="subject" type="text" bind:value=subject/>
            </div>
            <label class="visually-hidden" for="body">{t(Key::Message)}</label>
            <textarea id="body" class="body" rows="14" bind:value=body></textarea>
        </form>
    }
}
