//! In `sendguard demo`, a list of the simulated recipient domains with what each shows, so a
//! visitor knows what to type. Clicking one adds a recipient at that domain.

use leptos::prelude::*;

use crate::api;
use crate::i18n::{Key, tr, use_lang};
use crate::load::load;

/// The demo's domain list (renders nothing outside the demo).
#[component]
pub fn DemoHint(
    /// Called with an address when a domain is picked.
    #[prop(into)]
    on_pick: Callback<String>,
) -> impl IntoView {
    let lang = use_lang();
    let health = load(api::health);
    move || {
        let h = health.get().and_then(Result::ok).filter(|h| h.demo)?;
        let items = h
            .demo_domains
            .into_iter()
            .map(|d| {
                let address = format!("user@{}", d.domain);
                let pick = address.clone();
                view! {
                    <li>
                        <button type="button" class="link" on:click=move |_| on_pick.run(pick.clone())>
                            {address}
                        </button>
                        " — "{d.description}
                    </li>
                }
            })
            .collect_view();
        Some(view! {
            <aside class="demo-hint" aria-label=tr(lang, Key::DemoTitle)>
                <details>
                    <summary>{tr(lang, Key::DemoTitle)}</summary>
                    <ul>{items}</ul>
                </details>
            </aside>
        })
    }
}
