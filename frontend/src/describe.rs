//! Words for what a verdict says, in the user's language: the tooltip's lines per mail server
//! (TLS, certificate, DANE, last check, hold) and relative times ("vor 5 Min."). Plain Rust so
//! that the wording is unit-tested natively; the components only lay the lines out.

use sendguard_common::{
    BlockCause, DaneStatus, DomainVerdict, MtaStsView, MxReport, SecurityClass, StsMode,
    UnsignedDns,
};

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
        BlockCause::ResolverNotValidating => Key::CauseResolverNotValidating,
        BlockCause::MtaStsNoMatchingMx => Key::CauseMtaStsNoMatchingMx,
        BlockCause::MtaStsFailed => Key::CauseMtaStsFailed,
    }
}

/// The catalog key of the sentence that says what happens to a message for a blocked recipient:
/// refused, held for an administrator, or deferred until a check succeeds (the tooltip leads
/// with it instead of the class's explanation, which would be untrue). A blocked verdict stored
/// before causes existed is said to be refused.
pub fn blocked_outcome(cause: Option<BlockCause>) -> Key {
    match cause {
        Some(BlockCause::OnHold) => Key::OutcomeHeld,
        Some(
            BlockCause::DnssecBogus
            | BlockCause::TlsaLookupFailed
            | BlockCause::HistoryUnavailable
            | BlockCause::ResolverNotValidating
            | BlockCause::MtaStsNoMatchingMx
            | BlockCause::MtaStsFailed,
        ) => Key::OutcomeDeferred,
        Some(
            BlockCause::DaneMismatch
            | BlockCause::DaneWithoutTls
            | BlockCause::NullMx
            | BlockCause::NoSuchDomain
            | BlockCause::NoMailServer,
        )
        | None => Key::OutcomeRefused,
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

/// The DANE line of one server: its DANE status, and, when DNS on the way to it is not signed,
/// which answer is not (a matching TLSA record behind an unsigned MX answer does not count).
pub fn dane_text(lang: Lang, dane: DaneStatus, unsigned: Option<UnsignedDns>) -> &'static str {
    lang.text(match (dane, unsigned) {
        (DaneStatus::Verified, Some(UnsignedDns::MxRecords)) => Key::DaneUnsignedMx,
        (DaneStatus::Verified, Some(UnsignedDns::MxDenial)) => Key::DaneUnsignedMxDenial,
        (DaneStatus::Insecure, Some(UnsignedDns::Addresses)) => Key::DaneInsecureAddresses,
        (DaneStatus::Insecure, Some(UnsignedDns::Tlsa)) => Key::DaneInsecureTlsa,
        (other, _) => dane_key(other),
    })
}

/// How a TLS version ranks, weakest first: unknown names and no TLS at all rank lowest.
fn tls_rank(version: Option<&str>) -> u8 {
    match version {
        Some("TLSv1.3") => 3,
        Some("TLSv1.2") => 2,
        Some(_) => 1,
        None => 0,
    }
}

/// The weakest MX host of a verdict: the lowest class, then the lowest TLS version (the domain's
/// class is that of its weakest host, and a delivery may use any of them).
pub fn weakest_mx(v: &DomainVerdict) -> Option<&MxReport> {
    v.mx.iter()
        .min_by_key(|m| (m.class, tls_rank(m.tls_version.as_deref())))
}

/// The value of the tooltip's "Verschlüsselung: …" line: the weakest MX host's TLS line.
pub fn encryption_summary(lang: Lang, v: &DomainVerdict) -> Option<String> {
    weakest_mx(v).map(|m| tls_text(lang, m))
}

/// A server's TLS line: the encryption line in the seed's form, or why there is none.
fn tls_text(lang: Lang, mx: &MxReport) -> String {
    match (mx.encryption_line(), mx.starttls) {
        (Some(line), _) => line,
        (None, Some(false)) => lang.text(Key::TipNoStarttls).to_string(),
        (None, _) => match &mx.error {
            Some(e) => format!("{} ({e})", lang.text(Key::TipNotReached)),
            None => lang.text(Key::TipNotReached).to_string(),
        },
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

/// The tooltip's MTA-STS line (RFC 8461) for a domain: the mode ("enforce", "testing" or
/// "none", the policy's own words in both languages), its MX patterns and until when it is
/// cached (`until`: that moment already in words), with what went wrong finding it; or that
/// there is no policy and why.
pub fn sts_line(lang: Lang, sts: &MtaStsView, until: &str) -> String {
    let Some(mode) = sts.mode else {
        let why = sts.problem.as_deref().unwrap_or("");
        return lang.format(Key::StsNoPolicy, &[why]);
    };
    let mode = match mode {
        StsMode::Enforce => "enforce",
        StsMode::Testing => "testing",
        StsMode::None => "none",
    };
    let mut line = lang.format(Key::StsLine, &[mode, &sts.mx.join(", "), until]);
    if sts.downgrade {
        line = format!("{line} · {}", lang.text(Key::StsDowngrade));
    } else if let Some(problem) = &sts.problem {
        line = format!("{line} · {} ({problem})", lang.text(Key::StsProblem));
    }
    line
}

/// The tooltip's lines for one MX host: each a label and a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxLines {
    /// The host name.
    pub host: String,
    /// `(label, value)` pairs: TLS, certificate, DANE, last check, on hold.
    pub lines: Vec<(&'static str, String)>,
}

/// Describes one MX host at time `now` (seconds since the Unix epoch); `sts` is the domain's
/// MTA-STS mode, for a host its policy does not name.
pub fn mx_lines(lang: Lang, mx: &MxReport, now: i64, sts: Option<StsMode>) -> MxLines {
    let tls = tls_text(lang, mx);
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
    let mut lines = vec![
        (lang.text(Key::TipTls), tls),
        (lang.text(Key::TipCertificate), certificate.to_string()),
        (
            lang.text(Key::TipDane),
            dane_text(lang, mx.dane, mx.unsigned).to_string(),
        ),
        (lang.text(Key::TipChecked), checked),
        (lang.text(Key::TipOnHold), hold.to_string()),
    ];
    if mx.mta_sts_match == Some(false) {
        let key = match sts {
            Some(StsMode::Testing) => Key::StsNotNamedTesting,
            _ => Key::StsNotNamed,
        };
        lines.push(("MTA-STS", lang.text(key).to_string()));
    }
    MxLines {
        host: mx.host.clone(),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendguard_common::CertificateInfo;

    pub(super) fn report() -> MxReport {
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
            unsigned: None,
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
            mta_sts_match: None,
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
        let d = mx_lines(Lang::De, &report(), 1_120, None);
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
        let d = mx_lines(Lang::En, &m, 0, None);
        assert_eq!(d.lines[0].1, "no STARTTLS (unencrypted)");
        assert_eq!(d.lines[1].1, "none");
        assert_eq!(d.lines[3].1, "never");
        assert_eq!(d.lines[4].1, "yes, until an administrator decides");
        m.starttls = None;
        m.error = Some("timeout".into());
        assert_eq!(
            mx_lines(Lang::De, &m, 0, None).lines[0].1,
            "nicht erreicht (timeout)"
        );
    }
}

#[cfg(test)]
mod weakest_tests {
    use super::*;

    fn server(host: &str, class: SecurityClass, tls: Option<&str>) -> MxReport {
        MxReport {
            host: host.into(),
            preference: 10,
            addresses: vec![],
            starttls: Some(tls.is_some()),
            tls_version: tls.map(str::to_string),
            cipher: tls.map(|_| "TLS_AES_128_GCM_SHA256".to_string()),
            cipher_iana: None,
            bits: Some(128),
            dane: DaneStatus::None,
            unsigned: None,
            certificate: None,
            class,
            error: None,
            checked_at: None,
            on_hold: false,
            history: None,
            mta_sts_match: None,
        }
    }

    fn verdict(class: SecurityClass, mx: Vec<MxReport>) -> DomainVerdict {
        DomainVerdict {
            domain: "example".into(),
            class,
            blocked: false,
            cause: None,
            reason: String::new(),
            dnssec: sendguard_common::DnssecStatus::Secure,
            mx,
            checked_at: None,
            mta_sts: None,
        }
    }

    #[test]
    fn the_encryption_line_is_the_weakest_server_s() {
        let v = verdict(
            SecurityClass::NoSsl,
            vec![
                server("mx1", SecurityClass::SslOk, Some("TLSv1.3")),
                server("mx2", SecurityClass::NoSsl, None),
            ],
        );
        assert_eq!(weakest_mx(&v).unwrap().host, "mx2");
        assert_eq!(
            encryption_summary(Lang::De, &v).as_deref(),
            Some("kein STARTTLS (unverschlüsselt)")
        );
        let v = verdict(
            SecurityClass::SslOk,
            vec![
                server("mx1", SecurityClass::SslOk, Some("TLSv1.3")),
                server("mx2", SecurityClass::SslOk, Some("TLSv1.2")),
            ],
        );
        assert_eq!(
            encryption_summary(Lang::De, &v).as_deref(),
            Some("TLSv1.2, TLS_AES_128_GCM_SHA256 (128/128 bits)")
        );
        assert_eq!(
            encryption_summary(Lang::De, &verdict(SecurityClass::Unknown, vec![])),
            None
        );
    }

    #[test]
    fn a_blocked_recipient_is_told_what_happens() {
        assert_eq!(blocked_outcome(Some(BlockCause::OnHold)), Key::OutcomeHeld);
        assert_eq!(
            blocked_outcome(Some(BlockCause::DnssecBogus)),
            Key::OutcomeDeferred
        );
        assert_eq!(
            blocked_outcome(Some(BlockCause::DaneMismatch)),
            Key::OutcomeRefused
        );
        assert_eq!(blocked_outcome(None), Key::OutcomeRefused);
        // Sendguard's own resolver cannot validate: nothing about the domain, the mail waits.
        assert_eq!(
            blocked_outcome(Some(BlockCause::ResolverNotValidating)),
            Key::OutcomeDeferred
        );
        assert_eq!(
            cause_key(BlockCause::ResolverNotValidating),
            Key::CauseResolverNotValidating
        );
    }

    #[test]
    fn the_dane_line_names_the_unsigned_answer() {
        assert_eq!(
            dane_text(Lang::De, DaneStatus::Verified, Some(UnsignedDns::MxRecords)),
            "TLSA passt, zählt aber nicht: die MX-Einträge der Domain sind nicht DNSSEC-signiert"
        );
        assert_eq!(
            dane_text(Lang::En, DaneStatus::Insecure, Some(UnsignedDns::Addresses)),
            "not usable (the mail server's addresses are not DNSSEC-signed)"
        );
        assert_eq!(dane_text(Lang::De, DaneStatus::Verified, None), "bestätigt");
    }

    #[test]
    fn the_mta_sts_line_names_mode_patterns_and_cache_in_both_languages() {
        let mut sts = MtaStsView {
            mode: Some(StsMode::Enforce),
            mx: vec!["mx1.example.net".into(), "*.example.org".into()],
            cached_until: Some(0),
            problem: None,
            downgrade: false,
        };
        assert_eq!(
            sts_line(Lang::En, &sts, "1/2/2027"),
            "MTA-STS: enforce · MX: mx1.example.net, *.example.org · cached until 1/2/2027"
        );
        assert_eq!(
            sts_line(Lang::De, &sts, "2.1.2027"),
            "MTA-STS: enforce · MX: mx1.example.net, *.example.org · gespeichert bis 2.1.2027"
        );
        sts.downgrade = true;
        assert!(sts_line(Lang::En, &sts, "x").ends_with("(possible downgrade)"));
        let none = MtaStsView {
            mode: None,
            mx: vec![],
            cached_until: None,
            problem: Some("HTTP 404".into()),
            downgrade: false,
        };
        assert_eq!(
            sts_line(Lang::De, &none, ""),
            "MTA-STS: keine Richtlinie (HTTP 404)"
        );
        let mut m = super::tests::report();
        m.mta_sts_match = Some(false);
        let d = mx_lines(Lang::En, &m, 0, Some(StsMode::Enforce));
        assert_eq!(
            d.lines.last().unwrap(),
            &("MTA-STS", "not in the policy: not used".to_string())
        );
        assert!(
            mx_lines(Lang::De, &super::tests::report(), 0, Some(StsMode::Enforce))
                .lines
                .iter()
                .all(|(l, _)| *l != "MTA-STS")
        );
    }
}
