//! The user's side of the server: who the user is and which sender addresses they have
//! (`account`, the secure aliases of "Verschlüsselter Versand"), and the bounds of the draft
//! saved with "Speichern" (`draft`), the users kept in the database (`users`: login names and
//! their addresses) and their passwords (`password`: argon2id).

pub mod account;
pub mod draft;
pub mod password;
pub mod users;
