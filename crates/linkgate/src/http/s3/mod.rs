//! The S3 API, path style: `/{bucket}` and `/{bucket}/{key}`.
//!
//! [`handle`] parses the target, authenticates (presigned query, `Authorization`
//! header, or a POST form), routes to one `handle_*` function per operation, and
//! renders errors as S3 XML — with CORS headers on errors too, because a browser
//! hides the real error behind a CORS failure otherwise.

mod auth;
mod body;
mod bucket;
mod chunked_body;
mod cors;
mod list;
mod multipart;
mod object;
mod post;

/// What broker-link redemption reuses from the object operations.
pub(crate) mod object_support {
    pub(crate) use super::object::{commit_plain, object_response};
}

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use sigv4::AmzDate;

use super::AppState;
use crate::ids;
use crate::s3::error::S3Error;
use crate::s3::query::Query;

/// What the path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `/`: the service (ListBuckets).
    Service,
    /// `/{bucket}` or `/{bucket}/`.
    Bucket(String),
    /// `/{bucket}/{key}`.
    Object(String, String),
}

/// Longest key S3 accepts, in UTF-8 bytes.
pub(crate) const MAX_KEY_LEN: usize = 1024;

impl Target {
    /// Splits and decodes a raw request path. The key keeps every byte the client
    /// meant (`//`, `..`, `%2F`, spaces): it is data, never a file path.
    pub(crate) fn parse(path: &str) -> Result<Self, S3Error> {
        let rest = path.strip_prefix('/').ok_or_else(invalid_uri)?;
        if rest.is_empty() {
            return Ok(Self::Service);
        }
        let (bucket_raw, key_raw) = match rest.split_once('/') {
            Some((b, k)) => (b, Some(k)),
            None => (rest, None),
        };
        let bucket = decode_utf8(bucket_raw)?;
        match key_raw {
            None | Some("") => Ok(Self::Bucket(bucket)),
            Some(k) => {
                let key = decode_utf8(k)?;
                if key.len() > MAX_KEY_LEN {
                    return Err(S3Error::new("KeyTooLongError", 400, "Your key is too long").with("MaxSizeAllowed", "1024"));
                }
                if key.contains('\0') {
                    return Err(invalid_uri());
                }
                Ok(Self::Object(bucket, key))
            }
        }
    }

    fn bucket(&self) -> Option<&str> {
        match self {
            Self::Service => None,
            Self::Bucket(b) | Self::Object(b, _) => Some(b),
        }
    }
}

fn invalid_uri() -> S3Error {
    S3Error::new("InvalidURI", 400, "Couldn't parse the specified URI.")
}

fn decode_utf8(raw: &str) -> Result<String, S3Error> {
    String::from_utf8(sigv4::encode::decode(raw).into_owned()).map_err(|_| invalid_uri())
}

/// One authenticated request, as the operation handlers see it.
pub(crate) struct Ctx<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) parts: &'a Parts,
    pub(crate) query: Query,
    pub(crate) now: AmzDate,
    pub(crate) auth: Option<auth::Authenticated>,
}

impl Ctx<'_> {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Result type of operation handlers.
pub(crate) type S3Result = Result<Response, S3Error>;

/// The S3 entry point (the router's fallback).
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let request_id = ids::request_id();
    let (parts, body) = req.into_parts();
    if crate::http::query::is_query_request(&parts) {
        let mut r = crate::http::query::handle(&state, &parts, body, &request_id).await;
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            r.headers_mut().insert("x-amzn-requestid", v);
        }
        return r;
    }
    let result = dispatch(&state, &parts, body).await;
    let mut response = match result {
        Ok(r) => r,
        Err(e) => error_response(&e, &parts, &request_id),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amz-request-id", v.clone());
        response.headers_mut().insert("x-amz-id-2", v);
    }
    if parts.method != Method::OPTIONS
        && parts.headers.contains_key(header::ORIGIN)
        && let Ok(Target::Bucket(b) | Target::Object(b, _)) = Target::parse(parts.uri.path())
    {
        cors::decorate(&state, &b, &parts, &mut response);
    }
    if state.config.log.access_log {
        tracing::info!(
            target: "access",
            method = %parts.method,
            path = %parts.uri.path(),
            status = response.status().as_u16(),
            request_id = %request_id,
        );
    }
    response
}

async fn dispatch(state: &AppState, parts: &Parts, body: Body) -> S3Result {
    let target = Target::parse(parts.uri.path())?;
    let now = AmzDate::now();
    if parts.method == Method::OPTIONS {
        return cors::preflight(state, &target, parts);
    }
    let query = Query::parse(parts.uri.query().unwrap_or(""));
    let is_form_post = parts.method == Method::POST
        && matches!(target, Target::Bucket(_))
        && parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let mut ctx = Ctx { state, parts, query, now, auth: None };
    if is_form_post {
        let Target::Bucket(bucket) = &target else { return Err(S3Error::not_implemented()) };
        return post::handle_post_object(&ctx, bucket, body).await;
    }
    ctx.auth = Some(auth::authenticate(&ctx)?);
    if let Some(b) = target.bucket() {
        bucket::validate_name(b)?;
    }
    // DeleteObjects is authorized per key inside its handler.
    if let Some((action, resource)) = auth::required_permission(&ctx, &target)
        && !(parts.method == Method::POST && ctx.query.has("delete"))
    {
        auth::authorize(&ctx, action, &resource)?;
    }
    route(&ctx, &target, body).await
}

async fn route(ctx: &Ctx<'_>, target: &Target, body: Body) -> S3Result {
    let q = &ctx.query;
    let m = &ctx.parts.method;
    match target {
        Target::Service if *m == Method::GET => bucket::list_buckets(ctx),
        Target::Service => Err(method_not_allowed()),
        Target::Bucket(b) => {
            bucket::validate_name(b)?;
            match *m {
                Method::PUT if q.has("cors") => cors::put_bucket_cors(ctx, b, body).await,
                Method::PUT if q.is_empty() => bucket::create_bucket(ctx, b, body).await,
                Method::DELETE if q.has("cors") => cors::delete_bucket_cors(ctx, b),
                Method::DELETE if q.is_empty() => bucket::delete_bucket(ctx, b),
                Method::HEAD => bucket::head_bucket(ctx, b),
                Method::GET if q.has("cors") => cors::get_bucket_cors(ctx, b),
                Method::GET if q.has("location") => bucket::get_location(ctx, b),
                Method::GET if q.has("versions") => list::list_object_versions(ctx, b),
                Method::GET if q.has("uploads") => multipart::list_uploads(ctx, b),
                Method::GET if q.get("list-type") == Some("2") => list::list_objects_v2(ctx, b),
                Method::GET if unsupported_subresource(q).is_none() => list::list_objects_v1(ctx, b),
                Method::POST if q.has("delete") => bucket::delete_objects(ctx, b, body).await,
                _ => Err(unsupported(q)),
            }
        }
        Target::Object(b, k) => match *m {
            Method::PUT if q.has("uploadId") || q.has("partNumber") => multipart::upload_part(ctx, b, k, body).await,
            Method::PUT if ctx.header("x-amz-copy-source").is_some() => Err(S3Error::not_implemented()),
            Method::PUT if unsupported_subresource(q).is_none() => object::put_object(ctx, b, k, body).await,
            Method::GET if q.has("uploadId") => multipart::list_parts(ctx, b, k),
            Method::GET if unsupported_subresource(q).is_none() => object::get_object(ctx, b, k, false).await,
            Method::HEAD => object::get_object(ctx, b, k, true).await,
            Method::DELETE if q.has("uploadId") => multipart::abort(ctx, b, k),
            Method::DELETE if unsupported_subresource(q).is_none() => object::delete_object(ctx, b, k),
            Method::POST if q.has("uploads") => multipart::create(ctx, b, k),
            Method::POST if q.has("uploadId") => multipart::complete(ctx, b, k, body).await,
            _ => Err(unsupported(q)),
        },
    }
}

/// Sub-resources (`?acl`, `?tagging`…) we do not implement: answering them as the
/// plain operation would silently do the wrong thing.
fn unsupported_subresource(q: &Query) -> Option<&str> {
    const KNOWN: [&str; 14] = [
        "acl",
        "tagging",
        "policy",
        "lifecycle",
        "versioning",
        "website",
        "logging",
        "notification",
        "replication",
        "encryption",
        "object-lock",
        "retention",
        "legal-hold",
        "torrent",
    ];
    q.iter().map(|(k, _)| k).find(|k| KNOWN.contains(k))
}

fn unsupported(q: &Query) -> S3Error {
    match unsupported_subresource(q) {
        Some(sub) => S3Error::new("NotImplemented", 501, format!("linkgate does not implement the ?{sub} sub-resource")),
        None => method_not_allowed(),
    }
}

fn method_not_allowed() -> S3Error {
    S3Error::new("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
}

/// Renders an S3 error; HEAD responses carry no body, as S3 sends them.
pub(crate) fn error_response(e: &S3Error, parts: &Parts, request_id: &str) -> Response {
    if e.status >= 500 {
        tracing::warn!(code = e.code, message = %e.message, request_id, "server error");
    }
    let body = if parts.method == Method::HEAD { Body::empty() } else { Body::from(e.to_xml(parts.uri.path(), request_id)) };
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/xml");
    for (name, value) in &e.headers {
        builder = builder.header(*name, value);
    }
    builder.body(body).unwrap_or_else(|_| Response::new(Body::empty()))
}

/// An XML 200 response.
pub(crate) fn xml_response(xml: String) -> Response {
    let mut r = Response::new(Body::from(xml));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    r
}

/// An empty response with `status`.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// Maps a store failure to 503 (fail closed) and logs it.
pub(crate) fn store_err(e: crate::store::StoreError) -> S3Error {
    tracing::error!(error = %e, "metadata store failed");
    S3Error::unavailable()
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// S3's timestamp format in XML: `2009-10-12T17:50:30.000Z`.
pub(crate) fn iso8601_ms(ms: i64) -> String {
    let t = AmzDate::from_unix(ms.div_euclid(1000));
    let s = t.rfc3339();
    format!("{}.{:03}Z", &s[..s.len() - 1], ms.rem_euclid(1000))
}

/// HTTP-date for `Last-Modified`.
pub(crate) fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_every_key_byte() {
        assert_eq!(Target::parse("/").unwrap(), Target::Service);
        assert_eq!(Target::parse("/b").unwrap(), Target::Bucket("b".into()));
        assert_eq!(Target::parse("/b/").unwrap(), Target::Bucket("b".into()));
        assert_eq!(Target::parse("/b//a/../c").unwrap(), Target::Object("b".into(), "/a/../c".into()));
        assert_eq!(Target::parse("/b/a%20b%2Bc%25").unwrap(), Target::Object("b".into(), "a b+c%".into()));
        assert_eq!(Target::parse("/b/%2e%2e/x").unwrap(), Target::Object("b".into(), "../x".into()));
        assert_eq!(Target::parse("/b/a%00").unwrap_err().code, "InvalidURI");
        assert_eq!(Target::parse("/b/%ff").unwrap_err().code, "InvalidURI");
        assert_eq!(Target::parse(&format!("/b/{}", "k".repeat(1025))).unwrap_err().code, "KeyTooLongError");
    }

    #[test]
    fn xml_timestamps() {
        assert_eq!(iso8601_ms(1_440_938_160_123), "2015-08-30T12:36:00.123Z");
    }
}
