//! One recipient chip: the address, its security badge with the tooltip (or, for an invalid
//! entry, what is wrong with it) and a remove button reachable by keyboard. A blocked
//! recipient's chip is marked as such (the badge then shows the blocked state, not its class). While a secure
//! sender is chosen, a recipient that falls short of its requirement gets a distinct look and
//! a sentence for screen readers.

use std::sync::atomic::{AtomicU32, Ordering};

use leptos::prelude::*;
use sendguard_common::SecurityClass;

use crate::components::badge::Badge;
use crate::components::tooltip::Tooltip;
use crate::i18n::{Key, tr, use_lang};
use crate::recipients::Recipient;
use crate::secure::{SenderRequirement, ShortfallWords, check};
use crate::verdicts::{DomainState, VerdictStore};

/// Tooltip ids must be unique on the page, across the To, CC and BCC fields.
static NEXT_TIP: AtomicU32 = AtomicU32::new(1);

/// A chip for one recipient.
#[component]
pub fn Chip(
    /// The recipient it shows.
    recipient: Recipient,
    /// Called with the recipient's id when × is pressed.
    #[prop(into)]
    on_remove: Callback<u32>,
) -> impl IntoView {
    let lang = use_lang();
    let id = recipient.id;
    let label = recipient.label().to_string();
    let remove_name = {
        let label = label.clone();
        move || format!("{}: {label}", lang.get().text(Key::RemoveRecipient))
    };
    let (class, detail) = match &recipient.parsed {
        Ok(mailbox) => {
            let store = VerdictStore::use_store();
            let domain = mailbox.domain().to_string();
            store.request(mailbox.address.clone(), domain.clone());
            let state = Signal::derive(move || store.state(&domain));
            let verdict = Signal::derive(move || match state.get() {
                Some(DomainState::Final(v)) => Some(*v),
                _ => None,
            });
            let failure = Signal::derive(move || match state.get() {
                Some(DomainState::Failed(why)) => Some(why),
                _ => None,
            });
            let class = Signal::derive(move || {
                verdict.with(|v| v.as_ref().map_or(SecurityClass::Unknown, |v| v.class))
            });
            let pending = Signal::derive(move || matches!(state.get(), Some(DomainState::Pending)));
            let blocked =
                Signal::derive(move || verdict.with(|v| v.as_ref().is_some_and(|v| v.blocked)));
            let requirement = SenderRequirement::use_requirement();
            let shortfall = Signal::derive(move || {
                let required = requirement.get()?;
                verdict.with(|v| check(v.as_ref(), required).err())
            });
            let css = move || {
                if shortfall.get().is_some() {
                    "chip chip-short"
                } else if blocked.get() {
                    "chip chip-blocked"
                } else {
                    "chip"
                }
            };
            let short_text = move || {
                shortfall.get().map(|s| {
                    let l = lang.get();
                    view! {
                        <span class="chip-short-mark" aria-hidden="true">"!"</span>
                        <span class="visually-hidden" data-testid="shortfall">
                            {format!("{}: {}", l.text(Key::BelowRequirement), l.text(s.message_key()))}
                        </span>
                    }
                })
            };
            let tip = format!("tip-{}", NEXT_TIP.fetch_add(1, Ordering::Relaxed));
            let described_by = tip.clone();
            (
                Signal::derive(css),
                view! {
                    <span class="badge-wrap" tabindex="0" aria-describedby=described_by>
                        <Badge class=class pending=pending blocked=blocked/>
                        <Tooltip id=tip verdict=verdict pending=pending failure=failure/>
                    </span>
                    {short_text}
                }
                .into_any(),
            )
        }
        Err(e) => {
            let key = e.message_key();
            (
                Signal::stored("chip chip-invalid"),
                view! {
                    <span class="visually-hidden">{tr(lang, Key::InvalidAddress)}": "</span>
                    <span class="chip-error" data-testid="chip-error">{tr(lang, key)}</span>
                }
                .into_any(),
            )
        }
    };
    view! {
        <li
            class=class
            data-testid="chip"
            data-address=label.clone()
            data-short=move || (class.get() == "chip chip-short").to_string()
        >
            <span class="chip-address">{label.clone()}</span>
            {detail}
            <button
                type="button"
                class="chip-remove"
                aria-label=remove_name
                on:click=move |_| on_remove.run(id)
            >
                "×"
            </button>
        </li>
    }
}
