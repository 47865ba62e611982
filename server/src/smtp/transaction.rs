//! Delivering one message to one server: the probe's steps (greeting, EHLO, STARTTLS, the TLS
//! handshake, EHLO again, each with its own time limit, bounded replies, and the refusal of
//! bytes sent unasked around STARTTLS) followed by one mail transaction, MAIL FROM, RCPT TO per
//! recipient, DATA with the dot-stuffed message, QUIT (RFC 5321 §3.3, §4.1.1.2-§4.1.1.4,
//! §4.5.2; RFC 3207).
//!
//! One client for probing and delivery, instead of a second SMTP crate, so that a delivery sees a
//! server exactly as a probe does and its facts are observations like a probe's; mail-send's
//! reader, the closest crate, reads replies in chunks and drops what follows a reply in the same
//! chunk, so it cannot refuse bytes sent after the 220 to STARTTLS, and it has no deadline for the
//! whole session.
//!
//! [`relay`] runs the same session towards the operator's submission service (RFC 6409):
//! TLS required with a checked certificate, AUTH PLAIN over TLS ([`super::auth`]).
//!
//! Where TLS is required ([`TlsDemand::Required`]) nothing after EHLO is sent in plain text:
//! without STARTTLS, or when the upgrade fails, the session ends with QUIT (or is dropped) before
//! MAIL FROM. Where it is not, the message goes in plain text only when STARTTLS is not offered at
//! all: a failed upgrade is never followed by a plain-text retry (the protocol notes, "Delivery").

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::auth::{Credentials, authenticate};
use super::session::{ExchangeError, Session, TlsUpgrade, extensions_of, within};
use super::*;

/// How long the message itself may take to send and be answered (RFC 5321 §4.5.3.2.5-6: the
/// data block 3 minutes, the final reply 10 minutes), within the session's deadline.
pub const DATA_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether the session must be encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsDemand {
    /// TLS or nothing: without it the session ends before MAIL FROM.
    Required,
    /// TLS when STARTTLS is offered; plain text only when it is not offered at all.
    WhenOffered,
}

/// One message for one server: the envelope (RFC 5321 §2.3.1) and the message as built.
#[derive(Clone, Copy, Debug)]
pub struct Envelope<'a> {
    /// The reverse path, bare (`local@domain`), or empty for the null sender.
    pub mail_from: &'a str,
    /// The forward paths, bare, in the order their replies are answered.
    pub recipients: &'a [String],
    /// The message (RFC 5322, CRLF line ends); dot-stuffed while sent.
    pub data: &'a [u8],
}

/// What became of one recipient in the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientReply {
    /// The server took responsibility for it (RFC 5321 §4.2.5): the final reply.
    Accepted(String),
    /// It may work later: a 4yz reply, a timeout, the connection lost, a protocol violation.
    Temporary(String),
    /// The server refused it for good: a 5yz reply.
    Permanent(String),
}

/// How a delivery's session is protected: the handshake accepts any certificate (verifying the
/// handshake signatures, [`AcceptAnyCertificate`]) and records the chain, so the session's facts
/// are complete; the gate then decides, before MAIL FROM, whether the session is good enough.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryTls {
    /// The SNI name: the MX host (the TLSA base domain, RFC 7672 §8.1).
    pub sni: Option<String>,
    /// Whether TLS is required.
    pub demand: TlsDemand,
    /// Only TLS 1.3.
    pub tls13_only: bool,
}

/// Decides whether a session, as it stands before MAIL FROM, may carry the message; `Err`
/// says why not. Called after TLS was established (or not offered where it is not required).
pub type Gate<'a> = &'a (dyn Fn(&ProbeSession) -> Result<(), String> + Send + Sync);

/// One finished transaction, reported while the session goes on ([`deliver`]'s `report`), so
/// that the caller can make its outcome durable before the next message is sent: then a process
/// killed in the middle of a session delivers again only the transaction in flight.
#[derive(Debug)]
pub struct Finished {
    /// Which envelope.
    pub index: usize,
    /// Its replies, per recipient.
    pub replies: Vec<RecipientReply>,
    /// The session as it stands (its TLS), for the record.
    pub session: ProbeSession,
    /// Answered by the caller once the outcome is recorded, `true` to go on with the next
    /// message, `false` to end the session (the sender is stopping); the next transaction waits
    /// for it.
    pub recorded: tokio::sync::oneshot::Sender<bool>,
}

/// Where finished transactions are reported.
pub type Report = tokio::sync::mpsc::Sender<Finished>;

/// What a delivery attempt found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// What the session showed of the server, as a probe would have seen it.
    pub session: ProbeSession,
    /// Per envelope, per recipient, in the order given; `None` when no transaction was started
    /// because TLS was required or had failed (see `session`), or the gate refused the session.
    pub replies: Option<Vec<Vec<RecipientReply>>>,
    /// Why the gate refused the session, when it did.
    pub refused: Option<String>,
}

impl Delivery {
    /// No transaction: the upgrade failed as `failure` says.
    fn tls_failed(mut session: ProbeSession, failure: TlsFailure) -> Delivery {
        session.tls_failure = Some(failure);
        Delivery {
            session,
            replies: None,
            refused: None,
        }
    }
}

/// Step names of the transaction, after those of [`step`].
pub mod txn_step {
    /// MAIL FROM.
    pub const MAIL: &str = "MAIL FROM";
    /// RCPT TO.
    pub const RCPT: &str = "RCPT TO";
    /// The DATA command.
    pub const DATA: &str = "DATA";
    /// Sending the message and reading the final reply.
    pub const MESSAGE: &str = "message";
    /// RSET after a refused transaction.
    pub const RSET: &str = "RSET";
}

/// At most this many transactions in one session (like Postfix's
/// `smtp_connection_reuse_count_limit`): the rest go in the next session.
pub const MAX_TRANSACTIONS_PER_SESSION: usize = 100;

/// Delivers `envelopes` to the server at `addr` in one session, one transaction each (RFC 5321
/// §3.3: a new MAIL FROM after the previous transaction, RSET after a refused one), with the
/// protection `tls` asks for, once `gate` has accepted the session. At most
/// [`MAX_TRANSACTIONS_PER_SESSION`] envelopes.
///
/// `Err` only when the plain-text part failed (connection, greeting, EHLO): nothing was sent.
/// Otherwise the session's facts and, when transactions ran, each recipient's reply.
pub async fn deliver(
    addr: SocketAddr,
    tls: &DeliveryTls,
    gate: Gate<'_>,
    envelopes: &[Envelope<'_>],
    cfg: &SmtpConfig,
    report: Option<&Report>,
) -> Result<Delivery, SmtpError> {
    let params = TlsParams::accept_any(tls.sni.clone());
    let how = How {
        upgrade: TlsUpgrade::with_versions(params, addr, tls.tls13_only)?,
        demand: tls.demand,
        gate,
        auth: None,
    };
    run(addr, how, envelopes, cfg, report).await
}

/// Hands `envelopes` to the operator's submission service at `addr` (RFC 6409): STARTTLS
/// required, the certificate checked as `relay` says, then AUTH PLAIN when it has credentials
/// (RFC 4954, only ever over TLS), then one transaction per envelope as [`deliver`] runs them.
/// Without STARTTLS, or when the upgrade or the certificate fails, nothing after EHLO is sent
/// (no AUTH, no MAIL FROM) and [`Delivery::replies`] is `None`; a refused AUTH is a temporary
/// failure of every recipient (like Postfix's `smtp_sasl_auth_soft_bounce`: a wrong password
/// is the operator's to fix, not a reason to return the mail).
pub async fn relay(
    addr: SocketAddr,
    relay: &RelayTls,
    envelopes: &[Envelope<'_>],
    cfg: &SmtpConfig,
    report: Option<&Report>,
) -> Result<Delivery, SmtpError> {
    let params = TlsParams {
        sni: Some(relay.name.clone()),
        verifier: relay.verifier.clone(),
    };
    let how = How {
        upgrade: TlsUpgrade::new(params, addr)?,
        demand: TlsDemand::Required,
        gate: &|_| Ok(()),
        auth: relay.credentials.as_ref(),
    };
    run(addr, how, envelopes, cfg, report).await
}

/// How the operator's submission service is reached: the name its certificate must match, the
/// verifier that checks it (WebPKI roots or the operator's CA), and the account, if any.
#[derive(Clone, Debug)]
pub struct RelayTls {
    /// The relay's host name: SNI and the name the certificate must carry.
    pub name: String,
    /// Checks the relay's certificate (never one that accepts any).
    pub verifier: std::sync::Arc<dyn rustls::client::danger::ServerCertVerifier>,
    /// The submission account, when the relay asks for one.
    pub credentials: Option<Credentials>,
}

/// What a session does once it is open: the TLS upgrade, whether TLS is required, the gate
/// before MAIL FROM and the account to authenticate with over TLS.
struct How<'a> {
    upgrade: TlsUpgrade,
    demand: TlsDemand,
    gate: Gate<'a>,
    auth: Option<&'a Credentials>,
}

/// The session of [`deliver`] and [`relay`].
async fn run(
    addr: SocketAddr,
    how: How<'_>,
    envelopes: &[Envelope<'_>],
    cfg: &SmtpConfig,
    report: Option<&Report>,
) -> Result<Delivery, SmtpError> {
    if envelopes.len() > MAX_TRANSACTIONS_PER_SESSION {
        return Err(SmtpError::permanent(
            step::CONFIG,
            format!("more than {MAX_TRANSACTIONS_PER_SESSION} messages for one session"),
        ));
    }
    let (mut smtp, mut session) = open_session(addr, cfg).await?;
    if !session.starttls_offered {
        let mut delivery = Delivery {
            session,
            replies: None,
            refused: None,
        };
        // Never AUTH in plain text: an account means TLS is required.
        if how.demand == TlsDemand::WhenOffered && how.auth.is_none() {
            match (how.gate)(&delivery.session) {
                Ok(()) => {
                    let replies = transactions(&mut smtp, envelopes, &delivery.session, report);
                    delivery.replies = Some(replies.await);
                }
                Err(why) => delivery.refused = Some(why),
            }
        }
        smtp.quit().await;
        return Ok(delivery);
    }
    let ctx = smtp.ctx.clone();
    let tcp = match smtp.starttls().await {
        Ok(tcp) => tcp,
        Err(failure) => return Ok(Delivery::tls_failed(session, failure)),
    };
    let stream = match how
        .upgrade
        .handshake(tcp, cfg.tls_timeout, ctx.deadline)
        .await
    {
        Ok(stream) => stream,
        Err(failure) => return Ok(Delivery::tls_failed(session, failure)),
    };
    let mut tls_session = describe_tls(stream.get_ref().1);
    let mut smtp = Session::resume(stream, cfg, ctx);
    let ehlo = smtp.ehlo(step::EHLO_TLS).await;
    if let Ok(reply) = &ehlo
        && reply.is_positive()
    {
        tls_session.ehlo_after_tls = true;
        tls_session.extensions_after_tls = extensions_of(reply);
    }
    session.tls = Some(tls_session);
    let mut delivery = Delivery {
        session,
        replies: None,
        refused: None,
    };
    match ehlo {
        Ok(reply) if reply.is_positive() => match (how.gate)(&delivery.session) {
            Ok(()) => {
                let extensions = extensions_of(&reply);
                let authenticated = match how.auth {
                    Some(account) => authenticate(&mut smtp, account, &extensions).await,
                    None => Ok(()),
                };
                delivery.replies = Some(match authenticated {
                    Ok(()) => transactions(&mut smtp, envelopes, &delivery.session, report).await,
                    Err(refused) => each(envelopes, refused),
                });
            }
            Err(why) => delivery.refused = Some(why),
        },
        Ok(reply) => delivery.replies = Some(each(envelopes, negative(step::EHLO_TLS, &reply))),
        Err(err) => delivery.replies = Some(each(envelopes, broken(&err))),
    }
    smtp.quit().await;
    Ok(delivery)
}

/// Why an envelope cannot be sent: a path that could break the command line (the submission's
/// parser admits none), or no recipient.
fn bad_envelope(envelope: &Envelope<'_>) -> Option<String> {
    let bad = |p: &str| {
        p.bytes()
            .any(|b| b <= b' ' || b == b'<' || b == b'>' || b == 0x7f)
    };
    if let Some(p) = std::iter::once(envelope.mail_from)
        .chain(envelope.recipients.iter().map(String::as_str))
        .find(|p| bad(p))
    {
        return Some(format!("path {p:?} cannot be sent in an SMTP command"));
    }
    envelope
        .recipients
        .is_empty()
        .then(|| "no recipients".to_string())
}

/// The same reply for every recipient of every envelope.
fn each(envelopes: &[Envelope<'_>], reply: RecipientReply) -> Vec<Vec<RecipientReply>> {
    envelopes.iter().map(|e| all(e, reply.clone())).collect()
}

/// One transaction per envelope, in order; after one that broke the connection, the rest are
/// temporary failures without a try, and after a refused one RSET clears the state (RFC 5321
/// §4.1.1.5). Each tried transaction is reported to `report`, and the next waits until the
/// report was answered.
async fn transactions<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: &mut Session<'_, S>,
    envelopes: &[Envelope<'_>],
    session: &ProbeSession,
    report: Option<&Report>,
) -> Vec<Vec<RecipientReply>> {
    let mut out = Vec::with_capacity(envelopes.len());
    let mut lost: Option<String> = None;
    for (index, envelope) in envelopes.iter().enumerate() {
        if let Some(why) = &lost {
            out.push(all(envelope, RecipientReply::Temporary(why.clone())));
            continue;
        }
        if let Some(why) = bad_envelope(envelope) {
            out.push(all(envelope, RecipientReply::Permanent(why)));
            continue;
        }
        let (replies, state) = transaction(smtp, envelope).await;
        if let Some(report) = report {
            let (recorded, wait) = tokio::sync::oneshot::channel();
            let finished = Finished {
                index,
                replies: replies.clone(),
                session: session.clone(),
                recorded,
            };
            // A caller that stopped listening has what it needs from the returned replies.
            if report.send(finished).await.is_ok() && wait.await == Ok(false) {
                lost = Some("not tried: the sender is stopping".into());
            }
        }
        out.push(replies);
        match state {
            After::Done => {}
            After::Refused => {
                let limit = smtp.cfg.command_timeout;
                match smtp.command(txn_step::RSET, "RSET", limit).await {
                    Ok(reply) if reply.is_positive() => {}
                    _ => lost = Some("not tried: the server did not accept RSET".into()),
                }
            }
            After::Broken => {
                lost = Some("not tried: the session broke off in an earlier message".into())
            }
        }
    }
    out
}

/// How the session stands after a transaction.
enum After {
    /// Ended by the final reply: ready for the next MAIL FROM.
    Done,
    /// Refused before its end (MAIL, every RCPT, DATA): RSET before the next.
    Refused,
    /// The connection broke or the server broke the protocol: no more on it.
    Broken,
}

/// The same reply for every recipient.
fn all(envelope: &Envelope<'_>, reply: RecipientReply) -> Vec<RecipientReply> {
    vec![reply; envelope.recipients.len()]
}

/// A negative reply to `step`: 4yz temporary, anything else permanent (RFC 5321 §4.2.1).
fn negative(step: &str, reply: &Reply) -> RecipientReply {
    let text = format!("{step}: {}", reply.summary());
    if reply.is_transient() {
        RecipientReply::Temporary(text)
    } else {
        RecipientReply::Permanent(text)
    }
}

/// A transaction that broke off (timeout, connection lost, a reply beyond the limits): always
/// temporary, because only a server's 5yz reply says that trying again is pointless.
fn broken(err: &SmtpError) -> RecipientReply {
    RecipientReply::Temporary(err.to_string())
}

/// MAIL FROM, RCPT TO per recipient, DATA and the message (RFC 5321 §3.3), one command at a
/// time; the replies per recipient, and how the session stands.
async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: &mut Session<'_, S>,
    envelope: &Envelope<'_>,
) -> (Vec<RecipientReply>, After) {
    let limit = smtp.cfg.command_timeout;
    let mail = format!("MAIL FROM:<{}>", envelope.mail_from);
    match smtp.command(txn_step::MAIL, &mail, limit).await {
        Ok(reply) if reply.is_positive() => {}
        Ok(reply) => {
            return (
                all(envelope, negative(txn_step::MAIL, &reply)),
                After::Refused,
            );
        }
        Err(err) => return (all(envelope, broken(&err)), After::Broken),
    }
    // `None`: accepted so far; `Some`: refused with this reply.
    let mut refused: Vec<Option<RecipientReply>> = Vec::with_capacity(envelope.recipients.len());
    for rcpt in envelope.recipients {
        let line = format!("RCPT TO:<{rcpt}>");
        match smtp.command(txn_step::RCPT, &line, limit).await {
            Ok(reply) if reply.is_positive() => refused.push(None),
            Ok(reply) => refused.push(Some(negative(txn_step::RCPT, &reply))),
            Err(err) => return (all(envelope, broken(&err)), After::Broken),
        }
    }
    if refused.iter().all(Option::is_some) {
        return (refused.into_iter().flatten().collect(), After::Refused);
    }
    let (outcome, after) = match smtp.command(txn_step::DATA, "DATA", limit).await {
        Ok(reply) if reply.code == 354 => send_message(smtp, envelope.data).await,
        Ok(reply) => (negative(txn_step::DATA, &reply), After::Refused),
        Err(err) => (broken(&err), After::Broken),
    };
    let replies = refused
        .into_iter()
        .map(|r| r.unwrap_or_else(|| outcome.clone()))
        .collect();
    (replies, after)
}

/// Sends the message dot-stuffed and terminated (RFC 5321 §4.5.2, §4.1.1.4) and reads the
/// final reply, within [`DATA_TIMEOUT`] and the session's deadline.
async fn send_message<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: &mut Session<'_, S>,
    data: &[u8],
) -> (RecipientReply, After) {
    let stuffed = dot_stuff(data);
    let limits = smtp.cfg.limits();
    let reader = &mut smtp.reader;
    let result = within(DATA_TIMEOUT, smtp.ctx.deadline, async move {
        let stream = reader.get_mut();
        stream.write_all(&stuffed).await?;
        stream.flush().await?;
        reader.read_reply(limits).await
    })
    .await;
    match result {
        Ok(reply) if reply.is_positive() => {
            (RecipientReply::Accepted(reply.summary()), After::Done)
        }
        // A refusal after the message ends the transaction too (RFC 5321 §4.1.1.4).
        Ok(reply) => (negative(txn_step::MESSAGE, &reply), After::Done),
        // The message may have arrived although its reply did not (RFC 1047): the one case in
        // which a retry can deliver twice.
        Err(ExchangeError::Reply(err)) if err.is_transport() => (
            RecipientReply::Temporary(format!(
                "{}: connection lost before the final reply: {err}",
                txn_step::MESSAGE
            )),
            After::Broken,
        ),
        Err(err) => (broken(&err.into_smtp(txn_step::MESSAGE)), After::Broken),
    }
}

/// The message as sent after DATA: every line ended by CRLF (a bare LF too, RFC 5321 §2.3.8),
/// a leading dot doubled (§4.5.2), then the terminating `.` line.
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 5);
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    if !data.is_empty() {
        for line in body.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_lines_with_crlf() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n"), b"a\r\n..b\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\n.\nc"), b"a\r\n..\r\nc\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(dot_stuff(b"x"), b"x\r\n.\r\n");
    }

    #[test]
    fn paths_that_would_break_a_command_are_refused() {
        let rcpt = vec!["a@b.example".to_string()];
        let ok = Envelope {
            mail_from: "",
            recipients: &rcpt,
            data: b"",
        };
        assert_eq!(bad_envelope(&ok), None);
        let injected = vec!["a@b.example>\r\nRSET".to_string()];
        let bad = Envelope {
            recipients: &injected,
            ..ok
        };
        assert!(bad_envelope(&bad).is_some());
        let none = Envelope {
            recipients: &[],
            ..ok
        };
        assert!(bad_envelope(&none).is_some());
    }
}
