//! `sendguard postfix`: serves the Postfix services against the same database as `serve`, for
//! the MTA host: the TLS policy table (socketmap_table(5)) on `--tls-policy ADDR` and the inbound
//! policy service (SMTPD_POLICY_README) on `--policy-service ADDR`, and follows Postfix's log
//! (`--maillog FILE|-`) to learn from its deliveries. `serve` can do all of it too with the same
//! options.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{ProbeOptions, ReprobeOptions, StoreOptions};
use crate::dns::selftest::SelfTestNames;
use crate::postfix::follow::{self, LogSource};
use crate::postfix::inbound_seen::Recorder;
use crate::postfix::{inbound, tls_policy};
use crate::probe::Prober;

use crate::user::account::AccountConfig;
use crate::verdicts::Verdicts;
use crate::verdicts::alerts::Alerts;

/// Options of the Postfix services.
#[derive(Debug, Clone, clap::Args)]
pub struct PostfixOptions {
    /// Serve the TLS policy table here, for
    /// `smtp_tls_policy_maps = socketmap:inet:ADDR:tlspolicy` (e.g. `127.0.0.1:10027`).
    #[arg(long, env = "SENDGUARD_TLS_POLICY", value_name = "ADDR")]
    pub tls_policy: Option<SocketAddr>,
    /// Serve the inbound policy service here, for `check_policy_service inet:ADDR` in
    /// `smtpd_recipient_restrictions`: mail to a secure address only over TLS.
    #[arg(long, env = "SENDGUARD_POLICY_SERVICE", value_name = "ADDR")]
    pub policy_service: Option<SocketAddr>,
    /// Follow Postfix's log (a file, followed across rotation, from its end on; or `-` for
    /// standard input, e.g. from `journalctl -f -n 0 -o short -u postfix@-`) and record each
    /// delivery's TLS as an observation: a downgrade Postfix saw raises a hold.
    #[arg(long, env = "SENDGUARD_MAILLOG", value_name = "FILE|-")]
    pub maillog: Option<String>,
}

impl PostfixOptions {
    /// Starts the services that were asked for, in the background; `account` is the user
    /// whose secure aliases the inbound service guards.
    /// The services listening are returned by name with their address, for `/api/ready`.
    pub async fn spawn(
        &self,
        verdicts: &Verdicts,
        account: &AccountConfig,
    ) -> anyhow::Result<Vec<(&'static str, SocketAddr)>> {
        let mut listening = Vec::new();
        if let Some(addr) = self.tls_policy {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!("TLS policy table (socketmap) on {}", listener.local_addr()?);
            listening.push(("postfix_tls_policy", listener.local_addr()?));
            tokio::spawn(tls_policy::serve(listener, verdicts.clone()));
        }
        if let Some(addr) = self.policy_service {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!("inbound policy service on {}", listener.local_addr()?);
            listening.push(("postfix_policy_service", listener.local_addr()?));
            let guard = inbound::Guard {
                account: account.clone(),
                store: verdicts.store().clone(),
                recorder: Some(Recorder::spawn(verdicts.store().clone())),
            };
            tokio::spawn(inbound::serve(listener, guard));
        }
        if let Some(source) = &self.maillog {
            let source = LogSource::parse(source);
            tracing::info!(?source, "following Postfix's log");
            tokio::spawn(follow::run(source, verdicts.clone()));
        }
        Ok(listening)
    }
}

/// Options of `sendguard postfix`.
#[derive(Debug, clap::Args)]
pub struct PostfixArgs {
    /// The services.
    #[command(flatten)]
    pub services: PostfixOptions,
    /// How recipient servers are probed (domains never seen are probed in the background).
    #[command(flatten)]
    pub probe: ProbeOptions,
    /// How soon a server is contacted again.
    #[command(flatten)]
    pub reprobe: ReprobeOptions,
    /// Where Sendguard remembers.
    #[command(flatten)]
    pub store: StoreOptions,
    /// The user: `"Name <address>"`; repeat for more addresses (default: Maxima Mustermann).
    /// The variable takes one per line.
    #[arg(
        long = "account",
        env = "SENDGUARD_ACCOUNT",
        value_name = "NAME <ADDRESS>",
        value_delimiter = '\n'
    )]
    pub accounts: Vec<String>,
    /// The resolver self-test (the table answers TEMP while it fails).
    #[command(flatten)]
    pub health: crate::cli::health::ResolverCheckOptions,
}

/// Runs `sendguard postfix` until Ctrl-C or SIGTERM, then exits 0.
pub async fn postfix(args: PostfixArgs) -> anyhow::Result<ExitCode> {
    let s = &args.services;
    if s.tls_policy.is_none() && s.policy_service.is_none() && s.maillog.is_none() {
        anyhow::bail!(
            "nothing to do: give --tls-policy ADDR, --policy-service ADDR and/or --maillog FILE"
        );
    }
    let account = AccountConfig::from_values(&args.accounts)?;
    let mut config = args.probe.probe_config();
    args.reprobe.apply(&mut config);
    let alerts = Alerts::new(None)?;
    let check = args
        .health
        .start(&config.dns, SelfTestNames::default(), &alerts)
        .await?;
    let interval = config.min_reprobe_interval;
    let prober = Prober::new(config)?;
    let store = args.store.open().await?;
    crate::cli::run::share_sessions(&prober, &store, interval);
    let verdicts = Verdicts::new(prober, store.clone(), alerts, Duration::from_secs(3600))
        .with_resolver_check(check);
    args.services.spawn(&verdicts, &account).await?;
    // Ctrl-C or SIGTERM (systemd's stop) ends it; each answer is a single exchange, so nothing
    // in flight needs waiting for.
    let stopping = crate::http::shutdown::Stopping::default();
    stopping.on_signals();
    stopping.wait().await;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
