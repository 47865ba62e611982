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
//! so the chain of trust breaks. Each zone is therefore served through [`ZoneSlot`], which
//! declines (`LookupControlFlow::Skip`) DS queries at its own apex so the catalog asks the
//! next handler registered for the name: the parent. The slot also lets [`DnsSim::replace_zone`]
//! swap a zone's contents while the server runs.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, DnssecSigner, SigningKey};
use hickory_proto::rr::TSigResponseContext;
use hickory_proto::rr::rdata::{A, AAAA, NS};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_proto::serialize::txt::Parser;
use hickory_server::Server;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::server::{Request, RequestInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AuthLookup, AxfrPolicy, Catalog, LookupControlFlow, LookupOptions, Nsec3QueryInfo, ZoneHandler,
    ZoneType,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use tokio::net::{TcpListener, UdpSocket};

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

type Zone = InMemoryZoneHandler<TokioRuntimeProvider>;

/// A running authoritative DNS server for the simulated internet.
pub struct DnsSim {
    addr: SocketAddr,
    trust_anchor: PathBuf,
    server: Server<Catalog>,
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
        let mut server = Server::new(catalog);
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

/// The whole tree of zones and what each is built from.
struct Tree {
    zones: BTreeMap<Name, ZoneState>,
    /// Address of the server, for NS glue.
    ns_ip: IpAddr,
    /// SOA serial of the next build.
    serial: u32,
}

struct ZoneState {
    records: String,
    signing: Signing,
    /// The zone's signing key (PKCS#8), kept so a rebuilt zone keeps its DNSKEY.
    key: PrivatePkcs8KeyDer<'static>,
    /// A key the zone never uses: its DS goes into the parent when the zone is Bogus.
    decoy: PrivatePkcs8KeyDer<'static>,
    parent: Option<Name>,
    children: Vec<Name>,
    /// Given by the caller (as opposed to the generated root and TLDs).
    from_spec: bool,
}

impl Tree {
    fn new(ns_ip: IpAddr, specs: Vec<ZoneSpec>) -> Result<Tree, SimDnsError> {
        let mut zones = BTreeMap::new();
        for spec in specs {
            let origin = zone_name(&spec.origin)?;
            if origin.is_root() {
                return Err(SimDnsError::Zone {
                    origin: spec.origin,
                    reason: "the root zone is generated by the simulator".into(),
                });
            }
            let state = ZoneState::new(&origin, spec.records, spec.signing, true)?;
            if zones.insert(origin, state).is_some() {
                return Err(SimDnsError::Zone {
                    origin: spec.origin,
                    reason: "given twice".into(),
                });
            }
        }
        // The root and each TLD the zones need, always signed.
        let mut generated = vec![Name::root()];
        for origin in zones.keys() {
            generated.push(origin.trim_to(1));
        }
        for origin in generated {
            if let std::collections::btree_map::Entry::Vacant(slot) = zones.entry(origin) {
                let state = ZoneState::new(slot.key(), String::new(), Signing::Signed, false)?;
                slot.insert(state);
            }
        }
        // Each zone's parent is its closest enclosing zone.
        let names: Vec<Name> = zones.keys().cloned().collect();
        for name in &names {
            let parent = names
                .iter()
                .filter(|candidate| *candidate != name && candidate.zone_of(name))
                .max_by_key(|candidate| candidate.num_labels())
                .cloned();
            if let Some(parent) = &parent
                && let Some(state) = zones.get_mut(parent)
            {
                state.children.push(name.clone());
            }
            if let Some(state) = zones.get_mut(name) {
                state.parent = parent;
            }
        }
        Ok(Tree {
            zones,
            ns_ip,
            serial: 1,
        })
    }

    /// Build the served form of one zone: its records, SOA/NS when missing, the delegations
    /// to its children, and its signatures.
    fn build(&self, origin: &Name) -> Result<Zone, SimDnsError> {
        let zone_err = |reason: String| SimDnsError::Zone {
            origin: origin.to_ascii(),
            reason,
        };
        let state = self
            .zones
            .get(origin)
            .ok_or_else(|| SimDnsError::UnknownZone(origin.to_ascii()))?;

        let own = parse_records(origin, &state.records).map_err(&zone_err)?;
        if let Some(outside) = own
            .keys()
            .find(|key| !LowerName::from(origin).zone_of(&key.name))
        {
            return Err(zone_err(format!(
                "record {} is outside the zone",
                outside.name
            )));
        }
        let apex_ns = ns_host(origin)?;
        let mut header = String::new();
        if !own.contains_key(&RrKey::new(origin.into(), RecordType::SOA)) {
            header.push_str(&format!(
                "{origin} {TTL} IN SOA {ns_host} hostmaster.{origin_text} {serial} 300 300 86400 {NEGATIVE_TTL}\n",
                origin = origin.to_ascii(),
                ns_host = apex_ns.to_ascii(),
                origin_text = if origin.is_root() { String::new() } else { origin.to_ascii() },
                serial = self.serial,
            ));
        }
        let add_ns = !own.contains_key(&RrKey::new(origin.into(), RecordType::NS));
        let text = format!("{header}{}", state.records);
        let records = parse_records(origin, &text).map_err(&zone_err)?;

        let nx_proof = (state.signing != Signing::Unsigned).then_some(NxProofKind::Nsec);
        let mut zone = Zone::new(
            origin.clone(),
            records,
            ZoneType::Primary,
            AxfrPolicy::Deny,
            nx_proof,
        )
        .map_err(zone_err)?;

        let mut extra = Vec::new();
        if add_ns {
            extra.push(Record::from_rdata(
                origin.clone(),
                TTL,
                RData::NS(NS(apex_ns.clone())),
            ));
            extra.push(self.glue(&apex_ns));
        }
        for child in &state.children {
            let child_ns = ns_host(child)?;
            extra.push(Record::from_rdata(
                child.clone(),
                TTL,
                RData::NS(NS(child_ns.clone())),
            ));
            extra.push(self.glue(&child_ns));
            let child_state = &self.zones[child];
            let ds_key = match child_state.signing {
                Signing::Signed => Some(&child_state.key),
                Signing::Bogus => Some(&child_state.decoy),
                Signing::Unsigned => None,
            };
            if let Some(key) = ds_key {
                let public = load_key(child, key)?
                    .to_public_key()
                    .map_err(|err| signing_err(child, err))?;
                let ds = DS::from_key(&public, child, DigestType::SHA256)
                    .map_err(|err| signing_err(child, err))?;
                extra.push(Record::from_rdata(
                    child.clone(),
                    TTL,
                    RData::DNSSEC(DNSSECRData::DS(ds)),
                ));
            }
        }
        for record in extra {
            let text = record.to_string();
            if !zone.upsert_mut(record, self.serial) {
                return Err(zone_err(format!("could not add {text}")));
            }
        }

        if state.signing != Signing::Unsigned {
            let key = load_key(origin, &state.key)?;
            let public = key
                .to_public_key()
                .map_err(|err| signing_err(origin, err))?;
            let signer = DnssecSigner::new(
                DNSKEY::from_key(&public),
                Box::new(key),
                origin.clone(),
                SIGNATURE_LIFETIME,
            );
            zone.add_zone_signing_key_mut(signer)
                .map_err(|err| signing_err(origin, err))?;
            zone.secure_zone_mut()
                .map_err(|err| signing_err(origin, err))?;
        }
        Ok(zone)
    }

    /// The glue A/AAAA record of a name server host.
    fn glue(&self, host: &Name) -> Record {
        let rdata = match self.ns_ip {
            IpAddr::V4(ip) => RData::A(A(ip)),
            IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
        };
        Record::from_rdata(host.clone(), TTL, rdata)
    }

    /// The root's DNSKEY in zone-file form, as hickory's trust anchor parser reads it.
    fn root_trust_anchor(&self) -> Result<String, SimDnsError> {
        let root = Name::root();
        let state = self
            .zones
            .get(&root)
            .ok_or_else(|| SimDnsError::UnknownZone(".".into()))?;
        let public = load_key(&root, &state.key)?
            .to_public_key()
            .map_err(|err| signing_err(&root, err))?;
        Ok(format!(". {TTL} IN DNSKEY {}\n", DNSKEY::from_key(&public)))
    }
}

impl ZoneState {
    fn new(
        origin: &Name,
        records: String,
        signing: Signing,
        from_spec: bool,
    ) -> Result<ZoneState, SimDnsError> {
        let generate = || {
            EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256)
                .map_err(|err| signing_err(origin, err))
        };
        Ok(ZoneState {
            records,
            signing,
            key: generate()?,
            decoy: generate()?,
            parent: None,
            children: Vec::new(),
            from_spec,
        })
    }
}

/// The name server host of a zone: `ns.<origin>` (`ns.` for the root).
fn ns_host(origin: &Name) -> Result<Name, SimDnsError> {
    Name::from_ascii("ns")
        .and_then(|ns| ns.append_domain(origin))
        .map_err(|err| SimDnsError::Zone {
            origin: origin.to_ascii(),
            reason: format!("cannot name its name server: {err}"),
        })
}

fn parse_records(
    origin: &Name,
    text: &str,
) -> Result<BTreeMap<RrKey, hickory_proto::rr::RecordSet>, String> {
    let text = format!("$TTL {TTL}\n{text}\n");
    Parser::new(text, None, Some(origin.clone()))
        .parse()
        .map(|(_, records)| records)
        .map_err(|err| format!("cannot parse the records: {err}"))
}

fn load_key(
    origin: &Name,
    pkcs8: &PrivatePkcs8KeyDer<'static>,
) -> Result<EcdsaSigningKey, SimDnsError> {
    EcdsaSigningKey::from_pkcs8(pkcs8, Algorithm::ECDSAP256SHA256)
        .map_err(|err| signing_err(origin, err))
}

fn signing_err(origin: &Name, err: impl std::fmt::Display) -> SimDnsError {
    SimDnsError::Signing {
        origin: origin.to_ascii(),
        reason: err.to_string(),
    }
}

/// NSEC denial of existence, for [`ZoneSlot::nx_proof_kind`] of signed zones.
static NSEC: NxProofKind = NxProofKind::Nsec;

/// A zone as the catalog sees it: delegates to the current [`InMemoryZoneHandler`] (replaceable
/// at run time), except that it declines DS queries at its own apex so the parent answers them
/// (RFC 4035 §3.1.4.1: the DS RRset lives in the parent zone).
struct ZoneSlot {
    origin: LowerName,
    signed: AtomicBool,
    current: RwLock<Arc<Zone>>,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl ZoneSlot {
    fn new(origin: Name, zone: Zone, signed: bool) -> ZoneSlot {
        ZoneSlot {
            origin: LowerName::from(origin),
            signed: AtomicBool::new(signed),
            current: RwLock::new(Arc::new(zone)),
        }
    }

    fn zone(&self) -> Arc<Zone> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn replace(&self, zone: Zone, signed: bool) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = Arc::new(zone);
        self.signed.store(signed, Ordering::SeqCst);
    }
}

// hickory-server declares `ZoneHandler` with `#[async_trait]`; these are the signatures that
// macro produces, written out so the crate needs no extra dependency.
impl ZoneHandler for ZoneSlot {
    fn zone_type(&self) -> ZoneType {
        ZoneType::Primary
    }

    fn axfr_policy(&self) -> AxfrPolicy {
        AxfrPolicy::Deny
    }

    fn origin(&self) -> &LowerName {
        &self.origin
    }

    fn lookup<'life0, 'life1, 'life2, 'life3, 'async_trait>(
        &'life0 self,
        name: &'life1 LowerName,
        rtype: RecordType,
        request_info: Option<&'life2 RequestInfo<'life3>>,
        lookup_options: LookupOptions,
    ) -> BoxFuture<'async_trait, LookupControlFlow<AuthLookup>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        'life3: 'async_trait,
        Self: 'async_trait,
    {
        let zone = self.zone();
        Box::pin(async move { zone.lookup(name, rtype, request_info, lookup_options).await })
    }

    fn search<'life0, 'life1, 'async_trait>(
        &'life0 self,
        request: &'life1 Request,
        lookup_options: LookupOptions,
    ) -> BoxFuture<'async_trait, (LookupControlFlow<AuthLookup>, Option<TSigResponseContext>)>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let ds_at_apex = request.request_info().is_ok_and(|info| {
            info.query.query_type() == RecordType::DS
                && info.query.name() == &self.origin
                && !self.origin.is_root()
        });
        let zone = self.zone();
        Box::pin(async move {
            if ds_at_apex {
                return (LookupControlFlow::Skip, None);
            }
            zone.search(request, lookup_options).await
        })
    }

    fn nsec_records<'life0, 'life1, 'async_trait>(
        &'life0 self,
        name: &'life1 LowerName,
        lookup_options: LookupOptions,
    ) -> BoxFuture<'async_trait, LookupControlFlow<AuthLookup>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let zone = self.zone();
        Box::pin(async move { zone.nsec_records(name, lookup_options).await })
    }

    fn nsec3_records<'life0, 'life1, 'async_trait>(
        &'life0 self,
        info: Nsec3QueryInfo<'life1>,
        lookup_options: LookupOptions,
    ) -> BoxFuture<'async_trait, LookupControlFlow<AuthLookup>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        let zone = self.zone();
        Box::pin(async move { zone.nsec3_records(info, lookup_options).await })
    }

    fn nx_proof_kind(&self) -> Option<&NxProofKind> {
        self.signed.load(Ordering::SeqCst).then_some(&NSEC)
    }
}
