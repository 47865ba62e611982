//! One endpoint's facts from an SMTP session with it: what the session showed, independent of
//! the domain that led to it ([`RawEndpoint`], shared between the domains whose MX hosts point
//! at the same address), then judged for one domain: its DANE match against that domain's TLSA
//! records (RFC 7672 §3, RFC 7671 §5) and the certificate described and checked under the
//! WebPKI for the MX host name (RFC 8461 §4.2).

use rustls_pki_types::{CertificateDer, UnixTime};
use serde::{Deserialize, Serialize};

use crate::probe::facts::{
    DaneOutcome, EndpointOutcome, Failure, SessionFacts, TlsFacts, TlsFailureFacts, TlsaFacts,
};
use crate::smtp::{self, TlsFailure};
use crate::tls::certinfo::WebPki;

/// What one SMTP session showed, independent of the domain that led to it. Serialized for the
/// session ledger ([`super::ledger`]); its shape is that ledger's version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawEndpoint {
    Failed(Failure),
    Session {
        starttls_offered: bool,
        ehlo_refused: Option<String>,
        tls: Option<RawTls>,
        tls_failure: Option<TlsFailureFacts>,
    },
}

/// The TLS part of a session, with the chain the server sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct RawTls {
    version: crate::tls::TlsVersion,
    cipher_openssl: String,
    cipher_iana: String,
    bits: u16,
    #[serde(with = "der_base64")]
    chain: Vec<CertificateDer<'static>>,
}

/// A certificate chain as a list of base64 strings (standard alphabet, padded), one per DER
/// certificate, leaf first.
mod der_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use rustls_pki_types::CertificateDer;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        chain: &[CertificateDer<'static>],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(chain.iter().map(|c| STANDARD.encode(c.as_ref())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<CertificateDer<'static>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| {
                STANDARD
                    .decode(text)
                    .map(CertificateDer::from)
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

/// The facts of one endpoint from an SMTP session with it (a probe's or a delivery's), judged
/// for the domain whose MX `host` it is: the DANE match against `tlsa` with the reference
/// identifiers `names` (the TLSA base domain, then the domain), the certificate described.
pub fn endpoint_outcome(
    web: &WebPki,
    session: Result<smtp::ProbeSession, smtp::SmtpError>,
    tlsa: &TlsaFacts,
    names: &[&str],
    host: &str,
) -> EndpointOutcome {
    judge_endpoint(web, raw_endpoint(session), tlsa, names, host)
}

/// What a session showed, independent of the domain that led to it.
pub(super) fn raw_endpoint(session: Result<smtp::ProbeSession, smtp::SmtpError>) -> RawEndpoint {
    match session {
        Err(e) if e.is_temporary() => RawEndpoint::Failed(Failure::Temporary(e.to_string())),
        Err(e) => RawEndpoint::Failed(Failure::Permanent(e.to_string())),
        Ok(s) => RawEndpoint::Session {
            starttls_offered: s.starttls_offered,
            ehlo_refused: s.ehlo_refused,
            tls: s.tls.map(|t| RawTls {
                version: t.version,
                cipher_openssl: t.cipher_openssl,
                cipher_iana: t.cipher_iana,
                bits: t.bits,
                chain: t.peer_chain.into_iter().map(CertificateDer::from).collect(),
            }),
            tls_failure: s.tls_failure.map(|f| match f {
                TlsFailure::ProtocolVersion(d) => TlsFailureFacts::LegacyOnly(d),
                TlsFailure::StarttlsRefused(d) => TlsFailureFacts::Refused(d),
                TlsFailure::Certificate(d) | TlsFailure::Handshake(d) => {
                    TlsFailureFacts::Handshake(d)
                }
                TlsFailure::Timeout => TlsFailureFacts::Timeout,
                TlsFailure::Aborted(d) => TlsFailureFacts::Aborted(d),
            }),
        },
    }
}

/// Turns a raw session into the facts of one endpoint for one domain: the DANE match depends
/// on the domain (the next-hop name), the session itself does not.
pub(super) fn judge_endpoint(
    web: &WebPki,
    raw: RawEndpoint,
    tlsa: &TlsaFacts,
    names: &[&str],
    host: &str,
) -> EndpointOutcome {
    match raw {
        RawEndpoint::Failed(f) => EndpointOutcome::Failed(f),
        RawEndpoint::Session {
            starttls_offered,
            ehlo_refused,
            tls,
            tls_failure,
        } => EndpointOutcome::Session(SessionFacts {
            starttls_offered,
            ehlo_refused,
            tls_failure,
            tls: tls.map(|t| {
                let now = UnixTime::now();
                let dane = match tlsa {
                    TlsaFacts::Secure(records) => {
                        match crate::dane::match_chain(records, &t.chain, names, now) {
                            crate::dane::DaneMatch::Matched { .. } => DaneOutcome::Matched,
                            crate::dane::DaneMatch::Mismatch(why) => DaneOutcome::Mismatch(why),
                            crate::dane::DaneMatch::NameMismatch(why) => {
                                DaneOutcome::NameMismatch(why)
                            }
                            crate::dane::DaneMatch::NoUsableRecords => DaneOutcome::NoUsableRecords,
                        }
                    }
                    _ => DaneOutcome::NotApplicable,
                };
                TlsFacts {
                    certificate: crate::tls::certinfo::certificate_info(web, &t.chain, host, now),
                    version: t.version,
                    cipher_openssl: t.cipher_openssl,
                    cipher_iana: t.cipher_iana,
                    bits: t.bits,
                    dane,
                }
            }),
        }),
    }
}
