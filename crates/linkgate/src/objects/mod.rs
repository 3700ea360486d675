//! Object bytes.
//!
//! Bytes live in files named by random ids, never by object keys, so no key — `..`,
//! `%2e%2e`, NUL, absolute, 1024 bytes long — can name a path outside the data dir.
//! A write goes to a temporary file, is fsynced and renamed into place before the
//! metadata row points at it: readers see the old object or the new one, never a
//! torn one, and a crash leaves at most an orphan file.

pub mod fs;

pub use fs::{FsObjects, WrittenFile};
