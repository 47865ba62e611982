//! The simulated internet on loopback, for tests and the demo: every peer the product talks to,
//! running in-process on 127.0.0.0/8 addresses.

pub mod dns;
