//! Numbered schema migrations, tracked in `PRAGMA user_version`.
//!
//! Each migration runs once, in order, in its own transaction with the version
//! bump, so a crash leaves the database at one version or the next. A database
//! from a newer linkgate (a version this build does not know) is refused rather
//! than misread.

use rusqlite::Connection;

use super::store_error;
use crate::store::{StoreError, StoreResult};

/// The migrations, in order: version `i + 1` is `MIGRATIONS[i]`.
const MIGRATIONS: [(&str, &str); 4] = [
    ("0001_initial", include_str!("migrations/0001_initial.sql")),
    ("0002_blob_indexes", include_str!("migrations/0002_blob_indexes.sql")),
    ("0003_part_sizes", include_str!("migrations/0003_part_sizes.sql")),
    ("0004_root_sessions", include_str!("migrations/0004_root_sessions.sql")),
];

/// The schema version this build writes.
pub(super) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`LATEST`].
pub(super) fn apply(conn: &mut Connection) -> StoreResult<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| store_error("reading the schema version", e))?;
    if version > LATEST {
        return Err(StoreError::corrupt(format!(
            "the database is at schema version {version}, newer than this linkgate knows ({LATEST}); upgrade linkgate"
        )));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
        let fail = |e| store_error(&format!("applying migration {name}"), e);
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", i + 1).map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(migration = name, "database schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_the_future() {
        let mut c = Connection::open_in_memory().unwrap();
        apply(&mut c).unwrap();
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, LATEST);
        apply(&mut c).unwrap();
        c.pragma_update(None, "user_version", LATEST + 1).unwrap();
        assert!(apply(&mut c).unwrap_err().to_string().contains("newer"));
    }

    #[test]
    fn a_database_from_before_numbered_migrations_is_adopted() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(MIGRATIONS[0].1).unwrap();
        c.execute("INSERT INTO buckets (name, created_ms) VALUES ('b', 1)", []).unwrap();
        apply(&mut c).unwrap();
        let n: i64 = c.query_row("SELECT COUNT(*) FROM buckets", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn objects_from_version_2_keep_their_rows_without_part_sizes() {
        let mut c = Connection::open_in_memory().unwrap();
        for (_, sql) in &MIGRATIONS[..2] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 2).unwrap();
        c.execute("INSERT INTO buckets (name, created_ms) VALUES ('b', 1)", []).unwrap();
        c.execute(
            "INSERT INTO objects (bucket, key, file_id, size, etag, last_modified_ms, headers, parts_count)
             VALUES ('b', 'k', 'f', 10, '\"e-2\"', 1, '[]', 2)",
            [],
        )
        .unwrap();
        apply(&mut c).unwrap();
        let sizes: Option<String> = c.query_row("SELECT part_sizes FROM objects WHERE key = 'k'", [], |r| r.get(0)).unwrap();
        assert_eq!(sizes, None);
    }
}
