//! The embedded store: SQLite in WAL mode, one writer and a few readers.
//!
//! Reads (the GET hot path) take any idle reader connection; writes serialise on
//! the writer. `synchronous=FULL`: a committed write survives a crash, so the file
//! a row points to is never deleted while an older row could come back.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{
    BucketInfo, DeleteBucket, Lookup, MetaStore, ObjectMeta, PartInfo, StoreError, StoreResult, UploadInfo, WriteCondition, WriteOutcome,
};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    cors_xml TEXT
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL REFERENCES buckets(name),
    key TEXT NOT NULL,
    file_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    content_type TEXT,
    headers TEXT NOT NULL,
    checksum_name TEXT,
    checksum_value TEXT,
    parts_count INTEGER,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL REFERENCES buckets(name),
    key TEXT NOT NULL,
    initiated_ms INTEGER NOT NULL,
    template TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL REFERENCES uploads(upload_id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,
    file_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL,
    checksum_name TEXT,
    checksum_value TEXT,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
"#;

const READERS: usize = 4;

/// SQLite-backed [`MetaStore`].
pub struct SqliteStore {
    writer: std::sync::Arc<Mutex<Connection>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Small writes for the committer thread to commit together (see
    /// [`SqliteStore::write_grouped`]).
    queue: std::sync::mpsc::Sender<GroupJob>,
    /// Link audit rows not yet written (see `LinkStore::flush_audit`).
    pub(super) audit_buffer: Mutex<Vec<super::links::AuditRecord>>,
    /// Uses of links without `max_uses` not yet written: link id → (count, last
    /// use ms). See `LinkStore::note_use`.
    pub(super) use_buffer: Mutex<std::collections::HashMap<String, (u64, i64)>>,
    /// Held for a whole flush of the two buffers, so a read that flushes first
    /// waits for a flush already in flight instead of missing its rows.
    pub(super) flush_lock: Mutex<()>,
}

/// A queued write: runs on the writer connection inside a shared transaction and
/// returns how to report its result once the commit is known.
type GroupJob = Box<dyn FnOnce(&Connection) -> Finish + Send>;
/// Reports a queued write's result, given the commit error (if any).
type Finish = Box<dyn FnOnce(Option<&str>) + Send>;

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

fn open(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let writer = open(path)?;
        writer.execute_batch(SCHEMA).map_err(err)?;
        writer.execute_batch(super::sqlite_identity::SCHEMA).map_err(err)?;
        writer.execute_batch(super::sqlite_links::SCHEMA).map_err(err)?;
        let readers = (0..READERS).map(|_| open(path).map(Mutex::new)).collect::<StoreResult<Vec<_>>>()?;
        let writer = std::sync::Arc::new(Mutex::new(writer));
        let (queue, jobs) = std::sync::mpsc::channel();
        let committer = writer.clone();
        std::thread::Builder::new().name("sqlite-commit".into()).spawn(move || commit_loop(committer, jobs)).map_err(err)?;
        Ok(Self {
            writer,
            readers,
            next_reader: AtomicUsize::new(0),
            queue,
            audit_buffer: Mutex::new(Vec::new()),
            use_buffer: Mutex::default(),
            flush_lock: Mutex::default(),
        })
    }

    pub(super) fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(conn) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return f(&conn).map_err(err);
            }
        }
        let conn = self.readers[start % self.readers.len()].lock().map_err(err)?;
        f(&conn).map_err(err)
    }

    /// Group commit for small, frequent writes (link uses): the statement is queued
    /// for the committer thread, which runs everything queued in one transaction so
    /// one fsync covers them all. Each statement runs in its own savepoint, so one
    /// failing does not undo the others. The answer arrives once the commit is
    /// durable, like [`SqliteStore::write`]; await it, or `blocking_recv` outside
    /// async code. Callers wait without holding a thread.
    pub(super) fn write_grouped<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<StoreResult<T>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: GroupJob = Box::new(move |c: &Connection| -> Finish {
            let result = run_in_savepoint(c, f);
            Box::new(move |commit_error: Option<&str>| {
                let result = match commit_error {
                    None => result.map_err(err),
                    Some(e) => Err(StoreError(format!("group commit failed: {e}"))),
                };
                let _ = tx.send(result);
            })
        });
        // If the committer is gone the job (and its sender) is dropped and the
        // receiver reports the failure.
        let _ = self.queue.send(job);
        rx
    }

    pub(super) fn write<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let mut conn = self.writer.lock().map_err(err)?;
        f(&mut conn).map_err(err)
    }
}

/// Runs `f` inside `SAVEPOINT job … RELEASE job` (statements prepared once per
/// connection), rolling back to the savepoint if it fails.
fn run_in_savepoint<T>(c: &Connection, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    c.prepare_cached("SAVEPOINT job")?.execute([])?;
    match f(c) {
        Ok(v) => {
            c.prepare_cached("RELEASE job")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}

/// The committer thread: takes every job queued since its last round, runs them in
/// one `BEGIN IMMEDIATE … COMMIT` on the writer connection, then reports to each.
/// Ends when the store (the sending side) is dropped.
fn commit_loop(writer: std::sync::Arc<Mutex<Connection>>, jobs: std::sync::mpsc::Receiver<GroupJob>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter());
        let Ok(conn) = writer.lock() else { return };
        // Without a transaction each savepoint commits on its own: slower, still correct.
        let in_transaction = conn.prepare_cached("BEGIN IMMEDIATE").and_then(|mut s| s.execute([])).is_ok();
        let finishes: Vec<Finish> = batch.into_iter().map(|job| job(&conn)).collect();
        let commit_error = if in_transaction {
            conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).err().map(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                e.to_string()
            })
        } else {
            None
        };
        drop(conn);
        for finish in finishes {
            finish(commit_error.as_deref());
        }
    }
}

fn headers_to_json(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".into())
}

fn object_from_row(bucket: &str, key: String, row: &Row<'_>, offset: usize) -> rusqlite::Result<ObjectMeta> {
    let headers: String = row.get(offset + 5)?;
    let checksum_name: Option<String> = row.get(offset + 6)?;
    let checksum_value: Option<String> = row.get(offset + 7)?;
    Ok(ObjectMeta {
        bucket: bucket.to_owned(),
        key,
        file_id: row.get(offset)?,
        size: row.get::<_, i64>(offset + 1)? as u64,
        etag: row.get(offset + 2)?,
        last_modified_ms: row.get(offset + 3)?,
        content_type: row.get(offset + 4)?,
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        checksum: checksum_name.zip(checksum_value),
        parts_count: row.get::<_, Option<i64>>(offset + 8)?.map(|n| n as u32),
    })
}

const OBJECT_COLUMNS: &str = "file_id, size, etag, last_modified_ms, content_type, headers, checksum_name, checksum_value, parts_count";

fn upsert_object(conn: &Connection, meta: &ObjectMeta) -> rusqlite::Result<()> {
    let (cname, cvalue) = meta.checksum.clone().unzip();
    conn.prepare_cached(&format!(
        "INSERT INTO objects (bucket, key, {OBJECT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (bucket, key) DO UPDATE SET file_id = excluded.file_id, size = excluded.size, etag = excluded.etag,
           last_modified_ms = excluded.last_modified_ms, content_type = excluded.content_type, headers = excluded.headers,
           checksum_name = excluded.checksum_name, checksum_value = excluded.checksum_value, parts_count = excluded.parts_count"
    ))?
    .execute(params![
        meta.bucket,
        meta.key,
        meta.file_id,
        meta.size as i64,
        meta.etag,
        meta.last_modified_ms,
        meta.content_type,
        headers_to_json(&meta.headers),
        cname,
        cvalue,
        meta.parts_count.map(i64::from),
    ])?;
    Ok(())
}

fn current_file_and_etag(conn: &Connection, bucket: &str, key: &str) -> rusqlite::Result<Option<(String, String)>> {
    conn.prepare_cached("SELECT file_id, etag FROM objects WHERE bucket = ?1 AND key = ?2")?
        .query_row(params![bucket, key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

fn bucket_exists(conn: &Connection, bucket: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM buckets WHERE name = ?1")?.exists(params![bucket])
}

impl MetaStore for SqliteStore {
    fn create_bucket(&self, name: &str, now_ms: i64) -> StoreResult<bool> {
        self.write(|c| Ok(c.execute("INSERT OR IGNORE INTO buckets (name, created_ms) VALUES (?1, ?2)", params![name, now_ms])? == 1))
    }

    fn delete_bucket(&self, name: &str) -> StoreResult<DeleteBucket> {
        self.write(|c| {
            let tx = c.transaction()?;
            if !bucket_exists(&tx, name)? {
                return Ok(DeleteBucket::NotFound);
            }
            let busy = tx.prepare_cached("SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1")?.exists(params![name])?
                || tx.prepare_cached("SELECT 1 FROM uploads WHERE bucket = ?1 LIMIT 1")?.exists(params![name])?;
            if busy {
                return Ok(DeleteBucket::NotEmpty);
            }
            tx.execute("DELETE FROM buckets WHERE name = ?1", params![name])?;
            tx.commit()?;
            Ok(DeleteBucket::Deleted)
        })
    }

    fn bucket(&self, name: &str) -> StoreResult<Option<BucketInfo>> {
        self.read(|c| {
            c.prepare_cached("SELECT name, created_ms, cors_xml FROM buckets WHERE name = ?1")?
                .query_row(params![name], |r| Ok(BucketInfo { name: r.get(0)?, created_ms: r.get(1)?, cors_xml: r.get(2)? }))
                .optional()
        })
    }

    fn list_buckets(&self) -> StoreResult<Vec<BucketInfo>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT name, created_ms, cors_xml FROM buckets ORDER BY name")?;
            let rows = stmt.query_map([], |r| Ok(BucketInfo { name: r.get(0)?, created_ms: r.get(1)?, cors_xml: r.get(2)? }))?;
            rows.collect()
        })
    }

    fn set_cors(&self, bucket: &str, cors_xml: Option<&str>) -> StoreResult<bool> {
        self.write(|c| Ok(c.execute("UPDATE buckets SET cors_xml = ?2 WHERE name = ?1", params![bucket, cors_xml])? == 1))
    }

    fn object(&self, bucket: &str, key: &str) -> StoreResult<Lookup> {
        self.read(|c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT b.name, o.{} FROM buckets b LEFT JOIN objects o ON o.bucket = b.name AND o.key = ?2 WHERE b.name = ?1",
                    OBJECT_COLUMNS.replace(", ", ", o.")
                ))?
                .query_row(params![bucket, key], |r| {
                    let file: Option<String> = r.get(1)?;
                    match file {
                        None => Ok(Lookup::NoKey),
                        Some(_) => Ok(Lookup::Found(object_from_row(bucket, key.to_owned(), r, 1)?)),
                    }
                })
                .optional()?;
            Ok(row.unwrap_or(Lookup::NoBucket))
        })
    }

    fn put_object(&self, meta: &ObjectMeta, cond: &WriteCondition) -> StoreResult<WriteOutcome> {
        self.write(|c| {
            let tx = c.transaction()?;
            if !bucket_exists(&tx, &meta.bucket)? {
                return Ok(WriteOutcome::NoBucket);
            }
            let current = current_file_and_etag(&tx, &meta.bucket, &meta.key)?;
            let holds = match (cond, &current) {
                (WriteCondition::None, _) => true,
                (WriteCondition::NotExists, cur) => cur.is_none(),
                (WriteCondition::EtagMatches(want), Some((_, etag))) => etag_matches(want, etag),
                (WriteCondition::EtagMatches(_), None) => false,
            };
            if !holds {
                return Ok(WriteOutcome::ConditionFailed);
            }
            upsert_object(&tx, meta)?;
            tx.commit()?;
            Ok(WriteOutcome::Written { replaced_file: current.map(|(f, _)| f) })
        })
    }

    fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Option<String>> {
        self.write(|c| {
            c.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING file_id")?
                .query_row(params![bucket, key], |r| r.get(0))
                .optional()
        })
    }

    fn list_objects(&self, bucket: &str, prefix: &str, after: &str, limit: usize) -> StoreResult<Vec<ObjectMeta>> {
        self.read(|c| {
            // Keys compare as bytes (BINARY collation), which is S3's UTF-8 order.
            let lower = if after >= prefix { after } else { prefix };
            let inclusive = after < prefix;
            let sql = format!(
                "SELECT key, {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key {} ?2 AND substr(key, 1, ?3) = ?4 ORDER BY key LIMIT ?5",
                if inclusive { ">=" } else { ">" }
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![bucket, lower, prefix.chars().count() as i64, prefix, limit as i64], |r| {
                let key: String = r.get(0)?;
                object_from_row(bucket, key, r, 1)
            })?;
            rows.collect()
        })
    }

    fn create_upload(&self, upload: &UploadInfo) -> StoreResult<()> {
        let template = serde_json::to_string(&TemplateJson::from(&upload.template)).map_err(err)?;
        self.write(|c| {
            c.execute(
                "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, template) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![upload.upload_id, upload.bucket, upload.key, upload.initiated_ms, template],
            )?;
            Ok(())
        })
    }

    fn upload(&self, upload_id: &str) -> StoreResult<Option<UploadInfo>> {
        self.read(|c| {
            c.prepare_cached("SELECT bucket, key, initiated_ms, template FROM uploads WHERE upload_id = ?1")?
                .query_row(params![upload_id], |r| {
                    let bucket: String = r.get(0)?;
                    let key: String = r.get(1)?;
                    let template: String = r.get(3)?;
                    let t: TemplateJson = serde_json::from_str(&template).unwrap_or_default();
                    Ok(UploadInfo {
                        upload_id: upload_id.to_owned(),
                        initiated_ms: r.get(2)?,
                        template: ObjectMeta {
                            bucket: bucket.clone(),
                            key: key.clone(),
                            content_type: t.content_type,
                            headers: t.headers,
                            checksum: t.checksum_algorithm.map(|a| (a, String::new())),
                            ..ObjectMeta::default()
                        },
                        bucket,
                        key,
                    })
                })
                .optional()
        })
    }

    fn put_part(&self, upload_id: &str, part: &PartInfo) -> StoreResult<(bool, Option<String>)> {
        self.write(|c| {
            let tx = c.transaction()?;
            if !tx.prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1")?.exists(params![upload_id])? {
                return Ok((false, None));
            }
            let old: Option<String> = tx
                .prepare_cached("SELECT file_id FROM parts WHERE upload_id = ?1 AND part_number = ?2")?
                .query_row(params![upload_id, part.part_number], |r| r.get(0))
                .optional()?;
            let (cname, cvalue) = part.checksum.clone().unzip();
            tx.execute(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, file_id, size, etag, last_modified_ms, checksum_name, checksum_value)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![upload_id, part.part_number, part.file_id, part.size as i64, part.etag, part.last_modified_ms, cname, cvalue],
            )?;
            tx.commit()?;
            Ok((true, old))
        })
    }

    fn parts(&self, upload_id: &str) -> StoreResult<Vec<PartInfo>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT part_number, file_id, size, etag, last_modified_ms, checksum_name, checksum_value FROM parts
                 WHERE upload_id = ?1 ORDER BY part_number",
            )?;
            let rows = stmt.query_map(params![upload_id], |r| {
                let cname: Option<String> = r.get(5)?;
                let cvalue: Option<String> = r.get(6)?;
                Ok(PartInfo {
                    part_number: r.get(0)?,
                    file_id: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    etag: r.get(3)?,
                    last_modified_ms: r.get(4)?,
                    checksum: cname.zip(cvalue),
                })
            })?;
            rows.collect()
        })
    }

    fn complete_upload(&self, upload_id: &str, meta: &ObjectMeta) -> StoreResult<Option<(Option<String>, Vec<String>)>> {
        self.write(|c| {
            let tx = c.transaction()?;
            if !tx.prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1")?.exists(params![upload_id])? {
                return Ok(None);
            }
            let parts: Vec<String> = {
                let mut stmt = tx.prepare_cached("SELECT file_id FROM parts WHERE upload_id = ?1")?;
                stmt.query_map(params![upload_id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
            };
            let replaced = current_file_and_etag(&tx, &meta.bucket, &meta.key)?.map(|(f, _)| f);
            upsert_object(&tx, meta)?;
            tx.execute("DELETE FROM uploads WHERE upload_id = ?1", params![upload_id])?;
            tx.commit()?;
            Ok(Some((replaced, parts)))
        })
    }

    fn abort_upload(&self, upload_id: &str) -> StoreResult<Option<Vec<String>>> {
        self.write(|c| {
            let tx = c.transaction()?;
            if !tx.prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1")?.exists(params![upload_id])? {
                return Ok(None);
            }
            let parts: Vec<String> = {
                let mut stmt = tx.prepare_cached("SELECT file_id FROM parts WHERE upload_id = ?1")?;
                stmt.query_map(params![upload_id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
            };
            tx.execute("DELETE FROM uploads WHERE upload_id = ?1", params![upload_id])?;
            tx.commit()?;
            Ok(Some(parts))
        })
    }

    fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())))
    }
}

/// `If-Match` semantics: `*` matches anything; otherwise compare ETags, quotes optional.
pub fn etag_matches(want: &str, etag: &str) -> bool {
    let want = want.trim();
    want == "*" || want.split(',').any(|w| w.trim().trim_start_matches("W/").trim_matches('"') == etag.trim_matches('"'))
}

/// What an upload remembers for the object it will become.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct TemplateJson {
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    checksum_algorithm: Option<String>,
}

impl From<&ObjectMeta> for TemplateJson {
    fn from(m: &ObjectMeta) -> Self {
        Self {
            content_type: m.content_type.clone(),
            headers: m.headers.clone(),
            checksum_algorithm: m.checksum.as_ref().map(|(n, _)| n.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (SqliteStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("linkgate-sqlite-{}-{}", std::process::id(), crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        (SqliteStore::open(&dir.join("db.sqlite")).unwrap(), dir)
    }

    fn meta(key: &str, file: &str) -> ObjectMeta {
        ObjectMeta { bucket: "b".into(), key: key.into(), file_id: file.into(), size: 3, etag: "\"e\"".into(), ..ObjectMeta::default() }
    }

    #[test]
    fn objects_round_trip_and_conditions_hold() {
        let (s, dir) = store();
        assert_eq!(s.put_object(&meta("k", "f1"), &WriteCondition::None).unwrap(), WriteOutcome::NoBucket);
        assert!(s.create_bucket("b", 1).unwrap());
        assert!(!s.create_bucket("b", 2).unwrap());
        assert_eq!(s.object("b", "k").unwrap(), Lookup::NoKey);
        assert_eq!(s.object("nope", "k").unwrap(), Lookup::NoBucket);
        assert_eq!(s.put_object(&meta("k", "f1"), &WriteCondition::NotExists).unwrap(), WriteOutcome::Written { replaced_file: None });
        assert_eq!(s.put_object(&meta("k", "f2"), &WriteCondition::NotExists).unwrap(), WriteOutcome::ConditionFailed);
        assert_eq!(
            s.put_object(&meta("k", "f2"), &WriteCondition::EtagMatches("\"e\"".into())).unwrap(),
            WriteOutcome::Written { replaced_file: Some("f1".into()) }
        );
        let Lookup::Found(m) = s.object("b", "k").unwrap() else { panic!() };
        assert_eq!(m.file_id, "f2");
        assert_eq!(s.delete_bucket("b").unwrap(), DeleteBucket::NotEmpty);
        assert_eq!(s.delete_object("b", "k").unwrap(), Some("f2".into()));
        assert_eq!(s.delete_bucket("b").unwrap(), DeleteBucket::Deleted);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn lists_by_prefix_and_cursor_in_byte_order() {
        let (s, dir) = store();
        s.create_bucket("b", 1).unwrap();
        for k in ["a/1", "a/2", "a0", "b", "é", "Z"] {
            s.put_object(&meta(k, k), &WriteCondition::None).unwrap();
        }
        let keys = |v: Vec<ObjectMeta>| v.into_iter().map(|m| m.key).collect::<Vec<_>>();
        assert_eq!(keys(s.list_objects("b", "", "", 100).unwrap()), ["Z", "a/1", "a/2", "a0", "b", "é"]);
        assert_eq!(keys(s.list_objects("b", "a/", "", 100).unwrap()), ["a/1", "a/2"]);
        assert_eq!(keys(s.list_objects("b", "a", "a/1", 100).unwrap()), ["a/2", "a0"]);
        assert_eq!(keys(s.list_objects("b", "", "a0", 2).unwrap()), ["b", "é"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn multipart_lifecycle() {
        let (s, dir) = store();
        s.create_bucket("b", 1).unwrap();
        let up = UploadInfo { upload_id: "u1".into(), bucket: "b".into(), key: "k".into(), initiated_ms: 5, template: meta("k", "") };
        s.create_upload(&up).unwrap();
        let part =
            |n, f: &str| PartInfo { part_number: n, file_id: f.into(), size: 1, etag: "\"p\"".into(), last_modified_ms: 1, checksum: None };
        assert_eq!(s.put_part("u1", &part(1, "p1")).unwrap(), (true, None));
        assert_eq!(s.put_part("u1", &part(1, "p1b")).unwrap(), (true, Some("p1".into())));
        assert_eq!(s.put_part("zz", &part(1, "x")).unwrap(), (false, None));
        s.put_part("u1", &part(2, "p2")).unwrap();
        assert_eq!(s.parts("u1").unwrap().len(), 2);
        let done = s.complete_upload("u1", &meta("k", "obj")).unwrap().unwrap();
        assert_eq!(done.0, None);
        assert_eq!(done.1.len(), 2);
        assert!(s.upload("u1").unwrap().is_none());
        assert!(s.parts("u1").unwrap().is_empty());
        assert_eq!(s.abort_upload("u1").unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
