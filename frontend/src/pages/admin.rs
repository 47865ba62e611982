//! The admin view (`/admin`): servers on hold with their evidence, Release and Keep, and the
//! observation history of a server. The admin token is typed once per browser session, kept in
//! `sessionStorage` and sent as [`sendguard_common::paths::ADMIN_TOKEN_HEADER`].

use leptos::prelude::*;
use sendguard_common::ObservationSource;

use crate::api::{self, HoldDecision};
use crate::components::hold_card::HoldCard;
use crate::components::observation_table::ObservationTable;
use crate::i18n::{Key, use_lang};
use crate::load::{Task, load};

const TOKEN_KEY: &str = "sendguard.admin-token";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn stored_token() -> String {
    session_storage()
        .and_then(|s| s.get_item(TOKEN_KEY).ok().flatten())
        .unwrap_or_default()
}

fn store_token(token: &str) {
    if let Some(s) = session_storage() {
        let _ = s.set_item(TOKEN_KEY, token);
    }
}

/// The admin page.
#[component]
pub fn AdminPage() -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| move || lang.get().text(k);
    let token = RwSignal::new(stored_token());
    let draft = RwSignal::new(token.get_untracked());
    let refresh = RwSignal::new(0u32);
    let decide = Task::new();
    let holds = load(move || {
        let token = token.get();
        refresh.track();
        decide.answer().track();
        async move {
            if token.is_empty() {
                None
            } else {
                Some(api::holds(token).await)
            }
        }
    });
    let history_host = RwSignal::new(None::<String>);
    let history = load(move || {
        let (token, host) = (token.get(), history_host.get());
        decide.answer().track();
        async move {
            let host = host?;
            Some((host.clone(), api::observations(token, host).await))
        }
    });
    let on_sign_in = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        let value = draft.get_untracked().trim().to_string();
        store_token(&value);
        token.set(value);
        refresh.update(|n| *n += 1);
    };
    let list = move || {
        let l = lang.get();
        match holds.get() {
            None => view! { <p class="notice notice-info">{l.text(Key::Loading)}</p> }.into_any(),
            Some(None) => view! { <p class="notice notice-info">{l.text(Key::AdminNeedToken)}</p> }.into_any(),
            Some(Some(Err(e))) => view! {
                <p class="notice notice-error" role="alert" data-testid="admin-error">
                    {l.format(Key::AdminLoadFailed, &[&e.message(l)])}
                </p>
            }
            .into_any(),
            Some(Some(Ok(list))) if list.is_empty() => {
                view! { <p class="notice notice-ok" data-testid="no-holds">{l.text(Key::AdminNoHolds)}</p> }.into_any()
            }
            Some(Some(Ok(list))) => list
                .into_iter()
                .map(|hold| {
                    view! {
                        <HoldCard
                            hold=hold
                            on_decide=move |(host, decision): (String, HoldDecision)| {
                                decide.run(api::decide(token.get_untracked(), host, decision))
                            }
                            on_history=move |host| history_host.set(Some(host))
                            busy=Signal::derive(move || decide.running())
                        />
                    }
                })
                .collect_view()
                .into_any(),
        }
    };
    let action_error = move || {
        let l = lang.get();
        match decide.answer().get() {
            Some(Err(e)) => Some(view! {
                <p class="notice notice-error" role="alert">{l.format(Key::AdminActionFailed, &[&e.message(l)])}</p>
            }),
            _ => None,
        }
    };
    let history_view = move || {
        let l = lang.get();
        let (host, answer) = history.get().flatten()?;
        let caption = l.format(Key::AdminHistory, &[&host]);
        Some(match answer {
            Err(e) => view! {
                <p class="notice notice-error" role="alert">{l.format(Key::AdminLoadFailed, &[&e.message(l)])}</p>
            }
            .into_any(),
            Ok(observations) => {
                let rows = observations
                    .into_iter()
                    .map(|o| {
                        let key = match o.source {
                            ObservationSource::Probe => Key::AdminSourceProbe,
                            ObservationSource::Delivery => Key::AdminSourceDelivery,
                            ObservationSource::Postfix => Key::AdminSourcePostfix,
                            ObservationSource::Inbound => Key::AdminSourceInbound,
                        };
                        (key, o)
                    })
                    .collect::<Vec<_>>();
                let label = caption.clone();
                view! {
                    <section class="history" data-testid="history" aria-label=label>
                        <ObservationTable caption=caption rows=rows/>
                    </section>
                }
                .into_any()
            }
        })
    };
    view! {
        <section class="admin">
            <h1>{t(Key::AdminTitle)}</h1>
            <p>{t(Key::AdminIntro)}</p>
            <form class="token-form" on:submit=on_sign_in>
                <label for="admin-token">{t(Key::AdminToken)}</label>
                <input id="admin-token" type="password" autocomplete="off" bind:value=draft/>
                <button type="submit">{t(Key::AdminTokenApply)}</button>
                <button type="button" on:click=move |_| refresh.update(|n| *n += 1)>{t(Key::AdminRefresh)}</button>
            </form>
            {action_error}
            <div class="holds">{list}</div>
            {history_view}
        </section>
    }
}
