//! Metadata: buckets, objects, multipart uploads.
//!
//! One trait, [`MetaStore`], so the embedded SQLite store can be swapped for a
//! shared database when one machine is not enough. Calls are synchronous and short
//! (point lookups, small transactions); object bytes never pass through here.

pub mod cached;
pub mod identity;
pub mod links;
pub mod sqlite;
mod sqlite_identity;
mod sqlite_links;

use std::fmt;

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

/// An object's metadata; its bytes live in the file named by `file_id`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Bucket.
    pub bucket: String,
    /// Key (any UTF-8, never a path).
    pub key: String,
    /// Random id of the file holding the bytes.
    pub file_id: String,
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

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written; the file of the object it replaced, if any, is now garbage.
    Written {
        /// File id to delete.
        replaced_file: Option<String>,
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
    /// Metadata the completed object will carry (file id, size, etag unset).
    pub template: ObjectMeta,
}

/// An uploaded part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartInfo {
    /// 1..=10000.
    pub part_number: u32,
    /// File holding the bytes.
    pub file_id: String,
    /// Size in bytes.
    pub size: u64,
    /// Quoted MD5 ETag.
    pub etag: String,
    /// Upload time, unix milliseconds.
    pub last_modified_ms: i64,
    /// Additional checksum of the part, (header name, base64).
    pub checksum: Option<(String, String)>,
}

/// Outcome of deleting a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteBucket {
    /// Gone.
    Deleted,
    /// There was no such bucket.
    NotFound,
    /// It still holds objects (or uploads).
    NotEmpty,
}

/// The store could not answer. Callers fail closed (503), never open.
#[derive(Debug)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "metadata store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// Buckets, objects and uploads.
pub trait MetaStore: Send + Sync {
    /// Creates a bucket; `false` if it already existed.
    fn create_bucket(&self, name: &str, now_ms: i64) -> StoreResult<bool>;
    /// Deletes an empty bucket.
    fn delete_bucket(&self, name: &str) -> StoreResult<DeleteBucket>;
    /// One bucket.
    fn bucket(&self, name: &str) -> StoreResult<Option<BucketInfo>>;
    /// All buckets, by name.
    fn list_buckets(&self) -> StoreResult<Vec<BucketInfo>>;
    /// Sets or clears a bucket's CORS XML; `false` if there is no such bucket.
    fn set_cors(&self, bucket: &str, cors_xml: Option<&str>) -> StoreResult<bool>;
    /// Looks an object up.
    fn object(&self, bucket: &str, key: &str) -> StoreResult<Lookup>;
    /// Writes an object's metadata (its file is already durable), if `cond` holds.
    fn put_object(&self, meta: &ObjectMeta, cond: &WriteCondition) -> StoreResult<WriteOutcome>;
    /// Deletes an object; returns its file id, if it existed.
    fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Option<String>>;
    /// Up to `limit` objects with keys starting with `prefix` and greater than `after`, in key order.
    fn list_objects(&self, bucket: &str, prefix: &str, after: &str, limit: usize) -> StoreResult<Vec<ObjectMeta>>;
    /// Records a new multipart upload.
    fn create_upload(&self, upload: &UploadInfo) -> StoreResult<()>;
    /// One upload.
    fn upload(&self, upload_id: &str) -> StoreResult<Option<UploadInfo>>;
    /// Records a part, replacing one with the same number; returns the replaced file id.
    /// `Ok(None)` with `false` when the upload no longer exists.
    fn put_part(&self, upload_id: &str, part: &PartInfo) -> StoreResult<(bool, Option<String>)>;
    /// The parts of an upload, by number.
    fn parts(&self, upload_id: &str) -> StoreResult<Vec<PartInfo>>;
    /// Atomically makes `meta` the object and forgets the upload. Returns the replaced
    /// object file (if any) and the part files, all now garbage; `None` if the upload is gone.
    fn complete_upload(&self, upload_id: &str, meta: &ObjectMeta) -> StoreResult<Option<(Option<String>, Vec<String>)>>;
    /// Forgets an upload; returns its part files, or `None` if there was no such upload.
    fn abort_upload(&self, upload_id: &str) -> StoreResult<Option<Vec<String>>>;
    /// Cheap liveness check for readiness probes.
    fn ping(&self) -> StoreResult<()>;
}
