//! The compose page: From selector, To/CC/BCC recipient fields, subject and message, and the
//! Senden / Speichern / Verwerfen actions, laid out like a webmail compose window. Speichern
//! stores the draft on the server and opening the page brings it back; Verwerfen clears the page
//! and deletes the draft ([`crate::draft`]).
//!
//! Send checks the recipients first ([`crate::secure::check_send`]): invalid entries, and, with a
//! secure sender, recipients below the required level, are named and nothing is sent. A message
//! that passes is handed to the server's queue (`POST` [`sendguard_common::paths::MESSAGES`]);
//! once it is accepted the form and the saved draft are cleared (so that it is not sent twice by
//! accident) and each recipient's state is shown under the toolbar and kept up to date
//! ([`crate::sent`]) until all are sent or failed, with a link to the Sent page. A refusal by
//! the server (its message, e.g. a full queue) is shown and the form is kept.

use leptos::prelude::*;
use leptos::task::spawn_local;
use sendguard_common::{DomainVerdict, MessageView};

use crate::api::{self, ApiError};
use crate::components::demo_hint::DemoHint;
use crate::components::live_messages::{LiveMessages, Source};
use crate::components::notice::notice;
use crate::components::recipient_field::RecipientField;
use crate::components::sender_select::SenderSelect;
use crate::draft::{ComposeFields, DraftControl, DraftNote};
use crate::i18n::{Key, Lang, tr, use_lang};
use crate::load::load;
use crate::nav::{NavLink, Page};
use crate::secure::{
    SendCheck, SenderRequirement, ShortfallWords, check_send, sending_requirement,
};
use crate::verdicts::{DomainState, VerdictStore};

/// Why the page's own checks refused to send, worded in the current language; `None` when they
/// passed.
fn refusal(lang: Lang, check: &SendCheck) -> Option<String> {
    Some(match check {
        SendCheck::NoRecipients => lang.text(Key::SendNoRecipients).to_string(),
        SendCheck::Invalid(list) => lang.format(Key::SendInvalid, &[&list.join(", ")]),
        SendCheck::Refused(list) => {
            let names: Vec<String> = list
                .iter()
                .map(|(address, s)| format!("{address} ({})", lang.text(s.message_key())))
                .collect();
            lang.format(Key::SendRefusedSecure, &[&names.join(", ")])
        }
        SendCheck::Ready => return None,
    })
}

/// What the last press of Send led to.
#[derive(Clone, Debug, PartialEq)]
enum SendOutcome {
    /// The page's checks refused it: nothing went to the server.
    Refused(SendCheck),
    /// No sender is chosen (the account has not loaded): nothing went to the server.
    NoSender,
    /// Handed to the server, not answered yet.
    Sending,
    /// Accepted and queued.
    Queued(MessageView),
    /// Refused by the server, or the server was not reached.
    Failed(ApiError),
}

/// The notice of a Send outcome: CSS class, ARIA role and text.
fn send_notice(lang: Lang, outcome: &SendOutcome) -> (&'static str, &'static str, String) {
    let error = |text: String| ("notice notice-error", "alert", text);
    match outcome {
        SendOutcome::Refused(check) => error(refusal(lang, check).unwrap_or_default()),
        SendOutcome::NoSender => error(lang.text(Key::SendNoSender).to_string()),
        SendOutcome::Failed(e) => error(lang.format(Key::SendFailed, &[&e.message(lang)])),
        SendOutcome::Sending => (
            "notice notice-info",
            "status",
            lang.text(Key::SendSending).to_string(),
        ),
        SendOutcome::Queued(_) => (
            "notice notice-ok",
            "status",
            lang.text(Key::SendQueued).to_string(),
        ),
    }
}

/// The result of Send in the `send-result` container: the notice, and for a queued message its
/// recipients, followed live, with a link to the Sent page. The live part is made again only
/// when the outcome changes (a language switch does not restart its polling).
fn send_result(lang: RwSignal<Lang>, outcome: RwSignal<Option<SendOutcome>>) -> impl IntoView {
    let text = move || {
        let l = lang.get();
        outcome.with(|o| {
            o.as_ref().map(|o| {
                let (css, role, text) = send_notice(l, o);
                notice(css, role, "send-notice", text)
            })
        })
    };
    let live = move || {
        let queued = outcome.with(|o| match o {
            Some(SendOutcome::Queued(m)) => Some(m.clone()),
            _ => None,
        });
        queued.map(|m| {
            view! {
                <LiveMessages source=Source::One(m)/>
                <p class="sent-link">
                    <NavLink to=Page::Sent>{tr(lang, Key::SendOpenSent)}</NavLink>
                </p>
            }
        })
    };
    view! { <div class="send-result" data-testid="send-result">{text}{live}</div> }
}

/// The compose window.
#[component]
pub fn ComposePage() -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| tr(lang, k);
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
    let outcome = RwSignal::new(None::<SendOutcome>);
    let sending = move || outcome.with(|o| matches!(o, Some(SendOutcome::Sending)));
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
        if outcome.with_untracked(|o| matches!(o, Some(SendOutcome::Sending))) {
            return;
        }
        let verdict_of = |domain: &str| -> Option<DomainVerdict> {
            match store.state_untracked(domain) {
                Some(DomainState::Final(v)) => Some(*v),
                _ => None,
            }
        };
        drafts.clear_note();
        let (t, c, b) = (to.get_untracked(), cc.get_untracked(), bcc.get_untracked());
        let check = check_send([&t, &c, &b], requirement.get_untracked(), verdict_of);
        if check != SendCheck::Ready {
            outcome.set(Some(SendOutcome::Refused(check)));
            return;
        }
        let Some(from) = sender.with_untracked(|s| s.as_ref().map(|s| s.address.clone())) else {
            outcome.set(Some(SendOutcome::NoSender));
            return;
        };
        let request = fields.send_request(&from);
        outcome.set(Some(SendOutcome::Sending));
        spawn_local(async move {
            match api::send_message(&request).await {
                Ok(message) => {
                    drafts.discard();
                    outcome.set(Some(SendOutcome::Queued(message)));
                }
                Err(e) => outcome.set(Some(SendOutcome::Failed(e))),
            }
        });
    };
    let busy = move || drafts.busy();
    // The outcome of the latest Send.
    let has_result = Memo::new(move |_| outcome.with(Option::is_some));
    let result = move || has_result.get().then(|| send_result(lang, outcome));
    // The draft's notice, unless a refusal of Send is showing (after a queued message it says
    // when deleting the draft failed).
    let draft_note = move || {
        let quiet = outcome.with(|o| matches!(o, None | Some(SendOutcome::Queued(_))));
        let note = drafts.note().filter(|_| quiet)?;
        let css = match note {
            DraftNote::Saved(_) => "notice notice-ok",
            DraftNote::Failed(..) => "notice notice-error",
        };
        Some(notice(css, "status", "draft-note", note.text(lang.get())))
    };
    let secure_note = move || {
        requirement.get().map(|_| {
            view! { <p class="notice notice-secure" data-testid="secure-note">{t(Key::SecureSenderNote)}</p> }
        })
    };
    view! {
        <h1 class="visually-hidden">{t(Key::ComposeTitle)}</h1>
        <DemoHint on_pick=pick/>
        <form class="compose" on:submit=on_send>
            <div class="actions" role="toolbar">
                <button type="submit" class="primary" prop:disabled=sending>
                    {t(Key::Send)}
                </button>
                <button type="button" on:click=save prop:disabled=busy>
                    {t(Key::Save)}
                </button>
                <button type="button" on:click=discard prop:disabled=busy>
                    {t(Key::Discard)}
                </button>
            </div>
            {result}
            {draft_note}
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
