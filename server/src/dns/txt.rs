//! TXT lookups (RFC 1035 §3.3.14), for the policy records that live in TXT: TLS reporting's
//! `_smtp._tls.<domain>` (RFC 8460 §3) and MTA-STS's `_mta-sts.<domain>` (RFC 8461 §3.1). A record's character-strings are joined without
//! separator, as RFC 8460 §3 (and RFC 7208 §3.3 before it) prescribes; each record is returned
//! as raw octets, since nothing guarantees UTF-8 and the callers parse strictly.

use hickory_resolver::proto::rr::{RData, RecordType};
use sendguard_common::DnssecStatus;

use super::answer::Outcome;
use super::{Dns, DnsError, name};

/// Most TXT records of one name that are returned; more are cut off (a policy name with more
/// records than that is broken anyway).
pub const MAX_TXT_RECORDS: usize = 32;

/// The TXT records at a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxtAnswer {
    /// DNSSEC status of the answer (or of the denial).
    pub dnssec: DnssecStatus,
    /// Each record's character-strings joined; empty when the name has none or does not exist.
    pub records: Vec<Vec<u8>>,
}

impl Dns {
    /// The TXT records at `owner` (an A-label name; underscore labels such as `_smtp._tls`
    /// are fine). No such name and no TXT records both give an empty list.
    pub async fn txt(&self, owner: &str) -> Result<TxtAnswer, DnsError> {
        let name = name::fqdn(owner)?;
        let what = format!("TXT lookup for {owner}");
        self.bounded(&what, async {
            let outcome = self.query(&name, RecordType::TXT, &what).await?;
            let records = match &outcome {
                Outcome::Records(records, _) => records
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::TXT(txt) => Some(txt.txt_data.concat()),
                        _ => None,
                    })
                    .take(MAX_TXT_RECORDS)
                    .collect(),
                Outcome::NoData(_) | Outcome::NxDomain(_) => Vec::new(),
            };
            Ok(TxtAnswer {
                dnssec: outcome.status(),
                records,
            })
        })
        .await
    }
}
