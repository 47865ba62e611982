//! Following CNAME chains (RFC 1034 §3.6.2, RFC 2181 §10.1) where hickory 0.26 does not get
//! them right, one DNSSEC-validated link at a time: when hickory gives up at its depth limit
//! (a loop, or a long chain) and when it judges a NODATA reached through a CNAME bogus. A
//! chain is followed for at most [`MAX_CNAME_LINKS`] links; a loop or a longer chain is a
//! temporary failure that says so, never "no such record" and never "bogus".

use hickory_resolver::proto::rr::{Name, RData, RecordType};
use sendguard_common::DnssecStatus;

use super::answer::{Outcome, weakest};
use super::{Dns, DnsError, MAX_CNAME_LINKS, name};

impl Dns {
    /// hickory may have given up inside a CNAME chain (its depth limit): follow it here, one
    /// validated link at a time, to say why. A loop or a chain of more than
    /// [`MAX_CNAME_LINKS`] links is a temporary failure that says so; a chain that does end
    /// (or no chain at all) is answered at its end.
    pub(super) async fn follow_chain(
        &self,
        name: &Name,
        rtype: RecordType,
        what: &str,
    ) -> Result<Outcome, DnsError> {
        let mut chain = Vec::new();
        let mut status = DnssecStatus::Secure;
        let mut seen = vec![name.to_lowercase()];
        let mut current = name.clone();
        loop {
            let link = self.ask_once(&current, RecordType::CNAME, what).await?;
            let Some(target) = cname_target(&current, link.records()) else {
                break;
            };
            status = weakest(status, link.status());
            chain.extend(link.records().iter().cloned());
            if seen.contains(&target.to_lowercase()) {
                return Err(DnsError::Temporary(format!(
                    "{what}: the CNAME chain loops back to {}",
                    name::display(&target)
                )));
            }
            if seen.len() > MAX_CNAME_LINKS {
                return Err(DnsError::Temporary(format!(
                    "{what}: the CNAME chain is longer than {MAX_CNAME_LINKS} links"
                )));
            }
            seen.push(target.to_lowercase());
            current = target;
        }
        Ok(match self.ask_once(&current, rtype, what).await? {
            Outcome::Records(records, s) => {
                chain.extend(records);
                Outcome::Records(chain, weakest(status, s))
            }
            Outcome::NoData(s) => Outcome::NoData(weakest(status, s)),
            Outcome::NxDomain(s) => Outcome::NxDomain(weakest(status, s)),
        })
    }

    /// hickory 0.26 checks the NSEC proof of a NODATA answer against the query name, not
    /// against the end of the CNAME chain the answer holds (RFC 4035 §3.1.4.1 and §5.4 put
    /// the denial at the chain's end). A recursive resolver follows the chain itself, so the
    /// AAAA answer for an alias of an IPv4-only host comes back as CNAME + NSEC of the target
    /// and hickory calls it bogus. So an answer judged bogus is checked again one link at a
    /// time, each validated on its own: `name CNAME target`, then the question at `target`.
    /// Without a CNAME at `name` (or with a bogus one) the verdict `detail` stands; a
    /// temporary failure on the way is reported as such, never as bogus.
    pub(super) async fn walk_cname(
        &self,
        name: &Name,
        rtype: RecordType,
        what: &str,
        detail: String,
    ) -> Result<Outcome, DnsError> {
        let mut chain = Vec::new();
        let mut status = DnssecStatus::Secure;
        let mut current = name.clone();
        for _ in 0..MAX_CNAME_LINKS {
            let link = match self.ask(&current, RecordType::CNAME, what).await {
                Ok(link) => link,
                Err(DnsError::Bogus(_)) => break,
                Err(other) => return Err(other),
            };
            let Some(target) = cname_target(&current, link.records()) else {
                break;
            };
            status = weakest(status, link.status());
            chain.extend(link.records().iter().cloned());
            current = target;
            match self.ask(&current, rtype, what).await {
                Ok(Outcome::Records(records, s)) => {
                    chain.extend(records);
                    return Ok(Outcome::Records(chain, weakest(status, s)));
                }
                Ok(Outcome::NoData(s)) => return Ok(Outcome::NoData(weakest(status, s))),
                Ok(Outcome::NxDomain(s)) => return Ok(Outcome::NxDomain(weakest(status, s))),
                // The target may be an alias again.
                Err(DnsError::Bogus(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(DnsError::Bogus(detail))
    }
}

/// The target of the CNAME record at `name` in `answers`, if there is one.
fn cname_target(name: &Name, answers: &[hickory_resolver::proto::rr::Record]) -> Option<Name> {
    answers.iter().find_map(|record| match &record.data {
        RData::CNAME(cname) if record.name.to_lowercase() == name.to_lowercase() => {
            Some(cname.0.clone())
        }
        _ => None,
    })
}
