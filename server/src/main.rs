//! The `sendguard` binary: parses the command line, sets up logging, and runs the chosen
//! subcommand. All behaviour lives in the library crate.

use clap::Parser;
use sendguard::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            sendguard::http::serve(args.listen, sendguard::http::AppState::default()).await
        }
    }
}
