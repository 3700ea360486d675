//! The object service: buckets, objects and multipart uploads, with S3's rules.
//!
//! It alone keeps metadata rows and blobs consistent:
//! - a row is written only once its blob is durable ([`Staged`] holds a written
//!   blob no row points at yet, and removes it if dropped uncommitted — a failed
//!   check, a lost race, a client gone mid-request);
//! - a blob is removed only once no row points at it (after the write that
//!   replaced or deleted its row has committed);
//! - a read that finds its blob gone (the object was replaced meanwhile) looks the
//!   object up again instead of failing;
//! - at start, blobs no row points at (a crash between the two steps) are
//!   reclaimed ([`Objects::reclaim_orphans`]).
//!
//! Errors are S3's, since S3's semantics are what this service implements.

mod completion;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;

use crate::clock::SharedClock;
use crate::ids::random_hex;
use crate::s3::checksum::{BodyDigests, ChecksumAlgorithm, ChecksumType, DigestValues};
use crate::s3::error::S3Error;
use crate::s3::read::{Conditional, RangeSpec, evaluate_conditionals, parse_range};
use crate::s3::requests::CompletedPart;
use crate::s3::upload::{ObjectAttrs, PendingChecks, too_large};
use crate::store::blobs::{BlobStore, BoxError, ByteStream, PutError};
use crate::store::meta::{
    BucketInfo, Completion, DeleteBucket, Lookup, MetaStore, ObjectMeta, PartInfo, PutPart, UploadInfo, WriteCondition, WriteOutcome,
};

pub use completion::{CompletionChecksum, upload_checksum};
use completion::{algorithm_mismatch, choose_parts, multipart_etag, object_checksum};
/// How many times a read retries when the blob it found was replaced meanwhile.
const READ_ATTEMPTS: usize = 3;
/// Keys listed per store query while walking a listing.
const LIST_BATCH: usize = 1000;

/// A body to store, with what to check once it has been read.
pub struct Upload {
    /// The decoded bytes.
    pub body: ByteStream,
    /// Checks that need the whole body.
    pub checks: PendingChecks,
    /// Content-Type and stored headers.
    pub attrs: ObjectAttrs,
}

/// A blob written but not yet referenced by any row: removed when dropped, unless
/// [`BlobGuard::keep`] was called.
struct BlobGuard {
    blobs: Arc<dyn BlobStore>,
    id: Option<String>,
}

impl BlobGuard {
    fn keep(mut self) -> String {
        self.id.take().unwrap_or_default()
    }
}

impl Drop for BlobGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let blobs = self.blobs.clone();
            // Dropped on a runtime thread (a handler); removing is async.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { remove_blob(blobs.as_ref(), &id).await });
            }
        }
    }
}

async fn remove_blob(blobs: &dyn BlobStore, id: &str) {
    if let Err(e) = blobs.delete(id).await {
        // Left behind, it is reclaimed as an orphan at the next start.
        tracing::warn!(blob = id, error = %e, "could not remove a blob");
    }
}

/// An object whose bytes are durable but which is not visible yet: commit it with
/// [`Objects::commit`]. Dropping it removes the bytes.
pub struct Staged {
    blob: BlobGuard,
    /// The metadata the object will have.
    pub meta: ObjectMeta,
}

/// How a read answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadKind {
    /// 200, the whole object.
    Full,
    /// 206, bytes `start .. start + len`.
    Partial {
        /// First byte.
        start: u64,
        /// How many bytes.
        len: u64,
    },
    /// 304.
    NotModified,
}

/// An object being read: its metadata, how to answer, and the bytes (none for HEAD
/// and 304).
pub struct ObjectRead {
    /// The object.
    pub meta: ObjectMeta,
    /// Status and range.
    pub kind: ReadKind,
    /// The bytes to send.
    pub body: Option<ByteStream>,
}

/// One page of a listing: keys and common prefixes, in order.
#[derive(Debug, Default)]
pub struct Page {
    /// Objects.
    pub contents: Vec<ObjectMeta>,
    /// Common prefixes (with a delimiter).
    pub prefixes: Vec<String>,
    /// More follow.
    pub truncated: bool,
    /// The last key or prefix returned: where the next page starts.
    pub last: Option<String>,
}

/// One page of pending multipart uploads: uploads and common prefixes, in order.
#[derive(Debug, Default)]
pub struct UploadPage {
    /// Uploads, by key then upload id.
    pub uploads: Vec<UploadInfo>,
    /// Common prefixes (with a delimiter).
    pub prefixes: Vec<String>,
    /// More follow.
    pub truncated: bool,
    /// The last (key, upload id) returned — for a prefix, (prefix, ""): where the
    /// next page starts.
    pub next: Option<(String, String)>,
}

/// The object service.
pub struct Objects {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    clock: SharedClock,
    max_object_size: u64,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects").field("max_object_size", &self.max_object_size).finish_non_exhaustive()
    }
}

/// The S3 error a failed body stream carries (the chunked decoder's, the size
/// limit's, a timeout), or `IncompleteBody` for anything else (the client went away).
fn body_error(e: BoxError) -> S3Error {
    match e.downcast::<S3Error>() {
        Ok(s3) => *s3,
        Err(other) => {
            tracing::debug!(error = %other, "request body failed");
            S3Error::incomplete_body()
        }
    }
}

impl Objects {
    /// The service over a metadata store and a blob store.
    pub fn new(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>, clock: SharedClock, max_object_size: u64) -> Self {
        Self { meta, blobs, clock, max_object_size }
    }

    /// Whether both stores can answer and blobs can be written (readiness). The
    /// cause is logged; the answer names only the part that failed.
    pub async fn ready(&self) -> Result<(), &'static str> {
        if let Err(e) = self.meta.ping().await {
            tracing::warn!(error = %e, "readiness: the metadata store does not answer");
            return Err("metadata store unavailable");
        }
        if let Err(e) = self.blobs.check_writable().await {
            tracing::warn!(error = %e, "readiness: object bytes cannot be written");
            return Err("object files cannot be written");
        }
        Ok(())
    }

    /// Streams `upload` into a new blob, computing digests on the way, refusing
    /// more than the size limit, and running the after-read checks. The blob is
    /// removed again if anything fails.
    async fn write_blob(&self, upload: Upload) -> Result<(BlobGuard, DigestValues), S3Error> {
        let Upload { body, checks, .. } = upload;
        let digests = Arc::new(Mutex::new(BodyDigests::new(checks.sha256_hex.is_some(), checks.checksum_algorithm)));
        let max = self.max_object_size;
        let (seen, feed) = (Arc::new(std::sync::atomic::AtomicU64::new(0)), digests.clone());
        let body = body
            .map(move |chunk: Result<Bytes, BoxError>| {
                let chunk = chunk?;
                let total = seen.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed) + chunk.len() as u64;
                if total > max {
                    return Err(Box::new(too_large(max)) as BoxError);
                }
                feed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).update(&chunk);
                Ok(chunk)
            })
            .boxed();
        let blob = self.blobs.put(body).await.map_err(|e| match e {
            PutError::Body(e) => body_error(e),
            PutError::Store(e) => S3Error::from(e),
        })?;
        let guard = BlobGuard { blobs: self.blobs.clone(), id: Some(blob.id) };
        let digests =
            std::mem::replace(&mut *digests.lock().unwrap_or_else(std::sync::PoisonError::into_inner), BodyDigests::new(false, None))
                .finish();
        checks.verify(&digests)?;
        Ok((guard, digests))
    }
}

/// Buckets.
impl Objects {
    /// CreateBucket: `true` if created, `false` if it already existed.
    pub async fn create_bucket(&self, name: &str) -> Result<bool, S3Error> {
        Ok(self.meta.create_bucket(name, self.clock.now_ms()).await?)
    }

    /// DeleteBucket: refused while it holds objects; uploads still pending in it
    /// are discarded with it, as S3 does.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), S3Error> {
        match self.meta.delete_bucket(name).await? {
            DeleteBucket::Deleted(discarded_parts) => {
                for blob in discarded_parts {
                    remove_blob(self.blobs.as_ref(), &blob).await;
                }
                Ok(())
            }
            DeleteBucket::NotFound => Err(S3Error::no_such_bucket(name)),
            DeleteBucket::NotEmpty => {
                Err(S3Error::new("BucketNotEmpty", 409, "The bucket you tried to delete is not empty").with("BucketName", name))
            }
        }
    }

    /// One bucket, or `NoSuchBucket`.
    pub async fn bucket(&self, name: &str) -> Result<BucketInfo, S3Error> {
        self.meta.bucket(name).await?.ok_or_else(|| S3Error::no_such_bucket(name))
    }

    /// Every bucket, by name.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>, S3Error> {
        Ok(self.meta.list_buckets().await?)
    }

    /// Sets (or with `None` clears) a bucket's CORS configuration.
    pub async fn set_cors(&self, bucket: &str, xml: Option<&str>) -> Result<(), S3Error> {
        if self.meta.set_cors(bucket, xml).await? { Ok(()) } else { Err(S3Error::no_such_bucket(bucket)) }
    }
}

/// Objects.
impl Objects {
    /// An object's metadata, or `NoSuchBucket` / `NoSuchKey`.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta, S3Error> {
        match self.meta.object(bucket, key).await? {
            Lookup::NoBucket => Err(S3Error::no_such_bucket(bucket)),
            Lookup::NoKey => Err(S3Error::no_such_key(key)),
            Lookup::Found(m) => Ok(m),
        }
    }

    /// Reads an object as GET (or HEAD, `head`) answers it: conditionals, then one
    /// range. If the blob found was replaced and removed meanwhile, the object is
    /// looked up again: a reader racing a writer gets the old object or the new one.
    pub async fn read(
        &self,
        bucket: &str,
        key: &str,
        headers: &axum::http::HeaderMap,
        range: Option<&str>,
        head: bool,
    ) -> Result<ObjectRead, S3Error> {
        self.read_picking(bucket, key, headers, head, |meta| match parse_range(range, meta.size) {
            RangeSpec::Full => Ok(ReadKind::Full),
            RangeSpec::Part(a, b) => Ok(ReadKind::Partial { start: a, len: b - a + 1 }),
            RangeSpec::Unsatisfiable => Err(S3Error::new("InvalidRange", 416, "The requested range is not satisfiable")
                .with("RangeRequested", range.unwrap_or("").to_owned())
                .with("ActualObjectSize", meta.size.to_string())
                .with_header("content-range", format!("bytes */{}", meta.size))),
        })
        .await
    }

    /// GET / HEAD `?partNumber=N`: part `part` (1-based) of a multipart object,
    /// as a 206; a single-part object is its own part 1.
    pub async fn read_part(
        &self,
        bucket: &str,
        key: &str,
        headers: &axum::http::HeaderMap,
        part: u32,
        head: bool,
    ) -> Result<ObjectRead, S3Error> {
        self.read_picking(bucket, key, headers, head, |meta| {
            let sizes: &[u64] =
                if meta.part_sizes.is_empty() && meta.parts_count.is_none() { std::slice::from_ref(&meta.size) } else { &meta.part_sizes };
            let index = usize::try_from(part).unwrap_or(usize::MAX).saturating_sub(1);
            let Some(&len) = sizes.get(index) else {
                if meta.parts_count.is_some() && meta.part_sizes.is_empty() {
                    // Completed before part sizes were kept: the whole object, as before.
                    return Ok(ReadKind::Full);
                }
                return Err(S3Error::new("InvalidPartNumber", 416, "The requested partnumber is not satisfiable")
                    .with("PartNumberRequested", part.to_string())
                    .with("ActualPartCount", sizes.len().to_string()));
            };
            let start: u64 = sizes[..index].iter().sum();
            Ok(if len == 0 { ReadKind::Full } else { ReadKind::Partial { start, len } })
        })
        .await
    }

    /// The conditionals, then what `pick` makes of the object, then its bytes.
    async fn read_picking(
        &self,
        bucket: &str,
        key: &str,
        headers: &axum::http::HeaderMap,
        head: bool,
        pick: impl Fn(&ObjectMeta) -> Result<ReadKind, S3Error>,
    ) -> Result<ObjectRead, S3Error> {
        for _ in 0..READ_ATTEMPTS {
            let meta = self.head(bucket, key).await?;
            let kind = match evaluate_conditionals(headers, &meta.etag, meta.last_modified_ms) {
                Conditional::Failed(which) => return Err(S3Error::precondition_failed(which)),
                Conditional::NotModified => return Ok(ObjectRead { meta, kind: ReadKind::NotModified, body: None }),
                Conditional::Proceed => pick(&meta)?,
            };
            if head {
                return Ok(ObjectRead { meta, kind, body: None });
            }
            let (start, len) = match kind {
                ReadKind::Partial { start, len } => (start, len),
                _ => (0, meta.size),
            };
            if let Some(body) = self.blobs.read(&meta.blob_id, start, len).await? {
                return Ok(ObjectRead { meta, kind, body: Some(body) });
            }
            tracing::debug!(bucket, key, "object replaced while being read; looking it up again");
        }
        tracing::error!(bucket, key, "an object's blob is missing");
        Err(S3Error::internal())
    }

    /// Fails before a large body is read when the answer is already known: no
    /// bucket, `If-None-Match: *` on an existing object, or `If-Match` on a
    /// missing one (S3: 404 `NoSuchKey`, not 412).
    pub async fn precheck_put(&self, bucket: &str, key: &str, cond: &WriteCondition) -> Result<(), S3Error> {
        match self.meta.object(bucket, key).await? {
            Lookup::NoBucket => Err(S3Error::no_such_bucket(bucket)),
            Lookup::Found(_) if *cond == WriteCondition::NotExists => Err(S3Error::precondition_failed("If-None-Match")),
            Lookup::NoKey if matches!(cond, WriteCondition::EtagMatches(_)) => Err(S3Error::no_such_key(key)),
            _ => Ok(()),
        }
    }

    /// Writes an upload's bytes for `bucket`/`key` without making it visible.
    pub async fn stage(&self, bucket: &str, key: &str, upload: Upload) -> Result<Staged, S3Error> {
        let attrs = upload.attrs.clone();
        let (blob, digests) = self.write_blob(upload).await?;
        let meta = ObjectMeta {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            blob_id: blob.id.clone().unwrap_or_default(),
            size: digests.len,
            etag: format!("\"{}\"", digests.md5_hex()),
            last_modified_ms: self.clock.now_ms(),
            content_type: attrs.content_type,
            headers: attrs.headers,
            checksum: digests.checksum.as_ref().map(|(a, v)| (a.header_name().to_owned(), v.clone())),
            parts_count: None,
            part_sizes: Vec::new(),
        };
        Ok(Staged { blob, meta })
    }

    /// Makes a staged object visible if `cond` holds, and removes the blob of the
    /// object it replaced.
    pub async fn commit(&self, staged: Staged, cond: &WriteCondition) -> Result<ObjectMeta, S3Error> {
        match self.meta.put_object(&staged.meta, cond).await? {
            WriteOutcome::Written { replaced_blob } => {
                staged.blob.keep();
                if let Some(old) = replaced_blob {
                    remove_blob(self.blobs.as_ref(), &old).await;
                }
                Ok(staged.meta)
            }
            WriteOutcome::NoBucket => Err(S3Error::no_such_bucket(&staged.meta.bucket)),
            WriteOutcome::ConditionFailed => Err(self.condition_failed(&staged.meta.bucket, &staged.meta.key, cond).await),
        }
    }

    /// The error for a write condition that failed at commit: 412, or `NoSuchKey`
    /// for `If-Match` on a key that is gone.
    async fn condition_failed(&self, bucket: &str, key: &str, cond: &WriteCondition) -> S3Error {
        if *cond == WriteCondition::NotExists {
            return S3Error::precondition_failed("If-None-Match");
        }
        match self.meta.object(bucket, key).await {
            Ok(Lookup::NoKey) => S3Error::no_such_key(key),
            Ok(_) => S3Error::precondition_failed("If-Match"),
            Err(e) => e.into(),
        }
    }

    /// A retried CompleteMultipartUpload whose upload is gone: the object the
    /// first attempt made, if it is still the one at the key (same multipart
    /// ETag, which the part list determines). S3 answers such a retry with 200,
    /// so an SDK whose first response was lost does not report a failure.
    pub async fn completed_already(&self, bucket: &str, key: &str, requested: &[CompletedPart]) -> Result<Option<ObjectMeta>, S3Error> {
        let Some(etag) = multipart_etag(requested.iter().map(|p| p.etag.as_str())) else { return Ok(None) };
        match self.meta.object(bucket, key).await? {
            Lookup::Found(meta) if meta.etag == etag && meta.parts_count.is_some() => Ok(Some(meta)),
            _ => Ok(None),
        }
    }

    /// CopyObject: the bytes of `src` (as they are when the copy starts) under
    /// `dst`, with the source's metadata or `replace`d ones. `check_source` sees
    /// the source first (the `x-amz-copy-source-if-*` conditions, a size limit);
    /// `cond` is the destination's write condition.
    pub async fn copy(
        &self,
        (src_bucket, src_key): (&str, &str),
        (dst_bucket, dst_key): (&str, &str),
        check_source: impl Fn(&ObjectMeta) -> Result<(), S3Error>,
        replace: Option<ObjectAttrs>,
        cond: &WriteCondition,
    ) -> Result<ObjectMeta, S3Error> {
        self.precheck_put(dst_bucket, dst_key, cond).await?;
        for _ in 0..READ_ATTEMPTS {
            let src = self.head(src_bucket, src_key).await?;
            check_source(&src)?;
            let blob = match self.blobs.concat(std::slice::from_ref(&src.blob_id)).await {
                Ok(blob) => blob,
                // The source was replaced or deleted while being copied: look again.
                Err(_) if self.head(src_bucket, src_key).await.map_or(true, |now| now.blob_id != src.blob_id) => continue,
                Err(e) => return Err(e.into()),
            };
            let guard = BlobGuard { blobs: self.blobs.clone(), id: Some(blob.id.clone()) };
            let (content_type, headers) = match replace {
                Some(attrs) => (attrs.content_type, attrs.headers),
                None => (src.content_type.clone(), src.headers.clone()),
            };
            let meta = ObjectMeta {
                bucket: dst_bucket.to_owned(),
                key: dst_key.to_owned(),
                blob_id: blob.id,
                size: blob.size,
                last_modified_ms: self.clock.now_ms(),
                content_type,
                headers,
                ..src
            };
            return self.commit(Staged { blob: guard, meta }, cond).await;
        }
        tracing::error!(src_bucket, src_key, "a copy source kept changing or lost its blob");
        Err(S3Error::internal())
    }

    /// PutObject: stage, then commit.
    pub async fn put(&self, bucket: &str, key: &str, upload: Upload, cond: &WriteCondition) -> Result<ObjectMeta, S3Error> {
        self.precheck_put(bucket, key, cond).await?;
        let staged = self.stage(bucket, key, upload).await?;
        self.commit(staged, cond).await
    }

    /// DeleteObject: succeeds whether or not the key existed, as S3 does.
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        self.bucket(bucket).await?;
        self.delete_key(bucket, key).await
    }

    /// Deletes one key of a bucket known to exist (DeleteObjects).
    pub async fn delete_key(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        if let Some(blob) = self.meta.delete_object(bucket, key).await? {
            remove_blob(self.blobs.as_ref(), &blob).await;
        }
        Ok(())
    }

    /// One page of keys after `after` under `prefix`, rolled up by `delimiter`,
    /// at most `max_keys` entries (keys and prefixes both count, as in S3).
    pub async fn list(&self, bucket: &str, prefix: &str, delimiter: &str, after: &str, max_keys: usize) -> Result<Page, S3Error> {
        self.bucket(bucket).await?;
        let mut page = Page::default();
        if max_keys == 0 {
            // S3: an empty page that is not truncated (there is no token to give).
            return Ok(page);
        }
        let mut cursor = resume_point(after, prefix, delimiter);
        let mut count = 0;
        'outer: loop {
            let batch = self.meta.list_objects(bucket, prefix, &cursor, LIST_BATCH).await?;
            let full = batch.len() == LIST_BATCH;
            for obj in batch {
                if count == max_keys {
                    page.truncated = true;
                    break 'outer;
                }
                if let Some(cp) = common_prefix(&obj.key, prefix, delimiter) {
                    cursor = past_prefix(&cp);
                    page.last = Some(cp.clone());
                    page.prefixes.push(cp);
                    count += 1;
                    continue 'outer;
                }
                cursor.clone_from(&obj.key);
                page.last = Some(obj.key.clone());
                page.contents.push(obj);
                count += 1;
            }
            if !full {
                break;
            }
        }
        Ok(page)
    }
}

/// The common prefix `key` rolls up into: `prefix`, then up to and including
/// the first `delimiter` after it (`None`: no delimiter, or none in the rest).
fn common_prefix(key: &str, prefix: &str, delimiter: &str) -> Option<String> {
    if delimiter.is_empty() {
        return None;
    }
    let i = key[prefix.len()..].find(delimiter)?;
    Some(key[..prefix.len() + i + delimiter.len()].to_owned())
}

/// A position past every key under the common prefix `cp` (so its keys are
/// skipped once it is listed).
fn past_prefix(cp: &str) -> String {
    format!("{cp}\u{10FFFF}")
}

/// Where a listing resumes after `after` (a marker, a token's key): past all of
/// a common prefix if `after` is one, as a page that ended on it was rolled up.
fn resume_point(after: &str, prefix: &str, delimiter: &str) -> String {
    match after.strip_prefix(prefix) {
        Some(rest) if !delimiter.is_empty() && rest.find(delimiter).is_some_and(|i| i + delimiter.len() == rest.len()) => {
            past_prefix(after)
        }
        _ => after.to_owned(),
    }
}

/// Multipart uploads.
impl Objects {
    /// CreateMultipartUpload: the new upload's id.
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        attrs: ObjectAttrs,
        checksum: Option<(ChecksumAlgorithm, ChecksumType)>,
    ) -> Result<String, S3Error> {
        let upload_id = random_hex(24);
        let template = ObjectMeta {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            content_type: attrs.content_type,
            headers: attrs.headers,
            checksum: checksum.map(|(a, _)| (a.header_name().to_owned(), String::new())),
            ..ObjectMeta::default()
        };
        let upload = UploadInfo {
            upload_id: upload_id.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            initiated_ms: self.clock.now_ms(),
            template,
            full_object_checksum: checksum.is_some_and(|(_, t)| t == ChecksumType::FullObject),
        };
        if !self.meta.create_upload(&upload).await? {
            return Err(S3Error::no_such_bucket(bucket));
        }
        Ok(upload_id)
    }

    /// The upload `upload_id` of `bucket`/`key`, or `NoSuchUpload`.
    pub async fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<UploadInfo, S3Error> {
        match self.meta.upload(upload_id).await? {
            Some(u) if u.bucket == bucket && u.key == key => Ok(u),
            _ => Err(S3Error::no_such_upload(upload_id)),
        }
    }

    /// UploadPart: stores the part, replacing one with the same number.
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        mut upload: Upload,
    ) -> Result<PartInfo, S3Error> {
        let info = self.upload(bucket, key, upload_id).await?;
        if let Some((algorithm, kind)) = upload_checksum(&info) {
            match upload.checks.checksum_algorithm {
                Some(sent) if sent != algorithm => return Err(algorithm_mismatch(Some(algorithm), sent)),
                // A full-object checksum is combined from every part's CRC, so
                // the part gets one even when the client sent none.
                None if kind == ChecksumType::FullObject => upload.checks.checksum_algorithm = Some(algorithm),
                _ => {}
            }
        }
        self.record_part(upload_id, part_number, upload).await
    }

    /// Writes a part's bytes and records it, for an upload already looked up (the
    /// store still refuses one aborted meanwhile).
    async fn record_part(&self, upload_id: &str, part_number: u32, upload: Upload) -> Result<PartInfo, S3Error> {
        let (blob, digests) = self.write_blob(upload).await?;
        let part = PartInfo {
            part_number,
            blob_id: blob.id.clone().unwrap_or_default(),
            size: digests.len,
            etag: format!("\"{}\"", digests.md5_hex()),
            last_modified_ms: self.clock.now_ms(),
            checksum: digests.checksum.as_ref().map(|(a, v)| (a.header_name().to_owned(), v.clone())),
        };
        match self.meta.put_part(upload_id, &part).await? {
            PutPart::Recorded { replaced_blob } => {
                blob.keep();
                if let Some(old) = replaced_blob {
                    remove_blob(self.blobs.as_ref(), &old).await;
                }
                Ok(part)
            }
            PutPart::NoUpload => Err(S3Error::no_such_upload(upload_id)),
        }
    }

    /// UploadPartCopy: part `part_number` of the upload is the bytes `range`
    /// picks (start, length; `None`: all) of `src` as it is when the copy starts.
    pub async fn upload_part_copy(
        &self,
        (src_bucket, src_key): (&str, &str),
        (bucket, key, upload_id, part_number): (&str, &str, &str, u32),
        range: impl Fn(&ObjectMeta) -> Result<(u64, u64), S3Error>,
    ) -> Result<PartInfo, S3Error> {
        let upload = self.upload(bucket, key, upload_id).await?;
        let checksum_algorithm = upload_checksum(&upload).map(|(algorithm, _)| algorithm);
        for _ in 0..READ_ATTEMPTS {
            let src = self.head(src_bucket, src_key).await?;
            let (start, len) = range(&src)?;
            let Some(body) = self.blobs.read(&src.blob_id, start, len).await? else { continue };
            let checks = PendingChecks { checksum_algorithm, decoded_length: Some(len), ..PendingChecks::default() };
            let copied = Upload { body, checks, attrs: ObjectAttrs::default() };
            return self.record_part(upload_id, part_number, copied).await;
        }
        tracing::error!(src_bucket, src_key, "a copy source kept changing or lost its blob");
        Err(S3Error::internal())
    }

    /// CompleteMultipartUpload with the parts the client lists, in order.
    ///
    /// `cond` (`If-None-Match: *` / `If-Match`) is checked against the object at
    /// the key when the upload completes, atomically: a failed condition keeps
    /// the upload, so it can still be completed or aborted.
    pub async fn complete(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        requested: &[CompletedPart],
        cond: &WriteCondition,
        checksum: &CompletionChecksum,
    ) -> Result<ObjectMeta, S3Error> {
        self.precheck_put(bucket, key, cond).await?;
        let upload = self.upload(bucket, key, upload_id).await?;
        let stored = self.meta.parts(upload_id).await?;
        let chosen = choose_parts(&stored, requested, upload_id)?;
        let object_checksum = object_checksum(&upload, &chosen, checksum)?;
        let etag = multipart_etag(chosen.iter().map(|p| p.etag.as_str())).ok_or_else(S3Error::internal)?;
        let ids: Vec<String> = chosen.iter().map(|p| p.blob_id.clone()).collect();
        let blob = self.blobs.concat(&ids).await?;
        let guard = BlobGuard { blobs: self.blobs.clone(), id: Some(blob.id.clone()) };
        let meta = ObjectMeta {
            blob_id: blob.id,
            size: blob.size,
            etag,
            last_modified_ms: self.clock.now_ms(),
            checksum: object_checksum,
            parts_count: Some(u32::try_from(chosen.len()).unwrap_or(u32::MAX)),
            part_sizes: chosen.iter().map(|p| p.size).collect(),
            ..upload.template
        };
        let garbage = match self.meta.complete_upload(upload_id, &meta, cond).await? {
            Completion::Completed(garbage) => garbage,
            Completion::NoUpload => return Err(S3Error::no_such_upload(upload_id)),
            Completion::ConditionFailed => return Err(self.condition_failed(bucket, key, cond).await),
        };
        guard.keep();
        for old in garbage {
            remove_blob(self.blobs.as_ref(), &old).await;
        }
        Ok(meta)
    }

    /// ListMultipartUploads: one page of pending uploads under `prefix`, after
    /// (`key_marker`, `upload_id_marker`), keys rolled up by `delimiter`; at most
    /// `max_uploads` entries (uploads and prefixes both count, as in S3).
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: &str,
        after: (&str, &str),
        max_uploads: usize,
    ) -> Result<UploadPage, S3Error> {
        self.bucket(bucket).await?;
        let mut page = UploadPage::default();
        if max_uploads == 0 {
            return Ok(page);
        }
        let (mut key, mut upload_id) = (resume_point(after.0, prefix, delimiter), after.1.to_owned());
        let mut count = 0;
        'outer: loop {
            let batch = self.meta.list_uploads(bucket, prefix, (&key, &upload_id), LIST_BATCH).await?;
            let full = batch.len() == LIST_BATCH;
            for upload in batch {
                if count == max_uploads {
                    page.truncated = true;
                    break 'outer;
                }
                if let Some(cp) = common_prefix(&upload.key, prefix, delimiter) {
                    key = past_prefix(&cp);
                    upload_id.clear();
                    page.next = Some((cp.clone(), String::new()));
                    page.prefixes.push(cp);
                    count += 1;
                    continue 'outer;
                }
                key.clone_from(&upload.key);
                upload_id.clone_from(&upload.upload_id);
                page.next = Some((upload.key.clone(), upload.upload_id.clone()));
                page.uploads.push(upload);
                count += 1;
            }
            if !full {
                break;
            }
        }
        Ok(page)
    }

    /// AbortMultipartUpload: the upload and its parts.
    pub async fn abort(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), S3Error> {
        self.upload(bucket, key, upload_id).await?;
        let parts = self.meta.abort_upload(upload_id).await?.ok_or_else(|| S3Error::no_such_upload(upload_id))?;
        for blob in parts {
            remove_blob(self.blobs.as_ref(), &blob).await;
        }
        Ok(())
    }

    /// ListParts: the upload and its parts, by number.
    pub async fn parts(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(UploadInfo, Vec<PartInfo>), S3Error> {
        let upload = self.upload(bucket, key, upload_id).await?;
        let parts = self.meta.parts(upload_id).await?;
        Ok((upload, parts))
    }
}

/// Housekeeping.
impl Objects {
    /// Aborts the uploads that started more than `max_age_ms` ago and were never
    /// completed or aborted, freeing their parts' bytes. Returns how many.
    pub async fn expire_uploads(&self, max_age_ms: i64) -> Result<usize, S3Error> {
        let before = self.clock.now_ms().saturating_sub(max_age_ms);
        let mut expired = 0;
        loop {
            let stale = self.meta.stale_uploads(before, 500).await?;
            for upload in &stale {
                // None: completed or aborted meanwhile.
                for blob in self.meta.abort_upload(&upload.upload_id).await?.unwrap_or_default() {
                    remove_blob(self.blobs.as_ref(), &blob).await;
                }
                expired += 1;
            }
            if stale.len() < 500 {
                return Ok(expired);
            }
        }
    }

    /// Removes blobs no object or part points at: left by a crash between writing
    /// a blob and its row, or between removing a row and its blob. Run at start,
    /// before requests are served (nothing is being written then). Returns how many.
    pub async fn reclaim_orphans(&self) -> Result<usize, S3Error> {
        let ids = self.blobs.list().await?;
        let mut removed = 0;
        for chunk in ids.chunks(500) {
            let referenced = self.meta.referenced_blobs(chunk).await?;
            for id in chunk.iter().filter(|id| !referenced.contains(*id)) {
                remove_blob(self.blobs.as_ref(), id).await;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreResult;

    /// A blob store on a full disk: every write fails as the filesystem says.
    struct FullDisk;

    #[async_trait::async_trait]
    impl BlobStore for FullDisk {
        async fn put(&self, mut body: ByteStream) -> Result<crate::store::blobs::NewBlob, PutError> {
            while body.next().await.is_some() {}
            Err(PutError::Store(std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device").into()))
        }
        async fn read(&self, _: &str, _: u64, _: u64) -> StoreResult<Option<ByteStream>> {
            Ok(None)
        }
        async fn concat(&self, _: &[String]) -> StoreResult<crate::store::blobs::NewBlob> {
            Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device").into())
        }
        async fn delete(&self, _: &str) -> StoreResult<()> {
            Ok(())
        }
        async fn list(&self) -> StoreResult<Vec<String>> {
            Ok(Vec::new())
        }
        async fn check_writable(&self) -> StoreResult<()> {
            Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device").into())
        }
    }

    #[tokio::test]
    async fn a_full_disk_is_503_with_retry_after_and_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Arc::new(crate::store::sqlite::Sqlite::open(&dir.path().join("db")).unwrap());
        let objects = Objects::new(meta, Arc::new(FullDisk), Arc::new(crate::clock::SystemClock), 1 << 20);
        assert!(objects.create_bucket("b").await.unwrap());
        let body = futures_util::stream::iter([Ok(Bytes::from_static(b"hello"))]).boxed();
        let upload = Upload { body, checks: PendingChecks::default(), attrs: ObjectAttrs::default() };
        let e = objects.put("b", "k", upload, &WriteCondition::None).await.unwrap_err();
        assert_eq!((e.status, e.code), (503, "ServiceUnavailable"));
        assert!(e.headers.iter().any(|(n, v)| *n == "retry-after" && v == "1"), "{:?}", e.headers);
        assert_eq!(objects.head("b", "k").await.unwrap_err().code, "NoSuchKey", "nothing half-written");
        assert_eq!(objects.ready().await, Err("object files cannot be written"));
    }
}
