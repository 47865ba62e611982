//! An SMTP client that probes how a mail server receives mail: connect, read the greeting,
//! EHLO (HELO if EHLO is refused), STARTTLS when offered, the TLS handshake, EHLO again over
//! TLS, QUIT. It follows RFC 5321 (SMTP) and RFC 3207 (STARTTLS) and never sends MAIL or RCPT.
//!
//! Each step is one function (in `session.rs`), with the time limit and step name ([`step`]) it
//! runs under, so that a delivery client can reuse them:
//!
//! | Step | Function | Follows | Time limit |
//! |---|---|---|---|
//! | TCP connection | `Session::connect` | RFC 5321 §3.1 | [`SmtpConfig::connect_timeout`] |
//! | greeting (220, or 554) | `Session::greeting` | RFC 5321 §3.1, §4.3.2 | [`SmtpConfig::greeting_timeout`] |
//! | EHLO [`SmtpConfig::helo_name`], HELO if EHLO gets 5yz | `Session::hello` | RFC 5321 §4.1.1.1, §3.2 | [`SmtpConfig::command_timeout`] |
//! | STARTTLS, refusing bytes sent unasked before it or after its 220 | `Session::starttls` | RFC 3207 §4, §4.2 | [`SmtpConfig::command_timeout`] |
//! | TLS handshake | `TlsUpgrade::handshake` | RFC 3207 §4; RFC 8446, RFC 5246 | [`SmtpConfig::tls_timeout`] |
//! | EHLO over TLS | `Session::ehlo` | RFC 3207 §4.2 | [`SmtpConfig::command_timeout`] |
//! | QUIT, best effort (a probe's in a task of its own) | `Session::quit`, `quit_later` | RFC 5321 §4.1.1.10 | at most 5 s |
//!
//! Every network step has its own timeout and its error names the step ("connect",
//! "reading greeting", "EHLO", "STARTTLS", "TLS handshake"...), and the whole session has one
//! deadline on top ([`SmtpConfig::session_timeout`]), so a server that answers each step just
//! in time still cannot hold a probe for the sum of them. Every reply is bounded in bytes and
//! lines ([`reply::ReplyReader`]), so a hostile server cannot make the probe buffer without
//! end, and a certificate chain is bounded in length ([`crate::tls::MAX_CHAIN`]). Failures
//! that may pass (refused or reset connections, timeouts, 4yz replies) are
//! [`SmtpError::Temporary`]; those that will not (5yz greeting, protocol violations, oversized
//! replies) are [`SmtpError::Permanent`]. Once the server has offered STARTTLS, a failed
//! upgrade is not an error but a finding, [`ProbeSession::tls_failure`], and what the
//! plaintext session showed is kept.
//!
//! The text of replies reaches us as the server sent it; [`reply`] makes every line safe text
//! ([`reply::server_text`]) before anything else sees it.

mod auth;
mod helo;
pub mod reply;
mod session;
mod transaction;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::{Step, timed};
use crate::tls;
use tokio::net::TcpStream;

pub use crate::tls::{AcceptAnyCertificate, cipher_bits, iana_cipher_name, openssl_cipher_name};
pub use auth::Credentials;
pub use helo::{HeloName, HeloNameError};
pub use reply::{Reply, ReplyError, ReplyLimits};
use session::{Session, TlsUpgrade, extensions_of, offers_starttls};
pub use transaction::{
    DATA_TIMEOUT, Delivery, DeliveryTls, Envelope, Finished, Gate, MAX_TRANSACTIONS_PER_SESSION,
    RecipientReply, RelayTls, Report, TlsDemand, deliver, dot_stuff, relay, txn_step,
};

/// Settings of a probe. `Default` gives values fit for the public internet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The SMTP port to build addresses with ([`SmtpConfig::socket_addr`]); 25 by default.
    /// [`probe`] itself connects to the port of the address it is given.
    pub port: u16,
    /// The name we announce in EHLO/HELO (RFC 5321 §4.1.1.1: our fully-qualified domain name);
    /// by default the machine's ([`HeloName::this_machine`]).
    pub helo_name: HeloName,
    /// How long to wait for the TCP connection.
    pub connect_timeout: Duration,
    /// How long to wait for the complete greeting; RFC 5321 §4.5.3.2.1 allows 5 minutes, a
    /// probe waits less.
    pub greeting_timeout: Duration,
    /// How long to wait for the reply to each command (sending included).
    pub command_timeout: Duration,
    /// How long the TLS handshake may take.
    pub tls_timeout: Duration,
    /// How long the whole session may take, from connecting to QUIT, whatever each step's
    /// own limit: a server that answers every step just in time still ends here.
    pub session_timeout: Duration,
    /// Maximum size of one reply in bytes.
    pub max_reply_bytes: usize,
    /// Maximum number of lines of one reply.
    pub max_reply_lines: usize,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            port: 25,
            helo_name: HeloName::this_machine(),
            connect_timeout: Duration::from_secs(10),
            greeting_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(30),
            tls_timeout: Duration::from_secs(30),
            session_timeout: Duration::from_secs(60),
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
    /// The server's 5yz reply to EHLO, when it then accepted HELO: why there is no ESMTP (and
    /// so no STARTTLS, RFC 3207 §4).
    pub ehlo_refused: Option<String>,
    /// The EHLO keywords with their parameters from the plaintext session, e.g.
    /// `["PIPELINING", "SIZE 10240000", "STARTTLS"]` (empty after HELO).
    pub extensions: Vec<String>,
    /// Whether the server offered STARTTLS (RFC 3207 §4).
    pub starttls_offered: bool,
    /// The TLS session, when the handshake succeeded.
    pub tls: Option<TlsSession>,
    /// Why TLS was not established although STARTTLS was offered.
    pub tls_failure: Option<TlsFailure>,
    /// Our end of the connection (TLS reporting's `sending-mta-ip`, RFC 8460 §4.4).
    pub local_ip: Option<IpAddr>,
}

/// A completed TLS handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSession {
    /// The negotiated version.
    pub version: crate::tls::TlsVersion,
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
    /// The upgrade broke off in a way that says nothing about the server's TLS: a STARTTLS
    /// reply that breaks the protocol or the limits, bytes sent unasked before STARTTLS or
    /// after its 220, the connection lost during the handshake, a certificate chain beyond
    /// our limits. Not evidence of a TLS level.
    #[error("STARTTLS aborted: {0}")]
    Aborted(String),
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

/// Probes the SMTP server at `addr` (the port included): greeting, EHLO/HELO, STARTTLS when
/// offered, TLS handshake, EHLO over TLS, QUIT. Never sends MAIL or RCPT.
///
/// Returns `Err` only when the plaintext session could not be completed; once STARTTLS was
/// offered, a failed upgrade is reported in [`ProbeSession::tls_failure`]. The whole session
/// ends within [`SmtpConfig::session_timeout`]. A session that went well returns as soon as
/// its last EHLO was answered: the QUIT that ends it is sent, and its reply awaited, by a task
/// of its own, which keeps `hold` until the connection is closed.
pub async fn probe<H: Send + 'static>(
    addr: SocketAddr,
    tls: TlsParams,
    cfg: &SmtpConfig,
    hold: H,
) -> Result<ProbeSession, SmtpError> {
    let upgrade = TlsUpgrade::new(tls, addr)?;

    let (smtp, mut session) = open_session(addr, cfg).await?;
    if !session.starttls_offered {
        smtp.quit_later(hold);
        return Ok(session);
    }
    match probe_tls(smtp, upgrade, hold).await {
        Ok(tls) => session.tls = Some(tls),
        Err(failure) => session.tls_failure = Some(failure),
    }
    Ok(session)
}

/// The plain-text part of a session, for a probe and a delivery alike: connect, greeting,
/// EHLO (HELO if EHLO is refused); what it showed, STARTTLS not yet tried.
async fn open_session<'c>(
    addr: SocketAddr,
    cfg: &'c SmtpConfig,
) -> Result<(Session<'c, TcpStream>, ProbeSession), SmtpError> {
    let mut smtp = timed(Step::Connect, Session::connect(addr, cfg)).await?;
    let greeting = timed(Step::Greeting, smtp.greeting()).await?;
    let hello = timed(Step::Ehlo, smtp.hello()).await?;
    let session = ProbeSession {
        greeting_code: greeting.code,
        greeting: greeting.text(),
        esmtp: hello.esmtp,
        ehlo_refused: hello.ehlo_refused,
        starttls_offered: offers_starttls(&hello.extensions),
        extensions: hello.extensions,
        tls: None,
        tls_failure: None,
        local_ip: Some(smtp.ctx.local),
    };
    Ok((smtp, session))
}

/// The TLS part of a probe, once STARTTLS was offered: STARTTLS, the handshake, EHLO again
/// over TLS (RFC 3207 §4.2: the client discards what it knew), QUIT (left to a task that
/// keeps `hold`), all within the session's deadline. A failed upgrade is a finding.
async fn probe_tls<H: Send + 'static>(
    smtp: Session<'_, TcpStream>,
    upgrade: TlsUpgrade,
    hold: H,
) -> Result<TlsSession, TlsFailure> {
    let cfg = smtp.cfg;
    let ctx = smtp.ctx.clone();
    let tcp = timed(Step::Starttls, smtp.starttls()).await?;
    let handshake = upgrade.handshake(tcp, cfg.tls_timeout, ctx.deadline);
    let stream = timed(Step::Handshake, handshake).await?;
    let mut tls_session = describe_tls(stream.get_ref().1);
    let mut smtp = Session::resume(stream, cfg, ctx);
    if let Ok(reply) = smtp.ehlo(step::EHLO_TLS).await
        && reply.is_positive()
    {
        tls_session.ehlo_after_tls = true;
        tls_session.extensions_after_tls = extensions_of(&reply);
    }
    smtp.quit_later(hold);
    Ok(tls_session)
}

/// What the handshake negotiated and the chain the server sent.
fn describe_tls(conn: &rustls::ClientConnection) -> TlsSession {
    // The client configuration enables TLS 1.2 and 1.3 only, so a finished handshake has one.
    let version = conn
        .protocol_version()
        .and_then(tls::TlsVersion::from_rustls)
        .unwrap_or(tls::TlsVersion::Tls12);
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
