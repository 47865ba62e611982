//! The Sendguard compose page: a Leptos app rendered in the browser (client-side only).
//!
//! [`App`] sets up the language and the navigation ([`nav`]); pages live in [`pages`], reusable parts in
//! [`components`], all HTTP in [`api`], and logic without a view (address parsing, the text
//! catalog) in plain modules that are unit-tested natively.

pub mod api;
pub mod components;
pub mod describe;
pub mod draft;
pub mod i18n;
pub mod load;
pub mod nav;
pub mod pages;
pub mod recipients;
pub mod secure;
pub mod sent;
pub mod verdicts;

use crate::i18n::{Key, Lang, provide_lang, use_lang};
use crate::nav::{Location, NavLink, Page};
use leptos::prelude::*;

/// The whole application: top bar with navigation and language switch, and the routed page.
#[component]
pub fn App() -> impl IntoView {
    provide_lang();
    verdicts::VerdictStore::provide();
    let lang = use_lang();
    let location = Location::provide();
    let page = move || match location.page() {
        Page::Compose => pages::compose::ComposePage().into_any(),
        Page::Sent => pages::sent::SentPage().into_any(),
        Page::Settings => pages::settings::SettingsPage().into_any(),
        Page::Admin => pages::admin::AdminPage().into_any(),
        Page::NotFound => view! { <p>{move || lang.get().text(Key::NotFound)}</p> }.into_any(),
    };
    view! {
        <header class="topbar">
            <span class="brand">"Sendguard"</span>
            <nav aria-label=move || lang.get().text(Key::Navigation)>
                <NavLink to=Page::Compose>{move || lang.get().text(Key::NavCompose)}</NavLink>
                <NavLink to=Page::Sent>{move || lang.get().text(Key::NavSent)}</NavLink>
                <NavLink to=Page::Settings>{move || lang.get().text(Key::NavSettings)}</NavLink>
                <NavLink to=Page::Admin>{move || lang.get().text(Key::NavAdmin)}</NavLink>
            </nav>
            <LanguageSwitch/>
        </header>
        <main class="page">{page}</main>
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
                {l.code().to_ascii_uppercase()}
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
