//! The English words for a judgement: the technical reason that the API, the CLI, the logs and
//! the admin evidence carry. Each outcome has one phrase ([`endpoint_words`]); a host's sentence
//! adds what follows for the delivery ([`host_reason`]). The page does not show these to users
//! as its main text: it says the block cause in the user's language from its own catalog.

use sendguard_common::{BlockCause, SecurityClass, UnsignedDns};

use super::judge::{DomainJudgement, EndpointJudgement, HostJudgement, Level, Outcome};

/// What one endpoint showed, e.g. `TLSv1.3 TLS_AES_128_GCM_SHA256` or `STARTTLS not offered`.
pub fn endpoint_words(e: &EndpointJudgement) -> String {
    let detail = e.detail.as_deref().unwrap_or("");
    let tls = e
        .tls
        .as_ref()
        .map(|t| format!("{} {}", t.version.name(), t.cipher_openssl))
        .unwrap_or_default();
    match e.outcome {
        Outcome::DaneVerified => format!("DANE verified, {tls}"),
        Outcome::DaneMismatch => format!(
            "the certificate does not match its DNSSEC-signed TLSA records ({detail}), {tls}"
        ),
        Outcome::DaneNameMismatch => format!(
            "the certificate does not match this domain: it fits its DNSSEC-signed TLSA records but names neither the server nor the domain ({detail}), {tls}"
        ),
        Outcome::Tls => tls,
        Outcome::NoStarttls => "STARTTLS not offered".into(),
        Outcome::NoEsmtp => format!("no ESMTP: EHLO refused ({detail}), so no STARTTLS"),
        Outcome::StarttlsRefused => format!("STARTTLS refused ({detail})"),
        Outcome::WithoutTls => detail.to_string(),
        Outcome::LegacyTls => format!("only offers TLS versions older than 1.2 ({detail})"),
        Outcome::HandshakeFailed if e.detail.is_none() => "STARTTLS was not completed".into(),
        Outcome::HandshakeFailed => format!("the TLS handshake failed ({detail})"),
        Outcome::HandshakeTimeout => "the TLS handshake timed out".into(),
        Outcome::TlsAborted => format!("STARTTLS aborted ({detail})"),
        Outcome::Unreachable => format!("not reached ({detail})"),
        Outcome::SessionRejected => format!("the server refused the session ({detail})"),
        Outcome::NotProbed => detail.to_string(),
        Outcome::DnssecBogus => format!("DNSSEC validation failed ({detail})"),
        Outcome::TlsaLookupFailed => format!("the TLSA lookup failed ({detail})"),
        Outcome::AddressLookupFailed => format!("its address could not be looked up ({detail})"),
    }
}

/// What follows from an endpoint's judgement for the delivery, as the end of a sentence.
fn consequence(e: &EndpointJudgement) -> &'static str {
    match (e.cause, e.level) {
        (Some(BlockCause::DaneMismatch), _) => "; delivery is refused",
        (Some(BlockCause::DaneWithoutTls), _) => {
            ", but its DNSSEC-signed TLSA records require TLS; delivery is refused"
        }
        (Some(BlockCause::DnssecBogus | BlockCause::TlsaLookupFailed), _) => {
            "; delivery is deferred"
        }
        (_, Some(Level::Plain)) => "; mail would travel unencrypted",
        _ => "",
    }
}

/// One endpoint in a host's sentence: `ip: words`, or the words alone for the host itself.
fn located(e: &EndpointJudgement) -> String {
    match e.ip {
        Some(ip) => format!("{ip}: {}", endpoint_words(e)),
        None => endpoint_words(e),
    }
}

/// The host's sentence: its blocking endpoint, else its weakest one; a host that showed no level
/// anywhere lists what happened at each address.
pub fn host_reason(h: &HostJudgement) -> String {
    let name = &h.host;
    if let Some(e) = h.blocking() {
        return format!("{name}: {}{}.", endpoint_words(e), consequence(e));
    }
    if h.level().is_some() {
        let e = &h.endpoints[h.weakest()];
        return format!("{name}: {}{}.", endpoint_words(e), consequence(e));
    }
    match h.endpoints.as_slice() {
        [one] if one.ip.is_none() => format!("{name}: {}.", endpoint_words(one)),
        all => {
            let each: Vec<String> = all.iter().map(located).collect();
            format!("{name}: not reachable ({}).", each.join("; "))
        }
    }
}

/// The sentence for a domain whose hosts are not blocked, by its class. A domain that is "SSL
/// ok" only because DANE is not backed by a signed path says which answer is unsigned.
pub fn class_reason(j: &DomainJudgement) -> String {
    let class = j.class();
    match class {
        SecurityClass::DaneOk => {
            "Every mail server is authenticated by DNSSEC-signed TLSA records (DANE).".into()
        }
        SecurityClass::SslOk => {
            let mut s = String::from("Every mail server accepts STARTTLS with TLS 1.2 or newer.");
            let unbacked = j
                .hosts
                .iter()
                .find(|h| h.level() == Some(Level::Dane) && j.unsigned(h).is_some());
            if let Some(h) = unbacked {
                let what = j.unsigned(h).map_or("", unsigned_words);
                s.push_str(&format!(
                    " {} matched its DNSSEC-signed TLSA records, but {what} not DNSSEC-signed, so DANE does not authenticate it for this domain.",
                    h.host
                ));
            }
            s
        }
        SecurityClass::NoSsl | SecurityClass::Unknown => j
            .hosts
            .iter()
            .find(|h| j.class_via(h) == class)
            .map(host_reason)
            .unwrap_or_default(),
    }
}

/// Which answer is unsigned, as the subject of "… not DNSSEC-signed".
fn unsigned_words(u: UnsignedDns) -> &'static str {
    match u {
        UnsignedDns::MxRecords => "the domain's MX records are",
        UnsignedDns::MxDenial => "the proof that the domain has no MX records is",
        UnsignedDns::Addresses => "its address records are",
        UnsignedDns::Tlsa => "its TLSA records are",
    }
}
