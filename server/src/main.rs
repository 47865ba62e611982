//! The `sendguard` binary: parses the command line, sets up logging, and runs the chosen
//! subcommand. All behaviour lives in the library crate.

use std::process::ExitCode;

use clap::Parser;
use sendguard::cli::Cli;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match sendguard::cli::run::run(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sendguard: {e:#}");
            ExitCode::FAILURE
        }
    }
}
