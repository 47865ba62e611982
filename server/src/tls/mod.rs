//! TLS for the SMTP probe (RFC 3207 STARTTLS, RFC 8446 / RFC 5246 handshakes with rustls and
//! the ring provider): the client configuration, a certificate verifier that records instead
//! of judging, names and key sizes of cipher suites, and the classification of handshake
//! failures.
//!
//! Opportunistic SMTP TLS (RFC 7435, RFC 7672 §1.3) accepts any certificate; whether a chain
//! satisfies DANE (RFC 7671) or WebPKI is decided afterwards from the recorded chain. The
//! verifier still checks the handshake signature, so a server that presents someone else's
//! certificate without holding its key fails the handshake.

pub mod certinfo;

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CipherSuite, ClientConfig, DigitallySignedStruct, ProtocolVersion, SignatureScheme};

use crate::smtp::TlsFailure;

/// The crypto provider used by every TLS connection of the probe: ring, chosen explicitly so
/// that no process-wide default matters.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The most certificates a server's chain may have, leaf included. Real chains have two to
/// four; a longer one only costs memory and storage, and a probe refuses it.
pub const MAX_CHAIN: usize = 16;

/// Why a chain was refused before it was judged: longer than [`MAX_CHAIN`].
#[derive(Debug, thiserror::Error)]
#[error("the server sent a chain of {0} certificates, more than the {MAX_CHAIN} we accept")]
pub struct ChainTooLong(pub usize);

/// Refuses a chain of more than [`MAX_CHAIN`] certificates (the leaf and `intermediates`), as
/// every verifier of ours does before it looks at the certificates.
pub fn check_chain_length(intermediates: &[CertificateDer<'_>]) -> Result<(), rustls::Error> {
    let length = intermediates.len() + 1;
    if length > MAX_CHAIN {
        let too_long = rustls::OtherError(Arc::new(ChainTooLong(length)));
        return Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Other(too_long),
        ));
    }
    Ok(())
}

/// A verifier that accepts any certificate chain of at most [`MAX_CHAIN`] certificates but
/// checks the handshake signatures with the ring provider's algorithms, so the server must
/// hold the private key of the leaf it sent.
#[derive(Debug)]
pub struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AcceptAnyCertificate {
    /// A shareable verifier.
    pub fn new() -> Arc<Self> {
        Arc::new(AcceptAnyCertificate {
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        })
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The chain is recorded and judged later (DANE, WebPKI); see the module comment.
        check_chain_length(intermediates)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The client configuration of a probe: ring provider, TLS 1.2 and 1.3 only (the protocol
/// notes: TLS 1.0/1.1 count as "no SSL"), the given verifier, no client certificate and no
/// session resumption (every probe must see the full handshake and the certificate chain).
pub fn client_config(
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    client_config_versions(verifier, false)
}

/// Like [`client_config`], with TLS 1.3 only when `tls13_only` (a secure sender's minimum).
pub fn client_config_versions(
    verifier: Arc<dyn ServerCertVerifier>,
    tls13_only: bool,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let versions: &[&'static rustls::SupportedProtocolVersion] = if tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Names and symmetric key size of one cipher suite.
struct SuiteInfo {
    suite: CipherSuite,
    iana: &'static str,
    openssl: &'static str,
    bits: u16,
}

/// Every suite the rustls ring provider implements (`rustls::crypto::ring::ALL_CIPHER_SUITES`),
/// with its IANA name (RFC 8446 §B.4, RFC 5289, RFC 7905) and OpenSSL name.
const SUITES: &[SuiteInfo] = &[
    SuiteInfo {
        suite: CipherSuite::TLS13_AES_128_GCM_SHA256,
        iana: "TLS_AES_128_GCM_SHA256",
        openssl: "TLS_AES_128_GCM_SHA256",
        bits: 128,
    },
    SuiteInfo {
        suite: CipherSuite::TLS13_AES_256_GCM_SHA384,
        iana: "TLS_AES_256_GCM_SHA384",
        openssl: "TLS_AES_256_GCM_SHA384",
        bits: 256,
    },
    SuiteInfo {
        suite: CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        iana: "TLS_CHACHA20_POLY1305_SHA256",
        openssl: "TLS_CHACHA20_POLY1305_SHA256",
        bits: 256,
    },
    SuiteInfo {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        iana: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        openssl: "ECDHE-ECDSA-AES128-GCM-SHA256",
        bits: 128,
    },
    SuiteInfo {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        iana: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        openssl: "ECDHE-ECDSA-AES256-GCM-SHA384",
        bits: 256,
    },
    SuiteInfo {
        suite: CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        iana: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        openssl: "ECDHE-ECDSA-CHACHA20-POLY1305",
        bits: 256,
    },
    SuiteInfo {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        iana: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        openssl: "ECDHE-RSA-AES128-GCM-SHA256",
        bits: 128,
    },
    SuiteInfo {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        iana: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        openssl: "ECDHE-RSA-AES256-GCM-SHA384",
        bits: 256,
    },
    SuiteInfo {
        suite: CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        iana: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        openssl: "ECDHE-RSA-CHACHA20-POLY1305",
        bits: 256,
    },
];

fn suite_info(suite: CipherSuite) -> Option<&'static SuiteInfo> {
    SUITES.iter().find(|s| s.suite == suite)
}

/// The OpenSSL name of a cipher suite (TLS 1.3 suites keep their IANA name in OpenSSL), or
/// `None` for a suite the ring provider does not implement.
pub fn openssl_cipher_name(suite: CipherSuite) -> Option<&'static str> {
    suite_info(suite).map(|s| s.openssl)
}

/// The IANA name of a cipher suite, or `None` for a suite the ring provider does not
/// implement. (rustls' own `Debug` names TLS 1.3 suites `TLS13_...`.)
pub fn iana_cipher_name(suite: CipherSuite) -> Option<&'static str> {
    suite_info(suite).map(|s| s.iana)
}

/// The IANA name of the suite OpenSSL calls `openssl` (as Postfix logs it), when it is one the
/// ring provider implements.
pub fn iana_for_openssl(openssl: &str) -> Option<&'static str> {
    SUITES.iter().find(|s| s.openssl == openssl).map(|s| s.iana)
}

/// The symmetric key size of a cipher suite in bits (128 or 256), or `None` for a suite the
/// ring provider does not implement.
pub fn cipher_bits(suite: CipherSuite) -> Option<u16> {
    suite_info(suite).map(|s| s.bits)
}

/// A TLS version we negotiate: rustls speaks only TLS 1.2 (RFC 5246) and 1.3 (RFC 8446); an
/// older version offered by a server counts as no encryption (protocol notes, "no SSL").
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[serde(rename = "TLSv1.2")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

impl TlsVersion {
    /// The version rustls negotiated, when it is one we speak.
    pub fn from_rustls(version: ProtocolVersion) -> Option<TlsVersion> {
        match version {
            ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            _ => None,
        }
    }

    /// The version from its conventional name ([`TlsVersion::name`]), as stored and shown.
    pub fn from_name(name: &str) -> Option<TlsVersion> {
        match name {
            "TLSv1.2" => Some(TlsVersion::Tls12),
            "TLSv1.3" => Some(TlsVersion::Tls13),
            _ => None,
        }
    }

    /// The conventional name, `TLSv1.2` or `TLSv1.3`.
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }
}

/// Classifies a rustls error from a failed client handshake.
///
/// - The server offers only protocol versions we refuse (it selected TLS 1.0/1.1 or sent a
///   `protocol_version` alert, RFC 8446 §6.2): [`TlsFailure::ProtocolVersion`].
/// - The verifier rejected the certificate, or the handshake signature did not verify with the
///   certificate's key: [`TlsFailure::Certificate`].
/// - The server went beyond our limits (a handshake message over 64 KiB, which rustls refuses,
///   or a chain of more than [`MAX_CHAIN`] certificates): [`TlsFailure::Aborted`], since that
///   says nothing about the TLS it offers.
/// - Anything else (no common cipher suite, decode errors, other alerts):
///   [`TlsFailure::Handshake`].
pub fn classify_rustls_error(err: &rustls::Error) -> TlsFailure {
    use rustls::{AlertDescription, CertificateError, Error, InvalidMessage, PeerIncompatible};
    match err {
        Error::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge) => {
            TlsFailure::Aborted("a handshake message (the certificate chain) exceeds 64 KiB".into())
        }
        Error::InvalidCertificate(CertificateError::Other(other))
            if other.0.downcast_ref::<ChainTooLong>().is_some() =>
        {
            TlsFailure::Aborted(other.0.to_string())
        }
        Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::SupportedVersionsExtensionRequired,
        )
        | Error::AlertReceived(AlertDescription::ProtocolVersion) => {
            TlsFailure::ProtocolVersion(err.to_string())
        }
        Error::InvalidCertificate(_) | Error::NoCertificatesPresented => {
            TlsFailure::Certificate(err.to_string())
        }
        _ => TlsFailure::Handshake(err.to_string()),
    }
}

/// Classifies an I/O error from a failed handshake: rustls errors travel inside
/// `std::io::Error` (kind `InvalidData`); everything else is a transport failure during the
/// handshake (reset, closed connection), reported as [`TlsFailure::Aborted`]: a connection
/// lost half-way says nothing about the TLS the server offers.
pub fn classify_handshake_error(err: &std::io::Error) -> TlsFailure {
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => classify_rustls_error(tls),
        None => TlsFailure::Aborted(format!("connection lost during the TLS handshake: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ring_suite_has_names_and_bits() {
        for suite in rustls::crypto::ring::ALL_CIPHER_SUITES {
            let s = suite.suite();
            assert!(
                openssl_cipher_name(s).is_some(),
                "{s:?} has no OpenSSL name"
            );
            assert!(iana_cipher_name(s).is_some(), "{s:?} has no IANA name");
            assert!(matches!(cipher_bits(s), Some(128 | 256)), "{s:?} bits");
        }
        assert_eq!(SUITES.len(), rustls::crypto::ring::ALL_CIPHER_SUITES.len());
    }

    #[test]
    fn names_follow_openssl_and_iana() {
        let s = CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
        assert_eq!(openssl_cipher_name(s), Some("ECDHE-RSA-AES128-GCM-SHA256"));
        assert_eq!(
            iana_cipher_name(s),
            Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
        );
        assert_eq!(cipher_bits(s), Some(128));
        let s = CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256;
        assert_eq!(
            openssl_cipher_name(s),
            Some("ECDHE-ECDSA-CHACHA20-POLY1305")
        );
        assert_eq!(cipher_bits(s), Some(256));
        let s = CipherSuite::TLS13_AES_256_GCM_SHA384;
        assert_eq!(openssl_cipher_name(s), Some("TLS_AES_256_GCM_SHA384"));
        assert_eq!(iana_cipher_name(s), Some("TLS_AES_256_GCM_SHA384"));
        assert_eq!(cipher_bits(s), Some(256));
        assert_eq!(
            openssl_cipher_name(CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA),
            None
        );
    }

    #[test]
    fn version_names() {
        assert_eq!(
            TlsVersion::from_rustls(ProtocolVersion::TLSv1_2).map(TlsVersion::name),
            Some("TLSv1.2")
        );
        assert_eq!(
            TlsVersion::from_rustls(ProtocolVersion::TLSv1_3).map(TlsVersion::name),
            Some("TLSv1.3")
        );
        for v in [TlsVersion::Tls12, TlsVersion::Tls13] {
            assert_eq!(TlsVersion::from_name(v.name()), Some(v));
        }
        assert_eq!(TlsVersion::from_rustls(ProtocolVersion::TLSv1_0), None);
        assert!(TlsVersion::Tls12 < TlsVersion::Tls13);
    }

    #[test]
    fn old_protocol_versions_map_to_protocol_version_failures() {
        use rustls::{AlertDescription, Error, PeerIncompatible};
        // What rustls reports when a server answers our ClientHello with TLS 1.0/1.1.
        let selected_old = Error::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13);
        assert!(matches!(
            classify_rustls_error(&selected_old),
            TlsFailure::ProtocolVersion(_)
        ));
        // What a server that only speaks TLS 1.0/1.1 sends instead of a ServerHello.
        let alert = Error::AlertReceived(AlertDescription::ProtocolVersion);
        assert!(matches!(
            classify_rustls_error(&alert),
            TlsFailure::ProtocolVersion(_)
        ));
        // The same errors as tokio-rustls delivers them: inside an io::Error.
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, selected_old);
        assert!(matches!(
            classify_handshake_error(&io),
            TlsFailure::ProtocolVersion(_)
        ));
    }

    #[test]
    fn other_failures_are_classified() {
        use rustls::{AlertDescription, CertificateError, Error, PeerIncompatible};
        assert!(matches!(
            classify_rustls_error(&Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            TlsFailure::Certificate(_)
        ));
        assert!(matches!(
            classify_rustls_error(&Error::InvalidCertificate(CertificateError::BadSignature)),
            TlsFailure::Certificate(_)
        ));
        assert!(matches!(
            classify_rustls_error(&Error::AlertReceived(AlertDescription::HandshakeFailure)),
            TlsFailure::Handshake(_)
        ));
        assert!(matches!(
            classify_rustls_error(&Error::PeerIncompatible(
                PeerIncompatible::NoCipherSuitesInCommon
            )),
            TlsFailure::Handshake(_)
        ));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(matches!(
            classify_handshake_error(&reset),
            TlsFailure::Aborted(_)
        ));
        let big = Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge);
        assert!(matches!(
            classify_rustls_error(&big),
            TlsFailure::Aborted(_)
        ));
        let long = Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
            std::sync::Arc::new(ChainTooLong(200)),
        )));
        match classify_rustls_error(&long) {
            TlsFailure::Aborted(why) => assert!(why.contains("200 certificates"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
