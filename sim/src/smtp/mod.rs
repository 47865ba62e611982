//! SMTP servers of the simulated internet: loopback listeners that speak enough SMTP
//! (RFC 5321) and STARTTLS (RFC 3207) to be probed and delivered to, each with a chosen
//! [`PeerBehaviour`] that can be changed while the peer runs.
//!
//! A peer greets (220, or 554/421 when told to refuse), answers EHLO/HELO (advertising
//! PIPELINING, SIZE, 8BITMIME and, when the behaviour says so, STARTTLS), upgrades to TLS with
//! tokio-rustls (TLS 1.2 and 1.3, ring provider), answers EHLO again over TLS without STARTTLS
//! (RFC 3207 §4.2), and accepts MAIL/RCPT/DATA (storing the messages), RSET, NOOP and QUIT.
//! Every read and write has a timeout and every line a length bound, so a peer never hangs a
//! test. It binds where it is told, e.g. a distinct `127.x.y.z` address with port 0. A peer can
//! also change by itself after a number of connections ([`PeerBehaviour::FirstConnections`]),
//! e.g. to stop offering STARTTLS after its first session: a downgrade without a test's help.
//!
//! The peer's parts: `behaviour` (what it does, and how one connection's behaviour is
//! resolved), `connection` (one connection from greeting to close), `session` (the command
//! loop) and `io` (bounded line reads and writes).

mod behaviour;
mod connection;
mod io;
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

/// One message a peer accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The reverse path from MAIL FROM, without angle brackets.
    pub mail_from: String,
    /// The forward paths from RCPT TO, without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The message as received, dot-unstuffed, lines ending in CRLF.
    pub data: Vec<u8>,
    /// Whether it arrived over TLS.
    pub tls: bool,
}

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
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            hostname: "mx.sim.test".to_string(),
            io_timeout: Duration::from_secs(10),
            max_line: 2048,
            max_message: 10 * 1024 * 1024,
        }
    }
}

/// State shared by the listener, its connections and the test.
struct Shared {
    /// The behaviour, and the number of connections accepted before it was set.
    behaviour: RwLock<(PeerBehaviour, usize)>,
    connections: AtomicUsize,
    received: Mutex<Vec<ReceivedMessage>>,
    options: PeerOptions,
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
            behaviour: RwLock::new((behaviour, 0)),
            connections: AtomicUsize::new(0),
            received: Mutex::new(Vec::new()),
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
    /// [`PeerBehaviour::FirstConnections`] counts from here).
    pub fn set_behaviour(&self, behaviour: PeerBehaviour) {
        let mut current = self
            .shared
            .behaviour
            .write()
            .unwrap_or_else(|e| e.into_inner());
        // Under the write lock no connection is being counted (see `accept_loop`).
        *current = (behaviour, self.shared.connections.load(Ordering::SeqCst));
    }

    /// How many connections the peer has accepted.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The messages accepted so far.
    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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
                let (behaviour, index) = {
                    let current = shared.behaviour.read().unwrap_or_else(|e| e.into_inner());
                    let n = shared.connections.fetch_add(1, Ordering::SeqCst);
                    (current.0.clone(), n.saturating_sub(current.1))
                };
                sessions.spawn(connection::serve(stream, behaviour, index, shared.clone()));
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}
