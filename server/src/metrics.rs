//! Operators' metrics that the code counts as it works (`GET /metrics`, Prometheus text
//! exposition format 0.0.4, rendered by hand like the alerts' counters): the latency of each
//! probe step, verdicts by class, delivery outcomes by TLS level, and the Postfix table's
//! lookups by answer. What is read at scrape time instead (holds open, the queue, the resolver
//! self-test) is rendered beside these by [`crate::http::admin::metrics`].
//!
//! The counters are process-wide statics (fixed label sets, atomics, no locks): every prober,
//! deliverer and table in the process counts into the same series, as one scrape expects.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sendguard_common::{DaneStatus, DomainVerdict, SecurityClass};

/// A step of a probe (or of a delivery's session, which runs the same steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The MX lookup (RFC 5321 §5.1), validation included.
    DnsMx,
    /// An MX host's A/AAAA lookup.
    DnsAddress,
    /// An MX host's TLSA lookup (RFC 7672 §2.2).
    DnsTlsa,
    /// The TCP connection.
    Connect,
    /// Waiting for the 220 greeting.
    Greeting,
    /// EHLO (or HELO) before TLS.
    Ehlo,
    /// The STARTTLS command and its reply (RFC 3207).
    Starttls,
    /// The TLS handshake.
    Handshake,
}

impl Step {
    /// Every step, in the order of a session.
    pub const ALL: [Step; 8] = [
        Step::DnsMx,
        Step::DnsAddress,
        Step::DnsTlsa,
        Step::Connect,
        Step::Greeting,
        Step::Ehlo,
        Step::Starttls,
        Step::Handshake,
    ];

    /// The `step` label.
    pub fn label(self) -> &'static str {
        match self {
            Step::DnsMx => "dns_mx",
            Step::DnsAddress => "dns_address",
            Step::DnsTlsa => "dns_tlsa",
            Step::Connect => "connect",
            Step::Greeting => "greeting",
            Step::Ehlo => "ehlo",
            Step::Starttls => "starttls",
            Step::Handshake => "handshake",
        }
    }
}

/// Upper bounds of the latency buckets, in seconds (the last, `+Inf`, is implicit).
pub const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A latency histogram: cumulative counts are made when rendering.
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    const fn new() -> Self {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS.len()],
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

static STEP_LATENCY: [Histogram; Step::ALL.len()] = [const { Histogram::new() }; Step::ALL.len()];

/// Counts `elapsed` for `step`.
pub fn observe_step(step: Step, elapsed: Duration) {
    STEP_LATENCY[step as usize].observe(elapsed);
}

/// Runs `work` and counts how long it took as `step`.
pub async fn timed<T>(step: Step, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = work.await;
    observe_step(step, started.elapsed());
    out
}

/// The classes in label order.
const CLASSES: [SecurityClass; 4] = [
    SecurityClass::DaneOk,
    SecurityClass::SslOk,
    SecurityClass::NoSsl,
    SecurityClass::Unknown,
];

/// Verdicts recorded, by class, not blocked [0] and blocked [1].
static VERDICTS: [[AtomicU64; 2]; 4] = [const { [const { AtomicU64::new(0) }; 2] }; 4];

/// Counts a verdict that a probe, a delivery or Postfix's log produced.
pub fn count_verdict(v: &DomainVerdict) {
    if let Some(i) = CLASSES.iter().position(|c| *c == v.class) {
        VERDICTS[i][usize::from(v.blocked)].fetch_add(1, Ordering::Relaxed);
    }
}

/// What one delivery attempt for one recipient came to, with the TLS level when sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Sent with TLS authenticated by DANE.
    SentDane,
    /// Sent with TLS, not DANE-authenticated.
    SentTls,
    /// Sent in plain text.
    SentPlain,
    /// Handed to the operator's relay.
    SentRelay,
    /// Deferred (a temporary failure).
    Deferred,
    /// Held (a server on hold).
    Held,
    /// Failed for good.
    Failed,
}

impl Delivery {
    const ALL: [Delivery; 7] = [
        Delivery::SentDane,
        Delivery::SentTls,
        Delivery::SentPlain,
        Delivery::SentRelay,
        Delivery::Deferred,
        Delivery::Held,
        Delivery::Failed,
    ];

    /// The `outcome` and `tls` labels.
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Delivery::SentDane => ("sent", "dane"),
            Delivery::SentTls => ("sent", "tls"),
            Delivery::SentPlain => ("sent", "plain"),
            Delivery::SentRelay => ("sent", "relay"),
            Delivery::Deferred => ("deferred", "none"),
            Delivery::Held => ("held", "none"),
            Delivery::Failed => ("failed", "none"),
        }
    }

    /// The level of a sent message: relayed, DANE-verified, TLS, or plain.
    pub fn sent(relayed: bool, tls: bool, dane: Option<DaneStatus>) -> Delivery {
        match (relayed, tls, dane) {
            (true, _, _) => Delivery::SentRelay,
            (_, true, Some(DaneStatus::Verified)) => Delivery::SentDane,
            (_, true, _) => Delivery::SentTls,
            (_, false, _) => Delivery::SentPlain,
        }
    }
}

static DELIVERIES: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];

/// Counts one recipient's attempt.
pub fn count_delivery(d: Delivery) {
    DELIVERIES[d as usize].fetch_add(1, Ordering::Relaxed);
}

/// The Postfix table's maps and answers, in label order.
const MAPS: [&str; 2] = ["tlspolicy", "securepolicy"];
const ANSWERS: [&str; 4] = ["ok", "notfound", "temp", "perm"];
static POLICY_LOOKUPS: [[AtomicU64; 4]; 3] = [const { [const { AtomicU64::new(0) }; 4] }; 3];

/// Counts one lookup of Postfix's table: `map` as asked (another name counts as `other`),
/// `answer` one of `ok`, `notfound`, `temp`, `perm`.
pub fn count_policy_lookup(map: &str, answer: &str) {
    let m = MAPS.iter().position(|n| *n == map).unwrap_or(MAPS.len());
    if let Some(a) = ANSWERS.iter().position(|n| *n == answer) {
        POLICY_LOOKUPS[m][a].fetch_add(1, Ordering::Relaxed);
    }
}

/// The counted metrics in Prometheus text format.
pub fn render() -> String {
    let mut out = String::new();
    let name = "sendguard_probe_step_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time taken by each step of probes and delivery sessions.\n# TYPE {name} histogram"
    );
    for step in Step::ALL {
        let h = &STEP_LATENCY[step as usize];
        let label = step.label();
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += h.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{step=\"{label}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = h.count.load(Ordering::Relaxed);
        let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{step=\"{label}\",le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{step=\"{label}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{step=\"{label}\"}} {count}");
    }
    let name = "sendguard_verdicts_total";
    let _ = writeln!(
        out,
        "# HELP {name} Verdicts recorded (probes, deliveries, Postfix's log), by class and whether blocked.\n# TYPE {name} counter"
    );
    for (i, class) in CLASSES.iter().enumerate() {
        for blocked in [false, true] {
            let n = VERDICTS[i][usize::from(blocked)].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}{{class=\"{}\",blocked=\"{blocked}\"}} {n}",
                class.as_str()
            );
        }
    }
    let name = "sendguard_deliveries_total";
    let _ = writeln!(
        out,
        "# HELP {name} Delivery attempts per recipient, by outcome and, when sent, TLS level.\n# TYPE {name} counter"
    );
    for d in Delivery::ALL {
        let (outcome, tls) = d.labels();
        let n = DELIVERIES[d as usize].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}{{outcome=\"{outcome}\",tls=\"{tls}\"}} {n}");
    }
    let name = "sendguard_policy_lookups_total";
    let _ = writeln!(
        out,
        "# HELP {name} Lookups of Postfix's TLS policy table, by map and answer.\n# TYPE {name} counter"
    );
    for (m, map) in MAPS.iter().chain(["other"].iter()).enumerate() {
        for (a, answer) in ANSWERS.iter().enumerate() {
            let n = POLICY_LOOKUPS[m][a].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}{{map=\"{map}\",answer=\"{answer}\"}} {n}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_renders_cumulative_buckets() {
        let before = render();
        observe_step(Step::Handshake, Duration::from_millis(30));
        observe_step(Step::Handshake, Duration::from_secs(60));
        let after = render();
        let value = |text: &str, series: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("{series} in {text}"))
        };
        let bucket = "sendguard_probe_step_seconds_bucket{step=\"handshake\",le=\"0.05\"}";
        let inf = "sendguard_probe_step_seconds_bucket{step=\"handshake\",le=\"+Inf\"}";
        assert_eq!(value(&after, bucket) - value(&before, bucket), 1);
        assert_eq!(value(&after, inf) - value(&before, inf), 2);
        assert_eq!(
            Delivery::sent(false, true, Some(DaneStatus::Verified)),
            Delivery::SentDane
        );
        assert_eq!(Delivery::sent(true, false, None), Delivery::SentRelay);
    }
}
