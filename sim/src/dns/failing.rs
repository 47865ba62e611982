//! How a validating recursive resolver fails, in front of [`super::DnsSim`]: a UDP relay that
//! answers SERVFAIL (RFC 1035 §4.1.1) with an Extended DNS Error (RFC 8914) for chosen zones
//! and passes every other question on to the authoritative server unchanged.
//!
//! - [`Failure::BogusUnlessCd`]: what unbound does for a zone whose chain of trust is broken
//!   (RFC 4035 §5.5): SERVFAIL with EDE 6 "DNSSEC Bogus", unless the question has the CD bit
//!   (RFC 4035 §3.2.2), in which case the unvalidated data is passed on.
//! - [`Failure::Unreachable`]: an outage: SERVFAIL with EDE 22 "No Reachable Authority",
//!   with or without CD.
//! - [`Failure::StripSignatures`]: a resolver (or a middlebox in front of it) that is not
//!   DNSSEC-aware: it passes answers on without their RRSIG records (RFC 4035 §3.1.1 requires
//!   them when DO is set) and without the AD bit, so nothing can be validated downstream.
//!
//! Only UDP: the prober asks over UDP first and these answers are small.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RecordType};
use tokio::net::UdpSocket;

/// How long the relay waits for the authoritative server.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// The EDNS option code of an Extended DNS Error (RFC 8914 §2).
const EDE_OPTION: u16 = 15;

/// How the relay fails for a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// SERVFAIL with EDE 6 unless the question has the CD bit.
    BogusUnlessCd,
    /// SERVFAIL with EDE 22, whatever the question.
    Unreachable,
    /// The authoritative answer, with every RRSIG record removed and AD cleared.
    StripSignatures,
}

/// A running relay; stops when dropped.
#[derive(Debug)]
pub struct FailingResolver {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FailingResolver {
    /// Relays questions arriving on a free UDP port of `bind` to `upstream`, failing as
    /// `rules` say for names in (or below) each zone.
    pub async fn start(
        bind: IpAddr,
        upstream: SocketAddr,
        rules: Vec<(String, Failure)>,
    ) -> io::Result<FailingResolver> {
        let rules = rules
            .into_iter()
            .map(|(zone, failure)| {
                let name = Name::from_ascii(format!("{}.", zone.trim_end_matches('.')))
                    .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
                Ok((name.to_lowercase(), failure))
            })
            .collect::<io::Result<Vec<_>>>()?;
        let socket = Arc::new(UdpSocket::bind(SocketAddr::new(bind, 0)).await?);
        let addr = socket.local_addr()?;
        let rules = Arc::new(rules);
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok((len, from)) = socket.recv_from(&mut buf).await {
                let query = buf[..len].to_vec();
                let (socket, rules) = (socket.clone(), rules.clone());
                tokio::spawn(async move {
                    if let Some(reply) = answer(&query, upstream, &rules).await {
                        let _ = socket.send_to(&reply, from).await;
                    }
                });
            }
        });
        Ok(FailingResolver { addr, task })
    }

    /// Where the relay answers.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FailingResolver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reply to one question: a SERVFAIL of our own, or the authoritative server's answer.
async fn answer(query: &[u8], upstream: SocketAddr, rules: &[(Name, Failure)]) -> Option<Vec<u8>> {
    let message = Message::from_vec(query).ok()?;
    let name = message.queries.first()?.name().to_lowercase();
    let cd = message.metadata.checking_disabled;
    let failure = rules
        .iter()
        .find(|(zone, _)| zone.zone_of(&name))
        .map(|(_, f)| *f);
    match failure {
        Some(Failure::Unreachable) => servfail(&message, 22),
        Some(Failure::BogusUnlessCd) if !cd => servfail(&message, 6),
        Some(Failure::StripSignatures) => strip(&relay(query, upstream).await?),
        _ => relay(query, upstream).await,
    }
}

fn servfail(query: &Message, ede: u16) -> Option<Vec<u8>> {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.checking_disabled = query.metadata.checking_disabled;
    reply.metadata.response_code = ResponseCode::ServFail;
    for q in &query.queries {
        reply.add_query(q.clone());
    }
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.options_mut()
        .insert(EdnsOption::Unknown(EDE_OPTION, ede.to_be_bytes().to_vec()));
    reply.edns = Some(edns);
    reply.to_vec().ok()
}

/// `reply` without RRSIG records in any section and without the AD bit.
fn strip(reply: &[u8]) -> Option<Vec<u8>> {
    let mut message = Message::from_vec(reply).ok()?;
    for section in [
        &mut message.answers,
        &mut message.authorities,
        &mut message.additionals,
    ] {
        section.retain(|r| r.record_type() != RecordType::RRSIG);
    }
    message.metadata.authentic_data = false;
    message.to_vec().ok()
}

async fn relay(query: &[u8], upstream: SocketAddr) -> Option<Vec<u8>> {
    let bind = SocketAddr::new(upstream.ip(), 0);
    let socket = UdpSocket::bind(bind).await.ok()?;
    socket.send_to(query, upstream).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let (len, _) = tokio::time::timeout(UPSTREAM_TIMEOUT, socket.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(len);
    Some(buf)
}
