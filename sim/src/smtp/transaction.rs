//! The mail transaction of a simulated peer's session (RFC 5321 §3.3, §4.1.1.2–§4.1.1.4):
//! MAIL FROM (with the SIZE parameter of RFC 1870), RCPT TO (at most
//! [`PeerOptions::max_recipients`](super::super::PeerOptions)), DATA with the message read
//! up to the lone `.` and dot-unstuffed (§4.5.2), then kept in the peer's mailbox. The
//! peer's [`Reception`](super::super::reception::Reception) may refuse recipients or fail the
//! transaction at MAIL, DATA or after the message. Paths are checked by the shared address
//! parser.

use std::time::SystemTime;

use sendguard_common::address::Address;
use tokio::io::{AsyncRead, AsyncWrite};

use super::super::mailbox::ReceivedMessage;
use super::super::reception::{Failure, Step};
use super::{Flow, Session};

/// A transaction after an accepted MAIL FROM.
pub(super) struct Transaction {
    /// The reverse path, empty for `<>`.
    mail_from: String,
    /// The accepted forward paths.
    rcpt_to: Vec<String>,
    /// How this transaction is to fail later (at DATA or after the message), if it is.
    failure: Option<Failure>,
}

/// A message read after DATA.
enum Message {
    /// The message, within the size limit.
    Data(Vec<u8>),
    /// It exceeded the size limit (and was read to its end all the same).
    TooBig,
    /// It went on past twice the size limit: not read further, the connection closes.
    Flood,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<'_, S> {
    /// MAIL FROM: starts a transaction after EHLO/HELO.
    pub(super) async fn mail(&mut self, args: &str) -> Flow {
        if self.ehlo.is_none() {
            return self.reply("503 5.5.1 Send EHLO/HELO first\r\n").await;
        }
        if self.transaction.is_some() {
            return self.reply("503 5.5.1 Nested MAIL command\r\n").await;
        }
        if self.shared.options.submission.is_some() && self.authenticated.is_none() {
            return self.reply("530 5.7.0 Authentication required\r\n").await;
        }
        let Some(from) = path_argument(args, "FROM:", true) else {
            return self
                .reply("501 5.5.4 Syntax: MAIL FROM:<address>\r\n")
                .await;
        };
        match declared_size(args) {
            Err(_) => return self.reply("501 5.5.4 Bad SIZE parameter\r\n").await,
            Ok(Some(size)) if size > self.shared.options.max_message => {
                return self
                    .reply("552 5.3.4 Message size exceeds fixed limit\r\n")
                    .await;
            }
            Ok(_) => {}
        }
        let index = self.shared.next_transaction();
        let failure = self.mode.reception.failure_of(index);
        if let Some(failure) = failure.filter(|f| f.step == Step::Mail) {
            return self.reply(failure.reply()).await;
        }
        self.transaction = Some(Transaction {
            mail_from: from,
            rcpt_to: Vec::new(),
            failure,
        });
        self.reply("250 2.1.0 Ok\r\n").await
    }

    /// RCPT TO: adds a recipient to the transaction, unless the reception refuses it.
    pub(super) async fn rcpt(&mut self, args: &str) -> Flow {
        let max = self.shared.options.max_recipients;
        let Some(transaction) = &mut self.transaction else {
            return self.reply("503 5.5.1 Need MAIL command\r\n").await;
        };
        let reply = match path_argument(args, "TO:", false) {
            None => "501 5.5.4 Syntax: RCPT TO:<address>\r\n",
            Some(to) if self.mode.reception.refuses(&to) => {
                "550 5.1.1 Recipient address rejected\r\n"
            }
            Some(_) if transaction.rcpt_to.len() >= max => "452 4.5.3 Too many recipients\r\n",
            Some(to) => {
                transaction.rcpt_to.push(to);
                "250 2.1.5 Ok\r\n"
            }
        };
        self.reply(reply).await
    }

    /// DATA: reads the message and keeps it, unless it is too big, the reception fails it or
    /// the mailbox is full. The transaction ends either way.
    pub(super) async fn data(&mut self, args: &str) -> Flow {
        if !args.is_empty() {
            return self.reply("501 5.5.4 Syntax: DATA\r\n").await;
        }
        match &self.transaction {
            None => return self.reply("503 5.5.1 Need MAIL command\r\n").await,
            Some(t) if t.rcpt_to.is_empty() => {
                return self.reply("503 5.5.1 Need RCPT command\r\n").await;
            }
            Some(_) => {}
        }
        let Some(transaction) = self.transaction.take() else {
            return Flow::Close;
        };
        let failure = transaction.failure;
        if let Some(failure) = failure.filter(|f| f.step == Step::Data) {
            return self.reply(failure.reply()).await;
        }
        if let Flow::Close = self.reply("354 End data with <CR><LF>.<CR><LF>\r\n").await {
            return Flow::Close;
        }
        let data = match self.message().await {
            None => return Flow::Close,
            Some(Message::Flood) => {
                self.reply("552 5.3.4 Message too big\r\n").await;
                return Flow::Close;
            }
            Some(Message::TooBig) => return self.reply("552 5.3.4 Message too big\r\n").await,
            Some(Message::Data(data)) => data,
        };
        if let Some(failure) = failure.filter(|f| f.step == Step::EndOfData) {
            return self.reply(failure.reply()).await;
        }
        let message = ReceivedMessage {
            mail_from: transaction.mail_from,
            rcpt_to: transaction.rcpt_to,
            data,
            tls: self.over_tls(),
            tls_facts: self.mode.tls,
            ehlo: self.ehlo.clone().unwrap_or_default(),
            received_at: SystemTime::now(),
            session: self.mode.id,
            auth: self.authenticated.clone(),
        };
        let stored = self.shared.mailbox().store(message, &self.shared.options);
        match stored {
            Ok(()) => self.reply("250 2.0.0 Ok: queued\r\n").await,
            Err(_) => {
                self.reply("452 4.3.1 Insufficient system storage\r\n")
                    .await
            }
        }
    }

    /// The message up to the lone dot, dot-unstuffed (RFC 5321 §4.5.2), each line ending as
    /// sent (CRLF, or a bare LF kept as one); `None` when the client is gone. Past the size
    /// limit the rest is read and dropped, up to as much again.
    async fn message(&mut self) -> Option<Message> {
        let max = self.shared.options.max_message;
        let mut data = Vec::new();
        let mut dropped = 0usize;
        loop {
            let line = self.raw_line().await?;
            if line == b".\r\n" || line == b".\n" {
                return Some(if dropped > 0 {
                    Message::TooBig
                } else {
                    Message::Data(data)
                });
            }
            let content = line.strip_prefix(b".").unwrap_or(&line);
            if dropped > 0 || data.len() + content.len() > max {
                dropped += content.len();
                if dropped > max {
                    return Some(Message::Flood);
                }
                continue;
            }
            data.extend_from_slice(content);
        }
    }
}

/// The address inside `<...>` after a `FROM:`/`TO:` prefix (RFC 5321 §4.1.1.2, §4.1.1.3),
/// checked by the shared address parser ([`sendguard_common::address::Address`]); the null
/// path `<>` only where `null_allowed` (MAIL FROM, RFC 5321 §4.5.5).
pub(in super::super) fn path_argument(
    args: &str,
    prefix: &str,
    null_allowed: bool,
) -> Option<String> {
    let head = args.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = args[prefix.len()..].trim_start();
    let path = rest.split_ascii_whitespace().next().unwrap_or("");
    let inner = path.strip_prefix('<')?.strip_suffix('>')?;
    if inner.is_empty() {
        return null_allowed.then(String::new);
    }
    Address::parse(inner).ok().map(|a| a.to_string())
}

/// The `SIZE=` parameter of MAIL FROM (RFC 1870 §6), if given; `Err` when it is not a number.
fn declared_size(args: &str) -> Result<Option<usize>, std::num::ParseIntError> {
    let params = args.split_ascii_whitespace().skip(1);
    for param in params {
        if let Some((key, value)) = param.split_once('=')
            && key.eq_ignore_ascii_case("SIZE")
        {
            return value.parse().map(Some);
        }
    }
    Ok(None)
}
