//! DANE for SMTP: matching a server's certificate chain against its TLSA records.
//!
//! Implements the certificate checks of RFC 7672 (SMTP security via opportunistic DANE TLS)
//! with the updates of RFC 7671 and the record semantics of RFC 6698:
//!
//! - only DANE-TA(2) and DANE-EE(3) records are usable for SMTP; PKIX-TA(0) and PKIX-EE(1)
//!   are ignored (RFC 7672 §3.1.3). When TLSA records exist but none is usable, TLS is still
//!   mandatory but unauthenticated (RFC 7672 §2.2), which [`DaneMatch::NoUsableRecords`] reports;
//! - DANE-EE(3) compares the leaf certificate or its public key only: no name check and no
//!   validity-date check (RFC 7672 §3.1.1, RFC 7671 §5.1);
//! - DANE-TA(2) takes the matching certificate from the chain the server sent as the trust
//!   anchor (RFC 7672 §3.1.2, RFC 7671 §5.2.2), validates the chain from the leaf up to it
//!   (signatures, validity dates, CA constraints) and requires the leaf to name the TLSA base
//!   domain or the next-hop domain (RFC 7672 §3.2.2, §3.2.3);
//! - any one matching usable record suffices (RFC 6698 §2.1, RFC 7671 §5).
//!
//! [`match_chain`] works on a recorded chain (what the probe uses); [`DaneVerifier`] plugs the
//! same rules into a rustls handshake (what delivery uses).

pub mod tlsa;
mod verify;

#[cfg(test)]
mod tests;

pub use verify::DaneVerifier;

use rustls_pki_types::{CertificateDer, DnsName, ServerName, UnixTime};
use sha2::{Digest, Sha256, Sha512};

use crate::dane::tlsa::TlsaRecord;

/// Certificate usage DANE-TA: the record names a trust anchor (RFC 6698 §2.1.1, RFC 7218).
pub const USAGE_DANE_TA: u8 = 2;
/// Certificate usage DANE-EE: the record names the server's own certificate or key.
pub const USAGE_DANE_EE: u8 = 3;

/// Why association data could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum DaneError {
    /// The certificate is not a parsable X.509 certificate (needed for selector 1).
    #[error("unparsable certificate: {0}")]
    BadCertificate(String),
    /// The selector is neither 0 (full certificate) nor 1 (SubjectPublicKeyInfo) (RFC 6698 §2.1.2).
    #[error("unknown TLSA selector {0}")]
    UnknownSelector(u8),
    /// The matching type is neither 0 (exact), 1 (SHA-256) nor 2 (SHA-512) (RFC 6698 §2.1.3).
    #[error("unknown TLSA matching type {0}")]
    UnknownMatchingType(u8),
    /// The presented chain did not match the usable TLSA records; the text says why.
    #[error("TLSA records did not match the server's certificate: {0}")]
    Mismatch(String),
}

/// The outcome of matching a certificate chain against a TLSA RRset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaneMatch {
    /// A usable record matched, and (for DANE-TA) the chain validated to it and the leaf
    /// carried one of the reference identifiers.
    Matched {
        /// The usage of the record that matched: 2 (DANE-TA) or 3 (DANE-EE).
        usage: u8,
        /// Index in the chain as sent (0 = leaf) of the certificate the record matched.
        depth: usize,
    },
    /// Usable records exist but none matched; the text is for the administrator.
    /// Delivery must not proceed to this server (RFC 7672 §2.2).
    Mismatch(String),
    /// A DANE-TA record matched a certificate the server sent and the chain validated to it,
    /// but the leaf names none of the reference identifiers (RFC 7672 §3.2.3). The server fits
    /// its TLSA records; it is these names, i.e. this next-hop domain, that it does not carry.
    /// Delivery for this domain must not proceed; for a domain the leaf names it may.
    NameMismatch(String),
    /// TLSA records exist but none has usage 2/3 with a known selector and matching type:
    /// TLS is still mandatory, but unauthenticated (RFC 7672 §2.2, §3.1.3).
    NoUsableRecords,
}

/// The certificate association data of `cert_der` for a selector and matching type
/// (RFC 6698 §2.1.2, §2.1.3): selector 0 = the full certificate DER, 1 = its
/// SubjectPublicKeyInfo DER; matching 0 = the bytes themselves, 1 = SHA-256, 2 = SHA-512.
pub fn association_data(cert_der: &[u8], selector: u8, matching: u8) -> Result<Vec<u8>, DaneError> {
    if matching > 2 {
        return Err(DaneError::UnknownMatchingType(matching));
    }
    let selected: Vec<u8> = match selector {
        0 => cert_der.to_vec(),
        1 => spki_der(cert_der)?,
        other => return Err(DaneError::UnknownSelector(other)),
    };
    Ok(match matching {
        0 => selected,
        1 => Sha256::digest(&selected).to_vec(),
        _ => Sha512::digest(&selected).to_vec(),
    })
}

/// The DER SubjectPublicKeyInfo of a certificate.
pub(crate) fn spki_der(cert_der: &[u8]) -> Result<Vec<u8>, DaneError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| DaneError::BadCertificate(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DaneError::BadCertificate(
            "trailing data after the certificate".into(),
        ));
    }
    Ok(cert.public_key().raw.to_vec())
}

/// Matches the chain a server sent (leaf first) against its TLSA records.
///
/// `names` are the reference identifiers for DANE-TA name checks: the TLSA base domain (the
/// MX host) and the next-hop domain (RFC 7672 §3.2.2). `now` is used for the validity dates
/// of a DANE-TA chain; DANE-EE ignores dates (RFC 7671 §5.1). Never panics on hostile input:
/// an unparsable certificate simply does not match.
pub fn match_chain(
    records: &[TlsaRecord],
    chain: &[CertificateDer<'_>],
    names: &[&str],
    now: UnixTime,
) -> DaneMatch {
    // RFC 7672 §3.1.3: only DANE-TA(2) and DANE-EE(3) are usable for SMTP.
    let usable: Vec<&TlsaRecord> = records.iter().filter(|r| r.is_usable_for_smtp()).collect();
    if usable.is_empty() {
        return DaneMatch::NoUsableRecords;
    }
    let Some(leaf) = chain.first() else {
        return DaneMatch::Mismatch("the server sent no certificate".into());
    };

    let mut why: Vec<String> = Vec::new();

    // DANE-EE(3) first: it is cheap and needs nothing but the leaf (RFC 7672 §3.1.1).
    for rec in usable.iter().filter(|r| r.usage == USAGE_DANE_EE) {
        match association_data(leaf, rec.selector, rec.matching) {
            Ok(data) if data == rec.data => {
                return DaneMatch::Matched {
                    usage: USAGE_DANE_EE,
                    depth: 0,
                };
            }
            Ok(_) => push_unique(
                &mut why,
                format!(
                    "DANE-EE {} did not match the leaf certificate",
                    describe(rec)
                ),
            ),
            Err(e) => push_unique(&mut why, format!("DANE-EE {}: {e}", describe(rec))),
        }
    }

    // DANE-TA(2): the record must match a certificate the server sent (RFC 7671 §5.2.2,
    // RFC 7672 §3.1.2), which then serves as the trust anchor for the rest of the chain.
    let mut names_only = false;
    for rec in usable.iter().filter(|r| r.usage == USAGE_DANE_TA) {
        let mut matched_any = false;
        for (depth, cert) in chain.iter().enumerate() {
            let Ok(data) = association_data(cert, rec.selector, rec.matching) else {
                continue;
            };
            if data != rec.data {
                continue;
            }
            matched_any = true;
            match validate_to_anchor(chain, depth, names, now) {
                Ok(()) => {
                    return DaneMatch::Matched {
                        usage: USAGE_DANE_TA,
                        depth,
                    };
                }
                Err(AnchorFailure::Names(e)) => {
                    names_only = true;
                    push_unique(
                        &mut why,
                        format!(
                            "DANE-TA {} matched the certificate at depth {depth} and the chain validates to it, but {e}",
                            describe(rec)
                        ),
                    );
                }
                Err(AnchorFailure::Chain(e)) => push_unique(
                    &mut why,
                    format!(
                        "DANE-TA {} matched the certificate at depth {depth}, but {e}",
                        describe(rec)
                    ),
                ),
            }
        }
        if !matched_any {
            push_unique(
                &mut why,
                format!(
                    "DANE-TA {} matched no certificate in the chain the server sent",
                    describe(rec)
                ),
            );
        }
    }

    if names_only {
        DaneMatch::NameMismatch(why.join("; "))
    } else {
        DaneMatch::Mismatch(why.join("; "))
    }
}

/// Why a chain did not validate to a DANE-TA trust anchor.
enum AnchorFailure {
    /// The chain itself: unparsable, a bad signature, expired, not a CA.
    Chain(String),
    /// The chain validates, but the leaf names none of the reference identifiers.
    Names(String),
}

/// The chain leaf → … → `chain[anchor_depth]` must validate with `chain[anchor_depth]` as the
/// trust anchor, and the leaf must carry one of `names` (RFC 7672 §3.2.2, §3.2.3).
///
/// Validation is RFC 5280 path building by webpki: signatures, validity dates of the leaf and
/// intermediates, CA basic constraints, the anchor's name constraints, and the serverAuth
/// extended key usage when the leaf lists any. When the record matches the leaf itself
/// (depth 0), only a self-issued leaf validates, being its own issuer.
fn validate_to_anchor(
    chain: &[CertificateDer<'_>],
    anchor_depth: usize,
    names: &[&str],
    now: UnixTime,
) -> Result<(), AnchorFailure> {
    let anchor_cert = &chain[anchor_depth];
    let anchor = webpki::anchor_from_trusted_cert(anchor_cert)
        .map_err(|e| AnchorFailure::Chain(format!("it cannot serve as a trust anchor ({e})")))?;
    let leaf = webpki::EndEntityCert::try_from(&chain[0])
        .map_err(|e| AnchorFailure::Chain(format!("the leaf certificate is unparsable ({e})")))?;
    // The other certificates the server sent, in any order, are candidate intermediates;
    // the anchor itself is left out so that the path ends at it.
    let intermediates: Vec<CertificateDer<'_>> = chain
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 0 && *i != anchor_depth)
        .map(|(_, c)| c.clone())
        .collect();
    let algs = rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all;
    leaf.verify_for_usage(
        algs,
        std::slice::from_ref(&anchor),
        &intermediates,
        now,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| AnchorFailure::Chain(format!("the chain does not validate to it ({e:?})")))?;
    check_names(&leaf, names).map_err(AnchorFailure::Names)
}

/// RFC 7672 §3.2.3: the leaf's DNS subjectAltNames must include one reference identifier; a
/// wildcard matches only as the whole left-most label (webpki's RFC 6125 rules). The subject
/// common name is not consulted. A trailing dot on a reference identifier is ignored.
fn check_names(leaf: &webpki::EndEntityCert<'_>, names: &[&str]) -> Result<(), String> {
    for name in names {
        let name = name.trim_end_matches('.');
        let Ok(dns) = DnsName::try_from(name) else {
            continue;
        };
        if leaf
            .verify_is_valid_for_subject_name(&ServerName::DnsName(dns))
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(format!(
        "the leaf certificate names none of {}",
        names.join(", ")
    ))
}

/// `2 1 1 0a1b2c3d4e5f6071…`: a record's parameters and the start of its data.
fn describe(rec: &TlsaRecord) -> String {
    let mut s = format!("{} {} {} ", rec.usage, rec.selector, rec.matching);
    let shown = rec.data.len().min(8);
    s.push_str(&hex::encode(&rec.data[..shown]));
    if rec.data.len() > shown {
        s.push('…');
    }
    s
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}
