//! What a storage port can fail with: typed, so callers decide by kind and never
//! by message.
//!
//! | kind | meaning | what callers do |
//! |---|---|---|
//! | [`StoreErrorKind::Unavailable`] | the backend cannot answer now (I/O error, full disk, busy, gone) | fail closed: 503 with `Retry-After` |
//! | [`StoreErrorKind::Conflict`] | a uniqueness or consistency rule refused the write | the operation lost a race: 409 or retry |
//! | [`StoreErrorKind::Corrupt`] | stored data does not read back as what was written | 500, logged loudly |

use std::error::Error;
use std::fmt;

/// The kind of a storage failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The backend cannot answer now; trying again later may work.
    Unavailable,
    /// A constraint refused the write (a duplicate id, a concurrent change).
    Conflict,
    /// Stored data is damaged or not what this version expects.
    Corrupt,
}

/// A storage failure: its kind, what was being done, and the underlying cause.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    context: String,
    source: Option<Box<dyn Error + Send + Sync>>,
}

impl StoreError {
    /// A failure of `kind` while doing `context`, caused by `source`.
    pub fn new(kind: StoreErrorKind, context: impl Into<String>, source: Option<Box<dyn Error + Send + Sync>>) -> Self {
        Self { kind, context: context.into(), source }
    }

    /// [`StoreErrorKind::Unavailable`].
    pub fn unavailable(context: impl Into<String>, source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::new(StoreErrorKind::Unavailable, context, Some(source.into()))
    }

    /// [`StoreErrorKind::Conflict`].
    pub fn conflict(context: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Conflict, context, None)
    }

    /// [`StoreErrorKind::Corrupt`].
    pub fn corrupt(context: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Corrupt, context, None)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Whether the backend is unavailable (retry later).
    pub fn is_unavailable(&self) -> bool {
        self.kind == StoreErrorKind::Unavailable
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Conflict => "conflict",
            StoreErrorKind::Corrupt => "corrupt data",
        };
        write!(f, "store {kind}: {}", self.context)?;
        if let Some(s) = &self.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn Error + 'static))
    }
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// I/O errors by kind: a full disk or a dead device is [`StoreErrorKind::Unavailable`]
/// (it may pass); data that does not parse is [`StoreErrorKind::Corrupt`].
impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::InvalidData => StoreErrorKind::Corrupt,
            _ => StoreErrorKind::Unavailable,
        };
        Self::new(kind, "I/O", Some(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        let e = StoreError::from(std::io::Error::new(std::io::ErrorKind::StorageFull, "no space"));
        assert!(e.is_unavailable());
        assert_eq!(e.to_string(), "store unavailable: I/O: no space");
        assert!(e.source().is_some());
        assert_eq!(StoreError::conflict("duplicate link id").kind(), StoreErrorKind::Conflict);
        assert_eq!(StoreError::corrupt("bad row").to_string(), "store corrupt data: bad row");
    }
}
