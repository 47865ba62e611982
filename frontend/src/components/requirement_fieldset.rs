//! The expert settings for one direction (sending or receiving): the minimum authentication
//! (any TLS, or authenticated TLS: DANE or a valid certificate) and the minimum TLS version.

use leptos::prelude::*;
use sendguard_common::{MinAuthentication, MinTlsVersion, TransportRequirement};

use crate::components::choice::choice;
use crate::i18n::{Key, tr, use_lang};

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
    let auth = move |wanted: MinAuthentication, key: Key, slug: &'static str| {
        choice(
            format!("{name}-auth"),
            format!("{name}-auth-{slug}"),
            key,
            Box::new(move || value.get().authentication == wanted),
            Box::new(move || value.update(|v| v.authentication = wanted)),
        )
    };
    let version = move |wanted: MinTlsVersion, key: Key, slug: &'static str| {
        choice(
            format!("{name}-tls"),
            format!("{name}-tls-{slug}"),
            key,
            Box::new(move || value.get().tls_version == wanted),
            Box::new(move || value.update(|v| v.tls_version = wanted)),
        )
    };
    view! {
        <fieldset class="expert" data-testid=format!("expert-{name}")>
            <legend>{tr(lang, legend)}</legend>
            <div class="expert-group" role="radiogroup" aria-label=tr(lang, Key::MinAuthentication)>
                <span class="expert-label" aria-hidden="true">{tr(lang, Key::MinAuthentication)}</span>
                {auth(MinAuthentication::AnyTls, Key::AuthAnyTls, "any")}
                {auth(MinAuthentication::Authenticated, Key::AuthAuthenticated, "authenticated")}
            </div>
            <div class="expert-group" role="radiogroup" aria-label=tr(lang, Key::MinTlsVersion)>
                <span class="expert-label" aria-hidden="true">{tr(lang, Key::MinTlsVersion)}</span>
                {version(MinTlsVersion::Tls12, Key::Tls12, "12")}
                {version(MinTlsVersion::Tls13, Key::Tls13, "13")}
            </div>
        </fieldset>
    }
}
