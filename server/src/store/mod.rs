//! The store: Sendguard's memory in one SQLite file (through sqlx), shared by the server and
//! the `sendguard holds` commands.
//!
//! It keeps every observation of every recipient mail server, per server its best level, first
//! and last sighting and the enforced floor, per domain the floor over its MX set, the holds with
//! their evidence and decisions, an append-only audit log of administrator actions, the users'
//! settings, their saved drafts (`drafts.rs`), the outgoing queue ([`queue`]) and the probe's
//! SMTP sessions shared by the instances on one database ([`probe_sessions`]). The schema lives
//! in `server/migrations/` and is applied on opening.
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
pub mod inline;
mod judgements;
mod mta_sts;
pub mod probe_sessions;
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
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Executor, Row, Transaction};

pub use holds::Remembered;
pub use retention::{PRUNE_EVERY, Pruned, spawn_pruning};
pub use write::{CHANGES, WriteTx};

/// Holds that stop delivery: held (waiting for a decision) or kept.
const OPEN: &str = "status IN ('held', 'kept')";

/// A write transaction from [`Store::begin_immediate`], used as its connection (`&mut *tx`).
/// On SQLite it holds this process's turn to write until it is committed or dropped (rolled
/// back).
pub(crate) struct Immediate {
    tx: Transaction<'static, Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Immediate {
    /// A transaction that takes no turn (PostgreSQL's locks do the queueing there).
    pub(crate) fn unlocked(tx: Transaction<'static, Any>) -> Immediate {
        Immediate { tx, _turn: None }
    }

    /// Commits, then gives the turn to the next writer.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for Immediate {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for Immediate {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// How long a statement waits for another writer's lock before failing as busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long taking a connection from the pool may take.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections in the pool (SQLite has one writer at a time; readers run alongside in WAL).
const MAX_CONNECTIONS: u32 = 4;
/// Connections in the pool of each instance on PostgreSQL, unless `--database-pool` says.
pub const PG_CONNECTIONS: u32 = 10;
/// The advisory lock (`pg_advisory_xact_lock`) every write transaction on PostgreSQL takes
/// first, as `BEGIN IMMEDIATE` takes SQLite's write lock: what is remembered is read and
/// changed by one writer at a time across every instance. The number is "SNDG" in ASCII.
const PG_WRITE_LOCK: i64 = 0x534E_4447;
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
            sqlx::Error::Database(db) => match db.code().as_deref() {
                // PostgreSQL: lock_not_available (lock_timeout), serialization_failure,
                // deadlock_detected, query_canceled (statement_timeout), too_many_connections.
                Some("55P03" | "40001" | "40P01" | "57014" | "53300") => true,
                // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
                Some(code) => matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 6)),
                None => false,
            },
            sqlx::Error::Io(_) => true,
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

/// A yes/no column (0 or 1; NULL: not known). Flags are integers in both dialects, as SQLite
/// keeps booleans, so that one statement text serves both.
fn flag(row: &sqlx::any::AnyRow, column: &str) -> Result<Option<bool>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(|n| n != 0))
}

/// `url` with the password of its user info (`user:password@`) replaced by `***`.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// `sqlite://` URL of `path` (made absolute, percent-encoded), opened read-write and created
/// when missing.
fn sqlite_url(path: &Path) -> Result<String, sqlx::Error> {
    let absolute = std::path::absolute(path).map_err(sqlx::Error::Io)?;
    let text = absolute
        .to_str()
        .ok_or_else(|| sqlx::Error::Configuration("the database path is not UTF-8".into()))?;
    let mut url = String::from("sqlite://");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
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

/// Which database engine a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file (the embedded default).
    Sqlite,
    /// A PostgreSQL server, possibly shared by several instances.
    Postgres,
}

/// Where the store lives: a SQLite file, or a PostgreSQL server's URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    File(PathBuf),
    /// `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Location {
    /// A PostgreSQL URL when `text` starts with `postgres://` or `postgresql://`, else a path.
    pub fn parse(text: &str) -> Location {
        let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Location::Postgres(text.to_string())
        } else {
            Location::File(PathBuf::from(text))
        }
    }

    /// For messages: the path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Location::File(path) => path.display().to_string(),
            Location::Postgres(url) => mask_password(url),
        }
    }

    /// The directory for files kept beside the database (the self-signed certificate): the
    /// file's directory, or the default database's for PostgreSQL.
    pub fn dir(&self) -> PathBuf {
        let file = match self {
            Location::File(path) => path.clone(),
            Location::Postgres(_) => default_path(),
        };
        file.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// How long a claimed recipient is leased to the instance delivering it, unless
/// [`Store::with_delivery_lease`] says otherwise (see [`queue`]).
pub const DELIVERY_LEASE: Duration = Duration::from_secs(300);

/// The database. Cheap to clone; clones share the connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Whose turn it is to write, in this process (SQLite): writers queue here rather than in
    /// SQLite's busy handler, which sleeps 1, 2, 5, 10 ms … between attempts while the lock is
    /// long free (issue 15: with 32 probes in flight that halved the verdicts per second).
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// This process's name in the queue's leases: host, process id and start time.
    instance: std::sync::Arc<str>,
    lease: Duration,
    /// SQLite only: the reader of single rows on the caller's thread ([`inline`]).
    inline: Option<std::sync::Arc<inline::InlineReader>>,
}

/// A name for this process among the instances sharing a database.
fn instance_name() -> std::sync::Arc<str> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{host}/{}/{started:x}", std::process::id()).into()
}

impl Store {
    /// Opens the store at `location` (see [`Store::open`] and [`Store::open_postgres`]);
    /// `pg_connections` sizes the pool on PostgreSQL.
    pub async fn connect(location: &Location, pg_connections: u32) -> Result<Store, StoreError> {
        match location {
            Location::File(path) => Store::open(path).await,
            Location::Postgres(url) => Store::open_postgres(url, pg_connections).await,
        }
    }

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
        let open_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let url = sqlite_url(path).map_err(open_error)?;
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A connection to a local file cannot go stale, so no ping before each use: it
            // was a second trip to the connection's worker thread for every query (issue 15).
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL with FULL: see the module's words on durability.
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}",
                        BUSY_TIMEOUT.as_millis()
                    )))
                    .await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let mut store = Store::with_pool(pool, Backend::Sqlite);
        store.inline = Some(std::sync::Arc::new(inline::InlineReader::new(path)));
        Ok(store)
    }

    /// Connects to PostgreSQL at `url` with at most `connections` connections and brings its
    /// schema up to date (`server/migrations/postgres`; several instances may start at once:
    /// sqlx takes an advisory lock around migrating). Each connection waits at most
    /// [`BUSY_TIMEOUT`] for a lock and for a statement, as SQLite waits for its write lock.
    pub async fn open_postgres(url: &str, connections: u32) -> Result<Store, StoreError> {
        let location = Location::Postgres(url.to_string());
        let open_error = |source| StoreError::Open {
            path: PathBuf::from(location.describe()),
            source,
        };
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(connections.max(2))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    let ms = BUSY_TIMEOUT.as_millis();
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "SET lock_timeout = {ms}; SET statement_timeout = {}",
                        ms * 3
                    )))
                    .await?;
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Store::with_pool(pool, Backend::Postgres))
    }

    fn with_pool(pool: AnyPool, backend: Backend) -> Store {
        Store {
            pool,
            backend,
            writer: std::sync::Arc::new(tokio::sync::Mutex::new(())),
            instance: instance_name(),
            lease: DELIVERY_LEASE,
            inline: None,
        }
    }

    /// The same store with claimed recipients leased for `lease` (at least a second).
    pub fn with_delivery_lease(mut self, lease: Duration) -> Store {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// The same store reading everything through the pool, for tests of the pool's paths.
    #[cfg(test)]
    pub(crate) fn without_inline_reader(mut self) -> Store {
        self.inline = None;
        self
    }

    /// How long a claimed recipient is leased.
    pub fn delivery_lease(&self) -> Duration {
        self.lease
    }

    fn lease_secs(&self) -> i64 {
        i64::try_from(self.lease.as_secs()).unwrap_or(i64::MAX)
    }

    /// This process's name in the queue's leases.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Which engine this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction that holds the write lock from its first statement: SQLite's
    /// `BEGIN IMMEDIATE`, or on PostgreSQL the cluster-wide advisory lock [`PG_WRITE_LOCK`]
    /// (released by commit or rollback). Statements in it see everything committed before.
    pub(crate) async fn begin_immediate(&self) -> Result<Immediate, StoreError> {
        match self.backend {
            Backend::Sqlite => {
                // The turn first, then a connection: waiting writers hold none of the pool's.
                let turn = self.writer.clone().lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(Immediate {
                    tx,
                    _turn: Some(turn),
                })
            }
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
                    .bind(PG_WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(Immediate::unlocked(tx))
            }
        }
    }

    /// Starts a transaction whose reads all see one snapshot of the store: SQLite's deferred
    /// transaction does; PostgreSQL's default (read committed) gives each statement its own,
    /// so there it is `REPEATABLE READ`.
    pub(crate) async fn begin_read(&self) -> Result<Transaction<'static, Any>, StoreError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin().await?),
            Backend::Postgres => Ok(self
                .pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?),
        }
    }

    /// Closes every connection (checkpointing SQLite's WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The engine's own consistency check: `"ok"` when sound (SQLite's `integrity_check`;
    /// PostgreSQL checks its pages itself, so there: whether it answers).
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => "PRAGMA integrity_check",
            Backend::Postgres => "SELECT 'ok'",
        };
        let row = sqlx::query(sql).fetch_one(&self.pool).await?;
        Ok(row.try_get::<String, _>(0)?)
    }

    /// The settings of `user`, the defaults when none were saved.
    pub async fn settings(&self, user: &str) -> Result<SecureSendingSettings, StoreError> {
        let row = sqlx::query("SELECT settings FROM user_settings WHERE user_id = $1")
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
            "INSERT INTO user_settings (user_id, settings, updated_at) VALUES ($1, $2, $3)
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
            "SELECT at, actor, action, host, detail FROM audit_log ORDER BY id DESC LIMIT $1",
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
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}
