//! Tests of DANE matching: fixed vectors computed outside this code, generated chains for
//! DANE-TA, and real rustls handshakes through [`DaneVerifier`].

use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::*;

// ---- the fixed certificate and its association data -------------------------------------
//
// server/tests/data/dane-ee.pem was made with
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500 \
//     -subj /CN=mx.fixed.example -addext subjectAltName=DNS:mx.fixed.example,DNS:*.fixed.example
// (valid 2026-11-23 .. 2126-10-30) and the digests below with the openssl CLI, not with this
// code:
//   openssl x509 -in dane-ee.pem -outform DER | sha256sum            (and sha512sum)
//   openssl x509 -in dane-ee.pem -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum
//   ... | xxd -p                                                     (the SPKI itself)

const FIXED_PEM: &str = include_str!("../../tests/data/dane-ee.pem");
const FIXED_CERT_SHA256: &str = "cef6de6e5217484bd51f9754f00bf337f0bcf6d7c9f0380465891289dba67b22";
const FIXED_CERT_SHA512: &str = "c531b356d4ce8aba12b240541ba2dbe60377b136b64ba6bb341763155e9c78df\
                                 433594ceff954724b50f22daf9617b7d05374087a9ba95a17c82971e0ec20cbc";
const FIXED_SPKI_SHA256: &str = "c49c39e5dfac3e50d5b7ac0324533eb0427ca51ede5e9a50646bdf22143b270d";
const FIXED_SPKI_SHA512: &str = "a383ae66543a513da30235d1c5aec1a2057326d301e5422e2c9290d5d516d780\
                                 d63b900dc7ae119c2ec14d8d8a330a5ff573fbf5b1d2239e894a22edc9a17b95";
const FIXED_SPKI: &str = "3059301306072a8648ce3d020106082a8648ce3d03010703420004765d97b890d73f\
                          99d82efabc18831a6eeb16196035f84712eab6701a9dd5583dba158180c8b0a495da\
                          ed410c5611e96a1fd1316611f04a8cf5ffd465138f54ac";
/// Length of the certificate's DER, as `openssl x509 -outform DER | wc -c` reports it.
const FIXED_CERT_LEN: usize = 447;

fn fixed_cert() -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(FIXED_PEM.as_bytes()).expect("test PEM")
}

fn unhex(s: &str) -> Vec<u8> {
    let clean: String = s.split_whitespace().collect();
    hex::decode(clean).expect("test hex")
}

fn rec(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> TlsaRecord {
    TlsaRecord {
        usage,
        selector,
        matching,
        data,
    }
}

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// 2027-06-01, inside the fixed certificate's validity.
const JUNE_2027: u64 = 1_811_808_000;
/// 2200-01-01, long after every certificate here expired.
const YEAR_2200: u64 = 7_258_118_400;

// ---- generated chains --------------------------------------------------------------------

/// A CA certificate (self-signed when `parent` is `None`) and the issuer to sign with it.
fn make_ca(
    cn: &str,
    parent: Option<&Issuer<'_, KeyPair>>,
) -> (CertificateDer<'static>, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = match parent {
        Some(parent) => params.signed_by(&key, parent).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    (cert.der().clone(), Issuer::new(params, key))
}

/// A server certificate for `sans`, signed by `issuer` (self-signed when `None`), valid
/// 2020..2100 unless `expired`, in which case it ended in 2021.
fn make_leaf(
    sans: &[&str],
    issuer: Option<&Issuer<'_, KeyPair>>,
    expired: bool,
) -> (CertificateDer<'static>, KeyPair) {
    let names: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, sans.first().copied().unwrap_or("leaf"));
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = if expired {
        rcgen::date_time_ymd(2021, 1, 1)
    } else {
        rcgen::date_time_ymd(2100, 1, 1)
    };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = match issuer {
        Some(issuer) => params.signed_by(&key, issuer).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    (cert.der().clone(), key)
}

fn sha256_record(usage: u8, cert: &CertificateDer<'_>) -> TlsaRecord {
    rec(usage, 0, 1, association_data(cert, 0, 1).unwrap())
}

fn spki_sha256_record(usage: u8, cert: &CertificateDer<'_>) -> TlsaRecord {
    rec(usage, 1, 1, association_data(cert, 1, 1).unwrap())
}

const MX: &str = "mx.example.net";
const DOMAIN: &str = "example.net";

fn now() -> UnixTime {
    UnixTime::now()
}

fn mismatch_text(m: DaneMatch) -> String {
    match m {
        DaneMatch::Mismatch(why) => why,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

// ---- association data --------------------------------------------------------------------

#[test]
fn association_data_matches_the_openssl_vectors() {
    let cert = fixed_cert();
    assert_eq!(cert.len(), FIXED_CERT_LEN);
    assert_eq!(association_data(&cert, 0, 0).unwrap(), cert.to_vec());
    assert_eq!(
        association_data(&cert, 0, 1).unwrap(),
        unhex(FIXED_CERT_SHA256)
    );
    assert_eq!(
        association_data(&cert, 0, 2).unwrap(),
        unhex(FIXED_CERT_SHA512)
    );
    assert_eq!(association_data(&cert, 1, 0).unwrap(), unhex(FIXED_SPKI));
    assert_eq!(
        association_data(&cert, 1, 1).unwrap(),
        unhex(FIXED_SPKI_SHA256)
    );
    assert_eq!(
        association_data(&cert, 1, 2).unwrap(),
        unhex(FIXED_SPKI_SHA512)
    );
}

#[test]
fn association_data_rejects_unknown_parameters_and_garbage() {
    let cert = fixed_cert();
    assert!(matches!(
        association_data(&cert, 2, 1),
        Err(DaneError::UnknownSelector(2))
    ));
    assert!(matches!(
        association_data(&cert, 1, 3),
        Err(DaneError::UnknownMatchingType(3))
    ));
    assert!(matches!(
        association_data(b"\x30\x03\x02\x01", 1, 1),
        Err(DaneError::BadCertificate(_))
    ));
    // Selector 0 works on the bytes as sent, parsable or not (RFC 6698 §2.1.2).
    assert_eq!(association_data(b"junk", 0, 0).unwrap(), b"junk".to_vec());
}

// ---- DANE-EE -----------------------------------------------------------------------------

#[test]
fn dane_ee_matches_every_selector_and_matching_type() {
    let chain = [fixed_cert()];
    let vectors = [
        (0, 0, chain[0].to_vec()),
        (0, 1, unhex(FIXED_CERT_SHA256)),
        (0, 2, unhex(FIXED_CERT_SHA512)),
        (1, 0, unhex(FIXED_SPKI)),
        (1, 1, unhex(FIXED_SPKI_SHA256)),
        (1, 2, unhex(FIXED_SPKI_SHA512)),
    ];
    for (selector, matching, data) in vectors {
        let records = [rec(3, selector, matching, data)];
        assert_eq!(
            match_chain(&records, &chain, &[MX], at(JUNE_2027)),
            DaneMatch::Matched { usage: 3, depth: 0 },
            "3 {selector} {matching}"
        );
    }
}

#[test]
fn dane_ee_mismatch_is_reported() {
    let chain = [fixed_cert()];
    let mut wrong = unhex(FIXED_SPKI_SHA256);
    wrong[0] ^= 1;
    let why = mismatch_text(match_chain(
        &[rec(3, 1, 1, wrong)],
        &chain,
        &[MX],
        at(JUNE_2027),
    ));
    assert!(why.contains("DANE-EE 3 1 1"), "{why}");
    assert!(why.contains("did not match the leaf"), "{why}");

    // The right digest under the wrong matching type does not match either.
    let records = [rec(3, 1, 2, unhex(FIXED_SPKI_SHA256))];
    assert!(matches!(
        match_chain(&records, &chain, &[MX], at(JUNE_2027)),
        DaneMatch::Mismatch(_)
    ));
}

#[test]
fn dane_ee_ignores_names_and_dates() {
    // RFC 7671 §5.1: neither expiry nor the names in the certificate matter for DANE-EE.
    let chain = [fixed_cert()];
    let records = [rec(3, 1, 1, unhex(FIXED_SPKI_SHA256))];
    for when in [0, YEAR_2200] {
        assert_eq!(
            match_chain(&records, &chain, &["unrelated.example.org"], at(when)),
            DaneMatch::Matched { usage: 3, depth: 0 }
        );
    }
    let (expired, _) = make_leaf(&["other.example"], None, true);
    assert_eq!(
        match_chain(&[sha256_record(3, &expired)], &[expired], &[MX], now()),
        DaneMatch::Matched { usage: 3, depth: 0 }
    );
}

#[test]
fn dane_ee_looks_at_the_leaf_only() {
    let (ca, issuer) = make_ca("Example CA", None);
    let (leaf, _) = make_leaf(&[MX], Some(&issuer), false);
    let why = mismatch_text(match_chain(
        &[sha256_record(3, &ca)],
        &[leaf, ca],
        &[MX],
        now(),
    ));
    assert!(why.contains("DANE-EE"), "{why}");
}

// ---- record selection ----------------------------------------------------------------------

#[test]
fn pkix_usages_alone_leave_no_usable_records() {
    let chain = [fixed_cert()];
    let records = [
        rec(0, 1, 1, unhex(FIXED_SPKI_SHA256)),
        rec(1, 1, 1, unhex(FIXED_SPKI_SHA256)),
        rec(3, 2, 1, unhex(FIXED_SPKI_SHA256)),
        rec(3, 1, 9, unhex(FIXED_SPKI_SHA256)),
    ];
    assert_eq!(
        match_chain(&records, &chain, &[MX], at(JUNE_2027)),
        DaneMatch::NoUsableRecords
    );
    assert_eq!(
        match_chain(&[], &chain, &[MX], at(JUNE_2027)),
        DaneMatch::NoUsableRecords
    );
}

#[test]
fn one_matching_record_among_many_suffices() {
    let chain = [fixed_cert()];
    let records = [
        rec(1, 1, 1, unhex(FIXED_SPKI_SHA256)),
        rec(3, 1, 1, vec![0; 32]),
        rec(2, 0, 1, vec![1; 32]),
        rec(3, 0, 2, unhex(FIXED_CERT_SHA512)),
    ];
    assert_eq!(
        match_chain(&records, &chain, &[MX], at(JUNE_2027)),
        DaneMatch::Matched { usage: 3, depth: 0 }
    );
    // Usable records that all fail: a mismatch, although a PKIX record would have matched.
    let records = [
        rec(1, 1, 1, unhex(FIXED_SPKI_SHA256)),
        rec(3, 1, 1, vec![0; 32]),
    ];
    assert!(matches!(
        match_chain(&records, &chain, &[MX], at(JUNE_2027)),
        DaneMatch::Mismatch(_)
    ));
}

#[test]
fn hostile_chains_do_not_panic() {
    let records = [
        rec(3, 1, 1, vec![0; 32]),
        rec(2, 1, 1, association_data(b"\x30\x00", 0, 1).unwrap()),
        rec(2, 0, 1, association_data(b"\x30\x00", 0, 1).unwrap()),
    ];
    let junk = [
        CertificateDer::from(b"\x30\x00".to_vec()),
        CertificateDer::from(vec![0xff; 3]),
        CertificateDer::from(Vec::new()),
    ];
    assert!(matches!(
        match_chain(&records, &junk, &[MX, "not a name!"], now()),
        DaneMatch::Mismatch(_)
    ));
    let why = mismatch_text(match_chain(&records, &[], &[MX], now()));
    assert!(why.contains("no certificate"), "{why}");
}

// ---- DANE-TA -----------------------------------------------------------------------------

#[test]
fn dane_ta_matches_a_root_or_intermediate_in_the_chain() {
    let (root, root_issuer) = make_ca("Example Root", None);
    let (inter, inter_issuer) = make_ca("Example Intermediate", Some(&root_issuer));
    let (leaf, _) = make_leaf(&[MX], Some(&inter_issuer), false);
    let chain = [leaf, inter.clone(), root.clone()];

    assert_eq!(
        match_chain(&[sha256_record(2, &root)], &chain, &[MX, DOMAIN], now()),
        DaneMatch::Matched { usage: 2, depth: 2 }
    );
    assert_eq!(
        match_chain(
            &[spki_sha256_record(2, &inter)],
            &chain,
            &[MX, DOMAIN],
            now()
        ),
        DaneMatch::Matched { usage: 2, depth: 1 }
    );
    // The order in which the server sends the other certificates does not matter.
    let shuffled = [chain[0].clone(), root.clone(), inter];
    assert_eq!(
        match_chain(&[sha256_record(2, &root)], &shuffled, &[MX], now()),
        DaneMatch::Matched { usage: 2, depth: 1 }
    );
}

#[test]
fn dane_ta_rejects_a_leaf_without_the_reference_names() {
    let (ca, issuer) = make_ca("Example CA", None);
    let (leaf, _) = make_leaf(&["mail.other.example"], Some(&issuer), false);
    // The chain fits the server's TLSA records; only these names do not: a name mismatch,
    // which concerns this next-hop domain, not the server.
    let DaneMatch::NameMismatch(why) =
        match_chain(&[sha256_record(2, &ca)], &[leaf, ca], &[MX, DOMAIN], now())
    else {
        panic!("expected a name mismatch");
    };
    assert!(
        why.contains("names none of mx.example.net, example.net"),
        "{why}"
    );
}

#[test]
fn dane_ta_accepts_the_next_hop_domain() {
    let (ca, issuer) = make_ca("Example CA", None);
    let (leaf, _) = make_leaf(&[DOMAIN], Some(&issuer), false);
    let chain = [leaf, ca.clone()];
    assert_eq!(
        match_chain(&[sha256_record(2, &ca)], &chain, &[MX, DOMAIN], now()),
        DaneMatch::Matched { usage: 2, depth: 1 }
    );
    // Without the next-hop domain among the reference identifiers it fails, on the names.
    assert!(matches!(
        match_chain(&[sha256_record(2, &ca)], &chain, &[MX], now()),
        DaneMatch::NameMismatch(_)
    ));
}

#[test]
fn dane_ta_requires_the_anchor_in_the_chain_sent() {
    let (root, root_issuer) = make_ca("Example Root", None);
    let (inter, inter_issuer) = make_ca("Example Intermediate", Some(&root_issuer));
    let (leaf, _) = make_leaf(&[MX], Some(&inter_issuer), false);
    // The server omits the root that the TLSA record names.
    let why = mismatch_text(match_chain(
        &[sha256_record(2, &root)],
        &[leaf, inter],
        &[MX],
        now(),
    ));
    assert!(why.contains("matched no certificate in the chain"), "{why}");
}

#[test]
fn dane_ta_rejects_a_chain_not_signed_by_the_anchor() {
    let (_real_ca, real_issuer) = make_ca("Example CA", None);
    let (other_ca, _) = make_ca("Example CA", None); // same name, different key
    let (leaf, _) = make_leaf(&[MX], Some(&real_issuer), false);
    let why = mismatch_text(match_chain(
        &[sha256_record(2, &other_ca)],
        &[leaf, other_ca],
        &[MX],
        now(),
    ));
    assert!(why.contains("does not validate"), "{why}");

    // An unrelated self-signed leaf next to a CA that the record names.
    let (ca, _) = make_ca("Example CA", None);
    let (self_signed, _) = make_leaf(&[MX], None, false);
    assert!(matches!(
        match_chain(&[sha256_record(2, &ca)], &[self_signed, ca], &[MX], now()),
        DaneMatch::Mismatch(_)
    ));
}

#[test]
fn dane_ta_applies_validity_dates() {
    let (ca, issuer) = make_ca("Example CA", None);
    let (leaf, _) = make_leaf(&[MX], Some(&issuer), true);
    let why = mismatch_text(match_chain(
        &[sha256_record(2, &ca)],
        &[leaf.clone(), ca.clone()],
        &[MX],
        now(),
    ));
    assert!(why.contains("does not validate"), "{why}");
    // The same chain at a time when the leaf was valid.
    assert_eq!(
        match_chain(
            &[sha256_record(2, &ca)],
            &[leaf, ca],
            &[MX],
            at(1_590_000_000)
        ),
        DaneMatch::Matched { usage: 2, depth: 1 }
    );
}

#[test]
fn dane_ta_wildcards_cover_one_whole_left_most_label() {
    let (ca, issuer) = make_ca("Example CA", None);
    let (leaf, _) = make_leaf(&["*.example.net"], Some(&issuer), false);
    let chain = [leaf, ca.clone()];
    let records = [sha256_record(2, &ca)];
    assert_eq!(
        match_chain(&records, &chain, &[MX], now()),
        DaneMatch::Matched { usage: 2, depth: 1 }
    );
    for name in ["a.mx.example.net", "example.net"] {
        assert!(
            matches!(
                match_chain(&records, &chain, &[name], now()),
                DaneMatch::NameMismatch(_)
            ),
            "{name}"
        );
    }
}

#[test]
fn dane_ta_ignores_a_trailing_dot_and_case() {
    let (ca, issuer) = make_ca("Example CA", None);
    let (leaf, _) = make_leaf(&[MX], Some(&issuer), false);
    assert_eq!(
        match_chain(
            &[sha256_record(2, &ca)],
            &[leaf, ca],
            &["MX.Example.NET."],
            now()
        ),
        DaneMatch::Matched { usage: 2, depth: 1 }
    );
}

#[test]
fn dane_ta_on_the_leaf_needs_a_self_issued_leaf() {
    // A self-issued leaf is its own trust anchor; names and dates are still checked.
    let (leaf, _) = make_leaf(&[MX], None, false);
    let records = [sha256_record(2, &leaf)];
    assert_eq!(
        match_chain(&records, std::slice::from_ref(&leaf), &[MX], now()),
        DaneMatch::Matched { usage: 2, depth: 0 }
    );
    assert!(matches!(
        match_chain(&records, &[leaf], &[DOMAIN], now()),
        DaneMatch::NameMismatch(_)
    ));
    // A CA-issued leaf is not a trust anchor for itself: that record would be DANE-EE.
    let (ca, issuer) = make_ca("Example CA", None);
    let (leaf, _) = make_leaf(&[MX], Some(&issuer), false);
    let why = mismatch_text(match_chain(
        &[sha256_record(2, &leaf)],
        &[leaf, ca],
        &[MX],
        now(),
    ));
    assert!(why.contains("at depth 0"), "{why}");
}

// ---- DaneVerifier in real handshakes ------------------------------------------------------

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server that presents `chain` but signs the handshake with `key`, whether or not `key`
/// belongs to the leaf (rustls's own `with_single_cert` would refuse a mismatched pair).
#[derive(Debug)]
struct FixedCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for FixedCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// Runs a handshake over an in-memory pipe: the server presents `chain` and signs with `key`,
/// the client verifies with a [`DaneVerifier`] for `records`. Returns the client's outcome
/// after reading a line of data from the server.
async fn handshake(
    chain: Vec<CertificateDer<'static>>,
    key: &KeyPair,
    records: Vec<TlsaRecord>,
    version: &'static rustls::SupportedProtocolVersion,
) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let signing_key = provider()
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .unwrap();
    let server_config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(FixedCert(Arc::new(
            rustls::sign::CertifiedKey::new(chain, signing_key),
        ))));
    let client_config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(DaneVerifier::new(
            records,
            vec![MX.to_string(), DOMAIN.to_string()],
        ))
        .with_no_client_auth();

    let (client_io, server_io) = tokio::io::duplex(16 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));

    let server = tokio::spawn(async move {
        let mut tls = acceptor.accept(server_io).await.ok()?;
        tls.write_all(b"220 ready\r\n").await.ok()?;
        tls.flush().await.ok()?;
        Some(())
    });
    let client = async {
        let name = ServerName::try_from(MX).unwrap();
        let mut tls = connector
            .connect(name, client_io)
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 11];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        assert_eq!(&buf, b"220 ready\r\n");
        Ok(())
    };
    let result = tokio::time::timeout(Duration::from_secs(10), client)
        .await
        .expect("handshake timed out");
    let _ = server.await;
    result
}

#[tokio::test]
async fn verifier_accepts_a_matching_dane_ee_server() {
    let (leaf, key) = make_leaf(&["whatever.example"], None, true);
    let records = vec![spki_sha256_record(3, &leaf)];
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        handshake(vec![leaf.clone()], &key, records.clone(), version)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn verifier_accepts_a_matching_dane_ta_server() {
    let (ca, issuer) = make_ca("Example CA", None);
    let (leaf, key) = make_leaf(&[MX], Some(&issuer), false);
    let records = vec![sha256_record(2, &ca)];
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        handshake(
            vec![leaf.clone(), ca.clone()],
            &key,
            records.clone(),
            version,
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn verifier_rejects_a_mismatching_server() {
    let (leaf, key) = make_leaf(&[MX], None, false);
    let (other, _) = make_leaf(&[MX], None, false);
    let records = vec![spki_sha256_record(3, &other)];
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let err = handshake(vec![leaf.clone()], &key, records.clone(), version)
            .await
            .unwrap_err();
        assert!(err.contains("did not match the leaf certificate"), "{err}");
    }
}

#[tokio::test]
async fn verifier_without_usable_records_accepts_any_certificate() {
    let (leaf, key) = make_leaf(&["anything.example"], None, false);
    let records = vec![rec(1, 1, 1, vec![0; 32])];
    handshake(vec![leaf], &key, records, &rustls::version::TLS13)
        .await
        .unwrap();
}

#[tokio::test]
async fn verifier_checks_the_handshake_signature() {
    // The server presents the certificate the TLSA record names but does not hold its key.
    let (leaf, _leaf_key) = make_leaf(&[MX], None, false);
    let (_, impostor_key) = make_leaf(&[MX], None, false);
    let records = vec![spki_sha256_record(3, &leaf)];
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let err = handshake(vec![leaf.clone()], &impostor_key, records.clone(), version)
            .await
            .unwrap_err();
        assert!(err.contains("BadSignature"), "{err}");
    }
    // The same with no usable records: unauthenticated TLS still proves key possession.
    let err = handshake(
        vec![leaf],
        &impostor_key,
        vec![rec(0, 1, 1, vec![0; 32])],
        &rustls::version::TLS13,
    )
    .await
    .unwrap_err();
    assert!(err.contains("BadSignature"), "{err}");
}

#[tokio::test]
async fn verifier_rejects_a_dane_ta_server_with_a_foreign_chain() {
    let (ca, _) = make_ca("Example CA", None);
    let (_, other_issuer) = make_ca("Example CA", None);
    let (leaf, key) = make_leaf(&[MX], Some(&other_issuer), false);
    let err = handshake(
        vec![leaf, ca.clone()],
        &key,
        vec![sha256_record(2, &ca)],
        &rustls::version::TLS13,
    )
    .await
    .unwrap_err();
    assert!(err.contains("does not validate"), "{err}");
}

#[tokio::test]
async fn verifier_refuses_a_chain_beyond_the_limit_before_matching_it() {
    // The leaf matches its DANE-EE record, but the server sends it with more certificates than
    // any real chain has: refused on length alone, as the probe's verifier does.
    let (ca, _) = make_ca("Padding CA", None);
    let (leaf, key) = make_leaf(&[MX], None, true);
    let records = vec![spki_sha256_record(3, &leaf)];
    let mut chain = vec![leaf];
    chain.extend(std::iter::repeat_n(ca, crate::tls::MAX_CHAIN));
    let err = handshake(chain, &key, records, &rustls::version::TLS13)
        .await
        .unwrap_err();
    assert!(err.contains("ChainTooLong(17)"), "{err}");
}
