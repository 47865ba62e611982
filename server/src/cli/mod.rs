//! The `sendguard` command line: subcommands and their options, each option of a service also
//! settable through an environment variable and a key of the configuration file ([`config`]).

pub mod config;
pub mod delivery;
pub mod health;
pub mod https;
pub mod postfix;
pub mod progress;
pub mod run;
mod send;
pub mod table;
pub mod tlsrpt;
pub mod user;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::dns::DnsConfig;
use crate::probe::ProbeConfig;
use crate::smtp::HeloName;

/// Sendguard: tells the sender, before sending, how securely each recipient's mail server will
/// receive the message, and enforces it.
#[derive(Debug, Parser)]
#[command(name = "sendguard", version, about)]
pub struct Cli {
    /// The configuration file (default: /etc/sendguard/sendguard.toml when it exists); flags
    /// and the environment override it.
    #[arg(long, global = true, env = config::CONFIG_ENV, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How the log (on standard error) is written: readable text, or one JSON object a line
    /// for log systems.
    #[arg(
        long,
        global = true,
        env = "SENDGUARD_LOG_FORMAT",
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The log's format (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines.
    Text,
    /// One JSON object per line, the event's fields as keys.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the compose page and the HTTP API.
    Serve(ServeArgs),
    /// Start the simulated internet on loopback and serve the product against it.
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
    /// Probe recipient domains now, record what was seen, and print their verdicts.
    Probe(ProbeArgs),
    /// Servers on hold after falling below their known level: list, show, release, keep.
    #[command(subcommand)]
    Holds(HoldsCommand),
    /// Queue a message (text from standard input) and print its id and each recipient's state.
    Send(SendArgs),
    /// Serve the Postfix services (the TLS policy table) against the same database.
    Postfix(postfix::PostfixArgs),
    /// Users who may sign in: add, passwd, list, remove, and their addresses (alias add|remove).
    #[command(subcommand)]
    User(user::UserCommand),
    /// SMTP TLS reports (RFC 8460): send-now.
    #[command(subcommand)]
    Tlsrpt(tlsrpt::TlsRptCommand),
    /// The configuration file: `check` prints the effective configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
}

/// Options of `sendguard send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The sender: one of the account's addresses or, with secure sending on, their secure alias.
    #[arg(long, value_name = "ADDRESS")]
    pub from: String,
    /// A To recipient; repeat or list several after one `--to`.
    #[arg(long, value_name = "ADDRESS", num_args = 1.., required = true)]
    pub to: Vec<String>,
    /// A Cc recipient.
    #[arg(long, value_name = "ADDRESS", num_args = 1..)]
    pub cc: Vec<String>,
    /// A Bcc recipient (an envelope recipient only, never in the message).
    #[arg(long, value_name = "ADDRESS", num_args = 1..)]
    pub bcc: Vec<String>,
    /// The subject.
    #[arg(long, default_value = "", value_name = "TEXT")]
    pub subject: String,
    /// Print the queued message as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also deliver it now, in this process: one attempt per recipient, then print where each
    /// stands (sent, deferred, held or failed).
    #[arg(long)]
    pub wait: bool,
    /// How recipient servers are reached (with `--wait`).
    #[command(flatten)]
    pub probe: ProbeOptions,
    /// Delivery: retries (with `--wait`).
    #[command(flatten)]
    pub delivery: delivery::DeliveryOptions,
    /// The user: `"Name <address>"`; repeat for more addresses (default: Maxima Mustermann).
    #[arg(long = "account", value_name = "NAME <ADDRESS>")]
    pub accounts: Vec<String>,
    /// Send as this user of the database (`sendguard user`): their addresses and settings, and
    /// the message on their Sent page; instead of `--account`.
    #[arg(long, value_name = "LOGIN", conflicts_with = "accounts")]
    pub user: Option<String>,
    /// Where Sendguard remembers (and queues).
    #[command(flatten)]
    pub store: StoreOptions,
    /// The resolver self-test, run once before delivering (with `--wait`; deliveries are
    /// deferred while it fails).
    #[command(flatten)]
    pub health: health::ResolverCheckOptions,
}

/// `sendguard holds ...`.
#[derive(Debug, Subcommand)]
pub enum HoldsCommand {
    /// List the servers on hold (held or kept).
    List(HoldsListArgs),
    /// Show a server's holds, history and latest observations.
    Show(HoldsHostArgs),
    /// Accept the level that fell short as the server's new floor; delivery resumes.
    Release(HoldsDecisionArgs),
    /// Keep delivery to the server stopped.
    Keep(HoldsDecisionArgs),
}

/// Options of `sendguard holds list`.
#[derive(Debug, clap::Args)]
pub struct HoldsListArgs {
    /// Print JSON (a list of holds) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Include released holds.
    #[arg(long)]
    pub all: bool,
    /// Where Sendguard remembers.
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Options of `sendguard holds show`.
#[derive(Debug, clap::Args)]
pub struct HoldsHostArgs {
    /// The MX host, e.g. `mx.example.org`.
    pub host: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where Sendguard remembers.
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Options of `sendguard holds release` and `keep`.
#[derive(Debug, clap::Args)]
pub struct HoldsDecisionArgs {
    /// The MX host, e.g. `mx.example.org`.
    pub host: String,
    /// Who decides, for the audit log (default: `$USER`, else `cli`).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// Where Sendguard remembers.
    #[command(flatten)]
    pub store: StoreOptions,
}

impl HoldsDecisionArgs {
    /// The actor recorded in the audit log.
    pub fn actor(&self) -> String {
        self.by
            .clone()
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "cli".into())
    }
}

/// Where the store lives.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreOptions {
    /// The SQLite database file (default: `$XDG_DATA_HOME/sendguard/sendguard.db`, else
    /// `~/.local/share/sendguard/sendguard.db`, else `./.sendguard/sendguard.db`), or a
    /// PostgreSQL server as `postgres://user:password@host:port/database` (several instances
    /// may share one; see the README).
    #[arg(
        long,
        env = "SENDGUARD_DATABASE",
        hide_env_values = true,
        value_name = "PATH|URL"
    )]
    pub database: Option<String>,
    /// Connections each instance keeps to PostgreSQL (SQLite uses a fixed few).
    #[arg(long, env = "SENDGUARD_DATABASE_POOL", value_name = "N", default_value_t = crate::store::PG_CONNECTIONS)]
    pub database_pool: u32,
}

impl StoreOptions {
    /// Where the database is, the default file when none was given.
    pub fn location(&self) -> crate::store::Location {
        match &self.database {
            Some(text) => crate::store::Location::parse(text),
            None => crate::store::Location::File(crate::store::default_path()),
        }
    }

    /// Opens the store (see [`Store::connect`]).
    pub async fn open(&self) -> Result<crate::store::Store, crate::store::StoreError> {
        crate::store::Store::connect(&self.location(), self.database_pool).await
    }
}

/// Options of the serving subcommands (`serve`, `demo`).
#[derive(Debug, Clone, clap::Args)]
pub struct ServerOptions {
    /// Token that administrators send (header `x-sendguard-admin-token` or `Authorization:
    /// Bearer`). Without one the admin API is disabled (`demo` makes one up).
    #[arg(
        long,
        env = "SENDGUARD_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub admin_token: Option<String>,
    /// A host name the page is served under (besides loopback names on a loopback address);
    /// repeat for more. Requests for other names are refused (DNS rebinding).
    #[arg(
        long = "public-host",
        env = "SENDGUARD_PUBLIC_HOST",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub public_hosts: Vec<String>,
    /// `http://` URL that receives a JSON POST for every new hold.
    #[arg(long, env = "SENDGUARD_ALERT_WEBHOOK", value_name = "URL")]
    pub alert_webhook: Option<String>,
    /// The user: `"Name <address>"`; repeat for more addresses (default: Maxima Mustermann).
    /// The variable takes one per line.
    #[arg(
        long = "account",
        env = "SENDGUARD_ACCOUNT",
        value_name = "NAME <ADDRESS>",
        value_delimiter = '\n'
    )]
    pub accounts: Vec<String>,
    /// Known verdicts older than this many seconds are re-probed in the background.
    #[arg(
        long,
        env = "SENDGUARD_VERDICT_MAX_AGE",
        default_value_t = 3600,
        value_name = "SECONDS"
    )]
    pub verdict_max_age: u64,
    /// Observations older than this many days are deleted (checked hourly); every server's
    /// floor, the evidence of every hold and each server's last observation are kept.
    #[arg(
        long,
        env = "SENDGUARD_KEEP_OBSERVATIONS",
        default_value_t = 400,
        value_parser = clap::value_parser!(u32).range(1..),
        value_name = "DAYS"
    )]
    pub keep_observations: u32,
    /// Requests one client address may make to the API per minute (0: no limit).
    #[arg(
        long,
        env = "SENDGUARD_RATE_PER_CLIENT",
        default_value_t = crate::http::rate::PER_CLIENT,
        value_name = "N"
    )]
    pub rate_per_client: u32,
    /// Requests one session may make to the API per minute (0: no limit).
    #[arg(
        long,
        env = "SENDGUARD_RATE_PER_SESSION",
        default_value_t = crate::http::rate::PER_SESSION,
        value_name = "N"
    )]
    pub rate_per_session: u32,
    /// Delivery: retries and the worker.
    #[command(flatten)]
    pub delivery: delivery::DeliveryOptions,
    /// Postfix services served beside the page.
    #[command(flatten)]
    pub postfix: postfix::PostfixOptions,
    /// HTTPS.
    #[command(flatten)]
    pub https: https::HttpsOptions,
    /// The resolver self-test.
    #[command(flatten)]
    pub health: health::ResolverCheckOptions,
    /// Stopping.
    #[command(flatten)]
    pub stop: health::StopOptions,
    /// SMTP TLS reporting.
    #[command(flatten)]
    pub tlsrpt: tlsrpt::TlsRptOptions,
}

impl ServerOptions {
    /// How long observations are kept.
    pub fn keep_observations(&self) -> Duration {
        Duration::from_secs(u64::from(self.keep_observations) * 86_400)
    }
}

/// Options of `sendguard serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "SENDGUARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// How recipient servers are probed.
    #[command(flatten)]
    pub probe: ProbeOptions,
    /// How soon a server is contacted again.
    #[command(flatten)]
    pub reprobe: ReprobeOptions,
    /// Where Sendguard remembers.
    #[command(flatten)]
    pub store: StoreOptions,
    /// Administration, alerts, the user.
    #[command(flatten)]
    pub server: ServerOptions,
}

/// The demo's default for `--verdict-max-age` and `--min-reprobe-interval`, in seconds: short,
/// so that a change in the simulated internet (`downgrade.test`) shows while a person watches.
#[cfg(feature = "demo")]
pub const DEMO_REPROBE_SECONDS: &str = "15";

/// Options of `sendguard demo`: those of `serve` that make sense against the simulated
/// internet, with quicker re-probing.
#[cfg(feature = "demo")]
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("verdict_max_age", |a| a.default_value(DEMO_REPROBE_SECONDS)),
    mut_arg("min_reprobe_interval", |a| a.default_value(DEMO_REPROBE_SECONDS)),
)]
pub struct DemoArgs {
    /// Address and port to listen on.
    #[arg(long, env = "SENDGUARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The SQLite database (default: a temporary file removed when the demo ends), or a
    /// PostgreSQL URL (`postgres://...`; several demos may share one, as `serve`s do).
    #[arg(
        long,
        env = "SENDGUARD_DATABASE",
        hide_env_values = true,
        value_name = "PATH|URL"
    )]
    pub database: Option<String>,
    /// How soon a server is contacted again.
    #[command(flatten)]
    pub reprobe: ReprobeOptions,
    /// Administration, alerts, the user.
    #[command(flatten)]
    pub server: ServerOptions,
}

/// Options of `sendguard probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// Print a JSON array of verdicts instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Recipient addresses or domains.
    #[arg(required = true, value_name = "ADDRESS_OR_DOMAIN")]
    pub targets: Vec<String>,
    /// How recipient servers are probed.
    #[command(flatten)]
    pub probe: ProbeOptions,
    /// Where Sendguard remembers.
    #[command(flatten)]
    pub store: StoreOptions,
    /// `http://` URL that receives a JSON POST for every new hold.
    #[arg(long, env = "SENDGUARD_ALERT_WEBHOOK", value_name = "URL")]
    pub alert_webhook: Option<String>,
    /// The resolver self-test, run once before probing (exit 3 when it fails).
    #[command(flatten)]
    pub health: health::ResolverCheckOptions,
}

/// Options shared by every subcommand that probes.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeOptions {
    /// DNS resolver to ask, `IP` or `IP:PORT` (default: the system's resolver configuration).
    #[arg(long, env = "SENDGUARD_DNS_RESOLVER", value_parser = parse_resolver, value_name = "IP[:PORT]")]
    pub dns_resolver: Option<SocketAddr>,
    /// DNSSEC trust anchor: DNSKEY or DS records in zone-file form (default: the IANA root).
    /// Keys named by DS records are fetched (and checked against the digest) before the first lookup.
    #[arg(long, env = "SENDGUARD_TRUST_ANCHOR", value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,
    /// Port of the recipients' SMTP servers.
    #[arg(long, env = "SENDGUARD_SMTP_PORT", default_value_t = 25)]
    pub smtp_port: u16,
    /// A PEM file of CA certificates trusted besides the WebPKI roots, for MX certificates and
    /// MTA-STS policy fetches: a private PKI, or a test CA. Not needed on the internet.
    #[arg(long, env = "SENDGUARD_EXTRA_ROOTS", value_name = "FILE")]
    pub extra_roots: Option<PathBuf>,
    /// Port of the MTA-STS policy hosts (HTTPS); only tests change it.
    #[arg(
        long,
        env = "SENDGUARD_MTA_STS_PORT",
        default_value_t = 443,
        hide = true
    )]
    pub mta_sts_port: u16,
    /// Allow probing loopback addresses (tests, demos); every other address that is not global
    /// unicast stays refused. `SENDGUARD_ALLOW_PRIVATE_TARGETS=1` (or `true`) does the same.
    #[arg(long, env = "SENDGUARD_ALLOW_PRIVATE_TARGETS", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_private_targets: bool,
    /// The name announced in EHLO/HELO: a fully qualified domain name or an address literal
    /// such as `[192.0.2.1]` (default: the machine's fully qualified name, else the local
    /// address of each connection).
    #[arg(long, env = "SENDGUARD_HELO_NAME", value_name = "NAME")]
    pub helo_name: Option<HeloName>,
    /// A NAT64 prefix of this network (RFC 6052, e.g. `2001:db8:64::/96`): addresses under it
    /// are judged by the IPv4 address they carry. May be repeated; the variable takes a
    /// comma-separated list. 64:ff9b::/96 and 64:ff9b:1::/48 are always known.
    #[arg(
        long = "nat64-prefix",
        env = "SENDGUARD_NAT64_PREFIXES",
        value_name = "PREFIX",
        value_delimiter = ','
    )]
    pub nat64_prefixes: Vec<crate::probe::safety::Nat64Prefix>,
}

/// How soon a server is contacted again (`serve`, and `demo` with its own default; `probe` has
/// no such option, since an operator's explicit probe always looks afresh).
#[derive(Debug, Clone, clap::Args)]
pub struct ReprobeOptions {
    /// A server (MX host and address) is not contacted again within this many seconds for
    /// probes the compose page causes; `sendguard probe` always looks afresh.
    #[arg(
        long,
        env = "SENDGUARD_MIN_REPROBE_INTERVAL",
        default_value_t = 300,
        value_name = "SECONDS"
    )]
    pub min_reprobe_interval: u64,
}

impl ReprobeOptions {
    /// Sets the minimum re-probe interval of `config`.
    pub fn apply(&self, config: &mut ProbeConfig) {
        config.min_reprobe_interval = Duration::from_secs(self.min_reprobe_interval);
    }
}

impl ProbeOptions {
    /// The probe configuration these options describe.
    pub fn probe_config(&self) -> ProbeConfig {
        let mut config = ProbeConfig::new(DnsConfig {
            resolver: self.dns_resolver,
            trust_anchor: self.trust_anchor.clone(),
            timeout: Duration::from_secs(10),
        });
        config.smtp.port = self.smtp_port;
        config.extra_roots = self.extra_roots.clone();
        config.mta_sts.port = self.mta_sts_port;
        if let Some(name) = &self.helo_name {
            config.smtp.helo_name = name.clone();
        }
        config.allow_private_targets = self.allow_private_targets;
        config.nat64_prefixes = self.nat64_prefixes.clone();
        config
    }
}

/// `IP` (port 53) or `IP:PORT`.
fn parse_resolver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{s:?} is neither IP nor IP:PORT"))
}

#[cfg(test)]
mod tests;
