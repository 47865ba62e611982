//! The page reads the server's JSON with the browser's parser and `wire::from_js` instead of
//! serde_json (for the bundle's size): run in headless Chromium by wasm-bindgen-test, every
//! answer here must read the same as serde_json reads it, and what serde_json refuses must be
//! refused too.
#![cfg(target_arch = "wasm32")]

use std::fmt::Debug;

use sendguard_common::{
    ApiErrorBody, DomainVerdict, HoldView, MessageList, Readiness, RecipientSecurityResponse,
    SecureSendingSettings,
};
use sendguard_frontend::wire::from_js;
use serde::de::DeserializeOwned;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Reads `json` both ways and returns what both read, after checking that they agree.
fn both<T: DeserializeOwned + PartialEq + Debug>(json: &str) -> Option<T> {
    let reference = serde_json::from_str::<T>(json).ok();
    let value = js_sys::JSON::parse(json).expect("test JSON parses");
    let ours = from_js::<T>(value).map_err(|e| e.to_string());
    assert_eq!(ours.as_ref().ok(), reference.as_ref(), "{json}: {ours:?}");
    reference
}

const VERDICT: &str = r#"{
  "domain": "dane-ee.test", "class": "dane_ok", "blocked": false, "reason": "DANE ok",
  "dnssec": "secure", "checked_at": 1800000000, "unknown_field": [1, {"x": null}],
  "mx": [{
    "host": "mx.dane-ee.test", "preference": 10, "addresses": ["127.0.0.1", "::1"],
    "starttls": true, "tls_version": "TLSv1.3", "cipher": "TLS13_AES_256_GCM_SHA384",
    "bits": 256, "dane": "verified", "class": "dane_ok", "on_hold": false,
    "certificate": {"chain": [{"subject": "CN=mx", "issuer": "CN=ca", "san": ["mx"],
      "not_before": "2026-01-01", "not_after": "2027-01-01", "sha256": "ab",
      "spki_sha256": "cd"}], "webpki_valid": false, "webpki_error": "unknown issuer"},
    "mta_sts_match": true
  }, {
    "host": "mx2.dane-ee.test", "preference": 20, "starttls": null, "tls_version": null,
    "cipher": null, "bits": null, "dane": "lookup_failed", "unsigned": "tlsa",
    "certificate": null, "class": "unknown", "error": "timed out"
  }],
  "mta_sts": {"mode": "enforce", "mx": ["*.dane-ee.test"], "cached_until": 1900000000}
}"#;

#[wasm_bindgen_test]
fn a_full_verdict_reads_as_serde_json_reads_it() {
    let verdict: DomainVerdict = both(VERDICT).expect("valid");
    assert_eq!(verdict.mx.len(), 2);
    assert_eq!(verdict.mx[1].bits, None, "null is None");
    assert_eq!(
        verdict.mx[1].addresses,
        Vec::<String>::new(),
        "absent is the default"
    );
}

#[wasm_bindgen_test]
fn defaults_apply_to_absent_fields() {
    let verdict: DomainVerdict =
        both(r#"{"domain": "a.test", "class": "no_ssl", "blocked": true, "reason": "r"}"#)
            .expect("valid");
    assert_eq!(
        verdict.dnssec,
        sendguard_common::DnssecStatus::Indeterminate
    );
    assert_eq!(verdict.checked_at, None);
}

#[wasm_bindgen_test]
fn externally_tagged_variants_read() {
    let json = format!(
        r#"{{"results": [
          {{"final": {{"address": "u@dane-ee.test", "verdict": {VERDICT}, "rechecking": true}}}},
          {{"pending": {{"address": "u@new.test", "domain": "new.test"}}}},
          {{"invalid": {{"address": "nope", "error": "The @ is missing"}}}}
        ]}}"#
    );
    let answer: RecipientSecurityResponse = both(&json).expect("valid");
    assert_eq!(answer.results.len(), 3);
}

#[wasm_bindgen_test]
fn queue_settings_holds_and_maps_read() {
    let list: MessageList = both(
        r#"{"messages": [{"id": 9007199254740991, "subject": "Hi", "created_at": 1800000000,
          "size": 1234, "from": "a@b.test", "message_id": "<1@b.test>",
          "recipients": [{"address": "u@plain.test", "kind": "to", "state": "deferred",
          "attempts": 2, "next_attempt_at": 1800000600, "reason": "no STARTTLS"}]}]}"#,
    )
    .expect("valid");
    assert_eq!(
        list.messages[0].id, 9_007_199_254_740_991,
        "integers up to 2^53 are exact"
    );
    let json = r#"{"mode": "expert",
        "sending": {"authentication": "authenticated", "tls_version": "tls13"},
        "receiving": {"authentication": "any_tls", "tls_version": "tls12"}}"#;
    both::<SecureSendingSettings>(json).expect("valid");
    assert_eq!(both::<SecureSendingSettings>(r#"{"mode": "on"}"#), None);
    both::<Vec<HoldView>>(r#"[]"#);
    both::<Readiness>(
        r#"{"ready": false, "failing": ["dns"], "checks": {"dns": {"ok": false, "code": "x"},
          "store": {"ok": true}}}"#,
    );
    let body: ApiErrorBody = both(r#"{"error": "nope"}"#).expect("valid");
    assert_eq!(body.error, "nope");
}

#[wasm_bindgen_test]
fn what_serde_json_refuses_is_refused() {
    let refused = [
        r#"{"domain": "a.test", "class": "no_ssl", "blocked": true}"#,
        r#"{"domain": "a.test", "class": "purple", "blocked": true, "reason": "r"}"#,
        r#"{"domain": "a.test", "class": "no_ssl", "blocked": "yes", "reason": "r"}"#,
        r#"{"domain": 5, "class": "no_ssl", "blocked": true, "reason": "r"}"#,
        r#"{"domain": "a.test", "class": "no_ssl", "blocked": true, "reason": "r",
            "checked_at": 1.5}"#,
        r#"{"domain": "a.test", "class": "no_ssl", "blocked": true, "reason": "r",
            "mx": [{"host": "h", "preference": 70000}]}"#,
        r#"[]"#,
        r#"null"#,
    ];
    for json in refused {
        assert_eq!(both::<DomainVerdict>(json), None, "{json}");
    }
    assert_eq!(
        both::<RecipientSecurityResponse>(
            r#"{"results": [{"pending": {"address": "a", "domain": "b"}, "invalid": {}}]}"#
        ),
        None
    );
}

#[wasm_bindgen_test]
fn errors_say_what_was_expected() {
    let value = js_sys::JSON::parse(r#"{"class": "no_ssl"}"#).unwrap();
    let error = from_js::<DomainVerdict>(value).unwrap_err().to_string();
    assert_eq!(error, "missing field `domain`");
    let value = js_sys::JSON::parse(r#""text""#).unwrap();
    let error = from_js::<Vec<String>>(value).unwrap_err().to_string();
    assert_eq!(error, "invalid type, expected a sequence");
}
