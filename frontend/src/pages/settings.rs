//! The settings page "Verschlüsselter Versand": off, on, or on with expert settings.

use leptos::prelude::*;

use crate::i18n::{Key, use_lang};

/// The three choices of the setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecureSending {
    /// Ausschalten.
    Off,
    /// Einschalten.
    On,
    /// Einschalten mit Profi-Einstellungen.
    Expert,
}

/// The settings page.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| move || lang.get().text(k);
    let choice = RwSignal::new(SecureSending::Off);
    let option = move |value: SecureSending, key: Key| {
        view! {
            <label class="choice">
                <input
                    type="radio"
                    name="secure-sending"
                    prop:checked=move || choice.get() == value
                    on:change=move |_| choice.set(value)
                />
                {t(key)}
            </label>
        }
    };
    view! {
        <section class="settings">
            <h1>{t(Key::SettingsTitle)}</h1>
            <p>{t(Key::SettingsIntro)}</p>
            <fieldset>
                <legend class="visually-hidden">{t(Key::SettingsTitle)}</legend>
                {option(SecureSending::Off, Key::SecureOff)}
                {option(SecureSending::On, Key::SecureOn)}
                {option(SecureSending::Expert, Key::SecureExpert)}
            </fieldset>
            <button type="button" class="primary">{t(Key::Save)}</button>
        </section>
    }
}
