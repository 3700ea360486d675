//! What an upload must satisfy, from its headers: what S3 refuses before reading a
//! body, what it checks after (signed SHA-256, `Content-MD5`, an additional
//! checksum, the announced decoded length), and the metadata the object keeps.

use axum::http::HeaderMap;

use super::checksum::{ChecksumAlgorithm, DigestValues};
use super::error::S3Error;
use crate::store::meta::WriteCondition;

/// Headers stored with an object and returned on GET.
const STORED_HEADERS: [&str; 5] = ["content-encoding", "content-disposition", "content-language", "cache-control", "expires"];

/// The metadata an upload gives its object: Content-Type and the stored headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectAttrs {
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Content-Encoding, Content-Disposition, Content-Language, Cache-Control,
    /// Expires and `x-amz-meta-*`, lower-case names.
    pub headers: Vec<(String, String)>,
}

impl ObjectAttrs {
    /// Collects Content-Type and the stored headers (incl. `x-amz-meta-*`) of an upload.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut stored = Vec::new();
        for name in STORED_HEADERS {
            if let Some(mut v) = get(name) {
                if name == "content-encoding" && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("aws-chunked")) {
                    // aws-chunked is a transfer detail of this request, not of the
                    // object; any other value is kept exactly as sent.
                    v = v.split(',').map(str::trim).filter(|t| !t.eq_ignore_ascii_case("aws-chunked")).collect::<Vec<_>>().join(",");
                    if v.is_empty() {
                        continue;
                    }
                }
                stored.push((name.to_owned(), v));
            }
        }
        for (name, value) in headers {
            // UTF-8, not just ASCII: S3 keeps non-ASCII metadata values.
            if name.as_str().starts_with("x-amz-meta-")
                && let Ok(v) = std::str::from_utf8(value.as_bytes())
            {
                stored.push((name.as_str().to_owned(), v.to_owned()));
            }
        }
        Self { content_type: get("content-type"), headers: stored }
    }
}

/// What must still be checked once the whole body has been read.
#[derive(Clone, Debug, Default)]
pub struct PendingChecks {
    /// The signed `x-amz-content-sha256`, to compare with the body's SHA-256.
    pub sha256_hex: Option<String>,
    /// `Content-MD5` (base64).
    pub content_md5: Option<String>,
    /// An `x-amz-checksum-*` header: algorithm and base64 value.
    pub checksum_header: Option<(ChecksumAlgorithm, String)>,
    /// The checksum algorithm to compute and store (header, trailer or SDK hint).
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The decoded length the client announced.
    pub decoded_length: Option<u64>,
}

impl PendingChecks {
    /// Checks what could only be checked after reading: the body's length, signed
    /// hash, `Content-MD5`, a checksum header. Runs before anything is committed.
    pub fn verify(&self, digests: &DigestValues) -> Result<(), S3Error> {
        if self.decoded_length.is_some_and(|n| n != digests.len) {
            return Err(S3Error::incomplete_body());
        }
        if let Some(expected) = &self.sha256_hex
            && !digests.sha256_matches_hex(expected)
        {
            return Err(S3Error::new(
                "XAmzContentSHA256Mismatch",
                400,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
            .with("ClientComputedContentSHA256", expected.clone())
            .with("S3ComputedContentSHA256", digests.sha256_hex().unwrap_or_default()));
        }
        if let Some(md5) = &self.content_md5 {
            use base64::Engine as _;
            if base64::engine::general_purpose::STANDARD.decode(md5.trim()).map(|v| v.len()) != Ok(16) {
                return Err(S3Error::new("InvalidDigest", 400, "The Content-MD5 you specified is not valid."));
            }
            if !digests.content_md5_matches(md5) {
                return Err(S3Error::new("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
                    .with("ExpectedDigest", md5.clone())
                    .with("CalculatedDigest", digests.md5_base64()));
            }
        }
        if let Some((alg, value)) = &self.checksum_header
            && let Some((computed_alg, computed)) = &digests.checksum
            && computed_alg == alg
            && computed != value
        {
            return Err(S3Error::new(
                "BadDigest",
                400,
                format!("The {} you specified did not match the calculated checksum.", alg.algorithm_name()),
            ));
        }
        Ok(())
    }
}

/// `EntityTooLarge` for a body over `max`.
pub fn too_large(max: u64) -> S3Error {
    S3Error::new("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size").with("MaxSizeAllowed", max.to_string())
}

/// Refuses uploads S3 would refuse before reading the body: no length at all, an
/// unparseable one, or one over `max`.
pub fn check_declared_length(headers: &HeaderMap, max: u64) -> Result<(), S3Error> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let declared = get("x-amz-decoded-content-length").or_else(|| get("content-length"));
    match declared.map(|v| v.trim().parse::<u64>()) {
        None if get("transfer-encoding").is_none() => {
            Err(S3Error::new("MissingContentLength", 411, "You must provide the Content-Length HTTP header."))
        }
        Some(Err(_)) => Err(S3Error::invalid_argument("Invalid Content-Length", "Content-Length", declared.unwrap_or(""))),
        Some(Ok(n)) if n > max => Err(too_large(max).with("ProposedSize", n.to_string())),
        _ => Ok(()),
    }
}

/// S3 conditional writes: `If-None-Match: *` and `If-Match: "etag"`.
pub fn write_condition(headers: &HeaderMap) -> Result<WriteCondition, S3Error> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if let Some(v) = get("if-none-match") {
        if v.trim() != "*" {
            return Err(S3Error::not_implemented());
        }
        return Ok(WriteCondition::NotExists);
    }
    Ok(get("if-match").map_or(WriteCondition::None, |v| WriteCondition::EtagMatches(v.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_drop_aws_chunked_and_keep_user_metadata() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "text/plain".parse().unwrap());
        h.insert("content-encoding", "aws-chunked,gzip".parse().unwrap());
        h.insert("x-amz-meta-owner", "ops".parse().unwrap());
        h.insert("x-amz-date", "20260101T000000Z".parse().unwrap());
        let a = ObjectAttrs::from_headers(&h);
        assert_eq!(a.content_type.as_deref(), Some("text/plain"));
        assert_eq!(a.headers, [("content-encoding".to_owned(), "gzip".to_owned()), ("x-amz-meta-owner".to_owned(), "ops".to_owned())]);
        let mut h = HeaderMap::new();
        h.insert("content-encoding", "deflate, gzip".parse().unwrap());
        assert_eq!(ObjectAttrs::from_headers(&h).headers, [("content-encoding".to_owned(), "deflate, gzip".to_owned())]);
    }

    #[test]
    fn declared_lengths() {
        let mut h = HeaderMap::new();
        assert_eq!(check_declared_length(&h, 10).unwrap_err().code, "MissingContentLength");
        h.insert("content-length", "11".parse().unwrap());
        assert_eq!(check_declared_length(&h, 10).unwrap_err().code, "EntityTooLarge");
        h.insert("content-length", "x".parse().unwrap());
        assert_eq!(check_declared_length(&h, 10).unwrap_err().code, "InvalidArgument");
        h.insert("content-length", "10".parse().unwrap());
        assert!(check_declared_length(&h, 10).is_ok());
    }
}
