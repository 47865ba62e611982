//! Users (migration 0006): the login name, display name, role and password hash of each, and
//! their sender addresses in order. An address belongs to one user; a user keeps at least one.
//! The hash is written and read here, never made or checked here ([`crate::user::password`]).
//! A change to an existing user bumps the session change counter in its transaction
//! (`sessions.rs`): signed-in sessions kept in memory carry the user's record.

use sqlx::{AnyConnection, Row};

use super::sessions::bump_session_changes;
use super::{Store, StoreError};
use crate::probe::now_unix;

pub use sendguard_common::Role;

fn role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown role {text:?}")))
}

/// A user as stored, without the password hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UserRecord {
    /// The login name, also the key of their settings, drafts and messages.
    pub id: String,
    /// The name shown in From.
    pub display_name: String,
    /// What they may do.
    pub role: Role,
    /// Their sender addresses, in order.
    pub addresses: Vec<String>,
    /// When the account was made, seconds since the Unix epoch.
    pub created_at: i64,
    /// When the password was last set.
    pub password_changed_at: i64,
}

/// A user to add.
#[derive(Clone, Debug)]
pub struct NewUser<'a> {
    /// The login name (checked by the caller: [`crate::user::accounts::login_name`]).
    pub id: &'a str,
    /// The display name.
    pub display_name: &'a str,
    /// The role.
    pub role: Role,
    /// At least one address (checked by the caller).
    pub addresses: &'a [String],
    /// The argon2id PHC string.
    pub password_hash: &'a str,
}

impl Store {
    /// Adds a user; [`StoreError::UserExists`] or [`StoreError::AddressTaken`] when the name or
    /// an address is someone's already.
    pub async fn add_user(&self, new: &NewUser<'_>) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        if user_row(&mut tx, new.id).await?.is_some() {
            return Err(StoreError::UserExists(new.id.to_string()));
        }
        let now = now_unix();
        sqlx::query(
            "INSERT INTO users (id, display_name, password_hash, role, created_at,
                password_changed_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.id)
        .bind(new.display_name)
        .bind(new.password_hash)
        .bind(new.role.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (position, address) in new.addresses.iter().enumerate() {
            insert_address(&mut tx, new.id, address, position as i64).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every user, by login name.
    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM users ORDER BY id")
            .fetch_all(&mut *conn)
            .await?;
        let mut users = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(u) = user_row(&mut conn, &id).await? {
                users.push(u);
            }
        }
        Ok(users)
    }

    /// One user.
    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        user_row(&mut conn, id).await
    }

    /// The user an address belongs to (compared without regard to ASCII case).
    pub async fn user_of_address(&self, address: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT user_id FROM user_addresses WHERE lower(address) = lower($1)",
        )
        .bind(address)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The stored password hash of a user.
    pub async fn password_hash(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Replaces a user's password hash and ends every session of theirs.
    pub async fn set_password_hash(&self, id: &str, hash: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3",
        )
        .bind(hash)
        .bind(now_unix())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchUser(id.to_string()));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        bump_session_changes(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a user and their addresses (their settings, drafts and messages stay, under
    /// their name, until a user of that name is added again or they are pruned).
    pub async fn remove_user(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchUser(id.to_string()));
        }
        bump_session_changes(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a sender address to a user, after their others.
    pub async fn add_address(&self, id: &str, address: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        if user_row(&mut tx, id).await?.is_none() {
            return Err(StoreError::NoSuchUser(id.to_string()));
        }
        let next: i64 = sqlx::query_scalar(
            "SELECT COALESCE(max(position) + 1, 0) FROM user_addresses WHERE user_id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        insert_address(&mut tx, id, address, next).await?;
        bump_session_changes(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes one of a user's addresses; never their last one
    /// ([`StoreError::LastAddress`]).
    pub async fn remove_address(&self, id: &str, address: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_immediate().await?;
        let Some(user) = user_row(&mut tx, id).await? else {
            return Err(StoreError::NoSuchUser(id.to_string()));
        };
        if !user.addresses.iter().any(|a| a == address) {
            return Err(StoreError::NoSuchAddress(address.to_string()));
        }
        if user.addresses.len() == 1 {
            return Err(StoreError::LastAddress(address.to_string()));
        }
        sqlx::query("DELETE FROM user_addresses WHERE user_id = $1 AND address = $2")
            .bind(id)
            .bind(address)
            .execute(&mut *tx)
            .await?;
        bump_session_changes(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_address(
    conn: &mut AnyConnection,
    id: &str,
    address: &str,
    position: i64,
) -> Result<(), StoreError> {
    let owner: Option<String> =
        sqlx::query_scalar("SELECT user_id FROM user_addresses WHERE address = $1")
            .bind(address)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(owner) = owner {
        return Err(StoreError::AddressTaken {
            address: address.to_string(),
            owner,
        });
    }
    sqlx::query("INSERT INTO user_addresses (address, user_id, position) VALUES ($1, $2, $3)")
        .bind(address)
        .bind(id)
        .bind(position)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn user_row(conn: &mut AnyConnection, id: &str) -> Result<Option<UserRecord>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT id, display_name, role, created_at, password_changed_at FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let addresses: Vec<String> = sqlx::query_scalar(
        "SELECT address FROM user_addresses WHERE user_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(UserRecord {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        role: role(&row.try_get::<String, _>("role")?)?,
        addresses,
        created_at: row.try_get("created_at")?,
        password_changed_at: row.try_get("password_changed_at")?,
    }))
}
