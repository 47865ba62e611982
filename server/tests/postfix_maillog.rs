//! Learning from Postfix's log against the simulated internet: lines in Postfix's own format
//! appended to a log file that `sendguard postfix --maillog` follows (here the same follower in
//! process) become observations with `source = postfix`; a delivery Postfix made in plain text
//! to a server seen with TLS raises a hold, and the TLS policy table then defers the domain.
//! (The interop test checks the same with lines a real Postfix wrote.)

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use sendguard::postfix::follow::{self, LogSource};
use sendguard::postfix::tls_policy;
use sendguard_common::{DaneStatus, ObservationSource, SecurityClass};
use sendguard_sim::world::scenarios;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn tls_line(pid: u32, trust: &str, host: &str, ip: &str) -> String {
    format!(
        "Dec  2 01:00:00 mta postfix/smtp[{pid}]: {trust} TLS connection established to \
         {host}[{ip}]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) \
         key-exchange X25519 server-signature ECDSA (P-256) server-digest SHA256"
    )
}

fn status_line(pid: u32, qid: &str, rcpt: &str, host: &str, ip: &str, status: &str) -> String {
    format!(
        "Dec  2 01:00:01 mta postfix/smtp[{pid}]: {qid}: to=<{rcpt}>, relay={host}[{ip}]:25, \
         delay=0.3, delays=0.1/0/0.1/0.1, dsn=2.0.0, status={status}"
    )
}

/// Waits until `host` has at least `n` observations from Postfix; they, newest first.
async fn postfix_observations(
    store: &sendguard::store::Store,
    host: &str,
    n: usize,
) -> Vec<sendguard_common::ObservationView> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen: Vec<_> = store
            .observations(host, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|o| o.source == ObservationSource::Postfix)
            .collect();
        if seen.len() >= n {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{host}: {} of {n} observations",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn policy(addr: std::net::SocketAddr, query: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("{}:{query},", query.len()).as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    let (_, rest) = text.split_once(':').unwrap();
    rest.trim_end_matches(',').to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_deliveries_become_observations_and_a_downgrade_holds_the_domain() {
    let dir = tempfile::tempdir().unwrap();
    let env = common::sim_env(scenarios(), dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let table = listener.local_addr().unwrap();
    tokio::spawn(tls_policy::serve(listener, env.verdicts.clone()));
    let log = dir.path().join("mail.log");
    append(
        &log,
        &["Dec  2 00:59:59 mta postfix/master[1]: daemon started".into()],
    );
    tokio::spawn(follow::run(
        LogSource::File(log.clone()),
        env.verdicts.clone(),
    ));
    // Seen with TLS by a probe first: its floor is TLS.
    env.verdicts.probe_now("tls.test", true).await.unwrap();
    assert_eq!(policy(table, "tlspolicy tls.test").await, "OK encrypt");
    tokio::time::sleep(follow::POLL * 2).await;

    let tls_ip = env
        .world
        .peer("mx.tls.test")
        .unwrap()
        .addr()
        .ip()
        .to_string();
    let dane_ip = env
        .world
        .peer("mx.dane-ee.test")
        .unwrap()
        .addr()
        .ip()
        .to_string();
    append(
        &log,
        &[
            tls_line(100, "Untrusted", "mx.tls.test", &tls_ip),
            status_line(
                100,
                "4A1",
                "u@tls.test",
                "mx.tls.test",
                &tls_ip,
                "sent (250 ok)",
            ),
            tls_line(101, "Verified", "mx.dane-ee.test", &dane_ip),
            status_line(
                101,
                "4A2",
                "u@dane-ee.test",
                "mx.dane-ee.test",
                &dane_ip,
                "sent (250 ok)",
            ),
        ],
    );
    let tls = postfix_observations(&env.store, "mx.tls.test", 1).await;
    assert_eq!(tls[0].class, SecurityClass::SslOk);
    assert_eq!(tls[0].tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(tls[0].cipher.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
    assert_eq!(tls[0].domain, "tls.test");
    assert_eq!(tls[0].ip, tls_ip);
    let dane = postfix_observations(&env.store, "mx.dane-ee.test", 1).await;
    assert_eq!(dane[0].class, SecurityClass::DaneOk);
    assert_eq!(dane[0].dane, DaneStatus::Verified);
    assert!(env.store.holds(false).await.unwrap().is_empty());

    // Postfix then delivers to the TLS server in plain text (its policy said `may`, the server
    // stopped offering STARTTLS): a downgrade, held like one a probe saw.
    append(
        &log,
        &[status_line(
            102,
            "4A3",
            "v@tls.test",
            "mx.tls.test",
            &tls_ip,
            "sent (250 ok)",
        )],
    );
    let tls = postfix_observations(&env.store, "mx.tls.test", 2).await;
    assert_eq!(tls[0].class, SecurityClass::NoSsl, "{:?}", tls[0]);
    let holds = env.store.holds(false).await.unwrap();
    assert_eq!(holds.len(), 1, "{holds:?}");
    assert_eq!(holds[0].host, "mx.tls.test");
    let answer = policy(table, "tlspolicy tls.test").await;
    assert!(
        answer.starts_with("TEMP "),
        "the table defers a held domain: {answer}"
    );
    // The DANE domain is untouched.
    assert_eq!(
        policy(table, "tlspolicy dane-ee.test").await,
        "OK dane-only"
    );
}

/// `sendguard postfix --maillog -` reads the log from standard input, as
/// `journalctl -f -o short -u postfix@- | sendguard postfix --maillog -` feeds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_on_standard_input_is_read_as_it_comes() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let world = sendguard_sim::world::SimWorld::start_with(
        scenarios()
            .into_iter()
            .filter(|s| s.domain == "tls.test")
            .collect(),
        dir.path(),
    )
    .await
    .unwrap();
    let e = world.endpoints();
    let db = dir.path().join("sendguard.db");
    let store = sendguard::store::Store::open(&db).await.unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sendguard"))
        .args(["postfix", "--maillog", "-", "--allow-private-targets"])
        .args(["--dns-resolver", &e.resolver.to_string()])
        .arg("--trust-anchor")
        .arg(&e.trust_anchor)
        .args(["--smtp-port", &e.smtp_port.to_string()])
        .env("SENDGUARD_DATABASE", &db)
        .env("SENDGUARD_RESOLVER_CHECK_SECURE", &e.self_test_secure)
        .env("SENDGUARD_RESOLVER_CHECK_BOGUS", &e.self_test_bogus)
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    /// Stops the child also when an assertion fails.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut input = child.stdin.take().unwrap();
    let _child = Kill(child);
    let ip = world.peer("mx.tls.test").unwrap().addr().ip().to_string();
    let lines = [
        tls_line(200, "Untrusted", "mx.tls.test", &ip),
        status_line(
            200,
            "4B1",
            "u@tls.test",
            "mx.tls.test",
            &ip,
            "sent (250 ok)",
        ),
    ];
    for l in &lines {
        writeln!(input, "{l}").unwrap();
    }
    input.flush().unwrap();
    let seen = postfix_observations(&store, "mx.tls.test", 1).await;
    assert_eq!(seen[0].class, SecurityClass::SslOk);
    assert_eq!(seen[0].tls_version.as_deref(), Some("TLSv1.3"));
}
