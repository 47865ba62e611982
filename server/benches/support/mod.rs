//! Helpers shared by the sending benchmarks (`queue_cost.rs`, `delivery_vs_postfix.rs`):
//! generated sim domains, filling a real queue through the real submission code, a `sendguard
//! serve` child process pointed at a [`SimWorld`], a bare HTTP/1.1 GET (RFC 9112) and the
//! memory figures of `/proc/PID/status`. Each benchmark uses a part of them.
#![allow(dead_code)]

/// Private Postfix instances: the interop tests' code.
#[path = "../../tests/interop/instance.rs"]
pub mod instance;
pub mod postfix;
/// Commands with deadlines and daemons in their own process groups: the interop tests' code.
#[path = "../../tests/interop/process.rs"]
pub mod process;
pub mod sim_process;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sendguard::delivery::submit;
use sendguard::store::Store;
use sendguard::user::account::{AccountConfig, DEFAULT_USER};
use sendguard_common::SendRequest;
use sendguard_sim::dns::Signing;
use sendguard_sim::world::{HostKind, Scenario, SimWorld};

/// The default account's address: every benchmark message is from it.
pub const FROM: &str = "maxima.mustermann@sendguard.example";

/// `n` domains `{prefix}-00000.test` …, one MX host each, of the kinds in turn.
pub fn generated(prefix: &str, n: usize, kinds: &[fn() -> HostKind]) -> Vec<Scenario> {
    (0..n)
        .map(|i| {
            // Scenario names are 'static (the demo's are literals); a benchmark may leak them.
            let domain: &'static str = Box::leak(format!("{prefix}-{i:05}.test").into_boxed_str());
            Scenario {
                domain,
                description: "generated",
                signing: Signing::Signed,
                hosts: vec![("mx", 10, kinds[i % kinds.len()]())],
                null_mx: false,
                mta_sts: None,
            }
        })
        .collect()
}

/// A message of about `body_bytes` octets of text from [`FROM`] to `to`.
pub fn message(to: String, subject: String, body_bytes: usize) -> SendRequest {
    let line = "The quick brown fox jumps over the lazy dog, again and again.\n";
    SendRequest {
        from: FROM.into(),
        to: vec![to],
        cc: Vec::new(),
        bcc: Vec::new(),
        subject,
        body: line.repeat(body_bytes.div_ceil(line.len())),
    }
}

/// Queues `n` messages, the `i`-th to `to(i)`, through [`submit::submit`] (the code behind
/// `POST /api/messages`), `parallel` at a time; returns how long each submission took and the
/// queue's id of its message.
pub async fn fill_queue(
    store: &Store,
    n: usize,
    parallel: usize,
    to: impl Fn(usize) -> String,
) -> anyhow::Result<Vec<(Duration, i64)>> {
    use futures::StreamExt as _;
    let account = AccountConfig::default();
    let requests: Vec<SendRequest> = (0..n)
        .map(|i| message(to(i), format!("Benchmark message {i}"), 2048))
        .collect();
    let timings: Vec<Result<(Duration, i64), submit::SubmitError>> =
        futures::stream::iter(&requests)
            .map(|r| {
                let account = &account;
                async move {
                    let start = Instant::now();
                    let queued = submit::submit(store, account, DEFAULT_USER, r).await?;
                    Ok((start.elapsed(), queued.id))
                }
            })
            .buffer_unordered(parallel.max(1))
            .collect()
            .await;
    timings
        .into_iter()
        .map(|t| t.map_err(anyhow::Error::from))
        .collect()
}

/// The `q`-th quantile (0.0 to 1.0) of `values`, which are sorted here.
pub fn quantile(values: &mut [Duration], q: f64) -> Duration {
    values.sort();
    if values.is_empty() {
        return Duration::ZERO;
    }
    let i = ((values.len() - 1) as f64 * q).round() as usize;
    values[i]
}

/// A `kB` line of `/proc/{pid}/status` (`self` when `pid` is `None`), e.g. `VmHWM`, the peak
/// resident set size.
pub fn status_kib(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".into(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The CPU time (user and system, every thread) process `pid` (`self` when `None`) has used,
/// from `/proc/{pid}/stat`, in the kernel's clock ticks of 10 ms (`USER_HZ`, 100 on Linux).
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".into(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// KiB as MiB with one decimal, or "unknown".
pub fn mib(kib: Option<u64>) -> String {
    kib.map_or("unknown".into(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    })
}

/// The `sendguard` binary Cargo built for this benchmark (the release profile under
/// `cargo bench`), or `SENDGUARD_BIN`.
pub fn sendguard_bin() -> PathBuf {
    std::env::var_os("SENDGUARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sendguard")))
}

/// A running `sendguard serve` that this benchmark started; killed when dropped.
pub struct Serve {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Serve {
    /// Starts `sendguard serve` on a free loopback port with the queue `database`, probing and
    /// delivering into `world`; returns once it accepts connections.
    pub fn start(database: &Path, world: &SimWorld, log: &Path) -> anyhow::Result<Serve> {
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let e = world.endpoints();
        let log_file = std::fs::File::create(log)?;
        let mut cmd = Command::new(sendguard_bin());
        cmd.arg("serve")
            .args(["--listen", &addr.to_string()])
            .arg("--database")
            .arg(database)
            .args(["--dns-resolver", &e.resolver.to_string()])
            .arg("--trust-anchor")
            .arg(&e.trust_anchor)
            .args(["--smtp-port", &e.smtp_port.to_string()])
            .arg("--allow-private-targets")
            .env("SENDGUARD_RESOLVER_CHECK_SECURE", &e.self_test_secure)
            .env("SENDGUARD_RESOLVER_CHECK_BOGUS", &e.self_test_bogus)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let child = cmd.spawn()?;
        let mut serve = Serve { child, addr };
        let start = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = serve.child.try_wait()? {
                anyhow::bail!("sendguard serve exited ({status}); see {}", log.display());
            }
            if start.elapsed() > Duration::from_secs(60) {
                anyhow::bail!("sendguard serve does not listen after 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(serve)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The password of the queue's owner that [`add_queue_owner`] adds.
const OWNER_PASSWORD: &str = "benchmark password";

/// Adds the owner of the messages [`fill_queue`] queues ([`DEFAULT_USER`], with the default
/// account's address) as a user of `store`, so that [`sign_in_as_owner`] can list them over HTTP.
pub async fn add_queue_owner(store: &Store) -> anyhow::Result<()> {
    let hash = sendguard::user::password::hash(OWNER_PASSWORD)?;
    store
        .add_user(&sendguard::store::users::NewUser {
            id: DEFAULT_USER,
            display_name: "Maxima Mustermann",
            role: sendguard_common::Role::User,
            addresses: &["maxima.mustermann@sendguard.example".to_string()],
            password_hash: &hash,
        })
        .await?;
    Ok(())
}

/// Signs in at `addr` as the user [`add_queue_owner`] added; the session's `Cookie` value.
pub fn sign_in_as_owner(addr: SocketAddr) -> anyhow::Result<String> {
    let body = serde_json::json!({ "login": DEFAULT_USER, "password": OWNER_PASSWORD }).to_string();
    let request = format!(
        "POST /api/session HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, head, _) = exchange(addr, &request)?;
    anyhow::ensure!(status == 200, "signing in answered {status}");
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .and_then(|(_, value)| value.trim().split(';').next())
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("signing in set no cookie"))
}

/// `GET path` over HTTP/1.1 with `Connection: close` and the session `cookie`; the status code
/// and the body's length.
pub fn http_get(addr: SocketAddr, path: &str, cookie: &str) -> anyhow::Result<(u16, usize)> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    let (status, _, body) = exchange(addr, &request)?;
    Ok((status, body))
}

/// Sends `request` on a connection of its own; the answer's status code, head and body length.
fn exchange(addr: SocketAddr, request: &str) -> anyhow::Result<(u16, String, usize)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((status, head.to_string(), body.len()))
}

/// The number in the environment variable `name`, or `default` when it is unset or not one.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
