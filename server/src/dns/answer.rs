//! Turning what hickory-resolver 0.26 returns into three-way answers: records, "no such
//! record" (NODATA) or "no such name" (NXDOMAIN), each with its DNSSEC status (RFC 4035 §4.3,
//! RFC 4033 §5), or an error that says whether to retry.
//!
//! How hickory reports things with validation on (read from its source, 0.26.3):
//! - Positive answers come back as `Ok(Lookup)`; each record carries a `proof`.
//! - A validated negative answer comes back as `Err(NetError::Dns(DnsError::NoRecordsFound))`
//!   whose SOA and authority records carry the proof (Secure for a signed zone, Insecure for
//!   an unsigned one), with `response_code` telling NXDOMAIN from NODATA.
//! - A negative answer whose NSEC proof is Insecure or Indeterminate comes back as
//!   `Err(NetError::Dns(DnsError::Nsec { proof, .. }))`.
//! - Anything Bogus (positive or negative) comes back as `Err(DnsError::DnssecBogus)`.

use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError, NoRecords};
use hickory_resolver::proto::dnssec::Proof;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use sendguard_common::DnssecStatus;

use super::DnsError;

/// What one query (one name, one type) found.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The answer section (CNAMEs included); its status covers every non-RRSIG record in it.
    Records(Vec<Record>, DnssecStatus),
    /// The name exists but has no records of the type (NODATA).
    NoData(DnssecStatus),
    /// The name does not exist (NXDOMAIN).
    NxDomain(DnssecStatus),
}

impl Outcome {
    /// The DNSSEC status of whatever was found.
    pub(crate) fn status(&self) -> DnssecStatus {
        match self {
            Outcome::Records(_, status) | Outcome::NoData(status) | Outcome::NxDomain(status) => {
                *status
            }
        }
    }

    /// The answer records, empty for a negative answer.
    pub(crate) fn records(&self) -> &[Record] {
        match self {
            Outcome::Records(records, _) => records,
            Outcome::NoData(_) | Outcome::NxDomain(_) => &[],
        }
    }
}

/// Classify the result of one hickory lookup. `what` names the query for error messages.
pub(crate) fn classify(result: Result<Lookup, NetError>, what: &str) -> Result<Outcome, DnsError> {
    match result {
        Ok(lookup) => {
            let status = fold(lookup.answers().iter().map(|r| (r.record_type(), r.proof)));
            if status == DnssecStatus::Bogus {
                return Err(bogus(what));
            }
            if lookup.answers().is_empty() {
                // hickory turns empty answers into NoRecordsFound; be safe anyway.
                return Ok(Outcome::NoData(DnssecStatus::Indeterminate));
            }
            Ok(Outcome::Records(lookup.answers().to_vec(), status))
        }
        Err(NetError::Dns(HickoryDnsError::NoRecordsFound(no_records))) => {
            let status = negative_status(&no_records);
            if status == DnssecStatus::Bogus {
                return Err(bogus(what));
            }
            match no_records.response_code {
                ResponseCode::NXDomain => Ok(Outcome::NxDomain(status)),
                ResponseCode::NoError => Ok(Outcome::NoData(status)),
                code => Err(DnsError::Temporary(format!(
                    "{what}: server answered {code}"
                ))),
            }
        }
        Err(NetError::Dns(HickoryDnsError::Nsec {
            response, proof, ..
        })) => {
            let status = from_proof(proof);
            if status == DnssecStatus::Bogus {
                return Err(bogus(what));
            }
            match response.response_code {
                ResponseCode::NXDomain => Ok(Outcome::NxDomain(status)),
                _ => Ok(Outcome::NoData(status)),
            }
        }
        Err(NetError::Dns(HickoryDnsError::DnssecBogus)) => Err(bogus(what)),
        Err(NetError::Dns(HickoryDnsError::ResponseCode(code))) => Err(DnsError::Temporary(
            format!("{what}: server answered {code}"),
        )),
        Err(NetError::Timeout) => Err(DnsError::Temporary(format!("{what}: timed out"))),
        Err(err) => Err(DnsError::Temporary(format!("{what}: {err}"))),
    }
}

/// Checks the CNAME chain a positive answer for `name`/`rtype` holds (RFC 1034 §3.6.2,
/// RFC 2181 §10.1): a loop, a chain of more than `max_links` links, or a chain that ends
/// without a record of the type (the resolver gave up following it) is a temporary failure
/// that says so, never "no such record". Only answers hickory built by following CNAMEs are
/// affected; a query for CNAME itself is taken as it is.
pub(crate) fn check_cname_chain(
    name: &Name,
    rtype: RecordType,
    outcome: &Outcome,
    max_links: usize,
    what: &str,
) -> Result<(), DnsError> {
    let records = outcome.records();
    if rtype == RecordType::CNAME || records.is_empty() {
        return Ok(());
    }
    let mut current = name.to_lowercase();
    let mut seen = vec![current.clone()];
    loop {
        let here = |r: &&Record| r.name.to_lowercase() == current;
        if records
            .iter()
            .filter(here)
            .any(|r| r.record_type() == rtype)
        {
            return Ok(());
        }
        let Some(target) = records.iter().filter(here).find_map(|r| match &r.data {
            RData::CNAME(cname) => Some(cname.0.to_lowercase()),
            _ => None,
        }) else {
            break;
        };
        if seen.contains(&target) {
            return Err(DnsError::Temporary(format!(
                "{what}: the CNAME chain loops back to {}",
                super::name::display(&target)
            )));
        }
        if seen.len() > max_links {
            return Err(DnsError::Temporary(format!(
                "{what}: the CNAME chain is longer than {max_links} links"
            )));
        }
        seen.push(target.clone());
        current = target;
    }
    match seen.len() - 1 {
        0 => Ok(()),
        links => Err(DnsError::Temporary(format!(
            "{what}: the CNAME chain ends after {links} links without an answer"
        ))),
    }
}

/// Whether hickory may have stopped inside a CNAME chain: at its depth limit it reports "no
/// records" for the name it had reached, with no SOA and so no proof, unlike a real negative
/// answer, which carries the SOA of its zone (RFC 2308 §3).
pub(crate) fn chain_cut_short(result: &Result<Lookup, NetError>) -> bool {
    matches!(
        result,
        Err(NetError::Dns(HickoryDnsError::NoRecordsFound(NoRecords {
            soa: None,
            ..
        })))
    )
}

/// Whether the resolver answered SERVFAIL, which a validating resolver does for bogus data and
/// for outages alike (see [`super::recheck`]).
pub(crate) fn is_servfail(result: &Result<Lookup, NetError>) -> bool {
    matches!(
        result,
        Err(NetError::Dns(
            HickoryDnsError::ResponseCode(ResponseCode::ServFail)
                | HickoryDnsError::NoRecordsFound(NoRecords {
                    response_code: ResponseCode::ServFail,
                    ..
                })
        ))
    )
}

pub(crate) fn bogus(what: &str) -> DnsError {
    DnsError::Bogus(format!("{what}: DNSSEC validation failed"))
}

/// The status of a negative answer: the proofs of its SOA and NSEC/NSEC3 records.
fn negative_status(no_records: &NoRecords) -> DnssecStatus {
    let mut proofs: Vec<(RecordType, Proof)> = Vec::new();
    if let Some(soa) = &no_records.soa {
        proofs.push((RecordType::SOA, soa.proof));
    }
    if let Some(authorities) = &no_records.authorities {
        proofs.extend(
            authorities
                .iter()
                .filter(|r| matches!(r.record_type(), RecordType::NSEC | RecordType::NSEC3))
                .map(|r| (r.record_type(), r.proof)),
        );
    }
    fold(proofs.into_iter())
}

/// Fold the proofs of a set of records: Bogus if any is Bogus, Secure only if all are Secure
/// (and there is at least one), Indeterminate if any is, otherwise Insecure. RRSIGs carry no
/// proof of their own and are skipped.
pub(crate) fn fold(proofs: impl Iterator<Item = (RecordType, Proof)>) -> DnssecStatus {
    let mut any = false;
    let mut all_secure = true;
    let mut indeterminate = false;
    for (rtype, proof) in proofs {
        if rtype == RecordType::RRSIG {
            continue;
        }
        any = true;
        match from_proof(proof) {
            DnssecStatus::Bogus => return DnssecStatus::Bogus,
            DnssecStatus::Secure => {}
            DnssecStatus::Indeterminate => {
                all_secure = false;
                indeterminate = true;
            }
            DnssecStatus::Insecure => all_secure = false,
        }
    }
    if !any {
        DnssecStatus::Indeterminate
    } else if all_secure {
        DnssecStatus::Secure
    } else if indeterminate {
        DnssecStatus::Indeterminate
    } else {
        DnssecStatus::Insecure
    }
}

/// The weaker of two statuses (Bogus < Indeterminate < Insecure < Secure), for answers that
/// combine several queries.
pub(crate) fn weakest(a: DnssecStatus, b: DnssecStatus) -> DnssecStatus {
    fn rank(s: DnssecStatus) -> u8 {
        match s {
            DnssecStatus::Bogus => 0,
            DnssecStatus::Indeterminate => 1,
            DnssecStatus::Insecure => 2,
            DnssecStatus::Secure => 3,
        }
    }
    if rank(a) <= rank(b) { a } else { b }
}

fn from_proof(proof: Proof) -> DnssecStatus {
    match proof {
        Proof::Secure => DnssecStatus::Secure,
        Proof::Insecure => DnssecStatus::Insecure,
        Proof::Bogus => DnssecStatus::Bogus,
        Proof::Indeterminate => DnssecStatus::Indeterminate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_needs_every_record_secure() {
        use RecordType::{A, RRSIG};
        let s = |v: &[(RecordType, Proof)]| fold(v.iter().copied());
        assert_eq!(
            s(&[(A, Proof::Secure), (RRSIG, Proof::Indeterminate)]),
            DnssecStatus::Secure
        );
        assert_eq!(
            s(&[(A, Proof::Secure), (A, Proof::Insecure)]),
            DnssecStatus::Insecure
        );
        assert_eq!(
            s(&[(A, Proof::Secure), (A, Proof::Bogus)]),
            DnssecStatus::Bogus
        );
        assert_eq!(s(&[(A, Proof::Indeterminate)]), DnssecStatus::Indeterminate);
        assert_eq!(s(&[]), DnssecStatus::Indeterminate);
    }

    #[test]
    fn cname_chains_in_an_answer_are_bounded() {
        use hickory_resolver::proto::rr::rdata::{A, CNAME};
        let n = |s: &str| Name::from_ascii(s).unwrap();
        let cname =
            |from: &str, to: &str| Record::from_rdata(n(from), 300, RData::CNAME(CNAME(n(to))));
        let a = |at: &str| Record::from_rdata(n(at), 300, RData::A(A::new(192, 0, 2, 1)));
        let check = |records: Vec<Record>| {
            let outcome = Outcome::Records(records, DnssecStatus::Secure);
            check_cname_chain(&n("x.test."), RecordType::A, &outcome, 2, "A lookup")
        };
        assert!(check(vec![a("x.test.")]).is_ok());
        assert!(check(vec![cname("x.test.", "y.test."), a("y.test.")]).is_ok());
        let looped = check(vec![
            cname("x.test.", "y.test."),
            cname("y.test.", "x.test."),
        ]);
        assert_eq!(
            looped,
            Err(DnsError::Temporary(
                "A lookup: the CNAME chain loops back to x.test".into()
            ))
        );
        let long = check(vec![
            cname("x.test.", "y.test."),
            cname("y.test.", "z.test."),
            cname("z.test.", "w.test."),
            a("w.test."),
        ]);
        assert!(matches!(long, Err(DnsError::Temporary(d)) if d.contains("longer than 2 links")));
        let unfinished = check(vec![cname("x.test.", "y.test.")]);
        assert!(
            matches!(unfinished, Err(DnsError::Temporary(d)) if d.contains("ends after 1 links"))
        );
    }

    #[test]
    fn weakest_prefers_the_worse_status() {
        assert_eq!(
            weakest(DnssecStatus::Secure, DnssecStatus::Insecure),
            DnssecStatus::Insecure
        );
        assert_eq!(
            weakest(DnssecStatus::Indeterminate, DnssecStatus::Insecure),
            DnssecStatus::Indeterminate
        );
        assert_eq!(
            weakest(DnssecStatus::Secure, DnssecStatus::Secure),
            DnssecStatus::Secure
        );
    }
}
