//! The admin view (`/admin`): servers on hold with their evidence, Release and Keep, and the
//! observation history of a server. It is for sessions with the admin role
//! ([`sendguard_common::Role::Admin`]); anyone else signed in sees that it is not for them.

use leptos::prelude::*;
use sendguard_common::ObservationSource;

use crate::api::{self, HoldDecision};
use crate::components::hold_card::HoldCard;
use crate::components::observation_table::ObservationTable;
use crate::i18n::{Key, tr, use_lang};
use crate::load::{Task, load};
use crate::session::Session;

/// The admin page: the holds for a session with the admin role, a clear "not allowed" for
/// anyone else (the server refuses them too, with 403).
#[component]
pub fn AdminPage() -> impl IntoView {
    let lang = use_lang();
    let session = Session::use_session();
    move || {
        if session.is_admin() {
            Holds().into_any()
        } else {
            view! {
                <section class="admin">
                    <h1>{tr(lang, Key::NavAdmin)}</h1>
                    <p class="notice notice-error" role="alert" data-testid="admin-forbidden">
                        {tr(lang, Key::AdminForbidden)}
                    </p>
                </section>
            }
            .into_any()
        }
    }
}

/// The servers on hold, their evidence and history, and the decisions.
#[component]
fn Holds() -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| tr(lang, k);
    let refresh = RwSignal::new(0u32);
    let decide = Task::new();
    let holds = load(move || {
        refresh.track();
        decide.answer().track();
        api::holds()
    });
    let history_host = RwSignal::new(None::<String>);
    let history = load(move || {
        let host = history_host.get();
        decide.answer().track();
        async move {
            let host = host?;
            Some((host.clone(), api::observations(host).await))
        }
    });
    let list = move || {
        let l = lang.get();
        match holds.get() {
            None => view! { <p class="notice notice-info">{l.text(Key::Loading)}</p> }.into_any(),
            Some(Err(e)) => view! {
                <p class="notice notice-error" role="alert" data-testid="admin-error">
                    {l.format(Key::AdminLoadFailed, &[&e.message(l)])}
                </p>
            }
            .into_any(),
            Some(Ok(list)) if list.is_empty() => {
                view! { <p class="notice notice-ok" data-testid="no-holds">{l.text(Key::AdminNoHolds)}</p> }.into_any()
            }
            Some(Ok(list)) => list
                .into_iter()
                .map(|hold| {
                    view! {
                        <HoldCard
                            hold=hold
                            on_decide=move |(host, decision): (String, HoldDecision)| {
                                decide.run(api::decide(host, decision))
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
            <div class="admin-actions">
                <button type="button" on:click=move |_| refresh.update(|n| *n += 1)>{t(Key::AdminRefresh)}</button>
            </div>
            {action_error}
            <div class="holds">{list}</div>
            {history_view}
        </section>
    }
}
