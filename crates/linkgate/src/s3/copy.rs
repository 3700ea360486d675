//! CopyObject's request headers: the source (`x-amz-copy-source`), the metadata
//! directive and the `x-amz-copy-source-if-*` conditions. Pure parsing.

use axum::http::HeaderMap;

use super::error::S3Error;
use super::operation::{validate_bucket_name, validate_key};
use super::read::{Conditional, evaluate_conditionals_by};

/// The largest object CopyObject copies (S3: 5 GiB; larger needs UploadPartCopy).
pub const MAX_COPY_SOURCE: u64 = 5 * 1024 * 1024 * 1024;

/// Where a copy reads from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopySource {
    /// Source bucket.
    pub bucket: String,
    /// Source key (decoded).
    pub key: String,
}

/// Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded.
/// Buckets are unversioned, so the only version id there is is `null`.
pub fn parse_copy_source(raw: &str) -> Result<CopySource, S3Error> {
    let bad = || {
        S3Error::invalid_argument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey", "x-amz-copy-source", raw)
    };
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("versionId", "null")) => {}
            Some(("versionId", _)) => return Err(S3Error::invalid_argument("Invalid version id specified", "x-amz-copy-source", raw)),
            _ => return Err(bad()),
        }
    }
    let decoded = String::from_utf8(sigv4::encode::decode(path).into_owned()).map_err(|_| bad())?;
    let (bucket, key) = decoded.strip_prefix('/').unwrap_or(&decoded).split_once('/').ok_or_else(bad)?;
    if bucket.is_empty() || key.is_empty() {
        return Err(bad());
    }
    validate_bucket_name(bucket)?;
    validate_key(key)?;
    Ok(CopySource { bucket: bucket.to_owned(), key: key.to_owned() })
}

/// `x-amz-metadata-directive`: keep the source's metadata, or take the request's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataDirective {
    /// The default.
    Copy,
    /// The request's Content-Type, stored headers and `x-amz-meta-*`.
    Replace,
}

/// Reads `x-amz-metadata-directive`.
pub fn metadata_directive(headers: &HeaderMap) -> Result<MetadataDirective, S3Error> {
    match headers.get("x-amz-metadata-directive").map(|v| v.to_str().unwrap_or("")) {
        None => Ok(MetadataDirective::Copy),
        Some(v) if v.eq_ignore_ascii_case("COPY") => Ok(MetadataDirective::Copy),
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => Ok(MetadataDirective::Replace),
        Some(v) => Err(S3Error::invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", v)),
    }
}

/// The `x-amz-copy-source-if-*` conditions against the source: like a GET's,
/// except that every failure (a "not modified" included) is 412.
pub fn check_source_conditions(headers: &HeaderMap, etag: &str, last_modified_ms: i64) -> Result<(), S3Error> {
    let get = |name: &str| headers.get(format!("x-amz-copy-source-{name}")).and_then(|v| v.to_str().ok());
    let failed = match evaluate_conditionals_by(get, etag, last_modified_ms) {
        Conditional::Proceed => return Ok(()),
        Conditional::Failed(which) => which,
        Conditional::NotModified if get("if-none-match").is_some() => "If-None-Match",
        Conditional::NotModified => "If-Modified-Since",
    };
    Err(S3Error::precondition_failed(&format!("x-amz-copy-source-{failed}")))
}

/// `x-amz-copy-source-range: bytes=first-last` against a source of `size`
/// bytes: (start, length). Without the header, the whole source.
pub fn copy_source_range(header: Option<&str>, size: u64) -> Result<(u64, u64), S3Error> {
    let Some(raw) = header else { return Ok((0, size)) };
    let form = || {
        S3Error::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            raw,
        )
    };
    let (first, last) = raw.trim().strip_prefix("bytes=").and_then(|r| r.split_once('-')).ok_or_else(form)?;
    let (first, last): (u64, u64) = (first.parse().map_err(|_| form())?, last.parse().map_err(|_| form())?);
    if first > last {
        return Err(form());
    }
    if last >= size {
        return Err(S3Error::invalid_argument(
            format!("Range specified is not valid for source object of size: {size}"),
            "x-amz-copy-source-range",
            raw,
        ));
    }
    Ok((first, last - first + 1))
}

/// S3's refusal of a copy onto itself that changes nothing.
pub fn copy_to_itself() -> S3Error {
    S3Error::invalid_request(
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources() {
        let src = |b: &str, k: &str| CopySource { bucket: b.into(), key: k.into() };
        assert_eq!(parse_copy_source("bkt/a/b.txt").unwrap(), src("bkt", "a/b.txt"));
        assert_eq!(parse_copy_source("/bkt/a%20b%2Bc.txt").unwrap(), src("bkt", "a b+c.txt"));
        assert_eq!(parse_copy_source("bkt/k%C3%BC?versionId=null").unwrap(), src("bkt", "kü"));
        assert_eq!(parse_copy_source("bkt/k?versionId=3HL4kqtJ").unwrap_err().message, "Invalid version id specified");
        for bad in ["", "bkt", "bkt/", "/bkt", "/", "bkt/k?other=1"] {
            assert_eq!(parse_copy_source(bad).unwrap_err().code, "InvalidArgument", "{bad:?}");
        }
        assert_eq!(parse_copy_source("B_/k").unwrap_err().code, "InvalidBucketName");
    }

    #[test]
    fn copy_source_ranges() {
        assert_eq!(copy_source_range(None, 10).unwrap(), (0, 10));
        assert_eq!(copy_source_range(Some("bytes=0-9"), 10).unwrap(), (0, 10));
        assert_eq!(copy_source_range(Some("bytes=3-3"), 10).unwrap(), (3, 1));
        for bad in ["bytes=5-4", "bytes=-4", "bytes=4-", "4-5", "bytes=a-b", "bytes=1-2,4-5"] {
            assert_eq!(copy_source_range(Some(bad), 10).unwrap_err().code, "InvalidArgument", "{bad}");
        }
        assert_eq!(
            copy_source_range(Some("bytes=0-10"), 10).unwrap_err().message,
            "Range specified is not valid for source object of size: 10"
        );
    }

    #[test]
    fn directives_and_conditions() {
        let mut h = HeaderMap::new();
        assert_eq!(metadata_directive(&h).unwrap(), MetadataDirective::Copy);
        h.insert("x-amz-metadata-directive", "replace".parse().unwrap());
        assert_eq!(metadata_directive(&h).unwrap(), MetadataDirective::Replace);
        h.insert("x-amz-metadata-directive", "MERGE".parse().unwrap());
        assert_eq!(metadata_directive(&h).unwrap_err().code, "InvalidArgument");

        let etag = "\"abc\"";
        let mut h = HeaderMap::new();
        assert!(check_source_conditions(&h, etag, 0).is_ok());
        h.insert("x-amz-copy-source-if-match", "\"abc\"".parse().unwrap());
        assert!(check_source_conditions(&h, etag, 0).is_ok());
        h.insert("x-amz-copy-source-if-none-match", "\"abc\"".parse().unwrap());
        assert_eq!(check_source_conditions(&h, etag, 0).unwrap_err().status, 412, "not modified is a failure here");
        let mut h = HeaderMap::new();
        h.insert("x-amz-copy-source-if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT".parse().unwrap());
        assert_eq!(check_source_conditions(&h, etag, 1_700_000_000_000).unwrap_err().status, 412);
    }
}
