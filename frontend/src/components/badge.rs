//! The security badge behind each recipient: symbol and label for one of the four classes
//! (filled thumbs-up "DANE ok", outlined thumbs-up "SSL ok", grey question mark "SSL?",
//! red prohibition sign "no SSL"). The label is always shown, so colour never carries the
//! meaning alone. A recipient whose mail would not go out is its own state: a red stop sign
//! with "Versand gesperrt" and no class symbol, so it never shows a reassuring thumbs-up; the
//! class stays in `data-class` and in the tooltip's server lines.

use leptos::prelude::*;
use sendguard_common::SecurityClass;

use crate::i18n::{Key, use_lang};

/// The catalog key of a class's label.
pub fn class_label(class: SecurityClass) -> Key {
    match class {
        SecurityClass::DaneOk => Key::ClassDaneOk,
        SecurityClass::SslOk => Key::ClassSslOk,
        SecurityClass::Unknown => Key::ClassUnknown,
        SecurityClass::NoSsl => Key::ClassNoSsl,
    }
}

/// The CSS modifier of a class, also used by tests to find badges.
pub fn class_slug(class: SecurityClass) -> &'static str {
    match class {
        SecurityClass::DaneOk => "dane-ok",
        SecurityClass::SslOk => "ssl-ok",
        SecurityClass::Unknown => "unknown",
        SecurityClass::NoSsl => "no-ssl",
    }
}

const THUMB: &str = "M2 10h4v11H2z M8 20.5V10l4.6-6.6c.8-1.1 2.6-.5 2.5.9L14.6 9H20a2 2 0 0 1 2 2.3l-1.3 7.5a2 2 0 0 1-2 1.7z";

/// The name of the symbol a class shows, also used by tests (`data-icon`).
pub fn icon_slug(class: SecurityClass) -> &'static str {
    match class {
        SecurityClass::DaneOk => "thumb-filled",
        SecurityClass::SslOk => "thumb-outline",
        SecurityClass::Unknown => "question",
        SecurityClass::NoSsl => "prohibited",
    }
}

/// The stop sign of a blocked recipient as inline SVG (decorative: the label carries the
/// meaning): an octagon with a bar, unlike every class symbol.
#[component]
pub fn BlockedIcon() -> impl IntoView {
    view! {
        <svg class="badge-icon" data-icon="blocked" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
            <path d="M8 2h8l6 6v8l-6 6H8l-6-6V8z" fill="currentColor"/>
            <path d="M7 12h10" stroke="#fff" stroke-width="2.4" stroke-linecap="round"/>
        </svg>
    }
}

/// The symbol of a class as inline SVG (decorative: the label carries the meaning).
#[component]
pub fn BadgeIcon(
    /// Which symbol to draw.
    class: SecurityClass,
) -> impl IntoView {
    let inner = match class {
        SecurityClass::DaneOk => view! { <path d=THUMB fill="currentColor"/> }.into_any(),
        SecurityClass::SslOk => view! {
            <path d=THUMB fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/>
        }
        .into_any(),
        SecurityClass::Unknown => view! {
            <circle cx="12" cy="12" r="10" fill="none" stroke="currentColor" stroke-width="1.8"/>
            <path d="M9.2 9.3a2.9 2.9 0 1 1 4.1 2.6c-.8.4-1.3 1-1.3 1.9v.7" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/>
            <circle cx="12" cy="17.3" r="1.2" fill="currentColor"/>
        }
        .into_any(),
        SecurityClass::NoSsl => view! {
            <circle cx="12" cy="12" r="10" fill="none" stroke="currentColor" stroke-width="2.2"/>
            <path d="M5 5l14 14" stroke="currentColor" stroke-width="2.2"/>
        }
        .into_any(),
    };
    view! {
        <svg class="badge-icon" data-icon=icon_slug(class) viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
            {inner}
        </svg>
    }
}

/// A badge: symbol and label of `class`, marked while a probe runs; when delivery is blocked,
/// the blocked state's stop sign and label instead.
#[component]
pub fn Badge(
    /// The class to show; reactive so that a pending verdict updates in place.
    #[prop(into)]
    class: Signal<SecurityClass>,
    /// Whether a probe of the recipient is running.
    #[prop(into, default = false.into())]
    pending: Signal<bool>,
    /// Whether a delivery now would be refused or held.
    #[prop(into, default = false.into())]
    blocked: Signal<bool>,
) -> impl IntoView {
    let lang = use_lang();
    move || {
        let c = class.get();
        let (pending, blocked) = (pending.get(), blocked.get());
        let l = lang.get();
        let mut css = format!("badge badge-{}", class_slug(c));
        if pending {
            css.push_str(" badge-pending");
        }
        if blocked {
            css.push_str(" badge-blocked");
        }
        let name = if blocked {
            l.text(Key::Blocked).to_string()
        } else if pending {
            format!("{}, {}", l.text(class_label(c)), l.text(Key::Checking))
        } else {
            l.text(class_label(c)).to_string()
        };
        view! {
            <span
                class=css
                data-class=class_slug(c)
                data-pending=pending.to_string()
                data-blocked=blocked.to_string()
                role="img"
                aria-label=name
            >
                {if blocked {
                    view! {
                        <BlockedIcon/>
                        <span class="badge-label" aria-hidden="true">{l.text(Key::Blocked)}</span>
                    }
                    .into_any()
                } else {
                    view! {
                        <BadgeIcon class=c/>
                        <span class="badge-label" aria-hidden="true">{l.text(class_label(c))}</span>
                    }
                    .into_any()
                }}
            </span>
        }
    }
}
