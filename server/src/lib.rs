//! The Sendguard server as a library: the command line, the HTTP application and (as later
//! modules arrive) the DNS, SMTP, DANE, probe, policy and store layers.
//!
//! `main.rs` only parses the command line, sets up logging and runs what was asked; everything
//! else lives here so that tests drive the real code in-process.

pub mod certinfo;
pub mod cli;
pub mod dane;
pub mod http;
pub mod tlsa;
