//! The routed pages: compose (`/`), settings (`/settings`) and the admin view (`/admin`).

pub mod admin;

pub mod compose;
pub mod settings;
