//! The secure sender rule (the protocol notes, "Secure sender and secure receiving"): whether a
//! recipient domain, as its verdict shows it, can receive mail from a secure address
//! (`alias@secure.<domain>`) at the user's minimum. One function for both sides: the compose
//! page marks and refuses recipients with it before anything is sent, and the delivery worker
//! refuses them with it before anything leaves, so the two cannot disagree.
//!
//! * any TLS: every MX host is "SSL ok" or "DANE ok" and the domain is not blocked;
//! * authenticated TLS: additionally the domain is "DANE ok" (RFC 7672), or the MX answer is
//!   DNSSEC-secure or an MTA-STS policy in enforce mode names the MX hosts (RFC 8461: the HTTPS
//!   policy authenticates the names), and every MX host presented a certificate valid under the
//!   WebPKI for its name (with an unsigned MX answer and no policy an attacker chooses the MX
//!   name, so a certificate valid for that name authenticates nothing);
//! * hosts an MTA-STS policy in enforce mode does not name are never used, so they do not count;
//! * TLS version and certificate are each MX host's weakest answering address's (the server
//!   reports them so);
//! * TLS 1.3: additionally every MX host negotiated `TLSv1.3`;
//! * unknown or pending: not met (we cannot promise what we have not seen).

use crate::{
    DnssecStatus, DomainVerdict, MinAuthentication, MinTlsVersion, MxReport, SecureMode,
    SecureSendingSettings, SecurityClass, StsMode, TransportRequirement,
};

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
    /// The shortfall in English, for the server's reasons and logs (the page has its own words).
    pub fn english(self) -> &'static str {
        match self {
            Shortfall::Unknown => "its mail servers' encryption is not known yet",
            Shortfall::Blocked => "delivery to it is blocked right now",
            Shortfall::NoTls => "one of its mail servers does not offer TLS 1.2 or newer",
            Shortfall::NotAuthenticated => {
                "its mail servers cannot be authenticated (neither DANE nor a WebPKI-valid certificate behind signed DNS)"
            }
            Shortfall::TlsTooOld => "one of its mail servers does not negotiate TLS 1.3",
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
    let enforce = v
        .mta_sts
        .as_ref()
        .is_some_and(|s| s.mode == Some(StsMode::Enforce));
    let used: Vec<&MxReport> =
        v.mx.iter()
            .filter(|m| !(enforce && m.mta_sts_match == Some(false)))
            .collect();
    if used.is_empty() || v.class == SecurityClass::Unknown {
        return Err(Shortfall::Unknown);
    }
    if v.class == SecurityClass::NoSsl || used.iter().any(|m| m.class == SecurityClass::NoSsl) {
        return Err(Shortfall::NoTls);
    }
    if used.iter().any(|m| m.class < SecurityClass::SslOk) {
        return Err(Shortfall::Unknown);
    }
    if required.authentication == MinAuthentication::Authenticated {
        let dane = v.class == SecurityClass::DaneOk;
        let signed_mx = v.dnssec == DnssecStatus::Secure;
        let webpki = (signed_mx || enforce)
            && used.iter().all(|m| {
                m.certificate
                    .as_ref()
                    .is_some_and(|certificate| certificate.webpki_valid)
            });
        if !dane && !webpki {
            return Err(Shortfall::NotAuthenticated);
        }
    }
    if required.tls_version == MinTlsVersion::Tls13
        && !used
            .iter()
            .all(|m| m.tls_version.as_deref() == Some("TLSv1.3"))
    {
        return Err(Shortfall::TlsTooOld);
    }
    Ok(())
}
