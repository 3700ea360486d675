//! The embedded store: one SQLite database in WAL mode implementing the metadata,
//! identity and link ports.
//!
//! - Reads run on the caller's thread on one of a few reader connections: they are
//!   point lookups and short range scans, and WAL readers never wait for the writer.
//! - Writes never block an async worker: each is a closure sent to the committer
//!   thread ([`committer`]), which runs everything queued in one transaction (one
//!   fsync for the lot, each closure in its own savepoint) and answers through a
//!   oneshot channel once the commit is durable (`synchronous=FULL`).
//! - The schema is a numbered list of migrations ([`migrations`]), applied at open.
//! - Files are created 0600.

mod committer;
mod identity;
mod links;
mod meta;
mod migrations;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::Connection;
use rusqlite::ffi::ErrorCode;

use self::committer::Committer;
use super::{StoreError, StoreErrorKind, StoreResult};

/// Reader connections.
const READERS: usize = 4;

/// The SQLite store.
pub struct Sqlite {
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    committer: Committer,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite").finish_non_exhaustive()
    }
}

/// A rusqlite error as a typed store error: constraint violations are conflicts,
/// damaged files and unreadable rows are corruption, everything else (busy, I/O,
/// full disk, read-only) is unavailability.
pub(crate) fn store_error(context: &str, e: rusqlite::Error) -> StoreError {
    let kind = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::ConstraintViolation => StoreErrorKind::Conflict,
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StoreErrorKind::Corrupt,
            _ => StoreErrorKind::Unavailable,
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => StoreErrorKind::Corrupt,
        _ => StoreErrorKind::Unavailable,
    };
    StoreError::new(kind, context, Some(Box::new(e)))
}

/// A value that does not read back as what was written.
pub(crate) fn corrupt_value(col: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, what.into())
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Creates the database file readable by this user only, if it does not exist
/// yet (SQLite creates its `-wal` and `-shm` files with the database's mode).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

impl Sqlite {
    /// Opens (creating if needed, migrating if behind) the database at `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        create_private_file(path).map_err(|e| StoreError::unavailable(format!("cannot create {}", path.display()), e))?;
        let opened = |e| store_error(&format!("cannot open {}", path.display()), e);
        let mut writer = connect(path).map_err(opened)?;
        migrations::apply(&mut writer)?;
        let readers = (0..READERS).map(|_| connect(path).map(Mutex::new).map_err(opened)).collect::<StoreResult<Vec<_>>>()?;
        let committer = Committer::start(writer).map_err(|e| StoreError::unavailable("cannot start the committer thread", e))?;
        Ok(Self { readers, next_reader: AtomicUsize::new(0), committer })
    }

    /// Runs a read on an idle reader connection (any, if all are busy).
    pub(crate) fn read<T>(&self, what: &str, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        let conn = (0..n)
            .find_map(|i| self.readers[(start + i) % n].try_lock().ok())
            .map_or_else(|| self.readers[start % n].lock().map_err(|_| poisoned()), Ok)?;
        f(&conn).map_err(|e| store_error(what, e))
    }

    /// Runs a write on the committer thread, in its next group commit, and waits
    /// (without holding a thread) until it is durable. `f` may run twice (see
    /// [`committer`]); writes whose caller may leave while they commit use the
    /// committer directly, to be told (`Committer::run`'s `unclaimed`).
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.committer.run(what, f, |_, _| {}).await
    }
}

fn poisoned() -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, "a database connection was poisoned by a panic", None)
}

/// `u64` counts as SQLite integers (saturating: counts never reach 2^63).
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// SQLite integers as `u64` counts (a negative one reads as 0).
pub(crate) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_by_kind() {
        let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(5), None);
        assert_eq!(store_error("x", busy).kind(), StoreErrorKind::Unavailable);
        let full = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(13), None);
        assert_eq!(store_error("x", full).kind(), StoreErrorKind::Unavailable);
        let unique = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(2067), None);
        assert_eq!(store_error("x", unique).kind(), StoreErrorKind::Conflict);
        assert_eq!(store_error("x", corrupt_value(1, "bad".into())).kind(), StoreErrorKind::Corrupt);
    }

    #[test]
    fn the_database_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let _db = Sqlite::open(&dir.path().join("db")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for name in ["db", "db-wal", "db-shm"] {
                let mode = std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{name}");
            }
        }
    }
}
