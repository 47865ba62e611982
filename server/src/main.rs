//! The `sendguard` binary: reads the configuration file, parses the command line, sets up
//! logging, and runs the chosen subcommand. All behaviour lives in the library crate.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use sendguard::cli::{Cli, LogFormat, config};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    // SAFETY: no other thread runs yet (the runtime is built below).
    if let Err(e) = unsafe { config::apply(&args) } {
        eprintln!("sendguard: configuration file: {e}");
        return ExitCode::from(2);
    }
    let matches = Cli::command().get_matches_from(&args);
    config::note_command_line(&matches);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sendguard: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(sendguard::cli::run::run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sendguard: {e:#}");
            ExitCode::FAILURE
        }
    }
}
