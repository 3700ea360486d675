//! The per-connection service hyper calls for each request: counts the request
//! in flight, enforces S3's head-size limit, adds the connection's extensions and
//! the body timer, then hands the request to the application.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::service::TowerToHyperService;

use super::ConnectionInfo;
use super::body::{GuardedBody, RequestGuard, TimedBody};
use super::registry::ConnState;
use crate::s3::error::S3Error;

/// The response future hyper polls.
type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<GuardedBody>, Infallible>> + Send>>;

/// The application as seen from one connection.
#[derive(Clone, Debug)]
pub(super) struct ConnService {
    app: TowerToHyperService<axum::Router>,
    conn: Arc<ConnState>,
    info: ConnectionInfo,
    max_header_bytes: usize,
    body_timeout: Duration,
}

impl ConnService {
    pub(super) fn new(
        app: TowerToHyperService<axum::Router>,
        conn: Arc<ConnState>,
        info: ConnectionInfo,
        max_header_bytes: usize,
        body_timeout: Duration,
    ) -> Self {
        Self { app, conn, info, max_header_bytes, body_timeout }
    }
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<GuardedBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, req: Request<Incoming>) -> ResponseFuture {
        let guard = RequestGuard::new(self.conn.clone());
        let (mut parts, body) = req.into_parts();
        let close_after = expects_continue_without_body(&parts, &body);
        let size = head_size(&parts);
        if size > self.max_header_bytes {
            tracing::debug!(peer = %self.info.peer, size, "request head too large");
            let response = head_too_large(&parts, self.max_header_bytes).map(|b| GuardedBody::new(b, guard));
            return Box::pin(std::future::ready(Ok(response)));
        }
        parts.extensions.insert(ConnectInfo::<SocketAddr>(self.info.peer));
        parts.extensions.insert(self.info);
        let req = Request::from_parts(parts, Body::new(TimedBody::new(body, self.body_timeout)));
        let response = hyper::service::Service::call(&self.app, req);
        Box::pin(async move {
            let mut response = response.await?;
            if close_after {
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response.map(|b| GuardedBody::new(b, guard)))
        })
    }
}

/// Whether the request asked for `100 Continue` but has no body, so hyper will
/// answer with the final response alone (RFC 9110 §10.1.1 allows it).
///
/// botocore mishandles that early answer: it remembers the status line and
/// reuses it for the *next* response on the same connection, then reads that
/// response's body until the connection closes (every 0-byte `aws s3 cp`
/// followed by another upload stalled for the idle timeout). Closing the
/// connection after such a response resets botocore's state; real S3 avoids the
/// bug by always sending `100 Continue`, which hyper cannot be told to do.
fn expects_continue_without_body(parts: &axum::http::request::Parts, body: &Incoming) -> bool {
    use hyper::body::Body as _;
    let expects = parts.headers.get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    expects && body.is_end_stream()
}

/// The request head's size as S3 counts it: the request line and every header
/// name and value, plus 4 bytes each for `": "` and CRLF.
pub(super) fn head_size(parts: &axum::http::request::Parts) -> usize {
    let uri = &parts.uri;
    let target = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    // METHOD SP target SP HTTP/1.1 CRLF
    let request_line = parts.method.as_str().len() + 1 + target + 1 + 8 + 2;
    request_line + parts.headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum::<usize>()
}

/// S3's 400 `RequestHeaderSectionTooLarge`. The connection is closed after it:
/// the client may be sending a body we will not read.
fn head_too_large(parts: &axum::http::request::Parts, max: usize) -> Response<Body> {
    let request_id = crate::ids::request_id();
    let err = S3Error::new("RequestHeaderSectionTooLarge", 400, "Your request header section exceeds the maximum allowed size.")
        .with("MaxSizeAllowed", max.to_string());
    let body = if parts.method == Method::HEAD { Body::empty() } else { Body::from(err.to_xml(parts.uri.path(), &request_id)) };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::BAD_REQUEST;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(crate::s3::error::X_AMZ_REQUEST_ID, v.clone());
        headers.insert(crate::s3::error::X_AMZ_ID_2, v);
    }
    response
}
