//! Relay mode (`--relay HOST:PORT`): the worker hands every message to the operator's Postfix
//! (its submission service, RFC 6409) instead of delivering to the recipients' MX hosts, and
//! Postfix enforces what Sendguard learned through its TLS policy table
//! ([`crate::postfix::tls_policy`]).
//!
//! What the badges promise is still kept before the hand-off: each recipient's domain is probed
//! (recent sessions reused) and its plan read from the one judgement as for a direct delivery
//! ([`crate::verdicts::Recorded::plan`]); a recipient whose plan is Hold stays held, one whose
//! plan is Fail fails, every other one is relayed. Per message, one transaction with all its
//! relayed recipients (RFC 5321 §3.3), up to [`MAX_TRANSACTIONS_PER_SESSION`] per session.
//! The session is [`smtp::relay`]: STARTTLS required, the relay's certificate checked against
//! its name by the WebPKI roots or the operator's CA (`--relay-ca`), AUTH PLAIN over TLS when an
//! account is given; without TLS nothing after EHLO is sent. Replies map as for a direct
//! delivery: 2yz sent (with "relayed to HOST"), 4yz and broken sessions deferred by the retry
//! schedule (RFC 5321 §4.5.4.1), 5yz failed. A relay's session is not an observation of any
//! recipient's server and is not recorded as one.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use crate::policy::DomainPlan;
use crate::smtp::{self, Credentials, Envelope, MAX_TRANSACTIONS_PER_SESSION, RelayTls};
use crate::store::queue::{Attempt, DomainBatch, QueuedMessage, QueuedRecipient, SentVia};
use crate::verdicts::Recorded;

use super::attempt::{Deliverer, Outcome, Pending};

/// The operator's relay: where it is, how its certificate is checked, the account.
#[derive(Clone, Debug)]
pub struct Relay {
    host: String,
    port: u16,
    tls: RelayTls,
}

/// Why relay mode cannot be set up. All permanent: the configuration must change.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The host is not a name (or address) a certificate can be checked against.
    #[error("the relay {0:?} is not a valid host name or address")]
    Name(String),
    /// The CA file could not be read or parsed.
    #[error("cannot read the relay's CA file {path}: {detail}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The CA file holds no certificate.
    #[error("the relay's CA file {0} holds no certificate")]
    NoCertificate(PathBuf),
    /// The verifier could not be built from the roots.
    #[error("the relay's certificate verifier: {0}")]
    Verifier(String),
}

impl Relay {
    /// The relay at `host:port`, its certificate checked against `host` by the certificates
    /// in the PEM file `ca` or, without one, by the WebPKI roots; AUTH PLAIN as `credentials`.
    pub fn new(
        host: &str,
        port: u16,
        ca: Option<&Path>,
        credentials: Option<Credentials>,
    ) -> Result<Relay, RelayError> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        ServerName::try_from(host.clone()).map_err(|_| RelayError::Name(host.clone()))?;
        let mut roots = RootCertStore::empty();
        match ca {
            Some(path) => {
                let ca_error = |detail: String| RelayError::CaFile {
                    path: path.to_path_buf(),
                    detail,
                };
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| ca_error(e.to_string()))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| ca_error(e.to_string()))?;
                if certs.is_empty() {
                    return Err(RelayError::NoCertificate(path.to_path_buf()));
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), crate::tls::provider())
                .build()
                .map_err(|e| RelayError::Verifier(e.to_string()))?;
        Ok(Relay {
            tls: RelayTls {
                name: host.clone(),
                verifier,
                credentials,
            },
            host,
            port,
        })
    }

    /// The relay's host name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// How a message handed over in `session` with the relay at `ip` went: the relay named, the
    /// hop's TLS, its certificate checked (there is no session with the relay otherwise).
    fn via(&self, ip: IpAddr, session: &smtp::ProbeSession) -> SentVia {
        let tls = session.tls.as_ref();
        SentVia {
            mx_host: self.host.clone(),
            ip,
            tls_version: tls.map(|t| t.version),
            cipher: tls.map(|t| t.cipher_iana.clone()),
            dane: None,
            verified: tls.is_some(),
            relayed: true,
        }
    }
}

/// A message with the recipients that are to be relayed.
struct Chosen {
    recipients: Vec<QueuedRecipient>,
    message: QueuedMessage,
    raw: Vec<u8>,
}

impl Deliverer {
    /// One attempt for the claimed `batches` through `relay`: each domain probed (at most
    /// `concurrent` at once) and planned, held and failed recipients finished, the others
    /// relayed, one transaction per message.
    pub(super) async fn relay_batches(
        &self,
        relay: &Relay,
        batches: Vec<DomainBatch>,
        concurrent: usize,
    ) {
        let probed: Vec<(DomainBatch, Option<Recorded>)> = futures::stream::iter(batches)
            .map(|batch| async move {
                match self.verdicts.probe_recorded(&batch.domain, false).await {
                    Ok((_, recorded)) => (batch, Some(recorded)),
                    Err(e) => {
                        self.unprobed(&batch.domain, &e, &batch.recipients).await;
                        (batch, None)
                    }
                }
            })
            .buffer_unordered(concurrent.max(1))
            .collect()
            .await;
        let mut plans: HashMap<String, Recorded> = HashMap::new();
        let mut by_message: BTreeMap<i64, Vec<QueuedRecipient>> = BTreeMap::new();
        for (batch, recorded) in probed {
            let Some(recorded) = recorded else { continue };
            plans.insert(batch.domain.clone(), recorded);
            for r in batch.recipients {
                by_message.entry(r.message).or_default().push(r);
            }
        }
        let mut chosen = Vec::new();
        for recipients in by_message.values_mut() {
            // RCPT TO in the order the sender gave them (ids follow the positions).
            recipients.sort_by_key(|r| r.id);
            let recipients = &*recipients;
            if let Some(c) = self.choose(&plans, recipients).await {
                chosen.push(c);
            }
        }
        let (sets, messages): (Vec<_>, Vec<_>) = chosen
            .into_iter()
            .map(|c| (c.recipients, (c.message, c.raw)))
            .unzip();
        let pending: Vec<Pending<'_>> = sets
            .iter()
            .zip(messages)
            .map(|(recipients, (message, raw))| Pending {
                recipients,
                addresses: recipients.iter().map(|r| r.address.clone()).collect(),
                message,
                raw,
                secure: None,
                done: AtomicBool::new(false),
            })
            .collect();
        for batch in pending.chunks(MAX_TRANSACTIONS_PER_SESSION) {
            if self.stopping.load(Ordering::SeqCst) {
                tracing::info!(left = batch.len(), "stopping: not relayed");
                return;
            }
            self.relay_session(relay, batch).await;
        }
    }

    /// The recipients of one message that are to be relayed; the others (held, failed by
    /// their domain's plan) finished. `None` when none is left or the message cannot be read.
    async fn choose(
        &self,
        plans: &HashMap<String, Recorded>,
        recipients: &[QueuedRecipient],
    ) -> Option<Chosen> {
        let p = self.load(recipients).await?;
        let mut relayed = Vec::new();
        for r in recipients {
            let plan = plans.get(&r.domain).map(|recorded| recorded.plan(p.secure));
            match plan {
                Some(DomainPlan::Hold(reason)) => self.finish(r, Attempt::Held { reason }).await,
                Some(DomainPlan::Fail(reason)) => self.finish(r, Attempt::Failed { reason }).await,
                _ => relayed.push(r.clone()),
            }
        }
        (!relayed.is_empty()).then_some(Chosen {
            recipients: relayed,
            message: p.message,
            raw: p.raw,
        })
    }

    /// One session with the relay (its addresses in turn) for `batch`; every recipient
    /// finished.
    async fn relay_session(&self, relay: &Relay, batch: &[Pending<'_>]) {
        let mut why = Vec::new();
        let mut outcome = None;
        match tokio::net::lookup_host((relay.host.as_str(), relay.port)).await {
            Err(e) => why.push(format!("relay {}: its address is unknown: {e}", relay.host)),
            Ok(addrs) => {
                for addr in addrs {
                    match self.relay_to(relay, addr, batch).await {
                        Ok(done) => {
                            outcome = Some(done);
                            break;
                        }
                        Err(reason) => why.push(reason),
                    }
                }
            }
        }
        let outcome = outcome.unwrap_or_else(|| {
            if why.is_empty() {
                why.push(format!("relay {}: no address", relay.host));
            }
            Outcome::Deferred(why.join("; "))
        });
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        for (i, p) in batch.iter().enumerate() {
            if p.done.load(Ordering::SeqCst) {
                continue;
            }
            for (r, attempt) in p
                .recipients
                .iter()
                .zip(self.attempts_of(p, outcome.clone(), i))
            {
                self.finish(r, attempt).await;
            }
        }
    }

    /// The session with the relay at `addr`; each finished transaction recorded before the
    /// next message is sent. `Err`: why no transaction ran (try the next address).
    async fn relay_to(
        &self,
        relay: &Relay,
        addr: SocketAddr,
        batch: &[Pending<'_>],
    ) -> Result<Outcome, String> {
        let envelopes: Vec<Envelope<'_>> = batch.iter().map(Pending::envelope).collect();
        let (report, mut finished) = tokio::sync::mpsc::channel::<smtp::Finished>(1);
        let session = async {
            let delivery = smtp::relay(addr, &relay.tls, &envelopes, &self.smtp, Some(&report));
            let delivery = delivery.await;
            drop(report);
            delivery
        };
        let recorder = self.record_transactions(batch, &mut finished, |s| relay.via(addr.ip(), s));
        let (delivery, ()) = tokio::join!(session, recorder);
        let host = &relay.host;
        match delivery {
            Err(e) => Err(format!("relay {host} ({addr}): {e}")),
            Ok(d) => match d.replies {
                Some(replies) => Ok(Outcome::Replies(replies, relay.via(addr.ip(), &d.session))),
                None => Err(format!("relay {host} ({addr}): {}", no_tls(&d.session))),
            },
        }
    }
}

/// Why a session with the relay ran no transaction: no TLS.
fn no_tls(session: &smtp::ProbeSession) -> String {
    match &session.tls_failure {
        Some(failure) => format!(
            "TLS could not be established ({failure}); nothing was sent (no AUTH, no MAIL FROM)"
        ),
        None => "the relay does not offer STARTTLS; nothing was sent (no AUTH, no MAIL FROM)"
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_that_cannot_be_checked_is_refused_at_start() {
        let err = Relay::new("not a name!", 587, None, None).unwrap_err();
        assert!(matches!(err, RelayError::Name(_)), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = Relay::new("relay.example", 587, Some(&missing), None).unwrap_err();
        assert!(matches!(err, RelayError::CaFile { .. }), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let err = Relay::new("relay.example", 587, Some(&empty), None).unwrap_err();
        assert!(matches!(err, RelayError::NoCertificate(_)), "{err}");
        let relay = Relay::new("Relay.Example.", 587, None, None).unwrap();
        assert_eq!(relay.host(), "relay.example");
    }
}
