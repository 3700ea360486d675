//! Link audit rows, including the bytes a response really sent.
//!
//! A granted download (or forwarded upstream answer) is audited when its body is
//! finished *or abandoned*, with the bytes that went out: a transfer cut short reads
//! `incomplete` with its real count, not the `Content-Length` that was promised.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};

use crate::store::links::{AuditRecord, LinkStore};

/// Writes audit rows for one redemption: everything but the status, outcome and
/// bytes is fixed when the request arrives.
#[derive(Clone)]
pub(super) struct Auditor {
    links: Arc<dyn LinkStore>,
    template: AuditRecord,
}

impl Auditor {
    /// An auditor for attempts described by `template` (its status, outcome and
    /// bytes are replaced by each [`Auditor::record`]).
    pub(super) fn new(links: Arc<dyn LinkStore>, template: AuditRecord) -> Self {
        Self { links, template }
    }

    /// Appends one row. A failure is logged, never shown to the client: the answer
    /// was already decided.
    pub(super) fn record(&self, status: u16, outcome: &str, bytes: u64) {
        let rec = AuditRecord { status, outcome: outcome.to_owned(), bytes, ..self.template.clone() };
        if let Err(e) = self.links.append_audit(&rec) {
            tracing::error!(error = %e, "cannot write link audit");
        }
    }

    /// `response`, its body audited when it is dropped: `outcome` with the bytes sent if it
    /// reached its end, else `incomplete` (the client went away, or the source
    /// failed) with the bytes sent until then.
    pub(super) fn metered(self, response: Response, outcome: &'static str) -> Response {
        let status = response.status().as_u16();
        let declared = response.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        response.map(|body| self.metered_body(body, status, declared, outcome))
    }

    /// [`Auditor::metered`] for a bare body whose length, if known, is `declared`.
    fn metered_body(self, body: Body, status: u16, declared: Option<u64>, outcome: &'static str) -> Body {
        let length = declared.or_else(|| http_body::Body::size_hint(&body).exact());
        // hyper never polls a body that is already at its end (an empty object, a 204).
        let finished = body.is_end_stream() || length == Some(0);
        Body::new(MeteredBody { inner: body, sent: 0, length, finished, report: Some(Report { auditor: self, status, outcome }) })
    }
}

/// Audits `abandoned` (status 499, as nginx names a client that went away) if
/// dropped before [`AbandonGuard::disarm`]: a request whose client left while its
/// use was being committed still leaves a row for that use.
pub(super) struct AbandonGuard<'a>(Option<&'a Auditor>);

impl<'a> AbandonGuard<'a> {
    /// Armed: dropping it audits the abandonment.
    pub(super) fn new(auditor: &'a Auditor) -> Self {
        Self(Some(auditor))
    }

    /// The request went on to be answered (and audited) normally.
    pub(super) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbandonGuard<'_> {
    fn drop(&mut self) {
        if let Some(a) = self.0.take() {
            a.record(499, "abandoned", 0);
        }
    }
}

struct Report {
    auditor: Auditor,
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
            r.auditor.record(r.status, outcome, self.sent);
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
    use super::*;
    use crate::store::links::AuditRecord;
    use http_body_util::BodyExt as _;

    fn auditor() -> (Auditor, Arc<crate::store::sqlite::SqliteStore>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(crate::store::sqlite::SqliteStore::open(&dir.path().join("t.db")).unwrap());
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

    fn rows(store: &crate::store::sqlite::SqliteStore) -> Vec<(u16, String, u64)> {
        store.audit("lnk", 10).unwrap().into_iter().map(|r| (r.status, r.outcome, r.bytes)).collect()
    }

    #[tokio::test]
    async fn a_finished_body_reports_its_bytes_once_and_keeps_its_length() {
        let (a, store, _dir) = auditor();
        let body = a.metered_body(Body::from(vec![7u8; 1000]), 200, None, "granted");
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(1000), "Content-Length survives");
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 1000);
        assert_eq!(rows(&store), [(200, "granted".to_owned(), 1000)]);
    }

    #[tokio::test]
    async fn an_abandoned_body_is_incomplete_with_what_was_sent() {
        let (a, store, _dir) = auditor();
        let chunks = futures_util::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 10]))));
        let mut body = a.metered_body(Body::from_stream(chunks), 206, Some(40), "granted");
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first.len(), 10);
        drop(body);
        assert_eq!(rows(&store), [(206, "incomplete".to_owned(), 10)]);
    }

    #[tokio::test]
    async fn a_declared_length_sent_in_full_is_complete_even_if_the_stream_is_not_polled_to_its_end() {
        let (a, store, _dir) = auditor();
        let chunks = futures_util::stream::iter((0..2).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"abcd"))));
        let mut body = a.metered_body(Body::from_stream(chunks), 200, Some(8), "granted");
        for _ in 0..2 {
            body.frame().await.unwrap().unwrap();
        }
        drop(body);
        assert_eq!(rows(&store), [(200, "granted".to_owned(), 8)]);
    }

    #[tokio::test]
    async fn an_empty_body_is_complete_without_being_polled() {
        let (a, store, _dir) = auditor();
        drop(a.clone().metered_body(Body::empty(), 200, None, "granted"));
        drop(a.metered_body(Body::from_stream(futures_util::stream::empty::<Result<Bytes, std::io::Error>>()), 204, Some(0), "forwarded"));
        assert_eq!(rows(&store), [(200, "granted".to_owned(), 0), (204, "forwarded".to_owned(), 0)]);
    }

    #[test]
    fn an_abandon_guard_audits_unless_disarmed() {
        let (a, store, _dir) = auditor();
        AbandonGuard::new(&a).disarm();
        drop(AbandonGuard::new(&a));
        assert_eq!(rows(&store), [(499, "abandoned".to_owned(), 0)]);
    }

    #[tokio::test]
    async fn a_stream_read_to_its_end_is_complete_and_a_failing_one_is_not() {
        let (a, store, _dir) = auditor();
        let chunks = futures_util::stream::iter((0..3).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"abcd"))));
        let got = a.clone().metered_body(Body::from_stream(chunks), 200, None, "forwarded").collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 12);
        let failing = futures_util::stream::iter([Ok(Bytes::from_static(b"abcd")), Err(std::io::Error::other("upstream reset"))]);
        assert!(a.metered_body(Body::from_stream(failing), 200, None, "forwarded").collect().await.is_err());
        assert_eq!(rows(&store), [(200, "forwarded".to_owned(), 12), (200, "incomplete".to_owned(), 4)]);
    }
}
