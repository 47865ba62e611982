//! The Sendguard server as a library: the command line, the HTTP application, and the layers
//! that find out how securely a recipient's mail server receives mail: DNS with DNSSEC (`dns`),
//! the SMTP client (`smtp`), DANE (`dane`), certificate details (`certinfo`), the probe that
//! gathers facts (`probe`), the pure policy that judges them with history (`policy`), the
//! store that remembers every observation, floor and hold (`store`), alerts and metrics
//! (`alerts`), the user and settings (`account`), the bounds of a saved draft (`draft`), and
//! the simulated internet (`sim`) for tests, benchmarks and the demo.
//!
//! `main.rs` only parses the command line, sets up logging and runs what was asked; everything
//! else lives here so that tests drive the real code in-process.

pub mod account;
pub mod alerts;
pub mod certinfo;
pub mod cli;
pub mod dane;
pub mod dns;
pub mod draft;
pub mod facts;
pub mod http;
pub mod policy;
pub mod probe;
pub mod run;
pub mod sim;
pub mod smtp;
pub mod store;
pub mod tlsa;
pub mod verdicts;
