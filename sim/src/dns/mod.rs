//! The simulated internet's DNS: one authoritative hickory-server on a loopback address that
//! serves a whole signed tree (the root, each needed TLD and the test's zones), so a validating
//! resolver pointed at it with the root key as trust anchor sees real DNSSEC (RFC 4033–4035).
//!
//! Zones are signed on the fly (hickory-server refuses pre-signed zone files) with one
//! ECDSA P-256 key per zone (RFC 6605) and NSEC denial of existence. Each parent holds the
//! NS and glue records of its children and, for signed children, the DS record (RFC 4035
//! §2.4), so validation walks from the root key down the same way it does on the internet.
//! [`Signing`] picks how a zone takes part: signed, unsigned below a signed parent (an insecure
//! delegation, RFC 4035 §5.2) or bogus (the parent's DS names a key the zone does not use).
//!
//! One server answers for every zone, which hides a trap: asked for the DS of `child.test.`,
//! hickory's catalog picks the most specific zone, the child, which has no DS at its own apex,
//! so the chain of trust breaks. Each zone is therefore served through a `ZoneSlot`
//! (`slot.rs`), which declines (`LookupControlFlow::Skip`) DS queries at its own apex so the
//! catalog asks the next handler registered for the name: the parent. The slot also lets
//! [`DnsSim::replace_zone`] swap a zone's contents while the server runs.
//!
//! The parts: `tree` (the zones and how each is built and signed) and `slot` (a zone as the
//! catalog sees it); [`failing`] puts a relay in front that fails the way a validating
//! recursive resolver does (SERVFAIL with an Extended DNS Error).

mod delay;
pub mod failing;
mod slot;
mod tree;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{LowerName, Name};
use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{Catalog, ZoneHandler};
use tokio::net::{TcpListener, UdpSocket};

use crate::latency::ReplyLog;
use delay::Delayed;
use slot::ZoneSlot;
use tree::Tree;

/// TTL of every generated record (SOA, NS, glue, DS, DNSKEY) and the `$TTL` default of a
/// zone's own records.
const TTL: u32 = 300;
/// SOA minimum: how long resolvers may cache "no such record" (RFC 2308).
const NEGATIVE_TTL: u32 = 30;
/// Validity of the RRSIGs made when a zone is (re)built.
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long the TCP listener waits for a query on an idle connection.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How many UDP/TCP port pairs to try before giving up.
const BIND_ATTEMPTS: usize = 20;
/// File name of the root trust anchor in the directory given to [`DnsSim::start`].
pub const TRUST_ANCHOR_FILE: &str = "trust-anchor.txt";

/// How a zone takes part in DNSSEC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// Signed, with the parent's DS matching its key: answers validate as Secure.
    Signed,
    /// Not signed; the parent has NS but no DS records (an insecure delegation): answers
    /// validate as Insecure.
    Unsigned,
    /// Signed, but the parent's DS names a different key, so the chain of trust is broken and
    /// validators return bogus.
    Bogus,
}

/// One zone of the simulated internet.
#[derive(Clone, Debug)]
pub struct ZoneSpec {
    /// The zone's name, e.g. `dane-ee.test` (a trailing dot is optional).
    pub origin: String,
    /// Zone-file lines (RFC 1035 §5) with names relative to `origin` or absolute, e.g.
    /// `"@ 300 IN MX 10 mx1\nmx1 300 IN A 127.1.0.1\n"`. A missing TTL means 300 s. SOA and
    /// apex NS records are added when absent (the NS host `ns.<origin>` gets the server's
    /// address).
    pub records: String,
    /// How the zone is signed.
    pub signing: Signing,
}

/// What can go wrong starting or changing the simulated DNS.
#[derive(Debug, thiserror::Error)]
pub enum SimDnsError {
    /// Binding the sockets, or writing the trust anchor, failed.
    #[error("{what}: {source}")]
    Io {
        /// The step that failed.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A zone's name or records are not valid.
    #[error("zone {origin}: {reason}")]
    Zone {
        /// The zone's origin.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Generating a key or signing a zone failed.
    #[error("signing {origin}: {reason}")]
    Signing {
        /// The zone's origin.
        origin: String,
        /// The signer's error.
        reason: String,
    },
    /// [`DnsSim::replace_zone`] was given a zone the simulator was not started with.
    #[error("no zone {0} in the simulated DNS")]
    UnknownZone(String),
}

/// A zone's served contents.
type Zone = InMemoryZoneHandler<TokioRuntimeProvider>;

/// A running authoritative DNS server for the simulated internet.
pub struct DnsSim {
    addr: SocketAddr,
    trust_anchor: PathBuf,
    server: Server<Delayed>,
    slots: HashMap<Name, Arc<ZoneSlot>>,
    tree: tokio::sync::Mutex<Tree>,
}

impl std::fmt::Debug for DnsSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsSim")
            .field("addr", &self.addr)
            .field("trust_anchor", &self.trust_anchor)
            .field("zones", &self.slots.len())
            .finish()
    }
}

impl DnsSim {
    /// Start serving `zones` (plus the root and every TLD they need) over UDP and TCP on one
    /// free port of `bind`, and write the root's DNSKEY to `dir/trust-anchor.txt`.
    pub async fn start(
        bind: IpAddr,
        zones: Vec<ZoneSpec>,
        dir: &Path,
    ) -> Result<DnsSim, SimDnsError> {
        Self::start_delayed(bind, zones, dir, Duration::ZERO, None).await
    }

    /// Like [`DnsSim::start`], but each answer leaves `rtt` after its question came (a
    /// simulated round-trip time, [`crate::latency`]), noted in `log` when there is one.
    pub async fn start_delayed(
        bind: IpAddr,
        zones: Vec<ZoneSpec>,
        dir: &Path,
        rtt: Duration,
        log: Option<ReplyLog>,
    ) -> Result<DnsSim, SimDnsError> {
        let mut tree = Tree::new(bind, zones)?;

        let mut slots = HashMap::new();
        for origin in tree.zones.keys() {
            let zone = tree.build(origin)?;
            let signed = tree.zones[origin].signing != Signing::Unsigned;
            slots.insert(
                origin.clone(),
                Arc::new(ZoneSlot::new(origin.clone(), zone, signed)),
            );
        }
        let mut catalog = Catalog::new();
        for (origin, state) in &tree.zones {
            let mut handlers: Vec<Arc<dyn ZoneHandler>> = vec![slots[origin].clone()];
            if let Some(parent) = &state.parent {
                handlers.push(slots[parent].clone());
            }
            catalog.upsert(LowerName::from(origin.clone()), handlers);
        }

        let trust_anchor = dir.join(TRUST_ANCHOR_FILE);
        let anchor_text = tree.root_trust_anchor()?;
        std::fs::write(&trust_anchor, anchor_text).map_err(|source| SimDnsError::Io {
            what: format!("writing {}", trust_anchor.display()),
            source,
        })?;

        let (udp, tcp) = bind_pair(bind).await?;
        let addr = udp.local_addr().map_err(|source| SimDnsError::Io {
            what: "reading the UDP socket's address".into(),
            source,
        })?;
        let mut server = Server::new(Delayed { catalog, rtt, log });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, 64);
        tree.serial += 1;

        Ok(DnsSim {
            addr,
            trust_anchor,
            server,
            slots,
            tree: tokio::sync::Mutex::new(tree),
        })
    }

    /// The address (UDP and TCP) the server answers on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The root trust anchor (DNSKEY in zone-file form) for the resolver's configuration.
    pub fn trust_anchor_path(&self) -> &Path {
        &self.trust_anchor
    }

    /// Replace the records and signing of one of the zones given to [`DnsSim::start`], re-signed
    /// with the zone's existing key (and the parent's DS updated when the signing changes).
    /// Takes effect for the next query; resolvers may still hold cached answers.
    pub async fn replace_zone(&self, spec: ZoneSpec) -> Result<(), SimDnsError> {
        let origin = zone_name(&spec.origin)?;
        let mut tree = self.tree.lock().await;
        let parent = match tree.zones.get(&origin) {
            Some(state) if state.from_spec => state.parent.clone(),
            _ => return Err(SimDnsError::UnknownZone(spec.origin)),
        };
        let previous = tree
            .zones
            .get(&origin)
            .map(|s| (s.records.clone(), s.signing));
        if let Some(state) = tree.zones.get_mut(&origin) {
            state.records = spec.records;
            state.signing = spec.signing;
        }
        tree.serial += 1;
        // Build both zones before swapping either, so a bad spec changes nothing.
        let built = tree.build(&origin).and_then(|zone| {
            let parent_zone = match &parent {
                Some(parent) => Some((parent.clone(), tree.build(parent)?)),
                None => None,
            };
            Ok((zone, parent_zone))
        });
        let (zone, parent_zone) = match built {
            Ok(built) => built,
            Err(err) => {
                if let (Some(state), Some((records, signing))) =
                    (tree.zones.get_mut(&origin), previous)
                {
                    state.records = records;
                    state.signing = signing;
                }
                return Err(err);
            }
        };
        self.slots[&origin].replace(zone, spec.signing != Signing::Unsigned);
        if let Some((parent, parent_zone)) = parent_zone {
            let signed = tree.zones[&parent].signing != Signing::Unsigned;
            self.slots[&parent].replace(parent_zone, signed);
        }
        Ok(())
    }

    /// Leaves TLSA questions in zone `origin` unanswered from now on (`true`), as a server that
    /// times out would, or answers them again (`false`).
    pub fn stall_tlsa(&self, origin: &str, stall: bool) -> Result<(), SimDnsError> {
        let name = zone_name(origin)?;
        let slot = self
            .slots
            .get(&name)
            .ok_or_else(|| SimDnsError::UnknownZone(origin.to_string()))?;
        slot.stall_tlsa(stall);
        Ok(())
    }

    /// Stop the server and wait for its tasks to end.
    pub async fn shutdown(mut self) {
        if let Err(err) = self.server.shutdown_gracefully().await {
            tracing::warn!(%err, "simulated DNS server stopped with an error");
        }
    }
}

/// Bind UDP on a free port of `ip`, then TCP on the same port; retry with another port when
/// the TCP port is taken.
async fn bind_pair(ip: IpAddr) -> Result<(UdpSocket, TcpListener), SimDnsError> {
    let mut last_error = None;
    for _ in 0..BIND_ATTEMPTS {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(|source| SimDnsError::Io {
                what: format!("binding UDP on {ip}"),
                source,
            })?;
        let port = udp
            .local_addr()
            .map_err(|source| SimDnsError::Io {
                what: "reading the UDP socket's address".into(),
                source,
            })?
            .port();
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(err) if err.kind() == io::ErrorKind::AddrInUse => last_error = Some(err),
            Err(source) => {
                return Err(SimDnsError::Io {
                    what: format!("binding TCP on {ip}:{port}"),
                    source,
                });
            }
        }
    }
    Err(SimDnsError::Io {
        what: format!("finding a port free for both UDP and TCP on {ip}"),
        source: last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)),
    })
}

/// The fully qualified, lower-case name of a zone given as text.
fn zone_name(origin: &str) -> Result<Name, SimDnsError> {
    let trimmed = origin.trim().trim_end_matches('.');
    let text = format!("{trimmed}.");
    Name::from_ascii(&text)
        .map(|name| name.to_lowercase())
        .map_err(|err| SimDnsError::Zone {
            origin: origin.to_string(),
            reason: format!("invalid name: {err}"),
        })
}
