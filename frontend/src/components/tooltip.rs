//! The explanation behind a badge, shown on hover and on keyboard focus: the sentence for the
//! class, the encryption line in the seed's form ("Verschlüsselung: TLSv1.2,
//! ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)"), the reason when delivery is blocked, and one
//! line per mail server.

use leptos::prelude::*;
use sendguard_common::{DaneStatus, DomainVerdict, SecurityClass};

use crate::i18n::{Key, use_lang};

/// The catalog key of a class's explanation.
pub fn class_explanation(class: SecurityClass) -> Key {
    match class {
        SecurityClass::DaneOk => Key::ExplainDaneOk,
        SecurityClass::SslOk => Key::ExplainSslOk,
        SecurityClass::Unknown => Key::ExplainUnknown,
        SecurityClass::NoSsl => Key::ExplainNoSsl,
    }
}

fn dane_text(d: DaneStatus) -> &'static str {
    match d {
        DaneStatus::Verified => "DANE ✓",
        DaneStatus::Failed => "DANE ✗",
        DaneStatus::None => "DANE –",
        DaneStatus::Insecure => "DANE – (DNSSEC –)",
        DaneStatus::Bogus => "DNSSEC ✗",
    }
}

/// The tooltip of one chip.
#[component]
pub fn Tooltip(
    /// Element id, referenced by the badge's `aria-describedby`.
    id: String,
    /// The verdict, when known.
    #[prop(into)]
    verdict: Signal<Option<DomainVerdict>>,
    /// Whether a probe is running.
    #[prop(into)]
    pending: Signal<bool>,
) -> impl IntoView {
    let lang = use_lang();
    let body = move || {
        let l = lang.get();
        let v = verdict.get();
        let class = v.as_ref().map_or(SecurityClass::Unknown, |v| v.class);
        let encryption = v
            .as_ref()
            .and_then(|v| v.mx.iter().find_map(|m| m.encryption_line()))
            .map(|line| view! { <p class="tip-encryption">{format!("{}: {line}", l.text(Key::Encryption))}</p> });
        let blocked = v.as_ref().filter(|v| v.blocked).map(|v| {
            view! { <p class="tip-blocked"><strong>{l.text(Key::Blocked)}</strong>": "{v.reason.clone()}</p> }
        });
        let servers =
            v.as_ref().filter(|v| !v.mx.is_empty()).map(|v| {
                let items = v
                .mx
                .iter()
                .map(|m| {
                    let tls = m.encryption_line().unwrap_or_else(|| match m.starttls {
                        Some(false) => "no STARTTLS".into(),
                        _ => m.error.clone().unwrap_or_else(|| "–".into()),
                    });
                    let cert = m.certificate.as_ref().map(|c| {
                        if c.webpki_valid { ", cert ✓" } else { ", cert self-signed/untrusted" }
                    });
                    let hold = if m.on_hold { " — on hold" } else { "" };
                    view! {
                        <li>
                            <span class="tip-host">{m.host.clone()}</span>
                            {format!(": {tls}, {}{}{hold}", dane_text(m.dane), cert.unwrap_or(""))}
                        </li>
                    }
                })
                .collect_view();
                view! {
                    <p class="tip-servers-title">{l.text(Key::MailServers)}</p>
                    <ul class="tip-servers">{items}</ul>
                }
            });
        view! {
            <p class="tip-sentence">
                {if pending.get() { l.text(Key::Checking) } else { l.text(class_explanation(class)) }}
            </p>
            {encryption}
            {blocked}
            {servers}
        }
    };
    view! {
        <span class="tooltip" role="tooltip" id=id>{body}</span>
    }
}
