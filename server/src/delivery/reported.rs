//! TLS reporting of our own deliveries (RFC 8460): each session the attempt ([`super::attempt`])
//! ran, and each MX host it skipped because its TLSA records could not be validated, counted
//! for the recipient domain's daily report. What a session came to is read from the judgement
//! the delivery acted on ([`crate::tlsrpt::result_of`] of the endpoint's judgement and the
//! host's enforcement); the policy it was judged under from the host's TLSA facts, else the
//! domain's MTA-STS policy in enforce or testing mode as the judgement applied it
//! ([`crate::tlsrpt::policy_for`], DANE first). A delivery not attempted because the
//! judgement blocks it counts as a failed session with each blocked host. A policy that could
//! not be fetched or was invalid counts once per delivery attempt of the domain, as the
//! facts the delivery acted on show it ([`crate::tlsrpt::sts_policy_failure`]). Recording is
//! on with [`Deliverer::with_tls_reporting`]; a failure to record is logged and never holds up
//! a delivery.

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
                judgement: j,
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
                    judgement: j,
                    index,
                    enforcement: policy::enforcement(h.tlsa, false, None),
                };
                self.report_endpoint(batch, at, endpoint, None).await;
            }
        }
    }

    /// Counts the failure of the domain's MTA-STS policy that `facts` show, if any, once for
    /// a delivery attempt of `batch` (RFC 8460 §4.3.2.2).
    pub(super) async fn report_sts_failure(&self, batch: &[Pending<'_>], facts: &DomainFacts) {
        if !self.counts(batch) {
            return;
        }
        if let Some(record) = tlsrpt::sts_policy_failure(&facts.domain, &facts.mta_sts) {
            self.record(&record).await;
        }
    }

    /// Whether sessions for `batch` are counted: reporting is on and not all of it is our
    /// own reports (RFC 8460 §5.3: the sessions that carry them are not reported).
    fn counts(&self, batch: &[Pending<'_>]) -> bool {
        self.tls_reporting
            && !batch
                .iter()
                .all(|p| p.message.owner == tlsrpt::REPORT_OWNER)
    }

    async fn record(&self, record: &SessionRecord) {
        let day = tlsrpt::day_of(now_unix());
        if let Err(e) = self.store().record_tls_session(day, record).await {
            tracing::warn!(host = %record.mx_host, error = %e, "cannot count a session for TLS reports");
        }
    }

    async fn report_endpoint(
        &self,
        batch: &[Pending<'_>],
        at: Judged<'_>,
        endpoint: &EndpointJudgement,
        local: Option<IpAddr>,
    ) {
        if !self.counts(batch) {
            return;
        }
        let Some(host) = at.facts.host(at.index) else {
            return;
        };
        // The MTA-STS policy the judgement applied (RFC 8461), in enforce or testing mode; its
        // lines from the facts it was judged in (the judgement keeps mode and patterns only).
        let domain = &at.facts.domain;
        let applied = at.judgement.sts_reported().and(at.facts.mta_sts.applied());
        let sts = applied.map(|c| {
            let mx: Vec<String> = c.policy.mx.iter().map(|m| m.as_str().to_string()).collect();
            ReportPolicy::sts(domain, &c.policy.text(), &mx)
        });
        let policy = tlsrpt::policy_for(domain, host, sts.as_ref());
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
        self.record(&record).await;
    }
}

/// Where a judged endpoint belongs: the facts it was judged in and their judgement, its host's
/// position, and what a delivery to that host had to meet.
struct Judged<'a> {
    facts: &'a DomainFacts,
    judgement: &'a DomainJudgement,
    index: usize,
    enforcement: Enforcement,
}
