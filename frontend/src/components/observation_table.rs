//! A table of observations of mail servers, as evidence for an administrator: time, TLS version,
//! cipher, certificate fingerprint (prefix), DANE result, class and reason.

use leptos::prelude::*;
use sendguard_common::ObservationView;

use crate::components::badge::class_label;
use crate::describe::{cert_prefix, dane_key, local_time};
use crate::i18n::{Key, tr, use_lang};

/// The table; each row has a heading (e.g. "Vorher" / "Unterschritten", or the source).
#[component]
pub fn ObservationTable(
    /// The table's caption.
    caption: String,
    /// The rows: a heading and the observation.
    rows: Vec<(Key, ObservationView)>,
) -> impl IntoView {
    let lang = use_lang();
    let t = move |k: Key| tr(lang, k);
    let body = move || {
        let l = lang.get();
        rows.iter()
            .map(|(heading, o)| {
                view! {
                    <tr data-testid="observation">
                        <th scope="row">{l.text(*heading)}</th>
                        <td>{local_time(l, o.at)}</td>
                        <td>{o.tls_version.clone().unwrap_or_else(|| "–".into())}</td>
                        <td class="mono">{o.cipher.clone().unwrap_or_else(|| "–".into())}</td>
                        <td class="mono">{cert_prefix(o.cert_sha256.as_deref())}</td>
                        <td>{l.text(dane_key(o.dane))}</td>
                        <td>{l.text(class_label(o.class))}</td>
                        <td>{o.reason.clone()}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <div class="table-scroll">
            <table class="observations">
                <caption>{caption}</caption>
                <thead>
                    <tr>
                        <td></td>
                        <th scope="col">{t(Key::AdminTime)}</th>
                        <th scope="col">{t(Key::AdminTlsVersion)}</th>
                        <th scope="col">{t(Key::AdminCipher)}</th>
                        <th scope="col">{t(Key::AdminCert)}</th>
                        <th scope="col">{t(Key::AdminDane)}</th>
                        <th scope="col">{t(Key::AdminClass)}</th>
                        <th scope="col">{t(Key::AdminReason)}</th>
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
}
