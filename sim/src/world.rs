//! The simulated internet as a whole: a DNSSEC-signed DNS tree and SMTP peers with chosen TLS
//! behaviour, on loopback addresses, one scenario per domain.
//!
//! Each MX host gets its own 127.0.2.x address; all peers listen on one port (chosen free at
//! start), which the prober is told to use, while TLSA names stay `_25._tcp.<mx>` as RFC 7672
//! requires. The trust anchor of the simulated root is written to the world's folder.
//! `sendguard demo`, the tests and the benchmarks all use this; [`SimWorld::endpoints`] tells
//! them, as plain data, where to find the world. [`hostile_scenarios`] are peers that misbehave
//! on purpose, for the tests only. Every world also publishes the two names of the resolver
//! self-test: [`SELF_TEST_SECURE`] in a signed zone and [`SELF_TEST_BOGUS`] in a bogus one.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sendguard_common::DemoDomain;

use crate::dns::{DnsSim, Signing, ZoneSpec};
use crate::https::{PolicyResponse, PolicyServer, policy_text};
use crate::latency::ReplyLog;
use crate::pki::{Identity, SimCa, self_signed};
use crate::smtp::{PeerBehaviour, PeerOptions, SmtpPeer};
use crate::tlsa;
use crate::tlsrpt::{self, ReportReceiver};

/// Why the simulated internet could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A certificate could not be made.
    #[error("certificate: {0}")]
    Pki(String),
    /// A TLSA record could not be computed.
    #[error("TLSA record: {0}")]
    Tlsa(String),
    /// The DNS server did not start.
    #[error("DNS server: {0}")]
    Dns(String),
    /// A scenario asks for something that does not exist, e.g. a server for a host that has none
    /// of its own ([`HostKind::MxElsewhere`]).
    #[error("scenario: {0}")]
    Scenario(String),
    /// An SMTP peer could not listen.
    #[error("SMTP peer {0}: {1}")]
    Peer(String, std::io::Error),
    /// The TLS report receiver could not listen.
    #[error("TLS report receiver: {0}")]
    Reports(std::io::Error),
}

/// How a simulated MX host behaves.
#[derive(Clone, Debug)]
pub enum HostKind {
    /// STARTTLS with a self-signed certificate and a DANE-EE `3 1 1` record that matches it.
    DaneEe,
    /// STARTTLS with a certificate from the sim CA, sent with the CA, and a DANE-TA `2 0 1`
    /// record naming the CA.
    DaneTa,
    /// Like [`HostKind::DaneTa`], but the certificate names only these names, not the host:
    /// the DANE-TA name check then passes for a recipient domain it names and fails for others.
    DaneTaNaming(&'static [&'static str]),
    /// STARTTLS with a self-signed certificate, no TLSA record.
    SelfSigned,
    /// STARTTLS with a self-signed certificate and a TLSA record that matches something else.
    WrongTlsa,
    /// No STARTTLS at all.
    Plain,
    /// Offers STARTTLS and then refuses it with 454.
    RefuseStartTls,
    /// STARTTLS with a self-signed certificate after a greeting that takes this long.
    Slow(Duration),
    /// An old server: EHLO refused with 500, HELO accepted, no STARTTLS.
    NoEsmtp,
    /// Accepts connections and never greets.
    Stall,
    /// An endless multi-line greeting.
    EndlessReply,
    /// A greeting of one line of this many bytes.
    LongLine(usize),
    /// Answers STARTTLS with 220 and, in the same write, bytes that are not TLS.
    GarbageAfterStartTls,
    /// Answers STARTTLS with 220, then resets the connection during the handshake.
    ResetInHandshake,
    /// STARTTLS with a chain of this many certificates: a self-signed leaf, then copies of the
    /// sim CA's certificate.
    LongChain(usize),
    /// Offers STARTTLS and refuses it with this reply line (code included).
    RefuseStartTlsWith(String),
    /// STARTTLS with a self-signed certificate for the first `sessions` SMTP sessions, then no
    /// STARTTLS: a downgrade that happens by itself. Each host of the world has one address, so
    /// a probe opens one session with it and never sees both behaviours.
    DropsStartTls {
        /// How many sessions still get STARTTLS.
        sessions: usize,
    },
    /// No server of its own: the MX record names this host of another scenario (e.g.
    /// `mx.dane-ee.test`), as a hosted domain names its provider's server.
    MxElsewhere(&'static str),
    /// STARTTLS with a certificate for the host from the sim CA, no TLSA record: valid under
    /// the WebPKI for a prober that trusts the sim CA ([`SimEndpoints::extra_roots`]), as an
    /// MTA-STS policy in enforce mode requires.
    WebPki,
}

/// A domain's MTA-STS setup (RFC 8461): its `_mta-sts` TXT record's id and what its policy
/// host answers.
#[derive(Clone, Debug)]
pub struct StsSetup {
    /// The `id` of the `_mta-sts` record; `None` publishes no record (the policy host still
    /// answers, as after a record was removed).
    pub id: Option<&'static str>,
    /// What `https://mta-sts.<domain>/.well-known/mta-sts.txt` answers.
    pub response: PolicyResponse,
}

/// One domain of the simulated internet.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The domain, e.g. `dane-ee.test`.
    pub domain: &'static str,
    /// What it shows, for the demo's list.
    pub description: &'static str,
    /// How its zone is signed.
    pub signing: Signing,
    /// Its MX hosts (label below the domain, preference, behaviour).
    pub hosts: Vec<(&'static str, u16, HostKind)>,
    /// A null MX instead of hosts.
    pub null_mx: bool,
    /// Its MTA-STS record and policy host, if it has them.
    pub mta_sts: Option<StsSetup>,
}

/// The scenarios `sendguard demo` and the tests use.
pub fn scenarios() -> Vec<Scenario> {
    use HostKind::*;
    let one = |domain, description, signing, kind| Scenario {
        domain,
        description,
        signing,
        hosts: vec![("mx", 10, kind)],
        null_mx: false,
        mta_sts: None,
    };
    vec![
        one(
            "dane-ee.test",
            "DANE-EE: signed zone, TLSA 3 1 1 matches the server's key",
            Signing::Signed,
            DaneEe,
        ),
        one(
            "dane-ta.test",
            "DANE-TA: the server sends its CA, named by TLSA 2 0 1",
            Signing::Signed,
            DaneTa,
        ),
        one(
            "tls.test",
            "STARTTLS with a self-signed certificate, no TLSA",
            Signing::Signed,
            SelfSigned,
        ),
        one(
            "plain.test",
            "no STARTTLS: mail would travel unencrypted",
            Signing::Signed,
            Plain,
        ),
        one(
            "refuse.test",
            "offers STARTTLS, then refuses it (454)",
            Signing::Signed,
            RefuseStartTls,
        ),
        one(
            "wrong-tlsa.test",
            "TLSA record that does not match the certificate: blocked",
            Signing::Signed,
            WrongTlsa,
        ),
        one(
            "unsigned-tlsa.test",
            "TLSA record in an unsigned zone: ignored, plain TLS",
            Signing::Unsigned,
            DaneEe,
        ),
        one(
            "bogus.test",
            "broken DNSSEC signatures: blocked",
            Signing::Bogus,
            DaneEe,
        ),
        one(
            "downgrade.test",
            "TLS on the first probe, then STARTTLS disappears: the server is held for the admin",
            Signing::Signed,
            DropsStartTls { sessions: 1 },
        ),
        one(
            "slow.test",
            "TLS behind a greeting that takes 3 seconds",
            Signing::Signed,
            Slow(Duration::from_secs(3)),
        ),
        Scenario {
            domain: "mixed.test",
            description: "three MX hosts: DANE, TLS and one without STARTTLS",
            signing: Signing::Signed,
            hosts: vec![
                ("mx1", 10, DaneEe),
                ("mx2", 20, SelfSigned),
                ("mx3", 30, Plain),
            ],
            null_mx: false,
            mta_sts: None,
        },
        Scenario {
            domain: "dane-pair.test",
            description: "two MX hosts, DANE-EE and DANE-TA",
            signing: Signing::Signed,
            hosts: vec![("mx1", 10, DaneEe), ("mx2", 20, DaneTa)],
            null_mx: false,
            mta_sts: None,
        },
        one(
            "unsigned-mx.test",
            "unsigned zone whose MX is mx.dane-ee.test (TLSA matches): SSL ok, not DANE ok",
            Signing::Unsigned,
            MxElsewhere("mx.dane-ee.test"),
        ),
        Scenario {
            domain: "nullmx.test",
            description: "null MX: the domain accepts no mail",
            signing: Signing::Signed,
            hosts: vec![],
            null_mx: true,
            mta_sts: None,
        },
    ]
}

/// Domains with an MTA-STS policy (RFC 8461), their MX hosts' certificates from the sim CA:
/// in `sendguard demo` and the MTA-STS tests.
pub fn sts_scenarios() -> Vec<Scenario> {
    use HostKind::*;
    let sts = |domain, description, hosts, id, response| Scenario {
        domain,
        description,
        signing: Signing::Signed,
        hosts,
        null_mx: false,
        mta_sts: Some(StsSetup {
            id: Some(id),
            response,
        }),
    };
    let policy = |mode, mx: &[&str]| PolicyResponse::Policy(policy_text(mode, mx));
    vec![
        sts(
            "sts-enforce.test",
            "MTA-STS enforce, its MX named and WebPKI-valid: SSL ok, verified delivery",
            vec![("mx", 10, WebPki)],
            "e1",
            policy("enforce", &["mx.sts-enforce.test"]),
        ),
        sts(
            "sts-backup.test",
            "MTA-STS enforce naming mx1 only: the backup MX without TLS is never used",
            vec![("mx1", 10, WebPki), ("mx2", 20, Plain)],
            "b1",
            policy("enforce", &["mx1.sts-backup.test"]),
        ),
        sts(
            "sts-nomatch.test",
            "MTA-STS enforce naming none of its MX hosts: blocked, no delivery",
            vec![("mx", 10, WebPki)],
            "n1",
            policy("enforce", &["*.elsewhere.test"]),
        ),
        sts(
            "sts-testing.test",
            "MTA-STS testing, its MX not named and self-signed: reported, not enforced",
            vec![("mx", 10, SelfSigned)],
            "t1",
            policy("testing", &["mx.other.test"]),
        ),
        sts(
            "sts-malformed.test",
            "an MTA-STS record whose policy does not parse: no policy",
            vec![("mx", 10, WebPki)],
            "m1",
            PolicyResponse::Policy("version: STSv1\r\nmode: enforce\r\n".into()),
        ),
    ]
}

/// Hostile peers, one domain each (all signed, none in the demo): each must end as "SSL?" with
/// a reason within the probe's timeouts, whatever it does.
pub fn hostile_scenarios() -> Vec<Scenario> {
    use HostKind::*;
    let one = |domain, description, kind| Scenario {
        domain,
        description,
        signing: Signing::Signed,
        hosts: vec![("mx", 10, kind)],
        null_mx: false,
        mta_sts: None,
    };
    vec![
        one("stall.test", "accepts and never greets", Stall),
        one(
            "endless.test",
            "an endless multi-line greeting",
            EndlessReply,
        ),
        one(
            "long-line.test",
            "a greeting line of 1 MiB",
            LongLine(1 << 20),
        ),
        one(
            "garbage.test",
            "garbage right after the 220 to STARTTLS",
            GarbageAfterStartTls,
        ),
        one(
            "reset.test",
            "a reset in the middle of the TLS handshake",
            ResetInHandshake,
        ),
        one(
            "long-chain.test",
            "a chain of 200 certificates",
            LongChain(200),
        ),
    ]
}

/// Where a running world answers, and how patient a prober of it should be: what a prober's
/// configuration needs, as plain data. Private (loopback) targets must be allowed to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEndpoints {
    /// The DNS server (UDP and TCP) that answers for the whole tree, root included.
    pub resolver: SocketAddr,
    /// The root's DNSKEY in zone-file form: the trust anchor for DNSSEC validation.
    pub trust_anchor: PathBuf,
    /// The port every SMTP peer listens on (instead of 25).
    pub smtp_port: u16,
    /// A DNS timeout that suits the world.
    pub dns_timeout: Duration,
    /// A greeting timeout that the slow scenarios (`slow.test`) stay well within.
    pub greeting_timeout: Duration,
    /// A correctly signed name ([`SELF_TEST_SECURE`]): a validating resolver finds it secure.
    pub self_test_secure: String,
    /// A deliberately broken name ([`SELF_TEST_BOGUS`]): a validating resolver finds it bogus.
    pub self_test_bogus: String,
    /// The port the MTA-STS policy hosts answer HTTPS on (instead of 443).
    pub https_port: u16,
    /// The sim CA's certificate (PEM): the extra root under which the policy hosts and the
    /// [`HostKind::WebPki`] MX hosts are WebPKI-valid (`--extra-roots`).
    pub extra_roots: PathBuf,
}

/// A name every world publishes in a correctly signed zone, for the resolver self-test (an
/// address record at the apex of its own zone, outside the scenarios).
pub const SELF_TEST_SECURE: &str = "dnssec-ok.test";
/// A name every world publishes in a zone whose parent's DS names another key, so its answers
/// are bogus (RFC 4035 §5.5): what the resolver self-test expects to be refused.
pub const SELF_TEST_BOGUS: &str = "dnssec-failed.test";

/// The two zones of the resolver self-test, added to every world.
fn self_test_zones() -> [ZoneSpec; 2] {
    let zone = |origin: &str, signing| ZoneSpec {
        origin: origin.to_string(),
        records: "@ 300 IN A 192.0.2.53\n".to_string(),
        signing,
    };
    [
        zone(SELF_TEST_SECURE, Signing::Signed),
        zone(SELF_TEST_BOGUS, Signing::Bogus),
    ]
}

/// How a world's DNS server and SMTP peers behave on the wire, beyond their scenarios.
#[derive(Clone, Debug, Default)]
pub struct WorldOptions {
    /// A simulated round-trip time ([`crate::latency`]): the DNS server and every SMTP peer
    /// hold each reply back this long. Zero by default.
    pub rtt: Duration,
    /// Note every reply of the DNS server and the SMTP peers in [`SimWorld::replies`].
    pub log_replies: bool,
}

/// The running simulated internet.
pub struct SimWorld {
    replies: Option<ReplyLog>,
    dns: DnsSim,
    peers: BTreeMap<String, SmtpPeer>,
    smtp_port: u16,
    domains: Vec<DemoDomain>,
    reports: ReportReceiver,
    policies: PolicyServer,
    extra_roots: PathBuf,
    /// Per domain with an MTA-STS setup: its zone without the `_mta-sts` record.
    sts_zones: BTreeMap<String, (String, Signing)>,
}

/// First address of the MX hosts; each further host takes the next one.
const FIRST_HOST: Ipv4Addr = Ipv4Addr::new(127, 0, 2, 1);
/// The simulated DNS server's address.
const DNS_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 53, 1));
/// The TLS report receiver's address ([`tlsrpt::HOST`]).
const REPORTS_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 54, 1));
/// The address of every `mta-sts.<domain>` (one HTTPS server answers for all).
const POLICY_HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 4, 43));
/// The file name of the sim CA's certificate in the world's folder.
pub const CA_FILE: &str = "sim-ca.pem";

/// The `_mta-sts` TXT record line for `id`, or nothing.
fn sts_txt(id: Option<&str>) -> String {
    id.map(|id| format!("_mta-sts 300 IN TXT \"v=STSv1; id={id}\"\n"))
        .unwrap_or_default()
}

/// A certificate in PEM form (RFC 7468).
fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

impl SimWorld {
    /// Starts every scenario of [`scenarios`] and [`sts_scenarios`]; the trust anchor and the
    /// sim CA's certificate are written into `dir`.
    pub async fn start(dir: &Path) -> Result<SimWorld, SimError> {
        let mut list = scenarios();
        list.extend(sts_scenarios());
        Self::start_with(list, dir).await
    }

    /// Starts the given scenarios.
    pub async fn start_with(list: Vec<Scenario>, dir: &Path) -> Result<SimWorld, SimError> {
        Self::start_with_options(list, dir, WorldOptions::default()).await
    }

    /// Starts the given scenarios with a round-trip time or a log of the replies.
    pub async fn start_with_options(
        list: Vec<Scenario>,
        dir: &Path,
        options: WorldOptions,
    ) -> Result<SimWorld, SimError> {
        let replies = options.log_replies.then(ReplyLog::default);
        let peer_options = PeerOptions {
            rtt: options.rtt,
            reply_log: replies.clone(),
            ..PeerOptions::default()
        };
        let ca = SimCa::new("Sendguard Sim CA").map_err(|e| SimError::Pki(e.to_string()))?;
        let reports = ReportReceiver::start(REPORTS_ADDR)
            .await
            .map_err(SimError::Reports)?;
        let extra_roots = dir.join(CA_FILE);
        std::fs::write(&extra_roots, pem(ca.cert_der().as_ref()))
            .map_err(|e| SimError::Pki(format!("writing {}: {e}", extra_roots.display())))?;
        let mut next = u32::from(FIRST_HOST);
        let mut planned: Vec<(String, IpAddr, PeerBehaviour)> = Vec::new();
        let mut zones = Vec::new();
        let mut base = BTreeMap::new();
        let mut responses = HashMap::new();
        for s in &list {
            let mut records = String::new();
            if s.null_mx {
                records.push_str("@ 300 IN MX 0 .\n");
            }
            records.push_str(&tlsrpt::txt_records(s.domain, &reports.uri()));
            for (label, pref, kind) in &s.hosts {
                if let HostKind::MxElsewhere(target) = kind {
                    records.push_str(&format!("@ 300 IN MX {pref} {target}.\n"));
                    continue;
                }
                let host = format!("{label}.{}", s.domain);
                let ip = IpAddr::V4(Ipv4Addr::from(next));
                next += 1;
                let (behaviour, tlsa) = host_setup(kind, &host, &ca)?;
                records.push_str(&format!(
                    "@ 300 IN MX {pref} {label}\n{label} 300 IN A {ip}\n"
                ));
                if let Some(t) = tlsa {
                    records.push_str(&format!("_25._tcp.{label} 300 IN TLSA {t}\n"));
                }
                planned.push((host, ip, behaviour));
            }
            let mut zone = records.clone();
            if let Some(sts) = &s.mta_sts {
                records.push_str(&format!("mta-sts 300 IN A {POLICY_HOST}\n"));
                zone = records.clone() + &sts_txt(sts.id);
                responses.insert(s.domain.to_string(), sts.response.clone());
                base.insert(s.domain.to_string(), (records, s.signing));
            }
            zones.push(ZoneSpec {
                origin: s.domain.to_string(),
                records: zone,
                signing: s.signing,
            });
        }
        zones.extend(self_test_zones());
        zones.push(ZoneSpec {
            origin: tlsrpt::ZONE.to_string(),
            records: format!("reports 300 IN A {REPORTS_ADDR}\n"),
            signing: Signing::Signed,
        });
        let dns = DnsSim::start_delayed(DNS_ADDR, zones, dir, options.rtt, replies.clone())
            .await
            .map_err(|e| SimError::Dns(e.to_string()))?;
        let (peers, smtp_port) = spawn_peers(planned, &peer_options).await?;
        let names: Vec<String> = responses.keys().map(|d| format!("mta-sts.{d}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let names = if names.is_empty() {
            vec!["mta-sts.invalid"]
        } else {
            names
        };
        let identity = ca
            .issue(&names, false)
            .map_err(|e| SimError::Pki(e.to_string()))?;
        let policies = PolicyServer::spawn(SocketAddr::new(POLICY_HOST, 0), &identity, responses)
            .await
            .map_err(|e| SimError::Peer("the MTA-STS policy server".into(), e))?;
        let domains = list
            .iter()
            .map(|s| DemoDomain {
                domain: s.domain.to_string(),
                description: s.description.to_string(),
            })
            .collect();
        Ok(SimWorld {
            replies,
            dns,
            peers,
            smtp_port,
            domains,
            reports,
            policies,
            extra_roots,
            sts_zones: base,
        })
    }

    /// Publishes `_mta-sts.<domain>` with this `id`, or removes it (`None`), for a domain of
    /// the world that has an MTA-STS setup. Resolvers may still hold the old answer.
    pub async fn set_sts_record(&self, domain: &str, id: Option<&str>) -> Result<(), SimError> {
        let Some((records, signing)) = self.sts_zones.get(domain) else {
            return Err(SimError::Scenario(format!("{domain} has no MTA-STS setup")));
        };
        self.dns
            .replace_zone(ZoneSpec {
                origin: domain.to_string(),
                records: records.clone() + &sts_txt(id),
                signing: *signing,
            })
            .await
            .map_err(|e| SimError::Dns(e.to_string()))
    }

    /// The MTA-STS policy server, e.g. to change what a domain's policy host answers.
    pub fn policies(&self) -> &PolicyServer {
        &self.policies
    }

    /// Where a prober finds this world: its resolver and trust anchor, its SMTP port, and
    /// timeouts that suit it.
    pub fn endpoints(&self) -> SimEndpoints {
        SimEndpoints {
            resolver: self.dns.addr(),
            trust_anchor: self.dns.trust_anchor_path().to_path_buf(),
            smtp_port: self.smtp_port,
            dns_timeout: Duration::from_secs(5),
            greeting_timeout: Duration::from_secs(10),
            self_test_secure: SELF_TEST_SECURE.to_string(),
            self_test_bogus: SELF_TEST_BOGUS.to_string(),
            https_port: self.policies.addr().port(),
            extra_roots: self.extra_roots.clone(),
        }
    }

    /// The domains with their descriptions.
    pub fn domains(&self) -> &[DemoDomain] {
        &self.domains
    }

    /// The SMTP peer of an MX host, e.g. `mx.tls.test`.
    pub fn peer(&self, host: &str) -> Option<&SmtpPeer> {
        self.peers.get(host)
    }

    /// The DNS server, e.g. to change a zone between two probes.
    pub fn dns(&self) -> &DnsSim {
        &self.dns
    }

    /// The port every peer listens on.
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    /// The replies of the DNS server and the SMTP peers, when the world was started with
    /// [`WorldOptions::log_replies`].
    pub fn replies(&self) -> Option<&ReplyLog> {
        self.replies.as_ref()
    }

    /// The TLS report receiver (HTTPS) that some domains' `_smtp._tls` records name.
    pub fn reports(&self) -> &ReportReceiver {
        &self.reports
    }

    /// Stops the DNS server and every peer.
    pub async fn shutdown(self) {
        for (_, peer) in self.peers {
            peer.shutdown().await;
        }
        self.reports.shutdown();
        self.policies.shutdown().await;
        self.dns.shutdown().await;
    }
}

/// The peer behaviour and the TLSA record (presentation form) of one host.
fn host_setup(
    kind: &HostKind,
    host: &str,
    ca: &SimCa,
) -> Result<(PeerBehaviour, Option<String>), SimError> {
    let pki = |e: &dyn std::fmt::Display| SimError::Pki(e.to_string());
    let own = || self_signed(&[host]).map_err(|e| pki(&e));
    let tlsa = |usage: u8, selector: u8, cert: &[u8]| {
        tlsa::record(usage, selector, cert).map_err(|e| SimError::Tlsa(e.to_string()))
    };
    let tls = |identity: Identity| PeerBehaviour::StartTls { identity };
    Ok(match kind {
        HostKind::DaneEe => {
            let id = own()?;
            let record = tlsa(3, 1, id.chain[0].as_ref())?;
            (tls(id), Some(record))
        }
        HostKind::DaneTa => {
            let id = ca.issue(&[host], true).map_err(|e| pki(&e))?;
            let record = tlsa(2, 0, ca.cert_der().as_ref())?;
            (tls(id), Some(record))
        }
        HostKind::DaneTaNaming(names) => {
            let id = ca.issue(names, true).map_err(|e| pki(&e))?;
            let record = tlsa(2, 0, ca.cert_der().as_ref())?;
            (tls(id), Some(record))
        }
        HostKind::SelfSigned => (tls(own()?), None),
        HostKind::WebPki => (tls(ca.issue(&[host], false).map_err(|e| pki(&e))?), None),
        HostKind::WrongTlsa => {
            let other = own()?;
            let record = tlsa(3, 1, other.chain[0].as_ref())?;
            (tls(own()?), Some(record))
        }
        HostKind::Plain => (PeerBehaviour::NoStarttls, None),
        HostKind::NoEsmtp => (PeerBehaviour::NoEsmtp, None),
        HostKind::Stall => (PeerBehaviour::Stall, None),
        HostKind::EndlessReply => (PeerBehaviour::Hostile, None),
        HostKind::LongLine(bytes) => (PeerBehaviour::LongLine { bytes: *bytes }, None),
        HostKind::GarbageAfterStartTls => (PeerBehaviour::GarbageAfterStartTls, None),
        HostKind::ResetInHandshake => (PeerBehaviour::ResetInHandshake, None),
        HostKind::LongChain(length) => {
            let mut id = own()?;
            let filler = ca.cert_der();
            id.chain
                .extend(std::iter::repeat_n(filler, length.saturating_sub(1)));
            (tls(id), None)
        }
        HostKind::RefuseStartTlsWith(reply) => (
            PeerBehaviour::RefuseStartTlsWith {
                reply: reply.clone(),
            },
            None,
        ),
        HostKind::RefuseStartTls => (PeerBehaviour::RefuseStartTls, None),
        HostKind::Slow(delay) => (
            PeerBehaviour::SlowGreeting {
                delay: *delay,
                then: Box::new(tls(own()?)),
            },
            None,
        ),
        HostKind::MxElsewhere(target) => {
            return Err(SimError::Scenario(format!(
                "{host} names {target}, it has no server of its own"
            )));
        }
        HostKind::DropsStartTls { sessions } => (
            PeerBehaviour::FirstConnections {
                count: *sessions,
                first: Box::new(tls(own()?)),
                then: Box::new(PeerBehaviour::NoStarttls),
            },
            None,
        ),
    })
}

/// Starts every peer on the same free port (each on its own address).
async fn spawn_peers(
    planned: Vec<(String, IpAddr, PeerBehaviour)>,
    options: &PeerOptions,
) -> Result<(BTreeMap<String, SmtpPeer>, u16), SimError> {
    let mut last_error = None;
    for _attempt in 0..10 {
        let port = free_port()?;
        let mut peers = BTreeMap::new();
        let mut failed = false;
        for (host, ip, behaviour) in &planned {
            let bind = SocketAddr::new(*ip, port);
            match SmtpPeer::spawn_with(bind, behaviour.clone(), options.clone()).await {
                Ok(p) => {
                    peers.insert(host.clone(), p);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    failed = true;
                    last_error = Some(SimError::Peer(host.clone(), e));
                    break;
                }
                Err(e) => return Err(SimError::Peer(host.clone(), e)),
            }
        }
        if !failed {
            return Ok((peers, port));
        }
        for (_, p) in peers {
            p.shutdown().await;
        }
    }
    Err(last_error
        .unwrap_or_else(|| SimError::Peer("any".into(), std::io::Error::other("no free port"))))
}

fn free_port() -> Result<u16, SimError> {
    let l = std::net::TcpListener::bind((Ipv4Addr::new(127, 0, 2, 0), 0))
        .map_err(|e| SimError::Peer("port probe".into(), e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| SimError::Peer("port probe".into(), e))
}
