//! SMTP TLS Reporting (RFC 8460) end to end against the simulated internet: deliveries through
//! the real queue and delivery code are counted per domain, the daily pass looks up the
//! domains' `_smtp._tls` records in the signed sim DNS, uploads the gzip'd JSON report to the
//! sim's HTTPS receiver and queues report mail that the real delivery takes to a sim peer's
//! mailbox; the tests read the reports back as the receivers got them.

use std::io::Read as _;
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use sendguard::delivery::attempt::Deliverer;
use sendguard::delivery::retry::RetrySchedule;
use sendguard::delivery::submit;
use sendguard::delivery::worker::{WorkerConfig, deliver_message_now};
use sendguard::probe::now_unix;
use sendguard::store::Store;
use sendguard::tlsrpt::send::HttpsClient;
use sendguard::tlsrpt::worker::{Pass, Reporter};
use sendguard::tlsrpt::{PolicyType, REPORT_OWNER, ResultType, TlsRptConfig, day_of};
use sendguard::user::account::{AccountConfig, DEFAULT_USER};
use sendguard_common::{RecipientState, SendRequest};
use sendguard_sim::tlsrpt::{MAILBOX, PATH};
use sendguard_sim::world::{Scenario, SimWorld, scenarios, sts_scenarios};
use serde_json::{Value, json};

mod common;

const FROM: &str = "maxima.mustermann@sendguard.example";
const DAY: i64 = 86_400;

struct Env {
    world: SimWorld,
    store: Store,
    deliverer: Deliverer,
    reporter: Reporter,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    env_of(scenarios()).await
}

async fn env_of(list: Vec<Scenario>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let common::SimEnv {
        world,
        prober,
        store,
        verdicts,
        ..
    } = common::sim_env(list, dir.path()).await;
    let mut smtp = prober.smtp_config().clone();
    smtp.session_timeout = Duration::from_secs(120);
    let deliverer = Deliverer::new(verdicts, smtp, RetrySchedule::default()).with_tls_reporting();
    let https = HttpsClient::new(prober, &[world.reports().ca_der()]).expect("a client");
    let config = TlsRptConfig {
        organization: "Sendguard Test".into(),
        contact: "tlsrpt@sendguard.example".into(),
        from: "tlsrpt@sendguard.example".into(),
        submitter: "sendguard.example".into(),
    };
    let reporter = Reporter::new(store.clone(), config, https, None);
    Env {
        world,
        store,
        deliverer,
        reporter,
        _dir: dir,
    }
}

impl Env {
    /// Queues one message to `to` and makes one delivery attempt; each recipient's state.
    async fn send(&self, to: &[&str]) -> Vec<(String, RecipientState)> {
        let request = SendRequest {
            from: FROM.into(),
            to: to.iter().map(|s| s.to_string()).collect(),
            subject: "TLS".into(),
            body: "Hallo".into(),
            ..Default::default()
        };
        let account = AccountConfig::default();
        let queued = submit::submit(&self.store, &account, DEFAULT_USER, &request)
            .await
            .expect("queued");
        self.deliver(queued.id).await;
        let message = self
            .store
            .message(DEFAULT_USER, queued.id)
            .await
            .unwrap()
            .unwrap();
        message
            .recipients
            .iter()
            .map(|r| (r.address.clone(), r.state))
            .collect()
    }

    async fn deliver(&self, id: i64) {
        deliver_message_now(&self.store, &self.deliverer, id, &WorkerConfig::default())
            .await
            .expect("delivered");
    }

    /// Delivers the report mail the reporter queued; how many there were.
    async fn deliver_reports(&self) -> usize {
        let queued = self.store.messages(REPORT_OWNER).await.unwrap();
        for m in &queued {
            self.deliver(m.id).await;
            let after = self
                .store
                .message(REPORT_OWNER, m.id)
                .await
                .unwrap()
                .unwrap();
            for r in &after.recipients {
                assert_eq!(r.state, RecipientState::Sent, "{r:?}");
            }
        }
        queued.len()
    }

    /// The reports the HTTPS receiver got, as JSON.
    fn https_reports(&self) -> Vec<Value> {
        self.world
            .reports()
            .received()
            .iter()
            .map(|r| {
                assert_eq!(r.path, PATH);
                assert_eq!(r.content_type, "application/tlsrpt+gzip");
                serde_json::from_slice(r.json.as_ref().expect("gzip")).expect("JSON")
            })
            .collect()
    }
}

fn report_for<'a>(reports: &'a [Value], domain: &str) -> &'a Value {
    reports
        .iter()
        .find(|r| r["policies"][0]["policy"]["policy-domain"] == domain)
        .unwrap_or_else(|| panic!("no report for {domain} in {reports:#?}"))
}

fn state(states: &[(String, RecipientState)], address: &str) -> RecipientState {
    states
        .iter()
        .find(|(a, _)| a == address)
        .expect("recipient")
        .1
}

/// The JSON of the gzip'd report attached to `raw`, with the checks of RFC 8460 §5.3.
fn mailed_report(raw: &[u8], domain: &str) -> Value {
    let message = MessageParser::default().parse(raw).expect("a message");
    let header = |name: &str| {
        message
            .header_raw(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .trim()
            .to_string()
    };
    assert_eq!(header("TLS-Report-Domain"), domain);
    assert_eq!(header("TLS-Report-Submitter"), "sendguard.example");
    let subject = message.subject().expect("a subject");
    assert!(
        subject.starts_with(&format!(
            "Report Domain: {domain} Submitter: sendguard.example Report-ID: <"
        )),
        "{subject}"
    );
    let content_type = message.content_type().expect("a content type");
    assert_eq!(content_type.ctype(), "multipart");
    assert_eq!(content_type.subtype(), Some("report"));
    assert_eq!(content_type.attribute("report-type"), Some("tlsrpt"));
    let attachment = message.attachment(0).expect("the report attached");
    let ct = attachment.content_type().expect("its type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("application", Some("tlsrpt+gzip"))
    );
    let name = attachment.attachment_name().expect("a file name");
    assert!(
        name.starts_with(&format!("sendguard.example!{domain}!")) && name.ends_with(".json.gz"),
        "{name}"
    );
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(attachment.contents())
        .read_to_end(&mut json)
        .expect("gzip");
    serde_json::from_slice(&json).expect("JSON")
}

#[tokio::test]
async fn deliveries_are_reported_by_https_and_by_mail_once_with_the_judgements_result_types() {
    let env = env().await;
    let states = env
        .send(&[
            "user@dane-ee.test",
            "user@wrong-tlsa.test",
            "user@plain.test",
        ])
        .await;
    assert_eq!(state(&states, "user@dane-ee.test"), RecipientState::Sent);
    assert_eq!(
        state(&states, "user@wrong-tlsa.test"),
        RecipientState::Deferred
    );
    assert_eq!(state(&states, "user@plain.test"), RecipientState::Sent);

    // What was counted, per domain and policy, for today.
    let today = day_of(now_unix());
    let dane = env.store.tlsrpt_day(today, "dane-ee.test").await.unwrap();
    assert_eq!(dane.len(), 1, "{dane:?}");
    assert_eq!(dane[0].policy.kind, PolicyType::Tlsa);
    assert_eq!((dane[0].successes, dane[0].failures), (1, 0));
    let mismatch = env
        .store
        .tlsrpt_day(today, "wrong-tlsa.test")
        .await
        .unwrap();
    assert_eq!(
        (mismatch[0].successes, mismatch[0].failures),
        (0, 1),
        "{mismatch:?}"
    );
    assert_eq!(mismatch[0].details[0].result, ResultType::ValidationFailure);
    let plain = env.store.tlsrpt_day(today, "plain.test").await.unwrap();
    assert_eq!(plain[0].policy.kind, PolicyType::NoPolicyFound);
    assert_eq!(plain[0].details[0].result, ResultType::StarttlsNotSupported);

    // Today is not reported before it is over.
    let pass = env.reporter.run_once(now_unix()).await.unwrap();
    assert_eq!(pass, Pass::default());
    assert!(env.world.reports().received().is_empty());

    // The next day: dane-ee.test by HTTPS, plain.test by mail, wrong-tlsa.test both; two
    // passes at once (the server's and `send-now`) send each report once between them.
    let tomorrow = now_unix() + DAY;
    let (a, b) = tokio::join!(
        env.reporter.run_once(tomorrow),
        env.reporter.run_once(tomorrow)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        (a.sent + b.sent, a.failed + b.failed),
        (4, 0),
        "{a:?} {b:?}"
    );
    let reports = env.https_reports();
    assert_eq!(reports.len(), 2);

    let dane = report_for(&reports, "dane-ee.test");
    assert_eq!(dane["organization-name"], "Sendguard Test");
    assert_eq!(dane["contact-info"], "tlsrpt@sendguard.example");
    assert!(
        dane["report-id"]
            .as_str()
            .unwrap()
            .ends_with("@sendguard.example")
    );
    let start = dane["date-range"]["start-datetime"].as_str().unwrap();
    assert!(start.ends_with("T00:00:00Z"), "{start}");
    assert!(
        dane["date-range"]["end-datetime"]
            .as_str()
            .unwrap()
            .ends_with("T23:59:59Z")
    );
    let policy = &dane["policies"][0];
    assert_eq!(policy["policy"]["policy-type"], "tlsa");
    assert_eq!(policy["policy"]["mx-host"][0], "mx.dane-ee.test");
    assert!(
        policy["policy"]["policy-string"][0]
            .as_str()
            .unwrap()
            .starts_with("3 1 1 ")
    );
    assert_eq!(policy["summary"]["total-successful-session-count"], 1);
    assert_eq!(policy["summary"]["total-failure-session-count"], 0);
    assert!(policy.get("failure-details").is_none());

    let mismatch = report_for(&reports, "wrong-tlsa.test");
    let failure = &mismatch["policies"][0]["failure-details"][0];
    assert_eq!(failure["result-type"], "validation-failure");
    assert_eq!(failure["receiving-mx-hostname"], "mx.wrong-tlsa.test");
    assert!(
        failure["receiving-ip"]
            .as_str()
            .unwrap()
            .starts_with("127.0.2.")
    );
    assert_eq!(failure["failed-session-count"], 1);
    assert_eq!(failure["failure-reason-code"], "dane-mismatch");

    // The mail reports, delivered by the real delivery to the sim peer of tls.test.
    assert_eq!(env.deliver_reports().await, 2);
    let mailbox = env.world.peer("mx.tls.test").expect("a peer").received();
    assert_eq!(mailbox.len(), 2, "{mailbox:?}");
    assert!(mailbox.iter().all(|m| m.rcpt_to == [MAILBOX] && m.tls));
    let mut mailed: Vec<Value> = Vec::new();
    for m in &mailbox {
        let parsed = MessageParser::default().parse(&m.data).unwrap();
        let domain = parsed
            .header_raw("TLS-Report-Domain")
            .unwrap()
            .trim()
            .to_string();
        mailed.push(mailed_report(&m.data, &domain));
    }
    let plain = report_for(&mailed, "plain.test");
    let policy = &plain["policies"][0];
    assert_eq!(policy["policy"]["policy-type"], "no-policy-found");
    assert_eq!(policy["summary"]["total-failure-session-count"], 1);
    let failure = &policy["failure-details"][0];
    assert_eq!(failure["result-type"], "starttls-not-supported");
    assert!(failure["sending-mta-ip"].as_str().is_some(), "{failure}");
    // The same report reached both of wrong-tlsa.test's URIs.
    assert_eq!(report_for(&mailed, "wrong-tlsa.test"), mismatch);

    // Delivering the reports is no session of the reports (RFC 8460 §5.3).
    assert!(
        env.store
            .tlsrpt_day(today, "tls.test")
            .await
            .unwrap()
            .is_empty()
    );

    // Never twice: later passes send nothing more.
    for later in [tomorrow, tomorrow + 3600, tomorrow + DAY] {
        let pass = env.reporter.run_once(later).await.unwrap();
        assert_eq!(pass.sent, 0, "{pass:?}");
    }
    assert_eq!(env.world.reports().received().len(), 2);
    assert_eq!(env.store.messages(REPORT_OWNER).await.unwrap().len(), 2);
    let rows = env.store.tlsrpt_reports("dane-ee.test").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, "done");
}

#[tokio::test]
async fn a_failed_upload_is_retried_later_and_a_domain_without_a_record_gets_nothing() {
    let env = env().await;
    let states = env.send(&["user@dane-ee.test", "user@tls.test"]).await;
    assert!(
        states.iter().all(|(_, s)| *s == RecipientState::Sent),
        "{states:?}"
    );
    env.world.reports().set_status(503);
    let tomorrow = now_unix() + DAY;
    let pass = env.reporter.run_once(tomorrow).await.unwrap();
    // tls.test publishes no _smtp._tls record; dane-ee.test's receiver is down.
    assert_eq!((pass.sent, pass.failed, pass.no_rua), (0, 1, 1), "{pass:?}");
    let reports = env.store.tlsrpt_reports("tls.test").await.unwrap();
    assert_eq!(reports[0].state, "no-rua");
    // Not before the wait is over, then once.
    env.world.reports().set_status(200);
    let pass = env.reporter.run_once(tomorrow + 60).await.unwrap();
    assert_eq!(pass, Pass::default());
    let pass = env.reporter.run_once(tomorrow + 3600).await.unwrap();
    assert_eq!((pass.sent, pass.failed), (1, 0), "{pass:?}");
    assert_eq!(env.https_reports().len(), 1);
    let pass = env.reporter.run_once(tomorrow + 7200).await.unwrap();
    assert_eq!(pass, Pass::default());
    let sends = env
        .store
        .tlsrpt_sends(day_of(now_unix()), "dane-ee.test")
        .await
        .unwrap();
    assert_eq!(sends.len(), 1);
    assert_eq!((sends[0].state.as_str(), sends[0].attempts), ("sent", 2));
}

#[tokio::test]
async fn failure_details_are_capped_per_domain_and_day_while_every_failure_is_counted() {
    use sendguard::store::tlsrpt::MAX_FAILURE_ROWS;
    use sendguard::tlsrpt::{ReportPolicy, SessionRecord, SessionResult};
    let dir = tempfile::tempdir().unwrap();
    let store = common::test_store(dir.path()).await;
    let sessions = MAX_FAILURE_ROWS + 50;
    for i in 0..sessions {
        // A hostile domain with ever new addresses: each failure a detail of its own.
        let record = SessionRecord {
            policy: ReportPolicy::none("many.example"),
            result: SessionResult::Failure {
                result: ResultType::StarttlsNotSupported,
                reason: "no-starttls".into(),
            },
            sending_ip: Some([192, 0, 2, 1].into()),
            mx_host: "mx.many.example".into(),
            receiving_ip: Some(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32).into()),
        };
        store.record_tls_session(7, &record).await.unwrap();
        // The same failure again only counts.
        store.record_tls_session(7, &record).await.unwrap();
    }
    let day = store.tlsrpt_day(7, "many.example").await.unwrap();
    assert_eq!(day.len(), 1);
    assert_eq!(day[0].failures, 2 * sessions as u64);
    assert_eq!(day[0].details.len() as i64, MAX_FAILURE_ROWS);
    assert!(day[0].details.iter().all(|d| d.sessions == 2));
    // Another day has its own allowance.
    assert!(
        store
            .tlsrpt_day(8, "many.example")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn sendguard_tlsrpt_send_now_reports_the_finished_days() {
    use sendguard::tlsrpt::{ReportPolicy, SessionRecord, SessionResult};
    let dir = tempfile::tempdir().unwrap();
    let env = common::sim_env(scenarios(), dir.path()).await;
    let yesterday = day_of(now_unix()) - 1;
    let record = SessionRecord {
        policy: ReportPolicy::none("plain.test"),
        result: SessionResult::Success,
        sending_ip: None,
        mx_host: "mx.plain.test".into(),
        receiving_ip: None,
    };
    env.store
        .record_tls_session(yesterday, &record)
        .await
        .unwrap();
    let endpoints = env.world.endpoints();
    let resolver = endpoints.resolver.to_string();
    let anchor = endpoints.trust_anchor.to_string_lossy().to_string();
    let database = match &env.location {
        sendguard::store::Location::File(path) => path.display().to_string(),
        sendguard::store::Location::Postgres(url) => url.clone(),
    };
    let run = tokio::task::spawn_blocking(move || {
        let args = [
            "tlsrpt",
            "send-now",
            "--tlsrpt-from",
            "tlsrpt@sendguard.example",
            "--dns-resolver",
            &resolver,
            "--trust-anchor",
            &anchor,
            "--allow-private-targets",
        ];
        common::run_sendguard(&database, &args, "")
    });
    let out = run.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("1 reports sent, 0 attempts failed"),
        "{stdout}"
    );
    let queued = env.store.messages(REPORT_OWNER).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].recipients[0].address, MAILBOX);
    assert_eq!(queued[0].envelope_from, "tlsrpt@sendguard.example");
}

#[tokio::test]
async fn an_upload_goes_only_where_the_probe_may_connect_and_only_to_a_valid_certificate() {
    use sendguard::tlsrpt::send::SendError;
    let dir = tempfile::tempdir().unwrap();
    let env = common::sim_env(scenarios(), dir.path()).await;
    let uri: hyper::Uri = env.world.reports().uri().parse().unwrap();
    let ca = env.world.reports().ca_der();
    // Loopback not allowed (production): the receiver is never contacted.
    let mut config = common::sim_probe_config(&env.world);
    config.allow_private_targets = false;
    let guarded = sendguard::probe::Prober::new(config).unwrap();
    let client = HttpsClient::new(guarded, std::slice::from_ref(&ca)).unwrap();
    let refused = client.post(&uri, b"x".to_vec()).await;
    assert!(
        matches!(&refused, Err(SendError::Permanent(why)) if why.contains("not contacted")),
        "{refused:?}"
    );
    // Allowed, but without the receiver's CA among the roots: its certificate is refused.
    let untrusting = HttpsClient::new(env.prober.clone(), &[]).unwrap();
    let untrusted = untrusting.post(&uri, b"x".to_vec()).await;
    assert!(
        matches!(&untrusted, Err(SendError::Permanent(why)) if why.contains("certificate")),
        "{untrusted:?}"
    );
    assert!(env.world.reports().received().is_empty());
    // Allowed and trusted: it arrives.
    let client = HttpsClient::new(env.prober.clone(), std::slice::from_ref(&ca)).unwrap();
    client.post(&uri, b"x".to_vec()).await.expect("uploaded");
    assert_eq!(env.world.reports().received().len(), 1);
    // The prober's roots (`--extra-roots`) are trusted for uploads too.
    let pem = dir.path().join("reports-ca.pem");
    common::write_pem(ca.as_ref(), &pem);
    let mut config = common::sim_probe_config(&env.world);
    config.extra_roots = Some(pem);
    let prober = sendguard::probe::Prober::new(config).unwrap();
    let client = HttpsClient::new(prober, &[]).unwrap();
    client.post(&uri, b"x".to_vec()).await.expect("uploaded");
    assert_eq!(env.world.reports().received().len(), 2);
}

#[tokio::test]
async fn a_delivery_deferred_because_the_tlsa_records_cannot_be_looked_up_is_a_dnssec_invalid_failure()
 {
    let env = env().await;
    env.world.dns().stall_tlsa("dane-ta.test", true).unwrap();
    let states = env.send(&["user@dane-ta.test"]).await;
    assert_eq!(
        state(&states, "user@dane-ta.test"),
        RecipientState::Deferred
    );
    let day = env
        .store
        .tlsrpt_day(day_of(now_unix()), "dane-ta.test")
        .await
        .unwrap();
    assert_eq!(day.len(), 1, "{day:?}");
    assert_eq!(day[0].policy.kind, PolicyType::Tlsa);
    assert!(
        day[0].policy.strings.is_empty(),
        "the records are not known"
    );
    assert_eq!((day[0].successes, day[0].failures), (0, 1));
    let failure = &day[0].details[0];
    assert_eq!(failure.result, ResultType::DnssecInvalid);
    assert_eq!(failure.reason, "tlsa-lookup-failed");
    assert_eq!(failure.mx_host, "mx.dane-ta.test");
}

#[tokio::test]
async fn mta_sts_policies_are_reported_as_sts_with_their_lines_and_failures_to_get_one_as_such() {
    let env = env_of(sts_scenarios()).await;
    let states = env
        .send(&["user@sts-enforce.test", "user@sts-malformed.test"])
        .await;
    assert!(
        states.iter().all(|(_, s)| *s == RecipientState::Sent),
        "{states:?}"
    );
    let today = day_of(now_unix());
    let enforce = env
        .store
        .tlsrpt_day(today, "sts-enforce.test")
        .await
        .unwrap();
    assert_eq!(enforce.len(), 1, "{enforce:?}");
    assert_eq!(enforce[0].policy.kind, PolicyType::Sts);
    assert_eq!(
        enforce[0].policy.mx_hosts,
        ["mx.sts-enforce.test"],
        "the policy's mx patterns"
    );
    assert_eq!((enforce[0].successes, enforce[0].failures), (1, 0));
    // sts-malformed.test's policy does not parse: a policy failure under `sts`, once; the
    // delivery went on as for a domain without a policy (RFC 8461 §5.1).
    let malformed = env
        .store
        .tlsrpt_day(today, "sts-malformed.test")
        .await
        .unwrap();
    let failed = malformed
        .iter()
        .find(|p| p.policy.kind == PolicyType::Sts)
        .unwrap_or_else(|| panic!("no sts entry in {malformed:?}"));
    assert_eq!((failed.successes, failed.failures), (0, 1));
    assert_eq!(failed.details[0].result, ResultType::StsPolicyInvalid);
    assert_eq!(failed.details[0].mx_host, "mta-sts.sts-malformed.test");
    let session = malformed
        .iter()
        .find(|p| p.policy.kind == PolicyType::NoPolicyFound)
        .unwrap_or_else(|| panic!("no session in {malformed:?}"));
    assert_eq!((session.successes, session.failures), (1, 0));

    // The reports of the day, as the receiver got them.
    let pass = env.reporter.run_once(now_unix() + DAY).await.unwrap();
    assert_eq!((pass.sent, pass.failed), (2, 0), "{pass:?}");
    let reports = env.https_reports();
    let policy = &report_for(&reports, "sts-enforce.test")["policies"][0];
    assert_eq!(policy["policy"]["policy-type"], "sts");
    assert_eq!(
        policy["policy"]["policy-string"],
        json!([
            "version: STSv1",
            "mode: enforce",
            "mx: mx.sts-enforce.test",
            "max_age: 86400"
        ])
    );
    assert_eq!(policy["policy"]["mx-host"], json!(["mx.sts-enforce.test"]));
    assert_eq!(policy["summary"]["total-successful-session-count"], 1);
    let malformed = report_for(&reports, "sts-malformed.test");
    let sts = malformed["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["policy"]["policy-type"] == "sts")
        .unwrap_or_else(|| panic!("no sts policy in {malformed:#}"));
    assert_eq!(sts["summary"]["total-failure-session-count"], 1);
    let failure = &sts["failure-details"][0];
    assert_eq!(failure["result-type"], "sts-policy-invalid");
    assert_eq!(
        failure["receiving-mx-hostname"],
        "mta-sts.sts-malformed.test"
    );
}
