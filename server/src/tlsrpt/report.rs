//! The aggregate report of RFC 8460 §4.4 as JSON (RFC 8259), and its gzip form (§5.1,
//! `application/tlsrpt+gzip`).
//!
//! Our own serde types rather than the `mail-auth` crate's: its `TlsReport` serialises absent
//! optional fields as `null` and an empty `failure-reason-code` as `""` (the RFC's fields are
//! either present with a value or absent), and the crate brings a DKIM/SPF/DMARC library with
//! its own resolver for some hundred lines of types (see the README's dependency notes).

use std::io::Write as _;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{PolicyType, ResultType};
use crate::store::tlsrpt::DayPolicy;

/// The report (RFC 8460 §4.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Report {
    /// The reporting organisation.
    pub organization_name: String,
    /// The UTC day covered.
    pub date_range: DateRange,
    /// How to reach the reporting organisation.
    pub contact_info: String,
    /// A unique identifier of this report.
    pub report_id: String,
    /// One entry per policy.
    pub policies: Vec<PolicyReport>,
}

/// `date-range`: RFC 3339 date-times in UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DateRange {
    /// The first second of the day.
    pub start_datetime: String,
    /// The last second of the day.
    pub end_datetime: String,
}

/// One policy's entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PolicyReport {
    /// The policy.
    pub policy: PolicyDetails,
    /// The counts.
    pub summary: Summary,
    /// The failures, when there were any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure_details: Vec<FailureDetails>,
}

/// `policy`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PolicyDetails {
    /// `tlsa`, `sts` or `no-policy-found`.
    pub policy_type: PolicyType,
    /// The TLSA records or the MTA-STS policy's lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_string: Vec<String>,
    /// The recipient domain.
    pub policy_domain: String,
    /// The MTA-STS policy's `mx` patterns, or the TLSA records' MX host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mx_host: Vec<String>,
}

/// `summary`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Summary {
    /// Sessions that negotiated TLS as the policy requires.
    pub total_successful_session_count: u64,
    /// Sessions that did not.
    pub total_failure_session_count: u64,
}

/// One entry of `failure-details`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FailureDetails {
    /// What failed (§4.3).
    pub result_type: ResultType,
    /// Our address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_mta_ip: Option<String>,
    /// The MX host.
    pub receiving_mx_hostname: String,
    /// Its address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiving_ip: Option<String>,
    /// How many sessions failed so.
    pub failed_session_count: u64,
    /// Our code for the judgement's outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason_code: Option<String>,
}

/// What the report's header says besides the data.
#[derive(Clone, Debug)]
pub struct Header<'a> {
    /// `organization-name`.
    pub organization: &'a str,
    /// `contact-info`.
    pub contact: &'a str,
    /// `report-id`.
    pub report_id: &'a str,
}

/// The first second of UTC `day` and the first of the next, Unix seconds.
pub fn day_bounds(day: i64) -> (i64, i64) {
    (day * 86_400, (day + 1) * 86_400)
}

/// `unix` as an RFC 3339 date-time in UTC, e.g. `2026-12-05T00:00:00Z`.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// The report of `day` made of what the store counted.
pub fn build(header: &Header<'_>, day: i64, policies: &[DayPolicy]) -> Report {
    let (start, next) = day_bounds(day);
    Report {
        organization_name: header.organization.to_string(),
        date_range: DateRange {
            start_datetime: rfc3339(start),
            end_datetime: rfc3339(next - 1),
        },
        contact_info: header.contact.to_string(),
        report_id: header.report_id.to_string(),
        policies: policies
            .iter()
            .map(|p| PolicyReport {
                policy: PolicyDetails {
                    policy_type: p.policy.kind,
                    policy_string: p.policy.strings.clone(),
                    policy_domain: p.policy.domain.clone(),
                    mx_host: p.policy.mx_hosts.clone(),
                },
                summary: Summary {
                    total_successful_session_count: p.successes,
                    total_failure_session_count: p.failures,
                },
                failure_details: p
                    .details
                    .iter()
                    .map(|f| FailureDetails {
                        result_type: f.result,
                        sending_mta_ip: f.sending_ip.map(|i| i.to_string()),
                        receiving_mx_hostname: f.mx_host.clone(),
                        receiving_ip: f.receiving_ip.map(|i| i.to_string()),
                        failed_session_count: f.sessions,
                        failure_reason_code: Some(f.reason.clone()).filter(|r| !r.is_empty()),
                    })
                    .collect(),
            })
            .collect(),
    }
}

impl Report {
    /// The report as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain structs of strings and numbers always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The JSON compressed with gzip (RFC 1952), as §5.1 sends it.
    pub fn to_gzip(&self) -> std::io::Result<Vec<u8>> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&self.to_json())?;
        gz.finish()
    }
}

/// The file name of §5.1: `submitter!policy-domain!begin!end!unique-id.json.gz`, the times in
/// Unix seconds.
pub fn file_name(submitter: &str, domain: &str, day: i64, unique: &str) -> String {
    let (start, next) = day_bounds(day);
    let unique: String = unique
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    format!("{submitter}!{domain}!{start}!{}!{unique}.json.gz", next - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tlsrpt::FailureRow;
    use crate::tlsrpt::ReportPolicy;

    #[test]
    fn the_report_has_the_fields_and_names_of_rfc_8460() {
        let day = 20_427; // 2025-12-05
        let policies = vec![DayPolicy {
            policy: ReportPolicy {
                kind: PolicyType::Tlsa,
                domain: "example.org".into(),
                strings: vec!["3 1 1 AB01".into()],
                mx_hosts: vec!["mx.example.org".into()],
            },
            successes: 3,
            failures: 1,
            details: vec![FailureRow {
                result: ResultType::ValidationFailure,
                sending_ip: Some([198, 51, 100, 7].into()),
                mx_host: "mx.example.org".into(),
                receiving_ip: Some([192, 0, 2, 1].into()),
                reason: "dane-mismatch".into(),
                sessions: 1,
            }],
        }];
        let header = Header {
            organization: "Example Sender",
            contact: "tlsrpt@sender.example",
            report_id: "r1@sender.example",
        };
        let json: serde_json::Value =
            serde_json::from_slice(&build(&header, day, &policies).to_json()).unwrap();
        let expected = serde_json::json!({
            "organization-name": "Example Sender",
            "date-range": {
                "start-datetime": "2025-12-05T00:00:00Z",
                "end-datetime": "2025-12-05T23:59:59Z"
            },
            "contact-info": "tlsrpt@sender.example",
            "report-id": "r1@sender.example",
            "policies": [{
                "policy": {
                    "policy-type": "tlsa",
                    "policy-string": ["3 1 1 AB01"],
                    "policy-domain": "example.org",
                    "mx-host": ["mx.example.org"]
                },
                "summary": {
                    "total-successful-session-count": 3,
                    "total-failure-session-count": 1
                },
                "failure-details": [{
                    "result-type": "validation-failure",
                    "sending-mta-ip": "198.51.100.7",
                    "receiving-mx-hostname": "mx.example.org",
                    "receiving-ip": "192.0.2.1",
                    "failed-session-count": 1,
                    "failure-reason-code": "dane-mismatch"
                }]
            }]
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn a_policy_without_failures_or_strings_leaves_them_out() {
        let policies = vec![DayPolicy {
            policy: ReportPolicy::none("example.org"),
            successes: 2,
            failures: 0,
            details: vec![],
        }];
        let header = Header {
            organization: "o",
            contact: "c",
            report_id: "r",
        };
        let report = build(&header, 0, &policies);
        let json: serde_json::Value = serde_json::from_slice(&report.to_json()).unwrap();
        assert_eq!(
            json["policies"][0]["policy"],
            serde_json::json!({"policy-type": "no-policy-found", "policy-domain": "example.org"})
        );
        assert!(json["policies"][0].get("failure-details").is_none());
        // The gzip form decompresses to the same JSON.
        let gz = report.to_gzip().unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back).unwrap();
        assert_eq!(back, report.to_json());
    }

    #[test]
    fn file_names_follow_section_5_1() {
        assert_eq!(
            file_name("sender.example", "example.org", 1, "abc!/x"),
            "sender.example!example.org!86400!172799!abcx.json.gz"
        );
    }
}
