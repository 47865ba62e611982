pub mod pki;
pub mod smtp;
