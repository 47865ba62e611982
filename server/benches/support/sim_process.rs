//! The simulated internet in a process of its own, so that a benchmark's memory and CPU
//! figures are Sendguard's alone: the benchmark runs its own executable again as the child
//! ([`CHILD_ENV`] names how many generated domains), which starts the [`SimWorld`], prints one
//! line `SIM key=value ...` with its [`SimEndpoints`] and how long the setup took, and runs until
//! its standard input closes.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use sendguard_sim::world::{Scenario, SimEndpoints, SimWorld};

/// Set in the child's environment to the number of domains to generate.
pub const CHILD_ENV: &str = "SENDGUARD_BENCH_SIM_CHILD";

/// When this process is the child ([`CHILD_ENV`] set): starts the world of `scenarios(n)`,
/// announces it and serves it until standard input closes, then returns `true`. Else `false`.
pub fn run_child_if_asked(scenarios: impl Fn(usize) -> Vec<Scenario>) -> anyhow::Result<bool> {
    let Some(n) = std::env::var(CHILD_ENV).ok().and_then(|v| v.parse().ok()) else {
        return Ok(false);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let start = Instant::now();
        let world = SimWorld::start_with(scenarios(n), dir.path()).await?;
        let setup = start.elapsed();
        let e = world.endpoints();
        let line = format!(
            "SIM resolver={} trust_anchor={} smtp_port={} https_port={} extra_roots={} \
             dns_timeout_ms={} greeting_timeout_ms={} self_test_secure={} self_test_bogus={} \
             setup_ms={}\n",
            e.resolver,
            e.trust_anchor.display(),
            e.smtp_port,
            e.https_port,
            e.extra_roots.display(),
            e.dns_timeout.as_millis(),
            e.greeting_timeout.as_millis(),
            e.self_test_secure,
            e.self_test_bogus,
            setup.as_millis()
        );
        let mut out = std::io::stdout();
        out.write_all(line.as_bytes())?;
        out.flush()?;
        // Until the parent closes our standard input (or dies).
        tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await??;
        world.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(true)
}

/// A world running in a child process; stopped when dropped.
pub struct SimProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Where the world answers.
    pub endpoints: SimEndpoints,
    /// How long the child took to sign the zones, make the certificates and start the servers.
    pub setup: Duration,
}

impl SimProcess {
    /// Starts this executable again as the child, with `n` domains, and waits for its line.
    pub fn start(n: usize) -> anyhow::Result<SimProcess> {
        let mut child = Command::new(std::env::current_exe()?)
            .env(CHILD_ENV, n.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let fields: std::collections::HashMap<&str, &str> = line
            .strip_prefix("SIM ")
            .ok_or_else(|| anyhow::anyhow!("the sim process said {line:?}"))?
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let get = |k: &str| {
            fields
                .get(k)
                .copied()
                .ok_or_else(|| anyhow::anyhow!("the sim process did not say {k}: {line:?}"))
        };
        let ms =
            |k: &str| -> anyhow::Result<Duration> { Ok(Duration::from_millis(get(k)?.parse()?)) };
        let endpoints = SimEndpoints {
            resolver: get("resolver")?.parse::<SocketAddr>()?,
            trust_anchor: PathBuf::from(get("trust_anchor")?),
            smtp_port: get("smtp_port")?.parse()?,
            dns_timeout: ms("dns_timeout_ms")?,
            greeting_timeout: ms("greeting_timeout_ms")?,
            self_test_secure: get("self_test_secure")?.to_string(),
            self_test_bogus: get("self_test_bogus")?.to_string(),
            https_port: get("https_port")?.parse()?,
            extra_roots: PathBuf::from(get("extra_roots")?),
        };
        let setup = ms("setup_ms")?;
        Ok(SimProcess {
            child,
            stdin,
            endpoints,
            setup,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        // Closing its standard input asks the child to stop; it is killed if it does not.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
