//! The metadata port: buckets, objects and multipart uploads.
//!
//! Object bytes never pass through here: a row names the blob
//! ([`super::blobs::BlobStore`]) that holds them. Every write is one atomic change,
//! so a reader sees the old row or the new one; the services above keep rows and
//! blobs consistent (a row is written only after its blob is durable, and a blob is
//! removed only after no row points at it).

use std::collections::HashSet;

use async_trait::async_trait;

use super::StoreResult;

/// A bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketInfo {
    /// Name.
    pub name: String,
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
    /// The bucket's CORS configuration as S3 XML, if any.
    pub cors_xml: Option<String>,
}

/// An object's metadata; its bytes live in the blob named by `blob_id`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Bucket.
    pub bucket: String,
    /// Key (any UTF-8 without NUL, at most 1024 bytes; never a path).
    pub key: String,
    /// The blob holding the bytes.
    pub blob_id: String,
    /// Size in bytes.
    pub size: u64,
    /// Quoted ETag, as S3 sends it.
    pub etag: String,
    /// Last-Modified, unix milliseconds.
    pub last_modified_ms: i64,
    /// Content-Type given at upload.
    pub content_type: Option<String>,
    /// Other stored headers: Content-Encoding, Content-Disposition, Content-Language,
    /// Cache-Control, Expires and `x-amz-meta-*`, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Additional checksum: (header name, base64 value), e.g. `x-amz-checksum-crc32`.
    pub checksum: Option<(String, String)>,
    /// Number of parts, for objects made by multipart upload.
    pub parts_count: Option<u32>,
    /// The parts' sizes in order, for GET `?partNumber=N`; empty for a
    /// single-part object (and for multipart objects completed before linkgate
    /// kept them).
    pub part_sizes: Vec<u64>,
}

/// Result of looking an object up, telling a missing bucket from a missing key.
// Returned once per request and destructured at once: boxing `Found` would only add
// an allocation to the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The bucket does not exist.
    NoBucket,
    /// The bucket exists, the key does not.
    NoKey,
    /// Found.
    Found(ObjectMeta),
}

/// A condition on the current object for a write (S3 conditional writes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteCondition {
    /// Always write.
    None,
    /// `If-None-Match: *`: only if no object exists.
    NotExists,
    /// `If-Match: "etag"`: only if the current ETag is this one.
    EtagMatches(String),
}

/// What [`MetaStore::complete_upload`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// No such upload (never created, aborted, or completed already).
    NoUpload,
    /// The object at the key fails the condition; nothing changed, the upload stays.
    ConditionFailed,
    /// Written. The replaced object's blob (if any) and the parts' blobs, all now
    /// garbage — except one named in the new object's `blob_id`.
    Completed(Vec<String>),
}

impl WriteCondition {
    /// Whether the condition holds for the current object's ETag (`None`: no object).
    pub fn holds(&self, current_etag: Option<&str>) -> bool {
        match (self, current_etag) {
            (WriteCondition::None, _) => true,
            (WriteCondition::NotExists, cur) => cur.is_none(),
            (WriteCondition::EtagMatches(want), Some(etag)) => etag_matches(want, etag),
            (WriteCondition::EtagMatches(_), None) => false,
        }
    }
}

/// `If-Match` semantics: `*` matches anything; otherwise compare ETags, quotes
/// and weak markers optional.
pub fn etag_matches(want: &str, etag: &str) -> bool {
    let want = want.trim();
    want == "*" || want.split(',').any(|w| w.trim().trim_start_matches("W/").trim_matches('"') == etag.trim_matches('"'))
}

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written; the blob of the object it replaced, if any, is now garbage.
    Written {
        /// Blob to delete.
        replaced_blob: Option<String>,
    },
    /// The bucket does not exist.
    NoBucket,
    /// The condition did not hold; nothing was written.
    ConditionFailed,
}

/// An in-progress multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadInfo {
    /// Upload id.
    pub upload_id: String,
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Initiated, unix milliseconds.
    pub initiated_ms: i64,
    /// Metadata the completed object will carry (blob, size and etag unset; the
    /// checksum, if any, names only the algorithm).
    pub template: ObjectMeta,
    /// The object's checksum will be the CRC of its whole bytes (S3's
    /// `FULL_OBJECT` type), not the checksum of its parts' checksums (`COMPOSITE`).
    pub full_object_checksum: bool,
}

/// An uploaded part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    /// 1..=10000.
    pub part_number: u32,
    /// The blob holding the bytes.
    pub blob_id: String,
    /// Size in bytes.
    pub size: u64,
    /// Quoted MD5 ETag.
    pub etag: String,
    /// Upload time, unix milliseconds.
    pub last_modified_ms: i64,
    /// Additional checksum of the part, (header name, base64).
    pub checksum: Option<(String, String)>,
}

/// Outcome of recording a part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutPart {
    /// Recorded; the blob of a part it replaced (same number), if any, is garbage.
    Recorded {
        /// Blob to delete.
        replaced_blob: Option<String>,
    },
    /// The upload no longer exists (completed or aborted meanwhile).
    NoUpload,
}

/// Outcome of deleting a bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteBucket {
    /// Gone, with the uploads still pending in it (as S3 does); their parts'
    /// blobs are now garbage.
    Deleted(Vec<String>),
    /// There was no such bucket.
    NotFound,
    /// It still holds objects.
    NotEmpty,
}

/// Buckets, objects and uploads.
#[async_trait]
pub trait MetaStore: Send + Sync {
    /// Creates a bucket; `false` if it already existed.
    async fn create_bucket(&self, name: &str, now_ms: i64) -> StoreResult<bool>;
    /// Deletes an empty bucket.
    async fn delete_bucket(&self, name: &str) -> StoreResult<DeleteBucket>;
    /// One bucket.
    async fn bucket(&self, name: &str) -> StoreResult<Option<BucketInfo>>;
    /// All buckets, by name.
    async fn list_buckets(&self) -> StoreResult<Vec<BucketInfo>>;
    /// Sets or clears a bucket's CORS XML; `false` if there is no such bucket.
    async fn set_cors(&self, bucket: &str, cors_xml: Option<&str>) -> StoreResult<bool>;
    /// Looks an object up.
    async fn object(&self, bucket: &str, key: &str) -> StoreResult<Lookup>;
    /// Writes an object's metadata (its blob is already durable), if `cond` holds.
    async fn put_object(&self, meta: &ObjectMeta, cond: &WriteCondition) -> StoreResult<WriteOutcome>;
    /// Deletes an object; returns its blob, if it existed.
    async fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Option<String>>;
    /// Up to `limit` objects with keys starting with `prefix` and greater than
    /// `after`, in UTF-8 byte order.
    async fn list_objects(&self, bucket: &str, prefix: &str, after: &str, limit: usize) -> StoreResult<Vec<ObjectMeta>>;
    /// Records a new multipart upload (its bucket must exist: `false` if not).
    async fn create_upload(&self, upload: &UploadInfo) -> StoreResult<bool>;
    /// One upload.
    async fn upload(&self, upload_id: &str) -> StoreResult<Option<UploadInfo>>;
    /// Up to `limit` pending uploads (any bucket) that started before
    /// `initiated_before_ms`, oldest first.
    async fn stale_uploads(&self, initiated_before_ms: i64, limit: usize) -> StoreResult<Vec<UploadInfo>>;
    /// Pending uploads in `bucket` whose key starts with `prefix`, in (key,
    /// upload id) order, after `after` = (key, upload id) in that order; at most
    /// `limit`.
    async fn list_uploads(&self, bucket: &str, prefix: &str, after: (&str, &str), limit: usize) -> StoreResult<Vec<UploadInfo>>;
    /// Records a part, replacing one with the same number.
    async fn put_part(&self, upload_id: &str, part: &PartInfo) -> StoreResult<PutPart>;
    /// The parts of an upload, by number.
    async fn parts(&self, upload_id: &str) -> StoreResult<Vec<PartInfo>>;
    /// Atomically, if the object now at the key meets `cond`, makes `meta` the
    /// object and forgets the upload.
    async fn complete_upload(&self, upload_id: &str, meta: &ObjectMeta, cond: &WriteCondition) -> StoreResult<Completion>;
    /// Forgets an upload; returns its parts' blobs, or `None` if there was no such upload.
    async fn abort_upload(&self, upload_id: &str) -> StoreResult<Option<Vec<String>>>;
    /// Which of `candidates` some object or part still points at (to reclaim the
    /// rest as orphans left by a crash).
    async fn referenced_blobs(&self, candidates: &[String]) -> StoreResult<HashSet<String>>;
    /// Cheap liveness check for readiness probes.
    async fn ping(&self) -> StoreResult<()>;
}
