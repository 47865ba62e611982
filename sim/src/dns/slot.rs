//! A zone as hickory's catalog sees it: [`ZoneSlot`] serves the current contents of one zone
//! (replaceable while the server runs) and declines DS queries at its own apex, so that the
//! catalog asks the parent's handler, where the DS RRset lives (RFC 4035 §3.1.4.1). It can also
//! be told to leave TLSA questions unanswered, as a resolver sees a server that times out.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use hickory_proto::rr::{LowerName, Name, RecordType, TSigResponseContext};
use hickory_server::dnssec::NxProofKind;
use hickory_server::server::{Request, RequestInfo};
use hickory_server::zone_handler::{
    AuthLookup, AxfrPolicy, LookupControlFlow, LookupOptions, Nsec3QueryInfo, ZoneHandler, ZoneType,
};

use super::Zone;

/// NSEC denial of existence, for [`ZoneSlot::nx_proof_kind`] of signed zones.
static NSEC: NxProofKind = NxProofKind::Nsec;

/// A zone as the catalog sees it: delegates to the current [`InMemoryZoneHandler`] (replaceable
/// at run time), except that it declines DS queries at its own apex so the parent answers them
/// (RFC 4035 §3.1.4.1: the DS RRset lives in the parent zone).
pub(super) struct ZoneSlot {
    origin: LowerName,
    signed: AtomicBool,
    stall_tlsa: AtomicBool,
    current: RwLock<Arc<Zone>>,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl ZoneSlot {
    /// A slot serving `zone`, signed or not.
    pub(super) fn new(origin: Name, zone: Zone, signed: bool) -> ZoneSlot {
        ZoneSlot {
            origin: LowerName::from(origin),
            signed: AtomicBool::new(signed),
            stall_tlsa: AtomicBool::new(false),
            current: RwLock::new(Arc::new(zone)),
        }
    }

    /// The current contents.
    fn zone(&self) -> Arc<Zone> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Serves `zone` from the next query on.
    pub(super) fn replace(&self, zone: Zone, signed: bool) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = Arc::new(zone);
        self.signed.store(signed, Ordering::SeqCst);
    }

    /// From the next query on, TLSA questions get no answer at all (or answers again).
    pub(super) fn stall_tlsa(&self, stall: bool) {
        self.stall_tlsa.store(stall, Ordering::SeqCst);
    }
}

/// How long a stalled TLSA question is held before it is dropped: longer than any resolver
/// timeout a test uses, bounded so that the server's tasks end.
const TLSA_STALL: std::time::Duration = std::time::Duration::from_secs(30);

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
        let stalled = self.stall_tlsa.load(Ordering::SeqCst)
            && request
                .request_info()
                .is_ok_and(|info| info.query.query_type() == RecordType::TLSA);
        let zone = self.zone();
        Box::pin(async move {
            if ds_at_apex {
                return (LookupControlFlow::Skip, None);
            }
            if stalled {
                tokio::time::sleep(TLSA_STALL).await;
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
