//! The blob port: object bytes, by id.
//!
//! A blob is written once, from a stream, and becomes durable and visible under a
//! fresh random id only when the whole stream has been stored; it never changes
//! afterwards (a new object version is a new blob). Object keys never become blob
//! ids, so no key can name a path. Reads stream a byte range in small chunks and
//! hold no thread while the client is slow. The filesystem
//! ([`super::fs_blobs::FsBlobs`]) is one implementation; an S3 bucket can be another.

use std::error::Error;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

use super::{StoreError, StoreResult};

/// Any error, boxed: what a body stream fails with.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// A stream of bytes: a request body going in, a blob's content coming out.
pub type ByteStream = BoxStream<'static, Result<Bytes, BoxError>>;

/// A blob just written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBlob {
    /// Its id.
    pub id: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why a write stopped.
#[derive(Debug)]
pub enum PutError {
    /// The body stream failed (client error, bad chunk signature, size limit…):
    /// the stream's own error, untouched.
    Body(BoxError),
    /// The store failed.
    Store(StoreError),
}

/// Object bytes by id.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `body` as a new blob, durable when this returns. Nothing is left
    /// behind if the stream or the store fails, or if the future is dropped.
    async fn put(&self, body: ByteStream) -> Result<NewBlob, PutError>;
    /// Bytes `start .. start + len` of blob `id`, streamed; `None` if there is no
    /// such blob (it was replaced and removed meanwhile).
    async fn read(&self, id: &str, start: u64, len: u64) -> StoreResult<Option<ByteStream>>;
    /// A new blob holding the given blobs one after the other (multipart completion).
    async fn concat(&self, ids: &[String]) -> StoreResult<NewBlob>;
    /// Removes blob `id`; a missing blob is not an error (it is what was wanted).
    async fn delete(&self, id: &str) -> StoreResult<()>;
    /// Every blob id (to reclaim orphans at start). Blobs being written are not listed.
    async fn list(&self) -> StoreResult<Vec<String>>;
    /// Whether a blob could be written now (readiness probes).
    async fn check_writable(&self) -> StoreResult<()>;
}
