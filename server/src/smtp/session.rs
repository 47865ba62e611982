//! The SMTP client's protocol steps, one method per step on a [`Session`] over any stream,
//! each within its own named timeout (RFC 5321 §3.1, §4.1.1, §4.5.3.2; RFC 3207 for STARTTLS),
//! and the TLS upgrade ([`TlsUpgrade`]). `probe` in the parent module strings them together;
//! a delivery client can reuse the same steps.

use std::net::SocketAddr;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

/// The longest we wait for the answer to QUIT: the probe is done, the reply is a courtesy.
pub(super) const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// How one exchange with the server failed, before it is given a step and a class.
#[derive(Debug)]
pub(super) enum ExchangeError {
    /// No complete reply within the time limit.
    Timeout(Duration),
    /// The reply could not be read.
    Reply(ReplyError),
}

impl ExchangeError {
    pub(super) fn into_smtp(self, step: &'static str) -> SmtpError {
        match self {
            ExchangeError::Timeout(limit) => {
                SmtpError::temporary(step, format!("no complete reply within {limit:?}"))
            }
            ExchangeError::Reply(err) => SmtpError::from_reply(step, err),
        }
    }
}

/// Runs one exchange (a read, or a write and a read) within `limit`.
pub(super) async fn within<T>(
    limit: Duration,
    exchange: impl Future<Output = Result<T, ReplyError>>,
) -> Result<T, ExchangeError> {
    match tokio::time::timeout(limit, exchange).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(ExchangeError::Reply(err)),
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
}

/// One SMTP session (plain or TLS): the connection with its buffered, bounded reader and the
/// settings every step reads. Each protocol step is one method with its own time limit and
/// step name, so a delivery client (MAIL, RCPT, DATA) can reuse them and add its own commands
/// with [`Session::command`].
pub(super) struct Session<'c, S> {
    pub(super) reader: reply::ReplyReader<S>,
    pub(super) cfg: &'c SmtpConfig,
}

impl<'c> Session<'c, TcpStream> {
    /// Opens the TCP connection (RFC 5321 §3.1) within the connect timeout.
    pub(super) async fn connect(addr: SocketAddr, cfg: &'c SmtpConfig) -> Result<Self, SmtpError> {
        let tcp = match tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(err)) => return Err(SmtpError::temporary(step::CONNECT, connect_error(&err))),
            Err(_) => {
                return Err(SmtpError::temporary(
                    step::CONNECT,
                    format!("no connection within {:?}", cfg.connect_timeout),
                ));
            }
        };
        let _ = tcp.set_nodelay(true);
        Ok(Session::new(tcp, cfg))
    }
}

impl<'c, S: AsyncRead + AsyncWrite + Unpin> Session<'c, S> {
    pub(super) fn new(stream: S, cfg: &'c SmtpConfig) -> Self {
        Session {
            reader: reply::ReplyReader::new(stream),
            cfg,
        }
    }

    /// Reads one reply within `limit`.
    pub(super) async fn read_reply(
        &mut self,
        step: &'static str,
        limit: Duration,
    ) -> Result<Reply, SmtpError> {
        within(limit, self.reader.read_reply(self.cfg.limits()))
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
        within(limit, async move {
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
        let line = format!("EHLO {}", self.cfg.helo_name);
        self.command(step, &line, self.cfg.command_timeout).await
    }

    /// HELO with our name (RFC 5321 §4.1.1.1) within the command timeout.
    pub(super) async fn helo(&mut self) -> Result<Reply, SmtpError> {
        let line = format!("HELO {}", self.cfg.helo_name);
        self.command(step::HELO, &line, self.cfg.command_timeout)
            .await
    }

    /// EHLO, falling back to HELO when the server refuses EHLO with 5yz (RFC 5321 §3.2,
    /// §4.1.1.1). A refusal ends the session with QUIT.
    pub(super) async fn hello(&mut self) -> Result<Hello, SmtpError> {
        let ehlo = self.ehlo(step::EHLO).await?;
        if ehlo.is_positive() {
            return Ok(Hello {
                esmtp: true,
                extensions: extensions_of(&ehlo),
            });
        }
        if !ehlo.is_permanent() {
            let err = SmtpError::from_negative(step::EHLO, &ehlo);
            return Err(self.quit_with(err).await);
        }
        let helo = self.helo().await?;
        if !helo.is_positive() {
            let err = SmtpError::from_negative(step::HELO, &helo);
            return Err(self.quit_with(err).await);
        }
        Ok(Hello {
            esmtp: false,
            extensions: Vec::new(),
        })
    }

    /// STARTTLS (RFC 3207 §4) within the command timeout; on 220 gives back the stream, ready
    /// for the handshake. `Err` when the session broke (a malformed or oversized reply);
    /// `Ok(Err(..))` when the upgrade failed, a finding: no reply in time, the connection lost,
    /// a refusal (then QUIT), or bytes sent after the 220.
    pub(super) async fn starttls(mut self) -> Result<Result<S, TlsFailure>, SmtpError> {
        let reply = match self.exchange("STARTTLS", self.cfg.command_timeout).await {
            Ok(reply) => reply,
            Err(ExchangeError::Timeout(_)) => return Ok(Err(TlsFailure::Timeout)),
            Err(ExchangeError::Reply(err)) if err.is_transport() => {
                // Like Postfix: a server that drops the connection on STARTTLS offered TLS and
                // failed to deliver it.
                return Ok(Err(TlsFailure::Handshake(format!(
                    "connection lost after STARTTLS: {err}"
                ))));
            }
            Err(ExchangeError::Reply(err)) => {
                return Err(SmtpError::from_reply(step::STARTTLS, err));
            }
        };
        if reply.code != 220 {
            self.quit().await;
            return Ok(Err(TlsFailure::StarttlsRefused(reply.summary())));
        }
        let (stream, leftover) = self.reader.into_parts();
        if !leftover.is_empty() {
            // The server sent data after its 220 before the handshake: whatever it is, it did not
            // come through TLS and must not be read as TLS or SMTP (RFC 3207 §4.2; CVE-2011-0411).
            return Ok(Err(TlsFailure::Handshake(format!(
                "server sent {} bytes after 220 before the TLS handshake",
                leftover.len()
            ))));
        }
        Ok(Ok(stream))
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
        let _ = self.exchange("QUIT", limit).await;
        let _ = tokio::time::timeout(QUIT_TIMEOUT, self.reader.get_mut().shutdown()).await;
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
        let name = server_name(&params.sni, addr)?;
        let config = tls::client_config(params.verifier)
            .map_err(|e| SmtpError::permanent(step::CONFIG, format!("TLS configuration: {e}")))?;
        Ok(TlsUpgrade {
            name,
            connector: tokio_rustls::TlsConnector::from(config),
        })
    }

    /// The TLS handshake after the 220 to STARTTLS (RFC 3207 §4; RFC 8446, RFC 5246) within
    /// `limit`, the TLS timeout; a failure is a finding.
    pub(super) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        stream: S,
        limit: Duration,
    ) -> Result<tokio_rustls::client::TlsStream<S>, TlsFailure> {
        match tokio::time::timeout(limit, self.connector.connect(self.name, stream)).await {
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

/// The argument of EHLO/HELO must be a domain or address literal: refuse anything that could
/// inject a second command line.
pub(super) fn check_helo_name(name: &str) -> Result<(), SmtpError> {
    if name.is_empty() || name.len() > 255 || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SmtpError::permanent(
            step::CONFIG,
            format!("invalid HELO name {name:?}"),
        ));
    }
    Ok(())
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
