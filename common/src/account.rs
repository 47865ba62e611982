//! The signed-in user's account as the compose page sees it: the sender addresses of the From
//! selector (RFC 5322 §3.4 mailboxes), the secure-sending settings ("Verschlüsselter
//! Versand") and a saved draft.

use serde::{Deserialize, Serialize};

/// A sender address the user may choose in the From selector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderAddress {
    /// The address, e.g. `maxima@mailbox.example` or `maxima@secure.mailbox.example`.
    pub address: String,
    /// Whether it is a secure alias: mail from it goes out only over TLS at the user's minimum.
    pub secure: bool,
}

/// Answer of [`paths::ACCOUNT`](crate::paths::ACCOUNT).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Display name, e.g. "Maxima Mustermann".
    pub name: String,
    /// The user's addresses, followed by their secure aliases when secure sending is on.
    pub addresses: Vec<SenderAddress>,
}

/// The three choices of the setting "Verschlüsselter Versand".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecureMode {
    /// Ausschalten: no secure aliases.
    #[default]
    Off,
    /// Einschalten: secure aliases with the default requirements.
    On,
    /// Einschalten mit Profi-Einstellungen: secure aliases with the chosen requirements.
    Expert,
}

/// How a connection must be authenticated at least.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum MinAuthentication {
    /// Any TLS, with any certificate.
    #[default]
    AnyTls,
    /// Authenticated TLS: DANE, or a certificate valid under the WebPKI for the server's name.
    Authenticated,
}

/// The lowest TLS version accepted.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum MinTlsVersion {
    /// TLS 1.2 (older versions never count as encryption).
    #[default]
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// A minimum transport requirement, for sending or for receiving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransportRequirement {
    /// Minimum authentication.
    pub authentication: MinAuthentication,
    /// Minimum TLS version.
    pub tls_version: MinTlsVersion,
}

/// Body of [`paths::SETTINGS`](crate::paths::SETTINGS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecureSendingSettings {
    /// Off, on, or on with expert settings.
    pub mode: SecureMode,
    /// Minimum for mail sent from a secure alias (expert mode; defaults otherwise).
    pub sending: TransportRequirement,
    /// Minimum for mail received at a secure alias (expert mode; defaults otherwise).
    pub receiving: TransportRequirement,
}

/// A message being written, saved with "Speichern" so that it is there again after a reload.
///
/// Recipients are kept as the user entered them, one entry per chip, invalid ones included, so
/// that saving loses nothing; the page parses them again when it restores the draft.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The chosen sender address, if one was chosen.
    #[serde(default)]
    pub from: Option<String>,
    /// To, as typed (e.g. `Name <a@b.example>` or an invalid entry).
    #[serde(default)]
    pub to: Vec<String>,
    /// CC, as typed.
    #[serde(default)]
    pub cc: Vec<String>,
    /// BCC, as typed.
    #[serde(default)]
    pub bcc: Vec<String>,
    /// The subject.
    #[serde(default)]
    pub subject: String,
    /// The message text.
    #[serde(default)]
    pub body: String,
    /// When the server stored it, seconds since the Unix epoch (ignored when sent by the page).
    #[serde(default)]
    pub saved_at: i64,
}

/// Body of a sign-in request ([`paths::SESSION`](crate::paths::SESSION), `POST`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    /// The login name.
    pub login: String,
    /// The password.
    pub password: String,
}

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Their own settings, drafts and messages.
    User,
    /// Also the admin view: holds, history, the audit log.
    Admin,
}

/// The signed-in session ([`paths::SESSION`](crate::paths::SESSION)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// The login name.
    pub login: String,
    /// The display name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// The token to send in [`paths::CSRF_HEADER`](crate::paths::CSRF_HEADER) with every
    /// state-changing request of this session.
    pub csrf_token: String,
}
