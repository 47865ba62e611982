//! Three `sendguard serve` processes on one PostgreSQL database (issue 16): they share the queue,
//! the holds and the sessions.
//!
//! - 500 messages are handed to the three in turn (over HTTP, with one session made on the
//!   first); one of them is killed with SIGKILL in the middle of delivering them. In the end every
//!   message was received, and a message arrived twice at most for the transactions the killed
//!   process had in flight (RFC 5321 §6.1: a duplicate over a loss); its claimed recipients were
//!   taken over once their lease ran out.
//! - No mail server was probed twice within the re-contact interval: the instances share their
//!   SMTP sessions' results through the store (`probe/ledger.rs`).
//! - A hold raised by one instance stops delivery on another at once, though the server offers
//!   TLS again by then: the hold waits for an administrator.
//! - A page's event stream on one instance hears of a verdict another instance found
//!   (PostgreSQL's LISTEN/NOTIFY).
//! - A session made on one instance is valid on the others; signing out on one ends it on all.
//!
//! Needs PostgreSQL: `SENDGUARD_TEST_POSTGRES` (scripts/test.sh starts one and runs this).

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sendguard::store::{Location, Store};
use sendguard_common::{RecipientState, Role, SendRequest, paths};
use sendguard_sim::smtp::{PeerBehaviour, Verb};

use sendguard_sim::world::{SimWorld, scenarios};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MESSAGES: usize = 500;
const DOMAINS: [&str; 3] = ["tls.test", "dane-ee.test", "plain.test"];
/// Probed through one instance while a page waits for it on another.
const LISTENED: &str = "dane-ta.test";
const LOGIN: &str = "maxima";
const ADDRESS: &str = "maxima.mustermann@sendguard.example";

/// A `sendguard serve` child, killed when dropped (also when an assertion fails).
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(world: &SimWorld, database: &str) -> Serve {
    use std::io::BufRead;
    let e = world.endpoints();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-private-targets",
        ])
        .args(["--database", database, "--database-pool", "8"])
        .args(["--dns-resolver", &e.resolver.to_string()])
        .arg("--trust-anchor")
        .arg(&e.trust_anchor)
        .args(["--smtp-port", &e.smtp_port.to_string()])
        .args(["--delivery-poll", "1s", "--delivery-lease", "3s"])
        .args(["--rate-per-client", "0", "--rate-per-session", "0"])
        .env("SENDGUARD_RESOLVER_CHECK_SECURE", &e.self_test_secure)
        .env("SENDGUARD_RESOLVER_CHECK_BOGUS", &e.self_test_bogus)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sendguard serve starts");
    let stdout = child.stdout.take().expect("its output");
    // Killed and waited for when dropped, also on the panic below.
    let mut serve = Serve {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        if let Some(rest) = line.split("open http://").nth(1) {
            serve.addr = rest.split('/').next().unwrap().parse().unwrap();
            return serve;
        }
    }
    panic!("sendguard serve did not say where it serves");
}

/// An HTTP answer: status, `Set-Cookie`'s `name=value`, body.
struct Answer {
    status: u16,
    cookie: Option<String>,
    body: String,
}

/// One request on its own connection; `None` when the instance does not answer (killed).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    session: Option<(&str, &str)>,
    body: &str,
) -> Option<Answer> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some((cookie, csrf)) = session {
        head.push_str(&format!(
            "Cookie: {cookie}\r\n{}: {csrf}\r\n",
            paths::CSRF_HEADER
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(body.as_bytes()).await.ok()?;
    let mut raw = String::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_string(&mut raw))
        .await
        .expect("an answer in time")
        .ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().split(';').next().unwrap_or("").to_string());
    Some(Answer {
        status,
        cookie,
        body: body.to_string(),
    })
}

/// Signs in on `addr`: the cookie and the CSRF token.
async fn sign_in(addr: SocketAddr) -> (String, String) {
    let body = serde_json::json!({ "login": LOGIN, "password": common::TEST_PASSWORD });
    let a = request(addr, "POST", paths::SESSION, None, &body.to_string())
        .await
        .expect("an answer");
    assert_eq!(a.status, 200, "{}", a.body);
    let view: sendguard_common::SessionView = serde_json::from_str(&a.body).expect("JSON");
    (a.cookie.expect("a session cookie"), view.csrf_token)
}

/// Hands message `i` to the first live instance from `first` on; its Message-ID.
async fn send(servers: &[Serve], first: usize, session: (&str, &str), i: usize) -> String {
    let request_body = serde_json::to_string(&SendRequest {
        from: ADDRESS.into(),
        to: vec![format!("user{i}@{}", DOMAINS[i % DOMAINS.len()])],
        subject: format!("Nachricht {i}"),
        body: format!("Text {i}"),
        ..Default::default()
    })
    .unwrap();
    for k in 0..servers.len() {
        let addr = servers[(first + k) % servers.len()].addr;
        if let Some(a) = request(addr, "POST", paths::MESSAGES, Some(session), &request_body).await
        {
            assert!((200..300).contains(&a.status), "message {i}: {}", a.body);
            let view: serde_json::Value = serde_json::from_str(&a.body).expect("JSON");
            return view["message_id"]
                .as_str()
                .expect("a Message-ID")
                .to_string();
        }
    }
    panic!("no instance took message {i}");
}

struct Cluster {
    world: SimWorld,
    store: Store,
    servers: Vec<Serve>,
    _dir: tempfile::TempDir,
}

async fn cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let list = scenarios()
        .into_iter()
        .filter(|s| DOMAINS.contains(&s.domain) || s.domain == LISTENED)
        .collect();
    let world = SimWorld::start_with(list, dir.path()).await.unwrap();
    let Location::Postgres(url) = common::test_database(dir.path()).await else {
        panic!("the cluster test needs SENDGUARD_TEST_POSTGRES (scripts/test.sh sets it)");
    };
    let store = common::open_location(&Location::Postgres(url.clone())).await;
    let hash = sendguard::user::password::hash(common::TEST_PASSWORD).unwrap();
    store
        .add_user(&sendguard::store::users::NewUser {
            id: LOGIN,
            display_name: "Maxima Mustermann",
            role: Role::User,
            addresses: &[ADDRESS.to_string()],
            password_hash: &hash,
        })
        .await
        .unwrap();
    let servers = (0..3).map(|_| serve(&world, &url)).collect();
    Cluster {
        world,
        store,
        servers,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (SENDGUARD_TEST_POSTGRES): scripts/test.sh runs it"]
async fn three_instances_share_queue_holds_and_sessions() {
    let mut c = cluster().await;
    let session = sign_in(c.servers[0].addr).await;
    let session = (session.0.as_str(), session.1.as_str());

    // 500 messages through all three; the first is killed once 100 arrived while it holds
    // claims, so that another instance must take them over when their lease runs out.
    let mut ids = Vec::new();
    let mut orphans = None;
    for i in 0..MESSAGES {
        ids.push(send(&c.servers, i % 3, session, i).await);
        if orphans.is_none() {
            orphans = kill_first_when_claiming(&mut c).await;
        }
    }
    let start = Instant::now();
    while orphans.is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first instance never held a claim after 100 arrived"
        );
        orphans = kill_first_when_claiming(&mut c).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let orphans = orphans.unwrap();
    assert!(
        common::received(&c.world, &DOMAINS).len() < MESSAGES,
        "the kill came after the whole batch"
    );
    let start = Instant::now();
    loop {
        let counts = common::recipient_states(&c.store).await;
        if counts.get(&RecipientState::Sent) == Some(&MESSAGES) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "not all delivered: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = common::received(&c.world, &DOMAINS);
    let mut times: HashMap<&str, usize> = HashMap::new();
    for id in &got {
        *times.entry(id.as_str()).or_insert(0) += 1;
    }
    let lost: Vec<_> = ids
        .iter()
        .filter(|id| !times.contains_key(id.as_str()))
        .collect();
    assert!(lost.is_empty(), "marked sent but never received: {lost:?}");
    let sent: std::collections::HashSet<i64> =
        sqlx::query_scalar("SELECT id FROM message_recipients WHERE state = 'sent'")
            .fetch_all(c.store.pool())
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert!(
        orphans.iter().all(|id| sent.contains(id)),
        "the killed instance's claims {orphans:?} were taken over and sent"
    );
    let twice = got.len() - times.len();
    assert!(
        twice <= DOMAINS.len(),
        "{twice} messages arrived twice; at most the {} the killed instance had in flight may",
        DOMAINS.len()
    );
    let (one, two) = (c.servers[1].addr, c.servers[2].addr);
    // Every delivery began with a look at the server (a probe: no MAIL), shared by the three
    // through the store within the re-contact interval (5 min; this test takes less): once per
    // server, whichever instance delivered.
    for d in DOMAINS {
        let peer = c.world.peer(&format!("mx.{d}")).unwrap();
        let probes = peer
            .sessions()
            .iter()
            .filter(|s| !s.commands.iter().any(|c| c.verb == Verb::Mail))
            .count();
        assert!(
            probes <= 1,
            "mx.{d} was probed {probes} times within the interval"
        );
    }

    // A hold raised through the second instance stops delivery through the third.
    let peer = c.world.peer("mx.tls.test").unwrap();
    let tls = peer.behaviour();
    peer.set_behaviour(PeerBehaviour::NoStarttls);
    let before = peer.received().len();
    let held_id = send(&c.servers[1..], 0, session, 9000).await;
    wait_for_state(&c.store, &held_id, RecipientState::Held).await;
    assert!(!c.store.holds(false).await.unwrap().is_empty(), "a hold");
    peer.set_behaviour(tls);
    let next_id = send(&c.servers[2..], 0, session, 9003).await;
    wait_for_state(&c.store, &next_id, RecipientState::Held).await;
    assert_eq!(
        peer.received().len(),
        before,
        "nothing went to the held server"
    );

    // A page on the third waits for a domain that the second is asked about.
    let mut stream = TcpStream::connect(two).await.unwrap();
    let head = format!(
        "GET {}?domains={LISTENED} HTTP/1.1\r\nHost: {two}\r\nCookie: {}\r\n\r\n",
        paths::RECIPIENT_EVENTS,
        session.0
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let opened = read_until(&mut stream, &mut seen, "text/event-stream").await;
    assert!(opened, "{}", String::from_utf8_lossy(&seen));
    let body = serde_json::json!({ "addresses": [format!("someone@{LISTENED}")] });
    let a = request(
        one,
        "POST",
        paths::RECIPIENT_SECURITY,
        Some(session),
        &body.to_string(),
    )
    .await
    .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    let verdict = format!("\"domain\":\"{LISTENED}\"");
    assert!(
        read_until(&mut stream, &mut seen, &verdict).await,
        "no verdict on the other instance's stream: {}",
        String::from_utf8_lossy(&seen)
    );

    // The session made on the first (now dead) instance works on the others; signing out on
    // one ends it on every one.
    for addr in [one, two] {
        let a = request(addr, "GET", paths::ACCOUNT, Some(session), "")
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let out = request(one, "DELETE", paths::SESSION, Some(session), "")
        .await
        .unwrap();
    assert!(out.status < 300, "signed out: {} {}", out.status, out.body);
    let a = request(two, "GET", paths::ACCOUNT, Some(session), "")
        .await
        .unwrap();
    assert_eq!(a.status, 401, "the session ended on the other instance too");
}

/// Once 100 messages arrived and the first instance holds claims, kills it with SIGKILL; the
/// ids of the recipients it held.
async fn kill_first_when_claiming(c: &mut Cluster) -> Option<Vec<i64>> {
    if common::received(&c.world, &DOMAINS).len() < 100 {
        return None;
    }
    // The instance's name is host/pid/start (store::instance_name).
    let pattern = format!("%/{}/%", c.servers[0].child.id());
    if claimed_by(&c.store, &pattern).await.is_empty() {
        return None;
    }
    c.servers[0].child.kill().unwrap();
    c.servers[0].child.wait().unwrap();
    let held = claimed_by(&c.store, &pattern).await;
    (!held.is_empty()).then_some(held)
}

/// The recipients being sent by the instances whose name is LIKE `pattern`.
async fn claimed_by(store: &Store, pattern: &str) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT id FROM message_recipients WHERE state = 'sending' AND claimed_by LIKE $1",
    )
    .bind(pattern)
    .fetch_all(store.pool())
    .await
    .unwrap()
}

/// Reads `stream` into `seen` until `needle` appears (`true`) or 30 s pass (`false`).
async fn read_until(stream: &mut TcpStream, seen: &mut Vec<u8>, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(seen).contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
            _ => return false,
        }
    }
    true
}

/// Waits until the recipient of the message with Message-ID `id` is in `state`.
async fn wait_for_state(store: &Store, id: &str, state: RecipientState) {
    let start = Instant::now();
    loop {
        let now: Option<(String,)> = sqlx::query_as(
            "SELECT r.state FROM message_recipients r JOIN messages m ON m.id = r.message
             WHERE m.message_id = $1",
        )
        .bind(id)
        .fetch_optional(store.pool())
        .await
        .unwrap();
        if now.as_ref().map(|(s,)| s.as_str()) == Some(state.as_str()) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "message {id} is {now:?}, not {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
