//! Component tests of the recipient field, run in headless Chromium by wasm-bindgen-test:
//! the real component is mounted into the page and driven with real DOM events.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use sendguard_frontend::components::recipient_field::RecipientField;
use sendguard_frontend::i18n::Key;
use sendguard_frontend::recipients::RecipientList;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{
    ClipboardEvent, ClipboardEventInit, DataTransfer, Element, Event, HtmlElement,
    HtmlInputElement, KeyboardEvent, KeyboardEventInit,
};

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
    assert!(
        chips_now[0].text_content().unwrap().contains("Das @ fehlt"),
        "the error chip says in German what is wrong"
    );
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

/// Pastes `text` into the input as the browser would (a `paste` event with clipboard data).
fn paste(input: &HtmlInputElement, text: &str) {
    let data = DataTransfer::new().unwrap();
    data.set_data("text/plain", text).unwrap();
    let init = ClipboardEventInit::new();
    init.set_bubbles(true);
    init.set_cancelable(true);
    init.set_clipboard_data(Some(&data));
    let event = ClipboardEvent::new_with_event_init_dict("paste", &init).unwrap();
    input.dispatch_event(&event).unwrap();
}

fn addresses(host: &Element) -> Vec<String> {
    chips(host)
        .iter()
        .map(|c| c.get_attribute("data-address").unwrap_or_default())
        .collect()
}

#[wasm_bindgen_test]
async fn comma_and_semicolon_make_chips_but_not_inside_a_quoted_name() {
    let (host, input) = mount_field("to-separators");
    type_text(&input, "a@x.example");
    press(&input, ",");
    type_text(&input, "b@y.example");
    press(&input, ";");
    settle().await;
    assert_eq!(addresses(&host), vec!["a@x.example", "b@y.example"]);
    type_text(&input, "\"Doe");
    press(&input, ",");
    settle().await;
    assert_eq!(
        chips(&host).len(),
        2,
        "a comma inside quotes belongs to the name"
    );
}

#[wasm_bindgen_test]
async fn leaving_the_field_makes_a_chip() {
    let (host, input) = mount_field("to-blur");
    type_text(&input, "Jane Doe <jane@z.example>");
    input.dispatch_event(&Event::new("blur").unwrap()).unwrap();
    settle().await;
    assert_eq!(addresses(&host), vec!["jane@z.example"]);
}

#[wasm_bindgen_test]
async fn a_pasted_list_makes_one_chip_each_and_merges_duplicates() {
    let (host, input) = mount_field("to-paste");
    paste(
        &input,
        "Anna <anna@a.example>, \"Doe, Jane\" <jane@b.example>;\nc@c.example\nANNA@a.example, oops",
    );
    settle().await;
    assert_eq!(
        addresses(&host),
        vec!["anna@a.example", "jane@b.example", "c@c.example", "oops"]
    );
    let error = chips(&host)[3]
        .query_selector("[data-testid=chip-error]")
        .unwrap()
        .expect("the invalid entry says what is wrong");
    assert_eq!(error.text_content().unwrap(), "Das @ fehlt");
    type_text(&input, "c@C.example");
    press(&input, "Enter");
    settle().await;
    assert_eq!(chips(&host).len(), 4, "a typed duplicate is merged");
}

#[wasm_bindgen_test]
async fn the_remove_button_removes_one_chip() {
    let (host, input) = mount_field("to-remove");
    paste(&input, "a@x.example, b@y.example, c@z.example");
    settle().await;
    let second = chips(&host)[1].clone();
    let remove = second
        .query_selector("button.chip-remove")
        .unwrap()
        .expect("a remove button")
        .unchecked_into::<HtmlElement>();
    assert_eq!(
        remove.get_attribute("aria-label").as_deref(),
        Some("Empfänger entfernen: b@y.example")
    );
    remove.click();
    settle().await;
    assert_eq!(addresses(&host), vec!["a@x.example", "c@z.example"]);
}
