//! The routed pages: compose (`/`), sent messages (`/sent`), settings (`/settings`) and the
//! admin view (`/admin`), and the sign-in page shown instead of them while no one is signed in.

pub mod admin;
pub mod compose;
pub mod sent;
pub mod settings;
pub mod sign_in;
