//! PutObject, GetObject, HeadObject, DeleteObject.

use axum::body::Body;
use axum::http::{HeaderName, StatusCode, header};

use super::render::{object_response, set, set_named, stored};
use super::{S3Call, S3Result, empty};
use crate::s3::upload::{check_declared_length, write_condition};

/// `response-*` query parameters and the headers they override.
const OVERRIDES: [(&str, HeaderName); 6] = [
    ("response-content-type", header::CONTENT_TYPE),
    ("response-content-language", header::CONTENT_LANGUAGE),
    ("response-expires", header::EXPIRES),
    ("response-cache-control", header::CACHE_CONTROL),
    ("response-content-disposition", header::CONTENT_DISPOSITION),
    ("response-content-encoding", header::CONTENT_ENCODING),
];

/// PutObject.
pub(crate) async fn put_object(call: &S3Call<'_>, bucket: &str, key: &str, body: Body) -> S3Result {
    let objects = &call.state.objects;
    check_declared_length(&call.parts.headers, call.state.config.limits.max_object_size)?;
    let cond = write_condition(&call.parts.headers)?;
    // Fail before reading a large body when the answer is already known.
    objects.precheck_put(bucket, key, &cond).await?;
    let upload = super::body::upload(call, body)?;
    let meta = objects.put(bucket, key, upload, &cond).await?;
    Ok(stored(&meta.etag, meta.checksum.as_ref()))
}

/// GetObject / HeadObject.
pub(crate) async fn get_object(call: &S3Call<'_>, bucket: &str, key: &str, head: bool) -> S3Result {
    let range = if call.query.has("partNumber") { None } else { call.header("range") };
    let read = call.state.objects.read(bucket, key, &call.parts.headers, range, head).await?;
    let checksum = read.meta.checksum.clone();
    let mut r = object_response(read);
    let status = r.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(r);
    }
    if call.header("x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"))
        && let Some((name, value)) = &checksum
        && status == StatusCode::OK
    {
        set_named(&mut r, name, value);
    }
    for (param, name) in OVERRIDES {
        if let Some(v) = call.query.get(param) {
            set(&mut r, name, v);
        }
    }
    Ok(r)
}

/// DeleteObject: 204 whether or not the key existed, as S3 does.
pub(crate) async fn delete_object(call: &S3Call<'_>, bucket: &str, key: &str) -> S3Result {
    call.state.objects.delete(bucket, key).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
