//! The `sendguard` command line: subcommands and their options, each option also settable
//! through an environment variable so that services can be configured without flags.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

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
}

/// Options of `sendguard serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "SENDGUARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_listens_on_loopback_by_default() {
        let cli = Cli::try_parse_from(["sendguard", "serve"]).unwrap();
        let Command::Serve(args) = cli.command;
        assert_eq!(args.listen, "127.0.0.1:8080".parse().unwrap());
    }

    #[test]
    fn serve_takes_a_listen_address() {
        let cli = Cli::try_parse_from(["sendguard", "serve", "--listen", "0.0.0.0:9000"]).unwrap();
        let Command::Serve(args) = cli.command;
        assert_eq!(args.listen.port(), 9000);
    }

    #[test]
    fn a_bad_listen_address_is_refused() {
        assert!(Cli::try_parse_from(["sendguard", "serve", "--listen", "nowhere"]).is_err());
    }
}
