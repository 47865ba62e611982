//! The command loop of one SMTP session of a simulated peer (RFC 5321 §4.1), before or after
//! TLS: EHLO/HELO, STARTTLS (RFC 3207), MAIL/RCPT/DATA with the messages stored, RSET, NOOP,
//! VRFY and QUIT, each in the order RFC 5321 §4.1.4 requires (503 otherwise). Each command is
//! one method of [`Session`]; the loop only reads and dispatches.

use std::time::Duration;

use sendguard_common::address::Address;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::behaviour::TlsOffer;
use super::io::{Line, multi_line, read_line, write};
use super::{ReceivedMessage, Shared};

/// The most recipients one transaction accepts (RFC 5321 §4.5.3.1.8 asks for at least 100).
const MAX_RECIPIENTS: usize = 100;

/// A session asks its caller to start TLS on the plain stream.
pub(super) struct Upgrade<S>(pub(super) S);

/// How a session starts.
pub(super) struct Mode {
    /// Whether EHLO is understood (an old server answers it with 500).
    pub(super) esmtp: bool,
    /// What STARTTLS does.
    pub(super) offer: TlsOffer,
    /// Whether the session already runs over TLS.
    pub(super) tls: bool,
    /// Whether the greeting was 554: everything but QUIT gets 503 (RFC 5321 §3.1).
    pub(super) rejected: bool,
}

/// A message read after DATA.
enum Message {
    /// The message, within the size limit.
    Data(Vec<u8>),
    /// It exceeded the size limit (and was read to its end all the same).
    TooBig,
}

/// What the loop does after a command.
enum Flow {
    /// Read the next command.
    Next,
    /// Close the connection.
    Close,
    /// Hand the plain stream back for the TLS handshake.
    StartTls,
}

/// One session's state.
struct Session<'a, S> {
    reader: BufReader<S>,
    mode: Mode,
    shared: &'a Shared,
    greeted: bool,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

/// Runs the command loop of one (plain or TLS) session. Returns the plain stream when the
/// client issued STARTTLS and the peer agreed (buffered input is discarded, RFC 3207 §4.2).
pub(super) async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    mode: Mode,
    shared: &Shared,
) -> Option<Upgrade<S>> {
    let mut session = Session {
        reader: BufReader::new(stream),
        mode,
        shared,
        greeted: false,
        mail_from: None,
        rcpt_to: Vec::new(),
    };
    loop {
        let line = match session.line().await {
            Some(line) => String::from_utf8_lossy(&line).into_owned(),
            None => return None,
        };
        match session.command(&line).await {
            Flow::Next => {}
            Flow::Close => return None,
            // Dropping the BufReader discards anything the client pipelined after STARTTLS
            // (RFC 3207 §4.2, CVE-2011-0411).
            Flow::StartTls => return Some(Upgrade(session.reader.into_inner())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<'_, S> {
    /// The next line; `None` when the client is gone or the line was too long (answered
    /// with 500 before closing).
    async fn line(&mut self) -> Option<Vec<u8>> {
        match read_line(&mut self.reader, &self.shared.options).await {
            Line::Text(line) => Some(line),
            Line::TooLong => {
                self.reply("500 5.5.2 Line too long\r\n").await;
                None
            }
            Line::Gone => None,
        }
    }

    /// Sends a reply; closes when it cannot be sent.
    async fn reply(&mut self, text: &str) -> Flow {
        match write(self.reader.get_mut(), text.as_bytes(), &self.shared.options).await {
            Ok(()) => Flow::Next,
            Err(_) => Flow::Close,
        }
    }

    /// Dispatches one command line.
    async fn command(&mut self, line: &str) -> Flow {
        let (verb, args) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_string()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };
        if self.mode.rejected && verb != "QUIT" {
            return self.reply("503 5.5.1 No SMTP service here\r\n").await;
        }
        match verb.as_str() {
            "EHLO" => self.ehlo(&args).await,
            "HELO" => self.helo().await,
            "STARTTLS" => self.starttls().await,
            "MAIL" => self.mail(&args).await,
            "RCPT" => self.rcpt(&args).await,
            "DATA" => self.data().await,
            "RSET" => {
                self.reset();
                self.reply("250 2.0.0 Ok\r\n").await
            }
            "NOOP" => self.reply("250 2.0.0 Ok\r\n").await,
            "VRFY" => self.reply("252 2.0.0 Cannot VRFY user\r\n").await,
            "QUIT" => self.quit().await,
            _ => self.reply("500 5.5.2 Command unrecognized\r\n").await,
        }
    }

    /// Forgets the transaction in progress.
    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }

    /// EHLO: the extensions, STARTTLS among them before TLS when offered (RFC 3207 §4.2:
    /// not again over TLS).
    async fn ehlo(&mut self, args: &str) -> Flow {
        if !self.mode.esmtp {
            return self.reply("500 5.5.1 Command unrecognized\r\n").await;
        }
        self.greeted = true;
        self.reset();
        let opts = &self.shared.options;
        let mut lines = vec![
            format!("{} greets {}", opts.hostname, args),
            "PIPELINING".to_string(),
            format!("SIZE {}", opts.max_message),
            "8BITMIME".to_string(),
        ];
        if self.mode.offer.advertised() && !self.mode.tls {
            lines.push("STARTTLS".to_string());
        }
        self.reply(&multi_line(250, &lines)).await
    }

    /// HELO: no extensions.
    async fn helo(&mut self) -> Flow {
        self.greeted = true;
        self.reset();
        let text = format!("250 {}\r\n", self.shared.options.hostname);
        self.reply(&text).await
    }

    /// STARTTLS as the offer says: not available, refused, broken or accepted.
    async fn starttls(&mut self) -> Flow {
        if self.mode.tls {
            return self.reply("503 5.5.1 TLS already active\r\n").await;
        }
        match &self.mode.offer {
            TlsOffer::None => self.reply("502 5.5.1 STARTTLS not available\r\n").await,
            TlsOffer::RefuseWith(reply) => {
                let line = format!("{reply}\r\n");
                self.reply(&line).await
            }
            TlsOffer::Garbage => {
                let mut bytes = b"220 2.0.0 Ready to start TLS\r\n".to_vec();
                bytes.extend_from_slice(&[0x5a; 512]);
                let _ = write(self.reader.get_mut(), &bytes, &self.shared.options).await;
                Flow::Close
            }
            TlsOffer::Refuse | TlsOffer::Unavailable => {
                self.reply("454 4.7.0 TLS not available due to temporary reason\r\n")
                    .await
            }
            TlsOffer::Broken => {
                if let Flow::Close = self.reply("220 2.0.0 Ready to start TLS\r\n").await {
                    return Flow::Close;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = write(
                    self.reader.get_mut(),
                    b"this is not TLS\r\n",
                    &self.shared.options,
                )
                .await;
                Flow::Close
            }
            TlsOffer::Serve(_) | TlsOffer::Reset => {
                match self.reply("220 2.0.0 Ready to start TLS\r\n").await {
                    Flow::Next => Flow::StartTls,
                    other => other,
                }
            }
        }
    }

    /// MAIL FROM: starts a transaction after EHLO/HELO.
    async fn mail(&mut self, args: &str) -> Flow {
        if !self.greeted {
            return self.reply("503 5.5.1 Send EHLO/HELO first\r\n").await;
        }
        if self.mail_from.is_some() {
            return self.reply("503 5.5.1 Nested MAIL command\r\n").await;
        }
        match path_argument(args, "FROM:", true) {
            Some(from) => {
                self.mail_from = Some(from);
                self.rcpt_to.clear();
                self.reply("250 2.1.0 Ok\r\n").await
            }
            None => {
                self.reply("501 5.5.4 Syntax: MAIL FROM:<address>\r\n")
                    .await
            }
        }
    }

    /// RCPT TO: adds a recipient to the transaction.
    async fn rcpt(&mut self, args: &str) -> Flow {
        if self.mail_from.is_none() {
            return self.reply("503 5.5.1 Need MAIL command\r\n").await;
        }
        match path_argument(args, "TO:", false) {
            Some(to) if self.rcpt_to.len() < MAX_RECIPIENTS => {
                self.rcpt_to.push(to);
                self.reply("250 2.1.5 Ok\r\n").await
            }
            Some(_) => self.reply("452 4.5.3 Too many recipients\r\n").await,
            None => self.reply("501 5.5.4 Syntax: RCPT TO:<address>\r\n").await,
        }
    }

    /// DATA: reads the message and stores it, unless it is too big.
    async fn data(&mut self) -> Flow {
        if self.rcpt_to.is_empty() {
            return self.reply("503 5.5.1 Need RCPT command\r\n").await;
        }
        if let Flow::Close = self.reply("354 End data with <CR><LF>.<CR><LF>\r\n").await {
            return Flow::Close;
        }
        let Some(message) = self.message().await else {
            return Flow::Close;
        };
        let mail_from = self.mail_from.take().unwrap_or_default();
        let rcpt_to = std::mem::take(&mut self.rcpt_to);
        let Message::Data(data) = message else {
            return self.reply("552 5.3.4 Message too big\r\n").await;
        };
        self.shared
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ReceivedMessage {
                mail_from,
                rcpt_to,
                data,
                tls: self.mode.tls,
            });
        self.reply("250 2.0.0 Ok: queued\r\n").await
    }

    /// The message up to the lone dot, dot-unstuffed (RFC 5321 §4.5.2), lines ending in CRLF;
    /// `None` when the client is gone.
    async fn message(&mut self) -> Option<Message> {
        let max = self.shared.options.max_message;
        let mut data = Vec::new();
        let mut too_big = false;
        loop {
            let line = self.line().await?;
            if line == b"." {
                return Some(if too_big {
                    Message::TooBig
                } else {
                    Message::Data(data)
                });
            }
            let content = line.strip_prefix(b".").unwrap_or(&line);
            if data.len() + content.len() + 2 > max {
                too_big = true;
                continue;
            }
            data.extend_from_slice(content);
            data.extend_from_slice(b"\r\n");
        }
    }

    /// QUIT: 221, then the connection is shut down.
    async fn quit(&mut self) -> Flow {
        if let Flow::Next = self.reply("221 2.0.0 Bye\r\n").await {
            let timeout = self.shared.options.io_timeout;
            let _ = tokio::time::timeout(timeout, self.reader.get_mut().shutdown()).await;
        }
        Flow::Close
    }
}

/// The address inside `<...>` after a `FROM:`/`TO:` prefix (RFC 5321 §4.1.1.2, §4.1.1.3),
/// checked by the shared address parser ([`sendguard_common::address::Address`]); the null
/// path `<>` only where `null_allowed` (MAIL FROM, RFC 5321 §4.5.5).
pub(super) fn path_argument(args: &str, prefix: &str, null_allowed: bool) -> Option<String> {
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
