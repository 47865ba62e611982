//! Words for what a verdict says, in the user's language: the tooltip's lines per mail server
//! (TLS, certificate, DANE, last check, hold) and relative times ("vor 5 Min."). Plain Rust so
//! that the wording is unit-tested natively; the components only lay the lines out.

use sendguard_common::{BlockCause, DaneStatus, MxReport, SecurityClass};

use crate::i18n::{Key, Lang};

/// The catalog key of a class's explanation sentence.
pub fn class_explanation(class: SecurityClass) -> Key {
    match class {
        SecurityClass::DaneOk => Key::ExplainDaneOk,
        SecurityClass::SslOk => Key::ExplainSslOk,
        SecurityClass::Unknown => Key::ExplainUnknown,
        SecurityClass::NoSsl => Key::ExplainNoSsl,
    }
}

/// The catalog key of the sentence that says why delivery is blocked.
pub fn cause_key(cause: BlockCause) -> Key {
    match cause {
        BlockCause::OnHold => Key::CauseOnHold,
        BlockCause::DaneMismatch => Key::CauseDaneMismatch,
        BlockCause::DaneWithoutTls => Key::CauseDaneWithoutTls,
        BlockCause::DnssecBogus => Key::CauseDnssecBogus,
        BlockCause::TlsaLookupFailed => Key::CauseTlsaLookupFailed,
        BlockCause::NullMx => Key::CauseNullMx,
        BlockCause::NoSuchDomain => Key::CauseNoSuchDomain,
        BlockCause::NoMailServer => Key::CauseNoMailServer,
        BlockCause::HistoryUnavailable => Key::CauseHistoryUnavailable,
    }
}

/// The catalog key of a DANE outcome.
pub fn dane_key(dane: DaneStatus) -> Key {
    match dane {
        DaneStatus::Verified => Key::DaneVerified,
        DaneStatus::Failed => Key::DaneFailed,
        DaneStatus::None => Key::DaneNone,
        DaneStatus::Insecure => Key::DaneInsecure,
        DaneStatus::Bogus => Key::DaneBogus,
        DaneStatus::LookupFailed => Key::DaneLookupFailed,
    }
}

/// "gerade eben", "vor 5 Min.", "vor 3 Std.", "vor 2 Tagen" for `then`, seen at `now`
/// (both seconds since the Unix epoch). A time in the future counts as just now.
pub fn relative_time(lang: Lang, now: i64, then: i64) -> String {
    let seconds = (now - then).max(0);
    match seconds {
        0..60 => lang.text(Key::TimeJustNow).to_string(),
        60..3_600 => lang.format(Key::TimeMinutesAgo, &[&(seconds / 60).to_string()]),
        3_600..86_400 => lang.format(Key::TimeHoursAgo, &[&(seconds / 3_600).to_string()]),
        _ => lang.format(Key::TimeDaysAgo, &[&(seconds / 86_400).to_string()]),
    }
}

/// The first 16 hex digits of a certificate fingerprint, enough to tell certificates apart in
/// the admin view ("–" when there was no certificate).
pub fn cert_prefix(sha256: Option<&str>) -> String {
    match sha256 {
        Some(hex) if hex.len() > 16 => format!("{}…", &hex[..16]),
        Some(hex) => hex.to_string(),
        None => "–".to_string(),
    }
}

/// A moment (seconds since the Unix epoch) in the browser's local time zone, in the
/// conventions of `lang`.
pub fn local_time(lang: Lang, seconds: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(seconds as f64 * 1000.0));
    String::from(date.to_locale_string(lang.code(), &wasm_bindgen::JsValue::UNDEFINED))
}

/// The tooltip's lines for one MX host: each a label and a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxLines {
    /// The host name.
    pub host: String,
    /// `(label, value)` pairs: TLS, certificate, DANE, last check, on hold.
    pub lines: Vec<(&'static str, String)>,
}

/// Describes one MX host at time `now` (seconds since the Unix epoch).
pub fn mx_lines(lang: Lang, mx: &MxReport, now: i64) -> MxLines {
    let tls = match (mx.encryption_line(), mx.starttls) {
        (Some(line), _) => line,
        (None, Some(false)) => lang.text(Key::TipNoStarttls).to_string(),
        (None, _) => match &mx.error {
            Some(e) => format!("{} ({e})", lang.text(Key::TipNotReached)),
            None => lang.text(Key::TipNotReached).to_string(),
        },
    };
    let certificate = lang.text(match &mx.certificate {
        Some(c) if c.webpki_valid => Key::CertValid,
        Some(_) => Key::CertInvalid,
        None => Key::CertNone,
    });
    let checked = mx.checked_at.map_or_else(
        || lang.text(Key::TipNeverChecked).to_string(),
        |at| relative_time(lang, now, at),
    );
    let hold = lang.text(if mx.on_hold {
        Key::HoldYes
    } else {
        Key::HoldNo
    });
    MxLines {
        host: mx.host.clone(),
        lines: vec![
            (lang.text(Key::TipTls), tls),
            (lang.text(Key::TipCertificate), certificate.to_string()),
            (
                lang.text(Key::TipDane),
                lang.text(dane_key(mx.dane)).to_string(),
            ),
            (lang.text(Key::TipChecked), checked),
            (lang.text(Key::TipOnHold), hold.to_string()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendguard_common::CertificateInfo;

    fn report() -> MxReport {
        MxReport {
            host: "mx.yahoo.example".into(),
            preference: 10,
            addresses: vec!["192.0.2.1".into()],
            starttls: Some(true),
            tls_version: Some("TLSv1.2".into()),
            cipher: Some("ECDHE-RSA-AES128-GCM-SHA256".into()),
            cipher_iana: None,
            bits: Some(128),
            dane: DaneStatus::Insecure,
            certificate: Some(CertificateInfo {
                chain: vec![],
                webpki_valid: true,
                webpki_error: None,
            }),
            class: SecurityClass::SslOk,
            error: None,
            checked_at: Some(1_000),
            on_hold: false,
            history: None,
        }
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative_time(Lang::De, 1_030, 1_000), "gerade eben");
        assert_eq!(relative_time(Lang::De, 1_000 + 300, 1_000), "vor 5 Min.");
        assert_eq!(relative_time(Lang::En, 1_000 + 7_300, 1_000), "2 h ago");
        assert_eq!(relative_time(Lang::De, 3 * 86_400, 0), "vor 3 Tagen");
        assert_eq!(relative_time(Lang::En, 0, 50), "just now");
    }

    #[test]
    fn fingerprints_are_shortened() {
        assert_eq!(
            cert_prefix(Some(&"ab".repeat(32))),
            format!("{}…", "ab".repeat(8))
        );
        assert_eq!(cert_prefix(Some("abcd")), "abcd");
        assert_eq!(cert_prefix(None), "–");
    }

    #[test]
    fn a_server_is_described_line_by_line() {
        let d = mx_lines(Lang::De, &report(), 1_120);
        assert_eq!(d.host, "mx.yahoo.example");
        assert_eq!(
            d.lines,
            vec![
                (
                    "TLS",
                    "TLSv1.2, ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)".to_string()
                ),
                ("Zertifikat", "gültig (WebPKI)".to_string()),
                ("DANE", "nicht nutzbar (Zone ohne DNSSEC)".to_string()),
                ("Zuletzt geprüft", "vor 2 Min.".to_string()),
                ("Zurückgehalten", "nein".to_string()),
            ]
        );
    }

    #[test]
    fn plaintext_unreached_and_held_servers_say_so() {
        let mut m = report();
        m.starttls = Some(false);
        m.tls_version = None;
        m.certificate = None;
        m.on_hold = true;
        m.checked_at = None;
        let d = mx_lines(Lang::En, &m, 0);
        assert_eq!(d.lines[0].1, "no STARTTLS (unencrypted)");
        assert_eq!(d.lines[1].1, "none");
        assert_eq!(d.lines[3].1, "never");
        assert_eq!(d.lines[4].1, "yes, until an administrator decides");
        m.starttls = None;
        m.error = Some("timeout".into());
        assert_eq!(
            mx_lines(Lang::De, &m, 0).lines[0].1,
            "nicht erreicht (timeout)"
        );
    }
}
