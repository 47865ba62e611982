//! TLS reporting of our own deliveries (RFC 8460): each session the attempt ([`super::attempt`])
//! ran, and each MX host it skipped because its TLSA records could not be validated, counted
//! for the recipient domain's daily report. What a session came to is read from the judgement
//! the delivery acted on ([`crate::tlsrpt::result_of`] of the endpoint's judgement and the
//! host's enforcement); the policy it was judged under from the host's TLSA facts and, once
//! MTA-STS is known to the delivery, the domain's policy ([`crate::tlsrpt::policy_for`]).
//! A delivery not attempted because the judgement blocks it counts as a failed session with
//! each blocked host. Recording is on with [`Deliverer::with_tls_reporting`]; a failure to record is logged and
//! never holds up a delivery.

use std::net::IpAddr;

use crate::policy::{self, DomainJudgement, EndpointJudgement, Enforcement, HostPlan};
use crate::probe::facts::DomainFacts;
use crate::probe::now_unix;
use crate::tlsrpt::{self, ReportPolicy, SessionRecord};

use super::attempt::{Deliverer, Pending};

impl Deliverer {
    /// The same deliverer, counting its sessions for TLS reports.
    pub fn with_tls_reporting(mut self) -> Self {
        self.tls_reporting = true;
        self
    }

    /// Counts the session of a delivery of `batch` with `host` at `ip` (`None`: the host was
    /// skipped, no session), as judged in `j` of `facts`; `local` is our end of the connection.
    pub(super) async fn report_session(
        &self,
        batch: &[Pending<'_>],
        (facts, j): (&DomainFacts, &DomainJudgement),
        host: &HostPlan,
        ip: Option<IpAddr>,
        local: Option<IpAddr>,
    ) {
        let Some(judged) = j.hosts.get(host.index) else {
            return;
        };
        let endpoint = match ip {
            Some(ip) => judged.endpoints.iter().find(|e| e.ip == Some(ip)),
            None => judged.endpoints.first(),
        };
        if let Some(endpoint) = endpoint {
            let at = Judged {
                facts,
                index: host.index,
                enforcement: host.enforcement,
            };
            self.report_endpoint(batch, at, endpoint, local).await;
        }
    }

    /// Counts a delivery of `batch` that was not attempted because the judgement blocks it
    /// (a DANE mismatch, bogus DNSSEC, TLSA records that cannot be looked up, TLS missing where
    /// TLSA records demand it): one failed session per blocked MX host, as the last session
    /// with it (the probe's, which the delivery reused) showed.
    pub(super) async fn report_blocked(
        &self,
        batch: &[Pending<'_>],
        (facts, j): (&DomainFacts, &DomainJudgement),
    ) {
        for (index, h) in j.hosts.iter().enumerate() {
            if let Some(endpoint) = h.blocking() {
                let at = Judged {
                    facts,
                    index,
                    enforcement: policy::enforcement(h.tlsa, false, None),
                };
                self.report_endpoint(batch, at, endpoint, None).await;
            }
        }
    }

    async fn report_endpoint(
        &self,
        batch: &[Pending<'_>],
        at: Judged<'_>,
        endpoint: &EndpointJudgement,
        local: Option<IpAddr>,
    ) {
        // RFC 8460 §5.3: the sessions that carry our own reports are not reported.
        let reports_only = batch
            .iter()
            .all(|p| p.message.owner == tlsrpt::REPORT_OWNER);
        if !self.tls_reporting || reports_only {
            return;
        }
        let Some(host) = at.facts.host(at.index) else {
            return;
        };
        // The domain's MTA-STS policy (RFC 8461) is not known to the delivery yet: until it
        // is, no session is judged under one, and none is reported as `sts`.
        let sts: Option<&ReportPolicy> = None;
        let policy = tlsrpt::policy_for(&at.facts.domain, host, sts);
        let demanded = tlsrpt::demanded(at.enforcement, &policy);
        let Some(result) = tlsrpt::result_of(endpoint, demanded) else {
            return;
        };
        let record = SessionRecord {
            policy,
            result,
            sending_ip: local,
            mx_host: host.host.clone(),
            receiving_ip: endpoint.ip,
        };
        let day = tlsrpt::day_of(now_unix());
        if let Err(e) = self.store().record_tls_session(day, &record).await {
            tracing::warn!(host = %host.host, error = %e, "cannot count a session for TLS reports");
        }
    }
}

/// Where a judged endpoint belongs: the facts it was judged in, its host's position, and what
/// a delivery to that host had to meet.
struct Judged<'a> {
    facts: &'a DomainFacts,
    index: usize,
    enforcement: Enforcement,
}
