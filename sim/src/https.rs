//! The MTA-STS policy hosts of the simulated internet (RFC 8461 §3.3): one HTTPS server on a
//! loopback address that answers for every `mta-sts.<domain>` of the world, with a certificate
//! from the sim CA naming them all, and per domain a chosen, changeable [`PolicyResponse`] (a
//! policy, a redirect, the wrong content type, an oversized body, an error status, a refusal).
//!
//! Just enough HTTP/1.1 (RFC 9112): one request per connection, its head bounded in size and
//! time, the domain taken from the `Host` header, answers closed with `Connection: close`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::pki::Identity;

/// The policy path (RFC 8461 §3.2).
const WELL_KNOWN: &str = "/.well-known/mta-sts.txt";
/// The largest request head read.
const MAX_HEAD: usize = 8 * 1024;

/// What the policy host of one domain answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyResponse {
    /// `200` with this body as `text/plain`.
    Policy(String),
    /// `200` with this body and this content type.
    Typed(String, String),
    /// `301` to this location.
    Redirect(String),
    /// This status, no body worth reading.
    Status(u16),
    /// `200 text/plain` with a body of this many bytes and no `Content-Length` (read until
    /// the connection closes).
    Oversized(usize),
    /// The connection is closed before any answer: the fetch fails.
    Refuse,
}

/// A policy file of `mode` naming `mx` (RFC 8461 §3.2), valid for a day.
pub fn policy_text(mode: &str, mx: &[&str]) -> String {
    let mut text = format!("version: STSv1\r\nmode: {mode}\r\n");
    for m in mx {
        text.push_str(&format!("mx: {m}\r\n"));
    }
    text.push_str("max_age: 86400\r\n");
    text
}

struct Shared {
    acceptor: TlsAcceptor,
    responses: Mutex<HashMap<String, PolicyResponse>>,
    fetches: Mutex<HashMap<String, usize>>,
    connections: AtomicUsize,
}

/// The running policy server.
pub struct PolicyServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for PolicyServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl PolicyServer {
    /// Serves `responses` (by domain) on `bind` with `identity` (which must name every
    /// `mta-sts.<domain>`).
    pub async fn spawn(
        bind: SocketAddr,
        identity: &Identity,
        responses: HashMap<String, PolicyResponse>,
    ) -> std::io::Result<PolicyServer> {
        let config = crate::smtp::tls_server_config(
            identity,
            &[&rustls::version::TLS13, &rustls::version::TLS12],
        )
        .map_err(std::io::Error::other)?;
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            acceptor: TlsAcceptor::from(config),
            responses: Mutex::new(responses),
            fetches: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(PolicyServer { addr, shared, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes what `domain`'s policy host answers from the next request on.
    pub fn set(&self, domain: &str, response: PolicyResponse) {
        lock(&self.shared.responses).insert(domain.to_string(), response);
    }

    /// How many requests for `domain`'s policy were answered.
    pub fn fetches(&self, domain: &str) -> usize {
        lock(&self.shared.fetches).get(domain).copied().unwrap_or(0)
    }

    /// Stops the server.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), serve(stream, &shared)).await;
        });
    }
}

/// One connection: the TLS handshake, one request, one answer.
async fn serve(stream: tokio::net::TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut tls = shared.acceptor.accept(stream).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tls.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("");
    let host = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("host")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    let domain = host
        .strip_prefix("mta-sts.")
        .unwrap_or("")
        .to_ascii_lowercase();
    let response = lock(&shared.responses).get(&domain).cloned();
    let response = match (path == WELL_KNOWN, response) {
        (true, Some(r)) => r,
        _ => PolicyResponse::Status(404),
    };
    *lock(&shared.fetches).entry(domain).or_default() += 1;
    let answer = |status: &str, extra: &str, body: &[u8]| {
        let mut out = format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    };
    let bytes = match response {
        PolicyResponse::Refuse => return Ok(()),
        PolicyResponse::Policy(body) => {
            answer("200 OK", "Content-Type: text/plain\r\n", body.as_bytes())
        }
        PolicyResponse::Typed(body, ct) => answer(
            "200 OK",
            &format!("Content-Type: {ct}\r\n"),
            body.as_bytes(),
        ),
        PolicyResponse::Redirect(to) => {
            answer("301 Moved Permanently", &format!("Location: {to}\r\n"), b"")
        }
        PolicyResponse::Status(code) => answer(&format!("{code} Status"), "", b""),
        PolicyResponse::Oversized(n) => {
            let mut out =
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                    .to_vec();
            out.extend(std::iter::repeat_n(b'#', n));
            out
        }
    };
    // A client that stops reading (the oversized case) ends the write with an error.
    let _ = tls.write_all(&bytes).await;
    let _ = tls.shutdown().await;
    Ok(())
}
