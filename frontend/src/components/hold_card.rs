//! One server on hold, for the admin view: host, since when, the known level, the reason, the
//! evidence (the observation before and the one that fell short), and Release / Keep.

use leptos::prelude::*;
use sendguard_common::{HoldStatus, HoldView};

use crate::api::HoldDecision;
use crate::components::badge::class_label;
use crate::components::observation_table::ObservationTable;
use crate::describe::local_time;
use crate::i18n::{Key, tr, use_lang};

/// The catalog key of a hold's state.
pub fn status_key(status: HoldStatus) -> Key {
    match status {
        HoldStatus::Held => Key::AdminStatusHeld,
        HoldStatus::Released => Key::AdminStatusReleased,
        HoldStatus::Kept => Key::AdminStatusKept,
    }
}

/// A card for one hold.
#[component]
pub fn HoldCard(
    /// The hold.
    hold: HoldView,
    /// Called with the host and the decision when Release or Keep is pressed.
    #[prop(into)]
    on_decide: Callback<(String, HoldDecision)>,
    /// Called with the host when its observation history is asked for.
    #[prop(into)]
    on_history: Callback<String>,
    /// Whether a decision is being sent (the buttons wait meanwhile).
    #[prop(into)]
    busy: Signal<bool>,
) -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| tr(lang, k);
    let host = hold.host.clone();
    let held = hold.status == HoldStatus::Held;
    let (h1, h2, h3) = (host.clone(), host.clone(), host.clone());
    let evidence = {
        let mut rows = Vec::new();
        if let Some(before) = hold.before.clone() {
            rows.push((Key::AdminBefore, before));
        }
        rows.push((Key::AdminAfter, hold.after.clone()));
        rows
    };
    let meta = {
        let hold = hold.clone();
        move || {
            let l = lang.get();
            let mut text = format!(
                "{} {} · {}: {} · {}",
                l.text(Key::AdminSince),
                local_time(l, hold.since),
                l.text(Key::AdminFloor),
                l.text(class_label(hold.floor)),
                l.text(status_key(hold.status)),
            );
            if let Some(who) = &hold.decided_by {
                text.push_str(&format!(" · {}", l.format(Key::AdminDecidedBy, &[who])));
            }
            text
        }
    };
    // The level it had reached and the one it fell to, in the user's language; the server's
    // sentence below names the kind of downgrade in technical English.
    let (floor, now) = (hold.floor, hold.after.class);
    let summary = move || {
        let l = lang.get();
        l.format(
            Key::AdminFell,
            &[l.text(class_label(floor)), l.text(class_label(now))],
        )
    };
    view! {
        <article class="hold" data-testid="hold" data-host=host.clone() data-status=hold.status.as_str()>
            <header class="hold-head">
                <h2>
                    <button
                        type="button"
                        class="link host-link"
                        title=t(Key::AdminShowHistory)
                        on:click=move |_| on_history.run(h1.clone())
                    >
                        {host.clone()}
                    </button>
                </h2>
                <p class="hold-meta">{meta}</p>
            </header>
            <p class="hold-summary" data-testid="hold-summary">{summary}</p>
            <p class="hold-reason"><strong>{t(Key::TechnicalDetail)}": "</strong>{hold.reason.clone()}</p>
            <ObservationTable caption=hold.host.clone() rows=evidence/>
            <div class="hold-actions">
                <button
                    type="button"
                    class="primary"
                    prop:disabled=move || !held || busy.get()
                    on:click=move |_| on_decide.run((h2.clone(), HoldDecision::Release))
                >
                    {t(Key::AdminRelease)}
                </button>
                <button
                    type="button"
                    prop:disabled=move || !held || busy.get()
                    on:click=move |_| on_decide.run((h3.clone(), HoldDecision::Keep))
                >
                    {t(Key::AdminKeep)}
                </button>
            </div>
        </article>
    }
}
