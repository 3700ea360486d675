//! PutObject, CopyObject, GetObject, HeadObject, DeleteObject.

use axum::body::Body;
use axum::http::{HeaderName, StatusCode, header};

use super::render::{copy_result, object_response, set, set_named, stored};
use super::{S3Call, S3Result, empty};
use crate::auth::policy::s3_object_arn;
use crate::s3::checksum::ChecksumType;
use crate::s3::copy::{MAX_COPY_SOURCE, MetadataDirective, check_source_conditions, copy_to_itself, metadata_directive, parse_copy_source};
use crate::s3::error::S3Error;
use crate::s3::upload::{ObjectAttrs, check_declared_length, write_condition};
use crate::store::meta::ObjectMeta;

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

/// CopyObject (PUT with `x-amz-copy-source`): needs `s3:GetObject` on the
/// source as well as `s3:PutObject` on the destination (checked before).
pub(crate) async fn copy_object(call: &S3Call<'_>, bucket: &str, key: &str) -> S3Result {
    let headers = &call.parts.headers;
    let source = parse_copy_source(call.header("x-amz-copy-source").unwrap_or(""))?;
    call.authorize("s3:GetObject", &s3_object_arn(&source.bucket, &source.key))?;
    let directive = metadata_directive(headers)?;
    if (source.bucket.as_str(), source.key.as_str()) == (bucket, key) && directive == MetadataDirective::Copy {
        return Err(copy_to_itself());
    }
    let replace = (directive == MetadataDirective::Replace).then(|| ObjectAttrs::from_headers(headers));
    let cond = write_condition(headers)?;
    let check_source = |src: &ObjectMeta| {
        check_source_conditions(headers, &src.etag, src.last_modified_ms)?;
        if src.size > MAX_COPY_SOURCE {
            return Err(S3Error::invalid_request(format!(
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_COPY_SOURCE}"
            )));
        }
        Ok(())
    };
    let meta = call.state.objects.copy((&source.bucket, &source.key), (bucket, key), check_source, replace, &cond).await?;
    Ok(copy_result("CopyObjectResult", meta.last_modified_ms, &meta.etag, meta.checksum.as_ref()))
}

/// GetObject / HeadObject.
pub(crate) async fn get_object(call: &S3Call<'_>, bucket: &str, key: &str, head: bool) -> S3Result {
    let objects = &call.state.objects;
    let read = match call.query.get("partNumber") {
        None => objects.read(bucket, key, &call.parts.headers, call.header("range"), head).await?,
        Some(_) if call.header("range").is_some() => {
            return Err(S3Error::invalid_request("Cannot specify both Range header and partNumber query parameter"));
        }
        Some(raw) => {
            let part = raw.parse::<u32>().ok().filter(|n| (1..=10_000).contains(n)).ok_or_else(|| {
                S3Error::invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", raw)
            })?;
            objects.read_part(bucket, key, &call.parts.headers, part, head).await?
        }
    };
    let checksum = read.meta.checksum.clone();
    // S3 says how many parts an object has only to a `partNumber` request.
    let parts_count = read.meta.parts_count.filter(|_| call.query.has("partNumber"));
    let mut r = object_response(read);
    if let Some(n) = parts_count {
        set_named(&mut r, "x-amz-mp-parts-count", &n.to_string());
    }
    let status = r.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(r);
    }
    if call.header("x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"))
        && let Some((name, value)) = &checksum
        && status == StatusCode::OK
    {
        set_named(&mut r, name, value);
        set_named(&mut r, "x-amz-checksum-type", ChecksumType::of_value(value).name());
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
