//! The data directory: created readable by this user only, and held with an
//! exclusive lock for the life of the process.
//!
//! Two processes on one data dir would each believe they are the only writer (the
//! object cache, the temporary files emptied at start, the database's single
//! committer): the second `linkgate serve` refuses to start instead, naming the
//! process that holds the lock.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data dir.
pub const LOCK_FILE: &str = "linkgate.lock";

/// An open, locked data directory. The lock is released when this is dropped
/// (or the process ends, however it ends).
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    lock: File,
}

/// Why the data dir cannot be used.
#[derive(Debug)]
pub enum DataDirError {
    /// Another process holds it; what its lock file says about it.
    InUse {
        /// The directory.
        path: PathBuf,
        /// The holder's description (`pid=…`, when it started, where it listens).
        holder: String,
    },
    /// It cannot be created, protected or locked.
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl fmt::Display for DataDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InUse { path, holder } => {
                write!(f, "data dir {} is in use by another linkgate ({holder}); stop it or choose another --data-dir", path.display())
            }
            Self::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for DataDirError {}

fn io(what: String) -> impl FnOnce(std::io::Error) -> DataDirError {
    move |source| DataDirError::Io { what, source }
}

impl DataDir {
    /// Creates `path` (mode 0700; an existing directory is narrowed to 0700) and
    /// takes its lock, or says who holds it.
    pub fn open(path: &Path) -> Result<Self, DataDirError> {
        crate::store::fs_blobs::create_private_dir(path).map_err(io(format!("cannot create data dir {}", path.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                .map_err(io(format!("cannot make data dir {} private", path.display())))?;
        }
        let lock_path = path.join(LOCK_FILE);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut lock = options.open(&lock_path).map_err(io(format!("cannot open {}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                let holder = holder.split_whitespace().collect::<Vec<_>>().join(" ");
                let holder = if holder.is_empty() { "unknown process".to_owned() } else { holder };
                return Err(DataDirError::InUse { path: path.to_owned(), holder });
            }
            Err(TryLockError::Error(e)) => return Err(io(format!("cannot lock {}", lock_path.display()))(e)),
        }
        let mut dir = Self { path: path.to_owned(), lock };
        dir.describe(None).map_err(io(format!("cannot write {}", lock_path.display())))?;
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records where this process listens, for the message a second process prints.
    pub fn note_listening(&mut self, addr: std::net::SocketAddr) {
        if let Err(e) = self.describe(Some(addr)) {
            tracing::warn!(error = %e, "cannot update the data dir's lock file");
        }
    }

    fn describe(&mut self, listening: Option<std::net::SocketAddr>) -> std::io::Result<()> {
        let started = crate::clock::Clock::now(&crate::clock::SystemClock).rfc3339();
        let mut text = format!("pid={} started={started}", std::process::id());
        if let Some(addr) = listening {
            text.push_str(&format!(" listening=http://{addr}"));
        }
        self.lock.set_len(0)?;
        self.lock.rewind()?;
        self.lock.write_all(format!("{text}\n").as_bytes())?;
        self.lock.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_opener_is_refused_with_the_holder_named() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("data");
        let mut first = DataDir::open(&path).unwrap();
        first.note_listening("127.0.0.1:8420".parse().unwrap());
        let err = DataDir::open(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("pid={}", std::process::id())), "{err}");
        assert!(err.contains("listening=http://127.0.0.1:8420"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        drop(first);
        DataDir::open(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
            assert_eq!(std::fs::metadata(path.join(LOCK_FILE)).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
