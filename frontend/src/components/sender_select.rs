//! The From selector: the account's addresses from the server (secure aliases included when
//! secure sending is on), each secure one marked as such. When the addresses cannot be loaded
//! the field says why instead of offering an address the server does not know.

use leptos::prelude::*;
use sendguard_common::SenderAddress;

use crate::api;
use crate::i18n::{Key, tr, use_lang};
use crate::load::load;

/// The option text of an address: `Name <address>`, with "(sicher)" for a secure alias.
pub fn option_text(name: &str, address: &SenderAddress, secure_word: &str) -> String {
    let mut text = if name.is_empty() {
        address.address.clone()
    } else {
        format!("{name} <{}>", address.address)
    };
    if address.secure {
        text.push_str(&format!(" ({secure_word})"));
    }
    text
}

/// The labelled From field.
#[component]
pub fn SenderSelect(
    /// The chosen sender; once the account has loaded, one of its addresses (the first unless
    /// another of them was chosen).
    selected: RwSignal<Option<SenderAddress>>,
) -> impl IntoView {
    let lang = use_lang();
    let account = load(api::account);
    // Once the account is known, the choice is always one of its addresses: a chosen address
    // (e.g. from a restored draft) is taken with the account's `secure` flag, else the first.
    Effect::new(move |_| {
        if let Some(Ok(a)) = account.get() {
            let current = selected.get();
            let wanted = current
                .as_ref()
                .and_then(|c| a.addresses.iter().find(|x| x.address == c.address))
                .or(a.addresses.first())
                .cloned();
            if wanted != current {
                selected.set(wanted);
            }
        }
    });
    let options = move || {
        let l = lang.get();
        match account.get() {
            Some(Ok(a)) => a
                .addresses
                .iter()
                .map(|addr| {
                    let value = addr.address.clone();
                    let is_selected = {
                        let value = value.clone();
                        move || selected.with(|s| s.as_ref().is_some_and(|s| s.address == value))
                    };
                    view! {
                        <option value=value prop:selected=is_selected>
                            {option_text(&a.name, addr, l.text(Key::SecureSender))}
                        </option>
                    }
                })
                .collect_view()
                .into_any(),
            Some(Err(_)) => ().into_any(),
            None => view! { <option value="">{l.text(Key::Loading)}</option> }.into_any(),
        }
    };
    let on_change = move |ev: web_sys::Event| {
        let value = event_target_value(&ev);
        if let Some(Ok(a)) = account.get_untracked() {
            selected.set(a.addresses.into_iter().find(|x| x.address == value));
        }
    };
    let error = move || {
        let l = lang.get();
        match account.get() {
            Some(Err(e)) => Some(view! {
                <p class="field-error" role="alert" data-testid="account-error">
                    {l.format(Key::AccountLoadFailed, &[&e.message(l)])}
                </p>
            }),
            _ => None,
        }
    };
    let disabled = move || !matches!(account.get(), Some(Ok(_)));
    view! {
        <div class="field">
            <label for="from">{tr(lang, Key::From)}</label>
            <div class="field-body">
                <select id="from" on:change=on_change prop:disabled=disabled>{options}</select>
                {error}
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_aliases_are_marked_in_the_option() {
        let plain = SenderAddress {
            address: "maxima@mailbox.example".into(),
            secure: false,
        };
        let secure = SenderAddress {
            address: "maxima@secure.mailbox.example".into(),
            secure: true,
        };
        assert_eq!(
            option_text("Maxima", &plain, "sicher"),
            "Maxima <maxima@mailbox.example>"
        );
        assert_eq!(
            option_text("", &secure, "secure"),
            "maxima@secure.mailbox.example (secure)"
        );
    }
}
