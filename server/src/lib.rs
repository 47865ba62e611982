//! The Sendguard server as a library, grouped by concern:
//!
//! - `cli`: the command line (`cli/mod.rs`) and what each subcommand runs (`cli/run.rs`);
//! - `dns`: DNS with DNSSEC validation (hickory-resolver);
//! - `smtp`: the SMTP client steps up to STARTTLS, with bounded replies;
//! - `tls`: the rustls client configuration, the handshake-signature checking verifier and
//!   certificate details (`tls/certinfo.rs`);
//! - `dane`: TLSA records (`dane/tlsa.rs`) and their matching (RFC 7672/7671);
//! - `probe`: gathers the facts of a recipient domain (`probe/facts.rs` are the facts);
//! - `policy`: pure judgement of facts and history;
//! - `store`: persistence (SQLite), the outgoing queue among it (`store/queue.rs`);
//! - `delivery`: submission of messages into the queue (no delivery worker yet);
//! - `verdicts`: the verdict service that ties probe, policy and store together, and alerts;
//! - `tlsrpt`: SMTP TLS Reporting (RFC 8460): sessions counted per domain and day, the daily
//!   report sent by mail through the queue or by HTTPS;
//! - `user`: the account, its sender addresses and the draft's bounds;
//! - `http`: the thin HTTP handlers;
//! - `metrics`: the counters behind `GET /metrics` that the code counts as it works.
//!
//! The simulated internet that tests, benchmarks and `sendguard demo` run against is its own
//! crate, `sendguard-sim`; the server uses it only with the `demo` feature (on by default).
//!
//! `main.rs` only parses the command line, sets up logging and runs what was asked; everything
//! else lives here so that tests drive the real code in-process.

pub mod cli;
pub mod dane;
pub mod delivery;
pub mod dns;
pub mod http;
pub mod metrics;
pub mod mta_sts;
pub mod policy;
pub mod postfix;
pub mod probe;
pub mod smtp;
pub mod store;
pub mod tls;
pub mod tlsrpt;
pub mod user;
pub mod verdicts;
