//! Submission: a message the user hands over is checked, built as RFC 5322 / MIME text and
//! written durably to the queue ([`Store::enqueue`]); only then is it answered, with every
//! recipient `queued`. The HTTP API (`POST /api/messages`) and `sendguard send` both come here.
//!
//! The checks, each refused with its own [`SubmitError`]:
//! * the From address is one of the signed-in user's own addresses, or their secure alias while
//!   secure sending is on ([`crate::user::account`]);
//! * every address goes through the one parser ([`sendguard_common::address`]) and its domain
//!   through the IDNA conversion the lookups use ([`crate::dns::to_a_label`]);
//! * one to [`MAX_RECIPIENTS`] recipients (a repeated address is kept once, where it first
//!   appears); a subject of at most [`MAX_SUBJECT_CHARS`] characters without control characters
//!   (so no header can be injected through it), a body of at most [`MAX_BODY_BYTES`] octets
//!   without NUL (RFC 5322 §2.3).
//! * the user has room in the queue: at most [`MAX_PENDING_PER_USER`] recipients not finished
//!   yet, so a client that submits in a loop cannot grow the queue without bound (temporary).
//!
//! The message is built by mail-builder: `From` (with the account's display name), `To`, `Cc`
//! (never `Bcc`: blind copies are envelope recipients only, RFC 5322 §3.6.3), `Subject`
//! (RFC 2047 encoded words when it is not plain ASCII), `Date` (RFC 5322 §3.3), a `Message-ID`
//! made of 128 random bits at the sender's domain (§3.6.4), and a `text/plain; charset=utf-8`
//! body in a transfer encoding that keeps lines short (RFC 2045). An internationalised address
//! is written in UTF-8 as given (RFC 6532 §3.2); its domain's A-label is kept for the lookups.

use std::collections::HashSet;

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as HeaderAddress;
use sendguard_common::address::{Address, AddressError};
use sendguard_common::{RecipientKind, SendRequest};

use crate::store::queue::{NewMessage, NewRecipient, QueuedMessage};
use crate::store::{Store, StoreError};
use crate::user::account::AccountConfig;

/// Most recipients (To, Cc and Bcc together) of one message.
pub const MAX_RECIPIENTS: usize = 100;
/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 998;
/// Largest body, in octets of UTF-8.
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// The most recipients one user may have waiting in the queue (queued, sending, deferred or
/// held) at once: the queue stays bounded however fast a client submits.
pub const MAX_PENDING_PER_USER: i64 = 20_000;

/// Why a message was not queued. Every variant but [`SubmitError::Store`] (when the database is
/// busy) is permanent: the same message is refused again.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The From address is not the user's.
    #[error("{0} is not one of your sender addresses")]
    NotYourAddress(String),
    /// An address is not valid.
    #[error("{address:?}: {reason}")]
    BadAddress {
        /// The address as given.
        address: String,
        /// The rule it breaks.
        reason: AddressError,
    },
    /// An internationalised domain that has no valid A-label form.
    #[error("{0:?}: the domain is not a valid internationalised name")]
    BadDomain(String),
    /// No recipient at all.
    #[error("the message has no recipient")]
    NoRecipients,
    /// More than [`MAX_RECIPIENTS`].
    #[error("the message has {0} recipients; at most {MAX_RECIPIENTS} are allowed")]
    TooManyRecipients(usize),
    /// The subject is longer than [`MAX_SUBJECT_CHARS`].
    #[error("the subject is longer than {MAX_SUBJECT_CHARS} characters")]
    SubjectTooLong,
    /// The subject contains a control character (a line break would start a new header).
    #[error("the subject contains a control character")]
    SubjectControl,
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("the text is larger than {} KiB", MAX_BODY_BYTES / 1024)]
    BodyTooLarge,
    /// The body contains NUL.
    #[error("the text contains a NUL character")]
    BodyNul,
    /// The user already has [`MAX_PENDING_PER_USER`] recipients waiting (temporary: the queue
    /// drains as messages are delivered).
    #[error(
        "{pending} recipients of yours are still waiting in the queue; at most {MAX_PENDING_PER_USER} may wait at once, please try again later"
    )]
    QueueFull {
        /// How many are waiting now.
        pending: i64,
    },
    /// The message could not be built (permanent).
    #[error("the message could not be built: {0}")]
    Build(#[source] std::io::Error),
    /// The queue could not store it (temporary when the database is busy).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SubmitError {
    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        match self {
            SubmitError::Store(e) => e.is_temporary(),
            SubmitError::QueueFull { .. } => true,
            _ => false,
        }
    }
}

/// Checks `request` from the user `owner` (whose addresses are `account`), builds it and puts
/// it in the queue; returns the message as stored, every recipient `queued`. When this returns
/// `Ok`, the message is on disk.
pub async fn submit(
    store: &Store,
    account: &AccountConfig,
    owner: &str,
    request: &SendRequest,
) -> Result<QueuedMessage, SubmitError> {
    let settings = store.settings(owner).await?;
    let allowed: Vec<String> = account
        .account(&settings)
        .addresses
        .into_iter()
        .map(|a| a.address)
        .collect();
    let message = prepare(request, &account.name, &allowed, crate::probe::now_unix())?;
    let pending = store.pending_recipients(owner).await?;
    if pending + message.recipients.len() as i64 > MAX_PENDING_PER_USER {
        return Err(SubmitError::QueueFull { pending });
    }
    Ok(store.enqueue(&message.into_new(owner)).await?)
}

/// A checked and built message, not yet stored.
#[derive(Clone, Debug)]
pub struct Prepared {
    from: Address,
    from_header: String,
    subject: String,
    message_id: String,
    created_at: i64,
    raw: Vec<u8>,
    recipients: Vec<NewRecipient>,
}

impl Prepared {
    /// The built RFC 5322 message.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    fn into_new(self, owner: &str) -> NewMessage {
        NewMessage {
            owner: owner.to_string(),
            envelope_from: self.from.to_string(),
            from_header: self.from_header,
            subject: self.subject,
            message_id: self.message_id,
            created_at: self.created_at,
            raw: self.raw,
            recipients: self.recipients,
        }
    }
}

/// Checks `request` against the sender addresses `allowed` and builds it at time `now`
/// (seconds since the epoch); `name` is the From display name.
pub fn prepare(
    request: &SendRequest,
    name: &str,
    allowed: &[String],
    now: i64,
) -> Result<Prepared, SubmitError> {
    let from = parse_address(&request.from)?;
    if !allowed.iter().any(|a| *a == from.to_string()) {
        return Err(SubmitError::NotYourAddress(request.from.clone()));
    }
    let recipients = recipients(request)?;
    if request.subject.chars().nth(MAX_SUBJECT_CHARS).is_some() {
        return Err(SubmitError::SubjectTooLong);
    }
    if request.subject.chars().any(char::is_control) {
        return Err(SubmitError::SubjectControl);
    }
    if request.body.len() > MAX_BODY_BYTES {
        return Err(SubmitError::BodyTooLarge);
    }
    if request.body.contains('\0') {
        return Err(SubmitError::BodyNul);
    }
    let from_domain = a_label(&from)?;
    let message_id = format!("{}@{from_domain}", random_hex()?);
    // A configured display name with control characters is left out rather than written.
    let name = Some(name.trim()).filter(|n| !n.is_empty() && !n.chars().any(char::is_control));
    let header_list = |kind: RecipientKind| -> Vec<HeaderAddress<'static>> {
        recipients
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| HeaderAddress::new_address(None::<String>, r.address.clone()))
            .collect()
    };
    let (to, cc) = (
        header_list(RecipientKind::To),
        header_list(RecipientKind::Cc),
    );
    let from_address = HeaderAddress::new_address(name.map(str::to_string), from.to_string());
    let from_header = match name {
        Some(n) => format!("{n} <{from}>"),
        None => from.to_string(),
    };
    let mut builder = MessageBuilder::new()
        .from(from_address)
        .subject(request.subject.clone())
        .date(now)
        .message_id(message_id.clone())
        .text_body(request.body.clone());
    if !to.is_empty() {
        builder = builder.to(HeaderAddress::new_list(to));
    }
    if !cc.is_empty() {
        builder = builder.cc(HeaderAddress::new_list(cc));
    }
    let mut raw = builder.write_to_vec().map_err(SubmitError::Build)?;
    // Stored as it is sent: the last line ended like every other (RFC 5321 §4.1.1.4).
    if !raw.ends_with(b"\r\n") {
        raw.extend_from_slice(b"\r\n");
    }
    Ok(Prepared {
        from,
        from_header,
        subject: request.subject.clone(),
        message_id,
        created_at: now,
        raw,
        recipients,
    })
}

/// The recipients in order (To, Cc, Bcc), each address once, bounded in number.
fn recipients(request: &SendRequest) -> Result<Vec<NewRecipient>, SubmitError> {
    let given = request.to.len() + request.cc.len() + request.bcc.len();
    if given > MAX_RECIPIENTS {
        return Err(SubmitError::TooManyRecipients(given));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let fields = [
        (RecipientKind::To, &request.to),
        (RecipientKind::Cc, &request.cc),
        (RecipientKind::Bcc, &request.bcc),
    ];
    for (kind, entries) in fields {
        for entry in entries {
            let address = parse_address(entry)?;
            let domain = a_label(&address)?;
            if seen.insert(address.to_string()) {
                out.push(NewRecipient {
                    address: address.to_string(),
                    domain,
                    kind,
                });
            }
        }
    }
    if out.is_empty() {
        return Err(SubmitError::NoRecipients);
    }
    Ok(out)
}

fn parse_address(text: &str) -> Result<Address, SubmitError> {
    Address::parse(text).map_err(|reason| SubmitError::BadAddress {
        address: text.to_string(),
        reason,
    })
}

fn a_label(address: &Address) -> Result<String, SubmitError> {
    crate::dns::to_a_label(address.domain().as_str())
        .map_err(|_| SubmitError::BadDomain(address.to_string()))
}

/// 128 random bits in hex, the unique part of a Message-ID.
fn random_hex() -> Result<String, SubmitError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| SubmitError::Build(std::io::Error::other(e.to_string())))?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
#[path = "submit_tests.rs"]
mod tests;
