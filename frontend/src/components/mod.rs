//! Reusable parts of the pages, one component per file.

pub mod badge;
pub mod chip;
pub mod recipient_field;
