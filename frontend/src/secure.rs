//! The secure sender rule on the compose page: the rule itself is
//! [`sendguard_common::secure::check`], the one the delivery worker applies too; here it is
//! applied to every recipient field before anything is sent ([`check_send`]), and each shortfall
//! gets its words from the catalog. Plain Rust, tested natively.

use leptos::prelude::*;
use sendguard_common::{DomainVerdict, TransportRequirement};

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

pub use sendguard_common::secure::{Shortfall, check, sending_requirement};

/// The catalog key of the words for a shortfall.
pub trait ShortfallWords {
    /// The catalog key of the words for this shortfall.
    fn message_key(self) -> Key;
}

impl ShortfallWords for Shortfall {
    fn message_key(self) -> Key {
        match self {
            Shortfall::Unknown => Key::ShortUnknown,
            Shortfall::Blocked => Key::ShortBlocked,
            Shortfall::NoTls => Key::ShortNoTls,
            Shortfall::NotAuthenticated => Key::ShortNotAuthenticated,
            Shortfall::TlsTooOld => Key::ShortTlsTooOld,
        }
    }
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
    use sendguard_common::{
        BlockCause, CertificateInfo, DaneStatus, DnssecStatus, MinAuthentication, MinTlsVersion,
        MxReport, SecureMode, SecureSendingSettings, SecurityClass,
    };

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
            mta_sts_match: None,
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
            mta_sts: None,
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

    #[test]
    fn an_enforce_policy_authenticates_the_mx_names_and_rules_out_unnamed_hosts() {
        let named = mx(SecurityClass::SslOk, Some("TLSv1.3"), Some(true));
        let mut backup = mx(SecurityClass::NoSsl, None, None);
        backup.mta_sts_match = Some(false);
        let mut v = verdict(SecurityClass::SslOk, false, vec![named, backup]);
        v.dnssec = DnssecStatus::Insecure;
        // Without a policy: the unsigned MX answer authenticates nothing, the backup has no TLS.
        assert_eq!(check(Some(&v), ANY12), Err(Shortfall::NoTls));
        v.mta_sts = Some(sendguard_common::MtaStsView {
            mode: Some(sendguard_common::StsMode::Enforce),
            mx: vec!["mx.example".into()],
            cached_until: Some(1),
            problem: None,
            downgrade: false,
        });
        assert_eq!(check(Some(&v), AUTH12), Ok(()));
        // Testing mode rules nothing out and authenticates nothing.
        if let Some(sts) = &mut v.mta_sts {
            sts.mode = Some(sendguard_common::StsMode::Testing);
        }
        assert_eq!(check(Some(&v), ANY12), Err(Shortfall::NoTls));
    }
}
