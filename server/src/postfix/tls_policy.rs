//! Postfix's TLS policy table, served over the socketmap protocol (socketmap_table(5)) for
//! `smtp_tls_policy_maps = socketmap:inet:HOST:PORT:tlspolicy`: for a next-hop domain, the
//! security level Postfix must use, read from the same plan as Sendguard's own delivery
//! ([`crate::policy::plan`] of the remembered judgement), so Postfix enforces what the badge
//! promised (TLS_README, "TLS policy table"):
//!
//! | The plan | Answer |
//! |---|---|
//! | a host with secure usable TLSA (or a DANE floor) | `OK dane-only` (RFC 7672) |
//! | a host with a TLS floor (its own or the domain's) | `OK encrypt` |
//! | a host to be verified by the WebPKI (MTA-STS enforce, RFC 8461) | `OK secure match=host1:host2 servername=hostname`: the MX hosts the policy names |
//! | nothing known on any host | `NOTFOUND` (Postfix's own default applies) |
//! | held, or deferred (bogus DNSSEC, failed TLSA lookup, TLSA mismatch) | `TEMP reason`: Postfix defers |
//! | the domain accepts no mail (null MX, no such domain) | `NOTFOUND`: Postfix finds that itself |
//! | any domain while the resolver self-test fails ([`crate::verdicts::resolver`]) | `TEMP reason` |
//!
//! One level applies to all of a domain's MX hosts in Postfix, so the strictest of the hosts' is
//! answered: a host with DANE makes the domain `dane-only`, and Postfix then skips hosts without
//! usable TLSA records rather than use them with less than their promise. A domain never seen is
//! `NOTFOUND` and probed in the background, so the next lookup knows it. Keys that are not a
//! next-hop domain (`[host]:port` and `[host]` next hops an operator configured, parent-domain
//! lookups `.example.org`, address literals) are `NOTFOUND`.
//!
//! A second map, [`SECURE_POLICY_MAP`], serves the transport for mail from secure addresses: the
//! plan made with the secure sender's minimum, never less than `encrypt` (unknown domains and
//! keys included), and a domain that falls short deferred.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpListener;

use super::memo::Memo;
use super::netstring::{self, NetstringError};
use sendguard_common::TransportRequirement;

use crate::policy::{DomainPlan, Enforcement};
use crate::probe::domain_of;
use crate::verdicts::Verdicts;

/// The map name of the TLS policy table.
pub const TLS_POLICY_MAP: &str = "tlspolicy";
/// The map name of the table for mail from secure addresses (a transport of its own): TLS at
/// least, whatever is known.
pub const SECURE_POLICY_MAP: &str = "securepolicy";
/// The largest request accepted: a map name, a space and a key (a domain has at most 255
/// octets; Postfix's own socketmap requests are far below this).
pub const MAX_REQUEST: usize = 4096;
/// The longest reason text in a `TEMP` answer.
pub const MAX_REASON: usize = 500;
/// A connection idle this long is closed (Postfix itself closes idle ones after about 10 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// At most this many Postfix clients at once; further connections wait to be accepted.
pub const MAX_CONNECTIONS: usize = 256;

/// One socketmap answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `OK data`.
    Ok(String),
    /// `NOTFOUND `.
    NotFound,
    /// `TEMP reason`: Postfix defers.
    Temp(String),
    /// `PERM reason`: a request Postfix should not have sent.
    Perm(String),
}

impl Answer {
    /// The reply as sent inside the netstring.
    pub fn wire(&self) -> String {
        match self {
            Answer::Ok(data) => format!("OK {data}"),
            Answer::NotFound => "NOTFOUND ".to_string(),
            Answer::Temp(reason) => format!("TEMP {}", printable(reason)),
            Answer::Perm(reason) => format!("PERM {}", printable(reason)),
        }
    }
}

/// `text` as one line of printable ASCII of at most [`MAX_REASON`] bytes (Postfix logs it).
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(MAX_REASON)
        .collect()
}

/// The answer for the TLS policy of a delivery to `plan`'s domain.
pub fn answer_for(plan: &DomainPlan) -> Answer {
    match plan {
        DomainPlan::Hold(reason) | DomainPlan::Defer(reason) => Answer::Temp(reason.clone()),
        DomainPlan::Fail(_) => Answer::NotFound,
        DomainPlan::Deliver(hosts) => {
            let has = |e: Enforcement| hosts.iter().any(|h| h.enforcement == e);
            if has(Enforcement::Defer) && hosts.iter().all(|h| h.enforcement == Enforcement::Defer)
            {
                Answer::Temp("the TLSA records of the mail servers are not known".into())
            } else if has(Enforcement::DaneOnly) {
                Answer::Ok("dane-only".into())
            } else if has(Enforcement::Verify) {
                // The hosts the MTA-STS policy names (the plan left out the others): the
                // certificate must be valid for one of them, and SNI is the MX host's name.
                let names: Vec<&str> = hosts
                    .iter()
                    .filter(|h| h.enforcement == Enforcement::Verify)
                    .map(|h| h.host.as_str())
                    .collect();
                Answer::Ok(format!(
                    "secure match={} servername=hostname",
                    names.join(":")
                ))
            } else if has(Enforcement::Encrypt) {
                Answer::Ok("encrypt".into())
            } else {
                Answer::NotFound
            }
        }
    }
}

/// The answer for mail from a secure address: `plan` made with the secure sender's minimum;
/// never less than `encrypt`, and a domain that falls short is deferred (Postfix returns the
/// message when its queue lifetime ends), so a secure alias never goes out in plain text.
pub fn secure_answer_for(plan: &DomainPlan) -> Answer {
    match (plan, answer_for(plan)) {
        (DomainPlan::Fail(reason), _) => Answer::Temp(reason.clone()),
        (_, Answer::NotFound) => Answer::Ok("encrypt".into()),
        (_, answer) => answer,
    }
}

/// Answers one socketmap request (`name key`), reading what is remembered through `memo`.
pub async fn answer(verdicts: &Verdicts, memo: &Memo, request: &[u8]) -> Answer {
    let Ok(request) = std::str::from_utf8(request) else {
        return Answer::Perm("the request is not UTF-8".into());
    };
    let Some((name, key)) = request.split_once(' ') else {
        return Answer::Perm("the request has no key".into());
    };
    let secure = match name {
        TLS_POLICY_MAP => false,
        SECURE_POLICY_MAP => true,
        _ => return Answer::Perm(format!("no map named {name:?} here")),
    };
    let unknown = if secure {
        Answer::Ok("encrypt".into())
    } else {
        Answer::NotFound
    };
    let key = key.trim();
    if key.starts_with('[') || key.starts_with('.') || key.parse::<std::net::IpAddr>().is_ok() {
        return unknown;
    }
    let Ok(domain) = domain_of(key) else {
        return unknown;
    };
    // Nothing is judged while the resolver self-test fails (`verdicts::resolver`).
    if let Some(why) = verdicts.resolver_failure() {
        return Answer::Temp(why);
    }
    let remembered = memo.remembered(verdicts.store(), &domain).await;
    if let Ok(Some(r)) = &remembered
        && r.judgement
            .mta_sts
            .policy
            .as_ref()
            .is_some_and(|p| p.expires_at <= crate::probe::now_unix())
    {
        // The MTA-STS policy judged with has run out (RFC 8461 §5.1): answered as judged for
        // now (the stricter way), and probed again so that the next lookup has it refreshed.
        verdicts.probe_in_background(&domain);
    }
    match remembered {
        Ok(Some(remembered)) if secure => {
            secure_answer_for(&remembered.plan(Some(TransportRequirement::default())))
        }
        Ok(Some(remembered)) => answer_for(&remembered.plan(None)),
        Ok(None) => {
            // Never seen: Postfix's default applies now; the probe makes the next answer.
            verdicts.probe_in_background(&domain);
            unknown
        }
        Err(e) => {
            tracing::error!(%domain, error = %e, "cannot read what is remembered");
            Answer::Temp("Sendguard cannot read its history right now".into())
        }
    }
}

/// Counts a lookup for `/metrics` by its map and the kind of answer.
fn count(request: &[u8], answered: &Answer) {
    let map = request
        .split(|b| *b == b' ')
        .next()
        .and_then(|m| std::str::from_utf8(m).ok())
        .unwrap_or("");
    let kind = match answered {
        Answer::Ok(_) => "ok",
        Answer::NotFound => "notfound",
        Answer::Temp(_) => "temp",
        Answer::Perm(_) => "perm",
    };
    crate::metrics::count_policy_lookup(map, kind);
}

/// Serves the table on `listener` until the process ends.
pub async fn serve(listener: TcpListener, verdicts: Verdicts) {
    let memo = std::sync::Arc::new(Memo::default());
    super::accept_loop(listener, MAX_CONNECTIONS, move |stream| {
        let (verdicts, memo) = (verdicts.clone(), memo.clone());
        async move { connection(stream, &verdicts, &memo).await }
    })
    .await
}

/// One Postfix client: requests answered in order until it closes, idles or breaks the
/// protocol (then the connection is closed; Postfix reconnects).
pub async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    verdicts: &Verdicts,
    memo: &Memo,
) {
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = BufReader::new(read);
    loop {
        let request =
            match tokio::time::timeout(IDLE_TIMEOUT, netstring::read(&mut reader, MAX_REQUEST))
                .await
            {
                Ok(Ok(Some(request))) => request,
                Ok(Ok(None)) | Err(_) => return,
                Ok(Err(NetstringError::Io(_))) => return,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "policy table: malformed request, closing");
                    let refusal = Answer::Perm(e.to_string()).wire();
                    let _ = netstring::write(&mut write, refusal.as_bytes()).await;
                    return;
                }
            };
        let answered = answer(verdicts, memo, &request).await;
        count(&request, &answered);
        let reply = answered.wire();
        if netstring::write(&mut write, reply.as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}
