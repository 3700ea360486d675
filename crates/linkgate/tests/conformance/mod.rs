//! Conformance suites for the storage ports of `linkgate::store`: the behaviour
//! any implementation must have, written against the traits' doc comments.
//!
//! One module per port, each with a `run` that takes a fresh, empty store and calls
//! the module's `check_…` functions in order. The checks share that one store:
//! each works in its own buckets, users, link ids, issuers and groups, and the few
//! that need the whole store to themselves (exact listings, purges) run first. A
//! new implementation is done when `run` passes against it; `tests/storage_conformance.rs`
//! runs every suite against every implementation we have.
//!
//! Stores are passed as `Arc<dyn Port>` because some checks race many tasks on
//! one store (`tokio::spawn` needs `'static`); every port is `Send + Sync`.

#![allow(unreachable_pub, dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod blobs;
pub mod identity;
pub mod links;
pub mod meta;

use std::fmt::Debug;

use linkgate::store::{StoreErrorKind, StoreResult};

/// Asserts that `result` is an error of `kind` (typed errors: callers decide by
/// kind, never by message).
#[track_caller]
pub fn assert_err_kind<T: Debug>(result: StoreResult<T>, kind: StoreErrorKind, what: &str) {
    match result {
        Ok(v) => panic!("{what}: expected a {kind:?} error, got Ok({v:?})"),
        Err(e) => assert_eq!(e.kind(), kind, "{what}: wrong error kind: {e}"),
    }
}

/// Sorted copy, for results whose order the port leaves open.
pub fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    v.sort();
    v
}
