//! The routed pages: compose (`/`), sent messages (`/sent`), settings (`/settings`) and the
//! admin view (`/admin`).

pub mod admin;

pub mod compose;
pub mod sent;
pub mod settings;
