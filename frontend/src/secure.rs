//! The secure sender rule, checked on the compose page before anything is sent.
//!
//! Mail from a secure address (`alias@secure.<domain>`) goes out only over TLS at the user's
//! minimum ("Verschlüsselter Versand"); otherwise it is not sent and the user is told why, ideally
//! before pressing Send (protocol notes, "Secure sender and secure receiving"). The page knows
//! every recipient's verdict, so it applies the same rule the server will:
//!
//! * any TLS: every MX host is "SSL ok" or "DANE ok" and the domain is not blocked;
//! * authenticated TLS: additionally the domain is "DANE ok" (RFC 7672), or the MX answer is
//!   DNSSEC-secure and every MX host presented a certificate valid under the WebPKI for its name
//!   (with an unsigned MX answer an attacker chooses the MX name, so a certificate valid for that
//!   name authenticates nothing without MTA-STS);
//! * TLS version and certificate are each MX host's weakest answering address's (the server
//!   reports them so);
//! * TLS 1.3: additionally every MX host negotiated `TLSv1.3`;
//! * unknown or pending: not met (we cannot promise what we have not seen).
//!
//! Plain Rust, tested natively.

use leptos::prelude::*;
use sendguard_common::{
    DnssecStatus, DomainVerdict, MinAuthentication, MinTlsVersion, SecureMode,
    SecureSendingSettings, SecurityClass, TransportRequirement,
};

use crate::i18n::Key;
use crate::recipients::RecipientList;

/// The requirement of the chosen sender, put into context by the compose page: `Some` while a
/// secure address is selected. Chips read it to mark recipients that fall short.
#[derive(Clone, Copy, Debug)]
pub struct SenderRequirement(pub Signal<Option<TransportRequirement>>);

impl SenderRequirement {
    /// The requirement from context; none outside the compose page (e.g. component tests).
    pub fn use_requirement() -> Signal<Option<TransportRequirement>> {
        use_context::<SenderRequirement>().map_or_else(|| Signal::stored(None), |r| r.0)
    }
}

/// Why a recipient does not meet the secure sender's requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shortfall {
    /// No verdict yet (never checked, probe running, or the lookup failed).
    Unknown,
    /// A delivery now would be refused or held.
    Blocked,
    /// At least one MX host would not use TLS 1.2 or 1.3.
    NoTls,
    /// Neither DANE nor a WebPKI-valid certificate on every MX host.
    NotAuthenticated,
    /// At least one MX host did not negotiate TLS 1.3.
    TlsTooOld,
}

impl Shortfall {
    /// The catalog key of the words for this shortfall.
    pub fn message_key(self) -> Key {
        match self {
            Shortfall::Unknown => Key::ShortUnknown,
            Shortfall::Blocked => Key::ShortBlocked,
            Shortfall::NoTls => Key::ShortNoTls,
            Shortfall::NotAuthenticated => Key::ShortNotAuthenticated,
            Shortfall::TlsTooOld => Key::ShortTlsTooOld,
        }
    }
}

/// The requirement for mail from a secure address: the expert choice, else the defaults
/// (any TLS, TLS 1.2), which is also what applies while the settings cannot be loaded.
pub fn sending_requirement(settings: Option<&SecureSendingSettings>) -> TransportRequirement {
    match settings {
        Some(s) if s.mode == SecureMode::Expert => s.sending,
        _ => TransportRequirement::default(),
    }
}

/// Whether a domain with this verdict (`None`: not known yet) meets `required`.
pub fn check(
    verdict: Option<&DomainVerdict>,
    required: TransportRequirement,
) -> Result<(), Shortfall> {
    let v = verdict.ok_or(Shortfall::Unknown)?;
    if v.blocked {
        return Err(Shortfall::Blocked);
    }
    if v.mx.is_empty() || v.class == SecurityClass::Unknown {
        return Err(Shortfall::Unknown);
    }
    if v.class == SecurityClass::NoSsl || v.mx.iter().any(|m| m.class == SecurityClass::NoSsl) {
        return Err(Shortfall::NoTls);
    }
    if v.mx.iter().any(|m| m.class < SecurityClass::SslOk) {
        return Err(Shortfall::Unknown);
    }
    if required.authentication == MinAuthentication::Authenticated {
        let dane = v.class == SecurityClass::DaneOk;
        let signed_mx = v.dnssec == DnssecStatus::Secure;
        let webpki = signed_mx
            && v.mx.iter().all(|m| {
                m.certificate
                    .as_ref()
                    .is_some_and(|certificate| certificate.webpki_valid)
            });
        if !dane && !webpki {
            return Err(Shortfall::NotAuthenticated);
        }
    }
    if required.tls_version == MinTlsVersion::Tls13
        && !v
            .mx
            .iter()
            .all(|m| m.tls_version.as_deref() == Some("TLSv1.3"))
    {
        return Err(Shortfall::TlsTooOld);
    }
    Ok(())
}

/// What pressing Send leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendCheck {
    /// There is no recipient at all.
    NoRecipients,
    /// Some entries are not valid addresses (as typed).
    Invalid(Vec<String>),
    /// The sender is secure and these recipients fall short.
    Refused(Vec<(String, Shortfall)>),
    /// Everything is in order.
    Ready,
}

/// Checks the recipients of all fields before sending. `required` is `Some` when the chosen
/// sender is a secure address; `verdict_of` returns the known verdict of a domain.
pub fn check_send<'a>(
    fields: impl IntoIterator<Item = &'a RecipientList>,
    required: Option<TransportRequirement>,
    verdict_of: impl Fn(&str) -> Option<DomainVerdict>,
) -> SendCheck {
    let fields: Vec<&RecipientList> = fields.into_iter().collect();
    if fields.iter().all(|f| f.items().is_empty()) {
        return SendCheck::NoRecipients;
    }
    let invalid: Vec<String> = fields
        .iter()
        .flat_map(|f| f.invalid())
        .map(str::to_string)
        .collect();
    if !invalid.is_empty() {
        return SendCheck::Invalid(invalid);
    }
    let Some(required) = required else {
        return SendCheck::Ready;
    };
    let refused: Vec<(String, Shortfall)> = fields
        .iter()
        .flat_map(|f| f.valid())
        .filter_map(|m| {
            let verdict = verdict_of(m.domain());
            check(verdict.as_ref(), required)
                .err()
                .map(|s| (m.address.clone(), s))
        })
        .collect();
    if refused.is_empty() {
        SendCheck::Ready
    } else {
        SendCheck::Refused(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendguard_common::{BlockCause, CertificateInfo, DaneStatus, MxReport};

    fn mx(class: SecurityClass, tls: Option<&str>, webpki: Option<bool>) -> MxReport {
        MxReport {
            host: "mx.example".into(),
            preference: 10,
            addresses: vec![],
            starttls: Some(tls.is_some()),
            tls_version: tls.map(str::to_string),
            cipher: tls.map(|_| "TLS_AES_128_GCM_SHA256".to_string()),
            cipher_iana: None,
            bits: Some(128),
            dane: if class == SecurityClass::DaneOk {
                DaneStatus::Verified
            } else {
                DaneStatus::None
            },
            unsigned: None,
            certificate: webpki.map(|valid| CertificateInfo {
                chain: vec![],
                webpki_valid: valid,
                webpki_error: None,
            }),
            class,
            error: None,
            checked_at: Some(0),
            on_hold: false,
            history: None,
        }
    }

    fn verdict(class: SecurityClass, blocked: bool, mx: Vec<MxReport>) -> DomainVerdict {
        DomainVerdict {
            domain: "example".into(),
            class,
            blocked,
            cause: blocked.then_some(BlockCause::OnHold),
            reason: String::new(),
            dnssec: DnssecStatus::Secure,
            mx,
            checked_at: Some(0),
        }
    }

    const ANY12: TransportRequirement = TransportRequirement {
        authentication: MinAuthentication::AnyTls,
        tls_version: MinTlsVersion::Tls12,
    };
    const AUTH12: TransportRequirement = TransportRequirement {
        authentication: MinAuthentication::Authenticated,
        tls_version: MinTlsVersion::Tls12,
    };
    const ANY13: TransportRequirement = TransportRequirement {
        authentication: MinAuthentication::AnyTls,
        tls_version: MinTlsVersion::Tls13,
    };

    #[test]
    fn unknown_and_pending_never_meet_the_requirement() {
        assert_eq!(check(None, ANY12), Err(Shortfall::Unknown));
        let v = verdict(SecurityClass::Unknown, false, vec![]);
        assert_eq!(check(Some(&v), ANY12), Err(Shortfall::Unknown));
    }

    #[test]
    fn any_tls_needs_tls_on_every_mx_and_no_block() {
        let ok = verdict(
            SecurityClass::SslOk,
            false,
            vec![mx(SecurityClass::SslOk, Some("TLSv1.2"), Some(false))],
        );
        assert_eq!(check(Some(&ok), ANY12), Ok(()));
        let plain = verdict(
            SecurityClass::NoSsl,
            false,
            vec![
                mx(SecurityClass::SslOk, Some("TLSv1.2"), Some(true)),
                mx(SecurityClass::NoSsl, None, None),
            ],
        );
        assert_eq!(check(Some(&plain), ANY12), Err(Shortfall::NoTls));
        let blocked = verdict(
            SecurityClass::DaneOk,
            true,
            vec![mx(SecurityClass::DaneOk, Some("TLSv1.3"), Some(true))],
        );
        assert_eq!(check(Some(&blocked), ANY12), Err(Shortfall::Blocked));
    }

    #[test]
    fn authenticated_needs_dane_or_valid_certificates_everywhere() {
        let dane = verdict(
            SecurityClass::DaneOk,
            false,
            vec![mx(SecurityClass::DaneOk, Some("TLSv1.2"), Some(false))],
        );
        assert_eq!(check(Some(&dane), AUTH12), Ok(()));
        let webpki = verdict(
            SecurityClass::SslOk,
            false,
            vec![
                mx(SecurityClass::SslOk, Some("TLSv1.3"), Some(true)),
                mx(SecurityClass::DaneOk, Some("TLSv1.3"), Some(true)),
            ],
        );
        assert_eq!(check(Some(&webpki), AUTH12), Ok(()));
        let self_signed = verdict(
            SecurityClass::SslOk,
            false,
            vec![
                mx(SecurityClass::SslOk, Some("TLSv1.3"), Some(true)),
                mx(SecurityClass::SslOk, Some("TLSv1.3"), Some(false)),
            ],
        );
        assert_eq!(
            check(Some(&self_signed), AUTH12),
            Err(Shortfall::NotAuthenticated)
        );
        assert_eq!(check(Some(&self_signed), ANY12), Ok(()));
    }

    #[test]
    fn a_valid_certificate_behind_an_unsigned_mx_answer_authenticates_nothing() {
        let mut webpki = verdict(
            SecurityClass::SslOk,
            false,
            vec![mx(SecurityClass::SslOk, Some("TLSv1.3"), Some(true))],
        );
        assert_eq!(check(Some(&webpki), AUTH12), Ok(()));
        webpki.dnssec = DnssecStatus::Insecure;
        assert_eq!(
            check(Some(&webpki), AUTH12),
            Err(Shortfall::NotAuthenticated)
        );
        assert_eq!(check(Some(&webpki), ANY12), Ok(()));
    }

    #[test]
    fn tls13_needs_tls13_on_every_mx() {
        let mixed = verdict(
            SecurityClass::SslOk,
            false,
            vec![
                mx(SecurityClass::SslOk, Some("TLSv1.3"), Some(true)),
                mx(SecurityClass::SslOk, Some("TLSv1.2"), Some(true)),
            ],
        );
        assert_eq!(check(Some(&mixed), ANY13), Err(Shortfall::TlsTooOld));
        let all13 = verdict(
            SecurityClass::SslOk,
            false,
            vec![mx(SecurityClass::SslOk, Some("TLSv1.3"), Some(false))],
        );
        assert_eq!(check(Some(&all13), ANY13), Ok(()));
    }

    #[test]
    fn the_expert_choice_applies_only_in_expert_mode() {
        let mut s = SecureSendingSettings {
            mode: SecureMode::On,
            sending: AUTH12,
            receiving: ANY13,
        };
        assert_eq!(sending_requirement(Some(&s)), ANY12);
        s.mode = SecureMode::Expert;
        assert_eq!(sending_requirement(Some(&s)), AUTH12);
        assert_eq!(sending_requirement(None), ANY12);
    }

    #[test]
    fn send_is_refused_before_anything_is_sent() {
        let mut to = RecipientList::default();
        let cc = RecipientList::default();
        assert_eq!(
            check_send([&to, &cc], None, |_| None),
            SendCheck::NoRecipients
        );
        to.add_text("a@tls.example, broken");
        assert_eq!(
            check_send([&to, &cc], None, |_| None),
            SendCheck::Invalid(vec!["broken".into()])
        );
        let mut to = RecipientList::default();
        to.add_text("a@tls.example, b@plain.example, c@new.example");
        let lookup = |domain: &str| match domain {
            "tls.example" => Some(verdict(
                SecurityClass::SslOk,
                false,
                vec![mx(SecurityClass::SslOk, Some("TLSv1.2"), Some(false))],
            )),
            "plain.example" => Some(verdict(
                SecurityClass::NoSsl,
                false,
                vec![mx(SecurityClass::NoSsl, None, None)],
            )),
            _ => None,
        };
        assert_eq!(check_send([&to], None, lookup), SendCheck::Ready);
        assert_eq!(
            check_send([&to], Some(ANY12), lookup),
            SendCheck::Refused(vec![
                ("b@plain.example".into(), Shortfall::NoTls),
                ("c@new.example".into(), Shortfall::Unknown),
            ])
        );
    }
}
