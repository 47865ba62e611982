//! What an operator relies on, with the real binary: `sendguard serve --config FILE` takes its
//! settings from the file, and on SIGHUP reads it again: a new admin token works at once on a
//! connection opened before the signal (nothing is dropped), a key that needs a restart is
//! named in the log, and a broken file is refused while the running configuration stays.
//! `config check` prints the effective configuration with secrets masked. `--log-format json`
//! writes one object per line whose fields a log system can filter on, and never a password.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use sendguard_common::paths;

/// Stops the server when the test ends, also when it fails.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(db: &Path, token: &str, smtp_port: u16) -> String {
    format!(
        "[listen]\naddress = \"127.0.0.1:0\"\n[database]\npath = {db:?}\n\
         [resolver]\naddress = \"127.0.0.1:9\"\n[probing]\nsmtp_port = {smtp_port}\n\
         [accounts]\nadmin_token = \"{token}\"\n[log]\nformat = \"json\"\n"
    )
}

/// Starts `sendguard serve ARGS`: its address and its log lines.
fn serve(args: &[&OsStr]) -> (Serve, SocketAddr, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .arg("serve")
        .args(args)
        .env_remove("SENDGUARD_ADMIN_TOKEN")
        .env_remove("SENDGUARD_LISTEN")
        // An empty file, not /etc/sendguard/sendguard.toml where a package is installed
        // (`--config` still wins over it).
        .env("SENDGUARD_CONFIG", "/dev/null")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, log) = channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stdout = child.stdout.take().unwrap();
    let serve = Serve(child);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("open http://").nth(1) {
            let addr = rest.split('/').next().unwrap().parse().unwrap();
            return (serve, addr, log);
        }
    }
    panic!("the server did not say where it serves");
}

/// The status of `GET /api/admin/holds` with `token`, on the open connection `conn`.
fn admin_status(conn: &mut TcpStream, token: &str) -> u16 {
    let request = format!(
        "GET {} HTTP/1.1\r\nhost: localhost\r\n{}: {token}\r\n\r\n",
        paths::ADMIN_HOLDS,
        paths::ADMIN_TOKEN_HEADER
    );
    exchange(conn, &request)
}

/// Sends `request` on `conn` and reads the response: its status.
fn exchange(conn: &mut TcpStream, request: &str) -> u16 {
    conn.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            conn.read(&mut byte).unwrap(),
            1,
            "the connection was closed"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0; length];
    conn.read_exact(&mut body).unwrap();
    head[9..12].parse().unwrap()
}

/// Waits for the JSON log line whose message contains `message`, and returns it parsed.
fn wait_for(log: &Receiver<String>, message: &str) -> serde_json::Value {
    loop {
        let line = log
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no log line saying {message:?}"));
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
            panic!("not a JSON log line: {line}");
        };
        if json["message"]
            .as_str()
            .is_some_and(|m| m.contains(message))
        {
            return json;
        }
    }
}

fn hangup(server: &Serve) {
    let status = Command::new("kill")
        .args(["-HUP", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sighup_rereads_the_file_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sendguard.db");
    let file = dir.path().join("sendguard.toml");
    std::fs::write(&file, config(&db, "first-token", 25)).unwrap();
    let (server, addr, log) = serve(&["--config".as_ref(), file.as_os_str()]);
    assert!(db.exists(), "the database named in the file");

    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(admin_status(&mut conn, "first-token"), 200);
    assert_eq!(admin_status(&mut conn, "second-token"), 401);

    std::fs::write(&file, config(&db, "second-token", 2525)).unwrap();
    hangup(&server);
    let restart = wait_for(&log, "takes effect at the next start");
    assert_eq!(restart["key"], "probing.smtp_port");
    let reread = wait_for(&log, "re-read on SIGHUP");
    assert_eq!(reread["applied"], "accounts.admin_token");
    // The same connection, opened before the signal: the new token, and only it.
    assert_eq!(admin_status(&mut conn, "second-token"), 200);
    assert_eq!(admin_status(&mut conn, "first-token"), 401);

    std::fs::write(&file, "[accounts]\nadmin_tokn = \"third\"\n").unwrap();
    hangup(&server);
    let refused = wait_for(&log, "refused on SIGHUP");
    let error = refused["error"].as_str().unwrap();
    assert!(
        error.contains(":2:") && error.contains("admin_tokn"),
        "{error}"
    );
    assert_eq!(admin_status(&mut conn, "second-token"), 200);
}

#[test]
fn config_check_prints_the_effective_configuration_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sendguard.db");
    let file = dir.path().join("sendguard.toml");
    std::fs::write(&file, config(&db, "very-secret-token", 25)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .args(["config", "check", "--config"])
        .arg(&file)
        .env("SENDGUARD_SMTP_PORT", "2525")
        .env_remove("SENDGUARD_ADMIN_TOKEN")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("very-secret-token"), "{text}");
    assert!(text.contains("admin_token = ********"), "{text}");
    assert!(
        text.contains("smtp_port = 2525  # from SENDGUARD_SMTP_PORT"),
        "the environment overrides the file: {text}"
    );
    assert!(
        text.contains("address = 127.0.0.1:0  # from the file"),
        "{text}"
    );
    assert!(
        text.contains("retry_schedule = 5m,15m,1h,4h  # default"),
        "{text}"
    );

    std::fs::write(&file, "[probing]\n\nhelo_name = \"localhost\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .args(["config", "check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let error = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{error}");
    assert!(error.contains(":3: probing.helo_name:"), "{error}");
}

#[test]
fn json_logs_carry_the_fields_of_a_refused_sign_in_and_never_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sendguard.db");
    let args: [&OsStr; 8] = [
        "--log-format".as_ref(),
        "json".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--dns-resolver".as_ref(),
        "127.0.0.1:9".as_ref(),
        "--database".as_ref(),
        db.as_os_str(),
    ];
    let (server, addr, log) = serve(&args);
    let body = r#"{"login":"Nobody","password":"hunter2-not-logged"}"#;
    let request = format!(
        "POST {} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        paths::SESSION,
        body.len()
    );
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(exchange(&mut conn, &request), 401);
    let line = wait_for(&log, "sign-in failed");
    assert_eq!(line["event"], "sign_in_refused");
    assert_eq!(line["user"], "nobody");
    assert_eq!(line["reason"], "unknown_user");
    assert!(
        line["level"].is_string() && line["timestamp"].is_string(),
        "{line}"
    );
    drop(server);
    let rest: Vec<String> = log.try_iter().collect();
    assert!(
        !line.to_string().contains("hunter2") && !rest.iter().any(|l| l.contains("hunter2")),
        "a password in the log"
    );
}
