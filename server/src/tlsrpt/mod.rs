//! SMTP TLS Reporting (RFC 8460): what our deliveries showed of each recipient domain's TLS,
//! counted per policy domain and UTC day, and sent once a day as the JSON aggregate report to
//! the addresses the domain publishes.
//!
//! - [`result`]: the outcome of one session in the report's terms, read from the one judgement
//!   of that session ([`crate::policy::judge`] and [`crate::policy::permits`]), never judged a
//!   second time; the policy it was judged under ([`ReportPolicy`]: `tlsa`, `sts` or
//!   `no-policy-found`, RFC 8460 §4.4).
//! - `store/tlsrpt.rs`: the counts per day, domain and policy, a bounded number of failure
//!   details ([`crate::store::tlsrpt::MAX_FAILURE_ROWS`] per domain and day), and what was sent.
//! - [`discover`]: the `_smtp._tls.<domain>` TXT record (RFC 8460 §3), parsed strictly.
//! - [`report`]: the JSON report (RFC 8460 §4.4) and its gzip form.
//! - [`send`]: `mailto:` through our own queue as `multipart/report` (RFC 8460 §5.3), `https:` as
//!   a POST of `application/tlsrpt+gzip` (§5.4) through the probe's address guard.
//! - [`worker`]: the daily pass: every finished day with results is reported once per URI,
//!   failures retried a bounded number of times.
//!
//! What counts as a session (RFC 8460 §4.3): every SMTP session of a delivery that reached
//! EHLO, and every MX host a delivery skipped because its TLSA records could not be validated.
//! Sessions that never reached the server (connection refused, timeouts before the greeting,
//! addresses we may not contact) say nothing about TLS and are not counted. Relay mode is not
//! counted (the relay, not we, talks to the recipient's servers), nor are Postfix's deliveries
//! (Postfix 3.10 and newer reports for itself through libtlsrpt, and the log follower
//! deduplicates what it learns, so its counts would be wrong). The sessions that deliver our own
//! reports are not counted either (RFC 8460 §5.3: "SHOULD NOT include this SMTP session in the
//! next report").

pub mod discover;
pub mod report;
pub mod result;
pub mod send;
pub mod worker;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use result::{demanded, policy_for, result_of, sts_policy_failure};

/// The owner of the messages that carry our reports in the queue: no user's key (logins are
/// lower-case names without a colon), so no user sees them on their Sent page.
pub const REPORT_OWNER: &str = "tlsrpt:reports";

/// The policy types of RFC 8460 §4.4 (`policy-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyType {
    /// DANE: DNSSEC-secure TLSA records of the MX host (RFC 7672).
    Tlsa,
    /// An MTA-STS policy (RFC 8461), in enforce or testing mode.
    Sts,
    /// Neither.
    NoPolicyFound,
}

impl PolicyType {
    const ALL: [PolicyType; 3] = [PolicyType::Tlsa, PolicyType::Sts, PolicyType::NoPolicyFound];

    /// The report's (and the store's) name.
    pub fn code(self) -> &'static str {
        match self {
            PolicyType::Tlsa => "tlsa",
            PolicyType::Sts => "sts",
            PolicyType::NoPolicyFound => "no-policy-found",
        }
    }

    /// The type of a stored name.
    pub fn from_code(code: &str) -> Option<PolicyType> {
        PolicyType::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// The result types of RFC 8460 §4.3 (`result-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultType {
    /// §4.3.1: the MX did not support STARTTLS.
    StarttlsNotSupported,
    /// §4.3.1: the certificate presented did not match the MX host name.
    CertificateHostMismatch,
    /// §4.3.1: the certificate has expired.
    CertificateExpired,
    /// §4.3.1: the certificate chain does not lead to a trusted root.
    CertificateNotTrusted,
    /// §4.3.1: a general negotiation failure not matching another category (here: a DANE
    /// certificate that matched none of the TLSA records, a failed or aborted handshake, TLS
    /// older than 1.2).
    ValidationFailure,
    /// §4.3.2.1: none of the TLSA records was valid.
    TlsaInvalid,
    /// §4.3.2.1: no valid records came back from the resolver (bogus DNSSEC, or a TLSA lookup
    /// that failed).
    DnssecInvalid,
    /// §4.3.2.1: DANE is required by the sender but no validated TLSA records exist.
    DaneRequired,
    /// §4.3.2.2: the MTA-STS policy could not be fetched.
    StsPolicyFetchError,
    /// §4.3.2.2: the MTA-STS policy did not parse.
    StsPolicyInvalid,
    /// §4.3.2.2: the policy host's certificate did not validate under the WebPKI.
    StsWebpkiInvalid,
}

impl ResultType {
    const ALL: [ResultType; 11] = [
        ResultType::StarttlsNotSupported,
        ResultType::CertificateHostMismatch,
        ResultType::CertificateExpired,
        ResultType::CertificateNotTrusted,
        ResultType::ValidationFailure,
        ResultType::TlsaInvalid,
        ResultType::DnssecInvalid,
        ResultType::DaneRequired,
        ResultType::StsPolicyFetchError,
        ResultType::StsPolicyInvalid,
        ResultType::StsWebpkiInvalid,
    ];

    /// The report's (and the store's) name.
    pub fn code(self) -> &'static str {
        match self {
            ResultType::StarttlsNotSupported => "starttls-not-supported",
            ResultType::CertificateHostMismatch => "certificate-host-mismatch",
            ResultType::CertificateExpired => "certificate-expired",
            ResultType::CertificateNotTrusted => "certificate-not-trusted",
            ResultType::ValidationFailure => "validation-failure",
            ResultType::TlsaInvalid => "tlsa-invalid",
            ResultType::DnssecInvalid => "dnssec-invalid",
            ResultType::DaneRequired => "dane-required",
            ResultType::StsPolicyFetchError => "sts-policy-fetch-error",
            ResultType::StsPolicyInvalid => "sts-policy-invalid",
            ResultType::StsWebpkiInvalid => "sts-webpki-invalid",
        }
    }

    /// The type of a stored name.
    pub fn from_code(code: &str) -> Option<ResultType> {
        ResultType::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The policy a session was judged under, as the report names it (RFC 8460 §4.4 `policy`).
/// Sessions under the same policy of the same domain are summed in one entry of the report.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReportPolicy {
    /// `policy-type`.
    pub kind: PolicyType,
    /// `policy-domain`: the recipient domain, A-label form.
    pub domain: String,
    /// `policy-string`: for `tlsa` the TLSA records in presentation form ("3 1 1 ABCD..."),
    /// for `sts` the policy's lines; empty for `no-policy-found`.
    pub strings: Vec<String>,
    /// `mx-host`: for `sts` the policy's `mx` patterns, for `tlsa` the MX host the records
    /// belong to; empty for `no-policy-found`.
    pub mx_hosts: Vec<String>,
}

impl ReportPolicy {
    /// No policy: opportunistic or remembered-level delivery.
    pub fn none(domain: &str) -> ReportPolicy {
        ReportPolicy {
            kind: PolicyType::NoPolicyFound,
            domain: domain.to_string(),
            strings: Vec::new(),
            mx_hosts: Vec::new(),
        }
    }

    /// An MTA-STS policy of `domain` (RFC 8460 §4.4): `text` is the policy (its lines become
    /// the policy strings, blank lines left out), `mx_patterns` its `mx` values. The delivery
    /// passes it to [`policy_for`] for a domain with a policy in enforce or testing mode
    /// ([`crate::policy::DomainJudgement::sts_reported`]).
    pub fn sts(domain: &str, text: &str, mx_patterns: &[String]) -> ReportPolicy {
        ReportPolicy {
            kind: PolicyType::Sts,
            domain: domain.to_string(),
            strings: text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            mx_hosts: mx_patterns.to_vec(),
        }
    }
}

/// What one session came to in the report's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionResult {
    /// TLS was negotiated as the policy requires (`total-successful-session-count`).
    Success,
    /// It was not (`total-failure-session-count`, and a `failure-details` entry).
    Failure {
        /// `result-type`.
        result: ResultType,
        /// `failure-reason-code`: a short code of ours naming the judgement's outcome.
        reason: String,
    },
}

/// One session to record: under which policy, what came of it, between which addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The policy it was judged under.
    pub policy: ReportPolicy,
    /// What came of it.
    pub result: SessionResult,
    /// `sending-mta-ip`: our end of the connection, when known.
    pub sending_ip: Option<IpAddr>,
    /// `receiving-mx-hostname`.
    pub mx_host: String,
    /// `receiving-ip`, when a connection was made.
    pub receiving_ip: Option<IpAddr>,
}

impl SessionRecord {
    /// A failure of `domain`'s MTA-STS policy itself, before any session (RFC 8460 §4.3.2.2:
    /// `sts-policy-fetch-error`, `sts-policy-invalid`, `sts-webpki-invalid`): reported under an
    /// `sts` policy without strings, the policy host `mta-sts.<domain>` as the host concerned.
    /// Made by [`sts_policy_failure`] from the discovery facts.
    pub fn policy_failure(domain: &str, result: ResultType, reason: &str) -> SessionRecord {
        SessionRecord {
            policy: ReportPolicy {
                kind: PolicyType::Sts,
                domain: domain.to_string(),
                strings: Vec::new(),
                mx_hosts: Vec::new(),
            },
            result: SessionResult::Failure {
                result,
                reason: reason.to_string(),
            },
            sending_ip: None,
            mx_host: format!("mta-sts.{domain}"),
            receiving_ip: None,
        }
    }
}

/// The UTC day (days since 1970-01-01) of `unix` seconds: reports cover one UTC day
/// (RFC 8460 §4.1).
pub fn day_of(unix: i64) -> i64 {
    unix.div_euclid(86_400)
}

/// How Sendguard reports (the `--tlsrpt-*` options).
#[derive(Clone, Debug)]
pub struct TlsRptConfig {
    /// `organization-name` of the report.
    pub organization: String,
    /// `contact-info` of the report: an address or URL where the sender can be reached.
    pub contact: String,
    /// The envelope sender and From of report mail (`mailto:` URIs).
    pub from: String,
    /// The submitter's domain (RFC 8460 §5.3 `TLS-Report-Submitter`, and in report ids).
    pub submitter: String,
}
