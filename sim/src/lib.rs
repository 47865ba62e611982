//! The simulated internet on loopback, for tests, benchmarks and `sendguard demo`: a
//! DNSSEC-signed DNS tree served by hickory-server and SMTP peers with chosen TLS behaviour,
//! running in-process on 127.0.0.0/8 addresses.
//!
//! - [`dns`]: the authoritative server for a signed tree of zones (RFC 4033–4035);
//! - [`smtp`]: SMTP peers (RFC 5321, STARTTLS per RFC 3207) with a chosen behaviour, which
//!   receive mail and keep it for the test: envelope, the bytes after dot-unstuffing, the TLS
//!   version and cipher suite, the EHLO name and a log of which commands came in plain text
//!   ([`smtp::SmtpPeer::received`], [`smtp::SmtpPeer::sessions`], [`smtp::SmtpPeer::counts`]);
//!   [`smtp::PeerBehaviour::Receiving`] refuses recipients or fails the first transactions;
//! - [`latency`]: a simulated round-trip time (each reply held back, no netem) and a log of
//!   the replies sent;
//! - [`https`]: the MTA-STS policy hosts (RFC 8461 §3.3), HTTPS with a sim CA certificate;
//! - [`pki`]: a private CA, certificates it issues and self-signed ones (rcgen);
//! - [`tlsa`]: the association data of the TLSA records the world publishes (RFC 6698);
//! - [`tlsrpt`]: a TLS report receiver (HTTPS) and the `_smtp._tls` records that name it;
//! - [`world`]: the scenarios, one domain each, started together; [`world::SimWorld::endpoints`]
//!   says where a prober finds them.
//!
//! This crate knows nothing of the Sendguard server: the server builds its probe
//! configuration from [`world::SimEndpoints`], plain data.

#![warn(missing_docs)]

pub mod dns;
pub mod https;
pub mod latency;
pub mod pki;
pub mod smtp;
pub mod tlsa;
pub mod tlsrpt;
pub mod world;
