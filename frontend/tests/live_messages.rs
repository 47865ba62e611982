//! Component tests of the per-recipient states shown after Send and on the Sent page, run in
//! headless Chromium by wasm-bindgen-test: a hand-made message with a recipient in each state
//! is mounted and each line checked for its state, its words and what happened, in German and
//! English.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use sendguard_common::{
    DaneStatus, DeliveryView, MessageView, RecipientKind, RecipientState, RecipientView,
};
use sendguard_frontend::components::live_messages::{
    LiveMessages, Source, message_card, recipient_lines,
};
use sendguard_frontend::i18n::Lang;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::Element;

wasm_bindgen_test_configure!(run_in_browser);

fn recipient(address: &str, kind: RecipientKind, state: RecipientState) -> RecipientView {
    RecipientView {
        address: address.into(),
        kind,
        state,
        attempts: 1,
        next_attempt_at: None,
        last_attempt_at: Some(1_800_000_000),
        reason: None,
        delivery: None,
    }
}

fn delivery(host: &str, tls: Option<&str>, dane: DaneStatus, verified: bool) -> DeliveryView {
    DeliveryView {
        mx_host: host.into(),
        ip: "127.0.0.9".into(),
        tls_version: tls.map(str::to_string),
        cipher: tls.map(|_| "TLS13_AES_256_GCM_SHA384".to_string()),
        dane: Some(dane),
        verified,
        relayed: false,
    }
}

/// One message with a recipient in each state.
fn message() -> MessageView {
    use RecipientKind::*;
    use RecipientState::*;
    let mut dane = recipient("user@dane-ee.test", To, Sent);
    dane.delivery = Some(delivery(
        "mx.dane-ee.test",
        Some("TLSv1.3"),
        DaneStatus::Verified,
        true,
    ));
    let mut plain = recipient("user@plain.test", Cc, Sent);
    plain.delivery = Some(delivery("mx.plain.test", None, DaneStatus::None, false));
    let mut deferred = recipient("user@wrong-tlsa.test", To, Deferred);
    deferred.reason = Some("mx.wrong-tlsa.test: the certificate does not match".into());
    deferred.next_attempt_at = Some(1_800_000_300);
    let mut held = recipient("user@downgrade.test", Bcc, Held);
    held.reason = Some("mx.downgrade.test is on hold".into());
    let mut failed = recipient("user@nullmx.test", To, Failed);
    failed.reason = Some("nullmx.test accepts no mail (null MX)".into());
    MessageView {
        id: 7,
        from: "maxima@mailbox.org".into(),
        subject: String::new(),
        message_id: "x@mailbox.org".into(),
        created_at: 1_800_000_000,
        size: 321,
        recipients: vec![
            recipient("user@tls.test", To, Queued),
            recipient("user@slow.test", To, Sending),
            dane,
            plain,
            deferred,
            held,
            failed,
        ],
    }
}

/// How a test shows [`message`].
#[derive(Clone, Copy)]
enum Shown {
    /// Its recipient lines.
    Lines,
    /// Its card on the Sent page.
    Card,
    /// Followed live, as after Send (here without a server to answer).
    Live,
}

/// Mounts [`message`] in `lang` and returns the host element.
fn mount(lang: Lang, shown: Shown) -> Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    leptos::mount::mount_to(host.clone().unchecked_into(), move || {
        provide_context(RwSignal::new(lang));
        match shown {
            Shown::Lines => recipient_lines(lang, &message()).into_any(),
            Shown::Card => message_card(lang, &message(), true).into_any(),
            Shown::Live => view! { <LiveMessages source=Source::One(message())/> }.into_any(),
        }
    })
    .forget();
    host
}

async fn settle() {
    gloo_timers::future::TimeoutFuture::new(10).await;
}

/// The line of `address`: its `data-state`, `data-plain`, and its text.
fn line(host: &Element, address: &str) -> (String, String, String) {
    let el = host
        .query_selector(&format!(
            "[data-testid=recipient-status][data-address=\"{address}\"]"
        ))
        .unwrap()
        .unwrap_or_else(|| panic!("a line for {address}"));
    (
        el.get_attribute("data-state").unwrap(),
        el.get_attribute("data-plain").unwrap(),
        el.text_content().unwrap(),
    )
}

#[wasm_bindgen_test]
async fn every_state_is_named_with_what_happened_in_german() {
    let host = mount(Lang::De, Shown::Lines);
    settle().await;
    let lines = host
        .query_selector_all("[data-testid=recipient-status]")
        .unwrap();
    assert_eq!(lines.length(), 7, "one line per recipient, in order");

    let (state, _, text) = line(&host, "user@tls.test");
    assert_eq!(state, "queued");
    assert!(text.contains("in der Warteschlange"), "{text}");
    let (state, _, text) = line(&host, "user@slow.test");
    assert_eq!(state, "sending");
    assert!(text.contains("wird gesendet"), "{text}");

    let (state, plain, text) = line(&host, "user@dane-ee.test");
    assert_eq!((state.as_str(), plain.as_str()), ("sent", "false"));
    for part in [
        "gesendet",
        "angenommen von mx.dane-ee.test (127.0.0.9)",
        "TLSv1.3",
        "TLS13_AES_256_GCM_SHA384",
        "DANE bestätigt",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    let (state, plain, text) = line(&host, "user@plain.test");
    assert_eq!((state.as_str(), plain.as_str()), ("sent", "true"));
    assert!(text.starts_with("CC"), "{text}");
    assert!(text.contains("unverschlüsselt"), "{text}");
    assert!(!text.contains("TLS"), "{text}");

    let (state, _, text) = line(&host, "user@wrong-tlsa.test");
    assert_eq!(state, "deferred");
    assert!(text.contains("zurückgestellt"), "{text}");
    assert!(
        text.contains("Grund: mx.wrong-tlsa.test: the certificate does not match"),
        "{text}"
    );
    assert!(text.contains("nächster Versuch: "), "{text}");
    let (state, _, text) = line(&host, "user@downgrade.test");
    assert_eq!(state, "held");
    assert!(text.starts_with("BCC"), "{text}");
    assert!(
        text.contains("Die Administration muss den Mailserver prüfen"),
        "{text}"
    );
    let (state, _, text) = line(&host, "user@nullmx.test");
    assert_eq!(state, "failed");
    assert!(text.contains("nicht zugestellt"), "{text}");
    assert!(
        text.contains("Grund: nullmx.test accepts no mail"),
        "{text}"
    );
}

#[wasm_bindgen_test]
async fn the_card_names_the_message_and_speaks_english() {
    let host = mount(Lang::En, Shown::Card);
    settle().await;
    let card = host
        .query_selector("[data-testid=sent-message]")
        .unwrap()
        .expect("a card");
    assert_eq!(card.get_attribute("data-id").as_deref(), Some("7"));
    let text = card.text_content().unwrap();
    assert!(text.contains("(no subject)"), "{text}");
    assert!(text.contains("from maxima@mailbox.org"), "{text}");
    let (_, _, plain) = line(&host, "user@plain.test");
    assert!(plain.contains("plain text"), "{plain}");
    let (_, _, deferred) = line(&host, "user@wrong-tlsa.test");
    assert!(deferred.contains("deferred"), "{deferred}");
    assert!(
        deferred.contains("Reason: mx.wrong-tlsa.test"),
        "{deferred}"
    );
    assert!(deferred.contains("next attempt: "), "{deferred}");
    let (_, _, held) = line(&host, "user@downgrade.test");
    assert!(held.contains("An administrator must review"), "{held}");
}

#[wasm_bindgen_test]
async fn a_queued_message_stays_shown_when_asking_about_it_fails() {
    // The test page's server has no /api/messages/7: the request fails (HTTP 404), the lines of
    // the message as it was accepted stay, with the failure above them.
    let host = mount(Lang::En, Shown::Live);
    settle().await;
    assert_eq!(line(&host, "user@tls.test").0, "queued", "shown at once");
    let mut error = None;
    for _ in 0..100 {
        gloo_timers::future::TimeoutFuture::new(20).await;
        error = host
            .query_selector("[data-testid=status-error]")
            .unwrap()
            .and_then(|e| e.text_content());
        if error.is_some() {
            break;
        }
    }
    let error = error.expect("the failed request is named");
    assert!(
        error.starts_with("The delivery status could not be loaded: "),
        "{error}"
    );
    assert_eq!(
        host.query_selector_all("[data-testid=recipient-status]")
            .unwrap()
            .length(),
        7
    );
}
