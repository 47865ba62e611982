//! The Sendguard compose page: a Leptos app rendered in the browser (client-side only).
//!
//! [`App`] sets up the language and the router; pages live in [`pages`], reusable parts in
//! [`components`], all HTTP in [`api`], and logic without a view (address parsing, the text
//! catalog) in plain modules that are unit-tested natively.

pub mod api;
pub mod components;
pub mod describe;
pub mod draft;
pub mod i18n;
pub mod pages;
pub mod recipients;
pub mod secure;
pub mod verdicts;

use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;

use crate::i18n::{Key, Lang, provide_lang, use_lang};

/// The whole application: top bar with navigation and language switch, and the routed page.
#[component]
pub fn App() -> impl IntoView {
    provide_lang();
    verdicts::VerdictStore::provide();
    let lang = use_lang();
    view! {
        <Router>
            <header class="topbar">
                <span class="brand">"Sendguard"</span>
                <nav aria-label=move || lang.get().text(Key::Navigation)>
                    <A href="/">{move || lang.get().text(Key::NavCompose)}</A>
                    <A href="/settings">{move || lang.get().text(Key::NavSettings)}</A>
                    <A href="/admin">{move || lang.get().text(Key::NavAdmin)}</A>
                </nav>
                <LanguageSwitch/>
            </header>
            <main class="page">
                <Routes fallback=move || view! { <p>{move || lang.get().text(Key::NotFound)}</p> }>
                    <Route path=path!("/") view=pages::compose::ComposePage/>
                    <Route path=path!("/settings") view=pages::settings::SettingsPage/>
                    <Route path=path!("/admin") view=pages::admin::AdminPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// Buttons that switch between German and English; the choice is remembered.
#[component]
fn LanguageSwitch() -> impl IntoView {
    let lang = use_lang();
    let button = move |l: Lang| {
        view! {
            <button
                type="button"
                class="lang"
                aria-pressed=move || (lang.get() == l).to_string()
                on:click=move |_| i18n::set_lang(lang, l)
            >
                {l.code().to_uppercase()}
            </button>
        }
    };
    view! {
        <div class="lang-switch" role="group" aria-label=move || lang.get().text(Key::Language)>
            {button(Lang::De)}
            {button(Lang::En)}
        </div>
    }
}
