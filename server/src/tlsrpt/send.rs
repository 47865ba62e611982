//! Sending a report to one URI (RFC 8460 §5).
//!
//! - `mailto:` (§5.3): a message put in our own delivery queue (so it is delivered with the same
//!   enforcement as every other message, retried by the queue's schedule), From the configured
//!   reporting address, `Subject: Report Domain: D Submitter: S Report-ID: <ID>`, the headers
//!   `TLS-Report-Domain` and `TLS-Report-Submitter`, `multipart/report; report-type="tlsrpt"`
//!   with a short text part and the gzip'd report as `application/tlsrpt+gzip`, named as §5.1
//!   says. Not DKIM-signed: Sendguard signs no mail.
//! - `https:` (§5.4): one `POST` of the gzip'd report as `application/tlsrpt+gzip` over HTTP/1.1
//!   and TLS with a certificate valid for the host under the WebPKI roots (plus configured extra
//!   roots, for tests and private PKIs), to an address the probe's guard allows
//!   ([`crate::probe::safety`]: a `rua` is attacker-controlled input, like an MX record), no
//!   redirects followed, the whole exchange within [`HTTPS_TIMEOUT`]. A 2xx answer is success;
//!   5xx, 408, 429 and network failures are temporary, other answers permanent.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as HeaderAddress;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls_pki_types::{CertificateDer, ServerName};
use sendguard_common::RecipientKind;

use super::TlsRptConfig;
use super::report::{self, Report};
use crate::dns::Dns;
use crate::probe::Prober;
use crate::store::queue::{NewMessage, NewRecipient};

/// The longest an HTTPS report upload may take, connecting included.
pub const HTTPS_TIMEOUT: Duration = Duration::from_secs(30);
/// The media type of a gzip'd report (RFC 8460 §6.4).
pub const MEDIA_TYPE: &str = "application/tlsrpt+gzip";

/// Why a report did not reach a URI.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Trying again later may succeed (network, timeout, 5xx, the queue busy).
    #[error("{0}")]
    Temporary(String),
    /// It will not (a refused address, a 4xx answer, an unusable URI).
    #[error("{0}")]
    Permanent(String),
}

/// The HTTPS client of report uploads: resolver, address guard, trusted roots.
#[derive(Clone)]
pub struct HttpsClient {
    dns: Dns,
    prober: Prober,
    tls: Arc<rustls::ClientConfig>,
    /// The port used when the URI names none (443; tests point it elsewhere).
    pub default_port: u16,
}

impl HttpsClient {
    /// A client that resolves and guards through `prober` and trusts the prober's roots (the
    /// WebPKI's and the operator's `--extra-roots`, as for MX certificates and MTA-STS policy
    /// fetches) and `extra_roots`.
    pub fn new(
        prober: Prober,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<HttpsClient, SendError> {
        let mut roots = RootCertStore::clone(&prober.webpki().roots());
        for root in extra_roots {
            roots
                .add(root.clone())
                .map_err(|e| SendError::Permanent(format!("an extra root: {e}")))?;
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), crate::tls::provider())
                .build()
                .map_err(|e| SendError::Permanent(format!("the verifier: {e}")))?;
        let config = crate::tls::client_config(verifier)
            .map_err(|e| SendError::Permanent(format!("the TLS configuration: {e}")))?;
        let mut config = (*config).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(HttpsClient {
            dns: prober.dns().clone(),
            prober,
            tls: Arc::new(config),
            default_port: 443,
        })
    }

    /// The resolver it looks hosts up with.
    pub fn dns(&self) -> &Dns {
        &self.dns
    }

    /// POSTs `body` to `uri` (see the module).
    pub async fn post(&self, uri: &Uri, body: Vec<u8>) -> Result<(), SendError> {
        match tokio::time::timeout(HTTPS_TIMEOUT, self.post_unbounded(uri, body)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::Temporary(format!(
                "no answer within {HTTPS_TIMEOUT:?}"
            ))),
        }
    }

    async fn post_unbounded(&self, uri: &Uri, body: Vec<u8>) -> Result<(), SendError> {
        let temporary = |e: &dyn std::fmt::Display| SendError::Temporary(e.to_string());
        let host = uri
            .host()
            .ok_or_else(|| SendError::Permanent("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(self.default_port);
        let addresses = self.addresses(&host).await?;
        let mut last = SendError::Permanent(format!("{host}: no address to connect to"));
        for ip in addresses {
            if let Some(why) = self.prober.refusal(ip) {
                last = SendError::Permanent(format!("{host} ({ip}): {why} is not contacted"));
                continue;
            }
            let addr = SocketAddr::new(ip, port);
            self.prober.note_connect(addr);
            let tcp = match tokio::net::TcpStream::connect(addr).await {
                Ok(tcp) => tcp,
                Err(e) => {
                    last = SendError::Temporary(format!("{host} ({ip}): {e}"));
                    continue;
                }
            };
            let name = ServerName::try_from(host.clone())
                .map_err(|_| SendError::Permanent(format!("{host:?} is not a host name")))?;
            let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
            // A certificate the roots do not vouch for (InvalidData) will not change by itself;
            // a handshake cut short may.
            let tls = connector.connect(name, tcp).await.map_err(|e| {
                let why = format!("{host} ({ip}): TLS: {e}");
                if e.kind() == std::io::ErrorKind::InvalidData {
                    SendError::Permanent(why)
                } else {
                    SendError::Temporary(why)
                }
            })?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| temporary(&e))?;
            let driver = tokio::spawn(connection);
            // Origin form (RFC 9112 §3.2.1): the path, the host in its own header.
            let target = uri.path_and_query().map_or("/", |p| p.as_str());
            let request = Request::post(target)
                .header(
                    hyper::header::HOST,
                    uri.authority().map_or(host.as_str(), |a| a.as_str()),
                )
                .header(hyper::header::CONTENT_TYPE, MEDIA_TYPE)
                .header(
                    hyper::header::USER_AGENT,
                    concat!("sendguard/", env!("CARGO_PKG_VERSION")),
                )
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| SendError::Permanent(e.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| temporary(&e));
            driver.abort();
            let status = response?.status();
            return if status.is_success() {
                Ok(())
            } else if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
                Err(SendError::Temporary(format!("{uri} answered {status}")))
            } else {
                Err(SendError::Permanent(format!("{uri} answered {status}")))
            };
        }
        Err(last)
    }

    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, SendError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let answer = self.dns.addresses(host).await.map_err(|e| {
            if e.is_temporary() {
                SendError::Temporary(e.to_string())
            } else {
                SendError::Permanent(e.to_string())
            }
        })?;
        Ok(answer.addresses)
    }
}

/// The report mail for the `mailto:` address `to` (domain `to_domain`, A-label), as a message to
/// queue; `gz` is the gzip'd report, `now` the time it is written.
pub fn report_message(
    config: &TlsRptConfig,
    report: &Report,
    day: i64,
    domain: &str,
    gz: Vec<u8>,
    (to, to_domain): (&str, &str),
    now: i64,
) -> Result<NewMessage, SendError> {
    let build = |e: std::io::Error| SendError::Permanent(format!("building the report mail: {e}"));
    let subject = format!(
        "Report Domain: {domain} Submitter: {} Report-ID: <{}>",
        config.submitter, report.report_id
    );
    let message_id = format!("{}@{}", random_hex(), config.submitter);
    let text = format!(
        "This is an aggregate TLS report (RFC 8460) from {} for {domain}, covering {} to {}.\r\n",
        config.organization, report.date_range.start_datetime, report.date_range.end_datetime
    );
    let unique = report.report_id.split('@').next().unwrap_or("report");
    let name = report::file_name(&config.submitter, domain, day, unique);
    let body = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "tlsrpt"),
        vec![
            MimePart::new("text/plain", text),
            MimePart::new(MEDIA_TYPE, gz).attachment(name),
        ],
    );
    let mut raw = MessageBuilder::new()
        .from(HeaderAddress::new_address(
            Some(config.organization.clone()),
            config.from.clone(),
        ))
        .to(HeaderAddress::new_address(None::<String>, to.to_string()))
        .subject(subject.clone())
        .date(now)
        .message_id(message_id.clone())
        .header("TLS-Report-Domain", Raw::new(domain.to_string()))
        .header("TLS-Report-Submitter", Raw::new(config.submitter.clone()))
        .body(body)
        .write_to_vec()
        .map_err(build)?;
    if !raw.ends_with(b"\r\n") {
        raw.extend_from_slice(b"\r\n");
    }
    Ok(NewMessage {
        owner: super::REPORT_OWNER.to_string(),
        envelope_from: config.from.clone(),
        from_header: config.from.clone(),
        subject,
        message_id,
        created_at: now,
        raw,
        recipients: vec![NewRecipient {
            address: to.to_string(),
            domain: to_domain.to_string(),
            kind: RecipientKind::To,
        }],
    })
}

/// 64 random bits in hex, for ids.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    // Without randomness the id is still unique enough with the time in it.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = crate::probe::now_unix().to_be_bytes();
    }
    hex::encode(bytes)
}
