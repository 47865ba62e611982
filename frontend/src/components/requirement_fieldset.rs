//! The expert settings for one direction (sending or receiving): the minimum authentication
//! (any TLS, or authenticated TLS: DANE or a valid certificate) and the minimum TLS version.

use leptos::prelude::*;
use sendguard_common::{MinAuthentication, MinTlsVersion, TransportRequirement};

use crate::i18n::{Key, use_lang};

/// Two radio groups for one [`TransportRequirement`].
#[component]
pub fn RequirementFieldset(
    /// The legend (sending or receiving).
    legend: Key,
    /// A prefix for the radio names and test ids, e.g. `sending`.
    name: &'static str,
    /// The requirement being edited.
    value: RwSignal<TransportRequirement>,
) -> impl IntoView {
    let lang = use_lang();
    let auth = move |choice: MinAuthentication, key: Key, slug: &'static str| {
        view! {
            <label class="choice">
                <input
                    type="radio"
                    name=format!("{name}-auth")
                    data-testid=format!("{name}-auth-{slug}")
                    prop:checked=move || value.get().authentication == choice
                    on:change=move |_| value.update(|v| v.authentication = choice)
                />
                {move || lang.get().text(key)}
            </label>
        }
    };
    let version = move |choice: MinTlsVersion, key: Key, slug: &'static str| {
        view! {
            <label class="choice">
                <input
                    type="radio"
                    name=format!("{name}-tls")
                    data-testid=format!("{name}-tls-{slug}")
                    prop:checked=move || value.get().tls_version == choice
                    on:change=move |_| value.update(|v| v.tls_version = choice)
                />
                {move || lang.get().text(key)}
            </label>
        }
    };
    view! {
        <fieldset class="expert" data-testid=format!("expert-{name}")>
            <legend>{move || lang.get().text(legend)}</legend>
            <div class="expert-group" role="radiogroup" aria-label=move || lang.get().text(Key::MinAuthentication)>
                <span class="expert-label" aria-hidden="true">{move || lang.get().text(Key::MinAuthentication)}</span>
                {auth(MinAuthentication::AnyTls, Key::AuthAnyTls, "any")}
                {auth(MinAuthentication::Authenticated, Key::AuthAuthenticated, "authenticated")}
            </div>
            <div class="expert-group" role="radiogroup" aria-label=move || lang.get().text(Key::MinTlsVersion)>
                <span class="expert-label" aria-hidden="true">{move || lang.get().text(Key::MinTlsVersion)}</span>
                {version(MinTlsVersion::Tls12, Key::Tls12, "12")}
                {version(MinTlsVersion::Tls13, Key::Tls13, "13")}
            </div>
        </fieldset>
    }
}
