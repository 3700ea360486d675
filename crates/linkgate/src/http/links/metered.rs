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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::BodyExt as _;

    use super::*;
    use crate::store::links::{AuditId, AuditRecord, AuditSettle, LinkStore};
    use crate::store::sqlite::Sqlite;
    use crate::store::write_behind::BufferedLinks;

    fn auditor() -> (Auditor, Arc<BufferedLinks>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(BufferedLinks::new(Arc::new(Sqlite::open(&dir.path().join("t.db")).unwrap())));
        let template = AuditRecord {
            link_id: "lnk".into(),
            at_ms: 1,
            client_ip: "192.0.2.1".into(),
            user_agent: None,
            method: "GET".into(),
            status: 0,
            outcome: String::new(),
            bytes: 0,
        };
        (Auditor::new(store.clone(), template), store, dir)
    }

    fn report(a: &Auditor, status: u16, outcome: &'static str) -> Report {
        Report { auditor: a.clone(), slot: AuditSlot::Pending, status, outcome }
    }

    async fn rows(store: &BufferedLinks) -> Vec<(u16, String, u64)> {
        store.audit("lnk", 10).await.unwrap().into_iter().map(|r| (r.status, r.outcome, r.bytes)).collect()
    }

    #[tokio::test]
    async fn a_finished_body_reports_its_bytes_once_and_keeps_its_length() {
        let (a, store, _dir) = auditor();
        let body = metered_body(Body::from(vec![7u8; 1000]), report(&a, 200, "granted"), None);
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(1000), "Content-Length survives");
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 1000);
        assert_eq!(rows(&store).await, [(200, "granted".to_owned(), 1000)]);
    }

    #[tokio::test]
    async fn an_abandoned_body_is_incomplete_with_what_was_sent() {
        let (a, store, _dir) = auditor();
        let chunks = futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 10]))));
        let mut body = metered_body(Body::from_stream(chunks), report(&a, 206, "granted"), Some(40));
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first.len(), 10);
        drop(body);
        assert_eq!(rows(&store).await, [(206, "incomplete".to_owned(), 10)]);
    }

    #[tokio::test]
    async fn a_declared_length_sent_in_full_is_complete_even_if_the_stream_is_not_polled_to_its_end() {
        let (a, store, _dir) = auditor();
        let chunks = futures_util::stream::iter((0..2).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"abcd"))));
        let mut body = metered_body(Body::from_stream(chunks), report(&a, 200, "granted"), Some(8));
        for _ in 0..2 {
            body.frame().await.unwrap().unwrap();
        }
        drop(body);
        assert_eq!(rows(&store).await, [(200, "granted".to_owned(), 8)]);
    }

    #[tokio::test]
    async fn an_empty_body_is_complete_without_being_polled() {
        let (a, store, _dir) = auditor();
        drop(metered_body(Body::empty(), report(&a, 200, "granted"), None));
        let empty = futures_util::stream::empty::<Result<Bytes, std::io::Error>>();
        drop(metered_body(Body::from_stream(empty), report(&a, 204, "forwarded"), Some(0)));
        assert_eq!(rows(&store).await, [(200, "granted".to_owned(), 0), (204, "forwarded".to_owned(), 0)]);
    }

    #[tokio::test]
    async fn a_written_row_is_settled_only_when_the_answer_differs() {
        let (a, store, _dir) = auditor();
        let written = a.row(200, "granted", 4);
        // The row as consume writes it: durably, before the body is sent (the
        // table's first row, so its id is 1).
        store.append_audit(std::slice::from_ref(&written)).await.unwrap();
        store.flush().await.unwrap();
        let slot = AuditSlot::Written(AuditSettle {
            id: AuditId(1),
            status: written.status,
            outcome: written.outcome.clone(),
            bytes: written.bytes,
        });
        let whole =
            metered_body(Body::from("abcd"), Report { auditor: a.clone(), slot: slot.clone(), status: 200, outcome: "granted" }, Some(4));
        assert_eq!(whole.collect().await.unwrap().to_bytes().len(), 4);
        assert_eq!(rows(&store).await, [(200, "granted".to_owned(), 4)], "complete as written: nothing to settle");
        let mut cut = metered_body(
            Body::from_stream(futures_util::stream::iter([
                Ok::<_, std::io::Error>(Bytes::from_static(b"ab")),
                Ok(Bytes::from_static(b"cd")),
            ])),
            Report { auditor: a, slot, status: 200, outcome: "granted" },
            Some(4),
        );
        cut.frame().await.unwrap().unwrap();
        drop(cut);
        assert_eq!(rows(&store).await, [(200, "incomplete".to_owned(), 2)], "settled with what was sent");
    }

    #[tokio::test]
    async fn a_stream_read_to_its_end_is_complete_and_a_failing_one_is_not() {
        let (a, store, _dir) = auditor();
        let chunks = futures_util::stream::iter((0..3).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"abcd"))));
        let got = metered_body(Body::from_stream(chunks), report(&a, 200, "forwarded"), None).collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 12);
        let failing = futures_util::stream::iter([Ok(Bytes::from_static(b"abcd")), Err(std::io::Error::other("upstream reset"))]);
        assert!(metered_body(Body::from_stream(failing), report(&a, 200, "forwarded"), None).collect().await.is_err());
        assert_eq!(rows(&store).await, [(200, "forwarded".to_owned(), 12), (200, "incomplete".to_owned(), 4)]);
    }
}
