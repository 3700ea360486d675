//! Request and response bodies as the connection layer wraps them.
//!
//! [`TimedBody`]: the request body with the body-progress timer. The timer runs
//! only while a handler is waiting for the next chunk, so a handler that is busy
//! elsewhere (or never reads the body) is not timed; a client that stops sending
//! while a handler waits gets [`BodyTimeout`] instead of holding the connection
//! and the handler forever.
//!
//! [`GuardedBody`]: the response body carrying the [`RequestGuard`], so the
//! request counts as in flight until hyper has taken the last response byte.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::registry::ConnState;

type BoxError = Box<dyn StdError + Send + Sync>;

/// The error a request body yields when the client sent nothing for
/// `limits.body_timeout_secs` while a handler was waiting for it. Recognise it
/// with [`is_body_timeout`] and answer S3's `RequestTimeout`
/// ([`crate::s3::error::S3Error::request_timeout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyTimeout;

impl fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request body timed out: the client sent nothing within the body timeout")
    }
}

impl StdError for BodyTimeout {}

/// Whether `err` (an `axum::Error` from a body or its data stream, an
/// `io::Error` wrapping one, or anything whose source chain holds one) is a
/// [`BodyTimeout`].
pub fn is_body_timeout(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<BodyTimeout>() {
            return true;
        }
        // io::Error::source() skips the error it wraps; look at it directly.
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref())
            && is_body_timeout(inner)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// A request body whose every next frame must arrive within a timeout while it is
/// being waited for.
#[derive(Debug)]
pub(super) struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    /// Allocated the first time the body has to wait.
    timer: Option<Pin<Box<Sleep>>>,
    /// Deadline of the current wait; `None` when the last poll produced a frame.
    deadline: Option<Instant>,
}

impl<B> TimedBody<B> {
    pub(super) fn new(inner: B, timeout: Duration) -> Self {
        Self { inner, timeout, timer: None, deadline: None }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.deadline = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let deadline = *this.deadline.get_or_insert_with(|| Instant::now() + timeout);
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Counts a request as in flight from the moment hyper hands it over until its
/// response body is dropped (written out, or abandoned).
#[derive(Debug)]
pub(super) struct RequestGuard(Arc<ConnState>);

impl RequestGuard {
    pub(super) fn new(conn: Arc<ConnState>) -> Self {
        conn.request_started();
        Self(conn)
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A response body that holds the request's [`RequestGuard`].
#[derive(Debug)]
pub(super) struct GuardedBody {
    inner: axum::body::Body,
    _guard: RequestGuard,
}

impl GuardedBody {
    pub(super) fn new(inner: axum::body::Body, guard: RequestGuard) -> Self {
        Self { inner, _guard: guard }
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
