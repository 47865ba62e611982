//! The sign-in page, shown instead of any page while no one is signed in: login and password,
//! sent to `POST /api/session` (the server sets the session cookie). A wrong login or password
//! and too many failed attempts are said in words; after a sign-in the page that was asked for
//! (the address stays as it was) is shown.

use leptos::prelude::*;

use crate::api;
use crate::i18n::{Key, tr, use_lang};
use crate::load::Task;
use crate::session::{Session, sign_in_error};

/// The sign-in page.
#[component]
pub fn SignInPage() -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| tr(lang, k);
    let session = Session::use_session();
    let login = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let attempt = Task::new();
    Effect::new(move |_| match attempt.answer().get() {
        Some(Ok(view)) => session.signed_in(view),
        Some(Err(_)) => password.set(String::new()),
        None => {}
    });
    let on_submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let login = login.get_untracked().trim().to_string();
        attempt.run(api::sign_in(login, password.get_untracked()));
    };
    let status = move || {
        let l = lang.get();
        if attempt.running() {
            return Some(
                view! { <p class="notice notice-info" role="status">{l.text(Key::SignInBusy)}</p> }
                    .into_any(),
            );
        }
        match attempt.answer().get() {
            Some(Err(e)) => Some(
                view! {
                    <p class="notice notice-error" role="alert" data-testid="sign-in-error">
                        {sign_in_error(&e, l)}
                    </p>
                }
                .into_any(),
            ),
            _ => None,
        }
    };
    view! {
        <section class="sign-in">
            <h1>{t(Key::SignInTitle)}</h1>
            <form class="sign-in-form" on:submit=on_submit>
                <label for="sign-in-login">{t(Key::SignInLogin)}</label>
                <input id="sign-in-login" name="username" type="text" autocomplete="username"
                    autocapitalize="none" spellcheck="false" required bind:value=login/>
                <label for="sign-in-password">{t(Key::SignInPassword)}</label>
                <input id="sign-in-password" name="password" type="password"
                    autocomplete="current-password" required bind:value=password/>
                <button type="submit" class="primary" prop:disabled=move || attempt.running()>
                    {t(Key::SignInSubmit)}
                </button>
            </form>
            {status}
        </section>
    }
}
