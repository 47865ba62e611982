//! What a delivery's session showed, in the judgement's terms: the probe's facts with the
//! session's endpoint replaced ([`with_session`]), that endpoint's judgement ([`judged`]), and how
//! a message went out ([`sent_via`]) as the badge would say it. Pure functions over
//! [`crate::policy::judge`]; the attempt ([`super::attempt`]) calls them around each session.

use std::net::IpAddr;

use sendguard_common::DaneStatus;

use crate::policy::{self, HostPlan};
use crate::probe::facts::DomainFacts;
use crate::probe::{self, now_unix};
use crate::smtp;
use crate::store::queue::SentVia;
use crate::tls::certinfo::WebPki;

/// `facts` with the endpoint `ip` of host `index` replaced by what `session` showed (added when
/// it was not there), as of now; and the endpoint's position.
pub(super) fn with_session(
    web: &WebPki,
    facts: &DomainFacts,
    index: usize,
    ip: IpAddr,
    session: Result<smtp::ProbeSession, smtp::SmtpError>,
) -> (DomainFacts, Option<usize>) {
    let Some(h) = facts.host(index) else {
        return (facts.clone(), None);
    };
    let names = [h.host.as_str(), facts.domain.as_str()];
    let outcome = probe::endpoint_outcome(web, session, &h.tlsa, &names, &h.host);
    facts.with_endpoint(index, ip, outcome, now_unix())
}

/// The judgement of endpoint `ip` of host `index`.
pub(super) fn judged(
    j: &policy::DomainJudgement,
    index: usize,
    ip: IpAddr,
) -> Option<&policy::EndpointJudgement> {
    j.hosts
        .get(index)?
        .endpoints
        .iter()
        .find(|e| e.ip == Some(ip))
}

/// [`sent_via`] for `session`, judged with `facts`.
pub(super) fn via_of(
    web: &WebPki,
    facts: &DomainFacts,
    host: &HostPlan,
    ip: IpAddr,
    session: &smtp::ProbeSession,
) -> SentVia {
    let (facts, _) = with_session(web, facts, host.index, ip, Ok(session.clone()));
    sent_via(&policy::judge(&facts), host, ip, session)
}

/// How a message went out through `host` at `ip`, as the judged session shows it, in the
/// badge's terms: DANE and "authenticated" only where the DNS path to the host was signed
/// ([`policy::DomainJudgement::unsigned`]; with an unsigned MX answer an attacker could have
/// chosen the host, so its TLSA match or WebPKI certificate authenticates nothing for the
/// domain), so the Sent page never shows more than the badge promised.
pub(super) fn sent_via(
    j: &policy::DomainJudgement,
    host: &HostPlan,
    ip: IpAddr,
    session: &smtp::ProbeSession,
) -> SentVia {
    let e = judged(j, host.index, ip);
    let unsigned = j
        .hosts
        .get(host.index)
        .and_then(|h| j.unsigned(h))
        .is_some();
    let dane = e
        .map(|e| e.dane)
        .filter(|d| *d != DaneStatus::None)
        .map(|d| match d {
            DaneStatus::Verified if unsigned => DaneStatus::Insecure,
            other => other,
        });
    let webpki = e
        .and_then(|e| e.tls.as_ref())
        .is_some_and(|t| t.certificate.webpki_valid);
    let tls = session.tls.as_ref();
    SentVia {
        mx_host: host.host.clone(),
        ip,
        tls_version: tls.map(|t| t.version),
        cipher: tls.map(|t| t.cipher_iana.clone()),
        dane,
        verified: tls.is_some() && !unsigned && (dane == Some(DaneStatus::Verified) || webpki),
        relayed: false,
    }
}
