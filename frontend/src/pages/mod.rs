//! The routed pages: compose (`/`) and settings (`/settings`).

pub mod compose;
pub mod settings;
