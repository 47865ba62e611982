//! What Sendguard shows and stores about the certificate chain a mail server presented.
//!
//! [`describe_chain`] lists each certificate as sent (subject, issuer, subjectAltName DNS names,
//! validity, fingerprints); the SPKI fingerprint is the one a `3 1 1` TLSA record carries
//! (RFC 6698 §2.1.2, §2.1.3), so an administrator can compare it with DNS at a glance.
//! [`webpki_check`] says whether the chain would also pass ordinary WebPKI validation (RFC 5280
//! path validation to the Mozilla roots of `webpki-roots`, names per RFC 6125 as MTA-STS
//! requires, RFC 8461 §4.2). That is information only: DANE (RFC 7672) authenticates without
//! the WebPKI, and opportunistic TLS accepts any certificate.
//!
//! Certificates come from the network: nothing here panics on malformed input, and the names
//! taken from them (subject, issuer, subjectAltName) pass through
//! [`crate::smtp::reply::server_text`] like every other text a server sends.

use std::sync::{Arc, LazyLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sendguard_common::{CertificateDetails, CertificateInfo};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::extensions::GeneralName;

/// The roots a certificate is checked against: the Mozilla roots of `webpki-roots`, plus the
/// operator's `--extra-roots` (a private PKI, or the simulated internet's CA in tests). Used for
/// the MX certificates' WebPKI verdict (what MTA-STS enforce requires, RFC 8461 §4.2) and for
/// fetching MTA-STS policies (§3.3). Cheap to clone.
#[derive(Clone)]
pub struct WebPki {
    roots: Arc<RootCertStore>,
    verifier: Arc<WebPkiServerVerifier>,
}

impl std::fmt::Debug for WebPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebPki")
            .field("roots", &self.roots.len())
            .finish()
    }
}

/// The standard roots alone, built once.
static STANDARD: LazyLock<Result<WebPki, String>> = LazyLock::new(|| WebPki::new(&[]));

impl WebPki {
    /// The `webpki-roots` roots plus `extra`.
    pub fn new(extra: &[CertificateDer<'static>]) -> Result<WebPki, String> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in extra {
            roots
                .add(cert.clone())
                .map_err(|e| format!("an extra root is not usable: {e}"))?;
        }
        let roots = Arc::new(roots);
        let verifier = WebPkiServerVerifier::builder_with_provider(
            roots.clone(),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .map_err(|e| format!("cannot build the WebPKI verifier: {e}"))?;
        Ok(WebPki { roots, verifier })
    }

    /// The standard roots alone.
    pub fn standard() -> Result<WebPki, String> {
        STANDARD.clone()
    }

    /// The root store, for a TLS client that verifies by it (the MTA-STS policy fetch).
    pub fn roots(&self) -> Arc<RootCertStore> {
        self.roots.clone()
    }

    /// Whether `chain` (leaf first) is valid under these roots for the host name `host` at
    /// time `now`; the error is a sentence for the administrator.
    pub fn check(
        &self,
        chain: &[CertificateDer<'_>],
        host: &str,
        now: UnixTime,
    ) -> Result<(), String> {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Err("the server sent no certificate".into());
        };
        let host = host.trim_end_matches('.');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| format!("{host:?} is not a valid host name"))?;
        self.verifier
            .verify_server_cert(leaf, intermediates, &name, &[], now)
            .map(|_| ())
            .map_err(|e| explain(&e, host))
    }
}

/// The certificates of a PEM file (`--extra-roots`), at least one.
pub fn read_pem_roots(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certs)
}

/// Subject, issuer, names, validity and fingerprints of each certificate, leaf first, in the
/// order the server sent them. A certificate that does not parse still gets an entry: its
/// subject says so and its DER fingerprint is filled in.
pub fn describe_chain(chain: &[CertificateDer<'_>]) -> Vec<CertificateDetails> {
    chain.iter().map(|cert| describe_one(cert)).collect()
}

fn describe_one(der: &[u8]) -> CertificateDetails {
    let sha256 = hex::encode(Sha256::digest(der));
    let cert = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            return CertificateDetails {
                subject: format!("(unparsable certificate: {e})"),
                issuer: String::new(),
                san: Vec::new(),
                not_before: String::new(),
                not_after: String::new(),
                sha256,
                spki_sha256: String::new(),
            };
        }
    };
    let san = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some(safe(dns)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let validity = cert.validity();
    CertificateDetails {
        subject: safe(&cert.subject().to_string()),
        issuer: safe(&cert.issuer().to_string()),
        san,
        not_before: rfc3339(validity.not_before.to_datetime()),
        not_after: rfc3339(validity.not_after.to_datetime()),
        sha256,
        spki_sha256: hex::encode(Sha256::digest(cert.public_key().raw)),
    }
}

/// A name from a certificate, made safe to store and print.
fn safe(text: &str) -> String {
    use crate::smtp::reply::{MAX_LINE_CHARS, server_text};
    server_text(text.as_bytes(), MAX_LINE_CHARS)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| format!("{} (Unix time)", t.unix_timestamp()))
}

/// Whether `chain` (leaf first) is valid under the standard WebPKI roots for the MX host name
/// `host` at time `now`; the error is a sentence for the administrator.
pub fn webpki_check(chain: &[CertificateDer<'_>], host: &str, now: UnixTime) -> Result<(), String> {
    WebPki::standard()?.check(chain, host, now)
}

/// A sentence for a WebPKI validation failure.
fn explain(error: &rustls::Error, host: &str) -> String {
    let rustls::Error::InvalidCertificate(cert_error) = error else {
        return format!("WebPKI validation failed: {error}");
    };
    match cert_error {
        CertificateError::UnknownIssuer => "not issued by a certificate authority trusted by \
             the WebPKI (self-signed, or the issuer is unknown or missing from the chain)"
            .into(),
        CertificateError::BadEncoding => "the certificate is malformed".into(),
        CertificateError::BadSignature => "a signature in the certificate chain is invalid".into(),
        CertificateError::NotValidForName => format!("the certificate is not valid for {host}"),
        CertificateError::Expired => "the certificate has expired".into(),
        CertificateError::NotValidYet => "the certificate is not valid yet".into(),
        CertificateError::Revoked => "the certificate has been revoked".into(),
        CertificateError::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => "the server's certificate is a CA \
                 certificate, not a server certificate (typical of a self-signed certificate)"
                .into(),
            Some(e) => format!("WebPKI validation failed: {e:?}"),
            None => format!("WebPKI validation failed: {other:?}"),
        },
        other => other.to_string(),
    }
}

/// The chain's description and its verdict under `web` for `host`, as stored with an
/// observation.
pub fn certificate_info(
    web: &WebPki,
    chain: &[CertificateDer<'_>],
    host: &str,
    now: UnixTime,
) -> CertificateInfo {
    let result = web.check(chain, host, now);
    CertificateInfo {
        chain: describe_chain(chain),
        webpki_valid: result.is_ok(),
        webpki_error: result.err(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
    use rustls_pki_types::pem::PemObject;

    use super::*;

    /// The fixed certificate of the DANE tests, with digests computed by the openssl CLI
    /// (see `dane/tests.rs`).
    const FIXED_PEM: &str = include_str!("../../tests/data/dane-ee.pem");
    const FIXED_CERT_SHA256: &str =
        "cef6de6e5217484bd51f9754f00bf337f0bcf6d7c9f0380465891289dba67b22";
    const FIXED_SPKI_SHA256: &str =
        "c49c39e5dfac3e50d5b7ac0324533eb0427ca51ede5e9a50646bdf22143b270d";

    fn fixed_cert() -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(FIXED_PEM.as_bytes()).expect("test PEM")
    }

    /// 2027-06-01, inside the fixed certificate's validity.
    fn june_2027() -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(1_811_808_000))
    }

    #[test]
    fn describes_the_fixed_certificate() {
        let details = describe_chain(&[fixed_cert()]);
        assert_eq!(details.len(), 1);
        let d = &details[0];
        assert_eq!(d.subject, "CN=mx.fixed.example");
        assert_eq!(d.issuer, "CN=mx.fixed.example");
        assert_eq!(d.san, vec!["mx.fixed.example", "*.fixed.example"]);
        // `openssl x509 -noout -dates`: Nov 23 12:34:22 2026 GMT, Oct 30 12:34:22 2126 GMT.
        assert_eq!(d.not_before, "2026-11-23T12:34:22Z");
        assert_eq!(d.not_after, "2126-10-30T12:34:22Z");
        assert_eq!(d.sha256, FIXED_CERT_SHA256);
        assert_eq!(d.spki_sha256, FIXED_SPKI_SHA256);
    }

    #[test]
    fn describes_a_generated_chain_in_order() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params =
            CertificateParams::new(vec!["mx.example.net".to_string(), "example.net".into()])
                .unwrap();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        params
            .distinguished_name
            .push(DnType::CommonName, "mx.example.net");
        let cert = params.self_signed(&key).unwrap();
        let details = describe_chain(&[cert.der().clone(), fixed_cert()]);
        assert_eq!(details.len(), 2);
        assert!(
            details[0].subject.contains("CN=mx.example.net"),
            "{:?}",
            details[0]
        );
        assert!(details[0].subject.contains("O=Example"), "{:?}", details[0]);
        assert_eq!(details[0].san, vec!["mx.example.net", "example.net"]);
        assert_eq!(details[0].sha256.len(), 64);
        assert!(
            details[0]
                .sha256
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(details[1].sha256, FIXED_CERT_SHA256);
    }

    #[test]
    fn names_from_a_certificate_are_made_safe() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(vec!["mx.example.net".to_string()]).unwrap();
        let shouting = format!("\u{1b}[2J\u{1b}]0;owned\u{7}mx{}", "A".repeat(3000));
        params
            .distinguished_name
            .push(DnType::CommonName, shouting.as_str());
        let cert = params.self_signed(&key).unwrap();
        let d = &describe_chain(&[cert.der().clone()])[0];
        for text in [&d.subject, &d.issuer] {
            assert!(!text.chars().any(char::is_control), "{text:?}");
            assert!(text.contains("[2J]0;ownedmxAAA"), "{text:?}");
            assert!(text.chars().count() <= crate::smtp::reply::MAX_LINE_CHARS);
        }
    }

    #[test]
    fn an_unparsable_certificate_gets_an_entry() {
        let junk = CertificateDer::from(b"not a certificate".to_vec());
        let details = describe_chain(&[junk, CertificateDer::from(Vec::new())]);
        assert_eq!(details.len(), 2);
        assert!(
            details[0].subject.contains("unparsable"),
            "{:?}",
            details[0]
        );
        assert_eq!(
            details[0].sha256,
            hex::encode(Sha256::digest(b"not a certificate"))
        );
        assert!(details[0].spki_sha256.is_empty());
    }

    #[test]
    fn webpki_rejects_a_self_signed_certificate_clearly() {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let params = CertificateParams::new(vec!["mx.example.net".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let err =
            webpki_check(&[cert.der().clone()], "mx.example.net", UnixTime::now()).unwrap_err();
        assert!(
            err.contains("not issued by a certificate authority trusted"),
            "{err}"
        );
        assert!(err.contains("self-signed"), "{err}");

        // `openssl req -x509` marks its certificate as a CA (basicConstraints CA:TRUE).
        let err = webpki_check(&[fixed_cert()], "mx.fixed.example", june_2027()).unwrap_err();
        assert!(err.contains("is a CA certificate"), "{err}");
        assert!(err.contains("self-signed"), "{err}");
    }

    #[test]
    fn webpki_rejects_empty_chains_and_bad_names() {
        let err = webpki_check(&[], "mx.example.net", june_2027()).unwrap_err();
        assert!(err.contains("no certificate"), "{err}");
        let err = webpki_check(&[fixed_cert()], "not a host!", june_2027()).unwrap_err();
        assert!(err.contains("not a valid host name"), "{err}");
        let junk = CertificateDer::from(vec![0x30, 0x80]);
        assert!(webpki_check(&[junk], "mx.example.net", june_2027()).is_err());
    }

    #[test]
    fn certificate_info_combines_both() {
        let web = WebPki::standard().unwrap();
        let info = certificate_info(&web, &[fixed_cert()], "mx.fixed.example", june_2027());
        assert_eq!(info.chain.len(), 1);
        assert_eq!(info.chain[0].spki_sha256, FIXED_SPKI_SHA256);
        assert!(!info.webpki_valid);
        assert!(info.webpki_error.is_some());
    }
}
