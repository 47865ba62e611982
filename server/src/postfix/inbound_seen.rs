//! What inbound connections show of the servers that send to us: each SMTPD_POLICY_README
//! request carries the client's name and address and the connection's TLS
//! (`encryption_protocol`, `encryption_cipher`, `encryption_keysize`; empty without STARTTLS).
//! One observation per message (the request's `instance`) of the sending server is recorded
//! with `source = inbound`, judged by the same policy as every other ([`crate::policy::judge`]).
//!
//! Recorded as history only: a server's TLS as a client says nothing of what it offers as a
//! receiving MX, so inbound observations raise no floor and no hold (they sit under a probe row
//! with no recipient domain and no MX outcome, which no verdict reads). Recording never delays
//! an answer: requests are handed to a background task through a bounded channel, and dropped
//! (counted in the log) when it is full.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use sendguard_common::DnssecStatus;
use tokio::sync::mpsc;

use crate::policy;
use crate::probe::facts::{
    DaneOutcome, DomainFacts, EndpointFacts, EndpointOutcome, HostFacts, MxFacts, SessionFacts,
    TlsFacts, TlsFailureFacts, TlsaFacts,
};
use crate::probe::now_unix;
use crate::store::Store;
use crate::tls::TlsVersion;

/// Requests waiting to be recorded, at most.
const QUEUE: usize = 1024;
/// Messages (`instance`s) remembered so that one is recorded once, at most.
const RECENT: usize = 4096;

/// What one inbound connection showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundSeen {
    /// Postfix's `instance`: one per message.
    pub instance: String,
    /// The client's verified name, or its address when it has none (`unknown`).
    pub host: String,
    /// The client's address.
    pub ip: IpAddr,
    /// `TLSv1.3`, ..., or `None` without TLS.
    pub protocol: Option<String>,
    /// The OpenSSL cipher name.
    pub cipher: String,
    /// The symmetric key bits.
    pub bits: u16,
}

impl InboundSeen {
    /// The connection of one request; `None` when it names no client address.
    pub fn of(attrs: &HashMap<String, String>) -> Option<InboundSeen> {
        let get = |k: &str| attrs.get(k).map(String::as_str).unwrap_or("");
        let ip: IpAddr = get("client_address").parse().ok()?;
        let name = get("client_name");
        let host = if name.is_empty() || name == "unknown" {
            ip.to_string()
        } else {
            name.trim_end_matches('.').to_ascii_lowercase()
        };
        let protocol = Some(get("encryption_protocol"))
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        Some(InboundSeen {
            instance: get("instance").to_string(),
            host,
            ip,
            protocol,
            cipher: get("encryption_cipher").to_string(),
            bits: get("encryption_keysize").parse().unwrap_or(0),
        })
    }

    /// The facts: one host, one address, its session as the client used it.
    pub fn facts(&self) -> DomainFacts {
        let session = match (
            &self.protocol,
            self.protocol.as_deref().and_then(TlsVersion::from_name),
        ) {
            (None, _) => SessionFacts {
                starttls_offered: true,
                ehlo_refused: None,
                tls: None,
                tls_failure: Some(TlsFailureFacts::NotUsed(
                    "the sending server did not use STARTTLS".into(),
                )),
            },
            (Some(p), None) => SessionFacts {
                starttls_offered: true,
                ehlo_refused: None,
                tls: None,
                tls_failure: Some(TlsFailureFacts::LegacyOnly(format!("the client used {p}"))),
            },
            (Some(_), Some(version)) => SessionFacts {
                starttls_offered: true,
                ehlo_refused: None,
                tls: Some(TlsFacts::logged(
                    version,
                    &self.cipher,
                    self.bits,
                    sendguard_common::CertificateInfo {
                        chain: Vec::new(),
                        webpki_valid: false,
                        webpki_error: Some("a client's certificate is not asked for".into()),
                    },
                    DaneOutcome::NotApplicable,
                )),
                tls_failure: None,
            },
        };
        DomainFacts {
            domain: String::new(),
            checked_at: now_unix(),
            mx: MxFacts::Hosts {
                dnssec: DnssecStatus::Indeterminate,
                implicit: false,
                hosts: vec![HostFacts {
                    host: self.host.clone(),
                    preference: 0,
                    address_dnssec: DnssecStatus::Indeterminate,
                    tlsa: TlsaFacts::NotLookedUp,
                    address_error: None,
                    not_probed: None,
                    endpoints: vec![EndpointFacts {
                        ip: self.ip,
                        outcome: EndpointOutcome::Session(session),
                    }],
                }],
            },
            mta_sts: crate::mta_sts::StsFacts::NotChecked,
        }
    }
}

/// Hands inbound connections to the background task that records them. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<InboundSeen>,
}

impl Recorder {
    /// Starts the task recording into `store`.
    pub fn spawn(store: Store) -> Recorder {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(record_all(rx, store));
        Recorder { tx }
    }

    /// Offers one request's connection; never waits.
    pub fn offer(&self, attrs: &HashMap<String, String>) {
        let Some(seen) = InboundSeen::of(attrs) else {
            return;
        };
        if self.tx.try_send(seen).is_err() {
            tracing::warn!("inbound observations: the queue is full, one is not recorded");
        }
    }
}

async fn record_all(mut rx: mpsc::Receiver<InboundSeen>, store: Store) {
    let mut recent: HashSet<String> = HashSet::new();
    let mut order: VecDeque<String> = VecDeque::new();
    while let Some(seen) = rx.recv().await {
        if !seen.instance.is_empty() {
            if !recent.insert(seen.instance.clone()) {
                continue;
            }
            order.push_back(seen.instance.clone());
            if order.len() > RECENT
                && let Some(old) = order.pop_front()
            {
                recent.remove(&old);
            }
        }
        let judgement = policy::judge(&seen.facts());
        if let Err(e) = store.record_inbound(&judgement).await {
            tracing::warn!(host = %seen.host, error = %e, "cannot record an inbound connection");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Level;

    fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_connection_is_judged_by_its_tls() {
        let tls = attrs(&[
            ("instance", "1a.2b"),
            ("client_name", "Out.Sender.Example."),
            ("client_address", "192.0.2.4"),
            ("encryption_protocol", "TLSv1.3"),
            ("encryption_cipher", "TLS_AES_256_GCM_SHA384"),
            ("encryption_keysize", "256"),
        ]);
        let seen = InboundSeen::of(&tls).unwrap();
        assert_eq!(seen.host, "out.sender.example");
        let j = policy::judge(&seen.facts());
        let e = &j.hosts[0].endpoints[0];
        assert_eq!(e.level, Some(Level::Tls));
        assert_eq!(e.tls.as_ref().unwrap().bits, 256);

        let plain = attrs(&[("client_name", "unknown"), ("client_address", "192.0.2.5")]);
        let seen = InboundSeen::of(&plain).unwrap();
        assert_eq!(seen.host, "192.0.2.5", "no verified name: the address");
        let j = policy::judge(&seen.facts());
        assert_eq!(j.hosts[0].endpoints[0].level, Some(Level::Plain));

        let old = attrs(&[
            ("client_address", "192.0.2.6"),
            ("encryption_protocol", "TLSv1"),
        ]);
        let j = policy::judge(&InboundSeen::of(&old).unwrap().facts());
        assert_eq!(
            j.hosts[0].endpoints[0].level,
            Some(Level::Plain),
            "below TLS 1.2"
        );

        assert_eq!(
            InboundSeen::of(&attrs(&[("client_address", "nonsense")])),
            None
        );
    }
}
