//! DNSSEC trust anchors from a file in zone-file form: DNSKEY records (RFC 4034 §2), used as
//! they are, or DS records (RFC 4034 §5), the form IANA publishes the root anchor in.
//!
//! hickory's own reader accepts DNSKEY records only. A DS anchor names a key by its digest, so
//! the key itself must be fetched: the DNSKEY RRset of the anchor's owner is queried once
//! without validation, and only the keys whose digest equals a DS record are trusted
//! (RFC 4035 §5: a DS record authenticates the DNSKEY it digests). The validating resolver then
//! checks the DNSKEY RRset's signatures with those keys, as for any other anchor.

use std::path::Path;
use std::time::Duration;

use hickory_proto::dnssec::TrustAnchors;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS};
use hickory_proto::rr::{LowerName, Name, RData, RecordType};
use hickory_proto::serialize::txt::Parser;
use hickory_resolver::Resolver;
use hickory_resolver::config::ResolverConfig;
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use super::DnsError;

/// What an anchor file holds.
#[derive(Clone)]
pub(crate) struct AnchorFile {
    /// Keys given as DNSKEY records, trusted as they are.
    pub keys: TrustAnchors,
    /// DS records whose keys must still be fetched.
    pub digests: Vec<(Name, DS)>,
}

impl std::fmt::Debug for AnchorFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnchorFile")
            .field("keys", &self.keys.len())
            .field("digests", &self.digests.len())
            .finish()
    }
}

/// Reads DNSKEY and DS records from `path`; other record types are an error.
pub(crate) fn read(path: &Path) -> Result<AnchorFile, DnsError> {
    let bad = |why: String| {
        DnsError::Permanent(format!(
            "reading the trust anchor {}: {why}",
            path.display()
        ))
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    parse(&text).map_err(bad)
}

/// Parses the text of an anchor file. hickory reads DNSKEY records only with its trust-anchor
/// reader (its zone parser refuses them), and DS records only with its zone parser, so each
/// record (parentheses may continue it over several lines) goes to the reader for its type.
pub(crate) fn parse(text: &str) -> Result<AnchorFile, String> {
    let (mut dnskeys, mut ds) = (String::new(), String::new());
    let mut record = String::new();
    let mut depth = 0i32;
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or("");
        depth += line.matches('(').count() as i32 - line.matches(')').count() as i32;
        record.push_str(line);
        record.push(' ');
        if depth > 0 {
            continue;
        }
        let tokens: Vec<&str> = record.split_whitespace().collect();
        if tokens.iter().any(|t| t.eq_ignore_ascii_case("DNSKEY")) {
            dnskeys.push_str(&record.replace(['(', ')'], " "));
            dnskeys.push('\n');
        } else if tokens.iter().any(|t| t.eq_ignore_ascii_case("DS")) {
            ds.push_str(&record);
            ds.push('\n');
        } else if !tokens.is_empty() {
            return Err(format!(
                "{:?} is neither a DNSKEY nor a DS record",
                tokens.join(" ")
            ));
        }
        record.clear();
    }
    let keys = if dnskeys.is_empty() {
        TrustAnchors::empty()
    } else {
        dnskeys.parse::<TrustAnchors>().map_err(|e| e.to_string())?
    };
    let mut digests = Vec::new();
    if !ds.is_empty() {
        let (_, sets) = Parser::new(format!("$TTL 3600\n{ds}"), None, Some(Name::root()))
            .parse()
            .map_err(|e| e.to_string())?;
        for record in sets.values().flat_map(|s| s.records_without_rrsigs()) {
            if let RData::DNSSEC(DNSSECRData::DS(d)) = &record.data {
                digests.push((record.name.clone(), d.clone()));
            }
        }
    }
    if keys.is_empty() && digests.is_empty() {
        return Err("no DNSKEY or DS records".into());
    }
    Ok(AnchorFile { keys, digests })
}

fn add(anchors: &mut TrustAnchors, name: &Name, key: &DNSKEY) {
    anchors.insert_with_name(key.public_key(), LowerName::from(name));
}

/// The anchors given as DNSKEY records (all of them when the file has no DS records).
pub(crate) fn key_anchors(file: &AnchorFile) -> TrustAnchors {
    file.keys.clone()
}

/// The anchors of `file`, fetching the keys its DS records name through `config`'s servers.
pub(crate) async fn resolve(
    file: &AnchorFile,
    config: &ResolverConfig,
    timeout: Duration,
) -> Result<TrustAnchors, DnsError> {
    let mut anchors = key_anchors(file);
    let mut owners: Vec<&Name> = file.digests.iter().map(|(n, _)| n).collect();
    owners.dedup();
    if owners.is_empty() {
        return Ok(anchors);
    }
    let mut builder =
        Resolver::builder_with_config(config.clone(), TokioRuntimeProvider::default());
    builder.options_mut().validate = false;
    builder.options_mut().timeout = (timeout / 2).max(Duration::from_millis(50));
    let resolver = builder
        .build()
        .map_err(|e| DnsError::Permanent(format!("building the anchor resolver: {e}")))?;
    for owner in owners {
        let lookup =
            tokio::time::timeout(timeout, resolver.lookup(owner.clone(), RecordType::DNSKEY))
                .await
                .map_err(|_| {
                    DnsError::Temporary(format!(
                        "DNSKEY {owner} for the DS trust anchor: no answer within {timeout:?}"
                    ))
                })?
                .map_err(|e| {
                    DnsError::Temporary(format!("DNSKEY {owner} for the DS trust anchor: {e}"))
                })?;
        let mut matched = 0;
        for record in lookup.answers() {
            let RData::DNSSEC(DNSSECRData::DNSKEY(key)) = &record.data else {
                continue;
            };
            let covered = file
                .digests
                .iter()
                .filter(|(n, _)| n == owner)
                .any(|(_, ds)| ds.covers(owner, key).unwrap_or(false));
            if covered {
                add(&mut anchors, owner, key);
                matched += 1;
            }
        }
        if matched == 0 {
            return Err(DnsError::Bogus(format!(
                "no DNSKEY of {owner} matches the DS trust anchor"
            )));
        }
    }
    Ok(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ds_and_dnskey_lines_are_read_and_others_refused() {
        let f = parse(
            ". 3600 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
        )
        .unwrap();
        assert_eq!(f.digests.len(), 1);
        assert_eq!(f.digests[0].1.key_tag(), 20326);
        assert!(f.keys.is_empty());
        let err = parse(". 3600 IN A 192.0.2.1\n").unwrap_err();
        assert!(err.contains("neither a DNSKEY nor a DS"), "{err}");
        assert!(parse("; only a comment\n").is_err());
    }
}
