//! The store: Sendguard's memory in one SQLite file (through sqlx), shared by the server and
//! the `sendguard holds` commands.
//!
//! It keeps every observation of every recipient mail server, per server its best level, first
//! and last sighting and the enforced floor, per domain the floor over its MX set, the holds with
//! their evidence and decisions, an append-only audit log of administrator actions, the users'
//! settings, their saved drafts (`drafts.rs`) and the outgoing queue ([`queue`]). The schema lives in `server/migrations/` and
//! is applied on opening.
//!
//! The store decides nothing: [`WriteTx`] (`write.rs`) loads the state a policy decision needs
//! and persists what [`crate::policy`] returned; `judgements.rs` keeps each judgement in typed
//! rows; `holds.rs` reads verdicts, history, observations and holds back; `retention.rs` prunes
//! old observations while keeping floors, hold evidence and each server's last observation. The orchestration
//! (judge, load, decide, persist) is [`crate::verdicts::record`] and [`crate::verdicts::release`].
//!
//! Durability: the database runs in WAL mode with `synchronous = FULL`, so a committed
//! transaction survives a killed process *and* a power loss (NORMAL would survive a killed
//! process but could lose the last commits on power loss, and a lost hold is a downgrade
//! forgotten; one fsync per probe is cheap at our write rate). Every probe is written in one
//! `BEGIN IMMEDIATE` transaction (the write lock taken before reading what is remembered), so
//! concurrent probes, also from other processes, are judged one after the other and a probe is
//! stored whole or not at all. A busy database is waited for up to [`BUSY_TIMEOUT`].

mod drafts;
mod holds;
mod inbound;
mod judgements;
mod mta_sts;
pub mod queue;
mod retention;
pub mod sessions;
pub mod tlsrpt;
pub mod users;
mod write;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sendguard_common::SecureSendingSettings;
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use holds::Remembered;
pub use retention::{PRUNE_EVERY, Pruned, spawn_pruning};
pub use write::WriteTx;

/// Holds that stop delivery: held (waiting for a decision) or kept.
const OPEN: &str = "status IN ('held', 'kept')";

/// How long a statement waits for another writer's lock before failing as busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long taking a connection from the pool may take.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections in the pool (SQLite has one writer at a time; readers run alongside in WAL).
const MAX_CONNECTIONS: u32 = 4;
/// At most this many observations are returned by one listing.
pub const MAX_OBSERVATIONS: u32 = 500;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database's directory could not be created (permanent until the operator acts).
    #[error("cannot create the directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database file could not be created (permanent until the operator acts).
    #[error("cannot create the database {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened (permanent: path, permissions, not a database).
    #[error("cannot open the database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date (permanent).
    #[error("cannot prepare the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Another writer held the database for too long (temporary: try again).
    #[error("the database is busy: {0}")]
    Busy(#[source] sqlx::Error),
    /// Any other database failure (permanent).
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A stored value could not be read back (permanent: the data is damaged).
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// There is no open hold for this server.
    #[error("no open hold for {0}")]
    NoOpenHold(String),
    /// A user of this name exists already.
    #[error("there is a user {0} already")]
    UserExists(String),
    /// There is no user of this name.
    #[error("there is no user {0}")]
    NoSuchUser(String),
    /// The address is another user's.
    #[error("{address} is {owner}'s address already")]
    AddressTaken {
        /// The address.
        address: String,
        /// Whose it is.
        owner: String,
    },
    /// The user has no such address.
    #[error("the user has no address {0}")]
    NoSuchAddress(String),
    /// A user keeps at least one address.
    #[error("{0} is the user's only address: add another first")]
    LastAddress(String),
}

impl StoreError {
    /// Whether trying again later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let busy = match &e {
            sqlx::Error::PoolTimedOut => true,
            sqlx::Error::Database(db) => {
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
                let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                matches!(code & 0xff, 5 | 6)
            }
            _ => false,
        };
        if busy {
            StoreError::Busy(e)
        } else {
            StoreError::Database(e)
        }
    }
}

/// One administrator action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When, seconds since the Unix epoch.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What: `release`, `keep`, `settings`.
    pub action: String,
    /// The server concerned, if any.
    pub host: Option<String>,
    /// Details in words.
    pub detail: String,
}

/// Creates `path` readable and writable by its owner only when it does not exist; warns when
/// an existing file is open to others.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{:o}", meta.permissions().mode() & 0o777),
                    "the database is readable by others: chmod 600 it (and its -wal, -shm)"
                );
            }
            Ok(())
        }
        Err(source) => Err(StoreError::Create {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The default database: `$XDG_DATA_HOME/sendguard/sendguard.db`, else
/// `$HOME/.local/share/sendguard/sendguard.db` (the XDG default), else
/// `./.sendguard/sendguard.db`.
pub fn default_path() -> PathBuf {
    let non_empty = |v: &str| {
        std::env::var_os(v)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    let base = non_empty("XDG_DATA_HOME")
        .or_else(|| non_empty("HOME").map(|h| h.join(".local").join("share")))
        .map(|d| d.join("sendguard"))
        .unwrap_or_else(|| PathBuf::from(".sendguard"));
    base.join("sendguard.db")
}

/// The database. Cheap to clone; clones share the connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating when missing, with its directory) and migrates the database at `path`.
    ///
    /// A new database (and the directory it needs) is readable by its owner only (0600, 0700):
    /// it holds password hashes, sessions and messages. SQLite gives its `-wal` and `-shm`
    /// files the database file's permissions. An existing file others may read is used as it
    /// is, with a warning.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| StoreError::Directory {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
        owner_only(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
    }

    /// Closes every connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// SQLite's own consistency check: `"ok"` when the file is sound.
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let row = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<String, _>(0)?)
    }

    /// The settings of `user`, the defaults when none were saved.
    pub async fn settings(&self, user: &str) -> Result<SecureSendingSettings, StoreError> {
        let row = sqlx::query("SELECT settings FROM user_settings WHERE user_id = ?")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => Ok(SecureSendingSettings::default()),
            Some(row) => {
                let text: String = row.try_get("settings")?;
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("settings of {user}: {e}")))
            }
        }
    }

    /// Saves the settings of `user`.
    pub async fn set_settings(
        &self,
        user: &str,
        settings: &SecureSendingSettings,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(settings)
            .map_err(|e| StoreError::Corrupt(format!("settings: {e}")))?;
        sqlx::query(
            "INSERT INTO user_settings (user_id, settings, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (user_id) DO UPDATE SET settings = excluded.settings,
                                                 updated_at = excluded.updated_at",
        )
        .bind(user)
        .bind(text)
        .bind(crate::probe::now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The latest administrator actions, newest first.
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, actor, action, host, detail FROM audit_log ORDER BY id DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    host: r.try_get("host")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    /// The pool, for the records module and tests that inspect rows.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}
