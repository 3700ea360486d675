//! The S3 API, path style: `/{bucket}` and `/{bucket}/{key}`.
//!
//! One request's path: [`handle`] parses the request into one
//! [`S3Operation`](crate::s3::operation::S3Operation) (route, IAM action, metrics
//! name and "not implemented" all come from that one value), authenticates it
//! through the shared pipeline ([`auth`]), authorizes exactly what the operation
//! says, then [`dispatch`] calls one handler, which parses its inputs, calls one
//! service and renders the answer. Errors are rendered as S3 XML — with CORS
//! headers on errors too, because a browser hides the real error behind a CORS
//! failure otherwise.

mod acl;
mod auth;
mod body;
mod bucket;
mod chunked_body;
mod cors;
mod list;
mod multipart;
mod object;
mod post;
pub(crate) mod render;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use sigv4::Verified;

use super::AppState;
use crate::ids;
use crate::s3::error::S3Error;
use crate::s3::operation::{self, Authorization, RequestHeaders, S3Operation, Target};
use crate::s3::query::Query;
use crate::services::identities::{Caller, Identities};

/// One authenticated S3 request, as the operation handlers see it.
pub(crate) struct S3Call<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) parts: &'a Parts,
    pub(crate) query: &'a Query,
    /// Who signed it (and from where).
    pub(crate) caller: Caller,
    /// The SigV4 proof (absent for SigV2): payload mode, aws-chunked seed.
    pub(crate) v4: Option<Verified>,
}

impl S3Call<'_> {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the caller may do `action` on `resource`; S3's `AccessDenied` if not.
    pub(crate) fn authorize(&self, action: &str, resource: &str) -> Result<(), S3Error> {
        Identities::authorize(&self.caller.credential, action, resource, &self.caller.ctx).map_err(super::auth::denial_error)
    }
}

/// Result type of operation handlers.
pub(crate) type S3Result = Result<Response, S3Error>;

/// The S3 entry point (the router's fallback).
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let request_id = ids::request_id();
    let (parts, body) = req.into_parts();
    if super::query::is_query_request(&parts) {
        return super::query::handle(&state, parts, body, request_id).await;
    }
    let mut op_name = "Unknown";
    let result = serve(&state, &parts, body, request_id.clone(), &mut op_name).await;
    let mut response = result.unwrap_or_else(|e| error_response(&e, &parts, &request_id));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(crate::s3::error::X_AMZ_REQUEST_ID, v.clone());
        response.headers_mut().insert(crate::s3::error::X_AMZ_ID_2, v);
    }
    if parts.method != Method::OPTIONS
        && parts.headers.contains_key(header::ORIGIN)
        && let Ok(Target::Bucket(b) | Target::Object { bucket: b, .. }) = Target::parse(parts.uri.path())
    {
        cors::decorate(&state, &b, &parts, &mut response).await;
    }
    if state.config.log.access_log {
        tracing::info!(target: "access", method = %parts.method, path = %parts.uri.path(), operation = op_name, status = response.status().as_u16(), request_id = %request_id);
    }
    response
}

/// `x-amz-copy-source`, which turns a PUT into a copy.
const X_AMZ_COPY_SOURCE: axum::http::HeaderName = axum::http::HeaderName::from_static("x-amz-copy-source");

async fn serve(state: &AppState, parts: &Parts, body: Body, request_id: String, op_name: &mut &'static str) -> S3Result {
    let query = Query::parse(parts.uri.query().unwrap_or(""));
    let headers = RequestHeaders {
        copy_source: parts.headers.contains_key(&X_AMZ_COPY_SOURCE),
        content_type: parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
    };
    let req = operation::parse(parts.method.as_str(), parts.uri.path(), &query, &headers)?;
    *op_name = req.op.name();
    let ctx = state.pipeline.context(parts, request_id);
    let authorization = req.op.authorization(&req.target);
    match &authorization {
        Authorization::Anonymous => return cors::preflight(state, &req.target, parts).await,
        Authorization::Form => {
            let Target::Bucket(bucket) = &req.target else { return Err(S3Error::not_implemented()) };
            return post::handle_post_object(state, parts, bucket, body, ctx).await;
        }
        Authorization::Action { .. } | Authorization::PerKey { .. } | Authorization::Authenticated => {}
    }
    let (caller, v4) = auth::authenticate(state, parts, &query, ctx).await?;
    if let Target::Bucket(b) | Target::Object { bucket: b, .. } = &req.target {
        operation::validate_bucket_name(b)?;
    }
    let call = S3Call { state, parts, query: &query, caller, v4 };
    if let Some(refusal) = req.op.refusal() {
        return Err(refusal);
    }
    if let Authorization::Action { action, resource } = &authorization {
        call.authorize(action, resource)?;
    }
    let answer = dispatch(&call, req.op, &req.target, body).await;
    match (answer, &req.target) {
        (Err(e), Target::Object { bucket, .. })
            if e.code == "NoSuchKey" && matches!(req.op, S3Operation::GetObject | S3Operation::HeadObject) =>
        {
            Err(hide_missing_key(&call, bucket).unwrap_or(e))
        }
        (answer, _) => answer,
    }
}

/// S3 tells a caller that a key is missing only if it may list the bucket;
/// anyone else gets the `AccessDenied` an existing key they may not read would
/// get, so a narrowly scoped signer cannot probe which keys exist.
fn hide_missing_key(call: &S3Call<'_>, bucket: &str) -> Option<S3Error> {
    call.authorize("s3:ListBucket", &crate::auth::policy::s3_bucket_arn(bucket)).err()
}

/// One `match` from operation to handler. Authorization already happened (per key
/// for DeleteObjects, inside its handler).
async fn dispatch(call: &S3Call<'_>, op: S3Operation, target: &Target, body: Body) -> S3Result {
    let (bucket, key) = match target {
        Target::Service => ("", ""),
        Target::Bucket(b) => (b.as_str(), ""),
        Target::Object { bucket, key } => (bucket.as_str(), key.as_str()),
    };
    match op {
        S3Operation::ListBuckets => bucket::list_buckets(call).await,
        S3Operation::CreateBucket => bucket::create_bucket(call, bucket, body).await,
        S3Operation::DeleteBucket => bucket::delete_bucket(call, bucket).await,
        S3Operation::HeadBucket => bucket::head_bucket(call, bucket).await,
        S3Operation::GetBucketLocation => bucket::get_location(call, bucket).await,
        S3Operation::ListObjects => list::list_objects_v1(call, bucket).await,
        S3Operation::ListObjectsV2 => list::list_objects_v2(call, bucket).await,
        S3Operation::ListObjectVersions => list::list_object_versions(call, bucket).await,
        S3Operation::GetBucketAcl => call.state.objects.bucket(bucket).await.and_then(|_| acl::get_acl(call)),
        S3Operation::PutBucketAcl => {
            call.state.objects.bucket(bucket).await?;
            acl::put_acl(call, body).await
        }
        S3Operation::GetObjectAcl => call.state.objects.head(bucket, key).await.and_then(|_| acl::get_acl(call)),
        S3Operation::PutObjectAcl => {
            call.state.objects.head(bucket, key).await?;
            acl::put_acl(call, body).await
        }
        S3Operation::GetBucketCors => cors::get_bucket_cors(call, bucket).await,
        S3Operation::PutBucketCors => cors::put_bucket_cors(call, bucket, body).await,
        S3Operation::DeleteBucketCors => cors::delete_bucket_cors(call, bucket).await,
        S3Operation::DeleteObjects => bucket::delete_objects(call, bucket, body).await,
        S3Operation::GetObject => object::get_object(call, bucket, key, false).await,
        S3Operation::HeadObject => object::get_object(call, bucket, key, true).await,
        S3Operation::PutObject => object::put_object(call, bucket, key, body).await,
        S3Operation::CopyObject => object::copy_object(call, bucket, key).await,
        S3Operation::DeleteObject => object::delete_object(call, bucket, key).await,
        S3Operation::CreateMultipartUpload => multipart::create(call, bucket, key).await,
        S3Operation::UploadPart => multipart::upload_part(call, bucket, key, body).await,
        S3Operation::UploadPartCopy => multipart::upload_part_copy(call, bucket, key).await,
        S3Operation::CompleteMultipartUpload => multipart::complete(call, bucket, key, body).await,
        S3Operation::AbortMultipartUpload => multipart::abort(call, bucket, key).await,
        S3Operation::ListParts => multipart::list_parts(call, bucket, key).await,
        S3Operation::ListMultipartUploads => multipart::list_uploads(call, bucket).await,
        // Answered before authentication (preflight, forms) or refused above.
        _ => Err(S3Error::not_implemented()),
    }
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

/// S3's timestamp format in XML: `2009-10-12T17:50:30.000Z`.
pub(crate) fn iso8601_ms(ms: i64) -> String {
    let t = sigv4::AmzDate::from_unix(ms.div_euclid(1000));
    let s = t.rfc3339();
    format!("{}.{:03}Z", &s[..s.len() - 1], ms.rem_euclid(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_timestamps() {
        assert_eq!(iso8601_ms(1_440_938_160_123), "2015-08-30T12:36:00.123Z");
    }
}
