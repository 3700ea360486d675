//! Shared helpers for the vector tests: locating `../shared/vectors`.

use std::path::PathBuf;

/// The vectors directory: `$LINKGATE_VECTORS`, or `shared/vectors` beside the repo.
pub(crate) fn vectors_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("LINKGATE_VECTORS") {
        return PathBuf::from(dir);
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [repo.join("../shared/vectors"), repo.join("shared/vectors")];
    for c in &candidates {
        if c.is_dir() {
            return c.clone();
        }
    }
    panic!("test vectors not found; set LINKGATE_VECTORS (looked in {candidates:?})");
}
