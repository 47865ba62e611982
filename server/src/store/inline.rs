//! One-row reads on the calling thread, for a SQLite store only: the session change counter
//! ([`sessions::SESSION_CHANGES`](super::sessions)), read for every signed-in request.
//!
//! sqlx runs each SQLite connection on a worker thread of its own, so every query through the
//! pool is a hand-off to that thread and back: two thread wake-ups, which were most of a
//! verdict request's cost (BENCHMARKS.md, "Where the verdict API's time goes"). This reader
//! keeps one connection of its own (rusqlite, on the same bundled SQLite as sqlx) and reads
//! the row where it is asked, in a few microseconds. In WAL mode a reader never waits for a
//! writer, and the read sees every transaction committed before it began, so it is as fresh
//! as the pool's.
//!
//! It never waits: the connection's busy timeout is zero, and a read that cannot be made at
//! once (SQLite busy, e.g. during recovery, or any error) answers `None` and the caller reads
//! through the pool instead. A failed connection is dropped and opened again on the next read.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// A connection of its own to a SQLite store's file, used only to read one row at a time.
#[derive(Debug)]
pub struct InlineReader {
    path: PathBuf,
    connection: Mutex<Option<Connection>>,
}

impl InlineReader {
    /// A reader of the database file at `path`; the file is opened on the first read.
    pub fn new(path: &Path) -> InlineReader {
        InlineReader {
            path: path.to_path_buf(),
            connection: Mutex::new(None),
        }
    }

    /// The single `i64` that `sql` selects (a query without parameters), read now on this
    /// thread; `None` when it cannot be had at once, so that the caller asks the pool.
    pub fn read_i64(&self, sql: &str) -> Option<i64> {
        let mut slot = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            match self.open() {
                Ok(c) => *slot = Some(c),
                Err(e) => {
                    tracing::debug!(error = %e, path = %self.path.display(), "no inline reader");
                    return None;
                }
            }
        }
        let connection = slot.as_ref()?;
        let read = connection
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row([], |row| row.get::<_, i64>(0)));
        match read {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(error = %e, "inline read failed; the pool answers");
                *slot = None;
                None
            }
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        // The file exists (the store created and migrated it); this connection must not
        // create one, and writes nothing.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        connection.busy_timeout(Duration::ZERO)?;
        connection.pragma_update(None, "query_only", true)?;
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_was_committed_and_answers_none_when_it_cannot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let reader = InlineReader::new(&path);
        assert_eq!(
            reader.read_i64("SELECT 1"),
            None,
            "no file: the pool answers"
        );
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE c (v INTEGER); INSERT INTO c VALUES (7);",
            )
            .unwrap();
        assert_eq!(reader.read_i64("SELECT v FROM c"), Some(7));
        writer.execute("UPDATE c SET v = 8", []).unwrap();
        assert_eq!(
            reader.read_i64("SELECT v FROM c"),
            Some(8),
            "a commit is seen at once"
        );
        assert_eq!(reader.read_i64("SELECT v FROM nowhere"), None);
        assert_eq!(
            reader.read_i64("SELECT v FROM c"),
            Some(8),
            "and it reconnects"
        );
        assert_eq!(
            reader.read_i64("UPDATE c SET v = 9 RETURNING v"),
            None,
            "it writes nothing"
        );
    }
}
