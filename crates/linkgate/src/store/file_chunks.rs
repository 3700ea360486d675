//! Streaming a byte range of a file without holding a thread.
//!
//! A chunk the page cache already holds is read on the spot (Linux `preadv2`
//! with `RWF_NOWAIT`, which fails instead of waiting for the disk); any other is
//! one short call on tokio's blocking pool that reads straight into the buffer
//! sent to the client and gives the thread back. Either way a client that reads
//! slowly holds its socket, one open file and at most one chunk, never a thread.
//! Opening is one blocking call that also answers small files whole.
//!
//! Why not tokio's `fs::File`: it takes a blocking call per seek and per read and
//! copies every chunk once more, which halved the throughput of 1 MiB downloads
//! against the build that held a thread per download (docs/benchmarks.md).

use std::fs::File;
use std::io::{self, Read as _};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};

use super::blobs::ByteStream;

/// What opening a blob for reading found.
pub(super) enum Opened {
    /// No file by that name.
    Missing,
    /// The whole file, read at once because it is at most the small-file size.
    Small(Bytes),
    /// The open file and its size.
    Large(File, u64),
}

/// Opens `path` and, if it is at most `small` bytes, reads it whole. One
/// blocking call.
pub(super) async fn open(path: PathBuf, small: u64) -> io::Result<Opened> {
    tokio::task::spawn_blocking(move || -> io::Result<Opened> {
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Opened::Missing),
            Err(e) => return Err(e),
        };
        let size = file.metadata()?.len();
        if size <= small {
            let mut all = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            file.read_to_end(&mut all)?;
            return Ok(Opened::Small(Bytes::from(all)));
        }
        Ok(Opened::Large(file, size))
    })
    .await
    .map_err(io::Error::other)?
}

/// Bytes `start .. start + len` of `file`, at most `chunk` bytes per item. A
/// file that ends early fails the stream with `UnexpectedEof`.
pub(super) fn stream(file: File, start: u64, len: u64, chunk: usize) -> ByteStream {
    let file = Arc::new(file);
    futures_util::stream::try_unfold((start, len), move |(at, left)| {
        let file = file.clone();
        async move {
            if left == 0 {
                return Ok(None);
            }
            let want = usize::try_from(left.min(chunk as u64)).unwrap_or(chunk);
            let bytes = match read_cached(&file, at, want) {
                Some(bytes) => bytes,
                None => tokio::task::spawn_blocking(move || read_at(&file, at, want)).await.map_err(io::Error::other)??,
            };
            if bytes.is_empty() {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file ended before the range"));
            }
            let read = bytes.len() as u64;
            Ok(Some((bytes, (at + read, left - read))))
        }
    })
    .map_err(|e| Box::new(e) as _)
    .boxed()
}

/// Up to `want` bytes at `at`, read (blocking) until `want` or the end of file.
fn read_at(file: &File, at: u64, want: usize) -> io::Result<Bytes> {
    let mut buf = vec![0; want];
    let mut filled = 0;
    while filled < want {
        match positioned_read(file, &mut buf[filled..], at + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(Bytes::from(buf))
}

#[cfg(unix)]
fn positioned_read(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

#[cfg(windows)]
fn positioned_read(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, at)
}

/// Whatever part of `want` bytes at `at` the page cache holds, read without
/// waiting for the disk; `None` when nothing could be read that way (not cached,
/// end of file, or the kernel or filesystem lacks `RWF_NOWAIT`).
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
fn read_cached(file: &File, at: u64, want: usize) -> Option<Bytes> {
    use rustix::io::{ReadWriteFlags, preadv2};
    let mut buf = vec![0; want];
    let n = loop {
        match preadv2(file, &mut [io::IoSliceMut::new(&mut buf)], at, ReadWriteFlags::NOWAIT) {
            Ok(n) => break n,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return None,
        }
    };
    if n == 0 {
        return None;
    }
    buf.truncate(n);
    Some(Bytes::from(buf))
}

#[cfg(not(all(target_os = "linux", not(target_env = "musl"))))]
fn read_cached(_: &File, _: u64, _: usize) -> Option<Bytes> {
    None
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        (f, data)
    }

    async fn collect(s: ByteStream) -> Result<Vec<Vec<u8>>, String> {
        s.map_ok(|b| b.to_vec()).try_collect().await.map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn streams_a_range_in_chunks() {
        let (f, data) = file_of(10_000);
        let Opened::Large(file, size) = open(f.path().to_owned(), 100).await.unwrap() else { panic!("not large") };
        assert_eq!(size, 10_000);
        let chunks = collect(stream(file, 1_000, 5_000, 2_048)).await.unwrap();
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [2_048, 2_048, 904]);
        assert_eq!(chunks.concat(), data[1_000..6_000]);
    }

    #[tokio::test]
    async fn small_files_come_whole_and_missing_ones_are_none() {
        let (f, data) = file_of(100);
        assert!(matches!(open(f.path().to_owned(), 100).await.unwrap(), Opened::Small(b) if b == data));
        assert!(matches!(open(f.path().with_extension("gone"), 100).await.unwrap(), Opened::Missing));
    }

    #[tokio::test]
    async fn a_file_shorter_than_the_range_fails_the_stream() {
        let (f, data) = file_of(3_000);
        let Opened::Large(file, _) = open(f.path().to_owned(), 100).await.unwrap() else { panic!("not large") };
        let mut s = stream(file, 0, 4_000, 2_048);
        let mut got = Vec::new();
        let err = loop {
            match s.next().await.expect("the stream ended without an error") {
                Ok(chunk) => got.extend_from_slice(&chunk),
                Err(e) => break e,
            }
        };
        assert_eq!(got, data);
        assert!(err.to_string().contains("ended before"), "{err}");
    }

    /// The path taken when the page cache does not hold the chunk.
    #[test]
    fn the_blocking_read_fills_the_chunk_or_stops_at_the_end() {
        let (f, data) = file_of(3_000);
        let file = File::open(f.path()).unwrap();
        assert_eq!(read_at(&file, 1_000, 1_500).unwrap(), data[1_000..2_500]);
        assert_eq!(read_at(&file, 2_500, 1_500).unwrap(), data[2_500..]);
        assert!(read_at(&file, 3_000, 1_500).unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_empty_range_is_an_empty_stream() {
        let (f, _) = file_of(1_000);
        let Opened::Large(file, _) = open(f.path().to_owned(), 100).await.unwrap() else { panic!("not large") };
        assert!(collect(stream(file, 1_000, 0, 2_048)).await.unwrap().is_empty());
    }
}
