//! Sending: submission into the durable queue ([`submit`]), the delivery worker ([`worker`])
//! that takes due recipients from [`crate::store::queue`] to their MX hosts ([`attempt`], with
//! the enforcement of the one policy judgement) or, in relay mode, to the operator's Postfix
//! ([`relay`]), the retry schedule ([`retry`]), the count of each session for TLS reports
//! (`reported.rs`, RFC 8460), and the views of queued messages the API and
//! the command line show.

pub mod attempt;
mod judged;
pub mod relay;
mod reported;
pub mod retry;
pub mod submit;
pub mod worker;

use sendguard_common::{DeliveryView, MessageView, RecipientView};

use crate::store::queue::{QueuedMessage, QueuedRecipient};

/// The wire view of a queued message.
pub fn view(message: &QueuedMessage) -> MessageView {
    MessageView {
        id: message.id,
        from: message.envelope_from.clone(),
        subject: message.subject.clone(),
        message_id: message.message_id.clone(),
        created_at: message.created_at,
        size: message.size,
        recipients: message.recipients.iter().map(recipient_view).collect(),
    }
}

fn recipient_view(r: &QueuedRecipient) -> RecipientView {
    RecipientView {
        address: r.address.clone(),
        kind: r.kind,
        state: r.state,
        attempts: r.attempts,
        next_attempt_at: r.next_attempt_at,
        last_attempt_at: r.last_attempt_at,
        reason: r.reason.clone(),
        delivery: r.sent.as_ref().map(|s| DeliveryView {
            mx_host: s.mx_host.clone(),
            ip: s.ip.to_string(),
            tls_version: s.tls_version.map(|v| v.name().to_string()),
            cipher: s.cipher.clone(),
            dane: s.dane,
            verified: s.verified,
            relayed: s.relayed,
        }),
    }
}
