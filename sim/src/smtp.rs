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

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::pki::Identity;

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
    /// Behaves as `first` towards the first `count` connections accepted since this behaviour
    /// was set (at spawn or by [`SmtpPeer::set_behaviour`]), and as `then` towards every later
    /// one. Counted per peer, so the change is deterministic: a probe that opens one session
    /// per address sees exactly one of the two.
    FirstConnections {
        /// How many connections get `first`.
        count: usize,
        /// The behaviour towards the first `count` connections.
        first: Box<PeerBehaviour>,
        /// The behaviour towards every later connection.
        then: Box<PeerBehaviour>,
    },
}

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
                sessions.spawn(serve(stream, behaviour, index, shared.clone()));
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}

/// What the base behaviour does about TLS.
enum TlsOffer {
    /// STARTTLS not advertised.
    None,
    /// Advertised, and completed with this identity or configuration.
    Serve(Arc<ServerConfig>),
    /// Advertised, but the configuration could not be built: answered with 454.
    Unavailable,
    /// Advertised, refused with 454.
    Refuse,
    /// Advertised, 220, then garbage.
    Broken,
}

/// Serves one connection with a snapshot of the behaviour; `index` counts the connections
/// accepted since the behaviour was set, from 0.
async fn serve(stream: TcpStream, behaviour: PeerBehaviour, index: usize, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let opts = shared.options.clone();
    // Unwrap the wrappers: delays add up, the innermost greeting wins, a switch picks the side
    // this connection falls on (a nested switch counts the connections that reach it).
    let mut delay = Duration::ZERO;
    let mut greeting: Option<Vec<String>> = None;
    let mut behaviour = behaviour;
    let mut index = index;
    let base = loop {
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
            other => break other,
        }
    };
    tokio::time::sleep(delay).await;

    let mut stream = stream;
    match &base {
        PeerBehaviour::Hostile => {
            hostile(&mut stream, &opts).await;
            return;
        }
        PeerBehaviour::TempFailGreeting => {
            let _ = write(
                &mut stream,
                b"421 4.3.2 Service not available, closing channel\r\n",
                &opts,
            )
            .await;
            return;
        }
        PeerBehaviour::RejectGreeting => {
            let line = format!("554 5.7.1 {} No SMTP service here\r\n", opts.hostname);
            if write(&mut stream, line.as_bytes(), &opts).await.is_ok() {
                let _ = session(stream, &base, TlsOffer::None, false, true, &shared).await;
            }
            return;
        }
        _ => {}
    }

    let lines = greeting
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| vec![format!("{} ESMTP Sendguard simulated peer", opts.hostname)]);
    if write(&mut stream, multi_line(220, &lines).as_bytes(), &opts)
        .await
        .is_err()
    {
        return;
    }
    let offer = match &base {
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
        _ => TlsOffer::None,
    };
    let config = match &offer {
        TlsOffer::Serve(config) => Some(config.clone()),
        _ => None,
    };
    let Some(Upgrade(plain)) = session(stream, &base, offer, false, false, &shared).await else {
        return;
    };
    let Some(config) = config else { return };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let Ok(Ok(tls)) = tokio::time::timeout(opts.io_timeout, acceptor.accept(plain)).await else {
        return;
    };
    let _ = session(tls, &base, TlsOffer::None, true, false, &shared).await;
}

/// A session asks its caller to start TLS on the plain stream.
struct Upgrade<S>(S);

/// Formats a (multi-line) reply.
fn multi_line(code: u16, lines: &[String]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        out.push_str(&format!("{code}{sep}{line}\r\n"));
    }
    out
}

/// Writes and flushes within the I/O timeout.
async fn write<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    opts: &PeerOptions,
) -> std::io::Result<()> {
    let io = async {
        stream.write_all(bytes).await?;
        stream.flush().await
    };
    match tokio::time::timeout(opts.io_timeout, io).await {
        Ok(result) => result,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// Sends long continuation lines until the client gives up (or 64 MiB were sent).
async fn hostile(stream: &mut TcpStream, opts: &PeerOptions) {
    let mut line = b"220-".to_vec();
    line.extend(std::iter::repeat_n(b'x', 994));
    line.extend_from_slice(b"\r\n");
    let mut sent = 0usize;
    while sent < 64 * 1024 * 1024 {
        if write(stream, &line, opts).await.is_err() {
            return;
        }
        sent += line.len();
    }
}

/// The outcome of reading one line.
enum Line {
    /// A line without its CRLF/LF.
    Text(Vec<u8>),
    /// The line exceeded the limit.
    TooLong,
    /// The client closed the connection, or an error or timeout occurred.
    Gone,
}

/// Reads one line of at most `opts.max_line` bytes within the I/O timeout.
async fn read_line<S: AsyncRead + Unpin>(reader: &mut BufReader<S>, opts: &PeerOptions) -> Line {
    let read = async {
        let mut line = Vec::new();
        loop {
            let buf = match reader.fill_buf().await {
                Ok(buf) => buf,
                Err(_) => return Line::Gone,
            };
            if buf.is_empty() {
                return Line::Gone;
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(pos) => (pos + 1, true),
                None => (buf.len(), false),
            };
            line.extend_from_slice(&buf[..take]);
            reader.consume(take);
            if line.len() > opts.max_line {
                return Line::TooLong;
            }
            if done {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Line::Text(line);
            }
        }
    };
    tokio::time::timeout(opts.io_timeout, read)
        .await
        .unwrap_or(Line::Gone)
}

/// The address inside `<...>` after a `FROM:`/`TO:` prefix (RFC 5321 §4.1.1.2, §4.1.1.3).
fn path_argument(args: &str, prefix: &str) -> Option<String> {
    let head = args.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = args[prefix.len()..].trim_start();
    let path = rest.split_ascii_whitespace().next().unwrap_or("");
    let inner = path.strip_prefix('<')?.strip_suffix('>')?;
    Some(inner.to_string())
}

/// Runs the command loop of one (plain or TLS) session. Returns the plain stream when the
/// client issued STARTTLS and the peer agreed (buffered input is discarded, RFC 3207 §4.2).
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    base: &PeerBehaviour,
    offer: TlsOffer,
    tls: bool,
    rejected: bool,
    shared: &Shared,
) -> Option<Upgrade<S>> {
    let opts = &shared.options;
    let mut reader = BufReader::new(stream);
    let mut greeted = false;
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let advertise_starttls = !matches!(offer, TlsOffer::None);

    macro_rules! reply {
        ($text:expr) => {
            if write(reader.get_mut(), $text.as_bytes(), opts)
                .await
                .is_err()
            {
                return None;
            }
        };
    }

    loop {
        let line = match read_line(&mut reader, opts).await {
            Line::Text(line) => line,
            Line::TooLong => {
                reply!("500 5.5.2 Line too long\r\n");
                return None;
            }
            Line::Gone => return None,
        };
        let line = String::from_utf8_lossy(&line).into_owned();
        let (verb, args) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_string()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };
        if rejected && verb != "QUIT" {
            reply!("503 5.5.1 No SMTP service here\r\n");
            continue;
        }
        match verb.as_str() {
            "EHLO" if matches!(base, PeerBehaviour::NoEsmtp) => {
                reply!("500 5.5.1 Command unrecognized\r\n");
            }
            "EHLO" => {
                greeted = true;
                mail_from = None;
                rcpt_to.clear();
                let mut lines = vec![
                    format!("{} greets {}", opts.hostname, args),
                    "PIPELINING".to_string(),
                    format!("SIZE {}", opts.max_message),
                    "8BITMIME".to_string(),
                ];
                if advertise_starttls && !tls {
                    lines.push("STARTTLS".to_string());
                }
                reply!(multi_line(250, &lines));
            }
            "HELO" => {
                greeted = true;
                mail_from = None;
                rcpt_to.clear();
                reply!(format!("250 {}\r\n", opts.hostname));
            }
            "STARTTLS" if tls => reply!("503 5.5.1 TLS already active\r\n"),
            "STARTTLS" => match &offer {
                TlsOffer::None => reply!("502 5.5.1 STARTTLS not available\r\n"),
                TlsOffer::Refuse | TlsOffer::Unavailable => {
                    reply!("454 4.7.0 TLS not available due to temporary reason\r\n")
                }
                TlsOffer::Broken => {
                    reply!("220 2.0.0 Ready to start TLS\r\n");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = write(reader.get_mut(), b"this is not TLS\r\n", opts).await;
                    return None;
                }
                TlsOffer::Serve(_) => {
                    reply!("220 2.0.0 Ready to start TLS\r\n");
                    // Dropping the BufReader discards anything the client pipelined after
                    // STARTTLS (RFC 3207 §4.2, CVE-2011-0411).
                    return Some(Upgrade(reader.into_inner()));
                }
            },
            "MAIL" if !greeted => reply!("503 5.5.1 Send EHLO/HELO first\r\n"),
            "MAIL" if mail_from.is_some() => reply!("503 5.5.1 Nested MAIL command\r\n"),
            "MAIL" => match path_argument(&args, "FROM:") {
                Some(from) => {
                    mail_from = Some(from);
                    rcpt_to.clear();
                    reply!("250 2.1.0 Ok\r\n");
                }
                None => reply!("501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
            },
            "RCPT" if mail_from.is_none() => reply!("503 5.5.1 Need MAIL command\r\n"),
            "RCPT" => match path_argument(&args, "TO:") {
                Some(to) if rcpt_to.len() < 100 => {
                    rcpt_to.push(to);
                    reply!("250 2.1.5 Ok\r\n");
                }
                Some(_) => reply!("452 4.5.3 Too many recipients\r\n"),
                None => reply!("501 5.5.4 Syntax: RCPT TO:<address>\r\n"),
            },
            "DATA" if rcpt_to.is_empty() => reply!("503 5.5.1 Need RCPT command\r\n"),
            "DATA" => {
                reply!("354 End data with <CR><LF>.<CR><LF>\r\n");
                let mut data = Vec::new();
                let mut too_big = false;
                loop {
                    let line = match read_line(&mut reader, opts).await {
                        Line::Text(line) => line,
                        Line::TooLong => {
                            reply!("500 5.5.2 Line too long\r\n");
                            return None;
                        }
                        Line::Gone => return None,
                    };
                    if line == b"." {
                        break;
                    }
                    // RFC 5321 §4.5.2: remove the leading dot of a stuffed line.
                    let content = line.strip_prefix(b".").unwrap_or(&line);
                    if data.len() + content.len() + 2 > opts.max_message {
                        too_big = true;
                        continue;
                    }
                    data.extend_from_slice(content);
                    data.extend_from_slice(b"\r\n");
                }
                let from = mail_from.take().unwrap_or_default();
                let to = std::mem::take(&mut rcpt_to);
                if too_big {
                    reply!("552 5.3.4 Message too big\r\n");
                } else {
                    shared
                        .received
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(ReceivedMessage {
                            mail_from: from,
                            rcpt_to: to,
                            data,
                            tls,
                        });
                    reply!("250 2.0.0 Ok: queued\r\n");
                }
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                reply!("250 2.0.0 Ok\r\n");
            }
            "NOOP" => reply!("250 2.0.0 Ok\r\n"),
            "VRFY" => reply!("252 2.0.0 Cannot VRFY user\r\n"),
            "QUIT" => {
                reply!("221 2.0.0 Bye\r\n");
                let _ = tokio::time::timeout(opts.io_timeout, reader.get_mut().shutdown()).await;
                return None;
            }
            _ => reply!("500 5.5.2 Command unrecognized\r\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn loopback(last: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 42, last], 0))
    }

    /// A tiny scripted client: sends each line, returns everything the peer answered.
    async fn talk(addr: SocketAddr, script: &str) -> String {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(script.as_bytes()).await.expect("write");
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
            .await
            .expect("peer closes after QUIT")
            .expect("read");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn paths_are_extracted() {
        assert_eq!(
            path_argument("FROM:<a@b.test> SIZE=10", "FROM:"),
            Some("a@b.test".into())
        );
        assert_eq!(path_argument("from: <>", "FROM:"), Some(String::new()));
        assert_eq!(path_argument("TO:a@b.test", "TO:"), None);
        assert_eq!(path_argument("", "TO:"), None);
    }

    #[tokio::test]
    async fn accepts_and_stores_a_pipelined_message() {
        let peer = SmtpPeer::spawn(loopback(1), PeerBehaviour::NoStarttls)
            .await
            .expect("spawn");
        let out = talk(
            peer.addr(),
            "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\n.\r\nNOOP\r\nRSET\r\nQUIT\r\n",
        )
        .await;
        assert!(out.starts_with("220 mx.sim.test"), "{out}");
        assert!(!out.contains("STARTTLS"), "{out}");
        assert!(
            out.contains("250-PIPELINING") && out.contains("250 8BITMIME"),
            "{out}"
        );
        assert!(
            out.contains("354 ") && out.ends_with("221 2.0.0 Bye\r\n"),
            "{out}"
        );
        let received = peer.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].mail_from, "a@x.test");
        assert_eq!(received[0].rcpt_to, vec!["b@y.test", "c@y.test"]);
        assert_eq!(received[0].data, b"Subject: hi\r\n\r\n.dot\r\n");
        assert!(!received[0].tls);
        assert_eq!(peer.connections(), 1);
        peer.shutdown().await;
    }

    #[tokio::test]
    async fn enforces_command_order_and_line_limits() {
        let opts = PeerOptions {
            max_line: 100,
            ..PeerOptions::default()
        };
        let peer = SmtpPeer::spawn_with(loopback(2), PeerBehaviour::NoStarttls, opts)
            .await
            .expect("spawn");
        let out = talk(
            peer.addr(),
            "MAIL FROM:<a@x.test>\r\nHELO c.test\r\nRCPT TO:<b@y.test>\r\nDATA\r\nBOGUS\r\nQUIT\r\n",
        )
        .await;
        let codes: Vec<&str> = out.lines().map(|l| &l[..3]).collect();
        assert_eq!(
            codes,
            ["220", "503", "250", "503", "503", "500", "221"],
            "{out}"
        );
        let long = format!("NOOP {}\r\n", "x".repeat(200));
        let out = talk(peer.addr(), &long).await;
        assert!(out.contains("500 5.5.2 Line too long"), "{out}");
        peer.shutdown().await;
    }

    #[tokio::test]
    async fn behaviour_changes_apply_to_new_connections() {
        let id = crate::pki::self_signed(&["mx.sim.test"]).expect("cert");
        let peer = SmtpPeer::spawn(loopback(3), PeerBehaviour::NoStarttls)
            .await
            .expect("spawn");
        assert!(
            !talk(peer.addr(), "EHLO c\r\nQUIT\r\n")
                .await
                .contains("STARTTLS")
        );
        peer.set_behaviour(PeerBehaviour::StartTls { identity: id });
        assert!(
            talk(peer.addr(), "EHLO c\r\nQUIT\r\n")
                .await
                .contains("250 STARTTLS")
        );
        peer.set_behaviour(PeerBehaviour::RejectGreeting);
        let out = talk(peer.addr(), "EHLO c\r\nQUIT\r\n").await;
        assert!(out.starts_with("554 ") && out.contains("503 ") && out.contains("221 "));
        assert_eq!(peer.connections(), 3);
        peer.shutdown().await;
    }

    #[tokio::test]
    async fn first_connections_switch_after_the_count_from_when_they_were_set() {
        let id = crate::pki::self_signed(&["mx.sim.test"]).expect("cert");
        let switch = || PeerBehaviour::FirstConnections {
            count: 2,
            first: Box::new(PeerBehaviour::StartTls {
                identity: id.clone(),
            }),
            then: Box::new(PeerBehaviour::NoStarttls),
        };
        let peer = SmtpPeer::spawn(loopback(5), PeerBehaviour::NoStarttls)
            .await
            .expect("spawn");
        let offers = |out: String| out.contains("250 STARTTLS");
        assert!(!offers(talk(peer.addr(), "EHLO c\r\nQUIT\r\n").await));
        // Set after one connection: the count starts here, not at spawn.
        peer.set_behaviour(switch());
        let seen: Vec<bool> = futures::future::join_all(
            (0..3).map(|_| async { offers(talk(peer.addr(), "EHLO c\r\nQUIT\r\n").await) }),
        )
        .await;
        assert_eq!(
            seen.iter().filter(|&&offered| offered).count(),
            2,
            "{seen:?}"
        );
        assert!(!offers(talk(peer.addr(), "EHLO c\r\nQUIT\r\n").await));
        assert_eq!(peer.connections(), 5);
        peer.shutdown().await;
    }

    #[tokio::test]
    async fn idle_clients_are_dropped() {
        let opts = PeerOptions {
            io_timeout: Duration::from_millis(200),
            ..PeerOptions::default()
        };
        let peer = SmtpPeer::spawn_with(loopback(4), PeerBehaviour::NoStarttls, opts)
            .await
            .expect("spawn");
        // Says nothing: the peer greets, waits 200 ms for a command, then closes.
        let out = talk(peer.addr(), "").await;
        assert!(out.starts_with("220 "));
        peer.shutdown().await;
    }
}
