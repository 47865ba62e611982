//! The explanation behind a badge, shown on hover and on keyboard focus: the sentence for the
//! class, the encryption line of the weakest mail server in the seed's form ("Verschlüsselung:
//! TLSv1.2, ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)"), and per mail server its TLS,
//! certificate, DANE result, last check and hold state (worded by [`crate::describe`]); the
//! domain's MTA-STS policy (mode, MX patterns, cached until) when it has one. For a
//! blocked recipient it leads with what will happen to the message and why, instead of the
//! class's sentence (which would promise a delivery that does not happen).

use leptos::prelude::*;
use sendguard_common::{DomainVerdict, SecurityClass};

use crate::describe::{
    blocked_outcome, cause_key, class_explanation, encryption_summary, local_time, mx_lines,
    sts_line,
};
use crate::i18n::{Key, use_lang};

/// Seconds since the Unix epoch, from the browser's clock.
fn now_seconds() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
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
    /// Why the verdict could not be had, when asking failed.
    #[prop(into, default = Signal::stored(None))]
    failure: Signal<Option<String>>,
) -> impl IntoView {
    let lang = use_lang();
    let body = move || {
        let l = lang.get();
        let v = verdict.get();
        let class = v.as_ref().map_or(SecurityClass::Unknown, |v| v.class);
        let blocked_cause = v.as_ref().filter(|v| v.blocked).map(|v| v.cause);
        let sentence = match blocked_cause {
            Some(cause) => l.text(blocked_outcome(cause)),
            None if pending.get() => l.text(Key::Checking),
            None => l.text(class_explanation(class)),
        };
        let failed = failure.get().map(|why| {
            view! { <p class="tip-blocked">{l.text(Key::LookupFailed)}": "{why}</p> }
        });
        let encryption = v
            .as_ref()
            .and_then(|v| encryption_summary(l, v))
            .map(|line| {
                view! { <p class="tip-encryption">{format!("{}: {line}", l.text(Key::Encryption))}</p> }
            });
        // Why, in the user's language; the server's technical detail (English) below it.
        // Verdicts stored before causes existed have the detail only.
        let blocked = v.as_ref().filter(|v| v.blocked).map(|v| {
            let (why, detail) = match v.cause {
                Some(c) => (l.text(cause_key(c)).to_string(), Some(v.reason.clone())),
                None => (v.reason.clone(), None),
            };
            let detail = detail.map(|d| {
                view! { <p class="tip-detail">{l.text(Key::TechnicalDetail)}": "{d}</p> }
            });
            view! {
                <p class="tip-blocked"><strong>{l.text(Key::Blocked)}</strong>": "{why}</p>
                {detail}
            }
        });
        let now = now_seconds();
        let sts = v.as_ref().and_then(|v| v.mta_sts.as_ref()).map(|s| {
            let until = s.cached_until.map(|t| local_time(l, t)).unwrap_or_default();
            view! { <p class="tip-sts" data-testid="tip-sts">{sts_line(l, s, &until)}</p> }
        });
        let mode = v
            .as_ref()
            .and_then(|v| v.mta_sts.as_ref())
            .and_then(|s| s.mode);
        let servers = v.as_ref().filter(|v| !v.mx.is_empty()).map(|v| {
            let items =
                v.mx.iter()
                    .map(|m| {
                        let d = mx_lines(l, m, now, mode);
                        let lines = d
                            .lines
                            .into_iter()
                            .map(|(label, value)| view! { <li>{label}": "{value}</li> })
                            .collect_view();
                        view! {
                            <li class="tip-server">
                                <span class="tip-host">{d.host}</span>
                                <ul class="tip-lines">{lines}</ul>
                            </li>
                        }
                    })
                    .collect_view();
            view! {
                <p class="tip-servers-title">{l.text(Key::MailServers)}</p>
                <ul class="tip-servers">{items}</ul>
            }
        });
        let lead = if blocked_cause.is_some() {
            "tip-sentence tip-outcome"
        } else {
            "tip-sentence"
        };
        view! {
            <p class=lead>{sentence}</p>
            {failed}
            {blocked}
            {encryption}
            {sts}
            {servers}
        }
    };
    view! {
        <span class="tooltip" role="tooltip" id=id data-testid="tooltip">{body}</span>
    }
}
