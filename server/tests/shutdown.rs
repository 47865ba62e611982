//! SIGTERM with the real binary: `sendguard serve` with an event stream open is ready before,
//! then on SIGTERM ends the stream cleanly (the chunked body's last chunk arrives, the connection
//! is not cut) and exits 0 at once, without waiting for the stream's five-minute lifetime.
//! That deliveries in flight finish first is `delivery_crash.rs`'s SIGTERM case. `sendguard
//! postfix` (its own service beside Postfix) also stops on SIGTERM and exits 0.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sendguard::store::Store;
use sendguard::store::users::NewUser;
use sendguard_common::Role;
use sendguard_sim::world::{SimWorld, scenarios};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "correct horse battery staple";

/// Kills the server when the test ends, also when it fails.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sendguard serve` against `world` and reads where it serves.
fn serve(world: &SimWorld, db: &std::path::Path) -> (Serve, SocketAddr) {
    let e = world.endpoints();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-private-targets",
        ])
        .args(["--dns-resolver", &e.resolver.to_string()])
        .arg("--trust-anchor")
        .arg(&e.trust_anchor)
        .args(["--smtp-port", &e.smtp_port.to_string()])
        .arg("--database")
        .arg(db)
        .env("SENDGUARD_RESOLVER_CHECK_SECURE", &e.self_test_secure)
        .env("SENDGUARD_RESOLVER_CHECK_BOGUS", &e.self_test_bogus)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sendguard serve starts");
    let stdout = child.stdout.take().unwrap();
    let server = Serve(child);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("open http://").nth(1) {
            let addr = rest.split('/').next().unwrap().parse().unwrap();
            return (server, addr);
        }
    }
    panic!("the server did not say where it serves");
}

/// One request on its own connection (`Connection: close`), the whole answer as text.
async fn exchange(addr: SocketAddr, request: String) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    answer
}

// Several threads: the simulated DNS must answer the child while this test blocks reading its
// output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_event_streams_cleanly_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let list = scenarios()
        .into_iter()
        .filter(|s| s.domain == "tls.test")
        .collect();
    let world = SimWorld::start_with(list, dir.path()).await.unwrap();
    let db = dir.path().join("sendguard.db");
    let store = Store::open(&db).await.unwrap();
    let hash = sendguard::user::password::hash(PASSWORD).unwrap();
    store
        .add_user(&NewUser {
            id: "maxima",
            display_name: "Maxima Mustermann",
            role: Role::User,
            addresses: &["maxima.mustermann@sendguard.example".to_string()],
            password_hash: &hash,
        })
        .await
        .unwrap();
    store.close().await;
    let (server, addr) = serve(&world, &db);

    let ready = exchange(
        addr,
        "GET /api/ready HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    let body = format!(r#"{{"login":"maxima","password":"{PASSWORD}"}}"#);
    let signed_in = exchange(
        addr,
        format!(
            "POST /api/session HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    let cookie = signed_in
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("a session cookie: {signed_in}"))
        .to_string();

    // tls.test is not known and nothing probes it: the stream stays open, waiting.
    let mut events = TcpStream::connect(addr).await.unwrap();
    events
        .write_all(
            format!(
                "GET /api/recipients/events?domains=tls.test HTTP/1.1\r\nhost: localhost\r\n\
                 cookie: {cookie}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), events.read(&mut buf))
            .await
            .expect("the stream's headers")
            .unwrap();
        assert!(n > 0, "closed before the headers");
        seen.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&seen).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");

    let stopped_at = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), events.read_to_end(&mut rest))
        .await
        .expect("the event stream ends soon after SIGTERM")
        .expect("and is not cut off");
    seen.extend_from_slice(&rest);
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.ends_with("0\r\n\r\n"),
        "the chunked body ends with its last chunk: {text:?}"
    );

    let mut server = server;
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(15),
            "serve still runs after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "serve after SIGTERM: {status:?}");
    world.shutdown().await;
}

#[tokio::test]
async fn sendguard_postfix_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let world = SimWorld::start_with(scenarios(), dir.path()).await.unwrap();
    let e = world.endpoints();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let child = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .args(["postfix", "--tls-policy", &addr.to_string()])
        .args(["--dns-resolver", &e.resolver.to_string()])
        .arg("--trust-anchor")
        .arg(&e.trust_anchor)
        .arg("--database")
        .arg(dir.path().join("sendguard.db"))
        .env("SENDGUARD_CONFIG", "/dev/null")
        .env("SENDGUARD_RESOLVER_CHECK_SECURE", &e.self_test_secure)
        .env("SENDGUARD_RESOLVER_CHECK_BOGUS", &e.self_test_bogus)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sendguard postfix starts");
    let mut server = Serve(child);
    // Listening: the table answers a connection.
    let started = Instant::now();
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "sendguard postfix does not listen on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopped_at = Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(15),
            "sendguard postfix still runs after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        status.success(),
        "sendguard postfix after SIGTERM: {status:?}"
    );
    world.shutdown().await;
}
