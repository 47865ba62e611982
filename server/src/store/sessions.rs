//! Signed-in sessions (migration 0006): the SHA-256 of each session's cookie token, its user,
//! its CSRF token and when it began and was last used. Whether a session is still valid (idle
//! time, age) is decided by the caller ([`crate::http::auth`]); expired rows are pruned here.
//!
//! Every ending of a session, and every change to a user's record (`users.rs`), bumps the
//! session change counter (migration 0012) in the same transaction, so that sessions kept in
//! memory ([`crate::http::session_cache`]) are known to be out of date by one read, whichever
//! process or instance made the change.

use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};

/// One stored session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// Whose it is.
    pub user_id: String,
    /// What state-changing requests must carry.
    pub csrf_token: String,
    /// When it began, seconds since the Unix epoch.
    pub created_at: i64,
    /// When it was last used.
    pub last_seen: i64,
}

impl Store {
    /// Stores a new session of `user_id` under the token's SHA-256 (hex).
    pub async fn create_session(
        &self,
        token_sha256: &str,
        user_id: &str,
        csrf_token: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_sha256, user_id, csrf_token, created_at, last_seen)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_sha256)
        .bind(user_id)
        .bind(csrf_token)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session stored under the token's SHA-256.
    pub async fn session(&self, token_sha256: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, csrf_token, created_at, last_seen FROM sessions
             WHERE token_sha256 = $1",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                user_id: r.try_get("user_id")?,
                csrf_token: r.try_get("csrf_token")?,
                created_at: r.try_get("created_at")?,
                last_seen: r.try_get("last_seen")?,
            })
        })
        .transpose()
    }

    /// Marks the session used at `now`.
    pub async fn touch_session(&self, token_sha256: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE token_sha256 = $2")
            .bind(now)
            .bind(token_sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends one session (sign-out, or found expired).
    pub async fn end_session(&self, token_sha256: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            bump_session_changes(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The session change counter: raised whenever a session ends or a user's record changes.
    pub async fn session_changes(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(SESSION_CHANGES)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The session change counter read at once on this thread, without the pool (SQLite
    /// only, [`super::inline`]); `None` when that cannot be done, and then
    /// [`Store::session_changes`] reads it.
    pub fn session_changes_now(&self) -> Option<i64> {
        self.inline.as_ref()?.read_i64(SESSION_CHANGES)
    }

    /// Ends every session that was idle since `idle_before` or began before `born_before`;
    /// how many.
    pub async fn prune_sessions(
        &self,
        idle_before: i64,
        born_before: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_immediate().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(born_before)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            bump_session_changes(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

/// Reads the session change counter.
const SESSION_CHANGES: &str = "SELECT value FROM change_counters WHERE name = 'sessions'";

/// Raises the session change counter, inside the caller's transaction.
pub(super) async fn bump_session_changes(conn: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query("UPDATE change_counters SET value = value + 1 WHERE name = 'sessions'")
        .execute(conn)
        .await?;
    Ok(())
}
