//! Where a domain wants its reports: the TXT record at `_smtp._tls.<domain>` (RFC 8460 §3),
//! looked up through our validating resolver ([`crate::dns::Dns::txt`]).
//!
//! The record, strictly by the ABNF of §3:
//! `v=TLSRPTv1` first (case as written), then fields separated by `;` with optional white space
//! around it, an optional `;` at the end. Exactly one `rua=` field: one or more URIs separated by
//! `,` (white space allowed around it). Other fields are extensions (`name=value`, the name of
//! letters, digits, `_`, `-`, `.`, at most 32 characters; the value printable ASCII without
//! `;`, `=` or space) and are ignored; anything else makes the record invalid.
//!
//! Records that do not start with `v=TLSRPTv1;` are discarded; unless exactly one is left, the
//! domain gets no report (§3). Of the URIs, `mailto:` (one address, percent-decoded, checked
//! by the shared address parser) and `https:` (a host, no user information) are what §5
//! defines; any other scheme, or more than [`MAX_RUA`] URIs, makes the record invalid: we only
//! send where we understood exactly what was asked, and a hostile record cannot make us send to
//! a long list of third parties.

use hyper::Uri;
use sendguard_common::address::Address;

use crate::dns::{Dns, DnsError};

/// At most this many report URIs per record.
pub const MAX_RUA: usize = 5;
/// The longest record we read, in octets.
pub const MAX_RECORD: usize = 2048;

/// One place to send reports to (RFC 8460 §3 `rua`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReportUri {
    /// `mailto:`: report mail to this address (its domain in A-label form for the queue).
    Mailto {
        /// The address, as decoded.
        address: String,
        /// Its domain, A-label.
        domain: String,
    },
    /// `https:`: a POST to this URL.
    Https(Uri),
}

impl ReportUri {
    /// The URI as the store remembers it (which report went where).
    pub fn key(&self) -> String {
        match self {
            ReportUri::Mailto { address, .. } => format!("mailto:{address}"),
            ReportUri::Https(uri) => uri.to_string(),
        }
    }
}

/// A domain's TLS reporting policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsRptRecord {
    /// Where to send, in the order given.
    pub rua: Vec<ReportUri>,
}

/// Why a record (or the set of records) is not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// More than one record starts with `v=TLSRPTv1` (§3: then none is used).
    #[error("{0} TLSRPT records; exactly one is needed")]
    Several(usize),
    /// The record breaks the syntax.
    #[error("invalid TLSRPT record: {0}")]
    Syntax(String),
}

/// Why discovery failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The lookup failed (temporary or bogus: try again later) or the name is unusable.
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// The published records are unusable: no report for this domain.
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl DiscoverError {
    /// Whether a later attempt may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, DiscoverError::Dns(e) if e.is_temporary())
    }
}

/// The reporting policy of `domain` (A-label): `None` when it publishes none.
pub async fn discover(dns: &Dns, domain: &str) -> Result<Option<TlsRptRecord>, DiscoverError> {
    let answer = dns.txt(&format!("_smtp._tls.{domain}")).await?;
    Ok(select(&answer.records)?)
}

/// The one usable record among `records` (§3): those starting with `v=TLSRPTv1;` (or that are
/// exactly `v=TLSRPTv1`) are kept; none is no policy, several is an error.
pub fn select(records: &[Vec<u8>]) -> Result<Option<TlsRptRecord>, RecordError> {
    let ours: Vec<&Vec<u8>> = records
        .iter()
        .filter(|r| r.starts_with(b"v=TLSRPTv1;") || r.starts_with(b"v=TLSRPTv1 "))
        .collect();
    match ours.as_slice() {
        [] => Ok(None),
        [one] => parse(one).map(Some),
        several => Err(RecordError::Several(several.len())),
    }
}

/// Parses one record strictly (see the module).
pub fn parse(record: &[u8]) -> Result<TlsRptRecord, RecordError> {
    let bad = |why: &str| RecordError::Syntax(why.to_string());
    if record.len() > MAX_RECORD {
        return Err(bad("longer than 2048 octets"));
    }
    let text = std::str::from_utf8(record).map_err(|_| bad("not ASCII"))?;
    if !text
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Err(bad("a character that is not printable ASCII"));
    }
    let mut fields = text.split(';');
    // White space may follow the version (before the `;`), never precede it.
    if fields.next().map(|v| v.trim_end_matches([' ', '\t'])) != Some("v=TLSRPTv1") {
        return Err(bad("it does not start with v=TLSRPTv1"));
    }
    let fields: Vec<&str> = fields.map(|f| f.trim_matches([' ', '\t'])).collect();
    let mut rua = None;
    for (i, field) in fields.iter().enumerate() {
        if field.is_empty() {
            // Only the delimiter after the last field may stand alone.
            if i + 1 == fields.len() && i > 0 {
                continue;
            }
            return Err(bad("an empty field"));
        }
        let (name, value) = field
            .split_once('=')
            .ok_or_else(|| bad(&format!("{field:?} is not name=value")))?;
        if name == "rua" {
            if rua.is_some() {
                return Err(bad("rua= given twice"));
            }
            rua = Some(uris(value)?);
        } else {
            extension(name, value)?;
        }
    }
    let rua = rua.ok_or_else(|| bad("no rua= field"))?;
    Ok(TlsRptRecord { rua })
}

/// An extension field (§3 `tlsrpt-extension`), checked and ignored.
fn extension(name: &str, value: &str) -> Result<(), RecordError> {
    let name_ok = name.len() <= 32
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    let value_ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b';' && b != b'=');
    if name_ok && value_ok {
        Ok(())
    } else {
        Err(RecordError::Syntax(format!(
            "{name:?}={value:?} is neither rua= nor a valid extension"
        )))
    }
}

/// The URIs of a `rua=` value.
fn uris(value: &str) -> Result<Vec<ReportUri>, RecordError> {
    let list: Vec<&str> = value
        .split(',')
        .map(|u| u.trim_matches([' ', '\t']))
        .collect();
    if list.len() > MAX_RUA {
        return Err(RecordError::Syntax(format!(
            "{} report URIs; at most {MAX_RUA} are used",
            list.len()
        )));
    }
    list.into_iter().map(uri).collect()
}

/// One report URI.
fn uri(text: &str) -> Result<ReportUri, RecordError> {
    let bad = |why: String| RecordError::Syntax(format!("report URI {text:?}: {why}"));
    if text.is_empty() {
        return Err(bad("empty".into()));
    }
    if text.bytes().any(|b| b == b' ' || b == b'\t' || b == b'!') {
        return Err(bad("white space or an unencoded `!`".into()));
    }
    let (scheme, rest) = text
        .split_once(':')
        .ok_or_else(|| bad("no scheme".into()))?;
    match scheme.to_ascii_lowercase().as_str() {
        "mailto" => {
            if rest.contains('?') {
                return Err(bad("header fields in a mailto: URI are not used".into()));
            }
            let decoded = percent_decode(rest).ok_or_else(|| bad("bad %-encoding".into()))?;
            let address = Address::parse(&decoded).map_err(|e| bad(e.to_string()))?;
            let domain = crate::dns::to_a_label(address.domain().as_str())
                .map_err(|e| bad(e.to_string()))?;
            Ok(ReportUri::Mailto {
                address: address.to_string(),
                domain,
            })
        }
        "https" => {
            let uri: Uri = text.parse().map_err(|e| bad(format!("{e}")))?;
            let authority = uri.authority().ok_or_else(|| bad("no host".into()))?;
            if authority.as_str().contains('@') {
                return Err(bad("user information is not allowed".into()));
            }
            if authority.host().is_empty() {
                return Err(bad("no host".into()));
            }
            Ok(ReportUri::Https(uri))
        }
        other => Err(bad(format!(
            "the scheme {other:?} is not mailto: or https:"
        ))),
    }
}

/// `%XX` decoded; `None` for a broken escape or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rua(record: &str) -> Vec<String> {
        parse(record.as_bytes())
            .unwrap_or_else(|e| panic!("{record:?}: {e}"))
            .rua
            .iter()
            .map(ReportUri::key)
            .collect()
    }

    #[test]
    fn the_forms_of_rfc_8460_parse() {
        assert_eq!(
            rua("v=TLSRPTv1; rua=mailto:reports@example.com"),
            ["mailto:reports@example.com"]
        );
        assert_eq!(
            rua("v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt"),
            ["https://reporting.example.com/v1/tlsrpt"]
        );
        assert_eq!(
            rua("v=TLSRPTv1 ; rua=mailto:a@example.com , https://r.example.com:8443/x ;"),
            ["mailto:a@example.com", "https://r.example.com:8443/x"]
        );
        // Extensions are ignored, before or after rua.
        assert_eq!(
            rua("v=TLSRPTv1; ext.1=value; rua=mailto:a@example.com; x_y=z"),
            ["mailto:a@example.com"]
        );
        // A percent-encoded address.
        assert_eq!(
            rua("v=TLSRPTv1; rua=mailto:tls%2Drpt@example.com"),
            ["mailto:tls-rpt@example.com"]
        );
    }

    #[test]
    fn hostile_and_broken_records_are_refused() {
        let long = format!(
            "v=TLSRPTv1; rua=mailto:a@example.com; x={}",
            "y".repeat(3000)
        );
        let many = format!(
            "v=TLSRPTv1; rua={}",
            ["mailto:a@example.com"; MAX_RUA + 1].join(",")
        );
        let bad = [
            "v=TLSRPTv1",
            "v=TLSRPTv1;",
            "v=TLSRPTv2; rua=mailto:a@example.com",
            "v=tlsrptv1; rua=mailto:a@example.com",
            " v=TLSRPTv1; rua=mailto:a@example.com",
            "v=TLSRPTv1; rua=",
            "v=TLSRPTv1; rua=mailto:",
            "v=TLSRPTv1; rua=mailto:a@example.com;; x=y",
            "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",
            "v=TLSRPTv1; rua=http://insecure.example.com/",
            "v=TLSRPTv1; rua=ftp://example.com/",
            "v=TLSRPTv1; rua=javascript:alert(1)",
            "v=TLSRPTv1; rua=mailto:a@example.com?subject=hi",
            "v=TLSRPTv1; rua=mailto:a@example.com%2Cb@example.com",
            "v=TLSRPTv1; rua=mailto:a@example.com!10m",
            "v=TLSRPTv1; rua=mailto:%zz@example.com",
            "v=TLSRPTv1; rua=mailto:a@ex ample.com",
            "v=TLSRPTv1; rua=https://user:pw@example.com/",
            "v=TLSRPTv1; rua=https:///nohost",
            "v=TLSRPTv1; rua=mailto:a@example.com,",
            "v=TLSRPTv1; rua=mailto:a@example.com; noequals",
            "v=TLSRPTv1; rua=mailto:a@example.com; -x=y",
            "v=TLSRPTv1; rua=mailto:a@example.com; x=a=b",
            "v=TLSRPTv1; rua=mailto:a@example.com\r\nrua=mailto:b@example.com",
            "v=TLSRPTv1; rua=mailto:a@example.com\0",
            &long,
            &many,
        ];
        for record in bad {
            assert!(parse(record.as_bytes()).is_err(), "{record:?} was accepted");
        }
        assert!(parse(b"v=TLSRPTv1; rua=mailto:a@\xff.example").is_err());
    }

    #[test]
    fn exactly_one_record_of_ours_is_used() {
        let ours = b"v=TLSRPTv1; rua=mailto:a@example.com".to_vec();
        let other = b"v=spf1 -all".to_vec();
        assert_eq!(select(&[]), Ok(None));
        assert_eq!(select(std::slice::from_ref(&other)), Ok(None));
        assert_eq!(
            select(&[other.clone(), ours.clone()])
                .unwrap()
                .unwrap()
                .rua
                .len(),
            1
        );
        assert_eq!(
            select(&[ours.clone(), ours.clone()]),
            Err(RecordError::Several(2))
        );
        // A record of ours that is broken is an error, not "no policy".
        assert!(select(&[b"v=TLSRPTv1; rua=gopher://x".to_vec()]).is_err());
    }
}
