//! Certificates for the simulated internet: a private certificate authority, certificates it
//! issues and self-signed certificates, all with ECDSA P-256 keys made by `rcgen` (ring).
//!
//! The certificates follow the X.509 profile of RFC 5280 (CA with `basicConstraints cA=TRUE`
//! and `keyCertSign`; server certificates with subjectAltName DNS names and
//! `extKeyUsage serverAuth`) so that a WebPKI verifier given the simulated CA as its root
//! accepts them, and DANE-TA (usage 2) / DANE-EE (usage 3) records (RFC 7671) can be derived
//! from [`SimCa::cert_der`] and [`Identity::chain`]. RSA keys are not offered: `rcgen` with the
//! ring backend cannot generate them.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// Why a simulated certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// `rcgen` refused the parameters (e.g. a name that is not a valid DNS name) or failed to
    /// generate a key or sign.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A certificate needs at least one DNS name.
    #[error("a certificate needs at least one DNS name")]
    NoNames,
}

/// A certificate chain and its private key, ready for a TLS server
/// (`rustls::ServerConfig::with_single_cert(identity.chain, identity.key)`).
pub struct Identity {
    /// The chain to send, leaf first (then the issuing CA, when it is included).
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key (PKCS#8).
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// The end-entity certificate (first in the chain).
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, even in tests.
        f.debug_struct("Identity")
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// A private certificate authority of the simulated internet.
pub struct SimCa {
    name: String,
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for SimCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCa")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Validity used by default: from a day ago to a year from now, so that clocks that differ a
/// little do not matter and the certificates look like ordinary ones.
fn default_validity() -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (now - Duration::days(1), now + Duration::days(365))
}

/// Parameters of a server (end-entity) certificate for `names`.
fn leaf_params(
    names: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, PkiError> {
    let first = names.first().ok_or(PkiError::NoNames)?;
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, *first);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    Ok(params)
}

/// The PKCS#8 DER form of a key, owned.
fn key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

impl SimCa {
    /// Generates a new CA whose subject common name is `name` (ECDSA P-256, valid from a day
    /// ago for ten years).
    pub fn new(name: &str) -> Result<SimCa, PkiError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Sendguard simulated internet");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key)?;
        Ok(SimCa {
            name: name.to_string(),
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA's subject common name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA certificate (DER): a trust anchor for WebPKI tests or the certificate a
    /// DANE-TA(2) TLSA record names.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    /// Issues a server certificate for the DNS `names` (the first also becomes the subject
    /// common name) with a fresh key, valid from a day ago for a year. With
    /// `include_ca_in_chain` the chain carries the CA certificate after the leaf, as a server
    /// must for DANE-TA(2) (RFC 7671 §5.2.2).
    pub fn issue(&self, names: &[&str], include_ca_in_chain: bool) -> Result<Identity, PkiError> {
        let (not_before, not_after) = default_validity();
        self.issue_valid_between(names, include_ca_in_chain, not_before, not_after)
    }

    /// Like [`SimCa::issue`] with a chosen validity period, e.g. to make an expired certificate.
    pub fn issue_valid_between(
        &self,
        names: &[&str],
        include_ca_in_chain: bool,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Identity, PkiError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let params = leaf_params(names, not_before, not_after)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let mut chain = vec![cert.der().clone()];
        if include_ca_in_chain {
            chain.push(self.cert.clone());
        }
        Ok(Identity {
            chain,
            key: key_der(&key),
        })
    }
}

/// A self-signed server certificate for the DNS `names` with a fresh key, valid from a day
/// ago for a year (the kind of certificate many MX hosts present; fine for DANE-EE(3)).
pub fn self_signed(names: &[&str]) -> Result<Identity, PkiError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let (not_before, not_after) = default_validity();
    let params = leaf_params(names, not_before, not_after)?;
    let cert = params.self_signed(&key)?;
    Ok(Identity {
        chain: vec![cert.der().clone()],
        key: key_der(&key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;
    use std::sync::Arc;
    use x509_parser::prelude::*;

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    #[test]
    fn ca_issued_chain_verifies_under_the_ca_as_root() {
        let ca = SimCa::new("Test CA").expect("ca");
        let id = ca.issue(&["mx1.example.test"], true).expect("issue");
        assert_eq!(id.chain.len(), 2);
        assert_eq!(id.chain[1], ca.cert_der());

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der()).expect("root");
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .expect("verifier");
        let name = rustls_pki_types::ServerName::try_from("mx1.example.test").expect("name");
        verifier
            .verify_server_cert(
                id.leaf(),
                &id.chain[1..],
                &name,
                &[],
                rustls_pki_types::UnixTime::now(),
            )
            .expect("chain should verify");
        let other = rustls_pki_types::ServerName::try_from("other.example.test").expect("name");
        assert!(
            verifier
                .verify_server_cert(
                    id.leaf(),
                    &[],
                    &other,
                    &[],
                    rustls_pki_types::UnixTime::now()
                )
                .is_err()
        );
    }

    #[test]
    fn chain_without_ca_has_only_the_leaf_and_keys_match() {
        let ca = SimCa::new("Test CA").expect("ca");
        let id = ca.issue(&["a.test", "b.test"], false).expect("issue");
        assert_eq!(id.chain.len(), 1);
        let (_, cert) = X509Certificate::from_der(id.leaf()).expect("parse");
        assert_eq!(cert.subject().to_string(), "CN=a.test");
        assert!(cert.issuer().to_string().contains("CN=Test CA"));
        let san = cert
            .subject_alternative_name()
            .expect("ext")
            .expect("present");
        assert_eq!(san.value.general_names.len(), 2);
        // The key belongs to the certificate: rustls checks this when loading it.
        rustls::sign::CertifiedKey::from_der(id.chain.clone(), id.key.clone_key(), &provider())
            .expect("key matches certificate");
    }

    #[test]
    fn self_signed_is_its_own_issuer() {
        let id = self_signed(&["mx.selfsigned.test"]).expect("self-signed");
        let (_, cert) = X509Certificate::from_der(id.leaf()).expect("parse");
        assert_eq!(cert.subject(), cert.issuer());
        let cloned = id.clone();
        assert_eq!(cloned.chain, id.chain);
        assert!(!format!("{id:?}").contains("key:"));
    }

    #[test]
    fn invalid_input_is_an_error_not_a_panic() {
        let ca = SimCa::new("Test CA").expect("ca");
        assert!(matches!(ca.issue(&[], false), Err(PkiError::NoNames)));
        assert!(self_signed(&[]).is_err());
    }
}
