//! Rendering objects as HTTP answers: shared by GetObject/HeadObject and by
//! broker-link downloads, so both answer with the same headers.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::services::objects::{ObjectRead, ReadKind};

/// HTTP-date for `Last-Modified`.
pub(crate) fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// Sets a header if the value is valid (values come from stored metadata).
pub(crate) fn set(r: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// [`set`] for a header name held as text.
pub(crate) fn set_named(r: &mut Response, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
        r.headers_mut().insert(n, v);
    }
}

/// A stored header value as S3 sends it back: as is if it is ASCII, else its
/// UTF-8 as an RFC 2047 encoded word (`=?UTF-8?B?…?=`).
fn ascii_header_value(value: &str) -> std::borrow::Cow<'_, str> {
    use base64::Engine as _;
    if value.is_ascii() {
        return value.into();
    }
    format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(value)).into()
}

/// The answer for an object read: 304, or 200/206 with the stored headers and the
/// bytes (none for HEAD).
pub(crate) fn object_response(read: ObjectRead) -> Response {
    let ObjectRead { meta, kind, body } = read;
    let (status, start, len) = match kind {
        ReadKind::NotModified => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            set(&mut r, header::ETAG, &meta.etag);
            set(&mut r, header::LAST_MODIFIED, &http_date(meta.last_modified_ms));
            return r;
        }
        ReadKind::Full => (StatusCode::OK, 0, meta.size),
        ReadKind::Partial { start, len } => (StatusCode::PARTIAL_CONTENT, start, len),
    };
    let mut r = Response::new(body.map_or_else(Body::empty, Body::from_stream));
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
        set_named(&mut r, name, &ascii_header_value(value));
    }
    r
}

/// The answer to a write that stored bytes (PutObject, UploadPart): 200 with the
/// ETag and, when one was computed, the additional checksum.
pub(crate) fn stored(etag: &str, checksum: Option<&(String, String)>) -> Response {
    let mut r = Response::new(Body::empty());
    set(&mut r, header::ETAG, etag);
    if let Some((name, value)) = checksum {
        set_named(&mut r, name, value);
    }
    r
}

/// The body of CopyObject (`root` = `CopyObjectResult`) and UploadPartCopy
/// (`CopyPartResult`): when, the ETag, and the checksum if there is one.
pub(crate) fn copy_result(root: &str, last_modified_ms: i64, etag: &str, checksum: Option<&(String, String)>) -> Response {
    let mut w = crate::s3::xml::XmlWriter::document();
    w.open_root(root);
    w.element("LastModified", &super::iso8601_ms(last_modified_ms));
    w.element("ETag", etag);
    if let Some((name, value)) = checksum
        && let Some(a) = crate::s3::checksum::ChecksumAlgorithm::from_header_name(name)
    {
        w.element(&format!("Checksum{}", a.algorithm_name()), value);
    }
    w.close(root);
    super::xml_response(w.finish())
}
