//! What a saved draft may hold: bounds on its parts, checked before it is stored.
//!
//! The recipients are kept as the user typed them (invalid entries too: a draft must lose
//! nothing), so they are bounded in number and length, not in syntax. The sender is bounded by
//! the longest address SMTP carries, counted in octets as the shared address parser counts it
//! ([`sendguard_common::address::MAX_ADDRESS`], RFC 5321 §4.5.3.1.3: a 256-octet path, angle
//! brackets included); the body only by the size of the request
//! ([`crate::http::MAX_DRAFT_BYTES`]).

use sendguard_common::Draft;

/// Most recipients one field (To, CC or BCC) of a draft may have.
pub const MAX_RECIPIENTS: usize = 500;
/// Longest recipient entry, in characters (an address with a long display name fits easily).
pub const MAX_ENTRY_CHARS: usize = 1000;
/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 1000;
/// Longest sender address, in octets (RFC 5321 §4.5.3.1.3), the limit of the address parser:
/// a draft cannot keep a sender that is too long to be an address.
pub const MAX_SENDER_CHARS: usize = sendguard_common::address::MAX_ADDRESS;

/// Why a draft is refused. Every variant is permanent: the same draft is refused again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    /// A recipient field has too many entries.
    #[error("{field} has {count} recipients; a draft may have at most {max}", max = MAX_RECIPIENTS)]
    TooManyRecipients {
        /// `To`, `CC` or `BCC`.
        field: &'static str,
        /// How many it has.
        count: usize,
    },
    /// A recipient entry is too long.
    #[error("a recipient in {field} is longer than {max} characters", max = MAX_ENTRY_CHARS)]
    EntryTooLong {
        /// `To`, `CC` or `BCC`.
        field: &'static str,
    },
    /// The subject is too long.
    #[error("the subject is longer than {max} characters", max = MAX_SUBJECT_CHARS)]
    SubjectTooLong,
    /// The sender address is too long.
    #[error("the sender address is longer than {max} characters", max = MAX_SENDER_CHARS)]
    SenderTooLong,
}

/// Checks the bounds of `draft`; the first part out of bounds is named.
pub fn validate(draft: &Draft) -> Result<(), DraftError> {
    let longer = |text: &str, max: usize| text.chars().nth(max).is_some();
    if draft
        .from
        .as_deref()
        .is_some_and(|f| f.len() > MAX_SENDER_CHARS)
    {
        return Err(DraftError::SenderTooLong);
    }
    for (field, entries) in [("To", &draft.to), ("CC", &draft.cc), ("BCC", &draft.bcc)] {
        if entries.len() > MAX_RECIPIENTS {
            return Err(DraftError::TooManyRecipients {
                field,
                count: entries.len(),
            });
        }
        if entries.iter().any(|e| longer(e, MAX_ENTRY_CHARS)) {
            return Err(DraftError::EntryTooLong { field });
        }
    }
    if longer(&draft.subject, MAX_SUBJECT_CHARS) {
        return Err(DraftError::SubjectTooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_at_the_limits_is_accepted() {
        let draft = Draft {
            from: Some("a".repeat(MAX_SENDER_CHARS)),
            to: vec!["x".repeat(MAX_ENTRY_CHARS); MAX_RECIPIENTS],
            cc: vec!["kaputt".into()],
            subject: "ü".repeat(MAX_SUBJECT_CHARS),
            body: "long ".repeat(10_000),
            ..Draft::default()
        };
        assert_eq!(validate(&draft), Ok(()));
    }

    #[test]
    fn each_part_beyond_its_limit_is_named() {
        let over = |f: fn(&mut Draft)| {
            let mut d = Draft::default();
            f(&mut d);
            validate(&d).unwrap_err().to_string()
        };
        assert_eq!(
            over(|d| d.bcc = vec!["a@b.example".into(); MAX_RECIPIENTS + 1]),
            "BCC has 501 recipients; a draft may have at most 500"
        );
        assert_eq!(
            over(|d| d.cc = vec!["x".repeat(MAX_ENTRY_CHARS + 1)]),
            "a recipient in CC is longer than 1000 characters"
        );
        assert_eq!(
            over(|d| d.subject = "ü".repeat(MAX_SUBJECT_CHARS + 1)),
            "the subject is longer than 1000 characters"
        );
        assert_eq!(
            over(|d| d.from = Some("a".repeat(MAX_SENDER_CHARS + 1))),
            "the sender address is longer than 254 characters"
        );
    }

    #[test]
    fn the_sender_is_bounded_in_octets_like_an_address() {
        // 127 ü are 254 octets, 128 are 256 (though only 128 characters).
        let draft = |from: String| Draft {
            from: Some(from),
            ..Draft::default()
        };
        assert_eq!(validate(&draft("ü".repeat(127))), Ok(()));
        assert_eq!(
            validate(&draft("ü".repeat(128))),
            Err(DraftError::SenderTooLong)
        );
    }
}
