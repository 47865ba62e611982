//! Reusable parts of the pages, one component per file.

pub mod badge;
pub mod chip;
pub mod choice;
pub mod demo_hint;
pub mod hold_card;
pub mod live_messages;
pub mod notice;
pub mod observation_table;
pub mod recipient_field;
pub mod requirement_fieldset;
pub mod sender_select;
pub mod tooltip;
pub mod user_menu;
