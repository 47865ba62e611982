//! A cache of DNSKEY and DS answers *below* hickory's DNSSEC validator (RFC 4035 §5).
//!
//! hickory's `DnssecDnsHandle` sits under the resolver's response cache, so the key lookups
//! it makes while validating never meet a cache: it fetches the signer's DNSKEY set again for
//! every RRset it validates, one after another (an MX answer, then the A answer, then the
//! AAAA denial's NSEC and SOA sets: a round trip each). This module wraps the connections the
//! resolver's name-server pool opens ([`KeyCaching`], a `ConnectionProvider`) so that a
//! DNSKEY or DS question asked again within its TTL is answered from memory.
//!
//! Nothing is trusted because it was cached: the validator above checks every answer it gets,
//! from here or from the wire, exactly as before; only the network round trip is saved. What
//! is kept: answers with NOERROR, not truncated, with at least one record, for at most the
//! smallest TTL among their records and never longer than [`super::MAX_POSITIVE_TTL`]
//! (positive) or [`super::MAX_NEGATIVE_TTL`] (no data), in at most [`CAPACITY`] entries.
//! [`super::Dns::clear_cache`] builds a new resolver and with it an empty cache.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt, future, stream};
use hickory_resolver::config::ConnectionConfig;
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::DnsHandle;
use hickory_resolver::proto::op::{DnsRequest, DnsResponse, OpCode, ResponseCode};
use hickory_resolver::proto::rr::{LowerName, RecordType};
use hickory_resolver::{ConnectionProvider, PoolContext};

use super::{MAX_NEGATIVE_TTL, MAX_POSITIVE_TTL};

/// At most this many answers are kept; a full cache drops the one that expires first.
pub const CAPACITY: usize = 4096;

/// The question an answer is kept under: the name, the type, and the two bits that change
/// what a resolver sends back (DO asks for signatures, CD for unvalidated data).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    name: LowerName,
    rtype: RecordType,
    dnssec_ok: bool,
    checking_disabled: bool,
}

impl Key {
    /// The key of a request worth caching: one DNSKEY or DS question.
    fn of(request: &DnsRequest) -> Option<Key> {
        if request.metadata.op_code != OpCode::Query || request.queries.len() != 1 {
            return None;
        }
        let query = &request.queries[0];
        let rtype = query.query_type();
        if !matches!(rtype, RecordType::DNSKEY | RecordType::DS) {
            return None;
        }
        Some(Key {
            name: LowerName::new(query.name()),
            rtype,
            dnssec_ok: request
                .edns
                .as_ref()
                .is_some_and(|edns| edns.flags().dnssec_ok),
            checking_disabled: request.metadata.checking_disabled,
        })
    }
}

/// The answers, shared by every connection of one resolver.
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<Key, (Instant, DnsResponse)>>,
}

impl KeyCache {
    fn get(&self, key: &Key, now: Instant) -> Option<DnsResponse> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((until, response)) if *until > now => Some(response.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: Key, response: &DnsResponse, now: Instant) {
        let Some(ttl) = keep_for(response) else {
            return;
        };
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            entries.retain(|_, (until, _)| *until > now);
            if entries.len() >= CAPACITY
                && let Some(first) = entries
                    .iter()
                    .min_by_key(|(_, (until, _))| *until)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&first);
            }
        }
        entries.insert(key, (now + ttl, response.clone()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (Instant, DnsResponse)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How long `response` may be kept, if at all.
fn keep_for(response: &DnsResponse) -> Option<Duration> {
    if response.metadata.response_code != ResponseCode::NoError || response.metadata.truncation {
        return None;
    }
    let cap = if response.answers.is_empty() {
        MAX_NEGATIVE_TTL
    } else {
        MAX_POSITIVE_TTL
    };
    let smallest = response
        .answers
        .iter()
        .chain(response.authorities.iter())
        .map(|record| record.ttl)
        .min()?;
    let ttl = Duration::from_secs(u64::from(smallest)).min(cap);
    (!ttl.is_zero()).then_some(ttl)
}

/// The connections of hickory's own Tokio provider, each wrapped in [`Cached`].
#[derive(Clone, Default)]
pub struct KeyCaching {
    runtime: TokioRuntimeProvider,
    cache: Arc<KeyCache>,
}

impl KeyCaching {
    /// A provider with an empty cache of its own.
    pub fn new() -> Self {
        Self::default()
    }
}

type Conn = <TokioRuntimeProvider as ConnectionProvider>::Conn;

impl ConnectionProvider for KeyCaching {
    type Conn = Cached;
    type FutureConn = Pin<Box<dyn Future<Output = Result<Cached, NetError>> + Send + 'static>>;
    type RuntimeProvider = TokioRuntimeProvider;

    fn new_connection(
        &self,
        ip: IpAddr,
        config: &ConnectionConfig,
        cx: &PoolContext,
    ) -> Result<Self::FutureConn, NetError> {
        let connecting = self.runtime.new_connection(ip, config, cx)?;
        let cache = Arc::clone(&self.cache);
        Ok(Box::pin(async move {
            Ok(Cached {
                inner: connecting.await?,
                cache,
            })
        }))
    }

    fn runtime_provider(&self) -> &TokioRuntimeProvider {
        &self.runtime
    }
}

/// One connection to a name server, answering DNSKEY and DS questions from the shared cache
/// when it can.
#[derive(Clone)]
pub struct Cached {
    inner: Conn,
    cache: Arc<KeyCache>,
}

type Responses = Pin<Box<dyn Stream<Item = Result<DnsResponse, NetError>> + Send>>;

impl DnsHandle for Cached {
    type Response = Responses;
    type Runtime = TokioRuntimeProvider;

    fn is_verifying_dnssec(&self) -> bool {
        self.inner.is_verifying_dnssec()
    }

    fn is_using_edns(&self) -> bool {
        self.inner.is_using_edns()
    }

    fn send(&self, request: DnsRequest) -> Responses {
        let Some(key) = Key::of(&request) else {
            return Box::pin(self.inner.send(request));
        };
        if let Some(mut hit) = self.cache.get(&key, Instant::now()) {
            hit.metadata.id = request.metadata.id;
            return Box::pin(stream::once(future::ready(Ok(hit))));
        }
        let cache = Arc::clone(&self.cache);
        Box::pin(self.inner.send(request).inspect(move |answer| {
            if let Ok(response) = answer {
                cache.put(key.clone(), response, Instant::now());
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{Message, MessageType, Query};
    use hickory_resolver::proto::rr::{Name, RData, Record, rdata::A};

    fn question(rtype: RecordType) -> DnsRequest {
        let query = Query::query(Name::from_ascii("example.test.").unwrap(), rtype);
        DnsRequest::from_query(query, Default::default())
    }

    fn answer(ttl: u32, code: ResponseCode) -> DnsResponse {
        let mut message = Message::new(7, MessageType::Response, OpCode::Query);
        message.metadata.response_code = code;
        let name = Name::from_ascii("example.test.").unwrap();
        message.answers.push(Record::from_rdata(
            name,
            ttl,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        DnsResponse::from_message(message).unwrap()
    }

    #[test]
    fn only_single_dnskey_and_ds_questions_are_cached() {
        assert!(Key::of(&question(RecordType::DNSKEY)).is_some());
        assert!(Key::of(&question(RecordType::DS)).is_some());
        assert!(Key::of(&question(RecordType::A)).is_none());
        assert!(Key::of(&question(RecordType::TLSA)).is_none());
    }

    #[test]
    fn an_answer_is_kept_for_its_ttl_capped() {
        let cache = KeyCache::default();
        let key = Key::of(&question(RecordType::DNSKEY)).unwrap();
        let now = Instant::now();
        cache.put(key.clone(), &answer(30, ResponseCode::NoError), now);
        assert!(cache.get(&key, now + Duration::from_secs(29)).is_some());
        assert!(cache.get(&key, now + Duration::from_secs(30)).is_none());
        assert!(cache.is_empty(), "an expired answer is dropped when met");

        cache.put(key.clone(), &answer(86_400, ResponseCode::NoError), now);
        assert!(cache.get(&key, now + MAX_POSITIVE_TTL).is_none());
    }

    #[test]
    fn failures_truncations_and_zero_ttls_are_not_kept() {
        let cache = KeyCache::default();
        let key = Key::of(&question(RecordType::DS)).unwrap();
        let now = Instant::now();
        cache.put(key.clone(), &answer(300, ResponseCode::ServFail), now);
        cache.put(key.clone(), &answer(0, ResponseCode::NoError), now);
        let mut truncated = answer(300, ResponseCode::NoError);
        truncated.metadata.truncation = true;
        cache.put(key.clone(), &truncated, now);
        assert!(cache.is_empty());
    }

    #[test]
    fn the_bits_that_change_an_answer_are_part_of_the_key() {
        let plain = Key::of(&question(RecordType::DNSKEY)).unwrap();
        let mut request = question(RecordType::DNSKEY);
        request.metadata.checking_disabled = true;
        assert_ne!(Key::of(&request).unwrap(), plain);
    }

    #[test]
    fn a_full_cache_drops_the_answer_that_expires_first() {
        let cache = KeyCache::default();
        let now = Instant::now();
        for i in 0..CAPACITY {
            let mut key = Key::of(&question(RecordType::DS)).unwrap();
            key.name = LowerName::new(&Name::from_ascii(format!("z{i}.test.")).unwrap());
            let ttl = if i == 5 { 10 } else { 200 };
            cache.put(key, &answer(ttl, ResponseCode::NoError), now);
        }
        assert_eq!(cache.len(), CAPACITY);
        let newcomer = Key::of(&question(RecordType::DS)).unwrap();
        cache.put(newcomer.clone(), &answer(200, ResponseCode::NoError), now);
        assert_eq!(cache.len(), CAPACITY);
        assert!(cache.get(&newcomer, now).is_some());
        let mut fifth = newcomer;
        fifth.name = LowerName::new(&Name::from_ascii("z5.test.").unwrap());
        assert!(cache.get(&fifth, now).is_none());
    }
}
