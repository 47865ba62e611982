//! One labelled radio button, as the settings page and its expert fieldsets use them.

use leptos::prelude::*;

use crate::i18n::{Key, tr, use_lang};

/// Whether a radio button is checked (tracked), boxed: see [`choice`].
pub type Checked = Box<dyn Fn() -> bool + Send + Sync>;

/// A radio button of group `name` with its label from the catalog: checked while `checked`
/// holds, `pick` runs when the user chooses it. The closures are boxed so that every radio
/// button of the page shares one copy of this view's code.
pub fn choice(
    name: String,
    testid: String,
    label: Key,
    checked: Checked,
    pick: Box<dyn Fn()>,
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
