//! The association data of the TLSA records the simulated internet publishes (RFC 6698 §2.1):
//! always matching type 1, the SHA-256 digest, of the whole certificate (selector 0) or of its
//! SubjectPublicKeyInfo (selector 1). The prober's own matching lives in the server; this is
//! the publishing side, kept separate so that the sim does not depend on the server.

use sha2::{Digest, Sha256};

/// Why association data could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum TlsaError {
    /// Only selectors 0 (full certificate) and 1 (SubjectPublicKeyInfo) exist.
    #[error("unknown TLSA selector {0}")]
    UnknownSelector(u8),
    /// The certificate could not be parsed (selector 1 needs its public key).
    #[error("unparsable certificate: {0}")]
    BadCertificate(String),
}

/// The SHA-256 (matching type 1) of the DER certificate (selector 0) or of its DER
/// SubjectPublicKeyInfo (selector 1).
pub fn sha256_association(cert_der: &[u8], selector: u8) -> Result<[u8; 32], TlsaError> {
    let digest = match selector {
        0 => Sha256::digest(cert_der),
        1 => Sha256::digest(&spki_der(cert_der)?),
        other => return Err(TlsaError::UnknownSelector(other)),
    };
    Ok(digest.into())
}

/// A TLSA record's data in presentation form, e.g. `3 1 1 <hex>` (matching type 1).
pub fn record(usage: u8, selector: u8, cert_der: &[u8]) -> Result<String, TlsaError> {
    let data = sha256_association(cert_der, selector)?;
    Ok(format!("{usage} {selector} 1 {}", hex::encode(data)))
}

/// The DER SubjectPublicKeyInfo of a certificate.
fn spki_der(cert_der: &[u8]) -> Result<Vec<u8>, TlsaError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| TlsaError::BadCertificate(e.to_string()))?;
    if !rest.is_empty() {
        return Err(TlsaError::BadCertificate(
            "trailing data after the certificate".into(),
        ));
    }
    Ok(cert.public_key().raw.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server's fixed test certificate, with digests made by the openssl CLI (see
    /// server/src/dane/tests.rs for the commands).
    const FIXED_PEM: &str = include_str!("../../server/tests/data/dane-ee.pem");
    const FIXED_CERT_SHA256: &str =
        "cef6de6e5217484bd51f9754f00bf337f0bcf6d7c9f0380465891289dba67b22";
    const FIXED_SPKI_SHA256: &str =
        "c49c39e5dfac3e50d5b7ac0324533eb0427ca51ede5e9a50646bdf22143b270d";

    fn fixed_cert() -> Vec<u8> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(FIXED_PEM.as_bytes())
            .expect("test PEM")
            .to_vec()
    }

    #[test]
    fn digests_match_the_openssl_vectors() {
        let cert = fixed_cert();
        assert_eq!(
            hex::encode(sha256_association(&cert, 0).unwrap()),
            FIXED_CERT_SHA256
        );
        assert_eq!(
            record(3, 1, &cert).unwrap(),
            format!("3 1 1 {FIXED_SPKI_SHA256}")
        );
    }

    #[test]
    fn unknown_selectors_and_garbage_are_errors() {
        let cert = fixed_cert();
        assert!(matches!(
            sha256_association(&cert, 2),
            Err(TlsaError::UnknownSelector(2))
        ));
        assert!(matches!(
            sha256_association(b"not a certificate", 1),
            Err(TlsaError::BadCertificate(_))
        ));
        let mut trailing = cert.clone();
        trailing.push(0);
        assert!(sha256_association(&trailing, 1).is_err());
    }
}
