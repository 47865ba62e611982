//! The Sendguard compose page: a Leptos app rendered in the browser (client-side only).
//!
//! [`App`] sets up the language, the session ([`session`]: the sign-in page until someone is
//! signed in) and the navigation ([`nav`]); pages live in [`pages`], reusable parts in
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
pub mod session;
pub mod verdicts;
pub mod wire;

use crate::components::user_menu::UserMenu;
use crate::i18n::{Key, Lang, provide_lang, tr, use_lang};
use crate::nav::{Location, NavLink, Page};
use crate::session::{Session, SessionState};
use leptos::prelude::*;

/// The whole application: top bar with navigation, the user and the language switch, and the
/// routed page, or the sign-in page while no one is signed in.
#[component]
pub fn App() -> impl IntoView {
    provide_lang();
    let lang = use_lang();
    Location::provide();
    let session = Session::provide();
    // `None` while the server is asked, then whether someone is signed in (the state changes
    // only between these, so the pages are built again only then).
    let signed_in = move || match session.state() {
        SessionState::Checking => None,
        SessionState::SignedOut => Some(false),
        SessionState::SignedIn(_) => Some(true),
    };
    let main = move || match signed_in() {
        None => view! { <p class="notice notice-info">{tr(lang, Key::Loading)}</p> }.into_any(),
        Some(false) => pages::sign_in::SignInPage().into_any(),
        Some(true) => SignedInPages().into_any(),
    };
    view! {
        <header class="topbar">
            <span class="brand">"Sendguard"</span>
            <Show when=move || signed_in() == Some(true)>
                <nav aria-label=tr(lang, Key::Navigation)>
                    <NavLink to=Page::Compose>{tr(lang, Key::NavCompose)}</NavLink>
                    <NavLink to=Page::Sent>{tr(lang, Key::NavSent)}</NavLink>
                    <NavLink to=Page::Settings>{tr(lang, Key::NavSettings)}</NavLink>
                    <Show when=move || session.is_admin()>
                        <NavLink to=Page::Admin>{tr(lang, Key::NavAdmin)}</NavLink>
                    </Show>
                </nav>
            </Show>
            <UserMenu/>
            <LanguageSwitch/>
        </header>
        <main class="page">{main}</main>
    }
}

/// The routed page of a signed-in user, with the verdicts the pages share (they go when the
/// user signs out).
#[component]
fn SignedInPages() -> impl IntoView {
    verdicts::VerdictStore::provide();
    let lang = use_lang();
    let location = Location::use_location();
    move || match location.page() {
        Page::Compose => pages::compose::ComposePage().into_any(),
        Page::Sent => pages::sent::SentPage().into_any(),
        Page::Settings => pages::settings::SettingsPage().into_any(),
        Page::Admin => pages::admin::AdminPage().into_any(),
        Page::NotFound => view! { <p>{tr(lang, Key::NotFound)}</p> }.into_any(),
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
        <div class="lang-switch" role="group" aria-label=tr(lang, Key::Language)>
            {button(Lang::De)}
            {button(Lang::En)}
        </div>
    }
}
