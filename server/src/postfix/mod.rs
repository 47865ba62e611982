//! Postfix integration: the services an operator's Postfix asks, each a view of the same
//! judgement as the badge. So far the TLS policy table ([`tls_policy`], socketmap_table(5) with
//! [`netstring`] framing), so Postfix delivers with the security level Sendguard learned.

pub mod netstring;
pub mod tls_policy;
