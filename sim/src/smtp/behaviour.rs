//! What a simulated SMTP peer does: [`PeerBehaviour`], set per peer and changeable while it
//! runs, and how one connection's behaviour is resolved from it ([`Plan`]): the wrappers
//! (delays, greetings, switches after a number of connections) unwrapped down to a base
//! behaviour, and what that base does about STARTTLS (RFC 3207) as a [`TlsOffer`].
//!
//! Some behaviours are hostile on purpose, for the tests that prove a probe gets nowhere with
//! them: a peer that never greets ([`PeerBehaviour::Stall`]), an endless multi-line greeting
//! ([`PeerBehaviour::Hostile`]), a greeting line of a megabyte ([`PeerBehaviour::LongLine`]),
//! garbage in the same write as the 220 to STARTTLS ([`PeerBehaviour::GarbageAfterStartTls`]),
//! a reset in the middle of the handshake ([`PeerBehaviour::ResetInHandshake`]), and, through
//! [`PeerBehaviour::StartTls`] with a long [`Identity::chain`], a chain of hundreds of
//! certificates.

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;

use super::reception::Reception;
use super::tls_server_config;
use crate::pki::Identity;

/// How a simulated SMTP server behaves towards each new connection.
#[derive(Clone, Debug)]
pub enum PeerBehaviour {
    /// Plain SMTP: STARTTLS is neither advertised nor accepted.
    NoStarttls,
    /// Advertises STARTTLS and completes TLS 1.2 or 1.3 with this certificate chain and key.
    StartTls {
        /// The chain (leaf first) and key to present.
        identity: Identity,
    },
    /// Advertises STARTTLS and completes TLS with a ready-made rustls configuration, e.g. one
    /// restricted to TLS 1.2 ([`tls_server_config`]) or with an odd certificate resolver.
    StartTlsWith {
        /// The server configuration for the handshake.
        config: Arc<ServerConfig>,
    },
    /// Advertises STARTTLS but answers it with `454 4.7.0` (RFC 3207 §4).
    RefuseStartTls,
    /// Advertises STARTTLS, answers 220, then sends bytes that are not TLS and closes.
    BrokenTls,
    /// An old server: EHLO is refused with 500, HELO works, no extensions.
    NoEsmtp,
    /// Waits `delay` before greeting, then behaves as `then`.
    SlowGreeting {
        /// How long to wait before the greeting.
        delay: Duration,
        /// The behaviour after the delay.
        then: Box<PeerBehaviour>,
    },
    /// Greets with these lines as one multi-line 220 reply, then behaves as `then`.
    MultiLineGreeting {
        /// The text of each greeting line (without code).
        lines: Vec<String>,
        /// The behaviour after the greeting.
        then: Box<PeerBehaviour>,
    },
    /// Greets with `554` (RFC 5321 §3.1: no SMTP service here) and answers everything but
    /// QUIT with 503.
    RejectGreeting,
    /// Greets with `421` (service not available) and closes the connection.
    TempFailGreeting,
    /// Sends an endless greeting of long continuation lines, to test the client's limits.
    Hostile,
    /// Accepts the connection and says nothing until its I/O timeout passes.
    Stall,
    /// Greets with one `220` line of `bytes` bytes before its CRLF (sent in small writes, so
    /// the peer itself never holds it whole).
    LongLine {
        /// The length of the line.
        bytes: usize,
    },
    /// Advertises STARTTLS and answers it with `220` followed, in the same write, by bytes
    /// that are not TLS (RFC 3207 §4.2 forbids anything before the handshake), then closes.
    GarbageAfterStartTls,
    /// Advertises STARTTLS, answers `220`, reads the client's first handshake bytes, then
    /// resets the connection (TCP RST).
    ResetInHandshake,
    /// Advertises STARTTLS and answers it with this reply line as given (CRLF added), e.g. a
    /// `454` whose text carries terminal escapes.
    RefuseStartTlsWith {
        /// The whole reply line, code included.
        reply: String,
    },
    /// Treats the mail offered as `reception` says (refused recipients, failing
    /// transactions), and otherwise behaves as `then`. Without this wrapper a peer accepts
    /// every well-formed transaction. Its transactions are counted from when it was set.
    Receiving {
        /// What happens to the mail offered.
        reception: Reception,
        /// The behaviour otherwise (TLS, greeting, ...).
        then: Box<PeerBehaviour>,
    },
    /// Behaves as `first` towards the first `count` connections accepted since this behaviour
    /// was set (at spawn or by [`SmtpPeer::set_behaviour`](super::SmtpPeer::set_behaviour)),
    /// and as `then` towards every later one. Counted per peer, so the change is
    /// deterministic: a probe that opens one session per address sees exactly one of the two.
    FirstConnections {
        /// How many connections get `first`.
        count: usize,
        /// The behaviour towards the first `count` connections.
        first: Box<PeerBehaviour>,
        /// The behaviour towards every later connection.
        then: Box<PeerBehaviour>,
    },
}

/// What the base behaviour does about TLS.
pub(super) enum TlsOffer {
    /// STARTTLS not advertised.
    None,
    /// Advertised, and completed with this configuration.
    Serve(Arc<ServerConfig>),
    /// Advertised, but the configuration could not be built: answered with 454.
    Unavailable,
    /// Advertised, refused with 454.
    Refuse,
    /// Advertised, 220, then garbage.
    Broken,
    /// Advertised, 220 and garbage in one write.
    Garbage,
    /// Advertised, 220, then a reset during the handshake.
    Reset,
    /// Advertised, refused with this reply.
    RefuseWith(String),
}

impl TlsOffer {
    /// Whether STARTTLS is advertised in the EHLO reply (before TLS).
    pub(super) fn advertised(&self) -> bool {
        !matches!(self, TlsOffer::None)
    }

    /// The configuration of the handshake after an accepted STARTTLS.
    pub(super) fn config(&self) -> Option<Arc<ServerConfig>> {
        match self {
            TlsOffer::Serve(config) => Some(config.clone()),
            _ => None,
        }
    }
}

/// One connection's behaviour with the wrappers unwrapped.
pub(super) struct Plan {
    /// How long to wait before the greeting (the delays of nested wrappers add up).
    pub(super) delay: Duration,
    /// The greeting lines, when a wrapper chose them (the innermost one wins).
    pub(super) greeting: Option<Vec<String>>,
    /// What happens to the mail offered (the innermost `Receiving` wins).
    pub(super) reception: Reception,
    /// The behaviour left when no wrapper is: never `SlowGreeting`, `MultiLineGreeting`,
    /// `Receiving` or `FirstConnections`.
    pub(super) base: PeerBehaviour,
}

impl Plan {
    /// Resolves `behaviour` for the connection that is the `index`-th (from 0) accepted since
    /// the behaviour was set; a switch picks the side this connection falls on, and a nested
    /// switch counts the connections that reach it.
    pub(super) fn new(behaviour: PeerBehaviour, index: usize) -> Plan {
        let mut delay = Duration::ZERO;
        let mut greeting = None;
        let mut reception = Reception::accept();
        let mut behaviour = behaviour;
        let mut index = index;
        loop {
            match behaviour {
                PeerBehaviour::FirstConnections { count, first, then } => {
                    if index < count {
                        behaviour = *first;
                    } else {
                        index -= count;
                        behaviour = *then;
                    }
                }
                PeerBehaviour::SlowGreeting { delay: d, then } => {
                    delay += d;
                    behaviour = *then;
                }
                PeerBehaviour::MultiLineGreeting { lines, then } => {
                    greeting = Some(lines);
                    behaviour = *then;
                }
                PeerBehaviour::Receiving { reception: r, then } => {
                    reception = r;
                    behaviour = *then;
                }
                base => {
                    return Plan {
                        delay,
                        greeting,
                        reception,
                        base,
                    };
                }
            }
        }
    }

    /// What the base behaviour offers for STARTTLS.
    pub(super) fn tls_offer(&self) -> TlsOffer {
        match &self.base {
            PeerBehaviour::StartTls { identity } => match tls_server_config(
                identity,
                &[&rustls::version::TLS13, &rustls::version::TLS12],
            ) {
                Ok(config) => TlsOffer::Serve(config),
                Err(_) => TlsOffer::Unavailable,
            },
            PeerBehaviour::StartTlsWith { config } => TlsOffer::Serve(config.clone()),
            PeerBehaviour::RefuseStartTls => TlsOffer::Refuse,
            PeerBehaviour::BrokenTls => TlsOffer::Broken,
            PeerBehaviour::GarbageAfterStartTls => TlsOffer::Garbage,
            PeerBehaviour::ResetInHandshake => TlsOffer::Reset,
            PeerBehaviour::RefuseStartTlsWith { reply } => TlsOffer::RefuseWith(reply.clone()),
            _ => TlsOffer::None,
        }
    }
}
