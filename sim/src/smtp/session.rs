//! The command loop of one SMTP session of a simulated peer (RFC 5321 §4.1), before or after
//! TLS: EHLO/HELO, STARTTLS (RFC 3207), the mail transaction (MAIL/RCPT/DATA, in
//! `transaction`), RSET, NOOP, VRFY and QUIT, each in the order RFC 5321 §4.1.4 requires (503
//! otherwise, 501 for bad arguments), and AUTH on a submission peer (in `auth`). Each command is one method of [`Session`] and is logged
//! in the peer's mailbox with whether it came over TLS; the loop only reads and dispatches.

#[path = "auth.rs"]
mod auth;
#[path = "transaction.rs"]
mod transaction;

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::Shared;
use super::behaviour::TlsOffer;
use super::io::{Line, multi_line, read_line, read_raw_line, write};
use super::mailbox::{TlsFacts, Verb};
use super::reception::Reception;
use transaction::Transaction;

#[cfg(test)]
pub(super) use transaction::path_argument;

/// A session asks its caller to start TLS on the plain stream.
pub(super) struct Upgrade<S>(pub(super) S);

/// How a session starts.
pub(super) struct Mode {
    /// The connection's number at the peer (its session log).
    pub(super) id: usize,
    /// Whether EHLO is understood (an old server answers it with 500).
    pub(super) esmtp: bool,
    /// What STARTTLS does.
    pub(super) offer: TlsOffer,
    /// The TLS the session runs over, if it does.
    pub(super) tls: Option<TlsFacts>,
    /// Whether the greeting was 554: everything but QUIT gets 503 (RFC 5321 §3.1).
    pub(super) rejected: bool,
    /// What happens to the mail offered.
    pub(super) reception: Reception,
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
    /// The name from the last EHLO/HELO; `None` before one.
    ehlo: Option<String>,
    /// The transaction in progress, after an accepted MAIL FROM.
    transaction: Option<Transaction>,
    /// The user who authenticated in this session (AUTH), if one did.
    authenticated: Option<String>,
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
        ehlo: None,
        transaction: None,
        authenticated: None,
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
    /// The next line without its ending; `None` when the client is gone or the line was too
    /// long (answered with 500 before closing).
    async fn line(&mut self) -> Option<Vec<u8>> {
        let line = read_line(&mut self.reader, &self.shared.options).await;
        self.checked(line).await
    }

    /// The next line with its ending as sent, for message data; `None` as for `line`.
    async fn raw_line(&mut self) -> Option<Vec<u8>> {
        let line = read_raw_line(&mut self.reader, &self.shared.options).await;
        self.checked(line).await
    }

    /// The text of a line read, or `None` after answering a line too long.
    async fn checked(&mut self, line: Line) -> Option<Vec<u8>> {
        match line {
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
        let (word, args) = match line.split_once(' ') {
            Some((v, a)) => (v, a.trim()),
            None => (line.trim(), ""),
        };
        let verb = Verb::parse(word);
        self.shared
            .mailbox()
            .command(self.mode.id, verb, self.mode.tls.is_some());
        if self.mode.rejected && verb != Verb::Quit {
            return self.reply("503 5.5.1 No SMTP service here\r\n").await;
        }
        match verb {
            Verb::Ehlo => self.ehlo(args).await,
            Verb::Helo => self.helo(args).await,
            Verb::StartTls => self.starttls().await,
            Verb::Mail => self.mail(args).await,
            Verb::Rcpt => self.rcpt(args).await,
            Verb::Data => self.data(args).await,
            Verb::Rset => {
                self.transaction = None;
                self.reply("250 2.0.0 Ok\r\n").await
            }
            Verb::Noop => self.reply("250 2.0.0 Ok\r\n").await,
            Verb::Vrfy => self.reply("252 2.0.0 Cannot VRFY user\r\n").await,
            Verb::Quit => self.quit().await,
            Verb::Auth => self.auth(args).await,
            Verb::Unknown => self.reply("500 5.5.2 Command unrecognized\r\n").await,
        }
    }

    /// Whether the session runs over TLS.
    fn over_tls(&self) -> bool {
        self.mode.tls.is_some()
    }

    /// EHLO: the extensions, STARTTLS among them before TLS when offered (RFC 3207 §4.2:
    /// not again over TLS).
    async fn ehlo(&mut self, args: &str) -> Flow {
        if !self.mode.esmtp {
            return self.reply("500 5.5.1 Command unrecognized\r\n").await;
        }
        if args.is_empty() {
            return self.reply("501 5.5.4 Syntax: EHLO domain\r\n").await;
        }
        self.ehlo = Some(args.to_string());
        self.transaction = None;
        let opts = &self.shared.options;
        let mut lines = vec![
            format!("{} greets {}", opts.hostname, args),
            "PIPELINING".to_string(),
            format!("SIZE {}", opts.max_message),
            "8BITMIME".to_string(),
        ];
        if self.mode.offer.advertised() && !self.over_tls() {
            lines.push("STARTTLS".to_string());
        }
        if self.offers_auth() {
            lines.push("AUTH PLAIN".to_string());
        }
        self.reply(&multi_line(250, &lines)).await
    }

    /// HELO: no extensions.
    async fn helo(&mut self, args: &str) -> Flow {
        if args.is_empty() {
            return self.reply("501 5.5.4 Syntax: HELO domain\r\n").await;
        }
        self.ehlo = Some(args.to_string());
        self.transaction = None;
        let text = format!("250 {}\r\n", self.shared.options.hostname);
        self.reply(&text).await
    }

    /// STARTTLS as the offer says: not available, refused, broken or accepted.
    async fn starttls(&mut self) -> Flow {
        if self.over_tls() {
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

    /// QUIT: 221, then the connection is shut down.
    async fn quit(&mut self) -> Flow {
        if let Flow::Next = self.reply("221 2.0.0 Bye\r\n").await {
            let timeout = self.shared.options.io_timeout;
            let _ = tokio::time::timeout(timeout, self.reader.get_mut().shutdown()).await;
        }
        Flow::Close
    }
}
