//! The user's side of the server: who the user is and which sender addresses they have
//! (`account`, the secure aliases of "Verschlüsselter Versand"), and the bounds of the draft
//! saved with "Speichern" (`draft`).

pub mod account;
pub mod draft;
