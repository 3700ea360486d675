//! Storage ports and their implementations.
//!
//! Four ports, each an async trait with typed errors ([`StoreError`]) and a
//! conformance suite any implementation must pass (`tests/storage_conformance.rs`):
//!
//! | port | holds | implementations |
//! |---|---|---|
//! | [`meta::MetaStore`] | buckets, objects, multipart uploads | [`sqlite::Sqlite`], [`cached::CachedMeta`] (decorator) |
//! | [`identity::IdentityStore`] | users, keys, policies, roles, sessions | [`sqlite::Sqlite`] |
//! | [`links::LinkStore`] | broker links, their audit trail | [`sqlite::Sqlite`], [`write_behind::BufferedLinks`] (decorator) |
//! | [`blobs::BlobStore`] | object bytes | [`fs_blobs::FsBlobs`] |
//!
//! Only the services above talk to these; HTTP handlers never do.

pub mod blobs;
pub mod cached;
mod error;
mod file_chunks;
pub mod fs_blobs;
pub mod identity;
pub mod links;
pub mod meta;
pub mod sqlite;
pub mod write_behind;

pub use error::{StoreError, StoreErrorKind, StoreResult};
