//! `/metrics` as an operator scrapes it, after real work against the simulated internet: a
//! probe's steps, its verdict, a delivery over DANE, a message still queued, a lookup of
//! Postfix's table and the resolver self-test all show in the Prometheus text; every line is
//! well-formed; and the Grafana dashboard in `packaging/` parses and names only series the
//! server exports.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use sendguard::delivery::attempt::Deliverer;
use sendguard::delivery::retry::RetrySchedule;
use sendguard::delivery::submit;
use sendguard::delivery::worker::{WorkerConfig, deliver_message_now};
use sendguard::dns::DnsConfig;
use sendguard::dns::selftest::SelfTestNames;
use sendguard::http::AppState;
use sendguard::postfix::tls_policy;
use sendguard::user::account::{AccountConfig, DEFAULT_USER};
use sendguard::verdicts::alerts::Alerts;
use sendguard::verdicts::resolver::ResolverCheck;
use sendguard_common::{SendRequest, paths};
use sendguard_sim::world::scenarios;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

mod common;

/// Every series of a scrape: `name{labels}` to value; panics on a malformed line.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut series = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (key, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line:?}"));
        let name = key.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !name.is_empty(),
            "a metric name: {line:?}"
        );
        assert!(key == name || key.ends_with('}'), "labels: {line:?}");
        assert!(
            series.insert(key.to_string(), value).is_none(),
            "twice: {key}"
        );
    }
    series
}

/// The `sendguard_*` names used in the dashboard's queries.
fn dashboard_names() -> BTreeSet<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/grafana-dashboard.json"
    );
    let text = std::fs::read_to_string(path).expect("the dashboard is in the repository");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert!(dashboard["title"].is_string() && dashboard["schemaVersion"].is_u64());
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    let mut names = BTreeSet::new();
    for panel in panels {
        assert!(
            panel["title"].is_string() && panel["gridPos"].is_object(),
            "{panel}"
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{panel}");
        for target in targets {
            let expr = target["expr"].as_str().expect("a query");
            let mut rest = expr;
            while let Some(at) = rest.find("sendguard_") {
                let tail = &rest[at..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                names.insert(tail[..end].to_string());
                rest = &tail[end..];
            }
        }
    }
    names
}

#[tokio::test]
async fn metrics_count_the_work_and_the_dashboard_names_only_them() {
    let dir = tempfile::tempdir().unwrap();
    let list = scenarios()
        .into_iter()
        .filter(|s| ["tls.test", "dane-ee.test"].contains(&s.domain))
        .collect();
    let env = common::sim_env(list, dir.path()).await;
    let e = env.world.endpoints();
    let dns = DnsConfig {
        resolver: Some(e.resolver),
        trust_anchor: Some(e.trust_anchor.clone()),
        timeout: Duration::from_secs(3),
    };
    let names = SelfTestNames {
        secure: e.self_test_secure.clone(),
        bogus: e.self_test_bogus.clone(),
    };
    let check = ResolverCheck::new(&dns, names, Duration::from_secs(300)).unwrap();
    check.run_once(&Alerts::default()).await;
    let verdicts = env.verdicts.clone().with_resolver_check(check);

    verdicts.probe_now("tls.test", true).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tls_policy::serve(listener, verdicts.clone()));
    let mut table = tokio::net::TcpStream::connect(addr).await.unwrap();
    table.write_all(b"18:tlspolicy tls.test,").await.unwrap();
    let mut reply = [0u8; 64];
    let n = table.read(&mut reply).await.unwrap();
    assert!(String::from_utf8_lossy(&reply[..n]).contains("OK "));

    let send = |to: &str| SendRequest {
        from: "maxima.mustermann@sendguard.example".into(),
        to: vec![to.into()],
        subject: "Metriken".into(),
        body: "Text".into(),
        ..Default::default()
    };
    let account = AccountConfig::default();
    let sent = submit::submit(&env.store, &account, DEFAULT_USER, &send("a@dane-ee.test"))
        .await
        .unwrap();
    submit::submit(&env.store, &account, DEFAULT_USER, &send("b@tls.test"))
        .await
        .unwrap();
    let deliverer = Deliverer::new(
        verdicts.clone(),
        env.prober.smtp_config().clone(),
        RetrySchedule::default(),
    );
    deliver_message_now(&env.store, &deliverer, sent.id, &WorkerConfig::default())
        .await
        .unwrap();

    let state = AppState::new(verdicts).with_admin_token(Some("secret".into()));
    let response = sendguard::http::app(state)
        .oneshot(
            Request::get("/metrics")
                .header(paths::ADMIN_TOKEN_HEADER, "secret")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let series = parse(std::str::from_utf8(&bytes).unwrap());
    let at_least_one = |key: &str| {
        let v = series.get(key).unwrap_or_else(|| panic!("{key} exported"));
        assert!(*v >= 1.0, "{key} = {v}");
    };
    for step in [
        "dns_mx",
        "dns_address",
        "dns_tlsa",
        "connect",
        "greeting",
        "ehlo",
    ] {
        at_least_one(&format!(
            "sendguard_probe_step_seconds_count{{step=\"{step}\"}}"
        ));
    }
    at_least_one("sendguard_probe_step_seconds_count{step=\"handshake\"}");
    at_least_one("sendguard_probe_step_seconds_bucket{step=\"handshake\",le=\"+Inf\"}");
    at_least_one("sendguard_verdicts_total{class=\"ssl_ok\",blocked=\"false\"}");
    at_least_one("sendguard_deliveries_total{outcome=\"sent\",tls=\"dane\"}");
    at_least_one("sendguard_policy_lookups_total{map=\"tlspolicy\",answer=\"ok\"}");
    assert_eq!(series["sendguard_queue_recipients{state=\"queued\"}"], 1.0);
    assert_eq!(series["sendguard_queue_recipients{state=\"held\"}"], 0.0);
    assert!(series.contains_key("sendguard_queue_oldest_age_seconds{state=\"queued\"}"));
    assert_eq!(series["sendguard_resolver_validating"], 1.0);
    assert!(series.contains_key("sendguard_holds_open"));

    let exported: BTreeSet<&str> = series
        .keys()
        .map(|k| k.split('{').next().unwrap())
        .collect();
    for name in dashboard_names() {
        assert!(
            exported.contains(name.as_str()),
            "the dashboard asks for {name}, which the server does not export"
        );
    }
    env.world.shutdown().await;
}
