//! The outgoing queue (tables `messages` and `message_recipients`, migration `0004_queue.sql`):
//! each accepted message as built RFC 5322 text, and per recipient its state, attempts and
//! outcome. Typed rows here; the wire views ([`sendguard_common::MessageView`]) are made at the
//! edge ([`crate::delivery`]).
//!
//! Durability: [`Store::enqueue`] writes the message and all its recipients in one transaction.
//! The store runs in WAL mode with `synchronous = FULL` (see [`crate::store`]), so when the
//! commit returns the transaction is in the WAL file *and* fsynced: a message the user was told
//! is queued survives a killed process and a power loss. A message is queued whole or not at all.
//!
//! A delivery worker takes due recipients with [`Store::claim_due`] (marking them `sending` in
//! one `BEGIN IMMEDIATE` transaction, so two workers never take the same recipient), and records
//! each attempt with [`Store::record_attempt`]. Recipients left `sending` by a killed process are
//! put back with [`Store::requeue_interrupted`] on start: only that transaction in flight can be
//! delivered twice (RFC 5321 §6.1 accepts a duplicate over a loss).

use std::net::IpAddr;

use sendguard_common::{DaneStatus, RecipientKind, RecipientState};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Store, StoreError};
use crate::tls::TlsVersion;

/// At most this many messages are returned by one listing.
pub const MAX_LISTED: u32 = 200;

/// A message to put in the queue, already validated and built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    /// The user's key.
    pub owner: String,
    /// The envelope sender (RFC 5321 `MAIL FROM`).
    pub envelope_from: String,
    /// The From header as written.
    pub from_header: String,
    /// The subject.
    pub subject: String,
    /// The `Message-ID`, without angle brackets.
    pub message_id: String,
    /// When it was accepted, seconds since the Unix epoch.
    pub created_at: i64,
    /// The built message (CRLF line ends).
    pub raw: Vec<u8>,
    /// Its recipients, in order.
    pub recipients: Vec<NewRecipient>,
}

/// One recipient of a [`NewMessage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecipient {
    /// The address (RFC 5321 `RCPT TO`).
    pub address: String,
    /// The A-label form of its domain, as the DNS lookups take it.
    pub domain: String,
    /// To, Cc or Bcc.
    pub kind: RecipientKind,
}

/// A queued message, without its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    /// The queue's id.
    pub id: i64,
    /// The user's key.
    pub owner: String,
    /// The envelope sender.
    pub envelope_from: String,
    /// The From header as written.
    pub from_header: String,
    /// The subject.
    pub subject: String,
    /// The `Message-ID`, without angle brackets.
    pub message_id: String,
    /// When it was accepted.
    pub created_at: i64,
    /// Octets of the built message.
    pub size: u64,
    /// Its recipients, in order.
    pub recipients: Vec<QueuedRecipient>,
}

/// One recipient of a queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedRecipient {
    /// The recipient row's id (what [`Store::record_attempt`] takes).
    pub id: i64,
    /// The message's id.
    pub message: i64,
    /// The address.
    pub address: String,
    /// The A-label domain.
    pub domain: String,
    /// To, Cc or Bcc.
    pub kind: RecipientKind,
    /// Where it stands.
    pub state: RecipientState,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt_at: Option<i64>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<i64>,
    /// The last reply, or why it is deferred, held or failed.
    pub reason: Option<String>,
    /// How it was sent, once it was.
    pub sent: Option<SentVia>,
}

/// The server that accepted a message and the protection used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentVia {
    /// The MX host, or the relay's name when `relayed`.
    pub mx_host: String,
    /// Its address.
    pub ip: IpAddr,
    /// The TLS version; `None`: plain text.
    pub tls_version: Option<TlsVersion>,
    /// The cipher suite's name.
    pub cipher: Option<String>,
    /// The host's DANE outcome.
    pub dane: Option<DaneStatus>,
    /// Whether the certificate was authenticated.
    pub verified: bool,
    /// Handed to the operator's relay (`--relay`), which delivers it on.
    pub relayed: bool,
}

/// What one attempt for one recipient came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Accepted by a server (its reply).
    Sent {
        /// Where and how.
        via: SentVia,
        /// The server's reply to the end of data.
        reply: String,
    },
    /// A temporary failure; try again at `next_attempt_at`.
    Deferred {
        /// Why.
        reason: String,
        /// When to try again.
        next_attempt_at: i64,
    },
    /// A server is on hold; not attempted until a decision.
    Held {
        /// Why.
        reason: String,
    },
    /// A permanent failure or expiry.
    Failed {
        /// The reply or reason.
        reason: String,
    },
}

/// Due recipients of one domain, claimed for one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainBatch {
    /// The A-label domain.
    pub domain: String,
    /// Its claimed recipients (now `sending`), by message then position.
    pub recipients: Vec<QueuedRecipient>,
}

const MESSAGE_COLUMNS: &str =
    "id, owner, envelope_from, from_header, subject, message_id, created_at, size";
const RECIPIENT_COLUMNS: &str = "id, message, address, domain, kind, state, attempts, \
     next_attempt_at, last_attempt_at, reason, mx_host, ip, tls_version, cipher, dane, verified, \
     relayed";

/// Recipients not yet final in one state, for `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueDepth {
    /// `queued`, `sending`, `deferred` or `held`.
    pub state: RecipientState,
    /// How many recipients.
    pub recipients: i64,
    /// When the oldest of their messages was queued, seconds since the Unix epoch.
    pub oldest: i64,
}

impl Store {
    /// The recipients not yet final by state, with the age of the oldest message of each
    /// (one read; states without recipients are left out).
    pub async fn queue_depth(&self) -> Result<Vec<QueueDepth>, StoreError> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT r.state, COUNT(*), MIN(m.created_at) FROM message_recipients r \
             JOIN messages m ON m.id = r.message \
             WHERE r.state IN ('queued', 'sending', 'deferred', 'held') GROUP BY r.state",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(state, recipients, oldest)| {
                let state = RecipientState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("recipient state {state:?}")))?;
                Ok(QueueDepth {
                    state,
                    recipients,
                    oldest,
                })
            })
            .collect()
    }

    /// Puts `message` with all its recipients in the queue (state `queued`, due at once) in one
    /// transaction; when this returns the message is on disk (see the module's durability note).
    /// Returns it as stored.
    pub async fn enqueue(&self, message: &NewMessage) -> Result<QueuedMessage, StoreError> {
        let mut tx = self.begin_immediate().await?;
        let size = i64::try_from(message.raw.len())
            .map_err(|_| StoreError::Corrupt("message too large".into()))?;
        let id: i64 = sqlx::query(
            "INSERT INTO messages (owner, envelope_from, from_header, subject, message_id,
                                   created_at, size, raw)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&message.owner)
        .bind(&message.envelope_from)
        .bind(&message.from_header)
        .bind(&message.subject)
        .bind(&message.message_id)
        .bind(message.created_at)
        .bind(size)
        .bind(&message.raw)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        for (position, r) in message.recipients.iter().enumerate() {
            sqlx::query(
                "INSERT INTO message_recipients
                     (message, position, address, domain, kind, state, next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, 'queued', $6)",
            )
            .bind(id)
            .bind(position as i64)
            .bind(&r.address)
            .bind(&r.domain)
            .bind(r.kind.as_str())
            .bind(message.created_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.message(&message.owner, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("message {id} vanished after queueing")))
    }

    /// How many recipients of `owner` are not finished yet (queued, sending, deferred or held).
    pub async fn pending_recipients(&self, owner: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM message_recipients r JOIN messages m ON m.id = r.message
             WHERE m.owner = $1 AND r.state IN ('queued', 'sending', 'deferred', 'held')",
        )
        .bind(owner)
        .fetch_one(self.pool())
        .await?)
    }

    /// The messages of `owner`, newest first, at most [`MAX_LISTED`], with their recipients.
    pub async fn messages(&self, owner: &str) -> Result<Vec<QueuedMessage>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE owner = $1
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(i64::from(MAX_LISTED))
            .fetch_all(self.pool())
            .await?;
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut m = message_of(row)?;
            m.recipients = self.recipients_of(m.id).await?;
            messages.push(m);
        }
        Ok(messages)
    }

    /// The message `id` without its recipients, whoever owns it (for the delivery worker).
    pub async fn message_row(&self, id: i64) -> Result<Option<QueuedMessage>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(message_of).transpose()
    }

    /// The message `id` of `owner` with its recipients; `None` when there is none (or it is
    /// another user's).
    pub async fn message(&self, owner: &str, id: i64) -> Result<Option<QueuedMessage>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE owner = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut m = message_of(&row)?;
        m.recipients = self.recipients_of(id).await?;
        Ok(Some(m))
    }

    /// The built text of message `id`, for delivery.
    pub async fn message_raw(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT raw FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("raw"))
            .transpose()
            .map_err(Into::into)
    }

    async fn recipients_of(&self, message: i64) -> Result<Vec<QueuedRecipient>, StoreError> {
        let sql = format!(
            "SELECT {RECIPIENT_COLUMNS} FROM message_recipients WHERE message = $1
             ORDER BY position"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(message)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(recipient_of).collect()
    }

    /// Claims up to `limit` recipients that are due at `now` (queued or deferred, next attempt
    /// reached), marks them `sending` and returns them grouped by domain, oldest first. One
    /// `BEGIN IMMEDIATE` transaction: concurrent workers never claim the same recipient.
    pub async fn claim_due(&self, now: i64, limit: u32) -> Result<Vec<DomainBatch>, StoreError> {
        self.claim(None, now, limit).await
    }

    /// Like [`Store::claim_due`], only the recipients of message `id` (`sendguard send --wait`
    /// delivers its own message, not whatever else is queued).
    pub async fn claim_due_of(
        &self,
        id: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<DomainBatch>, StoreError> {
        self.claim(Some(id), now, limit).await
    }

    /// Claims due recipients, and those whose lease ran out (their instance died mid-attempt),
    /// leased to this instance until `now` + the lease. SQLite: one `BEGIN IMMEDIATE`
    /// transaction. PostgreSQL: the rows are locked with `FOR UPDATE SKIP LOCKED`, so instances
    /// claiming at once take different recipients without waiting for each other.
    async fn claim(
        &self,
        message: Option<i64>,
        now: i64,
        limit: u32,
    ) -> Result<Vec<DomainBatch>, StoreError> {
        let (mut tx, lock) = match self.backend() {
            Backend::Sqlite => (self.begin_immediate().await?, ""),
            Backend::Postgres => (
                super::Immediate::unlocked(self.pool().begin().await?),
                "FOR UPDATE SKIP LOCKED",
            ),
        };
        let sql = format!(
            "UPDATE message_recipients SET state = 'sending', claimed_by = $5, lease_until = $6
             WHERE id IN (SELECT id FROM message_recipients
                          WHERE ((state IN ('queued', 'deferred') AND next_attempt_at <= $1)
                                 OR (state = 'sending' AND lease_until < $1))
                            AND ($2 IS NULL OR message = $3)
                          ORDER BY next_attempt_at, id LIMIT $4 {lock})
             RETURNING {RECIPIENT_COLUMNS}, position"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(message)
            .bind(message)
            .bind(i64::from(limit))
            .bind(self.instance())
            .bind(now.saturating_add(self.lease_secs()))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut claimed = rows
            .iter()
            .map(|r| Ok((recipient_of(r)?, r.try_get::<i64, _>("position")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort_by(|(a, pa), (b, pb)| {
            (&a.domain, a.message, pa).cmp(&(&b.domain, b.message, pb))
        });
        let mut batches: Vec<DomainBatch> = Vec::new();
        for (r, _) in claimed {
            match batches.last_mut() {
                Some(b) if b.domain == r.domain => b.recipients.push(r),
                _ => batches.push(DomainBatch {
                    domain: r.domain.clone(),
                    recipients: vec![r],
                }),
            }
        }
        Ok(batches)
    }

    /// Records the outcome of an attempt at `now` for recipient `id` (one more attempt).
    pub async fn record_attempt(
        &self,
        id: i64,
        now: i64,
        attempt: &Attempt,
    ) -> Result<(), StoreError> {
        let (state, reason, next, via) = match attempt {
            Attempt::Sent { via, reply } => (RecipientState::Sent, reply, None, Some(via)),
            Attempt::Deferred {
                reason,
                next_attempt_at,
            } => (
                RecipientState::Deferred,
                reason,
                Some(*next_attempt_at),
                None,
            ),
            Attempt::Held { reason } => (RecipientState::Held, reason, None, None),
            Attempt::Failed { reason } => (RecipientState::Failed, reason, None, None),
        };
        let done = sqlx::query(
            "UPDATE message_recipients SET state = $1, reason = $2, next_attempt_at = $3,
                 attempts = attempts + 1, last_attempt_at = $4, mx_host = $5, ip = $6,
                 tls_version = $7, cipher = $8, dane = $9, verified = $10, relayed = $11,
                 claimed_by = NULL, lease_until = NULL
             WHERE id = $12",
        )
        .bind(state.as_str())
        .bind(reason)
        .bind(next)
        .bind(now)
        .bind(via.map(|v| v.mx_host.as_str()))
        .bind(via.map(|v| v.ip.to_string()))
        .bind(via.and_then(|v| v.tls_version).map(TlsVersion::name))
        .bind(via.and_then(|v| v.cipher.as_deref()))
        .bind(via.and_then(|v| v.dane).map(DaneStatus::as_str))
        .bind(via.map(|v| i64::from(v.verified)))
        .bind(i64::from(via.is_some_and(|v| v.relayed)))
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Corrupt(format!("no queued recipient {id}")));
        }
        Ok(())
    }

    /// Puts every held recipient back to `queued`, due at `now` (after an administrator's
    /// release); returns how many.
    pub async fn requeue_held(&self, now: i64) -> Result<u64, StoreError> {
        self.requeue(RecipientState::Held, now).await
    }

    /// Puts recipients left `sending` (by a process that was killed mid-attempt) back to
    /// `queued`, due at `now`; returns how many.
    ///
    /// Only on SQLite, whose file one serving instance uses: there every `sending` recipient
    /// was left by a dead process. On PostgreSQL other instances may be sending right now;
    /// a dead instance's recipients are claimed again once their lease runs out
    /// ([`Store::claim_due`]), so nothing is done here.
    pub async fn requeue_interrupted(&self, now: i64) -> Result<u64, StoreError> {
        match self.backend() {
            Backend::Sqlite => self.requeue(RecipientState::Sending, now).await,
            Backend::Postgres => Ok(0),
        }
    }

    /// Extends the leases of the recipients this instance is sending to `now` + the lease;
    /// how many. The worker calls it well within every lease.
    pub async fn renew_leases(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE message_recipients SET lease_until = $1
             WHERE claimed_by = $2 AND state = 'sending'",
        )
        .bind(now.saturating_add(self.lease_secs()))
        .bind(self.instance())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Puts every recipient in `state` back to `queued`, due at `now`.
    async fn requeue(&self, state: RecipientState, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE message_recipients SET state = 'queued', next_attempt_at = $1, claimed_by = NULL,
                 lease_until = NULL
             WHERE state = $2",
        )
        .bind(now)
        .bind(state.as_str())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

fn message_of(row: &AnyRow) -> Result<QueuedMessage, StoreError> {
    let size: i64 = row.try_get("size")?;
    Ok(QueuedMessage {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        envelope_from: row.try_get("envelope_from")?,
        from_header: row.try_get("from_header")?,
        subject: row.try_get("subject")?,
        message_id: row.try_get("message_id")?,
        created_at: row.try_get("created_at")?,
        size: u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("size {size}")))?,
        recipients: Vec::new(),
    })
}

/// A named column parsed by `parse`, damaged data when it does not parse.
fn parsed<T>(
    row: &AnyRow,
    column: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| parse(&t).ok_or_else(|| StoreError::Corrupt(format!("recipient {column} {t:?}"))))
        .transpose()
}

fn required<T>(value: Option<T>, column: &str) -> Result<T, StoreError> {
    value.ok_or_else(|| StoreError::Corrupt(format!("recipient without {column}")))
}

fn recipient_of(row: &AnyRow) -> Result<QueuedRecipient, StoreError> {
    let kind = required(parsed(row, "kind", RecipientKind::parse)?, "kind")?;
    let state = required(parsed(row, "state", RecipientState::parse)?, "state")?;
    let attempts: i64 = row.try_get("attempts")?;
    let mx_host: Option<String> = row.try_get("mx_host")?;
    let sent = match (mx_host, parsed(row, "ip", |t| t.parse::<IpAddr>().ok())?) {
        (Some(mx_host), Some(ip)) => Some(SentVia {
            mx_host,
            ip,
            tls_version: parsed(row, "tls_version", TlsVersion::from_name)?,
            cipher: row.try_get("cipher")?,
            dane: parsed(row, "dane", DaneStatus::parse)?,
            verified: super::flag(row, "verified")?.unwrap_or(false),
            relayed: super::flag(row, "relayed")?.unwrap_or(false),
        }),
        _ => None,
    };
    Ok(QueuedRecipient {
        id: row.try_get("id")?,
        message: row.try_get("message")?,
        address: row.try_get("address")?,
        domain: row.try_get("domain")?,
        kind,
        state,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_attempt_at: row.try_get("last_attempt_at")?,
        reason: row.try_get("reason")?,
        sent,
    })
}
