//! Wire types of sending: the message a user submits ([`SendRequest`], `POST`
//! [`crate::paths::MESSAGES`]) and what the queue tells about it afterwards ([`MessageView`],
//! [`MessageSummary`], one [`RecipientView`] per recipient), for the compose page, the Sent page
//! and `sendguard send --json`.
//!
//! Addresses travel bare (`local@domain`, checked by [`crate::address`]); the display name of
//! the sender comes from the account, not from the request.

use serde::{Deserialize, Serialize};

/// How a recipient was addressed (RFC 5322 §3.6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// In the `To` header.
    To,
    /// In the `Cc` header.
    Cc,
    /// Blind copy: an envelope recipient only, never in a header.
    Bcc,
}

/// Where a recipient of a queued message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    /// Accepted and stored, waiting for its first attempt.
    Queued,
    /// A delivery attempt is in progress.
    Sending,
    /// A recipient server accepted the message (RFC 5321 §4.2.5: responsibility passed on).
    Sent,
    /// A temporary failure; another attempt follows at `next_attempt_at`.
    Deferred,
    /// Not attempted: a recipient server is on hold; the message waits for a decision.
    Held,
    /// Given up: a permanent failure, or expiry; `reason` says why.
    Failed,
}

impl RecipientState {
    /// Whether nothing more will happen to the recipient.
    pub fn is_final(self) -> bool {
        matches!(self, RecipientState::Sent | RecipientState::Failed)
    }
}

/// Body of `POST` [`crate::paths::MESSAGES`]: one plain-text message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// The sender: one of the user's own addresses or secure aliases.
    pub from: String,
    /// To addresses.
    #[serde(default)]
    pub to: Vec<String>,
    /// Cc addresses.
    #[serde(default)]
    pub cc: Vec<String>,
    /// Bcc addresses (never written into the message).
    #[serde(default)]
    pub bcc: Vec<String>,
    /// The subject (any Unicode, no control characters).
    #[serde(default)]
    pub subject: String,
    /// The text body (`text/plain; charset=utf-8`).
    #[serde(default)]
    pub body: String,
}

/// How a sent recipient's message went: the server that accepted it and the protection used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    /// The MX host that accepted the message (the relay, when `relayed`).
    pub mx_host: String,
    /// Its address.
    pub ip: String,
    /// `TLSv1.2` or `TLSv1.3`; `None`: plain text.
    pub tls_version: Option<String>,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: Option<String>,
    /// The DANE outcome for the host (RFC 7672).
    pub dane: Option<crate::DaneStatus>,
    /// Whether the certificate was authenticated (DANE or WebPKI).
    pub verified: bool,
    /// Handed to the operator's relay (relay mode): `mx_host` and `ip` name the relay, and the
    /// protection is that of the hop to it.
    #[serde(default)]
    pub relayed: bool,
}

/// One recipient of a queued message and its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientView {
    /// The address.
    pub address: String,
    /// To, Cc or Bcc.
    pub kind: RecipientKind,
    /// Where it stands.
    pub state: RecipientState,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When the next attempt is due, seconds since the Unix epoch.
    pub next_attempt_at: Option<i64>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<i64>,
    /// The last server reply or the reason for the state (deferred, held, failed).
    pub reason: Option<String>,
    /// For a sent recipient: how.
    pub delivery: Option<DeliveryView>,
}

/// A queued message with its recipients: the answer of `POST` [`crate::paths::MESSAGES`] and
/// of `GET` [`crate::paths::MESSAGE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    /// The queue's id of the message.
    pub id: i64,
    /// The sender address.
    pub from: String,
    /// The subject.
    pub subject: String,
    /// The `Message-ID` header, without angle brackets.
    pub message_id: String,
    /// When it was accepted, seconds since the Unix epoch.
    pub created_at: i64,
    /// Size of the built message, in octets.
    pub size: u64,
    /// Every recipient, To first, then Cc, then Bcc, each in the order given.
    pub recipients: Vec<RecipientView>,
}

/// Answer of `GET` [`crate::paths::MESSAGES`]: the user's messages, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageList {
    /// The messages with their recipients.
    pub messages: Vec<MessageView>,
}
