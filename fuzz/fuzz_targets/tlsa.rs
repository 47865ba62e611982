//! Fuzzes TLSA matching (`sendguard::dane`, RFC 6698 §2.1, RFC 7671, RFC 7672 §3) against a
//! straightforward recomputation.
//!
//! The certificates are a fixed pool made at start (Ed25519, fixed keys and serials, so the
//! same bytes on every run): a root CA, an intermediate CA, a leaf for `mx.example.net`
//! under the intermediate, a self-signed leaf for it, a leaf for another name and an expired
//! leaf. The input picks a chain from the pool (each certificate possibly with one byte
//! changed) and TLSA records (right association data for a pool or chain certificate, the same
//! with one byte changed, or raw bytes), as `byte input layout` in `next_chain`/`next_record`
//! says. Properties:
//! - `association_data` equals SHA-256/SHA-512 over the certificate or over the key the pool
//!   made it with, and refuses unknown selectors and matching types;
//! - no usable (usage 2/3, selector 0/1, matching 0–2) record ⇔ `NoUsableRecords`;
//! - DANE-EE matched ⇔ a usable usage-3 record equals the recomputed data of the leaf;
//! - DANE-TA matched at depth d ⇒ no EE record matched, a usable usage-2 record equals the
//!   data of the certificate at d, the leaf is an unchanged pool leaf that names
//!   `mx.example.net` and is in date, and the certificate at d is its issuer (or, with the
//!   intermediate sent too, the root); and the other way round for unchanged certificates;
//! - the record order does not change whether a chain matches, an unusable record changes
//!   nothing, and `DaneVerifier` accepts exactly what `match_chain` accepts.

#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ED25519,
    PublicKeyData, SerialNumber,
};
use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use sendguard::dane::tlsa::TlsaRecord;
use sendguard::dane::{DaneError, DaneMatch, DaneVerifier, association_data, match_chain};
use sha2::{Digest, Sha256, Sha512};

/// The reference identifiers: TLSA base domain, then next-hop domain (RFC 7672 §3.2.2).
const NAMES: [&str; 2] = ["mx.example.net", "example.net"];
/// 2027-06-01: inside every pool certificate's validity but the expired leaf's.
const NOW: u64 = 1_811_808_000;

const ROOT: usize = 0;
const INTER: usize = 1;
const LEAF: usize = 2;
const SELF_SIGNED: usize = 3;

/// One pool certificate: its DER and the SubjectPublicKeyInfo of the key it was made with.
struct PoolCert {
    der: Vec<u8>,
    spki: Vec<u8>,
}

static POOL: LazyLock<Vec<PoolCert>> = LazyLock::new(make_pool);

/// A fixed Ed25519 key: PKCS #8 v1 of a 32-byte seed (RFC 8410 §7).
fn key(seed: u8) -> KeyPair {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend([seed; 32]);
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der), &PKCS_ED25519)
        .expect("a fixed Ed25519 key")
}

fn params(serial: u64, cn: &str, sans: &[&str], ca: bool, years: (i32, i32)) -> CertificateParams {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(sans).expect("names");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.serial_number = Some(SerialNumber::from(serial));
    p.not_before = rcgen::date_time_ymd(years.0, 1, 1);
    p.not_after = rcgen::date_time_ymd(years.1, 1, 1);
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    p
}

fn make_pool() -> Vec<PoolCert> {
    let cert = |der: &[u8], key: &KeyPair| PoolCert {
        der: der.to_vec(),
        spki: key.subject_public_key_info(),
    };
    let (root_key, inter_key) = (key(1), key(2));
    let root_params = params(1, "Fuzz Root", &[], true, (2020, 2100));
    let root = root_params.self_signed(&root_key).expect("root");
    let root_issuer = Issuer::new(root_params, root_key);
    let inter_params = params(2, "Fuzz Intermediate", &[], true, (2020, 2100));
    let inter = inter_params
        .signed_by(&inter_key, &root_issuer)
        .expect("inter");
    let inter_issuer = Issuer::new(inter_params, inter_key);
    let leaf_key = key(3);
    let leaf = params(3, NAMES[0], &[NAMES[0]], false, (2020, 2100))
        .signed_by(&leaf_key, &inter_issuer)
        .expect("leaf");
    let self_key = key(4);
    let self_signed = params(4, NAMES[0], &[NAMES[0]], false, (2020, 2100))
        .self_signed(&self_key)
        .expect("self-signed");
    let other_key = key(5);
    let other = params(5, "other.example", &["other.example"], false, (2020, 2100))
        .signed_by(&other_key, &inter_issuer)
        .expect("other");
    let old_key = key(6);
    let expired = params(6, NAMES[0], &[NAMES[0]], false, (2020, 2021))
        .signed_by(&old_key, &inter_issuer)
        .expect("expired");
    vec![
        cert(root.der(), root_issuer.key()),
        cert(inter.der(), inter_issuer.key()),
        cert(leaf.der(), &leaf_key),
        cert(self_signed.der(), &self_key),
        cert(other.der(), &other_key),
        cert(expired.der(), &old_key),
    ]
}

/// Reads the input byte by byte; zeros once it is used up.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        *first
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Chain: a count byte (0..=4), then per certificate a pool index byte and a change byte
/// (0: unchanged; else XORed into the byte at the position of the next two bytes).
fn next_chain(input: &mut Bytes<'_>) -> Vec<Vec<u8>> {
    let count = input.next() % 5;
    (0..count)
        .map(|_| {
            let mut der = POOL[usize::from(input.next()) % POOL.len()].der.clone();
            let flip = input.next();
            if flip != 0 {
                let at = (usize::from(input.next()) << 8 | usize::from(input.next())) % der.len();
                der[at] ^= flip;
            }
            der
        })
        .collect()
}

/// Record: usage (0..=4), selector (0..=2), matching type (0..=3), then a kind byte: 0 the
/// data of pool certificate `next`, 1 the same with byte 0 XORed with `next` (or 1), 2 the
/// data of chain certificate `next`, 3 `next % 80` raw bytes.
fn next_record(input: &mut Bytes<'_>, chain: &[Vec<u8>]) -> TlsaRecord {
    let (usage, selector, matching) = (input.next() % 5, input.next() % 3, input.next() % 4);
    let data = match input.next() % 4 {
        kind @ (0 | 1) => {
            let pool = &POOL[usize::from(input.next()) % POOL.len()].der;
            let mut data = expected(pool, selector, matching).unwrap_or_default();
            if let (1, Some(first)) = (kind, data.first_mut()) {
                *first ^= input.next().max(1);
            }
            data
        }
        2 if !chain.is_empty() => {
            let cert = &chain[usize::from(input.next()) % chain.len()];
            expected(cert, selector, matching).unwrap_or_default()
        }
        _ => (0..input.next() % 80).map(|_| input.next()).collect(),
    };
    TlsaRecord {
        usage,
        selector,
        matching,
        data,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let chain_bytes = next_chain(&mut input);
    let mut records = Vec::new();
    while !input.is_empty() && records.len() < 8 {
        records.push(next_record(&mut input, &chain_bytes));
    }
    let chain: Vec<CertificateDer<'_>> = chain_bytes
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    for cert in &chain_bytes {
        check_association_data(cert);
    }
    let now = UnixTime::since_unix_epoch(Duration::from_secs(NOW));
    let result = match_chain(&records, &chain, &NAMES, now);
    check_result(&result, &records, &chain_bytes);

    let reversed: Vec<TlsaRecord> = records.iter().rev().cloned().collect();
    let other = match_chain(&reversed, &chain, &NAMES, now);
    assert_eq!(
        accepts(&other),
        accepts(&result),
        "record order: {other:?} / {result:?}"
    );
    let mut padded = records.clone();
    padded.push(TlsaRecord {
        usage: 1,
        selector: 1,
        matching: 1,
        data: vec![0; 32],
    });
    assert_eq!(match_chain(&padded, &chain, &NAMES, now), result);

    if let Some((leaf, rest)) = chain.split_first() {
        let names = NAMES.iter().map(|n| n.to_string()).collect();
        let verifier = DaneVerifier::new(records.clone(), names);
        let server = ServerName::try_from(NAMES[0]).expect("name");
        let verified = verifier.verify_server_cert(leaf, rest, &server, &[], now);
        assert_eq!(
            verified.is_ok(),
            accepts(&result),
            "DaneVerifier: {verified:?}"
        );
    }
});

/// Whether delivery may go on: matched, or TLS without usable records (RFC 7672 §2.2).
fn accepts(m: &DaneMatch) -> bool {
    !matches!(m, DaneMatch::Mismatch(_) | DaneMatch::NameMismatch(_))
}

/// The recomputed association data: the certificate or its key's SPKI (the pool's own key
/// for an unchanged pool certificate, else as x509-parser reads it), hashed as asked.
fn expected(cert: &[u8], selector: u8, matching: u8) -> Option<Vec<u8>> {
    let selected = match selector {
        0 => cert.to_vec(),
        1 => match POOL.iter().find(|p| p.der == cert) {
            Some(p) => p.spki.clone(),
            None => match x509_parser::parse_x509_certificate(cert) {
                Ok((rest, c)) if rest.is_empty() => c.public_key().raw.to_vec(),
                _ => return None,
            },
        },
        _ => return None,
    };
    match matching {
        0 => Some(selected),
        1 => Some(Sha256::digest(&selected).to_vec()),
        2 => Some(Sha512::digest(&selected).to_vec()),
        _ => None,
    }
}

fn check_association_data(cert: &[u8]) {
    for selector in 0..=2 {
        for matching in 0..=3 {
            let got = association_data(cert, selector, matching);
            match (expected(cert, selector, matching), got) {
                (Some(want), Ok(got)) => assert_eq!(want, got, "{selector} {matching}"),
                (None, Err(DaneError::UnknownMatchingType(m))) => {
                    assert_eq!((m, matching > 2), (matching, true));
                }
                (None, Err(DaneError::UnknownSelector(s))) => {
                    assert_eq!((s, matching <= 2), (selector, true));
                }
                (None, Err(DaneError::BadCertificate(_))) => assert_eq!(selector, 1),
                (want, got) => panic!("{selector} {matching}: want {want:?}, got {got:?}"),
            }
        }
    }
}

fn usable(r: &TlsaRecord) -> bool {
    (r.usage == 2 || r.usage == 3) && r.selector <= 1 && r.matching <= 2
}

fn record_matches(r: &TlsaRecord, cert: &[u8]) -> bool {
    expected(cert, r.selector, r.matching).is_some_and(|d| d == r.data)
}

fn check_result(result: &DaneMatch, records: &[TlsaRecord], chain: &[Vec<u8>]) {
    let usable: Vec<&TlsaRecord> = records.iter().filter(|r| usable(r)).collect();
    assert_eq!(
        usable.is_empty(),
        *result == DaneMatch::NoUsableRecords,
        "{result:?}"
    );
    let Some(leaf) = chain.first() else {
        assert!(usable.is_empty() || matches!(result, DaneMatch::Mismatch(_)));
        return;
    };
    let ee = usable
        .iter()
        .any(|r| r.usage == 3 && record_matches(r, leaf));
    let ta_at = |d: usize| {
        usable
            .iter()
            .any(|r| r.usage == 2 && record_matches(r, &chain[d]))
    };
    match *result {
        DaneMatch::Matched { usage: 3, depth } => assert!(ee && depth == 0, "{result:?}"),
        DaneMatch::Matched { usage: 2, depth } => {
            assert!(!ee, "DANE-EE matched first");
            assert!(ta_at(depth), "no DANE-TA record for depth {depth}");
            assert!(valid_path(chain, depth, false), "{result:?} validated");
        }
        DaneMatch::Matched { .. } => panic!("{result:?}"),
        DaneMatch::NameMismatch(_) => {
            // A DANE-TA record fitted the chain, but the leaf names neither of NAMES: so no
            // strictly valid path (whose leaf names mx.example.net) may exist.
            assert!(!ee, "DANE-EE should have matched: {result:?}");
            assert!((0..chain.len()).any(ta_at), "no DANE-TA record fitted: {result:?}");
            let should = (0..chain.len()).any(|d| ta_at(d) && valid_path(chain, d, true));
            assert!(!should, "the leaf names {}: {result:?}", NAMES[0]);
        }
        DaneMatch::Mismatch(_) | DaneMatch::NoUsableRecords => {
            assert!(!ee, "DANE-EE should have matched: {result:?}");
            let should = (0..chain.len()).any(|d| ta_at(d) && valid_path(chain, d, true));
            assert!(!should, "DANE-TA should have matched: {result:?}");
        }
    }
}

/// Whether leaf → … → `chain[d]` is a valid path by construction of the pool: the leaf is the
/// unchanged in-date leaf or self-signed leaf for `mx.example.net`, and `chain[d]` is its
/// issuer, or the root with the unchanged intermediate sent elsewhere in the chain. An anchor
/// counts by its subject and key only (its signature is never checked, RFC 7671 §5.2.2) unless
/// `strict`, when it must be unchanged.
fn valid_path(chain: &[Vec<u8>], d: usize, strict: bool) -> bool {
    let is = |cert: &[u8], i: usize| cert == POOL[i].der;
    let anchor_is = |i: usize| {
        if strict {
            is(&chain[d], i)
        } else {
            identity(&chain[d]).is_some_and(|id| Some(id) == identity(&POOL[i].der))
        }
    };
    let leaf = &chain[0];
    if is(leaf, SELF_SIGNED) {
        return anchor_is(SELF_SIGNED);
    }
    if !is(leaf, LEAF) {
        return false;
    }
    let inter_sent = (1..chain.len()).any(|i| i != d && is(&chain[i], INTER));
    anchor_is(INTER) || (anchor_is(ROOT) && inter_sent)
}

/// A certificate's subject and SubjectPublicKeyInfo, the parts a trust anchor keeps, as
/// webpki reads them: an anchor's other fields (dates, serial, its own signature) are never
/// checked, so a changed byte there may still make an anchor (found by this target: the
/// oracle first read the anchor with x509-parser, which refuses such a certificate).
fn identity(cert: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let der = CertificateDer::from(cert);
    let anchor = webpki::anchor_from_trusted_cert(&der).ok()?;
    Some((
        anchor.subject.as_ref().to_vec(),
        anchor.subject_public_key_info.as_ref().to_vec(),
    ))
}
