//! One labelled radio button, as the settings page and its expert fieldsets use them.

use leptos::prelude::*;

use crate::i18n::{Key, tr, use_lang};

/// A radio button of group `name` with its label from the catalog: checked while `checked`
/// holds, `pick` runs when the user chooses it.
pub fn choice(
    name: String,
    testid: String,
    label: Key,
    checked: impl Fn() -> bool + Send + Sync + 'static,
    pick: impl Fn() + 'static,
) -> impl IntoView {
    let lang = use_lang();
    view! {
        <label class="choice">
            <input
                type="radio"
                name=name
                data-testid=testid
                prop:checked=checked
                on:change=move |_| pick()
            />
            {tr(lang, label)}
        </label>
    }
}
