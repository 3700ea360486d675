//! Blobs as files under `<data_dir>/objects`: `ab/abcdef…` by id, `tmp/` for
//! writes in flight.
//!
//! A write goes to a temporary file (mode 0600), is fsynced, renamed into place and
//! the rename fsynced: a blob id exists only once its bytes are durable, and a
//! crash leaves at most a temporary file (removed at the next start) or a blob no
//! row points at (reclaimed by the object service at start). Reads borrow a
//! blocking thread per chunk and give it back ([`super::file_chunks`]): a slow
//! client holds a socket, the open file and one chunk, never a thread.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::blobs::{BlobStore, ByteStream, NewBlob, PutError};
use super::file_chunks::{self, Opened};
use super::{StoreError, StoreResult};
use crate::ids::random_hex;

/// Files up to this size are kept in memory after their first read.
pub const SMALL_FILE: u64 = 64 * 1024;
/// Memory the small-file cache may use.
const SMALL_BUDGET: usize = 16 * 1024 * 1024;
/// Bytes read per chunk when streaming a blob out.
pub const READ_CHUNK: usize = 64 * 1024;
/// Write buffer per upload.
const WRITE_BUFFER: usize = 128 * 1024;

/// Blob files under one directory.
#[derive(Clone, Debug)]
pub struct FsBlobs {
    root: PathBuf,
    small: Arc<RwLock<SmallFiles>>,
}

/// Contents of small files, keyed by id. Blobs never change once written, so
/// entries never go stale; they are dropped on removal.
#[derive(Debug, Default)]
struct SmallFiles {
    files: HashMap<String, Bytes>,
    bytes: usize,
    /// Deletions so far. A read notes it before opening the file and caches what
    /// it read only if no deletion happened since: otherwise a read that opened
    /// the file just before a delete removed it would cache the deleted blob, and
    /// every later read would get it instead of `None`.
    deletes: u64,
}

/// Creates `dir` (and parents) readable by this user only.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Removes a temporary file when dropped, unless disarmed: a write abandoned
/// half-way (client gone, future dropped) leaves nothing behind.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl FsBlobs {
    /// Uses (and creates) `<data_dir>/objects`. Leftover temporary files from a
    /// crash are removed: no blob id ever named them. The caller holds the data
    /// dir's lock, so no other process is writing there.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let root = data_dir.join("objects");
        create_private_dir(&root.join("tmp"))?;
        for entry in std::fs::read_dir(root.join("tmp"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        Ok(Self { root, small: Arc::default() })
    }

    /// The path of blob `id`. Ids are hex we generated; anything else is refused.
    fn path(&self, id: &str) -> io::Result<PathBuf> {
        if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid blob id"));
        }
        Ok(self.root.join(&id[..2]).join(id))
    }

    fn temp_path(&self, id: &str) -> PathBuf {
        self.root.join("tmp").join(format!("{id}.part"))
    }

    async fn create_temp(&self, id: &str) -> io::Result<(tokio::fs::File, TempFile)> {
        let path = self.temp_path(id);
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&path).await?;
        Ok((file, TempFile(Some(path))))
    }

    /// Moves a finished temporary file to its final name and makes the rename durable.
    async fn publish(&self, mut temp: TempFile, id: &str) -> io::Result<()> {
        let dest = self.path(id)?;
        let dir = dest.parent().map_or_else(|| self.root.clone(), Path::to_path_buf);
        let tmp = temp.0.clone().unwrap_or_default();
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            create_private_dir(&dir)?;
            std::fs::rename(&tmp, &dest)?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await
        .map_err(io::Error::other)??;
        temp.0 = None;
        Ok(())
    }

    fn cached(&self, id: &str) -> Option<Bytes> {
        self.small.read().ok()?.files.get(id).cloned()
    }

    /// The deletion count, noted by a read before it opens a file (see [`SmallFiles::deletes`]).
    fn deletes_seen(&self) -> u64 {
        self.small.read().map_or(0, |cache| cache.deletes)
    }

    /// Caches a small file read while the deletion count was `deletes_seen`.
    fn remember(&self, id: &str, bytes: &Bytes, deletes_seen: u64) {
        if let Ok(mut cache) = self.small.write() {
            if cache.deletes != deletes_seen {
                return;
            }
            if cache.bytes + bytes.len() > SMALL_BUDGET {
                cache.files.clear();
                cache.bytes = 0;
            }
            cache.bytes += bytes.len();
            cache.files.insert(id.to_owned(), bytes.clone());
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.small.write() {
            cache.deletes = cache.deletes.wrapping_add(1);
            if let Some(b) = cache.files.remove(id) {
                cache.bytes -= b.len();
            }
        }
    }

    async fn write_all(&self, id: &str, mut body: ByteStream) -> Result<u64, PutError> {
        let (file, temp) = self.create_temp(id).await.map_err(|e| PutError::Store(e.into()))?;
        let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(PutError::Body)?;
            size += chunk.len() as u64;
            out.write_all(&chunk).await.map_err(|e| PutError::Store(e.into()))?;
        }
        out.flush().await.map_err(|e| PutError::Store(e.into()))?;
        out.into_inner().sync_all().await.map_err(|e| PutError::Store(e.into()))?;
        self.publish(temp, id).await.map_err(|e| PutError::Store(e.into()))?;
        Ok(size)
    }
}

#[async_trait]
impl BlobStore for FsBlobs {
    async fn put(&self, body: ByteStream) -> Result<NewBlob, PutError> {
        let id = random_hex(16);
        let size = self.write_all(&id, body).await?;
        Ok(NewBlob { id, size })
    }

    async fn read(&self, id: &str, start: u64, len: u64) -> StoreResult<Option<ByteStream>> {
        let range = |all: Bytes| -> StoreResult<Bytes> {
            let (a, b) = (usize::try_from(start).unwrap_or(usize::MAX), usize::try_from(start + len).unwrap_or(usize::MAX));
            if b <= all.len() { Ok(all.slice(a..b)) } else { Err(StoreError::corrupt(format!("blob {id} is shorter than its object"))) }
        };
        if let Some(all) = self.cached(id) {
            return Ok(Some(futures_util::stream::once(std::future::ready(range(all).map_err(Into::into))).boxed()));
        }
        let path = self.path(id).map_err(StoreError::from)?;
        let deletes_seen = self.deletes_seen();
        match file_chunks::open(path, SMALL_FILE).await? {
            Opened::Missing => Ok(None),
            Opened::Small(all) => {
                self.remember(id, &all, deletes_seen);
                Ok(Some(futures_util::stream::once(std::future::ready(range(all).map_err(Into::into))).boxed()))
            }
            Opened::Large(_, size) if start + len > size => Err(StoreError::corrupt(format!("blob {id} is shorter than its object"))),
            Opened::Large(file, _) => Ok(Some(file_chunks::stream(file, start, len, READ_CHUNK))),
        }
    }

    async fn concat(&self, ids: &[String]) -> StoreResult<NewBlob> {
        let id = random_hex(16);
        let paths = ids.iter().map(|i| self.path(i)).collect::<io::Result<Vec<_>>>()?;
        let (file, temp) = self.create_temp(&id).await?;
        let mut out = file.into_std().await;
        let size = tokio::task::spawn_blocking(move || -> io::Result<u64> {
            let mut total = 0;
            for p in paths {
                total += io::copy(&mut std::fs::File::open(p)?, &mut out)?;
            }
            out.sync_all()?;
            Ok(total)
        })
        .await
        .map_err(io::Error::other)??;
        self.publish(temp, &id).await?;
        Ok(NewBlob { id, size })
    }

    async fn delete(&self, id: &str) -> StoreResult<()> {
        let path = self.path(id)?;
        let removed = tokio::fs::remove_file(&path).await;
        // Forgotten after the removal, not before: a read that opened the file
        // before it was removed then sees the deletion count change and does not
        // cache the blob again (a fix: it used to, so a deleted blob kept reading
        // back instead of `None`).
        self.forget(id);
        match removed {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn list(&self) -> StoreResult<Vec<String>> {
        let root = self.root.clone();
        let ids = tokio::task::spawn_blocking(move || -> io::Result<Vec<String>> {
            let mut ids = Vec::new();
            for dir in std::fs::read_dir(&root)? {
                let dir = dir?;
                let name = dir.file_name().to_string_lossy().into_owned();
                if name.len() != 2 || !dir.file_type()?.is_dir() {
                    continue;
                }
                for file in std::fs::read_dir(dir.path())? {
                    let file = file?.file_name().to_string_lossy().into_owned();
                    if file.starts_with(&name) && file.len() >= 8 && file.bytes().all(|b| b.is_ascii_hexdigit()) {
                        ids.push(file);
                    }
                }
            }
            Ok(ids)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(ids)
    }

    async fn check_writable(&self) -> StoreResult<()> {
        let id = format!("probe-{}", random_hex(8));
        let (mut file, _temp) = self.create_temp(&id).await?;
        file.write_all(b"linkgate readiness probe").await?;
        file.sync_all().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(parts: &[&'static [u8]]) -> ByteStream {
        futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>()).boxed()
    }

    #[tokio::test]
    async fn files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FsBlobs::open(dir.path()).unwrap();
        let b = blobs.put(stream(&[b"abc"])).await.unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&blobs.path(&b.id).unwrap()), 0o600);
            assert_eq!(mode(&dir.path().join("objects")), 0o700);
            assert_eq!(mode(blobs.path(&b.id).unwrap().parent().unwrap()), 0o700);
        }
    }

    #[tokio::test]
    async fn a_failed_body_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FsBlobs::open(dir.path()).unwrap();
        let failing = futures_util::stream::iter([Ok(Bytes::from_static(b"abc")), Err(io::Error::other("cut").into())]).boxed();
        assert!(matches!(blobs.put(failing).await, Err(PutError::Body(_))));
        assert!(blobs.list().await.unwrap().is_empty());
        assert_eq!(std::fs::read_dir(dir.path().join("objects/tmp")).unwrap().count(), 0);
    }
}
