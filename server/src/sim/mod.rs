//! The simulated internet on loopback, for tests, benchmarks and `sendguard demo`: a
//! DNSSEC-signed DNS tree served by hickory-server and SMTP peers with chosen TLS behaviour,
//! running in-process on 127.0.0.0/8 addresses.

pub mod dns;
pub mod pki;
pub mod smtp;
pub mod world;
