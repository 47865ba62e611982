//! A recipient field (To, CC or BCC): chips for the addresses entered so far and a text input.
//! Enter, comma and semicolon turn the typed text into a chip, and so does leaving the field
//! (Tab included); a pasted list becomes one chip per entry; Backspace in the empty input
//! removes the last chip.

use leptos::prelude::*;

use crate::components::chip::Chip;
use crate::i18n::{Key, tr, use_lang};
use crate::recipients::RecipientList;

/// A labelled recipient field: the chips, then the input (Enter, comma, semicolon, Tab or
/// leaving the field make a chip; Backspace in the empty input removes the last one).
#[component]
pub fn RecipientField(
    /// The field's label in the catalog (An/To, CC, BCC).
    label: Key,
    /// The input's element id, for the label and for tests.
    id: &'static str,
    /// The chips of this field.
    recipients: RwSignal<RecipientList>,
) -> impl IntoView {
    let lang = use_lang();
    let draft = RwSignal::new(String::new());
    let commit = move || {
        let text = draft.get_untracked();
        if !text.trim().is_empty() {
            recipients.update(|list| {
                list.add_text(&text);
            });
        }
        draft.set(String::new());
    };
    let on_keydown = move |ev: web_sys::KeyboardEvent| match ev.key().as_str() {
        "Enter" => {
            ev.prevent_default();
            commit();
        }
        "," | ";" if !crate::recipients::is_open(&draft.get_untracked()) => {
            ev.prevent_default();
            commit();
        }
        "Backspace" if draft.get_untracked().is_empty() => {
            recipients.update(|list| {
                list.pop();
            });
        }
        _ => {}
    };
    let on_paste = move |ev: web_sys::ClipboardEvent| {
        let Some(text) = ev.clipboard_data().and_then(|d| d.get_data("text").ok()) else {
            return;
        };
        if crate::recipients::split_list(&text).len() > 1 || text.contains(['\n', ',', ';']) {
            ev.prevent_default();
            let combined = format!("{}\n{text}", draft.get_untracked());
            recipients.update(|list| {
                list.add_text(&combined);
            });
            draft.set(String::new());
        }
    };
    view! {
        <div class="field recipients" data-testid=format!("field-{id}")>
            <label for=id>{tr(lang, label)}</label>
            <div class="chips">
                // A native list of the chips only: the input beside it is not one of its items
                // (WAI-ARIA: a list owns list items only), and an empty list is valid.
                <ul class="chip-list">
                    <For
                        each=move || recipients.get().items().to_vec()
                        key=|r| r.id
                        let:recipient
                    >
                        <Chip
                            recipient=recipient
                            on_remove=move |id| recipients.update(|list| list.remove(id))
                        />
                    </For>
                </ul>
                <input
                    id=id
                    type="text"
                    class="recipient-input"
                    autocomplete="off"
                    spellcheck="false"
                    placeholder=tr(lang, Key::RecipientsHint)
                    bind:value=draft
                    on:keydown=on_keydown
                    on:paste=on_paste
                    on:blur=move |_| commit()
                />
            </div>
        </div>
    }
}
