//! The compose page: From selector, To/CC/BCC recipient fields, subject and message, and the
//! Senden / Speichern / Verwerfen actions, laid out like a webmail compose window.

use leptos::prelude::*;

use crate::components::demo_hint::DemoHint;
use crate::components::recipient_field::RecipientField;
use crate::i18n::{Key, use_lang};
use crate::recipients::RecipientList;

/// The compose window.
#[component]
pub fn ComposePage() -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| move || lang.get().text(k);
    let to = RwSignal::new(RecipientList::default());
    let cc = RwSignal::new(RecipientList::default());
    let bcc = RwSignal::new(RecipientList::default());
    let subject = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let discard = move |_| {
        to.set(RecipientList::default());
        cc.set(RecipientList::default());
        bcc.set(RecipientList::default());
        subject.set(String::new());
        body.set(String::new());
    };
    let pick = move |address: String| {
        to.update(|list| {
            list.add_text(&address);
        })
    };
    view! {
        <DemoHint on_pick=pick/>
        <form class="compose" on:submit=|ev| ev.prevent_default()>
            <div class="actions" role="toolbar">
                <button type="submit" class="primary">{t(Key::Send)}</button>
                <button type="button">{t(Key::Save)}</button>
                <button type="button" on:click=discard>{t(Key::Discard)}</button>
            </div>
            <div class="field">
                <label for="from">{t(Key::From)}</label>
                <select id="from">
                    <option>"Maxima Mustermann <maxima.mustermann@sendguard.example>"</option>
                </select>
            </div>
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
