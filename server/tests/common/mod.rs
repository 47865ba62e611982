//! Builders shared by the integration tests that need facts without a network: what a probe of
//! a domain in an unsigned zone would have gathered, written by hand, for the store, the admin
//! API and the CLI. Each test file uses some of them, so unused ones are allowed here.
#![allow(dead_code)]

use sendguard::probe::facts::{
    DaneOutcome, DomainFacts, EndpointFacts, EndpointOutcome, HostFacts, MxFacts, SessionFacts,
    TlsFacts, TlsFailureFacts, TlsaFacts,
};
use sendguard_common::{DnssecStatus, DomainVerdict};

/// A TLS 1.3 session with a certificate that is not WebPKI-valid and no DANE.
pub fn tls13() -> TlsFacts {
    TlsFacts::tls13_example(DaneOutcome::NotApplicable)
}

/// An SMTP session with `ip`: STARTTLS offered or not, and what came of it.
pub fn session(
    ip: &str,
    starttls_offered: bool,
    tls: Option<TlsFacts>,
    tls_failure: Option<TlsFailureFacts>,
) -> EndpointFacts {
    EndpointFacts {
        ip: ip.parse().expect("an IP address"),
        outcome: EndpointOutcome::Session(SessionFacts {
            starttls_offered,
            ehlo_refused: None,
            tls,
            tls_failure,
        }),
    }
}

/// A session with `ip` that is TLS 1.3 after STARTTLS, or plain without STARTTLS.
pub fn tls_or_plain(ip: &str, tls: bool) -> EndpointFacts {
    session(ip, tls, tls.then(tls13), None)
}

/// An MX host (preference 10) with unsigned address records and so no TLSA lookup.
pub fn insecure_host(host: &str, endpoints: Vec<EndpointFacts>) -> HostFacts {
    HostFacts {
        host: host.into(),
        preference: 10,
        address_dnssec: DnssecStatus::Insecure,
        tlsa: TlsaFacts::Insecure,
        address_error: None,
        not_probed: None,
        endpoints,
    }
}

/// A domain with an unsigned MX answer naming `hosts`, observed at `at`.
pub fn insecure_domain(domain: &str, at: i64, hosts: Vec<HostFacts>) -> DomainFacts {
    DomainFacts {
        domain: domain.into(),
        checked_at: at,
        mx: MxFacts::Hosts {
            dnssec: DnssecStatus::Insecure,
            implicit: false,
            hosts,
        },
        mta_sts: sendguard::mta_sts::StsFacts::NotChecked,
    }
}

/// Probes `target` afresh through the one path every verdict takes (the verdict service with a
/// store of its own, new for this call), and returns its verdict.
pub async fn probe_verdict(
    prober: sendguard::probe::Prober,
    target: &str,
) -> sendguard_common::DomainVerdict {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = sendguard::store::Store::open(&dir.path().join("sendguard.db"))
        .await
        .expect("a store");
    let verdicts = sendguard::verdicts::Verdicts::new(
        prober,
        store,
        sendguard::verdicts::alerts::Alerts::new(None).expect("alerts without a webhook"),
        std::time::Duration::from_secs(3600),
    );
    verdicts.probe_now(target, true).await.expect("a verdict")
}

/// A probe configuration that talks to a simulated world: its resolver, trust anchor, SMTP
/// port and timeouts, private (loopback) targets allowed. What `sendguard demo` builds too.
pub fn sim_probe_config(world: &sendguard_sim::world::SimWorld) -> sendguard::probe::ProbeConfig {
    probe_config_for(world.endpoints())
}

/// The probe configuration of [`sim_probe_config`] for a world known only by its endpoints
/// (e.g. one running in another process).
pub fn probe_config_for(
    endpoints: sendguard_sim::world::SimEndpoints,
) -> sendguard::probe::ProbeConfig {
    let mut config = sendguard::probe::ProbeConfig::new(sendguard::dns::DnsConfig {
        resolver: Some(endpoints.resolver),
        trust_anchor: Some(endpoints.trust_anchor),
        timeout: endpoints.dns_timeout,
    });
    config.allow_private_targets = true;
    config.smtp.port = endpoints.smtp_port;
    config.smtp.greeting_timeout = endpoints.greeting_timeout;
    config.mta_sts.port = endpoints.https_port;
    config.extra_roots = Some(endpoints.extra_roots.clone());
    config
}

/// A simulated world of `list` with a prober, a store and verdicts on it, in `dir`.
pub struct SimEnv {
    /// The world.
    pub world: sendguard_sim::world::SimWorld,
    /// Its prober.
    pub prober: sendguard::probe::Prober,
    /// The store, in `dir` (or on PostgreSQL: [`test_store`]).
    pub store: sendguard::store::Store,
    /// Where the store is, to open it a second time.
    pub location: sendguard::store::Location,
    /// Verdicts from both (re-probed after an hour).
    pub verdicts: sendguard::verdicts::Verdicts,
}

/// Starts [`SimEnv`] for `list` in `dir`.
pub async fn sim_env(list: Vec<sendguard_sim::world::Scenario>, dir: &std::path::Path) -> SimEnv {
    let world = sendguard_sim::world::SimWorld::start_with(list, dir)
        .await
        .expect("sim starts");
    let prober = sendguard::probe::Prober::new(sim_probe_config(&world)).expect("a prober");
    let location = test_database(dir).await;
    let store = open_location(&location).await;
    let verdicts = sendguard::verdicts::Verdicts::new(
        prober.clone(),
        store.clone(),
        sendguard::verdicts::alerts::Alerts::default(),
        std::time::Duration::from_secs(3600),
    );
    SimEnv {
        world,
        prober,
        store,
        location,
        verdicts,
    }
}

/// A whole application state for routes that never probe (health, assets, malformed requests):
/// a store in a temporary directory (kept alive by the returned guard) and a prober whose
/// resolver is a loopback port nothing answers on.
pub async fn offline_state() -> (sendguard::http::AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = test_store(dir.path()).await;
    let prober = sendguard::probe::Prober::new(sendguard::probe::ProbeConfig::new(
        sendguard::dns::DnsConfig {
            resolver: Some("127.0.0.1:9".parse().expect("an address")),
            trust_anchor: None,
            timeout: std::time::Duration::from_secs(1),
        },
    ))
    .expect("a prober");
    let verdicts = sendguard::verdicts::Verdicts::new(
        prober,
        store,
        sendguard::verdicts::alerts::Alerts::new(None).expect("alerts without a webhook"),
        std::time::Duration::from_secs(3600),
    );
    (sendguard::http::AppState::new(verdicts), dir)
}

/// Reads the `verdict` events of an event stream (`paths::RECIPIENT_EVENTS`) until `count`
/// domains have one, the latest kept per domain; panics when `within` passes first or the
/// stream ends.
pub async fn read_verdicts(
    body: axum::body::Body,
    count: usize,
    within: std::time::Duration,
) -> std::collections::HashMap<String, DomainVerdict> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut text = String::new();
    let mut seen = std::collections::HashMap::new();
    let deadline = tokio::time::Instant::now() + within;
    while seen.len() < count {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("the verdicts come in time")
            .expect("the stream stays open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if !event.contains("event: verdict") {
                continue;
            }
            let json = event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .expect("a data line");
            let v: DomainVerdict = serde_json::from_str(json).unwrap();
            seen.insert(v.domain.clone(), v);
        }
    }
    seen
}

/// Writes a certificate as PEM (RFC 7468), e.g. the CA an operator gives with `--relay-ca`.
pub fn write_pem(cert: &[u8], path: &std::path::Path) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    std::fs::write(path, pem).expect("the PEM file is written");
}

/// Runs the `sendguard` binary with `args` against `database` (`SENDGUARD_DATABASE`), `stdin`
/// as its standard input; what it printed and how it exited.
pub fn run_sendguard(
    database: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .args(args)
        .env("SENDGUARD_DATABASE", database)
        // The resolver self-test of `send --wait` against the simulated internet.
        .env(
            "SENDGUARD_RESOLVER_CHECK_SECURE",
            sendguard_sim::world::SELF_TEST_SECURE,
        )
        .env(
            "SENDGUARD_RESOLVER_CHECK_BOGUS",
            sendguard_sim::world::SELF_TEST_BOGUS,
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sendguard binary runs");
    if let Some(mut input) = child.stdin.take() {
        // A command that does not read its input may have exited already.
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("sendguard ends")
}

/// A signed-in session for tests that drive the router: its cookie and CSRF token.
#[derive(Clone, Debug)]
pub struct TestSession {
    /// `sendguard_session=...`.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
}

impl TestSession {
    /// `request` with the session's cookie and CSRF token.
    pub fn apply(
        &self,
        mut request: axum::http::Request<axum::body::Body>,
    ) -> axum::http::Request<axum::body::Body> {
        let headers = request.headers_mut();
        headers.insert(
            axum::http::header::COOKIE,
            self.cookie.parse().expect("a cookie header"),
        );
        headers.insert(
            sendguard_common::paths::CSRF_HEADER,
            self.csrf.parse().expect("a CSRF header"),
        );
        request
    }
}

/// The password of the users [`signed_in`] makes.
pub const TEST_PASSWORD: &str = "correct horse battery staple";

/// Adds the user `login` with `address` and `role` to the store of `state` (unless there),
/// signs in through the router, and gives the session.
pub async fn signed_in(
    state: &sendguard::http::AppState,
    login: &str,
    address: &str,
    role: sendguard_common::Role,
) -> TestSession {
    use axum::extract::FromRef;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let verdicts = sendguard::verdicts::Verdicts::from_ref(state);
    let store = verdicts.store();
    if store
        .user(login)
        .await
        .expect("the store answers")
        .is_none()
    {
        let hash = sendguard::user::password::hash(TEST_PASSWORD).expect("a hash");
        store
            .add_user(&sendguard::store::users::NewUser {
                id: login,
                display_name: "Maxima Mustermann",
                role,
                addresses: &[address.to_string()],
                password_hash: &hash,
            })
            .await
            .expect("the user is added");
    }
    let body = serde_json::json!({ "login": login, "password": TEST_PASSWORD }).to_string();
    let request = axum::http::Request::post(sendguard_common::paths::SESSION)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body))
        .expect("a request");
    let response = sendguard::http::app(state.clone())
        .oneshot(request)
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200, "signed in");
    let cookie = response.headers()[axum::http::header::SET_COOKIE]
        .to_str()
        .expect("a cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_string();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let view: sendguard_common::SessionView = serde_json::from_slice(&bytes).expect("JSON");
    TestSession {
        cookie,
        csrf: view.csrf_token,
    }
}

/// [`signed_in`] as the default account's user, `maxima`.
pub async fn maxima(state: &sendguard::http::AppState) -> TestSession {
    signed_in(
        state,
        "maxima",
        "maxima.mustermann@sendguard.example",
        sendguard_common::Role::User,
    )
    .await
}

/// The application of `state` with maxima signed in: every request goes with her session.
pub async fn signed_in_app(state: sendguard::http::AppState) -> axum::Router {
    let session = maxima(&state).await;
    sendguard::http::app(state).layer(tower::util::MapRequestLayer::new(
        move |request: axum::http::Request<axum::body::Body>| session.apply(request),
    ))
}

/// Answers one webhook POST on `listener` with 204 and gives its head and body.
pub fn webhook_receiver(
    listener: tokio::net::TcpListener,
) -> tokio::task::JoinHandle<(String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    socket
                        .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .unwrap();
                    return (head.to_string(), body.to_string());
                }
            }
        }
        panic!("the webhook request ended early");
    })
}

/// The store a test runs against: a SQLite file in `dir`, or, when `SENDGUARD_TEST_POSTGRES`
/// names a PostgreSQL server (`postgres://user@host:port/postgres`, a user that may create
/// databases; `scripts/test.sh` starts one), a new empty database on it for this test alone.
pub async fn test_store(dir: &std::path::Path) -> sendguard::store::Store {
    open_location(&test_database(dir).await).await
}

/// Opens the store at `location` (again).
pub async fn open_location(location: &sendguard::store::Location) -> sendguard::store::Store {
    sendguard::store::Store::connect(location, 4)
        .await
        .expect("a store")
}

/// Where [`test_store`] keeps a test's store: `--database` for a `sendguard` process.
pub async fn test_database(dir: &std::path::Path) -> sendguard::store::Location {
    match std::env::var("SENDGUARD_TEST_POSTGRES") {
        Ok(admin) if !admin.is_empty() => {
            sendguard::store::Location::Postgres(fresh_postgres_database(&admin).await)
        }
        _ => sendguard::store::Location::File(dir.join("sendguard.db")),
    }
}

/// Creates an empty database on the server of `admin_url`; its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use sqlx::Connection;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .subsec_nanos();
    let name = format!("sg_{}_{n}_{nanos}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("the test's PostgreSQL server answers");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("a new database");
    admin.close().await.ok();
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("an admin URL ending in /DATABASE");
    format!("{base}/{name}")
}

/// The Message-IDs of every message the peers `mx.DOMAIN` of `domains` received, in no
/// particular order (a message received twice is listed twice).
pub fn received(world: &sendguard_sim::world::SimWorld, domains: &[&str]) -> Vec<String> {
    domains
        .iter()
        .flat_map(|d| world.peer(&format!("mx.{d}")).expect("peer").received())
        .filter_map(|m| m.message_id())
        .collect()
}

/// How many queued recipients are in each state.
pub async fn recipient_states(
    store: &sendguard::store::Store,
) -> std::collections::HashMap<sendguard_common::RecipientState, usize> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT state FROM message_recipients")
        .fetch_all(store.pool())
        .await
        .expect("the store answers");
    let mut counts = std::collections::HashMap::new();
    for (state,) in rows {
        *counts
            .entry(sendguard_common::RecipientState::parse(&state).expect("a state"))
            .or_insert(0) += 1;
    }
    counts
}
