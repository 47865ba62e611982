//! The signed-in user in the top bar: their name and the sign-out button
//! (`DELETE /api/session`, then the sign-in page). A sign-out the server could not be told of
//! is said in words, and the user stays signed in.

use leptos::prelude::*;

use crate::i18n::{Key, tr, use_lang};
use crate::session::{Session, SessionState};

/// The user's name and "Abmelden" / "Sign out" (renders nothing while no one is signed in).
#[component]
pub fn UserMenu() -> impl IntoView {
    let lang = use_lang();
    let session = Session::use_session();
    move || {
        let SessionState::SignedIn(user) = session.state() else {
            return None;
        };
        let error = move || {
            let l = lang.get();
            session.sign_out_error().map(|e| {
                view! {
                    <span class="notice notice-error" role="alert" data-testid="sign-out-error">
                        {l.format(Key::SignOutFailed, &[&e.message(l)])}
                    </span>
                }
            })
        };
        Some(view! {
            <div class="user-menu">
                <span class="user-name" data-testid="user-name" title=user.login>{user.name}</span>
                <button type="button" class="sign-out" on:click=move |_| session.sign_out()>
                    {tr(lang, Key::SignOut)}
                </button>
                {error}
            </div>
        })
    }
}
