//! DNS lookups for mail delivery, validated with DNSSEC (RFC 4033, RFC 4035) by
//! hickory-resolver acting as a validating stub resolver.
//!
//! - [`Dns::mx`] finds where a domain receives mail: its MX hosts, a null MX (RFC 7505), an
//!   implicit MX (no MX but address records: the domain is its own mail host, RFC 5321 §5.1),
//!   NXDOMAIN, or no mail host at all.
//! - [`Dns::addresses`] finds an MX host's A and AAAA records and the CNAME target it ends at.
//! - [`Dns::tlsa`] finds the TLSA records of an SMTP server at `_25._tcp.<host>`
//!   (RFC 7672 §2.2.1).
//! - [`Dns::txt`] finds the TXT records at a name (`txt.rs`), e.g. `_smtp._tls.<domain>`.
//!
//! Every answer carries its DNSSEC status (RFC 4035 §4.3): Secure only if every record of the
//! answer (or every record of the denial of existence) validated. A bogus answer is an error,
//! [`DnsError::Bogus`], because RFC 7672 §2.1.1 requires a delivery to defer on it, never to
//! read it as "no DANE". Each lookup is bounded by [`DnsConfig::timeout`] as a whole, besides
//! the per-query timeout given to the resolver.
//!
//! Behind a validating recursive resolver two second looks keep bogus and outage apart: a
//! SERVFAIL is asked again with the CD bit and validated here, and the resolver's Extended DNS
//! Error (RFC 8914) is read ([`recheck`]); an answer hickory judges bogus is re-checked one
//! CNAME link at a time ([`chain`]), because hickory 0.26 misjudges a NODATA reached
//! through a CNAME.
//!
//! Caching: hickory's response cache is kept, with TTLs respected but capped at
//! [`MAX_POSITIVE_TTL`] and [`MAX_NEGATIVE_TTL`]; below the validator, the DNSKEY and DS
//! answers it fetches are cached as well ([`keycache`]), so that validating the RRsets of one
//! answer after another does not ask the wire for the same key set each time.
//! [`Dns::clear_cache`] forgets everything (including validated keys), for an operator's
//! explicit re-check or a test whose zones change.
//!
//! [`selftest`] shows, at start and every few minutes, that validation works through the
//! configured resolver and trust anchor at all (a signed name secure, a broken one bogus).

mod anchor;
mod answer;
mod chain;
mod keycache;
mod name;
mod recheck;
pub mod selftest;
mod txt;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::proto::dnssec::TrustAnchors;
use hickory_resolver::proto::rr::{RData, RecordType};
use sendguard_common::DnssecStatus;

use crate::dane::tlsa::{TlsaRecord, smtp_tlsa_name};
use answer::{Outcome, check_cname_chain, classify, is_servfail, weakest};
use keycache::KeyCaching;
pub use name::to_a_label;
pub use txt::TxtAnswer;

pub(crate) use hickory_resolver::proto::rr::Name;

/// Longest time a positive answer stays in the resolver's cache, whatever its TTL.
pub const MAX_POSITIVE_TTL: Duration = Duration::from_secs(300);
/// Longest time a negative answer (NXDOMAIN, NODATA) stays in the resolver's cache.
/// (hickory does not cache validated negative answers at all: it drops their TTL.)
pub const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(60);
/// Most CNAME links an answer may hold (and [`Dns`] follows itself when it re-checks an answer
/// judged bogus); a longer chain, or a loop, is a temporary failure that says so.
pub const MAX_CNAME_LINKS: usize = 8;

/// Where and how to resolve.
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// The recursive resolver (or, in tests, the authoritative simulator) to ask;
    /// `None` reads the system's `/etc/resolv.conf`.
    pub resolver: Option<SocketAddr>,
    /// A file of DNSKEY or DS records in zone-file form (`. 3600 IN DNSKEY 257 3 13 ...`,
    /// `. 3600 IN DS 20326 8 2 E06D...`) to use as the only DNSSEC trust anchors; `None` uses
    /// hickory's built-in IANA root keys. Keys named by DS records are fetched before the first
    /// lookup ([`anchor`]).
    pub trust_anchor: Option<PathBuf>,
    /// Upper bound on each public lookup as a whole (all queries and validation steps).
    pub timeout: Duration,
}

/// A validating DNS client. Cheap to clone: clones share the resolver and its cache.
#[derive(Clone)]
pub struct Dns {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns")
            .field("name_servers", &self.inner.config.name_servers().len())
            .field(
                "custom_trust_anchor",
                &(self.inner.pending_anchor.is_some() || self.trust_anchor().is_some()),
            )
            .field("timeout", &self.inner.timeout)
            .finish()
    }
}

struct Inner {
    resolver: RwLock<Resolver<KeyCaching>>,
    /// What [`Dns::clear_cache`] rebuilds the resolver from.
    config: ResolverConfig,
    trust_anchor: RwLock<Option<Arc<TrustAnchors>>>,
    /// A trust anchor file with DS records, whose keys are fetched before the first lookup.
    pending_anchor: Option<anchor::AnchorFile>,
    anchor_ready: tokio::sync::OnceCell<()>,
    timeout: Duration,
}

/// The mail exchangers of a domain (RFC 5321 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxAnswer {
    /// DNSSEC status of the answer. For [`MxKind::Implicit`] and [`MxKind::NoMailHost`] it is the
    /// weaker of the MX denial and the address lookup.
    pub dnssec: DnssecStatus,
    /// What was found.
    pub kind: MxKind,
}

/// The kinds of answer an MX lookup has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxKind {
    /// MX hosts, sorted by preference, then by name.
    Hosts(Vec<MxHost>),
    /// A null MX (`MX 0 .`, RFC 7505 §3): the domain accepts no mail.
    NullMx,
    /// No MX records but the domain has A/AAAA records: it is its own mail host with
    /// preference 0 (RFC 5321 §5.1).
    Implicit,
    /// The domain does not exist.
    NxDomain,
    /// The domain exists but has neither MX nor address records: mail cannot be delivered.
    NoMailHost,
}

/// One MX record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MxHost {
    /// MX preference; lower is preferred.
    pub preference: u16,
    /// The exchange host: A-label, lower-case, no trailing dot.
    pub host: String,
}

/// The addresses of a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressAnswer {
    /// IPv4 then IPv6 addresses, each family in answer order; empty when the host has none
    /// (or does not exist).
    pub addresses: Vec<IpAddr>,
    /// The weaker status of the A and the AAAA answer.
    pub dnssec: DnssecStatus,
    /// When the host is an alias: the final target of its CNAME chain (no trailing dot).
    pub canonical: Option<String>,
}

/// The TLSA records of an SMTP server (RFC 7672 §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaAnswer {
    /// Secure with no records is a signed proof that there are none. Insecure means an
    /// unsigned zone: callers must ignore the records (RFC 7672 §2.2), which are still returned.
    pub dnssec: DnssecStatus,
    /// The records, in answer order.
    pub records: Vec<TlsaRecord>,
}

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The answer could not be had now (timeout, SERVFAIL, REFUSED, network error): try later.
    #[error("temporary DNS failure: {0}")]
    Temporary(String),
    /// DNSSEC validation failed. Callers must defer delivery and never treat this as "no DANE"
    /// (RFC 7672 §2.1.1).
    #[error("DNSSEC bogus: {0}")]
    Bogus(String),
    /// The question itself is wrong (invalid name, unreadable trust anchor): retrying will not
    /// help.
    #[error("DNS error: {0}")]
    Permanent(String),
}

impl DnsError {
    /// Whether a later attempt may succeed, so a delivery must be deferred rather than
    /// bounced: true for [`DnsError::Temporary`] and [`DnsError::Bogus`].
    pub fn is_temporary(&self) -> bool {
        matches!(self, DnsError::Temporary(_) | DnsError::Bogus(_))
    }

    /// Whether DNSSEC validation failed.
    pub fn is_bogus(&self) -> bool {
        matches!(self, DnsError::Bogus(_))
    }

    /// A reason code for logs: `dns_temporary`, `dnssec_bogus` or `dns_permanent`.
    pub fn code(&self) -> &'static str {
        match self {
            DnsError::Temporary(_) => "dns_temporary",
            DnsError::Bogus(_) => "dnssec_bogus",
            DnsError::Permanent(_) => "dns_permanent",
        }
    }
}

impl Dns {
    /// Build a validating resolver from `cfg`. Reads the trust anchor file and, without an
    /// explicit resolver, the system configuration; sends no queries yet.
    pub fn new(cfg: &DnsConfig) -> Result<Dns, DnsError> {
        if cfg.timeout.is_zero() {
            return Err(DnsError::Permanent(
                "the DNS timeout must not be zero".into(),
            ));
        }
        let config = match cfg.resolver {
            Some(addr) => {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                ResolverConfig::from_parts(None, vec![], vec![server])
            }
            None => {
                let (config, _opts) =
                    hickory_resolver::system_conf::read_system_conf().map_err(|err| {
                        DnsError::Permanent(format!("reading the system resolver config: {err}"))
                    })?;
                config
            }
        };
        let file = cfg.trust_anchor.as_deref().map(anchor::read).transpose()?;
        let trust_anchor = file.as_ref().map(|f| Arc::new(anchor::key_anchors(f)));
        let pending_anchor = file.filter(|f| !f.digests.is_empty());
        let resolver = build_resolver(&config, trust_anchor.clone(), cfg.timeout)?;
        Ok(Dns {
            inner: Arc::new(Inner {
                resolver: RwLock::new(resolver),
                config,
                trust_anchor: RwLock::new(trust_anchor),
                pending_anchor,
                anchor_ready: tokio::sync::OnceCell::new(),
                timeout: cfg.timeout,
            }),
        })
    }

    fn trust_anchor(&self) -> Option<Arc<TrustAnchors>> {
        self.inner
            .trust_anchor
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Before the first lookup with a DS trust anchor: fetch the keys it names and rebuild the
    /// resolver with them. A failure is returned and tried again at the next lookup.
    async fn ensure_anchor(&self) -> Result<(), DnsError> {
        let Some(file) = &self.inner.pending_anchor else {
            return Ok(());
        };
        self.inner
            .anchor_ready
            .get_or_try_init(|| async {
                let anchors = anchor::resolve(file, &self.inner.config, self.inner.timeout).await?;
                *self
                    .inner
                    .trust_anchor
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::new(anchors));
                self.clear_cache();
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Forget every cached answer and validated key, so the next lookups ask again.
    pub fn clear_cache(&self) {
        match build_resolver(&self.inner.config, self.trust_anchor(), self.inner.timeout) {
            Ok(fresh) => {
                let mut guard = self
                    .inner
                    .resolver
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                *guard = fresh;
            }
            Err(err) => {
                // Cannot happen with a configuration that built once; keep the old resolver
                // but at least drop its answers.
                tracing::warn!(%err, "rebuilding the resolver failed; clearing its cache only");
                self.resolver().clear_cache();
            }
        }
    }

    /// The mail exchangers of `domain` (an A-label name, see [`to_a_label`]), following
    /// RFC 5321 §5.1 and RFC 7505.
    pub async fn mx(&self, domain: &str) -> Result<MxAnswer, DnsError> {
        let name = name::fqdn(domain)?;
        let what = format!("MX lookup for {domain}");
        self.bounded(&what, async {
            let outcome = self.query(&name, RecordType::MX, &what).await?;
            let status = outcome.status();
            match outcome {
                Outcome::NxDomain(status) => Ok(MxAnswer {
                    dnssec: status,
                    kind: MxKind::NxDomain,
                }),
                Outcome::Records(..) => Ok(MxAnswer {
                    dnssec: status,
                    kind: mx_kind(&outcome),
                }),
                Outcome::NoData(status) => {
                    // RFC 5321 §5.1: without MX records the domain itself is the mail host,
                    // if it has an address.
                    let addresses = self.address_lookup(&name, domain).await?;
                    let dnssec = weakest(status, addresses.dnssec);
                    let kind = if addresses.addresses.is_empty() {
                        MxKind::NoMailHost
                    } else {
                        MxKind::Implicit
                    };
                    Ok(MxAnswer { dnssec, kind })
                }
            }
        })
        .await
    }

    /// Asks for the DNSKEY and DS records of `name` and of each of its ancestors up to the
    /// root, all at once, and forgets the answers: their validation fills the resolver's
    /// DNSSEC validation cache, so that the validation of the answers a probe needs (RFC 4035
    /// §5: each signer's DNSKEY, proven by its DS in the parent, up to the trust anchor) finds
    /// the chain proven instead of walking it one zone at a time. Bounded by the DNS timeout.
    pub async fn prefetch_chain(&self, name: &str) {
        let Ok(mut zone) = name::fqdn(name) else {
            return;
        };
        if self.ensure_anchor().await.is_err() {
            return;
        }
        let resolver = self.resolver();
        let mut questions = Vec::new();
        loop {
            questions.push(resolver.lookup(zone.clone(), RecordType::DNSKEY));
            if zone.is_root() {
                break;
            }
            questions.push(resolver.lookup(zone.clone(), RecordType::DS));
            zone = zone.base_name();
        }
        let _ =
            tokio::time::timeout(self.inner.timeout, futures::future::join_all(questions)).await;
    }

    /// The A and AAAA records of `host` (an A-label name), following CNAMEs.
    pub async fn addresses(&self, host: &str) -> Result<AddressAnswer, DnsError> {
        let name = name::fqdn(host)?;
        let what = format!("address lookup for {host}");
        self.bounded(&what, self.address_lookup(&name, host)).await
    }

    /// The TLSA records at `_25._tcp.<host>` (RFC 7672 §2.2.1), whatever port the server
    /// listens on.
    pub async fn tlsa(&self, host: &str) -> Result<TlsaAnswer, DnsError> {
        let owner = smtp_tlsa_name(host);
        let name = name::fqdn(&owner)?;
        let what = format!("TLSA lookup for {owner}");
        self.bounded(&what, async {
            let outcome = self.query(&name, RecordType::TLSA, &what).await?;
            let records = outcome
                .records()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TLSA(tlsa) => Some(TlsaRecord {
                        usage: u8::from(tlsa.cert_usage),
                        selector: u8::from(tlsa.selector),
                        matching: u8::from(tlsa.matching),
                        data: tlsa.cert_data.clone(),
                    }),
                    _ => None,
                })
                .collect();
            Ok(TlsaAnswer {
                dnssec: outcome.status(),
                records,
            })
        })
        .await
    }

    /// A and AAAA in parallel, without the overall timeout (callers apply it).
    async fn address_lookup(&self, name: &Name, host: &str) -> Result<AddressAnswer, DnsError> {
        let what_a = format!("A lookup for {host}");
        let what_aaaa = format!("AAAA lookup for {host}");
        let (v4, v6) = futures::join!(
            self.query(name, RecordType::A, &what_a),
            self.query(name, RecordType::AAAA, &what_aaaa),
        );
        let (v4, v6) = (v4?, v6?);
        let mut addresses = Vec::new();
        for outcome in [&v4, &v6] {
            for record in outcome.records() {
                match &record.data {
                    RData::A(a) => addresses.push(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => addresses.push(IpAddr::V6(aaaa.0)),
                    _ => {}
                }
            }
        }
        let canonical =
            canonical_name(name, v4.records()).or_else(|| canonical_name(name, v6.records()));
        Ok(AddressAnswer {
            addresses,
            dnssec: weakest(v4.status(), v6.status()),
            canonical,
        })
    }

    /// One query, classified, with two second looks: a SERVFAIL is examined to tell bogus
    /// from an outage ([`recheck`]), and an answer judged bogus is re-checked along its CNAME
    /// chain ([`chain`]).
    async fn query(&self, name: &Name, rtype: RecordType, what: &str) -> Result<Outcome, DnsError> {
        let outcome = match self.ask(name, rtype, what).await {
            Err(DnsError::Bogus(detail)) if rtype != RecordType::CNAME => {
                self.walk_cname(name, rtype, what, detail).await
            }
            other => other,
        }?;
        check_cname_chain(name, rtype, &outcome, MAX_CNAME_LINKS, what)?;
        Ok(outcome)
    }

    /// One question to the resolver, followed along its CNAME chain here when hickory gave up
    /// inside it ([`chain`]).
    pub(super) async fn ask(
        &self,
        name: &Name,
        rtype: RecordType,
        what: &str,
    ) -> Result<Outcome, DnsError> {
        self.ensure_anchor().await?;
        let result = self.resolver().lookup(name.clone(), rtype).await;
        if answer::chain_cut_short(&result) {
            return self.follow_chain(name, rtype, what).await;
        }
        self.settle(name, rtype, what, result).await
    }

    /// One question to the resolver, as it answers.
    pub(super) async fn ask_once(
        &self,
        name: &Name,
        rtype: RecordType,
        what: &str,
    ) -> Result<Outcome, DnsError> {
        let result = self.resolver().lookup(name.clone(), rtype).await;
        self.settle(name, rtype, what, result).await
    }

    /// Classifies a result; a SERVFAIL is asked again with CD and its EDE read ([`recheck`]).
    async fn settle(
        &self,
        name: &Name,
        rtype: RecordType,
        what: &str,
        result: Result<hickory_resolver::lookup::Lookup, hickory_resolver::net::NetError>,
    ) -> Result<Outcome, DnsError> {
        if is_servfail(&result) {
            let cx = recheck::Context {
                config: &self.inner.config,
                opts: resolver_opts(self.inner.timeout),
                trust_anchor: self.trust_anchor(),
                timeout: self.inner.timeout,
            };
            return recheck::after_servfail(cx, name, rtype, what).await;
        }
        classify(result, what)
    }

    /// Run `fut` within the configured timeout.
    async fn bounded<T>(
        &self,
        what: &str,
        fut: impl std::future::Future<Output = Result<T, DnsError>>,
    ) -> Result<T, DnsError> {
        let result = match tokio::time::timeout(self.inner.timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(DnsError::Temporary(format!(
                "{what}: no answer within {:?}",
                self.inner.timeout
            ))),
        };
        if let Err(e) = &result {
            tracing::warn!(
                event = "resolver_problem",
                reason = e.code(),
                lookup = what,
                detail = %e,
                "DNS lookup failed"
            );
        }
        result
    }

    fn resolver(&self) -> Resolver<KeyCaching> {
        self.inner
            .resolver
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Build the validating resolver. Validation is always on: with a trust anchor file its keys
/// are the only anchors (setting `ResolverOpts::trust_anchor` alone would keep the IANA keys
/// as well, see the project's testworld notes), otherwise hickory's built-in root keys.
fn build_resolver(
    config: &ResolverConfig,
    trust_anchor: Option<Arc<TrustAnchors>>,
    timeout: Duration,
) -> Result<Resolver<KeyCaching>, DnsError> {
    let mut builder = Resolver::builder_with_config(config.clone(), KeyCaching::new())
        .with_options(resolver_opts(timeout));
    if let Some(anchor) = trust_anchor {
        builder = builder.with_trust_anchor(anchor);
    }
    builder
        .build()
        .map_err(|err| DnsError::Permanent(format!("building the resolver: {err}")))
}

/// The resolver's options: validating, bounded in time, TTLs capped, no hosts file.
fn resolver_opts(timeout: Duration) -> ResolverOpts {
    let mut opts = ResolverOpts::default();
    opts.validate = true;
    // Two tries per query within the overall budget, so one lost UDP datagram is not fatal.
    opts.timeout = (timeout / 2).max(Duration::from_millis(50));
    opts.attempts = 2;
    // MX hosts from /etc/hosts would bypass DNSSEC and confuse tests.
    opts.use_hosts_file = ResolveHosts::Never;
    opts.positive_max_ttl = Some(MAX_POSITIVE_TTL);
    opts.negative_max_ttl = Some(MAX_NEGATIVE_TTL);
    opts.preserve_intermediates = true;
    opts.edns0 = true;
    opts
}

/// The kind of a positive MX answer: hosts, or a null MX (RFC 7505 §3).
fn mx_kind(outcome: &Outcome) -> MxKind {
    let mut hosts = Vec::new();
    let mut null_mx = false;
    for record in outcome.records() {
        if let RData::MX(mx) = &record.data {
            if mx.exchange.is_root() {
                null_mx = true;
            } else {
                hosts.push(MxHost {
                    preference: mx.preference,
                    host: name::display(&mx.exchange),
                });
            }
        }
    }
    // RFC 7505 §3: a null MX must be the only MX record. When it is mixed with real ones
    // (a misconfiguration), the real hosts are still where mail would go.
    if hosts.is_empty() {
        return if null_mx {
            MxKind::NullMx
        } else {
            MxKind::NoMailHost
        };
    }
    hosts.sort();
    hosts.dedup();
    MxKind::Hosts(hosts)
}

/// The end of the CNAME chain starting at `name`, if `answers` holds one.
fn canonical_name(name: &Name, answers: &[hickory_resolver::proto::rr::Record]) -> Option<String> {
    let mut current = name.to_lowercase();
    let mut hops = 0;
    while let Some(target) = answers.iter().find_map(|record| match &record.data {
        RData::CNAME(cname) if record.name.to_lowercase() == current => {
            Some(cname.0.to_lowercase())
        }
        _ => None,
    }) {
        current = target;
        hops += 1;
        if hops > 16 {
            break; // a loop; the resolver would not have answered, but do not spin
        }
    }
    (hops > 0).then(|| name::display(&current))
}
