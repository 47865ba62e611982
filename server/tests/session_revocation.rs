//! Signed-in sessions are kept in memory by each server (`http/session_cache.rs`), and still
//! every ending of a session holds for the very next request, wherever it was made: a password
//! change or a user removed by `sendguard user` in another process while two `sendguard serve`
//! processes share the database, and a sign-out on one of them. Each server has used the session
//! just before (so it is in memory) and is asked again right after the command returned.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use sendguard_common::paths;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

const FIRST: &str = "correct horse battery staple";
const SECOND: &str = "a brand new password";

/// Stops the server when the test ends, also when it fails.
struct Serve(Child, SocketAddr);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sendguard serve` on `db` and reads the address it serves on.
fn serve(db: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--dns-resolver", "127.0.0.1:9"])
        .env("SENDGUARD_DATABASE", db)
        .env("SENDGUARD_RATE_PER_CLIENT", "0")
        .env("SENDGUARD_RATE_PER_SESSION", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut serve = Serve(child, SocketAddr::from(([127, 0, 0, 1], 0)));
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("open http://").nth(1) {
            serve.1 = rest.split('/').next().unwrap().parse().unwrap();
            return serve;
        }
    }
    panic!("the server did not say where it serves");
}

/// What a server answered: status, the session cookie it set (if any), body.
struct Reply {
    status: u16,
    cookie: Option<String>,
    body: String,
}

/// One HTTP/1.1 request on its own connection.
async fn request(
    server: &Serve,
    method: &str,
    path: &str,
    session: Option<&(String, String)>,
    body: &str,
) -> Reply {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some((cookie, csrf)) = session {
        head.push_str(&format!(
            "cookie: {cookie}\r\n{}: {csrf}\r\n",
            paths::CSRF_HEADER
        ));
    }
    let mut tcp = tokio::net::TcpStream::connect(server.1).await.unwrap();
    tcp.write_all(format!("{head}\r\n{body}").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let cookie = head
        .lines()
        .filter_map(|l| l.split_once(": "))
        .find(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap().to_string());
    Reply {
        status,
        cookie,
        body: body.to_string(),
    }
}

/// Signs `maxima` in on `server`: the cookie and the CSRF token.
async fn sign_in(server: &Serve, password: &str) -> (String, String) {
    let body = serde_json::json!({ "login": "maxima", "password": password }).to_string();
    let r = request(server, "POST", paths::SESSION, None, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let view: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    (
        r.cookie.unwrap(),
        view["csrf_token"].as_str().unwrap().to_string(),
    )
}

/// The status of `GET /api/session` with `session` on each server.
async fn session_status(servers: &[&Serve], session: &(String, String)) -> Vec<u16> {
    let mut statuses = Vec::new();
    for s in servers {
        statuses.push(
            request(s, "GET", paths::SESSION, Some(session), "")
                .await
                .status,
        );
    }
    statuses
}

/// Uses `session` on each server a few times, so that each keeps it in memory.
async fn used_everywhere(servers: &[&Serve], session: &(String, String)) {
    for _ in 0..3 {
        assert_eq!(session_status(servers, session).await, [200, 200]);
    }
}

fn sendguard(db: &Path, args: &[&str], stdin: &str) {
    let out = common::run_sendguard(db, args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn add_maxima(db: &Path) {
    sendguard(
        db,
        &[
            "user",
            "add",
            "maxima",
            "--address",
            "maxima@sendguard.example",
        ],
        &format!("{FIRST}\n"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_or_removal_by_another_process_ends_sessions_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sendguard.db");
    add_maxima(&db);
    let (a, b) = (serve(&db), serve(&db));
    let servers = [&a, &b];

    let session = sign_in(&a, FIRST).await;
    used_everywhere(&servers, &session).await;
    sendguard(&db, &["user", "passwd", "maxima"], &format!("{SECOND}\n"));
    assert_eq!(
        session_status(&servers, &session).await,
        [401, 401],
        "the password changed: refused by both at once"
    );

    let session = sign_in(&b, SECOND).await;
    used_everywhere(&servers, &session).await;
    sendguard(&db, &["user", "remove", "maxima"], "");
    assert_eq!(
        session_status(&servers, &session).await,
        [401, 401],
        "the user is gone: refused by both at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_on_one_server_ends_the_session_on_every_server_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sendguard.db");
    add_maxima(&db);
    let (a, b) = (serve(&db), serve(&db));
    let servers = [&a, &b];

    let session = sign_in(&a, FIRST).await;
    let other = sign_in(&b, FIRST).await;
    used_everywhere(&servers, &session).await;
    used_everywhere(&servers, &other).await;
    let r = request(&a, "DELETE", paths::SESSION, Some(&session), "").await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        session_status(&servers, &session).await,
        [401, 401],
        "signed out: refused by both at once"
    );
    assert_eq!(
        session_status(&servers, &other).await,
        [200, 200],
        "her other session goes on"
    );
    // A verdict request, the route the cache is for, is refused the same way.
    let body = r#"{"addresses":["someone@example.org"]}"#;
    let r = request(&b, "POST", paths::RECIPIENT_SECURITY, Some(&session), body).await;
    assert_eq!(r.status, 401, "{}", r.body);
}
