//! Fetching a policy: `GET /.well-known/mta-sts.txt` from `mta-sts.<domain>` over HTTPS
//! (RFC 8461 §3.3), with hyper's HTTP/1.1 client connection over a tokio-rustls stream.
//!
//! - The certificate must be valid for `mta-sts.<domain>` under the WebPKI roots (plus the
//!   operator's `--extra-roots`): rustls' own verifier, nothing skipped (§3.3).
//! - HTTP 3xx redirects are not followed (§3.3); any status but 200 is a failure.
//! - Only `text/plain` (parameters such as `charset` allowed) is read (§3.2).
//! - At most [`MAX_POLICY_BYTES`] (64 KiB) of body; the whole fetch within
//!   [`FetchConfig::timeout`] (§3.3 suggests a short one) and each address at most once.
//! - Every address the name resolves to passes the probe's address guard first
//!   ([`crate::probe::safety`]): the policy host is attacker-chosen like an MX host.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::parse::{Policy, PolicyError, parse_policy};
use crate::dns::Dns;
use crate::probe::safety::AddressGuard;

/// The largest policy read (RFC 8461 §3.3 recommends a limit; 64 KiB is what others use).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// The path of the policy (RFC 8461 §3.2).
pub const WELL_KNOWN: &str = "/.well-known/mta-sts.txt";
/// At most this many addresses of the policy host are tried.
pub const MAX_ADDRESSES: usize = 4;

/// Where and how policies are fetched.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// The HTTPS port: 443, another only in tests (the simulated internet's policy server).
    pub port: u16,
    /// The whole fetch (DNS, connect, handshake, request, body) within this.
    pub timeout: Duration,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            port: 443,
            timeout: Duration::from_secs(20),
        }
    }
}

/// Why no policy was fetched. [`FetchError::is_temporary`] keeps "try again soon" apart from
/// "the publisher must fix it".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The policy host's addresses could not be looked up, or it has none.
    #[error("mta-sts.{0}: {1}")]
    NoAddress(String, String),
    /// Every address of the policy host is one the guard refuses.
    #[error("{0} is not contacted")]
    Forbidden(String),
    /// No connection or no TLS session could be made (temporary).
    #[error("{0}")]
    Connect(String),
    /// The certificate is not valid for the policy host under the WebPKI (§3.3).
    #[error("the policy host's certificate is not valid: {0}")]
    Certificate(String),
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(String),
    /// A redirect, which is not followed (§3.3).
    #[error("the policy host answered with a redirect ({0}), which is not followed")]
    Redirect(u16),
    /// A status other than 200.
    #[error("the policy host answered HTTP {0}")]
    Status(u16),
    /// Not `text/plain` (§3.2).
    #[error("the policy is served as {0:?}, not text/plain")]
    ContentType(String),
    /// More than [`MAX_POLICY_BYTES`].
    #[error("the policy is larger than {MAX_POLICY_BYTES} bytes")]
    TooLarge,
    /// The fetch did not finish in time.
    #[error("the policy fetch did not finish within {0:?}")]
    Timeout(Duration),
    /// The policy does not parse.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl FetchError {
    /// The step of discovery that failed ([`super::StsStep`]).
    pub fn step(&self) -> super::StsStep {
        match self {
            FetchError::Certificate(_) => super::StsStep::Certificate,
            FetchError::ContentType(_) | FetchError::TooLarge | FetchError::Policy(_) => {
                super::StsStep::Policy
            }
            _ => super::StsStep::Fetch,
        }
    }

    /// Whether trying again later may succeed without the publisher changing anything.
    pub fn is_temporary(&self) -> bool {
        match self {
            FetchError::NoAddress(..)
            | FetchError::Connect(_)
            | FetchError::Http(_)
            | FetchError::Timeout(_) => true,
            FetchError::Status(s) => *s >= 500,
            _ => false,
        }
    }
}

/// What a fetch needs besides the domain: the resolver, the guard and the trusted roots.
#[derive(Clone)]
pub struct Fetcher {
    /// The resolver of the probe (DNSSEC not required: the HTTPS certificate authenticates).
    pub dns: Dns,
    /// The probe's address guard.
    pub guard: AddressGuard,
    /// The WebPKI roots plus the operator's extra roots.
    pub roots: Arc<RootCertStore>,
    /// Port and time limit.
    pub config: FetchConfig,
}

impl Fetcher {
    /// Fetches and parses the policy of `domain` (A-label form).
    pub async fn fetch(&self, domain: &str) -> Result<Policy, FetchError> {
        let limit = self.config.timeout;
        match tokio::time::timeout(limit, self.fetch_unbounded(domain)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(limit)),
        }
    }

    async fn fetch_unbounded(&self, domain: &str) -> Result<Policy, FetchError> {
        let host = format!("mta-sts.{domain}");
        let answer = self
            .dns
            .addresses(&host)
            .await
            .map_err(|e| FetchError::NoAddress(domain.into(), e.to_string()))?;
        if answer.addresses.is_empty() {
            return Err(FetchError::NoAddress(domain.into(), "no address".into()));
        }
        let mut last = None;
        for ip in answer.addresses.iter().take(MAX_ADDRESSES) {
            if let Some(why) = self.guard.refusal(*ip) {
                last.get_or_insert(FetchError::Forbidden(why.to_string()));
                continue;
            }
            match self.get(&host, *ip).await {
                Ok(body) => return Ok(parse_policy(&body)?),
                // Only a failure to reach this address is worth another address.
                Err(e @ FetchError::Connect(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| FetchError::NoAddress(domain.into(), "no address".into())))
    }

    /// One GET of the policy from `ip`, its body returned.
    async fn get(&self, host: &str, ip: IpAddr) -> Result<Vec<u8>, FetchError> {
        let addr = SocketAddr::new(ip, self.config.port);
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| FetchError::Connect(format!("{host} ({addr}): {e}")))?;
        let mut tls_config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::Connect(e.to_string()))?
        .with_root_certificates(self.roots.clone())
        .with_no_client_auth();
        tls_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| FetchError::Connect(format!("{host:?} is not a host name")))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_config))
            .connect(name, tcp)
            .await
            .map_err(|e| tls_error(host, &e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        let driver = AbortOnDrop(tokio::spawn(connection));
        let request = hyper::Request::get(WELL_KNOWN)
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, "sendguard")
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::Http(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            return Err(FetchError::Redirect(status));
        }
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let media = content_type.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("text/plain") {
            let shown: String = content_type.chars().take(80).collect();
            return Err(FetchError::ContentType(shown));
        }
        if response
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|n| n > MAX_POLICY_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| FetchError::Http(e.to_string()))?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > MAX_POLICY_BYTES {
                    return Err(FetchError::TooLarge);
                }
                bytes.extend_from_slice(data);
            }
        }
        drop(driver);
        Ok(bytes)
    }
}

/// A TLS failure: the certificate's (the publisher must fix it) or the connection's.
fn tls_error(host: &str, e: &std::io::Error) -> FetchError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(c)) => FetchError::Certificate(format!("{c:?}")),
        _ => FetchError::Connect(format!("{host}: TLS: {e}")),
    }
}

/// The HTTP connection's task, ended with the fetch however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
