//! One recipient chip: the address, its security badge (or the reason it is invalid) and a
//! remove button reachable by keyboard.

use leptos::prelude::*;
use sendguard_common::SecurityClass;

use crate::components::badge::Badge;
use crate::i18n::{Key, use_lang};
use crate::recipients::Recipient;

/// A chip for one recipient.
#[component]
pub fn Chip(
    /// The recipient it shows.
    recipient: Recipient,
    /// Called with the recipient's id when × is pressed.
    #[prop(into)]
    on_remove: Callback<u32>,
) -> impl IntoView {
    let lang = use_lang();
    let id = recipient.id;
    let label = recipient.label().to_string();
    let remove_name = {
        let label = label.clone();
        move || format!("{}: {label}", lang.get().text(Key::RemoveRecipient))
    };
    let (class, detail) = match &recipient.parsed {
        Ok(_) => (
            "chip",
            view! { <Badge class=SecurityClass::Unknown/> }.into_any(),
        ),
        Err(e) => (
            "chip chip-invalid",
            view! { <span class="chip-error" role="note">{e.to_string()}</span> }.into_any(),
        ),
    };
    view! {
        <span class=class role="listitem" data-testid="chip" data-address=label.clone()>
            <span class="chip-address">{label.clone()}</span>
            {detail}
            <button
                type="button"
                class="chip-remove"
                aria-label=remove_name
                on:click=move |_| on_remove.run(id)
            >
                "×"
            </button>
        </span>
    }
}
