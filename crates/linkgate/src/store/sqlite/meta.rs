//! [`MetaStore`] on SQLite.

use std::collections::HashSet;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Sqlite, to_i64, to_u64};
use crate::store::StoreResult;
use crate::store::meta::{
    BucketInfo, Completion, DeleteBucket, Lookup, MetaStore, ObjectMeta, PartInfo, PutPart, UploadInfo, WriteCondition, WriteOutcome,
};

fn headers_to_json(headers: &[(String, String)]) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".into())
}

fn json_column<T: serde::de::DeserializeOwned>(row: &Row<'_>, col: usize) -> rusqlite::Result<T> {
    let text: String = row.get(col)?;
    serde_json::from_str(&text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e)))
}

fn object_from_row(bucket: &str, key: String, row: &Row<'_>, offset: usize) -> rusqlite::Result<ObjectMeta> {
    let checksum_name: Option<String> = row.get(offset + 6)?;
    let checksum_value: Option<String> = row.get(offset + 7)?;
    Ok(ObjectMeta {
        bucket: bucket.to_owned(),
        key,
        blob_id: row.get(offset)?,
        size: to_u64(row.get(offset + 1)?),
        etag: row.get(offset + 2)?,
        last_modified_ms: row.get(offset + 3)?,
        content_type: row.get(offset + 4)?,
        headers: json_column(row, offset + 5)?,
        checksum: checksum_name.zip(checksum_value),
        parts_count: row.get::<_, Option<i64>>(offset + 8)?.map(|n| u32::try_from(n).unwrap_or(0)),
        part_sizes: match row.get::<_, Option<String>>(offset + 9)? {
            None => Vec::new(),
            Some(_) => json_column(row, offset + 9)?,
        },
    })
}

/// The `objects` columns `object_from_row` reads, in order (a macro, so
/// statements are put together at compile time).
macro_rules! object_columns {
    ($p:literal) => {
        concat!(
            $p,
            "file_id, ",
            $p,
            "size, ",
            $p,
            "etag, ",
            $p,
            "last_modified_ms, ",
            $p,
            "content_type, ",
            $p,
            "headers, ",
            $p,
            "checksum_name, ",
            $p,
            "checksum_value, ",
            $p,
            "parts_count, ",
            $p,
            "part_sizes"
        )
    };
}
const OBJECT_COLUMNS: &str = object_columns!("");

fn upsert_object(conn: &Connection, meta: &ObjectMeta) -> rusqlite::Result<()> {
    let (cname, cvalue) = meta.checksum.clone().unzip();
    conn.prepare_cached(concat!(
        "INSERT INTO objects (bucket, key, ",
        object_columns!(""),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (bucket, key) DO UPDATE SET file_id = excluded.file_id, size = excluded.size, etag = excluded.etag,
           last_modified_ms = excluded.last_modified_ms, content_type = excluded.content_type, headers = excluded.headers,
           checksum_name = excluded.checksum_name, checksum_value = excluded.checksum_value, parts_count = excluded.parts_count,
           part_sizes = excluded.part_sizes"
    ))?
    .execute(params![
        meta.bucket,
        meta.key,
        meta.blob_id,
        to_i64(meta.size),
        meta.etag,
        meta.last_modified_ms,
        meta.content_type,
        headers_to_json(&meta.headers),
        cname,
        cvalue,
        meta.parts_count.map(i64::from),
        (!meta.part_sizes.is_empty()).then(|| serde_json::to_string(&meta.part_sizes).unwrap_or_default()),
    ])?;
    Ok(())
}

fn current_blob_and_etag(conn: &Connection, bucket: &str, key: &str) -> rusqlite::Result<Option<(String, String)>> {
    conn.prepare_cached("SELECT file_id, etag FROM objects WHERE bucket = ?1 AND key = ?2")?
        .query_row(params![bucket, key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

fn bucket_exists(conn: &Connection, bucket: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM buckets WHERE name = ?1")?.exists(params![bucket])
}

fn upload_exists(conn: &Connection, upload_id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM uploads WHERE upload_id = ?1")?.exists(params![upload_id])
}

fn part_blobs(conn: &Connection, upload_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT file_id FROM parts WHERE upload_id = ?1")?;
    stmt.query_map(params![upload_id], |r| r.get(0))?.collect()
}

fn bucket_from_row(r: &Row<'_>) -> rusqlite::Result<BucketInfo> {
    Ok(BucketInfo { name: r.get(0)?, created_ms: r.get(1)?, cors_xml: r.get(2)? })
}

/// What an upload remembers for the object it will become.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct TemplateJson {
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    checksum_algorithm: Option<String>,
    /// Absent in rows written before full-object checksums: composite.
    #[serde(default)]
    full_object_checksum: bool,
}

impl From<&UploadInfo> for TemplateJson {
    fn from(u: &UploadInfo) -> Self {
        let m = &u.template;
        Self {
            content_type: m.content_type.clone(),
            headers: m.headers.clone(),
            checksum_algorithm: m.checksum.as_ref().map(|(n, _)| n.clone()),
            full_object_checksum: u.full_object_checksum,
        }
    }
}

fn upload_from_row(upload_id: &str, r: &Row<'_>) -> rusqlite::Result<UploadInfo> {
    let bucket: String = r.get(0)?;
    let key: String = r.get(1)?;
    let t: TemplateJson = json_column(r, 3)?;
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
        full_object_checksum: t.full_object_checksum,
        bucket,
        key,
    })
}

fn part_from_row(r: &Row<'_>) -> rusqlite::Result<PartInfo> {
    let cname: Option<String> = r.get(5)?;
    let cvalue: Option<String> = r.get(6)?;
    Ok(PartInfo {
        part_number: r.get(0)?,
        blob_id: r.get(1)?,
        size: to_u64(r.get(2)?),
        etag: r.get(3)?,
        last_modified_ms: r.get(4)?,
        checksum: cname.zip(cvalue),
    })
}

#[async_trait]
impl MetaStore for Sqlite {
    async fn create_bucket(&self, name: &str, now_ms: i64) -> StoreResult<bool> {
        let name = name.to_owned();
        self.write("create bucket", move |c| {
            Ok(c.prepare_cached("INSERT OR IGNORE INTO buckets (name, created_ms) VALUES (?1, ?2)")?.execute(params![name, now_ms])? == 1)
        })
        .await
    }

    async fn delete_bucket(&self, name: &str) -> StoreResult<DeleteBucket> {
        let name = name.to_owned();
        self.write("delete bucket", move |c| {
            if !bucket_exists(c, &name)? {
                return Ok(DeleteBucket::NotFound);
            }
            if c.prepare_cached("SELECT 1 FROM objects WHERE bucket = ?1 LIMIT 1")?.exists(params![name])? {
                return Ok(DeleteBucket::NotEmpty);
            }
            let garbage = c
                .prepare_cached("SELECT p.file_id FROM parts p JOIN uploads u ON u.upload_id = p.upload_id WHERE u.bucket = ?1")?
                .query_map(params![name], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            // Parts go with their uploads (ON DELETE CASCADE).
            c.prepare_cached("DELETE FROM uploads WHERE bucket = ?1")?.execute(params![name])?;
            c.prepare_cached("DELETE FROM buckets WHERE name = ?1")?.execute(params![name])?;
            Ok(DeleteBucket::Deleted(garbage))
        })
        .await
    }

    async fn bucket(&self, name: &str) -> StoreResult<Option<BucketInfo>> {
        self.read("read bucket", |c| {
            c.prepare_cached("SELECT name, created_ms, cors_xml FROM buckets WHERE name = ?1")?
                .query_row(params![name], bucket_from_row)
                .optional()
        })
    }

    async fn list_buckets(&self) -> StoreResult<Vec<BucketInfo>> {
        self.read("list buckets", |c| {
            c.prepare_cached("SELECT name, created_ms, cors_xml FROM buckets ORDER BY name")?.query_map([], bucket_from_row)?.collect()
        })
    }

    async fn set_cors(&self, bucket: &str, cors_xml: Option<&str>) -> StoreResult<bool> {
        let (bucket, cors) = (bucket.to_owned(), cors_xml.map(str::to_owned));
        self.write("set bucket CORS", move |c| {
            Ok(c.prepare_cached("UPDATE buckets SET cors_xml = ?2 WHERE name = ?1")?.execute(params![bucket, cors])? == 1)
        })
        .await
    }

    async fn object(&self, bucket: &str, key: &str) -> StoreResult<Lookup> {
        self.read("read object", |c| {
            let row = c
                .prepare_cached(concat!(
                    "SELECT b.name, ",
                    object_columns!("o."),
                    " FROM buckets b LEFT JOIN objects o ON o.bucket = b.name AND o.key = ?2 WHERE b.name = ?1"
                ))?
                .query_row(params![bucket, key], |r| match r.get::<_, Option<String>>(1)? {
                    None => Ok(Lookup::NoKey),
                    Some(_) => Ok(Lookup::Found(object_from_row(bucket, key.to_owned(), r, 1)?)),
                })
                .optional()?;
            Ok(row.unwrap_or(Lookup::NoBucket))
        })
    }

    async fn put_object(&self, meta: &ObjectMeta, cond: &WriteCondition) -> StoreResult<WriteOutcome> {
        let (meta, cond) = (meta.clone(), cond.clone());
        self.write("write object", move |c| {
            if !bucket_exists(c, &meta.bucket)? {
                return Ok(WriteOutcome::NoBucket);
            }
            let current = current_blob_and_etag(c, &meta.bucket, &meta.key)?;
            if !cond.holds(current.as_ref().map(|(_, etag)| etag.as_str())) {
                return Ok(WriteOutcome::ConditionFailed);
            }
            upsert_object(c, &meta)?;
            Ok(WriteOutcome::Written { replaced_blob: current.map(|(f, _)| f).filter(|f| *f != meta.blob_id) })
        })
        .await
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Option<String>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write("delete object", move |c| {
            c.prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING file_id")?
                .query_row(params![bucket, key], |r| r.get(0))
                .optional()
        })
        .await
    }

    async fn list_objects(&self, bucket: &str, prefix: &str, after: &str, limit: usize) -> StoreResult<Vec<ObjectMeta>> {
        self.read("list objects", |c| {
            // Keys compare as bytes (BINARY collation), which is S3's UTF-8 order.
            let inclusive = after < prefix;
            let lower = if inclusive { prefix } else { after };
            let sql = format!(
                "SELECT key, {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key {} ?2
                 AND substr(CAST(key AS BLOB), 1, ?3) = CAST(?4 AS BLOB) ORDER BY key LIMIT ?5",
                if inclusive { ">=" } else { ">" }
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![bucket, lower, to_i64(prefix.len() as u64), prefix, to_i64(limit as u64)], |r| {
                object_from_row(bucket, r.get(0)?, r, 1)
            })?;
            rows.collect()
        })
    }

    async fn create_upload(&self, upload: &UploadInfo) -> StoreResult<bool> {
        let template = serde_json::to_string(&TemplateJson::from(upload))
            .map_err(|e| crate::store::StoreError::corrupt(format!("cannot encode an upload template: {e}")))?;
        let upload = upload.clone();
        self.write("create upload", move |c| {
            if !bucket_exists(c, &upload.bucket)? {
                return Ok(false);
            }
            c.prepare_cached("INSERT INTO uploads (upload_id, bucket, key, initiated_ms, template) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![upload.upload_id, upload.bucket, upload.key, upload.initiated_ms, template])?;
            Ok(true)
        })
        .await
    }

    async fn upload(&self, upload_id: &str) -> StoreResult<Option<UploadInfo>> {
        self.read("read upload", |c| {
            c.prepare_cached("SELECT bucket, key, initiated_ms, template FROM uploads WHERE upload_id = ?1")?
                .query_row(params![upload_id], |r| upload_from_row(upload_id, r))
                .optional()
        })
    }

    async fn stale_uploads(&self, initiated_before_ms: i64, limit: usize) -> StoreResult<Vec<UploadInfo>> {
        self.read("find abandoned uploads", |c| {
            let mut stmt = c.prepare_cached(
                "SELECT bucket, key, initiated_ms, template, upload_id FROM uploads WHERE initiated_ms < ?1 ORDER BY initiated_ms LIMIT ?2",
            )?;
            let rows =
                stmt.query_map(params![initiated_before_ms, to_i64(limit as u64)], |r| upload_from_row(&r.get::<_, String>(4)?, r))?;
            rows.collect()
        })
    }

    async fn list_uploads(&self, bucket: &str, prefix: &str, after: (&str, &str), limit: usize) -> StoreResult<Vec<UploadInfo>> {
        self.read("list uploads", |c| {
            // Keys compare as bytes (BINARY collation), as in list_objects.
            let mut stmt = c.prepare_cached(
                "SELECT bucket, key, initiated_ms, template, upload_id FROM uploads
                 WHERE bucket = ?1 AND (key > ?2 OR (key = ?2 AND upload_id > ?3))
                 AND substr(CAST(key AS BLOB), 1, ?4) = CAST(?5 AS BLOB) ORDER BY key, upload_id LIMIT ?6",
            )?;
            let rows = stmt
                .query_map(params![bucket, after.0, after.1, to_i64(prefix.len() as u64), prefix, to_i64(limit as u64)], |r| {
                    upload_from_row(&r.get::<_, String>(4)?, r)
                })?;
            rows.collect()
        })
    }

    async fn put_part(&self, upload_id: &str, part: &PartInfo) -> StoreResult<PutPart> {
        let (upload_id, part) = (upload_id.to_owned(), part.clone());
        self.write("record part", move |c| {
            if !upload_exists(c, &upload_id)? {
                return Ok(PutPart::NoUpload);
            }
            let old: Option<String> = c
                .prepare_cached("SELECT file_id FROM parts WHERE upload_id = ?1 AND part_number = ?2")?
                .query_row(params![upload_id, part.part_number], |r| r.get(0))
                .optional()?;
            let (cname, cvalue) = part.checksum.clone().unzip();
            c.prepare_cached(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, file_id, size, etag, last_modified_ms, checksum_name, checksum_value)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![upload_id, part.part_number, part.blob_id, to_i64(part.size), part.etag, part.last_modified_ms, cname, cvalue])?;
            Ok(PutPart::Recorded { replaced_blob: old.filter(|o| *o != part.blob_id) })
        })
        .await
    }

    async fn parts(&self, upload_id: &str) -> StoreResult<Vec<PartInfo>> {
        self.read("list parts", |c| {
            c.prepare_cached(
                "SELECT part_number, file_id, size, etag, last_modified_ms, checksum_name, checksum_value FROM parts
                 WHERE upload_id = ?1 ORDER BY part_number",
            )?
            .query_map(params![upload_id], part_from_row)?
            .collect()
        })
    }

    async fn complete_upload(&self, upload_id: &str, meta: &ObjectMeta, cond: &WriteCondition) -> StoreResult<Completion> {
        let (upload_id, meta, cond) = (upload_id.to_owned(), meta.clone(), cond.clone());
        self.write("complete upload", move |c| {
            if !upload_exists(c, &upload_id)? {
                return Ok(Completion::NoUpload);
            }
            let current = current_blob_and_etag(c, &meta.bucket, &meta.key)?;
            if !cond.holds(current.as_ref().map(|(_, etag)| etag.as_str())) {
                return Ok(Completion::ConditionFailed);
            }
            let mut garbage = part_blobs(c, &upload_id)?;
            garbage.extend(current.map(|(f, _)| f));
            upsert_object(c, &meta)?;
            c.prepare_cached("DELETE FROM uploads WHERE upload_id = ?1")?.execute(params![upload_id])?;
            garbage.retain(|b| *b != meta.blob_id);
            Ok(Completion::Completed(garbage))
        })
        .await
    }

    async fn abort_upload(&self, upload_id: &str) -> StoreResult<Option<Vec<String>>> {
        let upload_id = upload_id.to_owned();
        self.write("abort upload", move |c| {
            if !upload_exists(c, &upload_id)? {
                return Ok(None);
            }
            let parts = part_blobs(c, &upload_id)?;
            c.prepare_cached("DELETE FROM uploads WHERE upload_id = ?1")?.execute(params![upload_id])?;
            Ok(Some(parts))
        })
        .await
    }

    async fn referenced_blobs(&self, candidates: &[String]) -> StoreResult<HashSet<String>> {
        self.read("find referenced blobs", |c| {
            let mut by_object = c.prepare_cached("SELECT 1 FROM objects WHERE file_id = ?1")?;
            let mut by_part = c.prepare_cached("SELECT 1 FROM parts WHERE file_id = ?1")?;
            let mut found = HashSet::new();
            for id in candidates {
                if by_object.exists(params![id])? || by_part.exists(params![id])? {
                    found.insert(id.clone());
                }
            }
            Ok(found)
        })
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read("ping", |c| c.query_row("SELECT 1", [], |_| Ok(())))
    }
}
