//! Component tests of the recipient field, run in headless Chromium by wasm-bindgen-test:
//! the real component is mounted into the page and driven with real DOM events.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use sendguard_frontend::components::recipient_field::RecipientField;
use sendguard_frontend::i18n::Key;
use sendguard_frontend::recipients::RecipientList;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, Event, HtmlInputElement, KeyboardEvent, KeyboardEventInit};

wasm_bindgen_test_configure!(run_in_browser);

/// Mounts a To field into a fresh element and returns that element and the input.
fn mount_field(id: &'static str) -> (Element, HtmlInputElement) {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let handle = leptos::mount::mount_to(host.clone().unchecked_into(), move || {
        let recipients = RwSignal::new(RecipientList::default());
        view! { <RecipientField label=Key::To id=id recipients=recipients/> }
    });
    handle.forget();
    let input = document
        .get_element_by_id(id)
        .expect("the field renders its input")
        .unchecked_into::<HtmlInputElement>();
    (host, input)
}

/// Types `text` into the input as a user would: value, then an `input` event.
fn type_text(input: &HtmlInputElement, text: &str) {
    input.set_value(text);
    input.dispatch_event(&Event::new("input").unwrap()).unwrap();
}

fn press(input: &HtmlInputElement, key: &str) {
    let init = KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let event = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    input.dispatch_event(&event).unwrap();
}

/// Lets Leptos run its scheduled effects.
async fn settle() {
    gloo_timers::future::TimeoutFuture::new(10).await;
}

fn chips(host: &Element) -> Vec<Element> {
    let list = host.query_selector_all("[data-testid=chip]").unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().unchecked_into())
        .collect()
}

#[wasm_bindgen_test]
async fn enter_turns_the_typed_address_into_a_chip() {
    let (host, input) = mount_field("to-enter");
    type_text(&input, "user@yahoo.de");
    press(&input, "Enter");
    settle().await;
    let chips = chips(&host);
    assert_eq!(chips.len(), 1, "one chip after Enter");
    assert_eq!(
        chips[0].get_attribute("data-address").as_deref(),
        Some("user@yahoo.de")
    );
    assert!(input.value().is_empty(), "the input is cleared");
    let badge = chips[0].query_selector(".badge").unwrap().expect("a badge");
    assert_eq!(
        badge.get_attribute("data-class").as_deref(),
        Some("unknown")
    );
    assert!(badge.text_content().unwrap().contains("SSL?"));
}

#[wasm_bindgen_test]
async fn an_invalid_address_becomes_an_error_chip_and_backspace_removes_it() {
    let (host, input) = mount_field("to-invalid");
    type_text(&input, "not-an-address");
    press(&input, ";");
    settle().await;
    let chips_now = chips(&host);
    assert_eq!(chips_now.len(), 1);
    assert!(chips_now[0].class_list().contains("chip-invalid"));
    assert!(chips_now[0].text_content().unwrap().contains("no @"));
    press(&input, "Backspace");
    settle().await;
    assert!(
        chips(&host).is_empty(),
        "Backspace in the empty field removes the last chip"
    );
}

#[wasm_bindgen_test]
async fn plain_typing_makes_no_chip() {
    let (host, input) = mount_field("to-typing");
    type_text(&input, "user@exam");
    press(&input, "p");
    settle().await;
    assert!(chips(&host).is_empty());
}
