//! How a delivery to one server must be protected, read from the same judgement as the badge,
//! in Postfix's security levels (TLS_README), with the precedence DANE > MTA-STS enforce >
//! remembered level > opportunistic (protocol notes, "Remember-TLS").

use super::judge::{EndpointJudgement, Level, TlsaDemand};
use super::reason::endpoint_words;

/// How a delivery to one server must be protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Enforcement {
    /// TLS authenticated by the TLSA records, or no delivery (RFC 7672 §2.2).
    DaneOnly,
    /// TLS with a certificate valid for the MX host name under the WebPKI (RFC 8461 §4).
    Verify,
    /// TLS 1.2+ with any certificate, or no delivery.
    Encrypt,
    /// TLS when offered, plain text otherwise (RFC 3207 opportunistic).
    May,
    /// No delivery now: the TLSA records could not be looked up or did not validate
    /// (RFC 7672 §2.1.1), so what they demand is unknown.
    Defer,
}

impl Enforcement {
    /// Postfix's name of the level (`defer` is not one: Postfix gets a TEMP answer instead).
    pub fn label(self) -> &'static str {
        match self {
            Enforcement::DaneOnly => "dane-only",
            Enforcement::Verify => "verify",
            Enforcement::Encrypt => "encrypt",
            Enforcement::May => "may",
            Enforcement::Defer => "defer",
        }
    }
}

/// The enforcement for a delivery to one server:
///
/// - DNSSEC-secure usable TLSA records: dane-only (RFC 7672 §2.2); secure but unusable ones
///   still make TLS mandatory: encrypt. MTA-STS never overrides DANE (RFC 8461 §2). A failed
///   TLSA lookup defers (RFC 7672 §2.1.1).
/// - An MTA-STS policy in enforce mode: verify (RFC 8461 §5).
/// - The remembered floor: DANE reached keeps dane-only (the records vanishing is a downgrade,
///   held anyway), TLS reached keeps encrypt.
/// - Nothing known: may.
pub fn enforcement(tlsa: TlsaDemand, mta_sts_enforce: bool, floor: Option<Level>) -> Enforcement {
    match tlsa {
        TlsaDemand::Dane => return Enforcement::DaneOnly,
        TlsaDemand::Unknown => return Enforcement::Defer,
        TlsaDemand::Tls => return Enforcement::Encrypt,
        TlsaDemand::Nothing => {}
    }
    if mta_sts_enforce {
        return Enforcement::Verify;
    }
    match floor {
        Some(Level::Dane) => Enforcement::DaneOnly,
        Some(Level::Tls) => Enforcement::Encrypt,
        Some(Level::Plain) | None => Enforcement::May,
    }
}

/// Whether a session, as the one judgement judged it, meets `e`: the check a delivery makes
/// after the handshake and before MAIL FROM. `Err` says why not, in words.
pub fn permits(e: Enforcement, session: &EndpointJudgement) -> Result<(), String> {
    let level = session.level;
    let verified = session
        .tls
        .as_ref()
        .is_some_and(|t| t.certificate.webpki_valid);
    let met = match e {
        Enforcement::Defer => false,
        Enforcement::May => true,
        Enforcement::Encrypt => level >= Some(Level::Tls),
        Enforcement::DaneOnly => level == Some(Level::Dane),
        Enforcement::Verify => level >= Some(Level::Tls) && verified,
    };
    if met {
        return Ok(());
    }
    let wanted = match e {
        Enforcement::Defer => "nothing until its TLSA records are known",
        Enforcement::May => "anything",
        Enforcement::Encrypt => "TLS 1.2 or newer",
        Enforcement::DaneOnly => "TLS authenticated by its TLSA records (DANE)",
        Enforcement::Verify => "TLS with a certificate valid for its name",
    };
    Err(format!(
        "the session did not give what delivery requires, {wanted} ({})",
        endpoint_words(session)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforcement_precedence() {
        use Enforcement::*;
        assert_eq!(enforcement(TlsaDemand::Dane, true, None), DaneOnly);
        assert_eq!(enforcement(TlsaDemand::Tls, true, None), Encrypt);
        assert_eq!(
            enforcement(TlsaDemand::Unknown, true, Some(Level::Tls)),
            Defer
        );
        assert_eq!(
            enforcement(TlsaDemand::Nothing, true, Some(Level::Dane)),
            Verify
        );
        assert_eq!(
            enforcement(TlsaDemand::Nothing, false, Some(Level::Dane)),
            DaneOnly
        );
        assert_eq!(
            enforcement(TlsaDemand::Nothing, false, Some(Level::Tls)),
            Encrypt
        );
        assert_eq!(
            enforcement(TlsaDemand::Nothing, false, Some(Level::Plain)),
            May
        );
        assert_eq!(enforcement(TlsaDemand::Nothing, false, None), May);
    }
}
