//! Learning from Postfix's deliveries: each [`Delivered`] read from its log becomes the facts of
//! one endpoint, added to the probe's view of the domain and recorded like a delivery of ours
//! (`source = postfix`), so the one judgement decides what it means: a server that fell below
//! its level is held exactly as if a probe had seen it, and the TLS policy table then defers the
//! domain.
//!
//! What a log line proves, and what it does not:
//! - a TLS session: TLS at that version and cipher; for a host with usable TLSA records, DANE
//!   verified only when Postfix logged `Verified` (at `dane`/`dane-only` it verifies against the
//!   TLSA records, RFC 7672); a `Trusted`/`Untrusted` session to such a host says nothing of
//!   DANE (Postfix did not check, e.g. at `encrypt`), so it is not evidence and not recorded;
//! - a protocol below TLS 1.2: no encryption we count (the protocol notes' rule);
//! - a delivery without a TLS line: mail went to that server in plain text, whether Postfix's
//!   policy or the server chose it (`without TLS`); `TLS is required, but was not offered`: no
//!   STARTTLS; `Cannot start TLS`: a failed handshake;
//! - a relay that is not an MX host of the domain (a transport or relayhost route): nothing of
//!   the domain's servers.
//!
//! The same finding for the same endpoint is recorded at most once per [`REPEAT_INTERVAL`]
//! (a busy Postfix logs thousands of identical deliveries); anything different (a downgrade) is
//! recorded at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use sendguard_common::{CertificateInfo, ObservationSource};

use crate::postfix::maillog::{Delivered, LoggedTls, Seen, Trust};
use crate::probe::facts::{
    DaneOutcome, EndpointOutcome, SessionFacts, TlsFacts, TlsFailureFacts, TlsaFacts,
};
use crate::probe::now_unix;
use crate::tls::TlsVersion;
use crate::verdicts::{Recorded, VerdictError, Verdicts};

/// How long an identical finding is not recorded again.
pub const REPEAT_INTERVAL: Duration = Duration::from_secs(600);

/// How many recent findings are remembered for [`REPEAT_INTERVAL`].
const MAX_RECENT: usize = 10_000;

/// What became of one delivery line.
#[derive(Debug)]
pub enum Learnt {
    /// Recorded as an observation.
    Recorded(Box<Recorded>),
    /// The same was recorded within [`REPEAT_INTERVAL`].
    Repeated,
    /// Not evidence of the server's TLS; why.
    NotEvidence(&'static str),
}

/// Turns Postfix's deliveries into observations. Remembers its recent findings (bounded).
pub struct Learner {
    verdicts: Verdicts,
    recent: HashMap<(String, String, IpAddr), (Seen, Instant)>,
}

impl Learner {
    /// A learner recording through `verdicts`.
    pub fn new(verdicts: Verdicts) -> Self {
        Learner {
            verdicts,
            recent: HashMap::new(),
        }
    }

    /// Records what `d` showed of its server. The domain is probed first (the recent sessions
    /// and DNS answers reused, as a delivery of ours does), so that the record holds the whole
    /// MX set and the TLSA facts the finding is judged with.
    pub async fn learn(&mut self, d: &Delivered) -> Result<Learnt, VerdictError> {
        let key = (d.domain.clone(), d.host.clone(), d.ip);
        if let Some((seen, at)) = self.recent.get(&key)
            && *seen == d.seen
            && at.elapsed() < REPEAT_INTERVAL
        {
            return Ok(Learnt::Repeated);
        }
        let (facts, _) = self.verdicts.probe_recorded(&d.domain, false).await?;
        let Some(index) = facts.host_index(&d.host) else {
            return Ok(Learnt::NotEvidence(
                "the relay is not an MX host of the domain",
            ));
        };
        let Some(host) = facts.host(index) else {
            return Ok(Learnt::NotEvidence(
                "the relay is not an MX host of the domain",
            ));
        };
        let outcome = match endpoint_outcome(&d.seen, &host.tlsa) {
            Ok(outcome) => outcome,
            Err(why) => return Ok(Learnt::NotEvidence(why)),
        };
        let (observed, _) = facts.with_endpoint(index, d.ip, outcome, now_unix());
        let recorded = self
            .verdicts
            .record_observed(&observed, ObservationSource::Postfix)
            .await?;
        self.remember(key, d.seen.clone());
        Ok(Learnt::Recorded(Box::new(recorded)))
    }

    fn remember(&mut self, key: (String, String, IpAddr), seen: Seen) {
        if self.recent.len() >= MAX_RECENT {
            self.recent
                .retain(|_, (_, at)| at.elapsed() < REPEAT_INTERVAL);
            if self.recent.len() >= MAX_RECENT {
                self.recent.clear();
            }
        }
        self.recent.insert(key, (seen, Instant::now()));
    }
}

/// The facts of the endpoint from what Postfix saw, for a host with the TLSA facts `tlsa`; why
/// not, when it proves nothing of the server.
pub fn endpoint_outcome(seen: &Seen, tlsa: &TlsaFacts) -> Result<EndpointOutcome, &'static str> {
    let session = |starttls_offered, tls, tls_failure| {
        EndpointOutcome::Session(SessionFacts {
            starttls_offered,
            ehlo_refused: None,
            tls,
            tls_failure,
        })
    };
    Ok(match seen {
        Seen::Tls(t) => match TlsVersion::from_name(&t.protocol) {
            None => session(
                true,
                None,
                Some(TlsFailureFacts::LegacyOnly(format!(
                    "Postfix delivered over {}",
                    t.protocol
                ))),
            ),
            Some(version) => session(true, Some(tls_facts(t, version, tlsa)?), None),
        },
        // Postfix required TLS and the server offered no STARTTLS.
        Seen::NoStarttls(_) => session(false, None, None),
        // Whether Postfix's policy skipped TLS or the server offered none, the log does not
        // say; either way, mail to this server went in plain text.
        Seen::Plain => session(
            false,
            None,
            Some(TlsFailureFacts::NotUsed(
                "Postfix's log shows a delivery without TLS".into(),
            )),
        ),
        Seen::TlsFailed(text) => session(
            true,
            None,
            Some(TlsFailureFacts::Handshake(format!("Postfix: {text}"))),
        ),
    })
}

fn tls_facts(
    t: &LoggedTls,
    version: TlsVersion,
    tlsa: &TlsaFacts,
) -> Result<TlsFacts, &'static str> {
    let usable = !tlsa.usable().is_empty();
    let dane = if usable {
        if t.trust != Trust::Verified {
            return Err("Postfix did not verify the server's TLSA records");
        }
        DaneOutcome::Matched
    } else if tlsa.makes_tls_mandatory() {
        DaneOutcome::NoUsableRecords
    } else {
        DaneOutcome::NotApplicable
    };
    // Postfix logs no certificate.
    let certificate = CertificateInfo {
        chain: Vec::new(),
        webpki_valid: !usable && t.trust == Trust::Verified,
        webpki_error: (t.trust != Trust::Verified)
            .then(|| format!("Postfix logged a {} TLS connection", trust_word(t.trust))),
    };
    Ok(TlsFacts::logged(
        version,
        &t.cipher,
        t.bits,
        certificate,
        dane,
    ))
}

fn trust_word(t: Trust) -> &'static str {
    match t {
        Trust::Verified => "Verified",
        Trust::Trusted => "Trusted",
        Trust::Untrusted => "Untrusted",
        Trust::Anonymous => "Anonymous",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dane::tlsa::TlsaRecord;

    fn logged(trust: Trust, protocol: &str) -> Seen {
        Seen::Tls(LoggedTls {
            trust,
            protocol: protocol.into(),
            cipher: "ECDHE-RSA-AES256-GCM-SHA384".into(),
            bits: 256,
        })
    }

    fn dane_records() -> TlsaFacts {
        TlsaFacts::Secure(vec![TlsaRecord {
            usage: 3,
            selector: 1,
            matching: 1,
            data: vec![0; 32],
        }])
    }

    fn tls_of(o: EndpointOutcome) -> (SessionFacts, Option<TlsFacts>) {
        let EndpointOutcome::Session(s) = o else {
            panic!("no session: {o:?}")
        };
        let tls = s.tls.clone();
        (s, tls)
    }

    #[test]
    fn tls_without_tlsa_records_is_tls_with_postfix_words() {
        let (_, tls) = tls_of(
            endpoint_outcome(&logged(Trust::Untrusted, "TLSv1.2"), &TlsaFacts::Insecure).unwrap(),
        );
        let tls = tls.unwrap();
        assert_eq!(tls.version, TlsVersion::Tls12);
        assert_eq!(tls.cipher_iana, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
        assert_eq!(tls.bits, 256);
        assert_eq!(tls.dane, DaneOutcome::NotApplicable);
        assert!(!tls.certificate.webpki_valid);
        assert_eq!(
            tls.certificate.webpki_error.as_deref(),
            Some("Postfix logged a Untrusted TLS connection")
        );
        let (_, tls) = tls_of(
            endpoint_outcome(&logged(Trust::Verified, "TLSv1.3"), &TlsaFacts::SecureNone).unwrap(),
        );
        assert!(tls.unwrap().certificate.webpki_valid);
    }

    #[test]
    fn dane_only_when_postfix_verified_the_records() {
        let (_, tls) =
            tls_of(endpoint_outcome(&logged(Trust::Verified, "TLSv1.3"), &dane_records()).unwrap());
        let tls = tls.unwrap();
        assert_eq!(tls.dane, DaneOutcome::Matched);
        assert!(!tls.certificate.webpki_valid, "DANE, not WebPKI");
        for trust in [Trust::Trusted, Trust::Untrusted, Trust::Anonymous] {
            assert!(endpoint_outcome(&logged(trust, "TLSv1.3"), &dane_records()).is_err());
        }
    }

    #[test]
    fn old_protocols_plain_text_and_failures_are_no_tls() {
        let (s, tls) =
            tls_of(endpoint_outcome(&logged(Trust::Trusted, "TLSv1"), &dane_records()).unwrap());
        assert!(tls.is_none());
        assert!(matches!(
            s.tls_failure,
            Some(TlsFailureFacts::LegacyOnly(_))
        ));
        let required = Seen::NoStarttls("TLS is required".into());
        let (s, tls) = tls_of(endpoint_outcome(&required, &TlsaFacts::Insecure).unwrap());
        assert!(!s.starttls_offered && tls.is_none() && s.tls_failure.is_none());
        let (s, tls) = tls_of(endpoint_outcome(&Seen::Plain, &TlsaFacts::Insecure).unwrap());
        assert!(tls.is_none());
        assert!(matches!(s.tls_failure, Some(TlsFailureFacts::NotUsed(_))));
        let failed = Seen::TlsFailed("Cannot start TLS: handshake failure".into());
        let (s, _) = tls_of(endpoint_outcome(&failed, &TlsaFacts::Insecure).unwrap());
        assert!(
            matches!(s.tls_failure, Some(TlsFailureFacts::Handshake(t)) if t.contains("handshake"))
        );
    }
}
