//! The compose page: From selector, To/CC/BCC recipient fields, subject and message, and the
//! Senden / Speichern / Verwerfen actions, laid out like a webmail compose window. Speichern
//! stores the draft on the server and opening the page brings it back; Verwerfen clears the page
//! and deletes the draft ([`crate::draft`]).
//!
//! Send checks the recipients first ([`crate::secure::check_send`]): invalid entries, and, with a
//! secure sender, recipients below the required level, are named and nothing is sent. There is no
//! send API yet, so a message that passes is not sent either, and the page says so.

use leptos::prelude::*;
use sendguard_common::DomainVerdict;

use crate::api;
use crate::components::demo_hint::DemoHint;
use crate::components::recipient_field::RecipientField;
use crate::components::sender_select::SenderSelect;
use crate::draft::{ComposeFields, DraftControl, DraftNote};
use crate::i18n::{Key, Lang, use_lang};
use crate::load::load;
use crate::secure::{
    SendCheck, SenderRequirement, ShortfallWords, check_send, sending_requirement,
};
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
    let fields = ComposeFields::new();
    let ComposeFields {
        sender,
        to,
        cc,
        bcc,
        subject,
        body,
    } = fields;
    let drafts = DraftControl::load(fields);
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
    let save = move |_| {
        outcome.set(None);
        drafts.save();
    };
    let discard = move |_| {
        outcome.set(None);
        drafts.discard();
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
        drafts.clear_note();
        let (t, c, b) = (to.get_untracked(), cc.get_untracked(), bcc.get_untracked());
        outcome.set(Some(check_send(
            [&t, &c, &b],
            requirement.get_untracked(),
            verdict_of,
        )));
    };
    let busy = move || drafts.busy();
    // One notice at a time: the outcome of the latest Send, Save or Discard.
    let notice = move || {
        let l = lang.get();
        let (css, role, id, text) = match (outcome.get(), drafts.note()) {
            (Some(o), _) => {
                let css = if o == SendCheck::Ready {
                    "notice notice-info"
                } else {
                    "notice notice-error"
                };
                (css, "alert", "send-result", send_message(l, &o))
            }
            (None, Some(n)) => {
                let css = match n {
                    DraftNote::Saved(_) => "notice notice-ok",
                    DraftNote::Failed(..) => "notice notice-error",
                };
                (css, "status", "draft-note", n.text(l))
            }
            (None, None) => return None,
        };
        Some(view! { <p class=css role=role data-testid=id>{text}</p> })
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
                <button type="button" on:click=save prop:disabled=busy>
                    {t(Key::Save)}
                </button>
                <button type="button" on:click=discard prop:disabled=busy>
                    {t(Key::Discard)}
                </button>
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
