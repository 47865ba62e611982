//! The SMTP client's protocol steps, one method per step on a [`Session`] over any stream,
//! each within its own named timeout and all within one deadline for the whole session
//! (RFC 5321 §3.1, §4.1.1, §4.5.3.2; RFC 3207 for STARTTLS), and the TLS upgrade
//! ([`TlsUpgrade`]). `probe` in the parent module strings them together; a delivery client can
//! reuse the same steps.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

/// The longest we wait for the answer to QUIT: the probe is done, the reply is a courtesy.
pub(super) const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// How one exchange with the server failed, before it is given a step and a class.
#[derive(Debug)]
pub(super) enum ExchangeError {
    /// No complete reply within the step's time limit.
    Timeout(Duration),
    /// The session's overall deadline ([`SmtpConfig::session_timeout`]) passed first.
    Deadline(Duration),
    /// The reply could not be read.
    Reply(ReplyError),
}

impl ExchangeError {
    pub(super) fn into_smtp(self, step: &'static str) -> SmtpError {
        match self {
            ExchangeError::Timeout(limit) => {
                SmtpError::temporary(step, format!("no complete reply within {limit:?}"))
            }
            ExchangeError::Deadline(limit) => SmtpError::temporary(step, deadline_passed(limit)),
            ExchangeError::Reply(err) => SmtpError::from_reply(step, err),
        }
    }
}

/// The words for a session that ran out of its overall time.
pub(super) fn deadline_passed(limit: Duration) -> String {
    format!("the session's deadline of {limit:?} passed")
}

/// When the whole session must be over, and how long that was.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    /// The deadline `limit` from now.
    pub(super) fn after(limit: Duration) -> Self {
        Deadline {
            at: Instant::now() + limit,
            limit,
        }
    }

    /// The time a step with its own `limit` may take: its limit or what is left of the
    /// session, whichever is shorter; `true` when the session's deadline is the shorter.
    pub(super) fn cap(&self, limit: Duration) -> (Duration, bool) {
        let left = self.at.saturating_duration_since(Instant::now());
        if left < limit {
            (left, true)
        } else {
            (limit, false)
        }
    }
}

/// Runs one exchange (a read, or a write and a read) within `limit` and the session's
/// deadline.
pub(super) async fn within<T>(
    limit: Duration,
    deadline: Deadline,
    exchange: impl Future<Output = Result<T, ReplyError>>,
) -> Result<T, ExchangeError> {
    let (allowed, capped) = deadline.cap(limit);
    match tokio::time::timeout(allowed, exchange).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(ExchangeError::Reply(err)),
        Err(_) if capped => Err(ExchangeError::Deadline(deadline.limit)),
        Err(_) => Err(ExchangeError::Timeout(limit)),
    }
}

/// What the server answered to EHLO or, after a refused EHLO, to HELO.
#[derive(Debug)]
pub(super) struct Hello {
    /// Whether EHLO was accepted (ESMTP).
    pub(super) esmtp: bool,
    /// The EHLO keywords with their parameters (empty after HELO).
    pub(super) extensions: Vec<String>,
    /// The server's 5yz reply to EHLO when it then accepted HELO (no ESMTP).
    pub(super) ehlo_refused: Option<String>,
}

/// What a session keeps across the TLS upgrade: the name it announces and its deadline.
#[derive(Clone, Debug)]
pub(super) struct SessionContext {
    /// The argument of EHLO/HELO on this connection.
    pub(super) helo: String,
    /// When the whole session must be over.
    pub(super) deadline: Deadline,
    /// Our end of the connection.
    pub(super) local: IpAddr,
}

/// One SMTP session (plain or TLS): the connection with its buffered, bounded reader and the
/// settings every step reads. Each protocol step is one method with its own time limit and
/// step name, all within the session's deadline, so a delivery client (MAIL, RCPT, DATA) can
/// reuse them and add its own commands with [`Session::command`].
pub(super) struct Session<'c, S> {
    pub(super) reader: reply::ReplyReader<S>,
    pub(super) cfg: &'c SmtpConfig,
    pub(super) ctx: SessionContext,
}

impl<'c> Session<'c, TcpStream> {
    /// Opens the TCP connection (RFC 5321 §3.1) within the connect timeout; the session's
    /// deadline starts now.
    pub(super) async fn connect(addr: SocketAddr, cfg: &'c SmtpConfig) -> Result<Self, SmtpError> {
        let deadline = Deadline::after(cfg.session_timeout);
        let (allowed, capped) = deadline.cap(cfg.connect_timeout);
        let tcp = match tokio::time::timeout(allowed, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(err)) => return Err(SmtpError::temporary(step::CONNECT, connect_error(&err))),
            Err(_) => {
                let detail = if capped {
                    deadline_passed(cfg.session_timeout)
                } else {
                    format!("no connection within {:?}", cfg.connect_timeout)
                };
                return Err(SmtpError::temporary(step::CONNECT, detail));
            }
        };
        let _ = tcp.set_nodelay(true);
        let local = tcp
            .local_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let ctx = SessionContext {
            helo: cfg.helo_name.argument(local),
            deadline,
            local,
        };
        Ok(Session::resume(tcp, cfg, ctx))
    }
}

impl<'c, S: AsyncRead + AsyncWrite + Unpin> Session<'c, S> {
    /// A session over `stream` from `local`, its deadline starting now.
    #[cfg(test)]
    pub(super) fn new(stream: S, cfg: &'c SmtpConfig, local: IpAddr) -> Self {
        let ctx = SessionContext {
            helo: cfg.helo_name.argument(local),
            deadline: Deadline::after(cfg.session_timeout),
            local,
        };
        Session::resume(stream, cfg, ctx)
    }

    /// The session continued over `stream` (after the TLS upgrade: same name, same deadline).
    pub(super) fn resume(stream: S, cfg: &'c SmtpConfig, ctx: SessionContext) -> Self {
        Session {
            reader: reply::ReplyReader::new(stream),
            cfg,
            ctx,
        }
    }

    /// Reads one reply within `limit`.
    pub(super) async fn read_reply(
        &mut self,
        step: &'static str,
        limit: Duration,
    ) -> Result<Reply, SmtpError> {
        within(
            limit,
            self.ctx.deadline,
            self.reader.read_reply(self.cfg.limits()),
        )
        .await
        .map_err(|e| e.into_smtp(step))
    }

    /// Sends one command line and reads its reply, all within `limit`.
    pub(super) async fn exchange(
        &mut self,
        line: &str,
        limit: Duration,
    ) -> Result<Reply, ExchangeError> {
        let limits = self.cfg.limits();
        let reader = &mut self.reader;
        within(limit, self.ctx.deadline, async move {
            let stream = reader.get_mut();
            stream.write_all(format!("{line}\r\n").as_bytes()).await?;
            stream.flush().await?;
            reader.read_reply(limits).await
        })
        .await
    }

    /// Like [`Session::exchange`], failures named after `step`.
    pub(super) async fn command(
        &mut self,
        step: &'static str,
        line: &str,
        limit: Duration,
    ) -> Result<Reply, SmtpError> {
        self.exchange(line, limit)
            .await
            .map_err(|e| e.into_smtp(step))
    }

    /// The greeting (RFC 5321 §3.1, §4.3.2): 220, or 554 when the server will not talk to us,
    /// complete within the greeting timeout. Any other code ends the session with QUIT.
    pub(super) async fn greeting(&mut self) -> Result<Reply, SmtpError> {
        let greeting = self
            .read_reply(step::GREETING, self.cfg.greeting_timeout)
            .await?;
        if greeting.code == 220 {
            return Ok(greeting);
        }
        let err = if greeting.is_positive() {
            SmtpError::permanent(
                step::GREETING,
                format!("unexpected greeting {}", greeting.summary()),
            )
        } else {
            SmtpError::from_negative(step::GREETING, &greeting)
        };
        Err(self.quit_with(err).await)
    }

    /// EHLO with our name (RFC 5321 §4.1.1.1) within the command timeout, failures named
    /// after `step` (EHLO is sent again over TLS).
    pub(super) async fn ehlo(&mut self, step: &'static str) -> Result<Reply, SmtpError> {
        let line = format!("EHLO {}", self.ctx.helo);
        self.command(step, &line, self.cfg.command_timeout).await
    }

    /// EHLO, falling back to HELO when the server refuses EHLO with 5yz (RFC 5321 §3.2,
    /// §4.1.1.1); the refusal is kept ([`Hello::ehlo_refused`]). A refusal of HELO ends the
    /// session with QUIT. A server that refused EHLO with 5yz and then drops the connection
    /// has refused us for good: that failure is permanent.
    pub(super) async fn hello(&mut self) -> Result<Hello, SmtpError> {
        let ehlo = self.ehlo(step::EHLO).await?;
        if ehlo.is_positive() {
            return Ok(Hello {
                esmtp: true,
                extensions: extensions_of(&ehlo),
                ehlo_refused: None,
            });
        }
        if !ehlo.is_permanent() {
            let err = SmtpError::from_negative(step::EHLO, &ehlo);
            return Err(self.quit_with(err).await);
        }
        let line = format!("HELO {}", self.ctx.helo);
        let helo = match self.exchange(&line, self.cfg.command_timeout).await {
            Ok(reply) => reply,
            Err(ExchangeError::Reply(err)) if err.is_transport() => {
                return Err(SmtpError::permanent(
                    step::HELO,
                    format!("EHLO refused ({}), then {err}", ehlo.summary()),
                ));
            }
            Err(err) => return Err(err.into_smtp(step::HELO)),
        };
        if !helo.is_positive() {
            let err = SmtpError::from_negative(step::HELO, &helo);
            return Err(self.quit_with(err).await);
        }
        Ok(Hello {
            esmtp: false,
            extensions: Vec::new(),
            ehlo_refused: Some(ehlo.summary()),
        })
    }

    /// STARTTLS (RFC 3207 §4) within the command timeout; on 220 gives back the stream, ready
    /// for the handshake. A failed upgrade is a finding, never an error, so what the
    /// plaintext session showed is kept: no reply in time, the connection lost, a refusal
    /// (then QUIT), a reply that breaks the protocol or the limits, or bytes the server sent
    /// unasked, before STARTTLS or after its 220 (RFC 3207 §4.2; CVE-2011-0411).
    pub(super) async fn starttls(mut self) -> Result<S, TlsFailure> {
        if !self.reader.buffered().is_empty() {
            // Whatever it is (a 220 sent ahead to be taken for the answer to STARTTLS), it is
            // not an answer to a command we sent: refuse before sending STARTTLS.
            return Err(TlsFailure::Aborted(format!(
                "the server sent {} bytes before STARTTLS was sent",
                self.reader.buffered().len()
            )));
        }
        let reply = match self.exchange("STARTTLS", self.cfg.command_timeout).await {
            Ok(reply) => reply,
            Err(ExchangeError::Timeout(_) | ExchangeError::Deadline(_)) => {
                return Err(TlsFailure::Timeout);
            }
            Err(ExchangeError::Reply(err)) if err.is_transport() => {
                // Like Postfix: a server that drops the connection on STARTTLS offered TLS and
                // failed to deliver it.
                return Err(TlsFailure::Handshake(format!(
                    "connection lost after STARTTLS: {err}"
                )));
            }
            Err(ExchangeError::Reply(err)) => {
                return Err(TlsFailure::Aborted(format!("reply to STARTTLS: {err}")));
            }
        };
        if reply.code != 220 {
            self.quit().await;
            return Err(TlsFailure::StarttlsRefused(reply.summary()));
        }
        let (stream, leftover) = self.reader.into_parts();
        if !leftover.is_empty() {
            // The server sent data after its 220 before the handshake: whatever it is, it did not
            // come through TLS and must not be read as TLS or SMTP (RFC 3207 §4.2; CVE-2011-0411).
            return Err(TlsFailure::Aborted(format!(
                "the server sent {} bytes after its 220 to STARTTLS, before the TLS handshake",
                leftover.len()
            )));
        }
        Ok(stream)
    }

    /// Ends the session, then gives back `err`: for failures after which the server still
    /// expects a polite goodbye.
    pub(super) async fn quit_with(&mut self, err: SmtpError) -> SmtpError {
        self.quit().await;
        err
    }

    /// QUIT, best effort: the probe already has what it came for (RFC 5321 §4.1.1.10). Waits
    /// at most [`QUIT_TIMEOUT`] for the reply and again for the shutdown.
    pub(super) async fn quit(&mut self) {
        let limit = self.cfg.command_timeout.min(QUIT_TIMEOUT);
        goodbye(
            &mut self.reader,
            limit,
            self.cfg.limits(),
            self.ctx.deadline,
        )
        .await;
    }
}

/// QUIT, its reply awaited within `limit` and the session's deadline, then the shutdown within
/// [`QUIT_TIMEOUT`] and the deadline; failures are of no interest any more.
async fn goodbye<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut reply::ReplyReader<S>,
    limit: Duration,
    limits: ReplyLimits,
    deadline: Deadline,
) {
    let _ = within(limit, deadline, async {
        let stream = reader.get_mut();
        stream.write_all(b"QUIT\r\n").await?;
        stream.flush().await?;
        reader.read_reply(limits).await
    })
    .await;
    let (allowed, _) = deadline.cap(QUIT_TIMEOUT);
    let _ = tokio::time::timeout(allowed, reader.get_mut().shutdown()).await;
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Session<'_, S> {
    /// QUIT like [`Session::quit`], but the reply and the shutdown are awaited by a task of
    /// their own, bounded the same way, so a probe's findings are handed over a round trip
    /// sooner: they do not depend on the 221 (RFC 5321 §4.1.1.10 asks the client to wait for
    /// it, and the task does). `hold` (e.g. the permit that counts this connection against a
    /// bound on open sessions) is kept until the connection is closed.
    pub(super) fn quit_later<H: Send + 'static>(self, hold: H) {
        let limit = self.cfg.command_timeout.min(QUIT_TIMEOUT);
        let limits = self.cfg.limits();
        let deadline = self.ctx.deadline;
        let mut reader = self.reader;
        tokio::spawn(async move {
            let _hold = hold;
            goodbye(&mut reader, limit, limits, deadline).await;
        });
    }
}

/// The TLS side of STARTTLS, prepared (and its settings checked) before connecting.
pub(super) struct TlsUpgrade {
    /// The name sent as SNI and given to the verifier.
    pub(super) name: ServerName<'static>,
    pub(super) connector: tokio_rustls::TlsConnector,
}

impl TlsUpgrade {
    pub(super) fn new(params: TlsParams, addr: SocketAddr) -> Result<Self, SmtpError> {
        Self::with_versions(params, addr, false)
    }

    /// Like [`TlsUpgrade::new`], TLS 1.3 only when `tls13_only`.
    pub(super) fn with_versions(
        params: TlsParams,
        addr: SocketAddr,
        tls13_only: bool,
    ) -> Result<Self, SmtpError> {
        let name = server_name(&params.sni, addr)?;
        let config = tls::client_config_versions(params.verifier, tls13_only)
            .map_err(|e| SmtpError::permanent(step::CONFIG, format!("TLS configuration: {e}")))?;
        Ok(TlsUpgrade {
            name,
            connector: tokio_rustls::TlsConnector::from(config),
        })
    }

    /// The TLS handshake after the 220 to STARTTLS (RFC 3207 §4; RFC 8446, RFC 5246) within
    /// `limit`, the TLS timeout, and the session's deadline; a failure is a finding.
    pub(super) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        stream: S,
        limit: Duration,
        deadline: Deadline,
    ) -> Result<tokio_rustls::client::TlsStream<S>, TlsFailure> {
        let (allowed, _) = deadline.cap(limit);
        match tokio::time::timeout(allowed, self.connector.connect(self.name, stream)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(tls::classify_handshake_error(&err)),
            Err(_) => Err(TlsFailure::Timeout),
        }
    }
}

/// The EHLO keywords (with parameters) of a positive EHLO reply: every line but the first,
/// which names the server (RFC 5321 §4.1.1.1).
pub(super) fn extensions_of(reply: &Reply) -> Vec<String> {
    reply
        .lines
        .iter()
        .skip(1)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Whether the EHLO keywords include STARTTLS (keywords are case-insensitive, RFC 5321 §2.4).
pub(super) fn offers_starttls(extensions: &[String]) -> bool {
    extensions.iter().any(|e| {
        e.split_ascii_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
    })
}

/// The server name for the handshake: the SNI name when given (trailing dot removed), else the
/// IP address (rustls then sends no SNI).
pub(super) fn server_name(
    sni: &Option<String>,
    addr: SocketAddr,
) -> Result<ServerName<'static>, SmtpError> {
    match sni {
        Some(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            ServerName::try_from(name.clone()).map_err(|_| {
                SmtpError::permanent(step::CONFIG, format!("invalid SNI name {name:?}"))
            })
        }
        None => Ok(ServerName::IpAddress(addr.ip().into())),
    }
}

/// Describes a failed TCP connection.
pub(super) fn connect_error(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ => err.to_string(),
    }
}
