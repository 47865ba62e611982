//! A TLS report receiver (RFC 8460 §5.4): an HTTPS endpoint on loopback that accepts POSTed
//! reports, gunzips them and keeps them for the test to read ([`ReportReceiver::received`]),
//! and the `_smtp._tls` TXT records some scenario domains publish ([`txt_records`]), pointing
//! at it and at a mailbox of a sim SMTP peer (`tlsrpt@tls.test`, kept by that peer like any
//! message it accepts).
//!
//! The endpoint speaks just enough HTTP/1.1 (RFC 9112) for one request per connection: a
//! request line and headers of at most 16 KiB, a `Content-Length` body of at most 1 MiB,
//! gzip'd (RFC 1952); the answer is the status set with [`ReportReceiver::set_status`] (200 by
//! default; 503 lets a test see a retry). Its certificate is issued for [`HOST`] by its own CA
//! ([`ReportReceiver::ca_der`]), which the sender under test must be told to trust.

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::pki::SimCa;

/// The receiver's host name (its zone is [`ZONE`]).
pub const HOST: &str = "reports.tlsrpt.test";
/// The zone that holds [`HOST`].
pub const ZONE: &str = "tlsrpt.test";
/// The path reports are POSTed to.
pub const PATH: &str = "/v1/tlsrpt";
/// The mailbox that takes `mailto:` reports (its domain's peer keeps them).
pub const MAILBOX: &str = "tlsrpt@tls.test";
/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// One report that arrived by HTTPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedReport {
    /// The request path.
    pub path: String,
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body as it came (gzip'd).
    pub body: Vec<u8>,
    /// The body gunzipped; `None` when it was not gzip.
    pub json: Option<Vec<u8>>,
}

/// The running receiver.
pub struct ReportReceiver {
    addr: SocketAddr,
    ca: SimCa,
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<ReceivedReport>>>,
    task: JoinHandle<()>,
}

impl ReportReceiver {
    /// Listens on `ip` (a free port).
    pub async fn start(ip: std::net::IpAddr) -> std::io::Result<ReportReceiver> {
        let other = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
        let ca = SimCa::new("Sendguard Sim Report CA").map_err(|e| other(&e))?;
        let identity = ca.issue(&[HOST], true).map_err(|e| other(&e))?;
        let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
        let config = crate::smtp::tls_server_config(&identity, &versions).map_err(|e| other(&e))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
        let addr = listener.local_addr()?;
        let status = Arc::new(AtomicU16::new(200));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (status.clone(), received.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, s, r) = (acceptor.clone(), s.clone(), r.clone());
                tokio::spawn(async move {
                    let work = async {
                        let tls = acceptor.accept(tcp).await.ok()?;
                        serve(tls, &s, &r).await
                    };
                    let _ = tokio::time::timeout(Duration::from_secs(10), work).await;
                });
            }
        });
        Ok(ReportReceiver {
            addr,
            ca,
            status,
            received,
            task,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `https:` URI of the endpoint, port included.
    pub fn uri(&self) -> String {
        format!("https://{HOST}:{}{PATH}", self.addr.port())
    }

    /// The certificate of the CA that issued the endpoint's certificate.
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.cert_der()
    }

    /// The status the next requests are answered with.
    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// The reports received so far.
    pub fn received(&self) -> Vec<ReceivedReport> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops listening.
    pub fn shutdown(self) {
        self.task.abort();
    }
}

/// One request on `stream`; `None` when it broke off or broke the limits.
async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    status: &AtomicU16,
    received: &Mutex<Vec<ReceivedReport>>,
) -> Option<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request = lines.next()?.split(' ');
    let (method, path) = (request.next()?, request.next()?.to_string());
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let length: usize = header("content-length")?.parse().ok()?;
    if method != "POST" || length > MAX_BODY {
        return None;
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let mut json = Vec::new();
    let json = flate2::read::GzDecoder::new(&body[..])
        .take(MAX_BODY as u64 * 8)
        .read_to_end(&mut json)
        .ok()
        .map(|_| json);
    let code = status.load(Ordering::SeqCst);
    if code / 100 == 2 {
        received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ReceivedReport {
                path,
                content_type: header("content-type").unwrap_or_default(),
                body,
                json,
            });
    }
    let answer = format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(answer.as_bytes()).await.ok()?;
    stream.shutdown().await.ok()
}

/// The zone-file lines of `domain`'s `_smtp._tls` record, if it publishes one: `dane-ee.test`
/// and the MTA-STS domains `sts-enforce.test` and `sts-malformed.test` want reports by HTTPS,
/// `plain.test` by mail, `wrong-tlsa.test` both; `receiver` is the endpoint's URI
/// ([`ReportReceiver::uri`]).
pub fn txt_records(domain: &str, receiver: &str) -> String {
    let rua = match domain {
        "dane-ee.test" | "sts-enforce.test" | "sts-malformed.test" => receiver.to_string(),
        "plain.test" => format!("mailto:{MAILBOX}"),
        "wrong-tlsa.test" => format!("{receiver},mailto:{MAILBOX}"),
        _ => return String::new(),
    };
    format!("_smtp._tls 300 IN TXT \"v=TLSRPTv1; rua={rua}\"\n")
}
