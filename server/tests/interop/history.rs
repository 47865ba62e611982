//! What Sendguard remembers of the world's servers, read back through its own CLI as an
//! operator would: `sendguard holds list --json` (the holds) and `sendguard holds show HOST
//! --json` (a server's history and latest observations, each with its source).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sendguard_common::{HoldView, ObservationView};

use super::process::run_ok;
use super::sendguard_bin;

/// `sendguard holds list --json` on `database`: the servers on hold.
pub fn holds(database: &Path) -> Vec<HoldView> {
    let out = run_ok(
        "sendguard holds list",
        Command::new(sendguard_bin())
            .args(["holds", "list", "--json", "--database"])
            .arg(database),
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("holds list JSON: {e}\n{out}"))
}

/// The latest observations of `host` (`sendguard holds show HOST --json`), newest first;
/// empty when nothing is known of it.
pub fn observations(database: &Path, host: &str) -> Vec<ObservationView> {
    let out = Command::new(sendguard_bin())
        .args(["holds", "show", host, "--json", "--database"])
        .arg(database)
        .output()
        .expect("sendguard holds show runs");
    if !out.status.success() {
        return Vec::new();
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("holds show JSON");
    serde_json::from_value(json["observations"].clone()).expect("observations")
}

/// Polls `read` every 200 ms until `ready` holds for what it returns, for at most `timeout`;
/// returns the last value and whether it was ready.
pub fn wait_for<T>(
    timeout: Duration,
    mut read: impl FnMut() -> T,
    ready: impl Fn(&T) -> bool,
) -> (T, bool) {
    let start = Instant::now();
    loop {
        let value = read();
        if ready(&value) || start.elapsed() > timeout {
            let ok = ready(&value);
            return (value, ok);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
