//! A second look when the resolver answers SERVFAIL (RFC 1035 §4.1.1). A validating resolver
//! answers SERVFAIL both for a forgery (DNSSEC bogus, RFC 4035 §5.5) and for an outage, and
//! the two must not be confused: bogus blocks a recipient, an outage only defers it
//! (RFC 7672 §2.1.1). Two questions go out at once:
//!
//! - The same question with the CD bit (Checking Disabled, RFC 4035 §3.2.2 and §4.9.2) and DO,
//!   so that the resolver passes the data on unvalidated and hickory validates it here against
//!   our own trust anchors. Its verdict is our own finding and decides whenever it arrives.
//! - The same question without CD, to read the resolver's Extended DNS Error (RFC 8914) from
//!   the SERVFAIL: the DNSSEC codes 6-12 (DNSSEC Bogus, Signature Expired, Signature Not Yet
//!   Valid, DNSKEY Missing, RRSIGs Missing, No Zone Key Bit Set, NSEC Missing) say that the
//!   resolver found a forgery. It decides only when the CD question brought nothing to validate.
//!
//! Anything else (no answer to the CD question and no DNSSEC EDE: "No Reachable Authority",
//! "Network Error", no EDE at all) stays a temporary failure: a transient failure is never
//! reported as "validation failed".

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::caching_client::CachingClient;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::net::dnssec::DnssecDnsHandle;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::udp::UdpClientStream;
use hickory_resolver::net::xfer::FirstAnswer;
use hickory_resolver::net::{DnsHandle, RetryDnsHandle};
use hickory_resolver::proto::dnssec::TrustAnchors;
use hickory_resolver::proto::op::{DnsRequest, DnsRequestOptions, Query, ResponseCode};
use hickory_resolver::proto::rr::rdata::opt::EdnsOption;
use hickory_resolver::proto::rr::{Name, RecordType};
use hickory_resolver::{NameServerPool, PoolContext, TlsConfig};

use super::DnsError;
use super::answer::{Outcome, classify};

/// The EDNS option code of an Extended DNS Error (RFC 8914 §2).
const EDE_OPTION: u16 = 15;

/// An Extended DNS Error: its INFO-CODE and EXTRA-TEXT (RFC 8914 §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExtendedError {
    /// The INFO-CODE (RFC 8914 §4).
    pub(crate) code: u16,
    /// The EXTRA-TEXT, empty when the resolver gave none.
    pub(crate) text: String,
}

impl ExtendedError {
    /// Reads the option's payload: two octets of INFO-CODE, then UTF-8 text (RFC 8914 §2).
    pub(crate) fn parse(data: &[u8]) -> Option<ExtendedError> {
        let (code, text) = data.split_first_chunk::<2>()?;
        let text = String::from_utf8_lossy(text);
        // Bounded and without control characters: it ends up in a reason text.
        let text: String = text
            .trim_end_matches('\0')
            .chars()
            .filter(|c| !c.is_control())
            .take(120)
            .collect();
        Some(ExtendedError {
            code: u16::from_be_bytes(*code),
            text,
        })
    }

    /// Whether the code says that DNSSEC validation failed (RFC 8914 §4.7 to §4.13).
    pub(crate) fn is_bogus(&self) -> bool {
        (6..=12).contains(&self.code)
    }
}

impl std::fmt::Display for ExtendedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.code {
            0 => "Other Error",
            3 => "Stale Answer",
            5 => "DNSSEC Indeterminate",
            6 => "DNSSEC Bogus",
            7 => "Signature Expired",
            8 => "Signature Not Yet Valid",
            9 => "DNSKEY Missing",
            10 => "RRSIGs Missing",
            11 => "No Zone Key Bit Set",
            12 => "NSEC Missing",
            13 => "Cached Error",
            14 => "Not Ready",
            20 => "Not Authoritative",
            22 => "No Reachable Authority",
            23 => "Network Error",
            24 => "Invalid Data",
            _ => "Extended DNS Error",
        };
        write!(f, "EDE {} {name}", self.code)?;
        if !self.text.is_empty() {
            write!(f, ": {}", self.text)?;
        }
        Ok(())
    }
}

/// What [`after_servfail`] needs: where the resolver is and what to trust.
pub(super) struct Context<'a> {
    pub(super) config: &'a ResolverConfig,
    pub(super) opts: ResolverOpts,
    pub(super) trust_anchor: Option<Arc<TrustAnchors>>,
    pub(super) timeout: Duration,
}

/// After the resolver answered SERVFAIL to `name`/`rtype`: the answer validated here from a
/// CD query, [`DnsError::Bogus`] when this validation or the resolver's EDE says so, else
/// [`DnsError::Temporary`].
pub(super) async fn after_servfail(
    cx: Context<'_>,
    name: &Name,
    rtype: RecordType,
    what: &str,
) -> Result<Outcome, DnsError> {
    let server = cx.config.name_servers().first().map(|s| {
        let port = s.connections.first().map_or(53, |c| c.port);
        SocketAddr::new(s.ip, port)
    });
    let (checked, ede) = futures::join!(checking_disabled(&cx, name, rtype, what), async {
        match server {
            Some(server) => extended_error(server, name, rtype, cx.timeout).await,
            None => None,
        }
    });
    match (checked, ede) {
        (Ok(outcome), _) => Ok(outcome),
        (Err(DnsError::Bogus(d)), Some(ede)) => Err(DnsError::Bogus(format!("{d}; {ede}"))),
        (Err(err @ (DnsError::Bogus(_) | DnsError::Permanent(_))), None) => Err(err),
        (Err(_), Some(ede)) if ede.is_bogus() => Err(DnsError::Bogus(format!(
            "{what}: the resolver reports that DNSSEC validation failed ({ede})"
        ))),
        (Err(_), Some(ede)) => Err(DnsError::Temporary(format!(
            "{what}: server answered Server Failure ({ede})"
        ))),
        (Err(_), None) => Err(DnsError::Temporary(format!(
            "{what}: server answered Server Failure"
        ))),
    }
}

/// The question again with CD and DO, validated here.
async fn checking_disabled(
    cx: &Context<'_>,
    name: &Name,
    rtype: RecordType,
    what: &str,
) -> Result<Outcome, DnsError> {
    let tls = TlsConfig::new()
        .map_err(|err| DnsError::Permanent(format!("setting up the resolver: {err}")))?;
    let pool = NameServerPool::from_config(
        cx.config.name_servers().iter().cloned(),
        Arc::new(PoolContext::new(cx.opts.clone(), tls)),
        TokioRuntimeProvider::default(),
    );
    let retry = RetryDnsHandle::new(pool, cx.opts.attempts);
    let anchors = cx.trust_anchor.clone().unwrap_or_default();
    let validating = DnssecDnsHandle::with_trust_anchor(CheckingDisabled(retry), anchors);
    let client = CachingClient::new(0, validating, true);
    let mut options = DnsRequestOptions::default();
    options.use_edns = true;
    options.edns_set_dnssec_ok = true;
    let result = client
        .lookup(Query::query(name.clone(), rtype), options)
        .await;
    classify(result, what)
}

/// The resolver's Extended DNS Error for the question asked without CD, if it gives one.
async fn extended_error(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Option<ExtendedError> {
    let exchange = UdpClientStream::builder(server, TokioRuntimeProvider::default())
        .with_timeout(Some(timeout))
        .exchange();
    let mut options = DnsRequestOptions::default();
    options.use_edns = true;
    options.edns_set_dnssec_ok = true;
    let response = exchange
        .send(DnsRequest::from_query(
            Query::query(name.clone(), rtype),
            options,
        ))
        .first_answer()
        .await
        .ok()?;
    if response.response_code != ResponseCode::ServFail {
        return None;
    }
    let edns = response.edns.as_ref()?;
    edns.options()
        .as_ref()
        .iter()
        .find_map(|(_, option)| match option {
            EdnsOption::Unknown(EDE_OPTION, data) => ExtendedError::parse(data),
            _ => None,
        })
}

/// A handle that sets the CD bit on every request it passes on, below hickory's validator
/// (which clears it on the requests it makes).
#[derive(Clone)]
struct CheckingDisabled<H>(H);

impl<H: DnsHandle> DnsHandle for CheckingDisabled<H> {
    type Response = H::Response;
    type Runtime = H::Runtime;

    fn send(&self, mut request: DnsRequest) -> Self::Response {
        request.metadata.checking_disabled = true;
        self.0.send(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_errors_parse_and_say_whether_dnssec_failed() {
        // unbound's "DNSKEY Missing" with text, as sent on the wire (RFC 8914 §2).
        let mut data = 9u16.to_be_bytes().to_vec();
        data.extend_from_slice(b"no keys have a DS\x07");
        let ede = ExtendedError::parse(&data).unwrap();
        assert_eq!(ede.code, 9);
        assert_eq!(ede.text, "no keys have a DS");
        assert!(ede.is_bogus());
        assert_eq!(ede.to_string(), "EDE 9 DNSKEY Missing: no keys have a DS");
        let unreachable = ExtendedError::parse(&22u16.to_be_bytes()).unwrap();
        assert!(!unreachable.is_bogus());
        assert_eq!(unreachable.to_string(), "EDE 22 No Reachable Authority");
        assert!(
            !ExtendedError::parse(&23u16.to_be_bytes())
                .unwrap()
                .is_bogus()
        );
        assert_eq!(ExtendedError::parse(&[1]), None);
    }
}
