//! SMTP TLS Reporting (RFC 8460) on the command line: the `--tlsrpt*` options of `serve` and
//! `demo` (counting each delivery session and sending the daily reports), and
//! `sendguard tlsrpt send-now`, which runs one reporting pass now against the same database
//! (report mail is queued there for the running server to deliver; HTTPS reports are uploaded
//! by the command itself).

use std::process::ExitCode;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use sendguard_common::address::Address;

use crate::cli::{ProbeOptions, StoreOptions};
use crate::delivery::worker::Wake;
use crate::probe::{Prober, now_unix};
use crate::store::Store;
use crate::tlsrpt::TlsRptConfig;
use crate::tlsrpt::send::HttpsClient;
use crate::tlsrpt::worker::{self, Reporter};

/// The `--tlsrpt*` options.
#[derive(Debug, Clone, clap::Args)]
pub struct TlsRptOptions {
    /// Count every delivery session per recipient domain and send the daily SMTP TLS reports
    /// (RFC 8460) to the domains that ask for them (`_smtp._tls` TXT). Needs `--tlsrpt-from`.
    #[arg(long = "tlsrpt", env = "SENDGUARD_TLSRPT", action = clap::ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub enabled: bool,
    /// The reporting organisation named in the reports (`organization-name`).
    #[arg(
        long = "tlsrpt-org",
        env = "SENDGUARD_TLSRPT_ORG",
        default_value = "Sendguard",
        value_name = "NAME"
    )]
    pub organization: String,
    /// The sender of report mail; its domain is the reports' submitter.
    #[arg(
        long = "tlsrpt-from",
        env = "SENDGUARD_TLSRPT_FROM",
        value_name = "ADDRESS"
    )]
    pub from: Option<String>,
    /// Where a domain can reach us about the reports (`contact-info`; default: the
    /// `--tlsrpt-from` address).
    #[arg(
        long = "tlsrpt-contact",
        env = "SENDGUARD_TLSRPT_CONTACT",
        value_name = "ADDRESS|URL"
    )]
    pub contact: Option<String>,
    /// How often to look for finished days to report, in seconds (each day is reported once).
    #[arg(
        long = "tlsrpt-interval",
        env = "SENDGUARD_TLSRPT_INTERVAL",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "SECONDS"
    )]
    pub interval: u64,
    /// Roots trusted for HTTPS report uploads besides the prober's (the WebPKI's and
    /// `--extra-roots`, [`HttpsClient::new`]); the demo adds its simulated receiver's CA.
    #[arg(skip)]
    pub extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
}

impl TlsRptOptions {
    /// The reporting configuration, `None` when reporting is off.
    pub fn config(&self) -> anyhow::Result<Option<TlsRptConfig>> {
        if !self.enabled {
            return Ok(None);
        }
        let Some(from) = &self.from else {
            anyhow::bail!("--tlsrpt needs --tlsrpt-from ADDRESS (the sender of report mail)");
        };
        let address =
            Address::parse(from).map_err(|e| anyhow::anyhow!("--tlsrpt-from {from:?}: {e}"))?;
        let submitter = crate::dns::to_a_label(address.domain().as_str())?;
        Ok(Some(TlsRptConfig {
            organization: self.organization.clone(),
            contact: self.contact.clone().unwrap_or_else(|| address.to_string()),
            from: address.to_string(),
            submitter,
        }))
    }

    /// How often the reporter looks.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.interval)
    }

    /// Starts the reporter in the background when reporting is on; report mail is queued and
    /// `wake` tells the delivery worker.
    pub fn spawn(
        &self,
        store: &Store,
        prober: &Prober,
        wake: Option<Wake>,
    ) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
        let Some(config) = self.config()? else {
            return Ok(None);
        };
        let https = HttpsClient::new(prober.clone(), &self.extra_roots)?;
        let reporter = Reporter::new(store.clone(), config, https, wake);
        Ok(Some(worker::spawn(reporter, self.interval())))
    }
}

/// `sendguard tlsrpt ...`.
#[derive(Debug, clap::Subcommand)]
pub enum TlsRptCommand {
    /// Report every finished day not yet reported, now: queue the report mail, upload the HTTPS
    /// reports, retry what is due.
    SendNow(SendNowArgs),
}

/// Options of `sendguard tlsrpt send-now`.
#[derive(Debug, clap::Args)]
pub struct SendNowArgs {
    /// How reports are written.
    #[command(flatten)]
    pub tlsrpt: TlsRptOptions,
    /// How `_smtp._tls` records are looked up and report servers reached.
    #[command(flatten)]
    pub probe: ProbeOptions,
    /// Where Sendguard counted (and queues).
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `sendguard tlsrpt ...`.
pub async fn tlsrpt(command: TlsRptCommand) -> anyhow::Result<ExitCode> {
    let TlsRptCommand::SendNow(mut args) = command;
    args.tlsrpt.enabled = true;
    let config = args.tlsrpt.config()?.expect("enabled");
    let prober = Prober::new(args.probe.probe_config())?;
    let store = args.store.open().await?;
    let https = HttpsClient::new(prober, &[])?;
    let pass = Reporter::new(store.clone(), config, https, None)
        .run_once(now_unix())
        .await;
    store.close().await;
    let pass = pass?;
    println!(
        "{} reports sent, {} attempts failed, {} domains without a usable _smtp._tls record",
        pass.sent, pass.failed, pass.no_rua
    );
    Ok(if pass.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn reporting_is_off_by_default_and_needs_a_sender() {
        let cli = Cli::try_parse_from(["sendguard", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve expected")
        };
        assert!(args.server.tlsrpt.config().unwrap().is_none());
        assert_eq!(args.server.tlsrpt.interval, 3600);
        let cli = Cli::try_parse_from(["sendguard", "serve", "--tlsrpt"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve expected")
        };
        assert!(args.server.tlsrpt.config().is_err(), "no --tlsrpt-from");
        let cli = Cli::try_parse_from([
            "sendguard",
            "serve",
            "--tlsrpt",
            "--tlsrpt-from",
            "tlsrpt@Sender.Example",
            "--tlsrpt-org",
            "Example",
            "--tlsrpt-interval",
            "60",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve expected")
        };
        let config = args.server.tlsrpt.config().unwrap().unwrap();
        assert_eq!(config.submitter, "sender.example");
        assert_eq!(config.contact, config.from);
        assert_eq!(config.organization, "Example");
        assert_eq!(args.server.tlsrpt.interval().as_secs(), 60);
        assert!(Cli::try_parse_from(["sendguard", "serve", "--tlsrpt-interval", "0"]).is_err());
        let cli = Cli::try_parse_from([
            "sendguard",
            "tlsrpt",
            "send-now",
            "--tlsrpt-from",
            "r@sender.example",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Tlsrpt(_)));
    }
}
