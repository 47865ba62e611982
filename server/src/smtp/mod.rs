//! An SMTP client that probes how a mail server receives mail: connect, read the greeting,
//! EHLO (HELO if EHLO is refused), STARTTLS when offered, the TLS handshake, EHLO again over
//! TLS, QUIT. It follows RFC 5321 (SMTP) and RFC 3207 (STARTTLS) and never sends MAIL or RCPT.
//!
//! Every network step has its own timeout and its error names the step ("connect",
//! "reading greeting", "EHLO", "STARTTLS", "TLS handshake"...); every reply is bounded in bytes
//! and lines ([`reply::ReplyReader`]), so neither a slow nor a hostile server can hold a probe
//! or make it buffer without end. Failures that may pass (refused or reset connections,
//! timeouts, 4yz replies) are [`SmtpError::Temporary`]; those that will not (5yz greeting,
//! protocol violations, oversized replies) are [`SmtpError::Permanent`]. Once the server has
//! offered STARTTLS, a failed upgrade is not an error but a finding,
//! [`ProbeSession::tls_failure`]: "STARTTLS offered but the handshake failed".

pub mod reply;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

use crate::tls;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub use crate::tls::{AcceptAnyCertificate, cipher_bits, iana_cipher_name, openssl_cipher_name};
pub use reply::{Reply, ReplyError, ReplyLimits};

/// Settings of a probe. `Default` gives values fit for the public internet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The SMTP port to build addresses with ([`SmtpConfig::socket_addr`]); 25 by default.
    /// [`probe`] itself connects to the port of the address it is given.
    pub port: u16,
    /// The name we announce in EHLO/HELO (RFC 5321 §4.1.1.1: our fully-qualified domain name).
    pub helo_name: String,
    /// How long to wait for the TCP connection.
    pub connect_timeout: Duration,
    /// How long to wait for the complete greeting; RFC 5321 §4.5.3.2.1 allows 5 minutes, a
    /// probe waits less.
    pub greeting_timeout: Duration,
    /// How long to wait for the reply to each command (sending included).
    pub command_timeout: Duration,
    /// How long the TLS handshake may take.
    pub tls_timeout: Duration,
    /// Maximum size of one reply in bytes.
    pub max_reply_bytes: usize,
    /// Maximum number of lines of one reply.
    pub max_reply_lines: usize,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            port: 25,
            helo_name: "localhost".to_string(),
            connect_timeout: Duration::from_secs(10),
            greeting_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(30),
            tls_timeout: Duration::from_secs(30),
            max_reply_bytes: 16 * 1024,
            max_reply_lines: 100,
        }
    }
}

impl SmtpConfig {
    /// The address of `ip` on the configured port.
    pub fn socket_addr(&self, ip: IpAddr) -> SocketAddr {
        SocketAddr::new(ip, self.port)
    }

    fn limits(&self) -> ReplyLimits {
        ReplyLimits {
            max_bytes: self.max_reply_bytes,
            max_lines: self.max_reply_lines,
        }
    }
}

/// How the TLS handshake of a probe is made.
#[derive(Clone, Debug)]
pub struct TlsParams {
    /// The name sent as SNI and given to the verifier: the MX host name, which is also the
    /// TLSA base domain (RFC 7672 §8.1). `None` sends no SNI (the verifier sees the IP address).
    pub sni: Option<String>,
    /// Judges the certificate; [`AcceptAnyCertificate`] records any chain for later judgement.
    pub verifier: Arc<dyn rustls::client::danger::ServerCertVerifier>,
}

impl TlsParams {
    /// Opportunistic TLS that accepts any certificate, with the given SNI.
    pub fn accept_any(sni: Option<String>) -> Self {
        TlsParams {
            sni,
            verifier: AcceptAnyCertificate::new(),
        }
    }
}

/// What a probe learnt about one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSession {
    /// The code of the greeting (220).
    pub greeting_code: u16,
    /// The greeting text, lines joined with `\n` (without the reply codes).
    pub greeting: String,
    /// Whether the server accepted EHLO (ESMTP); `false` when we fell back to HELO.
    pub esmtp: bool,
    /// The EHLO keywords with their parameters from the plaintext session, e.g.
    /// `["PIPELINING", "SIZE 10240000", "STARTTLS"]` (empty after HELO).
    pub extensions: Vec<String>,
    /// Whether the server offered STARTTLS (RFC 3207 §4).
    pub starttls_offered: bool,
    /// The TLS session, when the handshake succeeded.
    pub tls: Option<TlsSession>,
    /// Why TLS was not established although STARTTLS was offered.
    pub tls_failure: Option<TlsFailure>,
}

/// A completed TLS handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSession {
    /// `"TLSv1.2"` or `"TLSv1.3"`.
    pub version: &'static str,
    /// The cipher suite's IANA name, e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`.
    pub cipher_iana: String,
    /// The cipher suite's OpenSSL name, e.g. `ECDHE-RSA-AES128-GCM-SHA256`; TLS 1.3 suites keep
    /// their IANA name, e.g. `TLS_AES_256_GCM_SHA384`.
    pub cipher_openssl: String,
    /// Symmetric key bits of the cipher (128 or 256).
    pub bits: u16,
    /// The certificates the server sent (DER), leaf first, in the order sent.
    pub peer_chain: Vec<Vec<u8>>,
    /// Whether the server answered EHLO positively over TLS (RFC 3207 §4.2).
    pub ehlo_after_tls: bool,
    /// The EHLO keywords over TLS (empty when `ehlo_after_tls` is false).
    pub extensions_after_tls: Vec<String>,
}

/// Why TLS was not established after the server offered STARTTLS.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsFailure {
    /// The server speaks only TLS versions we refuse (1.0/1.1): it selected one, or sent a
    /// `protocol_version` alert.
    #[error("server offers only TLS versions we refuse: {0}")]
    ProtocolVersion(String),
    /// The verifier rejected the certificate, or the handshake signature did not match it.
    #[error("certificate rejected: {0}")]
    Certificate(String),
    /// Any other handshake failure (no common cipher, alert, connection lost, data sent
    /// before the handshake).
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// The server answered STARTTLS with something other than 220; the reply as sent.
    #[error("STARTTLS refused: {0}")]
    StarttlsRefused(String),
    /// The STARTTLS reply or the handshake did not complete in time.
    #[error("STARTTLS or TLS handshake timed out")]
    Timeout,
}

/// Why a probe did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// It may work later: connection refused or reset, timeout, 4yz reply.
    #[error("temporary SMTP failure during {step}: {detail}")]
    Temporary {
        /// The step that failed, e.g. "reading greeting".
        step: &'static str,
        /// What happened.
        detail: String,
    },
    /// It will not work as things are: 5yz greeting (e.g. 554), protocol violation, oversized
    /// reply, invalid configuration.
    #[error("permanent SMTP failure during {step}: {detail}")]
    Permanent {
        /// The step that failed, e.g. "EHLO".
        step: &'static str,
        /// What happened.
        detail: String,
    },
}

impl SmtpError {
    /// Whether the failure may pass by itself (retry later).
    pub fn is_temporary(&self) -> bool {
        matches!(self, SmtpError::Temporary { .. })
    }

    /// The step that failed.
    pub fn step(&self) -> &'static str {
        match self {
            SmtpError::Temporary { step, .. } | SmtpError::Permanent { step, .. } => step,
        }
    }

    /// What happened.
    pub fn detail(&self) -> &str {
        match self {
            SmtpError::Temporary { detail, .. } | SmtpError::Permanent { detail, .. } => detail,
        }
    }

    fn temporary(step: &'static str, detail: impl Into<String>) -> Self {
        SmtpError::Temporary {
            step,
            detail: detail.into(),
        }
    }

    fn permanent(step: &'static str, detail: impl Into<String>) -> Self {
        SmtpError::Permanent {
            step,
            detail: detail.into(),
        }
    }

    /// A failed read of a reply: transport problems are temporary, protocol violations are
    /// permanent.
    fn from_reply(step: &'static str, err: ReplyError) -> Self {
        if err.is_transport() {
            SmtpError::temporary(step, err.to_string())
        } else {
            SmtpError::permanent(step, err.to_string())
        }
    }

    /// A negative reply: 4yz temporary, anything else permanent (RFC 5321 §4.2.1).
    fn from_negative(step: &'static str, reply: &Reply) -> Self {
        if reply.is_transient() {
            SmtpError::temporary(step, reply.summary())
        } else {
            SmtpError::permanent(step, reply.summary())
        }
    }
}

/// Step names, shared by the code and its tests.
pub mod step {
    /// Checking the probe's own settings.
    pub const CONFIG: &str = "configuration";
    /// The TCP connection.
    pub const CONNECT: &str = "connect";
    /// Waiting for the 220 greeting.
    pub const GREETING: &str = "reading greeting";
    /// EHLO before TLS.
    pub const EHLO: &str = "EHLO";
    /// HELO after a refused EHLO.
    pub const HELO: &str = "HELO";
    /// The STARTTLS command.
    pub const STARTTLS: &str = "STARTTLS";
    /// The TLS handshake.
    pub const TLS_HANDSHAKE: &str = "TLS handshake";
    /// EHLO over TLS.
    pub const EHLO_TLS: &str = "EHLO after TLS";
}

/// The longest we wait for the answer to QUIT: the probe is done, the reply is a courtesy.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// How one exchange with the server failed, before it is given a step and a class.
#[derive(Debug)]
enum ExchangeError {
    /// No complete reply within the time limit.
    Timeout(Duration),
    /// The reply could not be read.
    Reply(ReplyError),
}

impl ExchangeError {
    fn into_smtp(self, step: &'static str) -> SmtpError {
        match self {
            ExchangeError::Timeout(limit) => {
                SmtpError::temporary(step, format!("no complete reply within {limit:?}"))
            }
            ExchangeError::Reply(err) => SmtpError::from_reply(step, err),
        }
    }
}

/// One SMTP connection (plain or TLS) with bounded reads and per-step timeouts.
struct Connection<S> {
    reader: reply::ReplyReader<S>,
    limits: ReplyLimits,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    fn new(stream: S, limits: ReplyLimits) -> Self {
        Connection {
            reader: reply::ReplyReader::new(stream),
            limits,
        }
    }

    /// Reads one reply within `limit`.
    async fn read_reply(
        &mut self,
        step: &'static str,
        limit: Duration,
    ) -> Result<Reply, SmtpError> {
        match tokio::time::timeout(limit, self.reader.read_reply(self.limits)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(err)) => Err(SmtpError::from_reply(step, err)),
            Err(_) => Err(ExchangeError::Timeout(limit).into_smtp(step)),
        }
    }

    /// Sends one command line and reads its reply, all within `limit`.
    async fn exchange(&mut self, line: &str, limit: Duration) -> Result<Reply, ExchangeError> {
        let limits = self.limits;
        let exchange = async {
            let stream = self.reader.get_mut();
            stream.write_all(format!("{line}\r\n").as_bytes()).await?;
            stream.flush().await?;
            self.reader.read_reply(limits).await
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(err)) => Err(ExchangeError::Reply(err)),
            Err(_) => Err(ExchangeError::Timeout(limit)),
        }
    }

    /// Like [`Connection::exchange`], failures named after `step`.
    async fn command(
        &mut self,
        step: &'static str,
        line: &str,
        limit: Duration,
    ) -> Result<Reply, SmtpError> {
        self.exchange(line, limit)
            .await
            .map_err(|e| e.into_smtp(step))
    }

    /// QUIT, best effort: the probe already has what it came for (RFC 5321 §4.1.1.10).
    async fn quit(&mut self, limit: Duration) {
        let _ = self.exchange("QUIT", limit.min(QUIT_TIMEOUT)).await;
        let _ = tokio::time::timeout(QUIT_TIMEOUT, self.reader.get_mut().shutdown()).await;
    }
}

/// The EHLO keywords (with parameters) of a positive EHLO reply: every line but the first,
/// which names the server (RFC 5321 §4.1.1.1).
fn extensions_of(reply: &Reply) -> Vec<String> {
    reply
        .lines
        .iter()
        .skip(1)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Whether the EHLO keywords include STARTTLS (keywords are case-insensitive, RFC 5321 §2.4).
fn offers_starttls(extensions: &[String]) -> bool {
    extensions.iter().any(|e| {
        e.split_ascii_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
    })
}

/// The argument of EHLO/HELO must be a domain or address literal: refuse anything that could
/// inject a second command line.
fn check_helo_name(name: &str) -> Result<(), SmtpError> {
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
fn server_name(sni: &Option<String>, addr: SocketAddr) -> Result<ServerName<'static>, SmtpError> {
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
fn connect_error(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ => err.to_string(),
    }
}

/// Probes the SMTP server at `addr` (the port included): greeting, EHLO/HELO, STARTTLS when
/// offered, TLS handshake, EHLO over TLS, QUIT. Never sends MAIL or RCPT.
///
/// Returns `Err` only when the plaintext session could not be completed; once STARTTLS was
/// offered, a failed upgrade is reported in [`ProbeSession::tls_failure`].
pub async fn probe(
    addr: SocketAddr,
    tls: TlsParams,
    cfg: &SmtpConfig,
) -> Result<ProbeSession, SmtpError> {
    check_helo_name(&cfg.helo_name)?;
    let name = server_name(&tls.sni, addr)?;
    let client_config = tls::client_config(tls.verifier)
        .map_err(|e| SmtpError::permanent(step::CONFIG, format!("TLS configuration: {e}")))?;

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
    let mut conn = Connection::new(tcp, cfg.limits());

    // RFC 5321 §3.1, §4.3.2: 220 greeting, or 554 when the server will not talk to us.
    let greeting = conn
        .read_reply(step::GREETING, cfg.greeting_timeout)
        .await?;
    if greeting.code != 220 {
        let err = if greeting.is_positive() {
            SmtpError::permanent(
                step::GREETING,
                format!("unexpected greeting {}", greeting.summary()),
            )
        } else {
            SmtpError::from_negative(step::GREETING, &greeting)
        };
        conn.quit(cfg.command_timeout).await;
        return Err(err);
    }

    // RFC 5321 §4.1.1.1 and §3.2: EHLO; a client may fall back to HELO when EHLO is refused.
    let ehlo = conn
        .command(
            step::EHLO,
            &format!("EHLO {}", cfg.helo_name),
            cfg.command_timeout,
        )
        .await?;
    let (esmtp, extensions) = if ehlo.is_positive() {
        (true, extensions_of(&ehlo))
    } else if ehlo.is_permanent() {
        let helo = conn
            .command(
                step::HELO,
                &format!("HELO {}", cfg.helo_name),
                cfg.command_timeout,
            )
            .await?;
        if !helo.is_positive() {
            let err = SmtpError::from_negative(step::HELO, &helo);
            conn.quit(cfg.command_timeout).await;
            return Err(err);
        }
        (false, Vec::new())
    } else {
        let err = SmtpError::from_negative(step::EHLO, &ehlo);
        conn.quit(cfg.command_timeout).await;
        return Err(err);
    };
    let starttls_offered = offers_starttls(&extensions);

    let mut session = ProbeSession {
        greeting_code: greeting.code,
        greeting: greeting.text(),
        esmtp,
        extensions,
        starttls_offered,
        tls: None,
        tls_failure: None,
    };
    if !starttls_offered {
        conn.quit(cfg.command_timeout).await;
        return Ok(session);
    }

    // RFC 3207 §4: STARTTLS, 220, then the handshake.
    let reply = match conn.exchange("STARTTLS", cfg.command_timeout).await {
        Ok(reply) => reply,
        Err(ExchangeError::Timeout(_)) => {
            session.tls_failure = Some(TlsFailure::Timeout);
            return Ok(session);
        }
        Err(ExchangeError::Reply(err)) if err.is_transport() => {
            // Like Postfix: a server that drops the connection on STARTTLS offered TLS and
            // failed to deliver it.
            session.tls_failure = Some(TlsFailure::Handshake(format!(
                "connection lost after STARTTLS: {err}"
            )));
            return Ok(session);
        }
        Err(ExchangeError::Reply(err)) => return Err(SmtpError::from_reply(step::STARTTLS, err)),
    };
    if reply.code != 220 {
        session.tls_failure = Some(TlsFailure::StarttlsRefused(reply.summary()));
        conn.quit(cfg.command_timeout).await;
        return Ok(session);
    }
    let (tcp, leftover) = conn.reader.into_parts();
    if !leftover.is_empty() {
        // The server sent data after its 220 before the handshake: whatever it is, it did not
        // come through TLS and must not be read as TLS or SMTP (RFC 3207 §4.2; CVE-2011-0411).
        session.tls_failure = Some(TlsFailure::Handshake(format!(
            "server sent {} bytes after 220 before the TLS handshake",
            leftover.len()
        )));
        return Ok(session);
    }

    let connector = tokio_rustls::TlsConnector::from(client_config);
    let tls_stream = match tokio::time::timeout(cfg.tls_timeout, connector.connect(name, tcp)).await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            session.tls_failure = Some(tls::classify_handshake_error(&err));
            return Ok(session);
        }
        Err(_) => {
            session.tls_failure = Some(TlsFailure::Timeout);
            return Ok(session);
        }
    };
    let mut tls_session = describe_tls(tls_stream.get_ref().1);

    // RFC 3207 §4.2: the client discards what it knew and sends EHLO again.
    let mut conn = Connection::new(tls_stream, cfg.limits());
    if let Ok(reply) = conn
        .command(
            step::EHLO_TLS,
            &format!("EHLO {}", cfg.helo_name),
            cfg.command_timeout,
        )
        .await
        && reply.is_positive()
    {
        tls_session.ehlo_after_tls = true;
        tls_session.extensions_after_tls = extensions_of(&reply);
    }
    conn.quit(cfg.command_timeout).await;
    session.tls = Some(tls_session);
    Ok(session)
}

/// What the handshake negotiated and the chain the server sent.
fn describe_tls(conn: &rustls::ClientConnection) -> TlsSession {
    let version = conn
        .protocol_version()
        .map(tls::version_name)
        .unwrap_or("unknown");
    let suite = conn.negotiated_cipher_suite().map(|s| s.suite());
    let cipher_iana = suite
        .map(|s| {
            iana_cipher_name(s)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{s:?}"))
        })
        .unwrap_or_default();
    let cipher_openssl = suite
        .map(|s| {
            openssl_cipher_name(s)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{s:?}"))
        })
        .unwrap_or_default();
    let bits = suite.and_then(cipher_bits).unwrap_or(0);
    let peer_chain = conn
        .peer_certificates()
        .map(|certs| certs.iter().map(|c| c.as_ref().to_vec()).collect())
        .unwrap_or_default();
    TlsSession {
        version,
        cipher_iana,
        cipher_openssl,
        bits,
        peer_chain,
        ehlo_after_tls: false,
        extensions_after_tls: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
