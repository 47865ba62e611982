//! One delivery attempt for the claimed recipients of one domain: the domain is probed (recent
//! sessions reused) and recorded, and the plan read from that judgement ([`policy::plan`]): hold,
//! defer, fail, or the MX hosts in preference order, each with its enforcement. Per message, one
//! SMTP transaction per host for all its recipients at the domain ([`smtp::deliver`]); the
//! session is judged by the same policy before MAIL FROM ([`policy::permits`]) and recorded as an
//! observation (`source = delivery`), so a downgrade seen while delivering raises a hold at once
//! and the message waits (RFC 5321 §5.1 for the MX order, §4.5.4.1 for retries).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sendguard_common::{ObservationSource, SecureMode, TransportRequirement, secure};

use crate::metrics;
use crate::policy::{self, DomainPlan, Enforcement, HostPlan};
use crate::probe::facts::DomainFacts;
use crate::probe::{ProbeError, now_unix};
use crate::smtp::{
    self, DeliveryTls, Envelope, MAX_TRANSACTIONS_PER_SESSION, RecipientReply, SmtpConfig,
    TlsDemand,
};
use crate::store::Store;
use crate::store::queue::{Attempt, QueuedMessage, QueuedRecipient, SentVia};
use crate::verdicts::{Recorded, VerdictError, Verdicts};

use super::judged::{judged, sent_via, via_of, with_session};
use super::relay::Relay;
use super::retry::{Retry, RetrySchedule, in_words};

/// Delivers claimed recipients. Cheap to clone.
#[derive(Clone)]
pub struct Deliverer {
    pub(super) verdicts: Verdicts,
    pub(super) smtp: Arc<SmtpConfig>,
    schedule: Arc<RetrySchedule>,
    /// Set when the process stops: no new session is started.
    pub(super) stopping: Arc<AtomicBool>,
    /// Relay mode: every message goes to the operator's relay ([`super::relay`]).
    pub(super) relay: Option<Arc<Relay>>,
    /// Sessions are counted for TLS reports ([`super::reported`]).
    pub(super) tls_reporting: bool,
}

/// The judgement a delivery plans with, and the facts it was made of.
struct Known {
    facts: Arc<DomainFacts>,
    recorded: Recorded,
}

impl Deliverer {
    /// A deliverer that probes and records through `verdicts`, talks SMTP with `smtp` and
    /// retries by `schedule`.
    pub fn new(verdicts: Verdicts, smtp: SmtpConfig, schedule: RetrySchedule) -> Self {
        Deliverer {
            verdicts,
            smtp: Arc::new(smtp),
            schedule: Arc::new(schedule),
            stopping: Arc::new(AtomicBool::new(false)),
            relay: None,
            tls_reporting: false,
        }
    }

    /// The same deliverer in relay mode: messages are handed to `relay` instead of the
    /// recipients' MX hosts (held and failed domains still are not sent).
    pub fn with_relay(mut self, relay: Relay) -> Self {
        self.relay = Some(Arc::new(relay));
        self
    }

    /// From now on no new session is started (those running end); what is left claimed stays
    /// `sending` and is queued again at the next start.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    pub(super) fn store(&self) -> &Store {
        self.verdicts.store()
    }

    /// One attempt for `recipients`, all of `domain` (claimed, so `sending`); every one ends
    /// sent, deferred, held or failed in the store.
    pub async fn deliver_domain(&self, domain: &str, recipients: Vec<QueuedRecipient>) {
        let mut known = match self.verdicts.probe_recorded(domain, false).await {
            Ok((facts, recorded)) => Known { facts, recorded },
            Err(e) => return self.unprobed(domain, &e, &recipients).await,
        };
        let mut pending = Vec::new();
        let mut start = 0;
        while start < recipients.len() {
            let message = recipients[start].message;
            let end = recipients[start..]
                .iter()
                .position(|r| r.message != message)
                .map_or(recipients.len(), |n| start + n);
            if let Some(p) = self.load(&recipients[start..end]).await {
                pending.push(p);
            }
            start = end;
        }
        // Messages with the same plan (the same sender minimum) share sessions, up to the
        // limit of transactions per session; the plan is read again before each batch, since
        // the last session may have raised a hold.
        while !pending.is_empty() {
            if self.stopping.load(Ordering::SeqCst) {
                tracing::info!(%domain, left = pending.len(), "stopping: not started");
                return;
            }
            let secure = pending[0].secure;
            let (batch, rest): (Vec<Pending>, Vec<Pending>) = {
                let mut taken = 0;
                pending.into_iter().partition(|p| {
                    let take = p.secure == secure && taken < MAX_TRANSACTIONS_PER_SESSION;
                    taken += usize::from(take);
                    take
                })
            };
            pending = rest;
            self.deliver_batch(&mut known, &batch, secure).await;
        }
    }

    /// Finishes `recipients` of `domain` whose probe failed with `e`: failed for a domain that
    /// cannot be one, deferred otherwise.
    pub(super) async fn unprobed(
        &self,
        domain: &str,
        e: &VerdictError,
        recipients: &[QueuedRecipient],
    ) {
        let reason = format!("{domain}: {e}");
        let permanent = matches!(e, VerdictError::Probe(ProbeError::InvalidDomain(_)));
        for r in recipients {
            let attempt = if permanent {
                Attempt::Failed {
                    reason: reason.clone(),
                }
            } else {
                self.deferred(r, None, reason.clone())
            };
            self.finish(r, attempt).await;
        }
    }

    /// Reads the message the `recipients` belong to; `None` (each recipient finished) when it
    /// cannot be read.
    pub(super) async fn load<'r>(&self, recipients: &'r [QueuedRecipient]) -> Option<Pending<'r>> {
        let id = recipients[0].message;
        let (message, raw) = match (
            self.store().message_row(id).await,
            self.store().message_raw(id).await,
        ) {
            (Ok(Some(m)), Ok(Some(raw))) => (m, raw),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(message = id, error = %e, "cannot read a queued message");
                for r in recipients {
                    let attempt = self.deferred(r, None, "the queue could not be read".into());
                    self.finish(r, attempt).await;
                }
                return None;
            }
            _ => {
                for r in recipients {
                    let reason = "the message vanished from the queue".to_string();
                    self.finish(r, Attempt::Failed { reason }).await;
                }
                return None;
            }
        };
        let secure = self.secure_requirement(&message).await;
        Some(Pending {
            addresses: recipients.iter().map(|r| r.address.clone()).collect(),
            recipients,
            message,
            raw,
            secure,
            done: AtomicBool::new(false),
        })
    }

    /// Messages with one plan: not attempted (held, failed, deferred), or delivered together.
    async fn deliver_batch(
        &self,
        known: &mut Known,
        batch: &[Pending<'_>],
        secure: Option<TransportRequirement>,
    ) {
        let plan = known.recorded.plan(secure);
        if matches!(plan, DomainPlan::Deliver(_) | DomainPlan::Defer(_)) {
            self.report_sts_failure(batch, &known.facts).await;
        }
        if let DomainPlan::Defer(_) = plan {
            let judged = (&*known.facts, &known.recorded.remembered.judgement);
            self.report_blocked(batch, judged).await;
        }
        let outcomes: Vec<Vec<Attempt>> = match plan {
            DomainPlan::Hold(reason) => batch
                .iter()
                .map(|p| {
                    same(
                        p.recipients,
                        Attempt::Held {
                            reason: reason.clone(),
                        },
                    )
                })
                .collect(),
            DomainPlan::Fail(reason) => batch
                .iter()
                .map(|p| {
                    same(
                        p.recipients,
                        Attempt::Failed {
                            reason: reason.clone(),
                        },
                    )
                })
                .collect(),
            DomainPlan::Defer(reason) => batch
                .iter()
                .map(|p| self.attempts_of(p, Outcome::Deferred(reason.clone()), 0))
                .collect(),
            DomainPlan::Deliver(hosts) => {
                let outcome = self.try_hosts(known, &hosts, batch, secure).await;
                batch
                    .iter()
                    .enumerate()
                    .map(|(i, p)| self.attempts_of(p, outcome.clone(), i))
                    .collect()
            }
        };
        let stopping = self.stopping.load(Ordering::SeqCst);
        for (p, attempts) in batch.iter().zip(outcomes) {
            // Finished while its session went on (see `try_address`); or, when the sender is
            // stopping, left `sending`, to be queued again at the next start.
            if p.done.load(Ordering::SeqCst) || stopping {
                continue;
            }
            for (r, attempt) in p.recipients.iter().zip(attempts) {
                self.finish(r, attempt).await;
            }
        }
    }

    /// The secure sender's minimum, when the sender is a secure address of an owner whose
    /// secure sending is on (the settings "Verschlüsselter Versand").
    async fn secure_requirement(&self, message: &QueuedMessage) -> Option<TransportRequirement> {
        let domain = message.envelope_from.rsplit_once('@')?.1;
        if !domain.starts_with("secure.") {
            return None;
        }
        // A secure address whose owner's settings cannot be read still gets the defaults: a
        // secure sender is never sent without TLS.
        let settings = self.store().settings(&message.owner).await.ok();
        let settings = settings.filter(|s| s.mode != SecureMode::Off);
        Some(secure::sending_requirement(settings.as_ref()))
    }

    /// Tries the hosts in order until one runs a transaction; what came of it.
    async fn try_hosts(
        &self,
        known: &mut Known,
        hosts: &[HostPlan],
        batch: &[Pending<'_>],
        secure: Option<TransportRequirement>,
    ) -> Outcome {
        let mut why: Vec<String> = Vec::new();
        for host in hosts {
            if host.enforcement == Enforcement::Defer {
                why.push(format!("{}: its TLSA records are not known", host.host));
                let judged = (&*known.facts, &known.recorded.remembered.judgement);
                self.report_session(batch, judged, host, None, None).await;
                continue;
            }
            if host.addresses.is_empty() {
                why.push(format!("{}: no address to deliver to", host.host));
            }
            for ip in &host.addresses {
                match self.try_address(known, host, *ip, batch, secure).await {
                    Tried::Done(outcome) => return outcome,
                    Tried::Next(reason) => why.push(reason),
                }
            }
        }
        if why.is_empty() {
            why.push("no mail server to deliver to".into());
        }
        Outcome::Deferred(why.join("; "))
    }

    /// One session with one address of `host`.
    async fn try_address(
        &self,
        known: &mut Known,
        host: &HostPlan,
        ip: IpAddr,
        batch: &[Pending<'_>],
        secure: Option<TransportRequirement>,
    ) -> Tried {
        let prober = self.verdicts.prober();
        if let Some(refusal) = prober.refusal(ip) {
            return Tried::Next(format!("{} ({ip}): {refusal} is not contacted", host.host));
        }
        prober.note_connect(self.smtp.socket_addr(ip));
        let tls = DeliveryTls {
            sni: Some(host.host.clone()),
            demand: match host.enforcement {
                Enforcement::May => TlsDemand::WhenOffered,
                _ => TlsDemand::Required,
            },
            tls13_only: host.tls13_only,
        };
        let delivery = self.run_session(known, host, ip, &tls, batch).await;
        let delivery = match delivery {
            Ok(d) => d,
            Err(e) => return Tried::Next(format!("{} ({ip}): {e}", host.host)),
        };
        let (observed, _) = with_session(
            prober.webpki(),
            &known.facts,
            host.index,
            ip,
            Ok(delivery.session.clone()),
        );
        let observed = Arc::new(observed);
        match self
            .verdicts
            .record_observed(&observed, ObservationSource::Delivery)
            .await
        {
            Ok(recorded) => {
                *known = Known {
                    facts: observed.clone(),
                    recorded,
                };
                let judged = (&*known.facts, &known.recorded.remembered.judgement);
                let local = delivery.session.local_ip;
                self.report_session(batch, judged, host, Some(ip), local)
                    .await;
            }
            // Without the record a downgrade may go unnoticed: nothing more is sent now.
            Err(e) => {
                tracing::error!(host = %host.host, error = %e, "cannot record a delivery");
                return Tried::Done(Outcome::Deferred(format!(
                    "{}: the delivery could not be recorded",
                    host.host
                )));
            }
        }
        let Some(replies) = delivery.replies.clone() else {
            let reason = no_transaction(host, ip, &delivery);
            // A downgrade seen now holds the message at once.
            if let DomainPlan::Hold(hold) = known.recorded.plan(secure) {
                return Tried::Done(Outcome::Held(hold));
            }
            return Tried::Next(reason);
        };
        let via = sent_via(
            &known.recorded.remembered.judgement,
            host,
            ip,
            &delivery.session,
        );
        Tried::Done(Outcome::Replies(replies, via))
    }

    /// The session with `ip`: judged by the gate before MAIL FROM, each finished transaction
    /// recorded before the next message is sent.
    async fn run_session(
        &self,
        known: &Known,
        host: &HostPlan,
        ip: IpAddr,
        tls: &DeliveryTls,
        batch: &[Pending<'_>],
    ) -> Result<smtp::Delivery, smtp::SmtpError> {
        let addr = self.smtp.socket_addr(ip);
        let facts = known.facts.clone();
        let web = self.verdicts.prober().webpki();
        let gate = |session: &smtp::ProbeSession| {
            let (facts, _) = with_session(web, &facts, host.index, ip, Ok(session.clone()));
            let j = policy::judge(&facts);
            match judged(&j, host.index, ip) {
                Some(e) => policy::permits(host.enforcement, e),
                None => Err("the session could not be judged".into()),
            }
        };
        let envelopes: Vec<Envelope<'_>> = batch.iter().map(Pending::envelope).collect();
        // Each finished transaction is recorded before the next message is sent.
        let (report, mut finished) = tokio::sync::mpsc::channel::<smtp::Finished>(1);
        let session = async {
            let delivery = smtp::deliver(addr, tls, &gate, &envelopes, &self.smtp, Some(&report));
            let delivery = delivery.await;
            drop(report);
            delivery
        };
        let mut via: Option<SentVia> = None;
        let recorder = self.record_transactions(batch, &mut finished, |session| {
            via.get_or_insert_with(|| via_of(web, &known.facts, host, ip, session))
                .clone()
        });
        let (delivery, ()) = tokio::join!(session, recorder);
        delivery
    }

    /// Writes each transaction of a session as it finishes (its recipients' attempts, `via`
    /// saying how it went out), before the session may send the next message; tells the
    /// session to stop when the process is stopping.
    pub(super) async fn record_transactions(
        &self,
        batch: &[Pending<'_>],
        finished: &mut tokio::sync::mpsc::Receiver<smtp::Finished>,
        mut via: impl FnMut(&smtp::ProbeSession) -> SentVia,
    ) {
        while let Some(f) = finished.recv().await {
            if let Some(p) = batch.get(f.index) {
                let via = via(&f.session);
                let attempts = self.attempts_of(p, Outcome::Replies(vec![f.replies], via), 0);
                for (r, attempt) in p.recipients.iter().zip(attempts) {
                    self.finish(r, attempt).await;
                }
                p.done.store(true, Ordering::SeqCst);
            }
            let _ = f.recorded.send(!self.stopping.load(Ordering::SeqCst));
        }
    }

    /// The attempts of message `index` of a batch from the batch's outcome.
    pub(super) fn attempts_of(
        &self,
        p: &Pending<'_>,
        outcome: Outcome,
        index: usize,
    ) -> Vec<Attempt> {
        let message = Some(&p.message);
        match outcome {
            Outcome::Held(reason) => same(p.recipients, Attempt::Held { reason }),
            Outcome::Deferred(reason) => p
                .recipients
                .iter()
                .map(|r| self.deferred(r, message, reason.clone()))
                .collect(),
            Outcome::Replies(mut replies, via) => {
                let mine = replies
                    .get_mut(index)
                    .map(std::mem::take)
                    .unwrap_or_default();
                if mine.len() != p.recipients.len() {
                    let reason = "the server's replies could not be matched".to_string();
                    return self.attempts_of(p, Outcome::Deferred(reason), index);
                }
                p.recipients
                    .iter()
                    .zip(mine)
                    .map(|(r, reply)| match reply {
                        RecipientReply::Accepted(reply) => Attempt::Sent {
                            via: via.clone(),
                            reply,
                        },
                        RecipientReply::Permanent(reason) => Attempt::Failed { reason },
                        RecipientReply::Temporary(reason) => self.deferred(r, message, reason),
                    })
                    .collect()
            }
        }
    }

    /// A temporary failure of `r`: deferred by the schedule, or failed once the message has
    /// been queued too long.
    pub(super) fn deferred(
        &self,
        r: &QueuedRecipient,
        message: Option<&QueuedMessage>,
        reason: String,
    ) -> Attempt {
        let now = now_unix();
        let queued_at = message.map_or(now, |m| m.created_at);
        match self.schedule.after(r.attempts + 1, now, queued_at) {
            Retry::At(next_attempt_at) => Attempt::Deferred {
                reason,
                next_attempt_at,
            },
            Retry::Expired => Attempt::Failed {
                reason: format!(
                    "given up after {} in the queue; last: {reason}",
                    in_words(self.schedule.max_age)
                ),
            },
        }
    }

    pub(super) async fn finish(&self, r: &QueuedRecipient, attempt: Attempt) {
        metrics::count_delivery(match &attempt {
            Attempt::Sent { via, .. } => {
                metrics::Delivery::sent(via.relayed, via.tls_version.is_some(), via.dane)
            }
            Attempt::Deferred { .. } => metrics::Delivery::Deferred,
            Attempt::Held { .. } => metrics::Delivery::Held,
            Attempt::Failed { .. } => metrics::Delivery::Failed,
        });
        match &attempt {
            Attempt::Sent { via, .. } => tracing::info!(
                event = "delivery_sent", recipient = %r.address, domain = %r.domain,
                host = %via.mx_host, tls = ?via.tls_version.map(|v| v.name()),
                "sent"
            ),
            Attempt::Deferred { reason, .. } => tracing::info!(
                event = "delivery_deferred", recipient = %r.address, domain = %r.domain,
                reason = "temporary_failure", detail = %reason, "deferred"
            ),
            Attempt::Held { reason } => tracing::warn!(
                event = "delivery_held", recipient = %r.address, domain = %r.domain,
                reason = "held", detail = %reason, "held"
            ),
            Attempt::Failed { reason } => tracing::warn!(
                event = "delivery_failed", recipient = %r.address, domain = %r.domain,
                reason = "failed", detail = %reason, "failed"
            ),
        }
        if let Err(e) = self
            .store()
            .record_attempt(r.id, now_unix(), &attempt)
            .await
        {
            // It stays `sending`, and is queued again at the next start.
            tracing::error!(recipient = %r.address, error = %e, "cannot record an attempt");
        }
    }
}

/// One message of a batch: its recipients at the domain, read from the queue.
pub(super) struct Pending<'r> {
    pub(super) recipients: &'r [QueuedRecipient],
    pub(super) addresses: Vec<String>,
    pub(super) message: QueuedMessage,
    pub(super) raw: Vec<u8>,
    pub(super) secure: Option<TransportRequirement>,
    /// Its attempts are recorded already.
    pub(super) done: AtomicBool,
}

impl Pending<'_> {
    pub(super) fn envelope(&self) -> Envelope<'_> {
        Envelope {
            mail_from: &self.message.envelope_from,
            recipients: &self.addresses,
            data: &self.raw,
        }
    }
}

/// What trying the hosts came to, for a batch of messages.
#[derive(Clone)]
pub(super) enum Outcome {
    /// The transactions ran: the replies per message and recipient, and how.
    Replies(Vec<Vec<RecipientReply>>, SentVia),
    /// Not delivered now.
    Deferred(String),
    /// A server went on hold.
    Held(String),
}

/// What trying one address came to.
enum Tried {
    Done(Outcome),
    Next(String),
}

fn same(recipients: &[QueuedRecipient], attempt: Attempt) -> Vec<Attempt> {
    vec![attempt; recipients.len()]
}

/// Why a session ran no transaction.
fn no_transaction(host: &HostPlan, ip: IpAddr, d: &smtp::Delivery) -> String {
    let what = if let Some(refused) = &d.refused {
        refused.clone()
    } else if let Some(failure) = &d.session.tls_failure {
        format!("TLS could not be established ({failure}); never sent in plain text instead")
    } else if !d.session.starttls_offered {
        "TLS is required but the server does not offer STARTTLS; nothing was sent".to_string()
    } else {
        "no transaction".to_string()
    };
    format!("{} ({ip}): {what}", host.host)
}
