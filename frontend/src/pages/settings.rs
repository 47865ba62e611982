//! The settings page "Verschlüsselter Versand": Ausschalten / Einschalten / Einschalten mit
//! Profi-Einstellungen, and with the expert choice the minimum authentication and TLS version,
//! separately for sending and receiving. Loaded with `GET` and stored with `PUT` on
//! [`sendguard_common::paths::SETTINGS`]; a save is confirmed and the form shows what the server
//! stored.

use leptos::prelude::*;
use sendguard_common::{SecureMode, SecureSendingSettings, TransportRequirement};

use crate::api;
use crate::components::choice::choice;
use crate::components::requirement_fieldset::RequirementFieldset;
use crate::i18n::{Key, tr, use_lang};
use crate::load::{Task, load};

/// The settings page.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| tr(lang, k);
    let mode = RwSignal::new(SecureMode::Off);
    let sending = RwSignal::new(TransportRequirement::default());
    let receiving = RwSignal::new(TransportRequirement::default());
    let show = move |s: SecureSendingSettings| {
        mode.set(s.mode);
        sending.set(s.sending);
        receiving.set(s.receiving);
    };
    let loaded = load(api::settings);
    Effect::new(move |_| {
        if let Some(Ok(s)) = loaded.get() {
            show(s);
        }
    });
    let save = Task::new();
    Effect::new(move |_| {
        if let Some(Ok(stored)) = save.answer().get() {
            show(stored);
        }
    });
    let option = move |value: SecureMode, key: Key, slug: &'static str| {
        choice(
            "secure-sending".to_string(),
            format!("mode-{slug}"),
            key,
            Box::new(move || mode.get() == value),
            Box::new(move || mode.set(value)),
        )
    };
    let on_save = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        save.run(api::save_settings(SecureSendingSettings {
            mode: mode.get_untracked(),
            sending: sending.get_untracked(),
            receiving: receiving.get_untracked(),
        }));
    };
    let status = move || {
        let l = lang.get();
        if save.running() {
            return Some((
                "notice notice-info",
                l.text(Key::SettingsSaving).to_string(),
            ));
        }
        match save.answer().get() {
            Some(Ok(_)) => {
                return Some(("notice notice-ok", l.text(Key::SettingsSaved).to_string()));
            }
            Some(Err(e)) => {
                return Some((
                    "notice notice-error",
                    l.format(Key::SettingsSaveFailed, &[&e.message(l)]),
                ));
            }
            None => {}
        }
        match loaded.get() {
            None => Some(("notice notice-info", l.text(Key::Loading).to_string())),
            Some(Err(e)) => Some((
                "notice notice-error",
                l.format(Key::SettingsLoadFailed, &[&e.message(l)]),
            )),
            Some(Ok(_)) => None,
        }
    };
    view! {
        <section class="settings">
            <h1>{t(Key::SettingsTitle)}</h1>
            <p>{t(Key::SettingsIntro)}</p>
            <form on:submit=on_save>
                <fieldset class="modes">
                    <legend class="visually-hidden">{t(Key::SettingsTitle)}</legend>
                    {option(SecureMode::Off, Key::SecureOff, "off")}
                    {option(SecureMode::On, Key::SecureOn, "on")}
                    {option(SecureMode::Expert, Key::SecureExpert, "expert")}
                </fieldset>
                <Show when=move || mode.get() == SecureMode::Expert>
                    <div class="expert-settings">
                        <RequirementFieldset legend=Key::ExpertSending name="sending" value=sending/>
                        <RequirementFieldset legend=Key::ExpertReceiving name="receiving" value=receiving/>
                    </div>
                </Show>
                <div class="settings-actions">
                    <span role="status" data-testid="settings-status">
                        {move || status().map(|(css, text)| view! { <span class=css>{text}</span> })}
                    </span>
                    <button type="submit" class="primary" prop:disabled=move || save.running()>
                        {t(Key::Save)}
                    </button>
                </div>
            </form>
        </section>
    }
}
