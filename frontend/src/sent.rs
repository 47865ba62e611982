//! What the Sent page and the compose page's result say about queued messages (issue 12,
//! "Status for the sender"): one line per recipient from the queue's [`RecipientView`], in the
//! user's language, and how often the page asks the server again while something can still
//! change.
//!
//! The states are the queue's (`sendguard_common::RecipientState`): "sent" means a recipient
//! server accepted the message (RFC 5321 §4.2.5, responsibility passed on), "deferred" that a
//! temporary failure is retried later (RFC 5321 §4.5.4.1), "held" that a recipient server is
//! on hold and waits for an administrator, "failed" that it was given up. Only sent and failed
//! are final. The server's reason is shown as the server wrote it.
//!
//! Plain Rust, tested natively.

use sendguard_common::{
    DaneStatus, DeliveryView, MessageView, RecipientKind, RecipientState, RecipientView,
};

use crate::api::ApiError;
use crate::i18n::{Key, Lang};

/// Milliseconds between requests while a recipient is queued or being sent to: its state can
/// change any moment.
pub const FAST_POLL_MS: u32 = 2_000;
/// Milliseconds between requests while only deferred or held recipients are left: they change
/// at their next attempt (minutes away) or when an administrator decides.
pub const SLOW_POLL_MS: u32 = 30_000;
/// Milliseconds before asking again after a request failed.
pub const RETRY_POLL_MS: u32 = 10_000;
/// Requests one view makes at most before it stops asking (about half an hour at the fast
/// pace, longer at the slow one); the Sent page's Refresh starts it again.
pub const MAX_POLLS: u32 = 900;

/// How soon a view should ask again about the recipients it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// Something is queued or being sent.
    Fast,
    /// Only deferred or held recipients are left (besides final ones).
    Slow,
    /// Every recipient is final (or there is none): nothing will change.
    Done,
}

/// The pace for recipients in these states.
pub fn pace(states: impl IntoIterator<Item = RecipientState>) -> Pace {
    states
        .into_iter()
        .fold(Pace::Done, |pace, state| match state {
            RecipientState::Queued | RecipientState::Sending => Pace::Fast,
            RecipientState::Deferred | RecipientState::Held if pace == Pace::Done => Pace::Slow,
            _ => pace,
        })
}

/// Milliseconds until the next request after `polls` requests, whose last answer had this
/// pace; `None`: stop asking.
pub fn delay(pace: Pace, polls: u32) -> Option<u32> {
    if polls >= MAX_POLLS {
        return None;
    }
    match pace {
        Pace::Fast => Some(FAST_POLL_MS),
        Pace::Slow => Some(SLOW_POLL_MS),
        Pace::Done => None,
    }
}

/// Milliseconds until the next request after `polls` requests, the last of which failed.
pub fn retry_delay(polls: u32) -> Option<u32> {
    (polls < MAX_POLLS).then_some(RETRY_POLL_MS)
}

/// An answer of the queue: the messages asked about, or why there is none.
pub type Answer = Result<Vec<MessageView>, ApiError>;

/// Milliseconds until the next request after `polls` requests, the last answered with
/// `answer`; `None`: stop asking.
pub fn next_poll(answer: &Answer, polls: u32) -> Option<u32> {
    match answer {
        Ok(messages) => {
            let states = messages
                .iter()
                .flat_map(|m| m.recipients.iter().map(|r| r.state));
            delay(pace(states), polls)
        }
        Err(_) => retry_delay(polls),
    }
}

/// What a live view of the queue shows: the messages of the last good answer (`None` before
/// the first), and why the latest request failed, if it did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Live {
    /// The messages last received.
    pub messages: Option<Vec<MessageView>>,
    /// The failure of the latest request (the messages before it stay shown).
    pub error: Option<ApiError>,
}

impl Live {
    /// The view after `answer`: new messages replace the old ones, a failure keeps them.
    pub fn after(&self, answer: Answer) -> Live {
        match answer {
            Ok(messages) => Live {
                messages: Some(messages),
                error: None,
            },
            Err(e) => Live {
                messages: self.messages.clone(),
                error: Some(e),
            },
        }
    }
}

/// The catalog key of a recipient's state.
pub fn state_key(state: RecipientState) -> Key {
    match state {
        RecipientState::Queued => Key::StateQueued,
        RecipientState::Sending => Key::StateSending,
        RecipientState::Sent => Key::StateSent,
        RecipientState::Deferred => Key::StateDeferred,
        RecipientState::Held => Key::StateHeld,
        RecipientState::Failed => Key::StateFailed,
    }
}

/// The state's name in CSS classes and `data-state` (as on the wire).
pub fn state_slug(state: RecipientState) -> &'static str {
    match state {
        RecipientState::Queued => "queued",
        RecipientState::Sending => "sending",
        RecipientState::Sent => "sent",
        RecipientState::Deferred => "deferred",
        RecipientState::Held => "held",
        RecipientState::Failed => "failed",
    }
}

/// The catalog key of how a recipient was addressed (To, CC, BCC).
pub fn kind_key(kind: RecipientKind) -> Key {
    match kind {
        RecipientKind::To => Key::To,
        RecipientKind::Cc => Key::Cc,
        RecipientKind::Bcc => Key::Bcc,
    }
}

/// How a sent message travelled: `accepted by mx.example (192.0.2.1) · TLSv1.3 ·
/// TLS13_AES_256_GCM_SHA384 · DANE verified`, or `… · plain text`; in relay mode `relayed to
/// …` with the protection of the hop to the relay.
pub fn delivery_text(lang: Lang, d: &DeliveryView) -> String {
    let by = if d.relayed {
        Key::SentRelayed
    } else {
        Key::SentBy
    };
    let mut parts = vec![lang.format(by, &[&d.mx_host, &d.ip])];
    match &d.tls_version {
        None => parts.push(lang.text(Key::SentPlain).to_string()),
        Some(version) => {
            parts.push(version.clone());
            parts.extend(d.cipher.clone());
            let auth = if d.dane == Some(DaneStatus::Verified) {
                Key::SentDaneVerified
            } else if d.verified {
                Key::SentCertVerified
            } else {
                Key::SentNotVerified
            };
            parts.push(lang.text(auth).to_string());
        }
    }
    parts.join(" · ")
}

/// The line under a recipient's state: how it went (sent), why and when next (deferred), why
/// it waits (held), why it was given up (failed); `None` while queued or sending. `clock`
/// writes a time (seconds since the Unix epoch) in the user's locale.
pub fn detail(lang: Lang, r: &RecipientView, clock: impl Fn(i64) -> String) -> Option<String> {
    let reason = r
        .reason
        .as_deref()
        .map(|why| lang.format(Key::StatusReason, &[why]));
    let parts: Vec<String> = match r.state {
        RecipientState::Queued | RecipientState::Sending => return None,
        RecipientState::Sent => vec![delivery_text(lang, r.delivery.as_ref()?)],
        RecipientState::Deferred => {
            let next = r
                .next_attempt_at
                .map(|at| lang.format(Key::StatusNextAttempt, &[&clock(at)]));
            reason.into_iter().chain(next).collect()
        }
        RecipientState::Held => std::iter::once(lang.text(Key::StatusHeldWhy).to_string())
            .chain(reason)
            .collect(),
        RecipientState::Failed => reason.into_iter().collect(),
    };
    (!parts.is_empty()).then(|| parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use RecipientState::*;

    fn recipient(state: RecipientState) -> RecipientView {
        RecipientView {
            address: "user@tls.test".into(),
            kind: RecipientKind::To,
            state,
            attempts: 0,
            next_attempt_at: None,
            last_attempt_at: None,
            reason: None,
            delivery: None,
        }
    }

    fn delivery(tls: Option<&str>, dane: Option<DaneStatus>, verified: bool) -> DeliveryView {
        DeliveryView {
            mx_host: "mx.tls.test".into(),
            ip: "127.0.0.5".into(),
            tls_version: tls.map(str::to_string),
            cipher: tls.map(|_| "TLS13_AES_256_GCM_SHA384".to_string()),
            dane,
            verified,
            relayed: false,
        }
    }

    #[test]
    fn the_pace_follows_the_least_settled_recipient() {
        assert_eq!(pace([]), Pace::Done);
        assert_eq!(pace([Sent, Failed]), Pace::Done);
        assert_eq!(pace([Sent, Deferred]), Pace::Slow);
        assert_eq!(pace([Held, Sent]), Pace::Slow);
        assert_eq!(pace([Deferred, Queued, Held]), Pace::Fast);
        assert_eq!(pace([Sending, Deferred]), Pace::Fast);
    }

    #[test]
    fn polling_stops_when_final_and_after_the_bound() {
        assert_eq!(delay(Pace::Fast, 1), Some(FAST_POLL_MS));
        assert_eq!(delay(Pace::Slow, 1), Some(SLOW_POLL_MS));
        assert_eq!(delay(Pace::Done, 1), None);
        assert_eq!(delay(Pace::Fast, MAX_POLLS), None);
        assert_eq!(retry_delay(3), Some(RETRY_POLL_MS));
        assert_eq!(retry_delay(MAX_POLLS), None);
        const { assert!(FAST_POLL_MS >= 1_000, "no faster than once a second") };
    }

    fn message(states: &[RecipientState]) -> MessageView {
        MessageView {
            id: 1,
            from: "maxima@example.org".into(),
            subject: String::new(),
            message_id: "1@example.org".into(),
            created_at: 0,
            size: 10,
            recipients: states.iter().map(|&s| recipient(s)).collect(),
        }
    }

    #[test]
    fn the_next_request_follows_every_message_and_failures_are_retried() {
        let answer: Answer = Ok(vec![message(&[Sent]), message(&[Failed, Queued])]);
        assert_eq!(next_poll(&answer, 1), Some(FAST_POLL_MS));
        let answer: Answer = Ok(vec![message(&[Sent]), message(&[Held])]);
        assert_eq!(next_poll(&answer, 1), Some(SLOW_POLL_MS));
        assert_eq!(next_poll(&Ok(vec![message(&[Sent, Failed])]), 1), None);
        assert_eq!(next_poll(&Ok(vec![]), 1), None, "nothing to wait for");
        let failed: Answer = Err(ApiError::Network("offline".into()));
        assert_eq!(next_poll(&failed, 1), Some(RETRY_POLL_MS));
        assert_eq!(next_poll(&failed, MAX_POLLS), None);
    }

    #[test]
    fn a_failed_request_keeps_the_messages_shown_until_the_next_answer() {
        let first = Live::default().after(Ok(vec![message(&[Queued])]));
        assert_eq!(first.messages.as_ref().map(Vec::len), Some(1));
        let failed = first.after(Err(ApiError::Network("offline".into())));
        assert_eq!(failed.messages, first.messages);
        assert!(failed.error.is_some());
        let again = failed.after(Ok(vec![message(&[Sent])]));
        assert_eq!(again.error, None);
        assert_eq!(again.messages.unwrap()[0].recipients[0].state, Sent);
        assert_eq!(
            Live::default()
                .after(Err(ApiError::Decode("x".into())))
                .messages,
            None
        );
    }

    #[test]
    fn a_sent_recipient_shows_server_protection_and_authentication() {
        let mut r = recipient(Sent);
        r.delivery = Some(delivery(Some("TLSv1.3"), Some(DaneStatus::Verified), true));
        assert_eq!(
            detail(Lang::En, &r, |_| unreachable!()).unwrap(),
            "accepted by mx.tls.test (127.0.0.5) · TLSv1.3 · TLS13_AES_256_GCM_SHA384 · DANE verified"
        );
        r.delivery = Some(delivery(Some("TLSv1.2"), Some(DaneStatus::None), false));
        assert_eq!(
            detail(Lang::De, &r, |_| unreachable!()).unwrap(),
            "angenommen von mx.tls.test (127.0.0.5) · TLSv1.2 · TLS13_AES_256_GCM_SHA384 · Zertifikat nicht bestätigt"
        );
        r.delivery = Some(delivery(Some("TLSv1.3"), None, true));
        assert!(
            detail(Lang::En, &r, |_| unreachable!())
                .unwrap()
                .ends_with("· certificate verified")
        );
    }

    #[test]
    fn a_relayed_recipient_names_the_relay_not_a_recipient_server() {
        let mut r = recipient(Sent);
        let mut via = delivery(Some("TLSv1.3"), None, true);
        via.mx_host = "postfix.example".into();
        via.relayed = true;
        r.delivery = Some(via);
        assert_eq!(
            detail(Lang::En, &r, |_| unreachable!()).unwrap(),
            "relayed to postfix.example (127.0.0.5), the operator's Postfix, which delivers it · TLSv1.3 · TLS13_AES_256_GCM_SHA384 · certificate verified"
        );
        assert!(
            detail(Lang::De, &r, |_| unreachable!())
                .unwrap()
                .starts_with("weitergegeben an postfix.example")
        );
    }

    #[test]
    fn plain_text_is_said_in_so_many_words() {
        let mut r = recipient(Sent);
        r.delivery = Some(delivery(None, None, false));
        assert_eq!(
            detail(Lang::De, &r, |_| unreachable!()).unwrap(),
            "angenommen von mx.tls.test (127.0.0.5) · unverschlüsselt"
        );
        assert_eq!(
            detail(Lang::En, &r, |_| unreachable!()).unwrap(),
            "accepted by mx.tls.test (127.0.0.5) · plain text"
        );
    }

    #[test]
    fn deferred_held_and_failed_say_why() {
        let mut r = recipient(Deferred);
        r.reason = Some("mx.wrong-tlsa.test: the certificate does not match".into());
        r.next_attempt_at = Some(1_800_000_000);
        assert_eq!(
            detail(Lang::En, &r, |t| format!("<{t}>")).unwrap(),
            "Reason: mx.wrong-tlsa.test: the certificate does not match · next attempt: <1800000000>"
        );
        let mut held = recipient(Held);
        held.reason = Some("mx.downgrade.test is on hold".into());
        let text = detail(Lang::De, &held, |_| unreachable!()).unwrap();
        assert!(text.starts_with("Die Administration muss"), "{text}");
        assert!(
            text.ends_with("Grund: mx.downgrade.test is on hold"),
            "{text}"
        );
        let mut failed = recipient(Failed);
        assert_eq!(detail(Lang::En, &failed, |_| unreachable!()), None);
        failed.reason = Some("nullmx.test accepts no mail".into());
        assert_eq!(
            detail(Lang::De, &failed, |_| unreachable!()).unwrap(),
            "Grund: nullmx.test accepts no mail"
        );
    }

    #[test]
    fn queued_and_sending_have_no_detail_but_every_state_a_name() {
        assert_eq!(
            detail(Lang::De, &recipient(Queued), |_| unreachable!()),
            None
        );
        assert_eq!(
            detail(Lang::En, &recipient(Sending), |_| unreachable!()),
            None
        );
        for state in [Queued, Sending, Sent, Deferred, Held, Failed] {
            let slug = serde_json::to_string(&state).unwrap();
            assert_eq!(slug, format!("\"{}\"", state_slug(state)), "as on the wire");
            assert_ne!(
                Lang::De.text(state_key(state)),
                Lang::En.text(state_key(state))
            );
        }
    }
}
