//! Processes of the interop world: running a command with a deadline, and daemons in process
//! groups of their own that a drop guard stops (SIGTERM to the group, then SIGKILL), even when
//! an assertion fails.

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long any daemon may take to become ready, and any one probe run may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `cmd` to its end, killing it after `timeout`; `what` names the step in messages.
pub fn run(what: &str, cmd: &mut Command, timeout: Duration) -> Output {
    run_with_input(what, cmd, None, timeout)
}

/// [`run`], with `input` (when given) written to the command's standard input, which is then
/// closed.
pub fn run_with_input(
    what: &str,
    cmd: &mut Command,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Output {
    let stdin = if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    let mut child = cmd
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    if let (Some(bytes), Some(mut pipe)) = (input, child.stdin.take()) {
        use std::io::Write as _;
        pipe.write_all(bytes)
            .unwrap_or_else(|e| panic!("{what}: writing standard input: {e}"));
    }
    // Drain both pipes on their own threads so that a chatty child cannot block.
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: {cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// Runs `cmd` and returns its stdout; any failure panics with the step's name and stderr.
pub fn run_ok(what: &str, cmd: &mut Command) -> String {
    let out = run(what, cmd, STEP_TIMEOUT);
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A daemon this test started, in a process group of its own. Dropping it sends SIGTERM to
/// that group (and only to it), waits up to five seconds, then sends SIGKILL.
pub struct Daemon {
    pub name: &'static str,
    pub child: Child,
    /// Its captured stdout and stderr.
    pub log: PathBuf,
    /// The log file it writes itself, when it has one.
    pub own_log: Option<PathBuf>,
}

impl Daemon {
    /// Starts `cmd` in a new process group with stdout and stderr going to `log`; `own_log`
    /// is the log file the daemon writes itself.
    pub fn start(
        name: &'static str,
        mut cmd: Command,
        log: PathBuf,
        own_log: Option<PathBuf>,
    ) -> Daemon {
        use std::os::unix::process::CommandExt as _;
        let file = std::fs::File::create(&log).expect("daemon log file");
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file handle"))
            .stderr(file)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {cmd:?}: {e}"));
        Daemon {
            name,
            child,
            log,
            own_log,
        }
    }

    /// Panics, with the daemon's log, unless it is still running.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early ({status}); its output:\n{}",
                self.name,
                self.logs()
            );
        }
    }

    /// The daemon's captured output and its own log file.
    pub fn logs(&self) -> String {
        let mut s = std::fs::read_to_string(&self.log).unwrap_or_default();
        if let Some(p) = &self.own_log {
            let _ = write!(
                s,
                "\n--- {}:\n{}",
                p.display(),
                std::fs::read_to_string(p).unwrap_or_default()
            );
        }
        s
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                // The leader is gone; make sure no child of its group outlives it.
                signal("-KILL");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal("-KILL");
        let _ = self.child.wait();
    }
}

/// Polls `ready` every 100 ms until it holds or [`STEP_TIMEOUT`] passes; then panics with
/// `what` and the daemon's logs.
pub fn wait_until(what: &str, daemon: &mut Daemon, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        daemon.assert_running();
        if ready() {
            return;
        }
        if start.elapsed() > STEP_TIMEOUT {
            panic!(
                "{what}: not ready within {STEP_TIMEOUT:?}; {} output:\n{}",
                daemon.name,
                daemon.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Panics unless `addr` is free (TCP, and UDP when `udp`): a leftover daemon would otherwise
/// answer in place of ours, and ours would exit.
pub fn assert_free(who: &str, addr: SocketAddr, udp: bool) {
    let taken = std::net::TcpListener::bind(addr).is_err()
        || (udp && std::net::UdpSocket::bind(addr).is_err());
    assert!(
        !taken,
        "{addr} (for {who}) is already in use: another run of this test, or a leftover daemon? \
         `ss -lntup | grep {}` shows who holds it",
        addr.ip()
    );
}
