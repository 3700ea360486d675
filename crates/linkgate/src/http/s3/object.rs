//! PutObject, GetObject, HeadObject, DeleteObject.

use std::io::{Read as _, Seek as _, SeekFrom};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use super::body::{self, BodyStream, PendingChecks};
use super::{Ctx, S3Result, bucket, empty, http_date, now_ms, store_err};
use crate::http::AppState;
use crate::objects::fs::WriteError;
use crate::objects::{FsObjects, WrittenFile};
use crate::s3::checksum::BodyDigests;
use crate::s3::error::S3Error;
use crate::store::sqlite::etag_matches;
use crate::store::{Lookup, ObjectMeta, WriteCondition, WriteOutcome};

/// Headers stored with an object and returned on GET.
const STORED_HEADERS: [&str; 5] = ["content-encoding", "content-disposition", "content-language", "cache-control", "expires"];

/// Collects Content-Type and the stored headers (incl. `x-amz-meta-*`) of an upload.
pub(crate) fn metadata_from_headers(headers: &HeaderMap) -> (Option<String>, Vec<(String, String)>) {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let content_type = get("content-type");
    let mut stored = Vec::new();
    for name in STORED_HEADERS {
        if let Some(mut v) = get(name) {
            if name == "content-encoding" {
                // aws-chunked is a transfer detail of this request, not of the object.
                v = v.split(',').map(str::trim).filter(|t| !t.eq_ignore_ascii_case("aws-chunked")).collect::<Vec<_>>().join(",");
                if v.is_empty() {
                    continue;
                }
            }
            stored.push((name.to_owned(), v));
        }
    }
    for (name, value) in headers {
        if name.as_str().starts_with("x-amz-meta-")
            && let Ok(v) = value.to_str()
        {
            stored.push((name.as_str().to_owned(), v.to_owned()));
        }
    }
    (content_type, stored)
}

/// `EntityTooLarge` for a body over `max`.
pub(crate) fn too_large(max: u64) -> S3Error {
    S3Error::new("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size").with("MaxSizeAllowed", max.to_string())
}

/// S3's answer for a failed object write: the body's own error, `EntityTooLarge`,
/// or (logged) `InternalError` for the disk.
fn write_error(e: WriteError<S3Error>, max: u64) -> S3Error {
    match e {
        WriteError::Body(e) => e,
        WriteError::TooLarge => too_large(max),
        WriteError::Io(e) => {
            tracing::error!(error = %e, "object write failed");
            S3Error::internal()
        }
    }
}

/// Streams a decoded body to a new durable file and runs the after-read checks.
/// The file is removed again if anything fails.
pub(crate) async fn write_body(ctx: &Ctx<'_>, stream: BodyStream, checks: &PendingChecks) -> Result<WrittenFile, S3Error> {
    let max = ctx.state.config.limits.max_object_size;
    let digests = BodyDigests::new(checks.sha256_hex.is_some(), checks.checksum_algorithm);
    let written = ctx.state.objects.write(stream, max, digests).await.map_err(|e| write_error(e, max))?;
    let check = body::verify_after(checks, &written.digests).and_then(|()| match checks.decoded_length {
        Some(n) if n != written.digests.len => Err(S3Error::incomplete_body()),
        _ => Ok(()),
    });
    if let Err(e) = check {
        ctx.state.objects.remove(&written.id);
        return Err(e);
    }
    Ok(written)
}

/// Refuses uploads S3 would refuse before reading the body.
pub(crate) fn check_upload_headers(ctx: &Ctx<'_>) -> Result<(), S3Error> {
    let max = ctx.state.config.limits.max_object_size;
    let declared = ctx.header("x-amz-decoded-content-length").or_else(|| ctx.header("content-length"));
    match declared.map(|v| v.trim().parse::<u64>()) {
        None if ctx.header("transfer-encoding").is_none() => {
            Err(S3Error::new("MissingContentLength", 411, "You must provide the Content-Length HTTP header."))
        }
        Some(Err(_)) => Err(S3Error::invalid_argument("Invalid Content-Length", "Content-Length", declared.unwrap_or(""))),
        Some(Ok(n)) if n > max => Err(too_large(max).with("ProposedSize", n.to_string())),
        _ => Ok(()),
    }
}

/// The metadata of a freshly written object: its file, digests and the headers
/// the upload carried.
pub(crate) fn new_object_meta(bucket: &str, key: &str, written: &WrittenFile, headers: &HeaderMap) -> ObjectMeta {
    let (content_type, stored) = metadata_from_headers(headers);
    ObjectMeta {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        file_id: written.id.clone(),
        size: written.digests.len,
        etag: format!("\"{}\"", written.digests.md5_hex()),
        last_modified_ms: now_ms(),
        content_type,
        headers: stored,
        checksum: written.digests.checksum.as_ref().map(|(a, v)| (a.header_name().to_owned(), v.clone())),
        parts_count: None,
    }
}

/// Stores a plain request body as an object, with the metadata its headers carry:
/// broker upload links use it (no SigV4 payload modes there). Returns the ETag.
pub(crate) async fn commit_plain(state: &AppState, bucket: &str, key: &str, headers: &HeaderMap, body: Body) -> Result<String, S3Error> {
    use futures_util::TryStreamExt as _;
    let max = state.config.limits.max_object_size;
    let stream = body.into_data_stream().map_err(|_| S3Error::incomplete_body());
    let written = state.objects.write(stream, max, BodyDigests::new(false, None)).await.map_err(|e| write_error(e, max))?;
    let meta = new_object_meta(bucket, key, &written, headers);
    match state.store.put_object(&meta, &WriteCondition::None) {
        Ok(WriteOutcome::Written { replaced_file }) => {
            if let Some(old) = replaced_file {
                state.objects.remove(&old);
            }
            Ok(meta.etag)
        }
        Ok(_) => {
            state.objects.remove(&written.id);
            Err(S3Error::no_such_bucket(bucket))
        }
        Err(e) => {
            state.objects.remove(&written.id);
            Err(store_err(e))
        }
    }
}

/// PutObject.
pub(crate) async fn put_object(ctx: &Ctx<'_>, bucket: &str, key: &str, body: Body) -> S3Result {
    bucket::validate_name(bucket)?;
    check_upload_headers(ctx)?;
    let store = &ctx.state.store;
    let cond = write_condition(ctx)?;
    // Fail before reading a large body when the answer is already known.
    match store.object(bucket, key).map_err(store_err)? {
        Lookup::NoBucket => return Err(S3Error::no_such_bucket(bucket)),
        Lookup::Found(_) if cond == WriteCondition::NotExists => return Err(S3Error::precondition_failed("If-None-Match")),
        _ => {}
    }
    let (stream, checks) = body::decode(ctx, body)?;
    let written = write_body(ctx, stream, &checks).await?;
    let meta = new_object_meta(bucket, key, &written, &ctx.parts.headers);
    commit(ctx, &meta, &cond, &written.id)?;
    let mut r = empty(StatusCode::OK);
    set(&mut r, header::ETAG, &meta.etag);
    if let Some((name, value)) = &meta.checksum {
        set_named(&mut r, name, value);
    }
    Ok(r)
}

/// Points the object at its new file, and deletes the file it replaced.
pub(crate) fn commit(ctx: &Ctx<'_>, meta: &ObjectMeta, cond: &WriteCondition, new_file: &str) -> Result<(), S3Error> {
    let outcome = ctx.state.store.put_object(meta, cond).map_err(|e| {
        ctx.state.objects.remove(new_file);
        store_err(e)
    })?;
    match outcome {
        WriteOutcome::Written { replaced_file } => {
            if let Some(old) = replaced_file {
                ctx.state.objects.remove(&old);
            }
            Ok(())
        }
        WriteOutcome::NoBucket => {
            ctx.state.objects.remove(new_file);
            Err(S3Error::no_such_bucket(&meta.bucket))
        }
        WriteOutcome::ConditionFailed => {
            ctx.state.objects.remove(new_file);
            Err(S3Error::precondition_failed(if *cond == WriteCondition::NotExists { "If-None-Match" } else { "If-Match" }))
        }
    }
}

/// S3 conditional writes: `If-None-Match: *` and `If-Match: "etag"`.
fn write_condition(ctx: &Ctx<'_>) -> Result<WriteCondition, S3Error> {
    if let Some(v) = ctx.header("if-none-match") {
        if v.trim() != "*" {
            return Err(S3Error::not_implemented());
        }
        return Ok(WriteCondition::NotExists);
    }
    Ok(ctx.header("if-match").map_or(WriteCondition::None, |v| WriteCondition::EtagMatches(v.to_owned())))
}

/// DeleteObject: 204 whether or not the key existed, as S3 does.
pub(crate) fn delete_object(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result {
    if ctx.state.store.bucket(bucket).map_err(store_err)?.is_none() {
        return Err(S3Error::no_such_bucket(bucket));
    }
    if let Some(file) = ctx.state.store.delete_object(bucket, key).map_err(store_err)? {
        ctx.state.objects.remove(&file);
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The outcome of evaluating conditional GET headers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Conditional {
    Proceed,
    NotModified,
    Failed(&'static str),
}

/// RFC 7232 precedence, as S3 applies it: If-Match, then If-Unmodified-Since (only
/// without If-Match), then If-None-Match, then If-Modified-Since (only without
/// If-None-Match).
pub(crate) fn evaluate_conditionals(headers: &HeaderMap, etag: &str, last_modified_ms: i64) -> Conditional {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let modified_secs = last_modified_ms.div_euclid(1000);
    let date =
        |v: &str| httpdate::parse_http_date(v).ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs() as i64);
    if let Some(want) = get("if-match") {
        if !etag_matches(want, etag) {
            return Conditional::Failed("If-Match");
        }
    } else if let Some(since) = get("if-unmodified-since").and_then(date)
        && modified_secs > since
    {
        return Conditional::Failed("If-Unmodified-Since");
    }
    if let Some(none) = get("if-none-match") {
        if etag_matches(none, etag) {
            return Conditional::NotModified;
        }
    } else if let Some(since) = get("if-modified-since").and_then(date)
        && modified_secs <= since
    {
        return Conditional::NotModified;
    }
    Conditional::Proceed
}

/// A parsed `Range: bytes=…` header, resolved against the object size.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeSpec {
    /// No (usable) range: the whole object.
    Full,
    /// Inclusive byte range.
    Part(u64, u64),
    /// Syntactically valid but outside the object.
    Unsatisfiable,
}

/// S3 honours one range; malformed or multi-range headers get the whole object.
pub(crate) fn parse_range(value: Option<&str>, size: u64) -> RangeSpec {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else { return RangeSpec::Full };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return RangeSpec::Full };
    let (a, b) = (a.trim(), b.trim());
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => {
            if start >= size {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Part(start, end.min(size - 1))
            }
        }
        (Ok(_), Ok(_)) => RangeSpec::Full,
        (Ok(start), Err(_)) if b.is_empty() => {
            if start >= size {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Part(start, size - 1)
            }
        }
        (Err(_), Ok(suffix)) if a.is_empty() => {
            if suffix == 0 || size == 0 {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Part(size.saturating_sub(suffix), size - 1)
            }
        }
        _ => RangeSpec::Full,
    }
}

/// `response-*` query parameters and the headers they override.
const OVERRIDES: [(&str, HeaderName); 6] = [
    ("response-content-type", header::CONTENT_TYPE),
    ("response-content-language", header::CONTENT_LANGUAGE),
    ("response-expires", header::EXPIRES),
    ("response-cache-control", header::CACHE_CONTROL),
    ("response-content-disposition", header::CONTENT_DISPOSITION),
    ("response-content-encoding", header::CONTENT_ENCODING),
];

/// GetObject / HeadObject.
pub(crate) async fn get_object(ctx: &Ctx<'_>, bucket: &str, key: &str, head: bool) -> S3Result {
    let meta = match ctx.state.store.object(bucket, key).map_err(store_err)? {
        Lookup::NoBucket => return Err(S3Error::no_such_bucket(bucket)),
        Lookup::NoKey => return Err(S3Error::no_such_key(key)),
        Lookup::Found(m) => m,
    };
    let range = if ctx.query.has("partNumber") { None } else { ctx.header("range") };
    let mut r = object_response(&ctx.state.objects, &meta, &ctx.parts.headers, range, head)?;
    let status = r.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(r);
    }
    if ctx.header("x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"))
        && let Some((name, value)) = &meta.checksum
        && status == StatusCode::OK
    {
        set_named(&mut r, name, value);
    }
    for (param, name) in OVERRIDES {
        if let Some(v) = ctx.query.get(param) {
            set(&mut r, name, v);
        }
    }
    Ok(r)
}

/// The response for an object (GET or HEAD): conditionals, one range, the stored
/// headers. Shared by the S3 API and broker-link redemption.
pub(crate) fn object_response(objects: &FsObjects, meta: &ObjectMeta, headers: &HeaderMap, range: Option<&str>, head: bool) -> S3Result {
    match evaluate_conditionals(headers, &meta.etag, meta.last_modified_ms) {
        Conditional::Failed(which) => return Err(S3Error::precondition_failed(which)),
        Conditional::NotModified => {
            let mut r = empty(StatusCode::NOT_MODIFIED);
            set(&mut r, header::ETAG, &meta.etag);
            set(&mut r, header::LAST_MODIFIED, &http_date(meta.last_modified_ms));
            return Ok(r);
        }
        Conditional::Proceed => {}
    }
    let (status, start, len) = match parse_range(range, meta.size) {
        RangeSpec::Full => (StatusCode::OK, 0, meta.size),
        RangeSpec::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        RangeSpec::Unsatisfiable => {
            return Err(S3Error::new("InvalidRange", 416, "The requested range is not satisfiable")
                .with("RangeRequested", range.unwrap_or("").to_owned())
                .with("ActualObjectSize", meta.size.to_string())
                .with_header("content-range", format!("bytes */{}", meta.size)));
        }
    };
    let body = if head { Body::empty() } else { open_body(objects, meta, start, len)? };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    set(&mut r, header::CONTENT_TYPE, meta.content_type.as_deref().unwrap_or("binary/octet-stream"));
    set(&mut r, header::CONTENT_LENGTH, &len.to_string());
    set(&mut r, header::ETAG, &meta.etag);
    set(&mut r, header::LAST_MODIFIED, &http_date(meta.last_modified_ms));
    set(&mut r, header::ACCEPT_RANGES, "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        set(&mut r, header::CONTENT_RANGE, &format!("bytes {}-{}/{}", start, start + len - 1, meta.size));
    }
    for (name, value) in &meta.headers {
        set_named(&mut r, name, value);
    }
    if let Some(n) = meta.parts_count {
        set_named(&mut r, "x-amz-mp-parts-count", &n.to_string());
    }
    Ok(r)
}

/// Bodies up to this size are read in one go on the request task: a page-cache
/// hit costs less than handing the read to a blocking thread.
const SMALL_BODY: u64 = 256 * 1024;
/// Chunk size for streaming larger bodies.
const CHUNK: usize = 256 * 1024;

fn open_body(objects: &FsObjects, meta: &ObjectMeta, start: u64, len: u64) -> Result<Body, S3Error> {
    if meta.size <= crate::objects::fs::SMALL_FILE {
        let all = objects.read_small(&meta.file_id).map_err(|e| {
            tracing::error!(error = %e, bucket = %meta.bucket, file = %meta.file_id, "object file unreadable");
            S3Error::internal()
        })?;
        let (a, b) = (start as usize, (start + len) as usize);
        return if b <= all.len() { Ok(Body::from(all.slice(a..b))) } else { Err(S3Error::internal()) };
    }
    let mut file = objects.open_file(&meta.file_id).map_err(|e| {
        tracing::error!(error = %e, bucket = %meta.bucket, file = %meta.file_id, "object file missing");
        S3Error::internal()
    })?;
    if start > 0 {
        file.seek(SeekFrom::Start(start)).map_err(|_| S3Error::internal())?;
    }
    if len <= SMALL_BODY {
        let mut buf = vec![0u8; len as usize];
        file.read_exact(&mut buf).map_err(|_| S3Error::internal())?;
        return Ok(Body::from(buf));
    }
    // A blocking thread reads ahead a few chunks; the channel bounds memory.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            let mut buf = vec![0u8; n];
            let result = file.read_exact(&mut buf).map(|()| Bytes::from(buf));
            let failed = result.is_err();
            if tx.blocking_send(result).is_err() || failed {
                return;
            }
            left -= n as u64;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Ok(Body::from_stream(stream))
}

pub(crate) fn set(r: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

pub(crate) fn set_named(r: &mut Response, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
        r.headers_mut().insert(n, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_s3() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100), RangeSpec::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=90-200"), 100), RangeSpec::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), RangeSpec::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-200"), 100), RangeSpec::Part(0, 99));
        assert_eq!(parse_range(Some("bytes=50-"), 100), RangeSpec::Part(50, 99));
        assert_eq!(parse_range(Some("bytes=100-"), 100), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=9-1"), 100), RangeSpec::Full);
        assert_eq!(parse_range(Some("items=0-1"), 100), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), RangeSpec::Unsatisfiable);
    }

    #[test]
    fn conditionals_follow_rfc7232_precedence() {
        let mut h = HeaderMap::new();
        let t = 1_700_000_000_000;
        let date = |s: i64| httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s as u64));
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::Proceed);
        h.insert("if-match", "\"x\"".parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::Failed("If-Match"));
        h.insert("if-match", "\"e\"".parse().unwrap());
        h.insert("if-unmodified-since", date(1).parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::Proceed);
        let mut h = HeaderMap::new();
        h.insert("if-unmodified-since", date(1).parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::Failed("If-Unmodified-Since"));
        let mut h = HeaderMap::new();
        h.insert("if-none-match", "\"e\"".parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::NotModified);
        h.insert("if-none-match", "\"x\"".parse().unwrap());
        h.insert("if-modified-since", date(t / 1000 + 10).parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::Proceed);
        let mut h = HeaderMap::new();
        h.insert("if-modified-since", date(t / 1000).parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::NotModified);
    }
}
