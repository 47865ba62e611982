//! The users' saved drafts: one per user (table `drafts`, migration `0002_drafts.sql`),
//! replaced by each save and removed when the user discards it.
//!
//! Each save is one statement in its own transaction; with the store's `synchronous = FULL` it is
//! on disk before the method returns, so a draft that was confirmed to the user survives a crash.

use sendguard_common::Draft;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// The columns of a draft, in the order [`draft_of`] reads them.
const COLUMNS: &str = "sender, to_list, cc_list, bcc_list, subject, body, saved_at";

impl Store {
    /// The draft `user` saved last, `None` when there is none.
    pub async fn draft(&self, user: &str) -> Result<Option<Draft>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM drafts WHERE user_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(draft_of).transpose()
    }

    /// Stores `draft` as the draft of `user`, replacing any earlier one, stamped with the time
    /// of saving (`saved_at` in `draft` is ignored). Returns the draft as stored.
    pub async fn put_draft(&self, user: &str, draft: &Draft) -> Result<Draft, StoreError> {
        let sql = format!(
            "INSERT INTO drafts (user_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (user_id) DO UPDATE SET
                 sender = excluded.sender, to_list = excluded.to_list,
                 cc_list = excluded.cc_list, bcc_list = excluded.bcc_list,
                 subject = excluded.subject, body = excluded.body, saved_at = excluded.saved_at
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user)
            .bind(draft.from.as_deref())
            .bind(list_text(&draft.to))
            .bind(list_text(&draft.cc))
            .bind(list_text(&draft.bcc))
            .bind(&draft.subject)
            .bind(&draft.body)
            .bind(crate::probe::now_unix())
            .fetch_one(self.pool())
            .await?;
        draft_of(&row)
    }

    /// Removes the draft of `user`; returns whether there was one.
    pub async fn delete_draft(&self, user: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM drafts WHERE user_id = $1")
            .bind(user)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// A recipient list as stored: a JSON array of strings (serialising strings cannot fail).
fn list_text(entries: &[String]) -> String {
    serde_json::to_string(entries).unwrap_or_else(|_| "[]".into())
}

fn list_of(row: &AnyRow, column: &str) -> Result<Vec<String>, StoreError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("draft {column}: {e}")))
}

fn draft_of(row: &AnyRow) -> Result<Draft, StoreError> {
    Ok(Draft {
        from: row.try_get("sender")?,
        to: list_of(row, "to_list")?,
        cc: list_of(row, "cc_list")?,
        bcc: list_of(row, "bcc_list")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        saved_at: row.try_get("saved_at")?,
    })
}
