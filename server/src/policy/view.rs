//! The wire views of a judgement: the [`DomainVerdict`] the badge, the tooltip and `sendguard
//! probe --json` show, with each MX host's [`MxReport`], and with what history adds (holds and
//! floors). Nothing here decides a level: classes, causes and DANE states are read from the
//! [`DomainJudgement`]; only the English technical reason is put into words ([`super::reason`]).

use std::collections::BTreeMap;

use sendguard_common::{BlockCause, DomainVerdict, MxReport, SecurityClass};

use super::judge::{
    DomainJudgement, EndpointJudgement, HostJudgement, MxJudgement, Outcome, TlsaDemand,
};
use super::reason::{class_reason, host_reason};
use super::transition::HostRecord;
use crate::probe::facts::Failure;

/// The verdict of a judgement with what is remembered of each MX host (`history`, by host name):
/// hosts on hold are marked, and the domain is then blocked with a reason naming the downgrade.
pub fn verdict(j: &DomainJudgement, history: &BTreeMap<String, HostRecord>) -> DomainVerdict {
    let mut v = DomainVerdict {
        domain: j.domain.clone(),
        class: j.class(),
        blocked: false,
        cause: j.cause(),
        reason: domain_reason(j),
        dnssec: j.dnssec(),
        mx: j.hosts.iter().map(|h| mx_report(j, h)).collect(),
        checked_at: Some(j.checked_at),
        mta_sts: j.mta_sts.view(),
    };
    let mut held: Option<String> = None;
    for mx in &mut v.mx {
        let Some(record) = history.get(&mx.host) else {
            continue;
        };
        mx.history = Some(record.server_history(&j.domain));
        // A host an MTA-STS policy in enforce mode does not name is never used (RFC 8461 §5):
        // its hold is shown, but blocks nothing.
        let unused = j
            .hosts
            .iter()
            .any(|h| h.host == mx.host && j.sts_excluded(h));
        if let Some(hold) = record.holds_for(&j.domain).next() {
            mx.on_hold = true;
            if unused {
                continue;
            }
            held.get_or_insert_with(|| {
                format!(
                    "Delivery to {} is on hold since it fell below its known level: {}. An administrator must review it.",
                    mx.host, hold.reason
                )
            });
        }
    }
    if let Some(reason) = held {
        v.cause = Some(BlockCause::OnHold);
        v.reason = reason;
    }
    v.blocked = v.cause.is_some();
    v
}

fn domain_reason(j: &DomainJudgement) -> String {
    match &j.mx {
        MxJudgement::NullMx => "The domain accepts no mail (null MX, RFC 7505).".into(),
        MxJudgement::NxDomain => "The domain does not exist.".into(),
        MxJudgement::NoMailHost => {
            "The domain has no mail server (neither MX nor address records).".into()
        }
        MxJudgement::Failed(Failure::Bogus(d)) => {
            format!("DNSSEC validation of the MX records failed; delivery is deferred ({d}).")
        }
        MxJudgement::Failed(Failure::Temporary(d)) => {
            format!("The mail servers could not be looked up right now ({d}).")
        }
        MxJudgement::Failed(Failure::Permanent(d)) => {
            format!("The mail servers could not be looked up ({d}).")
        }
        MxJudgement::Hosts { .. } => match j.hosts.iter().find(|h| h.blocking().is_some()) {
            Some(blocked) => host_reason(blocked),
            None => match j.sts_cause() {
                Some(BlockCause::MtaStsNoMatchingMx) => format!(
                    "The domain's MTA-STS policy (enforce) names none of its MX hosts ({}): no delivery (RFC 8461 §5).",
                    sts_patterns(j)
                ),
                Some(_) => match j.hosts.iter().find_map(|h| j.sts_failure(h)) {
                    Some(why) => format!("{why}; no delivery (RFC 8461 §5)."),
                    None => class_reason(j),
                },
                None => class_reason(j),
            },
        },
    }
}

/// The report of one MX host as the API shows it. A host's addresses may differ, and a delivery
/// may use any of them, so the TLS details are the weakest answering address's: the lowest TLS
/// version (a session without TLS is lower still), and the certificate of an address whose
/// chain is not WebPKI-valid when there is one; the DANE status is verified only when every
/// session matched ([`HostJudgement::dane`]).
fn mx_report(j: &DomainJudgement, h: &HostJudgement) -> MxReport {
    let sessions: Vec<&EndpointJudgement> = h.sessions().collect();
    let weakest = weakest_session(&sessions);
    let tls = weakest.and_then(|e| e.tls.as_ref());
    let certificate = tls.map(|t| {
        sessions
            .iter()
            .filter_map(|e| e.tls.as_ref())
            .map(|t| &t.certificate)
            .find(|c| !c.webpki_valid)
            .unwrap_or(&t.certificate)
            .clone()
    });
    let starttls =
        (!sessions.is_empty()).then(|| sessions.iter().all(|e| e.starttls == Some(true)));
    let class = j.class_via(h);
    let fine = matches!(class, SecurityClass::DaneOk | SecurityClass::SslOk);
    let error = if j.sts_excluded(h) {
        Some(format!(
            "{}: not used, the domain's MTA-STS policy (enforce) names only {} (RFC 8461 §4.1).",
            h.host,
            sts_patterns(j)
        ))
    } else if let Some(why) = j.sts_failure(h) {
        Some(format!("{why}."))
    } else if !fine || h.blocking().is_some() {
        Some(host_reason(h))
    } else {
        not_probed_note(h)
    };
    MxReport {
        host: h.host.clone(),
        preference: h.preference,
        addresses: h
            .endpoints
            .iter()
            .filter_map(|e| e.ip.map(|ip| ip.to_string()))
            .collect(),
        starttls,
        tls_version: tls.map(|t| t.version.name().to_string()),
        cipher: tls.map(|t| t.cipher_openssl.clone()),
        cipher_iana: tls.map(|t| t.cipher_iana.clone()),
        bits: tls.map(|t| t.bits),
        dane: h.dane(),
        unsigned: j.unsigned(h),
        certificate,
        class,
        error,
        checked_at: Some(j.checked_at),
        on_hold: false,
        history: None,
        // DANE comes first (RFC 8461 §2): a host with secure TLSA records is not the policy's.
        mta_sts_match: if h.tlsa == TlsaDemand::Nothing {
            j.sts_match(h)
        } else {
            None
        },
    }
}

/// The MX patterns of the domain's MTA-STS policy, e.g. `mx1.example.net, *.example.org`.
fn sts_patterns(j: &DomainJudgement) -> String {
    let patterns: Vec<&str> = j
        .mta_sts
        .policy
        .iter()
        .flat_map(|p| p.mx.iter().map(|m| m.as_str()))
        .collect();
    patterns.join(", ")
}

/// The weakest of a host's sessions: among those that showed a level (unknown is not evidence,
/// e.g. a handshake that timed out), the lowest level, then no TLS before TLS, then the lowest
/// TLS version and key size; without any such session, the first session.
fn weakest_session<'a>(sessions: &[&'a EndpointJudgement]) -> Option<&'a EndpointJudgement> {
    let evidence = sessions
        .iter()
        .copied()
        .filter(|e| e.level.is_some())
        .min_by_key(|e| {
            let tls = e.tls.as_ref().map(|t| (t.version, t.bits));
            (e.level, tls)
        });
    evidence.or_else(|| sessions.first().copied())
}

/// For a host that is otherwise fine: the addresses that were found but not probed (beyond the
/// probe's limit per host, or special-purpose), e.g. `mx.example: 2 addresses not probed
/// (not probed: only the first 8 addresses of an MX host are probed).`
fn not_probed_note(h: &HostJudgement) -> Option<String> {
    let skipped: Vec<_> = h
        .endpoints
        .iter()
        .filter(|e| e.ip.is_some() && e.outcome == Outcome::NotProbed)
        .collect();
    let detail = skipped.first()?.detail.as_deref().unwrap_or("");
    Some(format!(
        "{}: {} of its addresses not probed ({detail}).",
        h.host,
        skipped.len()
    ))
}
