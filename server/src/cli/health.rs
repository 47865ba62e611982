//! The options of the resolver self-test ([`crate::verdicts::resolver`]), shared by `serve`,
//! `demo`, `postfix`, `probe` and `send`, and of stopping (`serve`, `demo`).

use std::time::Duration;

use crate::dns::DnsConfig;
use crate::dns::selftest::SelfTestNames;
use crate::verdicts::alerts::Alerts;
use crate::verdicts::resolver::{ResolverCheck, ResolverState};

/// How long a starting server waits for the first result of the resolver self-test.
pub const FIRST_RESULT_WAIT: Duration = Duration::from_secs(3);

/// How the resolver's DNSSEC validation is checked.
#[derive(Debug, Clone, clap::Args)]
pub struct ResolverCheckOptions {
    /// A DNSSEC-signed name that must validate as secure (default: `isc.org`; in `demo` the
    /// simulated internet's own).
    #[arg(long, env = "SENDGUARD_RESOLVER_CHECK_SECURE", value_name = "NAME")]
    pub resolver_check_secure: Option<String>,
    /// A deliberately broken name that must fail validation (default: `dnssec-failed.org`; in
    /// `demo` the simulated internet's own).
    #[arg(long, env = "SENDGUARD_RESOLVER_CHECK_BOGUS", value_name = "NAME")]
    pub resolver_check_bogus: Option<String>,
    /// How often the self-test runs (every 30 s at most while it fails).
    #[arg(
        long,
        env = "SENDGUARD_RESOLVER_CHECK_INTERVAL",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "SECONDS"
    )]
    pub resolver_check_interval: u64,
}

/// How a serving subcommand stops.
#[derive(Debug, Clone, clap::Args)]
pub struct StopOptions {
    /// How long a stopping server (SIGTERM, Ctrl-C) waits for the deliveries in flight.
    #[arg(
        long,
        env = "SENDGUARD_SHUTDOWN_GRACE",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub shutdown_grace: u64,
}

impl StopOptions {
    /// How long deliveries in flight get when stopping.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace)
    }
}

impl ResolverCheckOptions {
    /// The names to look up: those given, else `defaults`.
    pub fn names(&self, defaults: SelfTestNames) -> SelfTestNames {
        SelfTestNames {
            secure: self
                .resolver_check_secure
                .clone()
                .unwrap_or(defaults.secure),
            bogus: self.resolver_check_bogus.clone().unwrap_or(defaults.bogus),
        }
    }

    /// The self-test through `dns`'s resolver and trust anchor, run once now (for the
    /// commands that run once: `probe`, `send --wait`); its failure logged and alerted.
    pub async fn check_once(
        &self,
        dns: &DnsConfig,
        alerts: &Alerts,
    ) -> anyhow::Result<ResolverCheck> {
        let interval = Duration::from_secs(self.resolver_check_interval);
        let check = ResolverCheck::new(dns, self.names(SelfTestNames::default()), interval)?;
        check.run_once(alerts).await;
        Ok(check)
    }

    /// Builds the self-test through `dns`'s resolver and trust anchor and runs it now and then
    /// every interval in the background; waits for the first result at most
    /// [`FIRST_RESULT_WAIT`] (a resolver that does not answer must not hold up the start: until
    /// the first result nothing is judged anyway).
    pub async fn start(
        &self,
        dns: &DnsConfig,
        defaults: SelfTestNames,
        alerts: &Alerts,
    ) -> anyhow::Result<ResolverCheck> {
        let interval = Duration::from_secs(self.resolver_check_interval);
        let check = ResolverCheck::new(dns, self.names(defaults), interval)?;
        check.spawn(alerts.clone());
        let names = check.names();
        match check.first_result(FIRST_RESULT_WAIT).await {
            ResolverState::Validating { .. } => {
                tracing::info!(secure = %names.secure, bogus = %names.bogus, "resolver validates DNSSEC");
            }
            ResolverState::Unchecked => {
                tracing::warn!(secure = %names.secure, "resolver self-test still running; nothing is judged until it passes");
            }
            // Logged and alerted by the self-test itself.
            ResolverState::Failing { .. } => {}
        }
        Ok(check)
    }
}
