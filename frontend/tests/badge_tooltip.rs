//! Component tests of the badge and its tooltip, run in headless Chromium by wasm-bindgen-test:
//! each class is mounted and checked for its `data-class`, visible label and accessible name,
//! and the tooltip is rendered from a hand-made verdict.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use sendguard_common::{
    BlockCause, CertificateInfo, DaneStatus, DnssecStatus, DomainVerdict, MxReport, SecurityClass,
};
use sendguard_frontend::components::badge::Badge;
use sendguard_frontend::components::tooltip::Tooltip;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::Element;

wasm_bindgen_test_configure!(run_in_browser);

/// Mounts `view` into a fresh element and returns that element.
fn mount<V: IntoView + 'static>(view: impl FnOnce() -> V + 'static) -> Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    leptos::mount::mount_to(host.clone().unchecked_into(), view).forget();
    host
}

async fn settle() {
    gloo_timers::future::TimeoutFuture::new(10).await;
}

fn badge_in(host: &Element) -> Element {
    host.query_selector(".badge").unwrap().expect("a badge")
}

#[wasm_bindgen_test]
async fn each_class_has_its_symbol_label_and_name() {
    let cases = [
        (SecurityClass::DaneOk, "dane-ok", "DANE ok"),
        (SecurityClass::SslOk, "ssl-ok", "SSL ok"),
        (SecurityClass::Unknown, "unknown", "SSL?"),
        (SecurityClass::NoSsl, "no-ssl", "no SSL"),
    ];
    for (class, slug, label) in cases {
        let host = mount(move || view! { <Badge class=class/> });
        settle().await;
        let badge = badge_in(&host);
        assert_eq!(badge.get_attribute("data-class").as_deref(), Some(slug));
        assert_eq!(badge.get_attribute("role").as_deref(), Some("img"));
        assert_eq!(badge.get_attribute("aria-label").as_deref(), Some(label));
        assert_eq!(
            badge.text_content().unwrap().trim(),
            label,
            "the label is visible"
        );
        assert!(
            badge.query_selector("svg").unwrap().is_some(),
            "{slug} has its inline symbol"
        );
        assert_eq!(
            badge.get_attribute("data-pending").as_deref(),
            Some("false")
        );
    }
}

#[wasm_bindgen_test]
async fn pending_and_blocked_badges_say_so() {
    let host = mount(|| view! { <Badge class=SecurityClass::Unknown pending=true/> });
    settle().await;
    let badge = badge_in(&host);
    assert!(badge.class_list().contains("badge-pending"));
    assert_eq!(
        badge.get_attribute("aria-label").as_deref(),
        Some("SSL?, wird geprüft …")
    );
    for class in [SecurityClass::DaneOk, SecurityClass::SslOk] {
        let host = mount(move || view! { <Badge class=class blocked=true/> });
        settle().await;
        let badge = badge_in(&host);
        assert_eq!(badge.get_attribute("data-blocked").as_deref(), Some("true"));
        assert_eq!(
            badge.get_attribute("aria-label").as_deref(),
            Some("Versand gesperrt")
        );
        let text = badge.text_content().unwrap();
        assert_eq!(text.trim(), "Versand gesperrt", "no reassuring class label");
        let icon = badge.query_selector("svg").unwrap().unwrap();
        assert_eq!(
            icon.get_attribute("data-icon").as_deref(),
            Some("blocked"),
            "never a thumbs-up for a recipient whose mail would not go out"
        );
    }
}

fn verdict(blocked: bool) -> DomainVerdict {
    DomainVerdict {
        domain: "yahoo.example".into(),
        class: SecurityClass::SslOk,
        blocked,
        cause: blocked.then_some(BlockCause::OnHold),
        reason: "the server fell below its known level".into(),
        dnssec: DnssecStatus::Insecure,
        mx: vec![MxReport {
            host: "mx1.yahoo.example".into(),
            preference: 10,
            addresses: vec!["192.0.2.25".into()],
            starttls: Some(true),
            tls_version: Some("TLSv1.2".into()),
            cipher: Some("ECDHE-RSA-AES128-GCM-SHA256".into()),
            cipher_iana: None,
            bits: Some(128),
            dane: DaneStatus::Verified,
            unsigned: None,
            certificate: Some(CertificateInfo {
                chain: vec![],
                webpki_valid: false,
                webpki_error: Some("unknown issuer".into()),
            }),
            class: SecurityClass::SslOk,
            error: None,
            checked_at: Some((js_sys::Date::now() / 1000.0) as i64 - 120),
            on_hold: blocked,
            history: None,
            mta_sts_match: None,
        }],
        checked_at: None,
        mta_sts: None,
    }
}

#[wasm_bindgen_test]
async fn the_tooltip_explains_the_verdict_server_by_server() {
    let host = mount(|| {
        view! { <Tooltip id="tip-test".to_string() verdict=Some(verdict(false)) pending=false/> }
    });
    settle().await;
    let text = host.text_content().unwrap();
    for expected in [
        "Die E-Mail wird über eine SSL/TLS-verschlüsselte Verbindung zum Mailserver des Empfängers übertragen.",
        "Verschlüsselung: TLSv1.2, ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)",
        "mx1.yahoo.example",
        "Zertifikat: nicht gültig (selbst signiert oder nicht vertrauenswürdig)",
        "DANE: bestätigt",
        "Zuletzt geprüft: vor 2 Min.",
        "Zurückgehalten: nein",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text:?}");
    }
    assert!(!text.contains("Versand gesperrt"));
    let tip = host.query_selector("[role=tooltip]").unwrap().unwrap();
    assert_eq!(tip.id(), "tip-test");
}

#[wasm_bindgen_test]
async fn a_blocked_verdict_gives_the_reason_and_the_hold() {
    let host = mount(|| {
        view! { <Tooltip id="tip-blocked".to_string() verdict=Some(verdict(true)) pending=false/> }
    });
    settle().await;
    let text = host.text_content().unwrap();
    assert!(
        text.contains(
            "Versand gesperrt: Ein Mailserver ist unter sein bekanntes Sicherheitsniveau gefallen"
        ),
        "{text}"
    );
    assert!(text.contains("Technische Angabe: the server fell below its known level"));
    assert!(text.contains("Zurückgehalten: ja, bis die Administration entscheidet"));
    let lead = host.query_selector(".tip-sentence").unwrap().unwrap();
    assert_eq!(
        lead.text_content().unwrap(),
        "Diese E-Mail wird an diesen Empfänger erst zugestellt, wenn die Administration über den Mailserver entschieden hat.",
        "the tooltip leads with what will happen"
    );
    assert!(
        !text.contains("Die E-Mail wird über eine SSL/TLS-verschlüsselte Verbindung"),
        "no promise of a delivery that does not happen: {text}"
    );
}

#[wasm_bindgen_test]
async fn a_dane_mismatch_leads_with_the_refusal_and_its_reason() {
    let mut v = verdict(true);
    v.cause = Some(BlockCause::DaneMismatch);
    v.mx[0].on_hold = false;
    let host = mount(move || {
        view! { <Tooltip id="tip-mismatch".to_string() verdict=Some(v.clone()) pending=false/> }
    });
    settle().await;
    let text = host.text_content().unwrap();
    assert!(
        text.starts_with("Diese E-Mail wird an diesen Empfänger nicht gesendet."),
        "{text}"
    );
    assert!(text.contains("Versand gesperrt: Das Zertifikat des Mailservers passt nicht"));
    assert!(
        !text.contains("SSL/TLS-verschlüsselte Verbindung"),
        "{text}"
    );
}

#[wasm_bindgen_test]
async fn the_encryption_line_is_the_weakest_server_s() {
    let mut v = verdict(false);
    v.class = SecurityClass::NoSsl;
    let mut plain = v.mx[0].clone();
    plain.host = "mx2.yahoo.example".into();
    plain.class = SecurityClass::NoSsl;
    plain.starttls = Some(false);
    plain.tls_version = None;
    plain.cipher = None;
    plain.certificate = None;
    v.mx[0].tls_version = Some("TLSv1.3".into());
    v.mx.push(plain);
    let host = mount(move || {
        view! { <Tooltip id="tip-weakest".to_string() verdict=Some(v.clone()) pending=false/> }
    });
    settle().await;
    let line = host.query_selector(".tip-encryption").unwrap().unwrap();
    assert_eq!(
        line.text_content().unwrap(),
        "Verschlüsselung: kein STARTTLS (unverschlüsselt)"
    );
}

#[wasm_bindgen_test]
async fn dane_behind_an_unsigned_mx_answer_says_which_part_is_unsigned() {
    let mut v = verdict(false);
    v.mx[0].unsigned = Some(sendguard_common::UnsignedDns::MxRecords);
    let host = mount(move || {
        view! { <Tooltip id="tip-unsigned".to_string() verdict=Some(v.clone()) pending=false/> }
    });
    settle().await;
    let text = host.text_content().unwrap();
    assert!(
        text.contains("DANE: TLSA passt, zählt aber nicht: die MX-Einträge der Domain sind nicht DNSSEC-signiert"),
        "{text}"
    );
}

#[wasm_bindgen_test]
async fn a_blocked_verdict_stored_before_causes_existed_gives_the_server_s_reason() {
    let mut old = verdict(true);
    old.cause = None;
    let host = mount(move || {
        view! { <Tooltip id="tip-old".to_string() verdict=Some(old.clone()) pending=false/> }
    });
    settle().await;
    let text = host.text_content().unwrap();
    assert!(text.contains("Versand gesperrt: the server fell below its known level"));
    assert!(!text.contains("Technische Angabe"));
}
