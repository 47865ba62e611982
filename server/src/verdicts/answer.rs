//! The answer for one recipient address as the recipient API sends it: the wire type
//! [`RecipientSecurity`], except that a known verdict is sent as the JSON made once when it
//! entered memory ([`Known::json`]) instead of being serialized again for every request. The
//! bytes are the same as the wire type's (a test compares them).

use std::sync::Arc;

use sendguard_common::RecipientSecurity;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::memory::Known;

/// The state of one recipient's verdict, ready to send.
#[derive(Debug)]
pub enum Answer {
    /// A known verdict, with its JSON made once.
    Known {
        /// The address as requested.
        address: String,
        /// The verdict and its JSON.
        known: Arc<Known>,
        /// Whether a probe is checking the domain again (see [`RecipientSecurity::Final`]).
        rechecking: bool,
    },
    /// Pending or invalid.
    Other(RecipientSecurity),
}

impl Answer {
    /// About how many bytes of JSON this answer is (at least that for a known verdict), so
    /// that the whole answer is written into a buffer sized once.
    pub fn size_hint(&self) -> usize {
        match self {
            Answer::Known { address, known, .. } => 64 + address.len() + known.json.get().len(),
            Answer::Other(_) => 256,
        }
    }

    /// The wire type, for callers that want values rather than bytes.
    pub fn into_wire(self) -> RecipientSecurity {
        match self {
            Answer::Known {
                address,
                known,
                rechecking,
            } => RecipientSecurity::Final {
                address,
                verdict: known.verdict.clone(),
                rechecking,
            },
            Answer::Other(r) => r,
        }
    }
}

/// The fields of [`RecipientSecurity::Final`], the verdict already serialized.
#[derive(Serialize)]
struct Final<'a> {
    address: &'a str,
    verdict: &'a RawValue,
    rechecking: bool,
}

/// The external tag of [`RecipientSecurity`] (`{"final": {...}}`).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Tagged<'a> {
    Final(Final<'a>),
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Answer::Known {
                address,
                known,
                rechecking,
            } => Tagged::Final(Final {
                address,
                verdict: &known.json,
                rechecking: *rechecking,
            })
            .serialize(serializer),
            Answer::Other(r) => r.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendguard_common::{DnssecStatus, DomainVerdict, SecurityClass};

    #[test]
    fn a_known_answer_sends_the_same_json_as_the_wire_type() {
        let verdict = DomainVerdict {
            domain: "b.example".into(),
            class: SecurityClass::SslOk,
            blocked: false,
            cause: None,
            reason: "Every mail server accepts STARTTLS with TLS 1.2 or newer.".into(),
            dnssec: DnssecStatus::Insecure,
            mx: vec![],
            checked_at: Some(7),
            mta_sts: None,
        };
        for rechecking in [false, true] {
            let answer = Answer::Known {
                address: "a@b.example".into(),
                known: Arc::new(Known::new(verdict.clone()).unwrap()),
                rechecking,
            };
            let sent = serde_json::to_string(&answer).unwrap();
            let wire = serde_json::to_string(&answer.into_wire()).unwrap();
            assert_eq!(sent, wire);
        }
        let pending = RecipientSecurity::Pending {
            address: "a@b.example".into(),
            domain: "b.example".into(),
        };
        assert_eq!(
            serde_json::to_string(&Answer::Other(pending.clone())).unwrap(),
            serde_json::to_string(&pending).unwrap()
        );
    }
}
