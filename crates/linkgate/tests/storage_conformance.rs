//! Every storage conformance suite (`tests/conformance/`) against every
//! implementation we have — `Sqlite` (a fresh file in a temporary directory),
//! `CachedMeta` over it, `BufferedLinks` over it, and `FsBlobs` — plus what only
//! the SQLite store (and the write-behind decorator over it) promises: typed
//! errors, numbered migrations applied once, and a failed flush losing nothing.
//!
//! Each test prints how long its suite took (`--nocapture` shows it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance::assert_err_kind;
use linkgate::store::StoreErrorKind;
use linkgate::store::cached::CachedMeta;
use linkgate::store::fs_blobs::FsBlobs;
use linkgate::store::identity::{AddKey, IdentityStore, KeyRecord, Principal, RoleRecord, SessionRecord};
use linkgate::store::links::{AuditRecord, LinkFilter, LinkRecord, LinkStore, UseCount};
use linkgate::store::meta::{Lookup, MetaStore, ObjectMeta, UploadInfo, WriteCondition};
use linkgate::store::sqlite::Sqlite;
use linkgate::store::write_behind::BufferedLinks;
use rusqlite::Connection;
use tempfile::TempDir;

/// A fresh SQLite store in its own temporary directory (removed on drop).
struct TestDb {
    sqlite: Arc<Sqlite>,
    path: PathBuf,
    _dir: TempDir,
}

impl TestDb {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("linkgate.db");
        Self { sqlite: Arc::new(Sqlite::open(&path).unwrap()), path, _dir: dir }
    }

    /// A second, raw connection to the same file, to do what the ports cannot
    /// (damage a row, rename a table, read the schema version).
    fn raw(&self) -> Connection {
        raw(&self.path)
    }
}

fn raw(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

async fn timed(what: &str, suite: impl Future<Output = ()>) {
    let start = Instant::now();
    suite.await;
    eprintln!("conformance: {what} passed in {:.2?}", start.elapsed());
}

// ---- The suites against each implementation ----

/// A test running `$suite` on a fresh SQLite store.
macro_rules! on_sqlite {
    ($name:ident, $what:literal, $suite:path) => {
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            let db = TestDb::new();
            timed($what, $suite(db.sqlite.clone())).await;
        }
    };
}

on_sqlite!(meta_on_sqlite, "MetaStore on Sqlite", conformance::meta::run);

#[tokio::test(flavor = "multi_thread")]
async fn meta_on_cached_sqlite() {
    let db = TestDb::new();
    let cached = Arc::new(CachedMeta::new(db.sqlite.clone(), 10_000));
    timed("MetaStore on CachedMeta over Sqlite", conformance::meta::run(cached)).await;
}

/// A cache that holds one object, so it is cleared wholesale on nearly every
/// fill: the path a full cache takes.
#[tokio::test(flavor = "multi_thread")]
async fn meta_on_cached_sqlite_with_a_tiny_cache() {
    let db = TestDb::new();
    let cached = Arc::new(CachedMeta::new(db.sqlite.clone(), 1));
    timed("MetaStore on CachedMeta (capacity 1) over Sqlite", conformance::meta::run(cached)).await;
}

on_sqlite!(identity_on_sqlite, "IdentityStore on Sqlite", conformance::identity::run);

on_sqlite!(links_on_sqlite, "LinkStore on Sqlite", conformance::links::run);

/// The suite needs no explicit flush: `BufferedLinks` flushes before every read
/// that shows buffered rows, which is what the suite checks.
#[tokio::test(flavor = "multi_thread")]
async fn links_on_buffered_sqlite() {
    let db = TestDb::new();
    let buffered = Arc::new(BufferedLinks::new(db.sqlite.clone()));
    timed("LinkStore on BufferedLinks over Sqlite", conformance::links::run(buffered)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_on_fs() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(FsBlobs::open(dir.path()).unwrap());
    timed("BlobStore on FsBlobs", conformance::blobs::run(blobs)).await;
    assert_eq!(std::fs::read_dir(dir.path().join("objects/tmp")).unwrap().count(), 0, "no temporary file is left behind");
}

// ---- SQLite only ----

fn object_link(id: &str) -> LinkRecord {
    LinkRecord { token_hash: format!("hash-{id}"), allowed_ips: vec!["10.0.0.0/8".into()], ..conformance::links::object_link(id, "b", "k") }
}

/// A row that does not read back as what was written is `Corrupt` — on every
/// read path, never skipped, and never read as a default (an unreadable IP
/// allow-list must not become "anywhere").
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_unreadable_rows_are_corrupt() {
    let db = TestDb::new();
    let s = db.sqlite.as_ref();
    for id in ["bad-ips", "bad-issuer", "bad-method", "bad-target"] {
        s.create_link(&object_link(id)).await.unwrap();
    }
    assert!(s.create_bucket("b", 1).await.unwrap());
    let meta = ObjectMeta { bucket: "b".into(), key: "k".into(), blob_id: "f".into(), etag: "\"e\"".into(), ..ObjectMeta::default() };
    s.put_object(&meta, &WriteCondition::None).await.unwrap();
    let role = RoleRecord {
        name: "r".into(),
        created_ms: 1,
        max_session_secs: 3600,
        trusted_users: vec!["alice".into()],
        policies: vec![],
        revoked_before_ms: 0,
    };
    assert!(s.create_role(&role).await.unwrap());
    let upload = UploadInfo {
        upload_id: "u".into(),
        bucket: "b".into(),
        key: "k".into(),
        initiated_ms: 1,
        template: meta.clone(),
        full_object_checksum: false,
    };
    assert!(s.create_upload(&upload).await.unwrap());

    let raw = db.raw();
    raw.execute_batch(
        "UPDATE links SET allowed_ips = '[\"10.0.0.0/8\"' WHERE id = 'bad-ips';
         UPDATE links SET issuer = 'group:x' WHERE id = 'bad-issuer';
         UPDATE links SET method = 'TRACE' WHERE id = 'bad-method';
         UPDATE links SET target_kind = 'file' WHERE id = 'bad-target';
         UPDATE objects SET headers = '{' WHERE key = 'k';
         UPDATE roles SET trusted_users = 'alice' WHERE name = 'r';
         UPDATE uploads SET template = '' WHERE upload_id = 'u';",
    )
    .unwrap();
    for id in ["bad-ips", "bad-issuer", "bad-method", "bad-target"] {
        assert_err_kind(s.link(id).await, StoreErrorKind::Corrupt, id);
        assert_err_kind(s.link_by_token_hash(&format!("hash-{id}")).await, StoreErrorKind::Corrupt, id);
    }
    assert_err_kind(s.list_links(&LinkFilter::default(), 10).await, StoreErrorKind::Corrupt, "a listing with an unreadable link");
    assert_err_kind(s.object("b", "k").await, StoreErrorKind::Corrupt, "object headers");
    assert_err_kind(s.list_objects("b", "", "", 10).await, StoreErrorKind::Corrupt, "a listing with an unreadable object");
    assert_err_kind(s.role("r").await, StoreErrorKind::Corrupt, "trusted users");
    assert_err_kind(s.list_roles().await, StoreErrorKind::Corrupt, "a listing with an unreadable role");
    assert_err_kind(s.upload("u").await, StoreErrorKind::Corrupt, "an upload template");
}

/// A uniqueness rule refusing a write is `Conflict`, and the row already there is kept.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_unique_violations_are_conflicts() {
    let db = TestDb::new();
    let s = db.sqlite.as_ref();
    s.create_link(&object_link("l")).await.unwrap();
    assert_err_kind(s.create_link(&object_link("l")).await, StoreErrorKind::Conflict, "duplicate link");

    assert!(s.create_bucket("b", 1).await.unwrap());
    let upload = UploadInfo {
        upload_id: "u".into(),
        bucket: "b".into(),
        key: "k".into(),
        initiated_ms: 1,
        template: ObjectMeta { bucket: "b".into(), key: "k".into(), ..ObjectMeta::default() },
        full_object_checksum: false,
    };
    assert!(s.create_upload(&upload).await.unwrap());
    let other = UploadInfo { key: "other".into(), ..upload.clone() };
    assert_err_kind(s.create_upload(&other).await, StoreErrorKind::Conflict, "duplicate upload id");
    assert_eq!(s.upload("u").await.unwrap(), Some(upload));

    for user in ["carol", "dave"] {
        assert!(s.create_user(user, 1).await.unwrap());
    }
    let key = |user: &str| KeyRecord {
        access_key_id: "AKIA0000000000000001".into(),
        user: user.into(),
        secret_sealed: "x".into(),
        active: true,
        created_ms: 1,
    };
    assert_eq!(s.add_key(&key("carol")).await.unwrap(), AddKey::Added);
    assert_err_kind(s.add_key(&key("dave")).await, StoreErrorKind::Conflict, "an access key id another user holds");
    assert_eq!(s.key("AKIA0000000000000001").await.unwrap().unwrap().user, "carol");

    let session = SessionRecord {
        access_key_id: "ASIA0000000000000001".into(),
        secret_sealed: "x".into(),
        token_hash: "h".into(),
        principal: Principal::User("carol".into()),
        created_ms: 1,
        expires_ms: 2,
    };
    s.create_session(&session).await.unwrap();
    assert_err_kind(s.create_session(&session).await, StoreErrorKind::Conflict, "duplicate session");
}

fn migration_count() -> i64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/sqlite/migrations");
    let n = std::fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "sql")).count();
    i64::try_from(n).unwrap()
}

fn user_version(c: &Connection) -> i64 {
    c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

fn index_exists(c: &Connection, name: &str) -> bool {
    c.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?1", [name], |r| r.get::<_, i64>(0)).unwrap() == 1
}

/// A new database is at the latest version (one per migration file); reopening
/// runs no migration again.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_migrations_are_applied_once() {
    let db = TestDb::new();
    let n = migration_count();
    assert!(n >= 2, "the migrations directory holds {n} files");
    assert_eq!(user_version(&db.raw()), n);
    assert!(db.sqlite.create_bucket("kept", 1).await.unwrap());

    // Remove something a migration created: were migrations run again on open,
    // it would come back.
    db.raw().execute_batch("DROP INDEX objects_file").unwrap();
    let reopened = Sqlite::open(&db.path).unwrap();
    let raw = db.raw();
    assert_eq!(user_version(&raw), n);
    assert!(!index_exists(&raw, "objects_file"), "no migration ran at the second open");
    assert!(reopened.bucket("kept").await.unwrap().is_some(), "data survives reopening");
}

/// A database created with only migration 0001's SQL (before migrations were
/// numbered, `user_version` 0) is adopted as is and migrated to the latest version.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_adopts_and_migrates_a_0001_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let c = raw(&path);
        c.execute_batch(include_str!("../src/store/sqlite/migrations/0001_initial.sql")).unwrap();
        c.execute_batch(
            "INSERT INTO buckets (name, created_ms) VALUES ('old', 7);
             INSERT INTO objects (bucket, key, file_id, size, etag, last_modified_ms, headers)
               VALUES ('old', 'k', 'f1', 3, '\"e\"', 9, '[]');",
        )
        .unwrap();
        assert_eq!(user_version(&c), 0);
        assert!(!index_exists(&c, "objects_file"));
    }
    let s = Sqlite::open(&path).unwrap();
    let c = raw(&path);
    assert_eq!(user_version(&c), migration_count());
    assert!(index_exists(&c, "objects_file"), "migration 0002 ran");
    assert_eq!(s.bucket("old").await.unwrap().unwrap().created_ms, 7, "existing rows are kept");
    let Lookup::Found(m) = s.object("old", "k").await.unwrap() else { panic!("the old object is gone") };
    assert_eq!((m.blob_id.as_str(), m.size, m.last_modified_ms), ("f1", 3, 9));
    assert_eq!(s.referenced_blobs(&["f1".to_owned()]).await.unwrap().len(), 1);
}

/// A database from a newer linkgate (a schema version this build does not know)
/// is refused, not misread.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_refuses_a_newer_schema() {
    let db = TestDb::new();
    db.raw().pragma_update(None, "user_version", migration_count() + 1).unwrap();
    let err = Sqlite::open(&db.path).unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
}

/// `BufferedLinks` over SQLite: buffered counts reach the row (uses added,
/// `last_used_ms` the latest), and a flush that fails keeps what it could not
/// write for the next one — without writing twice what it could.
#[tokio::test(flavor = "multi_thread")]
async fn buffered_links_keep_what_a_failed_flush_could_not_write() {
    let db = TestDb::new();
    let buffered = BufferedLinks::new(db.sqlite.clone());
    buffered.create_link(&object_link("u")).await.unwrap();
    let last_used =
        |db: &TestDb| -> Option<i64> { db.raw().query_row("SELECT last_used_ms FROM links WHERE id = 'u'", [], |r| r.get(0)).unwrap() };

    for at in [2_000, 2_500, 2_100] {
        buffered.count_uses(&[UseCount { link_id: "u".into(), count: 1, last_ms: at }]).await.unwrap();
    }
    buffered.count_uses(&[UseCount { link_id: "gone".into(), count: 1, last_ms: 2_000 }]).await.unwrap();
    assert_eq!(buffered.link("u").await.unwrap().unwrap().uses, 3, "a read sees buffered uses");
    assert_eq!(last_used(&db), Some(2_500), "the latest use, not the last counted");
    buffered.count_uses(&[UseCount { link_id: "u".into(), count: 1, last_ms: 3_000 }]).await.unwrap();
    buffered.flush().await.unwrap();
    assert_eq!(db.sqlite.link("u").await.unwrap().unwrap().uses, 4, "flushed to the store itself");

    let row = AuditRecord {
        link_id: "u".into(),
        at_ms: 3_000,
        client_ip: "192.0.2.1".into(),
        user_agent: None,
        method: "GET".into(),
        status: 200,
        outcome: "granted".into(),
        bytes: 10,
    };
    buffered.append_audit(std::slice::from_ref(&row)).await.unwrap();
    buffered.count_uses(&[UseCount { link_id: "u".into(), count: 1, last_ms: 3_500 }]).await.unwrap();
    db.raw().execute_batch("ALTER TABLE link_audit RENAME TO link_audit_away").unwrap();
    assert!(buffered.flush().await.is_err(), "the audit table is gone");
    buffered.count_uses(&[UseCount { link_id: "u".into(), count: 1, last_ms: 4_000 }]).await.unwrap();
    assert_eq!(buffered.link("u").await.unwrap().unwrap().uses, 6, "a read still answers while flushes fail");
    db.raw().execute_batch("ALTER TABLE link_audit_away RENAME TO link_audit").unwrap();
    buffered.flush().await.unwrap();
    assert_eq!(buffered.link("u").await.unwrap().unwrap().uses, 6, "every use counted once");
    assert_eq!(last_used(&db), Some(4_000));
    assert_eq!(buffered.audit("u", 10).await.unwrap(), [row], "the row was kept, and written once");
}
