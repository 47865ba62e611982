//! The `sendguard` command line: subcommands and their options, each option also settable
//! through an environment variable so that services can be configured without flags.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::dns::DnsConfig;
use crate::probe::ProbeConfig;

/// Sendguard: tells the sender, before sending, how securely each recipient's mail server will
/// receive the message, and enforces it.
#[derive(Debug, Parser)]
#[command(name = "sendguard", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the compose page and the HTTP API.
    Serve(ServeArgs),
    /// Start the simulated internet on loopback and serve the product against it.
    Demo(DemoArgs),
    /// Probe recipient domains now and print their verdicts.
    Probe(ProbeArgs),
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
}

/// Options of `sendguard demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address and port to listen on.
    #[arg(long, env = "SENDGUARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
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
    /// Allow probing loopback, private and other special-purpose addresses (tests, demos).
    /// `SENDGUARD_ALLOW_PRIVATE_TARGETS=1` (or `true`) does the same.
    #[arg(long, env = "SENDGUARD_ALLOW_PRIVATE_TARGETS", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_private_targets: bool,
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
        config.allow_private_targets = self.allow_private_targets;
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
mod tests {
    use super::*;

    #[test]
    fn serve_listens_on_loopback_by_default() {
        let cli = Cli::try_parse_from(["sendguard", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve expected")
        };
        assert_eq!(args.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(args.probe.smtp_port, 25);
        assert!(!args.probe.allow_private_targets);
    }

    #[test]
    fn a_bad_listen_address_is_refused() {
        assert!(Cli::try_parse_from(["sendguard", "serve", "--listen", "nowhere"]).is_err());
    }

    #[test]
    fn probe_options_parse() {
        let cli = Cli::try_parse_from([
            "sendguard",
            "probe",
            "--json",
            "--dns-resolver",
            "127.0.0.53",
            "--smtp-port",
            "2525",
            "--allow-private-targets",
            "a@b.example",
            "c.example",
        ])
        .unwrap();
        let Command::Probe(args) = cli.command else {
            panic!("probe expected")
        };
        assert!(args.json);
        assert_eq!(args.targets, ["a@b.example", "c.example"]);
        assert_eq!(
            args.probe.dns_resolver,
            Some("127.0.0.53:53".parse().unwrap())
        );
        assert_eq!(args.probe.smtp_port, 2525);
        assert!(args.probe.allow_private_targets);
        assert_eq!(parse_resolver("127.0.0.1:5353").unwrap().port(), 5353);
        assert!(parse_resolver("resolver").is_err());
    }

    #[test]
    fn probe_needs_a_target() {
        assert!(Cli::try_parse_from(["sendguard", "probe"]).is_err());
    }
}
