//! SMTP servers of the simulated internet: loopback listeners that speak enough SMTP
//! (RFC 5321) and STARTTLS (RFC 3207) to be probed and delivered to, each with a chosen
//! [`PeerBehaviour`] that can be changed while the peer runs.
//!
//! A peer greets (220, or 554/421 when told to refuse), answers EHLO/HELO (advertising
//! PIPELINING, SIZE, 8BITMIME and, when the behaviour says so, STARTTLS), upgrades to TLS with
//! tokio-rustls (TLS 1.2 and 1.3, ring provider), answers EHLO again over TLS without STARTTLS
//! (RFC 3207 §4.2), and receives mail as RFC 5321 §4.1.4 orders it: any number of
//! transactions per session (MAIL FROM, RCPT TO, DATA with dot-unstuffing, §4.5.2), RSET,
//! NOOP and QUIT, paths checked by the shared address parser, SIZE (RFC 1870) advertised and
//! enforced with 552, at most [`PeerOptions::max_recipients`] recipients (452 after).
//!
//! What it received is kept for the test ([`SmtpPeer::received`]): the envelope, the bytes
//! after unstuffing, the TLS version and cipher suite, the EHLO name and the time; and per
//! session which commands came in plain text and which over TLS ([`SmtpPeer::sessions`],
//! [`SmtpPeer::counts`]), so a test can prove a peer never saw MAIL FROM, or nothing in plain
//! text. [`PeerBehaviour::Receiving`] makes a peer refuse recipients or fail the first
//! transactions (4xx or 5xx, at MAIL, DATA or after the message).
//! Every read and write has a timeout and every line a length bound, so a peer never hangs a
//! test. It binds where it is told, e.g. a distinct `127.x.y.z` address with port 0. A peer can
//! also change by itself after a number of connections ([`PeerBehaviour::FirstConnections`]),
//! e.g. to stop offering STARTTLS after its first session: a downgrade without a test's help.
//!
//! With [`PeerOptions::submission`] a peer is the operator's submission service instead
//! (RFC 6409, AUTH PLAIN per RFC 4954 and RFC 4616 over TLS only), and keeps who authenticated
//! ([`ReceivedMessage::auth`]); every AUTH is logged like any command, so a test can prove none
//! came in plain text.
//!
//! The peer's parts: `behaviour` (what it does, and how one connection's behaviour is
//! resolved), `reception` (what it does with mail), `connection` (one connection from
//! greeting to close), `session` (the command loop, with `auth`), `mailbox` (what it keeps) and `io`
//! (bounded line reads and writes).

mod behaviour;
mod connection;
mod io;
mod mailbox;
mod reception;
mod session;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::pki::Identity;

pub use behaviour::PeerBehaviour;
pub use mailbox::{
    Counts, MAX_COMMANDS, MAX_SESSIONS, ReceivedMessage, SeenCommand, SessionLog, TlsFacts, Verb,
};
pub use reception::{Failure, Reception, Severity, Step};

/// Settings of a peer that do not change with its behaviour.
#[derive(Clone, Debug)]
pub struct PeerOptions {
    /// The host name in the greeting and EHLO reply.
    pub hostname: String,
    /// How long the peer waits for each line, write or handshake before it drops the
    /// connection.
    pub io_timeout: Duration,
    /// The longest command or data line accepted, CRLF included.
    pub max_line: usize,
    /// The largest message accepted (advertised with SIZE, RFC 1870).
    pub max_message: usize,
    /// The most recipients one transaction accepts (RFC 5321 §4.5.3.1.8 asks for at least
    /// 100); later ones get `452`.
    pub max_recipients: usize,
    /// The most messages the peer keeps ([`SmtpPeer::take_received`] makes room).
    pub max_stored: usize,
    /// The most message bytes the peer keeps, over all messages.
    pub max_stored_bytes: usize,
    /// With an account the peer is a submission server (RFC 6409 §4.3, RFC 4954): `AUTH
    /// PLAIN` offered over TLS only, refused in plain text, and MAIL FROM refused until the
    /// client authenticated with these credentials.
    pub submission: Option<SubmissionAccount>,
    /// A simulated round-trip time: every reply (the greeting, each answer, the TLS
    /// handshake's server flight) reaches the client this long after it was written
    /// ([`crate::latency`]). Zero by default.
    pub rtt: Duration,
    /// Where the replies are noted as they leave, if anywhere.
    pub reply_log: Option<crate::latency::ReplyLog>,
}

/// The one account a submission peer accepts ([`PeerOptions::submission`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmissionAccount {
    /// The authentication identity (RFC 4616 `authcid`).
    pub user: String,
    /// Its password.
    pub password: String,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            hostname: "mx.sim.test".to_string(),
            io_timeout: Duration::from_secs(10),
            max_line: 2048,
            max_message: 10 * 1024 * 1024,
            max_recipients: 100,
            max_stored: 100_000,
            max_stored_bytes: 256 * 1024 * 1024,
            submission: None,
            rtt: Duration::ZERO,
            reply_log: None,
        }
    }
}

/// The current behaviour and the counts at the moment it was set.
struct Current {
    behaviour: PeerBehaviour,
    /// Connections accepted before it was set.
    connections: usize,
    /// Transactions started before it was set.
    transactions: usize,
}

/// State shared by the listener, its connections and the test.
struct Shared {
    behaviour: RwLock<Current>,
    connections: AtomicUsize,
    transactions: AtomicUsize,
    mailbox: Mutex<mailbox::Mailbox>,
    options: PeerOptions,
}

impl Shared {
    /// The mailbox, even if a session panicked while holding it.
    fn mailbox(&self) -> std::sync::MutexGuard<'_, mailbox::Mailbox> {
        self.mailbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new transaction; returns its index since the behaviour was set, from 0.
    fn next_transaction(&self) -> usize {
        // Counted under the read lock, as connections are (see `accept_loop`).
        let current = self.behaviour.read().unwrap_or_else(|e| e.into_inner());
        let n = self.transactions.fetch_add(1, Ordering::SeqCst);
        n.saturating_sub(current.transactions)
    }
}

/// A running simulated SMTP server.
pub struct SmtpPeer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for SmtpPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpPeer")
            .field("addr", &self.addr)
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

/// A rustls server configuration (ring provider) for `identity` limited to `versions`, e.g.
/// `&[&rustls::version::TLS12]` for a TLS 1.2-only server.
pub fn tls_server_config(
    identity: &Identity,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)?
            .with_no_client_auth()
            .with_single_cert(identity.chain.clone(), identity.key.clone_key())?;
    Ok(Arc::new(config))
}

impl SmtpPeer {
    /// Starts a peer listening on `bind` (port 0 picks a free port) with default options.
    pub async fn spawn(bind: SocketAddr, behaviour: PeerBehaviour) -> std::io::Result<SmtpPeer> {
        Self::spawn_with(bind, behaviour, PeerOptions::default()).await
    }

    /// Starts a peer listening on `bind` with the given options.
    pub async fn spawn_with(
        bind: SocketAddr,
        behaviour: PeerBehaviour,
        options: PeerOptions,
    ) -> std::io::Result<SmtpPeer> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            behaviour: RwLock::new(Current {
                behaviour,
                connections: 0,
                transactions: 0,
            }),
            connections: AtomicUsize::new(0),
            transactions: AtomicUsize::new(0),
            mailbox: Mutex::new(mailbox::Mailbox::default()),
            options,
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(SmtpPeer { addr, shared, task })
    }

    /// The address the peer listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the behaviour for connections accepted from now on (a
    /// [`PeerBehaviour::FirstConnections`] counts connections from here, a
    /// [`PeerBehaviour::Receiving`] transactions).
    pub fn set_behaviour(&self, behaviour: PeerBehaviour) {
        let mut current = self
            .shared
            .behaviour
            .write()
            .unwrap_or_else(|e| e.into_inner());
        // Under the write lock no connection or transaction is being counted.
        *current = Current {
            behaviour,
            connections: self.shared.connections.load(Ordering::SeqCst),
            transactions: self.shared.transactions.load(Ordering::SeqCst),
        };
    }

    /// The behaviour new connections get.
    pub fn behaviour(&self) -> PeerBehaviour {
        let current = self
            .shared
            .behaviour
            .read()
            .unwrap_or_else(|e| e.into_inner());
        current.behaviour.clone()
    }

    /// Keeps the current behaviour but treats the mail offered as `reception` says, e.g. on
    /// a peer of a [`SimWorld`](crate::world::SimWorld): wraps the behaviour in
    /// [`PeerBehaviour::Receiving`], replacing an outer one. Like [`SmtpPeer::set_behaviour`]
    /// it restarts the counts of connections and transactions.
    pub fn set_reception(&self, reception: Reception) {
        let then = match self.behaviour() {
            PeerBehaviour::Receiving { then, .. } => then,
            other => Box::new(other),
        };
        self.set_behaviour(PeerBehaviour::Receiving { reception, then });
    }

    /// How many connections the peer has accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The messages accepted and kept so far, in the order they were accepted.
    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.shared.mailbox().messages().to_vec()
    }

    /// Removes and returns the messages kept so far, making room for more (the mailbox is
    /// bounded by [`PeerOptions::max_stored`] and [`PeerOptions::max_stored_bytes`]).
    pub fn take_received(&self) -> Vec<ReceivedMessage> {
        self.shared.mailbox().take()
    }

    /// The latest sessions (at most [`MAX_SESSIONS`]), oldest first: whether each ran over
    /// TLS and which commands it saw, in plain text or over TLS.
    pub fn sessions(&self) -> Vec<SessionLog> {
        self.shared.mailbox().sessions()
    }

    /// Counts over every session since the peer started, e.g. how many MAIL commands came in
    /// plain text: what a test needs to prove a peer never saw something.
    pub fn counts(&self) -> Counts {
        self.shared.mailbox().counts()
    }

    /// Stops listening and drops every open connection.
    pub async fn shutdown(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts connections; each is served by a task in a set that dies with this task.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // E.g. too many open files: back off briefly instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // Counted under the read lock, so that a concurrent `set_behaviour` sees
                // either none or all of this connection.
                let (behaviour, id, index) = {
                    let current = shared.behaviour.read().unwrap_or_else(|e| e.into_inner());
                    let n = shared.connections.fetch_add(1, Ordering::SeqCst);
                    (current.behaviour.clone(), n, n.saturating_sub(current.connections))
                };
                shared.mailbox().open_session(id);
                sessions.spawn(connection::serve(stream, behaviour, id, index, shared.clone()));
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}
