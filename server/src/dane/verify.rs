//! A rustls certificate verifier that authenticates an SMTP server by its TLSA records
//! (RFC 7672 §3) instead of the WebPKI, for delivery over DANE-protected connections.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::{DaneError, DaneMatch, match_chain};
use crate::dane::tlsa::TlsaRecord;
use crate::smtp::AcceptAnyCertificate;

/// Accepts a server's certificate only when [`match_chain`] says the TLSA records matched.
///
/// When the TLSA RRset has no usable record ([`DaneMatch::NoUsableRecords`]) any certificate
/// is accepted: TLS is mandatory but unauthenticated (RFC 7672 §2.2). The handshake
/// signatures are always verified with the ring provider, so the server must hold the key of
/// the certificate it presents. The `server_name` rustls passes is not used: the reference
/// identifiers are the TLSA base domain and next-hop domain given to [`DaneVerifier::new`]
/// (RFC 7672 §3.2.2); the caller sends the TLSA base domain as SNI.
#[derive(Debug)]
pub struct DaneVerifier {
    records: Vec<TlsaRecord>,
    names: Vec<String>,
    /// The handshake-signature checks, shared with the probe's verifier.
    signatures: Arc<AcceptAnyCertificate>,
}

impl DaneVerifier {
    /// A verifier for one MX host: its DNSSEC-secure TLSA `records` and the reference
    /// identifiers `names` (the TLSA base domain, then the next-hop domain).
    pub fn new(records: Vec<TlsaRecord>, names: Vec<String>) -> Arc<DaneVerifier> {
        Arc::new(DaneVerifier {
            records,
            names,
            signatures: AcceptAnyCertificate::new(),
        })
    }
}

impl ServerCertVerifier for DaneVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        crate::tls::check_chain_length(intermediates)?;
        let mut chain = Vec::with_capacity(1 + intermediates.len());
        chain.push(end_entity.clone());
        chain.extend(intermediates.iter().cloned());
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        match match_chain(&self.records, &chain, &names, now) {
            DaneMatch::Matched { .. } | DaneMatch::NoUsableRecords => {
                Ok(ServerCertVerified::assertion())
            }
            DaneMatch::Mismatch(why) | DaneMatch::NameMismatch(why) => {
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                    OtherError(Arc::new(DaneError::Mismatch(why))),
                )))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
}
