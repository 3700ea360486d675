//! Request bodies at the edge: bounded reads, the shared budget for bodies that
//! must be read before their signature can be checked, and the conversion of a
//! body into the byte stream the services consume.
//!
//! Every read here is bounded in size while it streams (nothing is buffered past
//! the limit) and in time by the connection layer's body-progress timeout.

use std::sync::Arc;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::s3::error::S3Error;
use crate::store::blobs::{BoxError, ByteStream};

/// Why a body could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFailure {
    /// Longer than allowed.
    TooLarge,
    /// The client stopped sending (the body-progress timeout).
    TimedOut,
    /// The connection broke or the framing was invalid.
    Broken,
}

/// What a failed body stream means.
pub(crate) fn classify(e: &axum::Error) -> BodyFailure {
    if super::server::is_body_timeout(e) { BodyFailure::TimedOut } else { BodyFailure::Broken }
}

/// Reads a whole body of at most `max` bytes, refusing as soon as it grows past it.
pub(crate) async fn read_to_bytes(body: Body, max: usize) -> Result<Bytes, BodyFailure> {
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| classify(&e))?;
        if buf.len() + chunk.len() > max {
            return Err(BodyFailure::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The request body with its failures as S3 errors: `RequestTimeout` when the
/// client stopped sending, `IncompleteBody` otherwise.
pub(crate) fn s3_stream(body: Body) -> BoxStream<'static, Result<Bytes, S3Error>> {
    body.into_data_stream()
        .map_err(|e| match classify(&e) {
            BodyFailure::TimedOut => S3Error::request_timeout(),
            _ => {
                tracing::debug!(error = %e, "request body failed");
                S3Error::incomplete_body()
            }
        })
        .boxed()
}

/// The request body as the services' byte stream (its errors are the S3 errors
/// of [`s3_stream`], boxed).
pub(crate) fn byte_stream(body: Body) -> ByteStream {
    s3_stream(body).map_err(|e| Box::new(e) as BoxError).boxed()
}

/// Memory all bodies read before their signature is checked may hold at once
/// (`limits.preauth_memory_bytes`). A request reserves its declared length (or the
/// surface's maximum, when it declares none) before reading a byte; when the
/// budget is spent it is refused at once (503 with `Retry-After`) instead of
/// queueing, so stalled senders cannot hold memory hostage.
#[derive(Clone, Debug)]
pub(crate) struct PreauthBudget(Arc<Semaphore>);

impl PreauthBudget {
    /// A budget of `bytes`.
    pub(crate) fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))))
    }

    /// Reserves `bytes` until the returned permit is dropped; `None` if the budget
    /// cannot cover them now.
    pub(crate) fn reserve(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(bytes.max(1)).ok()?;
        self.0.clone().try_acquire_many_owned(n).ok()
    }
}

/// The declared `Content-Length`, if any and valid.
pub(crate) fn declared_length(headers: &axum::http::HeaderMap) -> Option<usize> {
    headers.get(axum::http::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_are_bounded() {
        assert_eq!(read_to_bytes(Body::from("abc"), 3).await.unwrap(), Bytes::from_static(b"abc"));
        assert_eq!(read_to_bytes(Body::from("abcd"), 3).await.unwrap_err(), BodyFailure::TooLarge);
    }

    #[test]
    fn the_budget_refuses_instead_of_queueing() {
        let b = PreauthBudget::new(100);
        let first = b.reserve(60).unwrap();
        assert!(b.reserve(50).is_none());
        drop(first);
        assert!(b.reserve(100).is_some());
    }
}
