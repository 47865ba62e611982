//! The probe: gathers the facts about a recipient domain that the policy judges.
//!
//! For a domain (converted to A-labels first): the MX lookup with its DNSSEC status (RFC 5321
//! §5.1 implicit MX, RFC 7505 null MX), then for every MX host concurrently its addresses and,
//! asked at the same time, its TLSA records, used only when the addresses are DNSSEC-secure
//! (RFC 7672 §2.2, expanded CNAME first), then for every address concurrently an SMTP session
//! up to STARTTLS and the TLS handshake (RFC 3207), whose certificate chain is matched against
//! the TLSA records (RFC 7671) and described. Beside the MX lookup, the domain's MTA-STS
//! policy is looked up, taken from the cache or fetched ([`crate::mta_sts`], RFC 8461); the
//! fetch passes the same address guard; and the DNSSEC keys of the domain's zones are asked for
//! ([`Dns::prefetch_chain`]), so that validation does not walk the chain one zone at a time.
//!
//! Remote servers are protected from what users type: global bounds on simultaneous SMTP
//! sessions, domain probes and DNS lookups, at most [`MAX_MX_HOSTS`] MX hosts per domain and
//! [`MAX_ADDRESSES_PER_HOST`] addresses per host (the rest are reported as not probed),
//! in-flight probes of the same domain or the same server merged into one, a minimum interval
//! before the same server is contacted again and at most a few sessions per address within it
//! however many MX names point there ([`recent`]; an operator's explicit probe skips both), and
//! connections only to global unicast addresses (loopback too when the operator allows it),
//! checked again at the connect step itself ([`safety`]). Every network step is bounded in time
//! by the DNS and SMTP layers. Instances on one database share their sessions through the
//! [`ledger`], so that a server is contacted once across them within the interval.

mod endpoint;
pub mod facts;
pub mod ledger;
mod recent;
pub mod safety;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, Either, FutureExt, Shared, join_all};
use sendguard_common::DnssecStatus;
use sendguard_common::address::{Address, Domain};
use tokio::sync::Semaphore;

use crate::dns::{Dns, DnsConfig, MxKind};
use crate::metrics::Step;
use crate::mta_sts::{Fetcher, MemoryCache, PolicyCache, StsFacts};
use crate::probe::facts::{
    DomainFacts, EndpointFacts, EndpointOutcome, Failure, HostFacts, MxFacts, TlsaFacts,
};
use crate::probe::ledger::{SessionLedger, Shared as LedgerAnswer};
use crate::probe::recent::{Admission, Recent};
use crate::smtp::{self, SmtpConfig, TlsParams};
use crate::tls::certinfo::WebPki;
pub use endpoint::endpoint_outcome;
use endpoint::{RawEndpoint, judge_endpoint, raw_endpoint};

/// At most this many MX hosts of a domain are probed, the most preferred first.
pub const MAX_MX_HOSTS: usize = 10;
/// At most this many addresses of an MX host are probed, in the order DNS gave them.
pub const MAX_ADDRESSES_PER_HOST: usize = 8;
/// At most this many recent sessions (and contacted addresses) are remembered.
pub const RECENT_CAPACITY: usize = 10_000;

/// How the prober behaves.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// Resolver, trust anchor and DNS timeout.
    pub dns: DnsConfig,
    /// SMTP port, timeouts and limits.
    pub smtp: SmtpConfig,
    /// Whether loopback addresses may be contacted (tests and the demo); every other address
    /// that is not global unicast is refused anyway ([`safety`]).
    pub allow_private_targets: bool,
    /// NAT64 prefixes of the operator's network besides the well-known ones: addresses under
    /// them are judged by the IPv4 address they carry.
    pub nat64_prefixes: Vec<safety::Nat64Prefix>,
    /// When set, every connection attempt is recorded here (tests).
    pub connect_log: Option<safety::ConnectLog>,
    /// At most this many SMTP sessions at once, over all probes.
    pub max_concurrent_sessions: usize,
    /// The same server (host and address) is not contacted again within this interval.
    pub min_reprobe_interval: Duration,
    /// One address is contacted at most this often within `min_reprobe_interval`, however
    /// many host names point at it.
    pub max_sessions_per_address: usize,
    /// At most this many domains are probed at once; further probes wait.
    pub max_concurrent_domains: usize,
    /// At most this many DNS lookups are made at once; further lookups wait.
    pub max_concurrent_lookups: usize,
    /// A PEM file of certificates trusted besides the WebPKI roots (`--extra-roots`: a
    /// private PKI, or the simulated internet's CA), for the MX certificates' WebPKI verdict
    /// and MTA-STS policy fetches.
    pub extra_roots: Option<std::path::PathBuf>,
    /// How MTA-STS policies are fetched (the port is 443 but in tests).
    pub mta_sts: crate::mta_sts::FetchConfig,
}

impl ProbeConfig {
    /// Defaults for production: system resolver, IANA root anchor, port 25, public targets only.
    pub fn new(dns: DnsConfig) -> Self {
        Self {
            dns,
            smtp: SmtpConfig::default(),
            allow_private_targets: false,
            nat64_prefixes: Vec::new(),
            connect_log: None,
            max_concurrent_sessions: 64,
            min_reprobe_interval: Duration::from_secs(300),
            max_sessions_per_address: 4,
            max_concurrent_domains: 32,
            max_concurrent_lookups: 64,
            extra_roots: None,
            mta_sts: crate::mta_sts::FetchConfig::default(),
        }
    }
}

/// Why a probe could not even start.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The input is not a usable domain or address.
    #[error("not a valid domain: {0}")]
    InvalidDomain(String),
    /// The DNS resolver could not be set up (bad resolver address or trust anchor file), or
    /// the extra roots are not usable.
    #[error("setup failed: {0}")]
    Setup(String),
}

type SharedEndpoint = Shared<BoxFuture<'static, RawEndpoint>>;
type SharedDomain = Shared<BoxFuture<'static, Arc<DomainFacts>>>;

/// Probes recipient domains. Cheap to clone; clones share limits, caches and in-flight probes.
#[derive(Clone)]
pub struct Prober {
    inner: Arc<Inner>,
}

struct Inner {
    dns: Dns,
    config: ProbeConfig,
    web: WebPki,
    sts: Fetcher,
    sts_cache: std::sync::OnceLock<Arc<dyn PolicyCache>>,
    sts_memory: MemoryCache,
    ledger: std::sync::OnceLock<Arc<dyn SessionLedger>>,
    guard: safety::AddressGuard,
    sessions: Arc<Semaphore>,
    domains: Semaphore,
    lookups: Semaphore,
    domains_in_flight: Mutex<HashMap<String, SharedDomain>>,
    endpoints_in_flight: Mutex<HashMap<(String, IpAddr), SharedEndpoint>>,
    recent: Mutex<Recent<(String, IpAddr), RawEndpoint>>,
}

/// Converts what a user typed (an address or a domain) into the A-label domain to probe.
///
/// The syntax is checked by the parser the compose page uses too
/// ([`sendguard_common::address`]: an address when there is an `@`, else a mail domain of two
/// labels or more); the domain is then converted with [`crate::dns::to_a_label`] (UTS #46).
pub fn domain_of(input: &str) -> Result<String, ProbeError> {
    let input = input.trim();
    let invalid = |e: &dyn std::fmt::Display| ProbeError::InvalidDomain(format!("{input}: {e}"));
    let domain = if input.contains('@') {
        Address::parse(input)
            .map_err(|e| invalid(&e))?
            .domain()
            .clone()
    } else {
        Domain::parse(input).map_err(|e| invalid(&e))?
    };
    a_label_of(input, &domain)
}

/// The A-label form of the domain of `address`, parsed already from `input`: what
/// [`domain_of`] gives for `input`, without parsing it again.
pub fn domain_of_address(input: &str, address: &Address) -> Result<String, ProbeError> {
    a_label_of(input.trim(), address.domain())
}

fn a_label_of(input: &str, domain: &Domain) -> Result<String, ProbeError> {
    // Also for ASCII names: UTS #46 checks A-labels (`xn--…`) and hyphens in positions 3-4.
    crate::dns::to_a_label(domain.as_str())
        .map_err(|e| ProbeError::InvalidDomain(format!("{input}: {e}")))
}

impl Prober {
    /// A prober with its own resolver.
    pub fn new(config: ProbeConfig) -> Result<Self, ProbeError> {
        let dns = Dns::new(&config.dns).map_err(|e| ProbeError::Setup(e.to_string()))?;
        let extra = match &config.extra_roots {
            Some(path) => crate::tls::certinfo::read_pem_roots(path).map_err(ProbeError::Setup)?,
            None => Vec::new(),
        };
        let web = WebPki::new(&extra).map_err(ProbeError::Setup)?;
        let guard = safety::AddressGuard {
            allow_loopback: config.allow_private_targets,
            nat64: config.nat64_prefixes.clone(),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                sts: Fetcher {
                    dns: dns.clone(),
                    guard: guard.clone(),
                    roots: web.roots(),
                    config: config.mta_sts.clone(),
                },
                sts_cache: std::sync::OnceLock::new(),
                sts_memory: MemoryCache::default(),
                ledger: std::sync::OnceLock::new(),
                web,
                dns,
                guard,
                sessions: Arc::new(Semaphore::new(config.max_concurrent_sessions.max(1))),
                domains: Semaphore::new(config.max_concurrent_domains.max(1)),
                lookups: Semaphore::new(config.max_concurrent_lookups.max(1)),
                recent: Mutex::new(Recent::new(
                    config.min_reprobe_interval,
                    RECENT_CAPACITY,
                    config.max_sessions_per_address,
                )),
                config,
                domains_in_flight: Mutex::new(HashMap::new()),
                endpoints_in_flight: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Keeps MTA-STS policies in `cache` (the store) from now on, instead of in memory; the
    /// first call counts.
    pub fn use_policy_cache(&self, cache: Arc<dyn PolicyCache>) {
        let _ = self.inner.sts_cache.set(cache);
    }

    /// Shares SMTP sessions and claims with the other instances on `ledger` from now on
    /// ([`ledger`]); the first call counts.
    pub fn use_session_ledger(&self, ledger: Arc<dyn SessionLedger>) {
        let _ = self.inner.ledger.set(ledger);
    }

    /// The roots certificates are judged by (WebPKI plus the extra roots).
    pub fn webpki(&self) -> &WebPki {
        &self.inner.web
    }

    /// The MTA-STS facts of `domain` (A-label form): TXT record, cache, fetch.
    async fn mta_sts(&self, domain: &str) -> StsFacts {
        let cache: &dyn PolicyCache = match self.inner.sts_cache.get() {
            Some(c) => c.as_ref(),
            None => &self.inner.sts_memory,
        };
        // Bounded by the domain probes in flight (one discovery each), not by the DNS lookup
        // permits: a slow policy host must not hold one of those for its whole fetch.
        crate::mta_sts::lookup::discover(&self.inner.sts, cache, domain, now_unix()).await
    }

    /// Forgets every cached DNS answer and recent SMTP session, so the next probe looks afresh
    /// (tests and the demo change the simulated internet between probes). Sessions in the
    /// session ledger are other instances' too and stay.
    pub fn clear_caches(&self) {
        self.inner.dns.clear_cache();
        lock(&self.inner.recent).clear();
    }

    /// Probes the domain of `input`. With `fresh`, servers are contacted even if they were
    /// contacted within the minimum interval (an operator's explicit request).
    /// Concurrent calls for the same domain share one probe.
    pub async fn probe(&self, input: &str, fresh: bool) -> Result<Arc<DomainFacts>, ProbeError> {
        let domain = domain_of(input)?;
        let shared = {
            let mut map = lock(&self.inner.domains_in_flight);
            match map.get(&domain) {
                Some(f) => f.clone(),
                None => {
                    let this = self.clone();
                    let d = domain.clone();
                    let fut = async move {
                        // Closed never: the semaphore lives as long as the prober.
                        let permit = this.inner.domains.acquire().await.ok();
                        let facts = Arc::new(this.probe_domain(&d, fresh).await);
                        drop(permit);
                        lock(&this.inner.domains_in_flight).remove(&d);
                        facts
                    }
                    .boxed()
                    .shared();
                    map.insert(domain.clone(), fut.clone());
                    fut
                }
            }
        };
        Ok(shared.await)
    }

    async fn probe_domain(&self, domain: &str, fresh: bool) -> DomainFacts {
        // The domain's chain of DNSSEC keys, asked for beside the MX lookup (see
        // `Dns::prefetch_chain`); in a task of its own, so that it never holds the probe up.
        let dns = self.inner.dns.clone();
        let name = domain.to_string();
        tokio::spawn(async move { dns.prefetch_chain(&name).await });
        let (mx, mta_sts) = futures::join!(self.mx_facts(domain, fresh), self.mta_sts(domain));
        DomainFacts {
            domain: domain.to_string(),
            checked_at: now_unix(),
            mx,
            mta_sts,
        }
    }

    async fn mx_facts(&self, domain: &str, fresh: bool) -> MxFacts {
        match self.lookup(Step::DnsMx, self.inner.dns.mx(domain)).await {
            Err(e) => MxFacts::Failed(e.into()),
            Ok(answer) => match answer.kind {
                MxKind::NullMx => MxFacts::NullMx,
                MxKind::NxDomain => MxFacts::NxDomain,
                MxKind::NoMailHost => MxFacts::NoMailHost,
                MxKind::Implicit => {
                    let host = self.probe_host(domain, domain, 0, fresh).await;
                    // The weaker of the MX denial and the address answers: an unsigned denial
                    // leaves the MX choice to an attacker (RFC 7672 §2.2.1).
                    MxFacts::Hosts {
                        dnssec: answer.dnssec,
                        implicit: true,
                        hosts: vec![host],
                    }
                }
                MxKind::Hosts(mut list) => {
                    list.sort_by_key(|h| h.preference);
                    let skipped = list.split_off(list.len().min(MAX_MX_HOSTS));
                    let mut hosts = join_all(
                        list.iter()
                            .map(|h| self.probe_host(domain, &h.host, h.preference, fresh)),
                    )
                    .await;
                    hosts.extend(skipped.iter().map(|h| {
                        HostFacts::not_probed(
                            &h.host,
                            h.preference,
                            format!("not probed: only the first {MAX_MX_HOSTS} MX hosts of a domain are probed"),
                        )
                    }));
                    MxFacts::Hosts {
                        dnssec: answer.dnssec,
                        implicit: false,
                        hosts,
                    }
                }
            },
        }
    }

    async fn probe_host(
        &self,
        domain: &str,
        host: &str,
        preference: u16,
        fresh: bool,
    ) -> HostFacts {
        let mut facts = HostFacts {
            host: host.to_string(),
            preference,
            address_dnssec: DnssecStatus::Indeterminate,
            tlsa: TlsaFacts::NotLookedUp,
            address_error: None,
            not_probed: None,
            endpoints: Vec::new(),
        };
        // The TLSA lookup at the host's own name starts with the address lookup, so both take
        // one round trip; RFC 7672 §2.2 uses TLSA records only when the addresses are secure,
        // so it is dropped unfinished when they are not.
        // Boxed: both inline made this future deep enough to overflow a 2 MiB stack in debug
        // builds (hickory's validating lookups nest many futures).
        let addresses = Box::pin(self.lookup(Step::DnsAddress, self.inner.dns.addresses(host)));
        let early_tlsa = Box::pin(self.tlsa_facts(host));
        let (answer, early_tlsa) = match futures::future::select(addresses, early_tlsa).await {
            Either::Left((answer, tlsa)) => (answer, Either::Left(tlsa)),
            Either::Right((tlsa, answer)) => (answer.await, Either::Right(tlsa)),
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                if e.is_bogus() {
                    facts.address_dnssec = DnssecStatus::Bogus;
                }
                facts.address_error = Some(e.into());
                return facts;
            }
        };
        facts.address_dnssec = answer.dnssec;
        // RFC 7672 §2.2.2: with secure address records, look up TLSA at the expanded (CNAME)
        // name first, then at the original name; that name is the TLSA base domain.
        let mut base = host.to_string();
        if answer.dnssec == DnssecStatus::Secure {
            let at_host = async {
                match early_tlsa {
                    Either::Left(pending) => pending.await,
                    Either::Right(done) => done,
                }
            };
            let canonical = answer.canonical.as_deref().filter(|c| *c != host);
            let (at_canonical, at_host) = match canonical {
                Some(c) => {
                    let (a, h) = futures::join!(Box::pin(self.tlsa_facts(c)), at_host);
                    (Some((c, a)), h)
                }
                None => (None, at_host.await),
            };
            facts.tlsa = match at_canonical {
                Some((c, tlsa)) if matches!(tlsa, TlsaFacts::Secure(_) | TlsaFacts::Failed(_)) => {
                    base = c.to_string();
                    tlsa
                }
                _ => at_host,
            };
        }
        let names = [base.as_str(), domain];
        let (base, tlsa, names) = (&base, &facts.tlsa, &names);
        let endpoints = join_all(answer.addresses.iter().enumerate().map(|(i, ip)| async move {
            let outcome = match self.inner.guard.refusal(*ip) {
                _ if i >= MAX_ADDRESSES_PER_HOST => EndpointOutcome::Forbidden(format!(
                    "not probed: only the first {MAX_ADDRESSES_PER_HOST} addresses of an MX host are probed"
                )),
                Some(why) => EndpointOutcome::Forbidden(format!("{why} is not probed")),
                None => {
                    let raw = self.endpoint(base, *ip, fresh).await;
                    judge_endpoint(&self.inner.web, raw, tlsa, names, host)
                }
            };
            EndpointFacts { ip: *ip, outcome }
        }))
        .await;
        facts.endpoints = endpoints;
        facts
    }

    async fn tlsa_facts(&self, name: &str) -> TlsaFacts {
        match self.lookup(Step::DnsTlsa, self.inner.dns.tlsa(name)).await {
            Ok(a) => match a.dnssec {
                DnssecStatus::Secure if a.records.is_empty() => TlsaFacts::SecureNone,
                DnssecStatus::Secure => TlsaFacts::Secure(a.records),
                DnssecStatus::Insecure => TlsaFacts::Insecure,
                DnssecStatus::Bogus => {
                    TlsaFacts::Failed(Failure::Bogus("the TLSA answer did not validate".into()))
                }
                // Not proven either way: not a forgery, but not usable yet either.
                DnssecStatus::Indeterminate => TlsaFacts::Failed(Failure::Temporary(
                    "the TLSA answer's DNSSEC status could not be determined".into(),
                )),
            },
            // RFC 7672 §2.1.1: a failed TLSA lookup means "defer", never "no DANE"; a timeout
            // is temporary, only a validation failure is bogus.
            Err(e) => TlsaFacts::Failed(e.into()),
        }
    }

    /// Runs one DNS lookup within the global bound on lookups in flight.
    async fn lookup<T>(&self, step: Step, lookup: impl Future<Output = T>) -> T {
        // Closed never: the semaphore lives as long as the prober.
        let _permit = self.inner.lookups.acquire().await.ok();
        crate::metrics::timed(step, lookup).await
    }

    /// One SMTP session with `ip`, shared with concurrent callers and reused within the
    /// minimum re-probe interval unless `fresh`, also another instance's through the
    /// [`ledger`]; not started when the address was contacted too often within the interval
    /// (for other host names).
    async fn endpoint(&self, sni: &str, ip: IpAddr, fresh: bool) -> RawEndpoint {
        let key = (sni.to_string(), ip);
        if !fresh && let Some(raw) = lock(&self.inner.recent).get(&key) {
            return raw;
        }
        let shared = {
            let mut map = lock(&self.inner.endpoints_in_flight);
            match map.get(&key) {
                Some(f) => f.clone(),
                None => {
                    let this = self.clone();
                    let k = key.clone();
                    let fut = async move {
                        let raw = this.endpoint_once(&k.0, k.1, fresh).await;
                        lock(&this.inner.endpoints_in_flight).remove(&k);
                        raw
                    }
                    .boxed()
                    .shared();
                    map.insert(key, fut.clone());
                    fut
                }
            }
        };
        shared.await
    }

    /// The session behind [`Prober::endpoint`]: another instance's from the ledger unless
    /// `fresh`, else this instance's own when the address may be contacted, remembered and
    /// shared.
    async fn endpoint_once(&self, sni: &str, ip: IpAddr, fresh: bool) -> RawEndpoint {
        // Boxed: nested in the endpoint future, these would put their whole state on the stack
        // of whoever polls it (a debug build's delivery test overflowed its thread's stack).
        if !fresh && let LedgerAnswer::Session(raw) = Box::pin(self.shared_session(sni, ip)).await {
            return raw;
        }
        if let Admission::TooSoon(n) = lock(&self.inner.recent).admit(ip, fresh) {
            return RawEndpoint::Failed(Failure::Temporary(format!(
                "not contacted: {ip} was contacted {n} times within {} s",
                self.inner.config.min_reprobe_interval.as_secs()
            )));
        }
        let raw = Box::pin(self.session(sni, ip)).await;
        lock(&self.inner.recent).put((sni.to_string(), ip), raw.clone());
        self.share_session(sni, ip, &raw).await;
        raw
    }

    async fn session(&self, sni: &str, ip: IpAddr) -> RawEndpoint {
        // Kept until the connection is closed, after the probe's QUIT (see `smtp::probe`).
        let permit = match Arc::clone(&self.inner.sessions).acquire_owned().await {
            Ok(p) => p,
            Err(_) => {
                return RawEndpoint::Failed(Failure::Temporary(
                    "the prober is shutting down".into(),
                ));
            }
        };
        // The connect step: the guard once more (nothing reaches a socket without it), then the
        // attempt is recorded where a test can see it.
        if let Some(why) = self.inner.guard.refusal(ip) {
            return RawEndpoint::Failed(Failure::Permanent(format!("{why} is not probed")));
        }
        let addr = SocketAddr::new(ip, self.inner.config.smtp.port);
        if let Some(log) = &self.inner.config.connect_log {
            log.record(addr);
        }
        let params = TlsParams {
            sni: Some(sni.to_string()),
            verifier: smtp::AcceptAnyCertificate::new(),
        };
        raw_endpoint(smtp::probe(addr, params, &self.inner.config.smtp, permit).await)
    }

    /// The resolver the prober looks up with (for lookups of other records, e.g. TLS
    /// reporting's `_smtp._tls` TXT record).
    pub fn dns(&self) -> &Dns {
        &self.inner.dns
    }

    /// Why `ip` may not be contacted (the address guard, [`safety`]); `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        self.inner.guard.refusal(ip).map(|why| why.to_string())
    }

    /// Notes a connection about to be made to `addr` in the connect log, when there is one
    /// (a delivery's connections are logged like a probe's).
    pub fn note_connect(&self, addr: SocketAddr) {
        if let Some(log) = &self.inner.config.connect_log {
            log.record(addr);
        }
    }

    /// The SMTP settings probes use.
    pub fn smtp_config(&self) -> &SmtpConfig {
        &self.inner.config.smtp
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_of_takes_addresses_and_domains_by_the_shared_rules() {
        assert_eq!(domain_of(" User@Mail.Example ").unwrap(), "mail.example");
        assert_eq!(domain_of("mail.example.").unwrap(), "mail.example");
        assert_eq!(
            domain_of("jörg@bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(domain_of("\"a@b\"@x.example").unwrap(), "x.example");
        for (bad, why) in [
            ("user@", "nothing after the @"),
            ("@x.example", "nothing before the @"),
            ("a@bad..example", "empty label"),
            ("localhost", "at least one dot"),
            ("a b@x.example", "before the @ is not valid"),
            ("under_score.example", "letters, digits, hyphens"),
            ("xn--a.example", "not a valid host name"),
        ] {
            let err = domain_of(bad).unwrap_err().to_string();
            assert!(err.contains(bad) && err.contains(why), "{bad}: {err}");
        }
    }
}
