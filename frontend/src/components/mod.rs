//! Reusable parts of the pages, one component per file.

pub mod badge;
pub mod chip;
pub mod demo_hint;
pub mod recipient_field;
pub mod tooltip;
