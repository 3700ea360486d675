//! Metering a granted body: its audit row records the bytes actually handed to
//! the connection — `granted` (or `forwarded`) when all went out, `incomplete`
//! with the real count when the client went away or the source failed.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};

use crate::services::links::audit::{AuditSlot, Auditor};

/// `response`, its body audited when it is finished or dropped.
pub(super) fn metered(response: Response, auditor: Auditor, slot: AuditSlot, outcome: &'static str) -> Response {
    let status = response.status().as_u16();
    let declared = response.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    response.map(|body| metered_body(body, Report { auditor, slot, status, outcome }, declared))
}

/// [`metered`] for a bare body whose length, if known, is `declared`.
fn metered_body(body: Body, report: Report, declared: Option<u64>) -> Body {
    let length = declared.or_else(|| http_body::Body::size_hint(&body).exact());
    // hyper never polls a body that is already at its end (an empty object, a 204).
    let finished = body.is_end_stream() || length == Some(0);
    Body::new(MeteredBody { inner: body, sent: 0, length, finished, report: Some(report) })
}

struct Report {
    auditor: Auditor,
    slot: AuditSlot,
    status: u16,
    outcome: &'static str,
}

/// Counts the data frames passing through; reports once: when the last byte has
/// been handed over, or when dropped before that.
struct MeteredBody {
    inner: Body,
    sent: u64,
    /// The body's exact length, when known: hyper stops polling once that many
    /// bytes went out, without waiting for the end of the stream.
    length: Option<u64>,
    /// Every byte went out: the inner body ended, or `length` bytes were sent.
    finished: bool,
    report: Option<Report>,
}

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                this.sent += frame.data_ref().map_or(0, |d| d.len() as u64);
                this.finished = this.inner.is_end_stream() || this.length.is_some_and(|n| this.sent >= n);
            }
            Poll::Ready(None) => this.finished = true,
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        if this.finished {
            // Report now, before hyper writes the last bytes: the row exists by the
            // time the client has the whole answer.
            this.report_once();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl MeteredBody {
    fn report_once(&mut self) {
        if let Some(r) = self.report.take() {
            let outcome = if self.finished { r.outcome } else { "incomplete" };
            r.auditor.finish(&r.slot, r.status, outcome, self.sent);
        }
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        self.report_once();
    }
}
