//! Object files on the local filesystem.

use std::collections::HashMap;
use std::io;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::ids::random_hex;
use crate::s3::checksum::{BodyDigests, DigestValues};

/// Files under `<data_dir>/objects`: `ab/abcdef…` for ids, `tmp/` for writes in flight.
#[derive(Clone, Debug)]
pub struct FsObjects {
    root: PathBuf,
    small: Arc<RwLock<SmallFiles>>,
}

/// Contents of small files, keyed by file id. Files never change once written (a new
/// version is a new id), so entries never go stale; they are dropped on removal.
#[derive(Debug, Default)]
struct SmallFiles {
    files: HashMap<String, Bytes>,
    bytes: usize,
}

/// Files up to this size are kept in memory after their first read.
pub const SMALL_FILE: u64 = 64 * 1024;
/// Memory the small-file cache may use.
const SMALL_BUDGET: usize = 16 * 1024 * 1024;

/// A file made durable by [`FsObjects::write`], with the digests computed on the way.
#[derive(Clone, Debug)]
pub struct WrittenFile {
    /// The new file id.
    pub id: String,
    /// Size and digests (MD5 always; SHA-256 and one checksum when asked).
    pub digests: DigestValues,
}

/// Why a write stopped.
#[derive(Debug)]
pub enum WriteError<E> {
    /// The body stream failed (client error, bad chunk signature…).
    Body(E),
    /// The body exceeded the limit.
    TooLarge,
    /// The disk failed.
    Io(io::Error),
}

impl FsObjects {
    /// Uses (and creates) `<data_dir>/objects`. Leftover temporary files from a
    /// crash are removed: they were never referenced.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let root = data_dir.join("objects");
        std::fs::create_dir_all(root.join("tmp"))?;
        for entry in std::fs::read_dir(root.join("tmp"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        Ok(Self { root, small: Arc::default() })
    }

    /// The whole content of a small file (at most [`SMALL_FILE`] bytes), from memory
    /// when it was read before.
    pub fn read_small(&self, id: &str) -> io::Result<Bytes> {
        if let Ok(cache) = self.small.read()
            && let Some(b) = cache.files.get(id)
        {
            return Ok(b.clone());
        }
        let mut buf = Vec::new();
        self.open_file(id)?.take(SMALL_FILE + 1).read_to_end(&mut buf)?;
        let bytes = Bytes::from(buf);
        if bytes.len() as u64 <= SMALL_FILE
            && let Ok(mut cache) = self.small.write()
        {
            if cache.bytes + bytes.len() > SMALL_BUDGET {
                cache.files.clear();
                cache.bytes = 0;
            }
            cache.bytes += bytes.len();
            cache.files.insert(id.to_owned(), bytes.clone());
        }
        Ok(bytes)
    }

    /// The path of file `id`. Ids are hex we generated; anything else is refused.
    pub fn path(&self, id: &str) -> io::Result<PathBuf> {
        if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid file id"));
        }
        Ok(self.root.join(&id[..2]).join(id))
    }

    /// Opens file `id` for reading.
    pub fn open_file(&self, id: &str) -> io::Result<std::fs::File> {
        std::fs::File::open(self.path(id)?)
    }

    /// Deletes file `id`; a missing file is not an error (it is what we wanted).
    pub fn remove(&self, id: &str) {
        if let Ok(mut cache) = self.small.write()
            && let Some(b) = cache.files.remove(id)
        {
            cache.bytes -= b.len();
        }
        if let Ok(path) = self.path(id)
            && let Err(e) = std::fs::remove_file(&path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(file = %path.display(), error = %e, "could not remove object file");
        }
    }

    /// Streams `body` into a new durable file, feeding `digests` on the way.
    /// At most `limit` bytes are accepted.
    pub async fn write<S, E>(&self, body: S, limit: u64, digests: BodyDigests) -> Result<WrittenFile, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let id = random_hex(16);
        let tmp = self.root.join("tmp").join(format!("{id}.part"));
        let result = self.write_inner(&id, &tmp, body, limit, digests).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn write_inner<S, E>(
        &self,
        id: &str,
        tmp: &Path,
        body: S,
        limit: u64,
        mut digests: BodyDigests,
    ) -> Result<WrittenFile, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let file = tokio::fs::File::create(tmp).await.map_err(WriteError::Io)?;
        let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        let mut size = 0u64;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(WriteError::Body)?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(WriteError::TooLarge);
            }
            digests.update(&chunk);
            out.write_all(&chunk).await.map_err(WriteError::Io)?;
        }
        out.flush().await.map_err(WriteError::Io)?;
        let file = out.into_inner();
        file.sync_all().await.map_err(WriteError::Io)?;
        drop(file);
        self.commit(tmp, id).await.map_err(WriteError::Io)?;
        Ok(WrittenFile { id: id.to_owned(), digests: digests.finish() })
    }

    /// Moves a finished temporary file to its final name and makes the rename durable.
    async fn commit(&self, tmp: &Path, id: &str) -> io::Result<()> {
        let dest = self.path(id)?;
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::rename(tmp, &dest).await?;
        tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all())).await.map_err(io::Error::other)??;
        Ok(())
    }

    /// Concatenates files (multipart completion) into a new durable file.
    pub async fn concat(&self, ids: Vec<String>) -> io::Result<(String, u64)> {
        let id = random_hex(16);
        let tmp = self.root.join("tmp").join(format!("{id}.part"));
        let paths = ids.iter().map(|i| self.path(i)).collect::<io::Result<Vec<_>>>()?;
        let tmp2 = tmp.clone();
        let size = tokio::task::spawn_blocking(move || -> io::Result<u64> {
            let mut out = std::fs::File::create(&tmp2)?;
            let mut total = 0;
            for p in paths {
                let mut input = std::fs::File::open(p)?;
                total += io::copy(&mut input, &mut out)?;
            }
            out.sync_all()?;
            Ok(total)
        })
        .await
        .map_err(io::Error::other)?;
        let size = match size {
            Ok(s) => s,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        self.commit(&tmp, &id).await?;
        Ok((id, size))
    }
}
