//! Request bodies: whatever the payload mode, hand handlers a plain byte stream.
//!
//! - `UNSIGNED-PAYLOAD` (presigned URLs, and SDKs over TLS): the body as is.
//! - a hex SHA-256 (header auth): the body as is; the hash is checked once the body
//!   has been read, before anything is committed.
//! - `STREAMING-…` (aws-chunked, what current SDKs and the AWS CLI send): decoded,
//!   with every chunk signature and trailing checksum verified on the way.

use axum::body::Body;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};

use super::Ctx;
use crate::s3::checksum::ChecksumAlgorithm;
use crate::s3::error::S3Error;

/// A request body as decoded bytes.
pub(crate) type BodyStream = BoxStream<'static, Result<Bytes, S3Error>>;

/// What must still be checked once the whole body has been read.
#[derive(Clone, Debug, Default)]
pub(crate) struct PendingChecks {
    /// The signed `x-amz-content-sha256`, to compare with the body's SHA-256.
    pub(crate) sha256_hex: Option<String>,
    /// `Content-MD5` (base64).
    pub(crate) content_md5: Option<String>,
    /// An `x-amz-checksum-*` header: algorithm and base64 value.
    pub(crate) checksum_header: Option<(ChecksumAlgorithm, String)>,
    /// The checksum algorithm to compute and store (header, trailer or SDK hint).
    pub(crate) checksum_algorithm: Option<ChecksumAlgorithm>,
    /// The decoded length the client announced.
    pub(crate) decoded_length: Option<u64>,
}

fn client_body_error(e: axum::Error) -> S3Error {
    tracing::debug!(error = %e, "request body failed");
    S3Error::incomplete_body()
}

/// Turns the raw body into decoded bytes plus the checks still to do.
pub(crate) fn decode(ctx: &Ctx<'_>, body: Body) -> Result<(BodyStream, PendingChecks), S3Error> {
    let mut checks = PendingChecks { content_md5: ctx.header("content-md5").map(str::to_owned), ..PendingChecks::default() };
    for alg in ChecksumAlgorithm::ALL {
        if let Some(v) = ctx.header(alg.header_name()) {
            if alg.decode_value(v).is_none() {
                return Err(S3Error::invalid_request(format!("Value for {} header is invalid.", alg.header_name())));
            }
            checks.checksum_header = Some((alg, v.to_owned()));
            checks.checksum_algorithm = Some(alg);
        }
    }
    let trailer = ctx.header("x-amz-trailer").map(str::trim).filter(|t| !t.is_empty());
    if checks.checksum_algorithm.is_none() {
        checks.checksum_algorithm = trailer
            .and_then(ChecksumAlgorithm::from_header_name)
            .or_else(|| ctx.header("x-amz-sdk-checksum-algorithm").and_then(ChecksumAlgorithm::from_algorithm_name));
    }
    checks.decoded_length = ctx.header("x-amz-decoded-content-length").and_then(|v| v.trim().parse().ok());
    let raw = body.into_data_stream().map_err(client_body_error);
    let payload = ctx.auth.as_ref().and_then(|a| a.v4.as_ref()).map(|v| v.payload_hash.clone());
    let Some(payload) = payload else {
        return Ok((raw.boxed(), checks));
    };
    match payload.as_str() {
        sigv4::UNSIGNED_PAYLOAD => Ok((raw.boxed(), checks)),
        p if p.starts_with("STREAMING-") => {
            let verified = ctx.auth.as_ref().and_then(|a| a.v4.clone()).ok_or_else(S3Error::internal)?;
            let stream = super::chunked_body::decode(raw, &verified, p, trailer, ctx.header("x-amz-decoded-content-length"))?;
            Ok((stream, checks))
        }
        p if p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()) => {
            checks.sha256_hex = Some(p.to_ascii_lowercase());
            Ok((raw.boxed(), checks))
        }
        _ => Err(S3Error::invalid_argument(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.",
            "x-amz-content-sha256",
            &payload,
        )),
    }
}

/// Checks what could only be checked after reading: signed hash, Content-MD5,
/// a checksum header. Called before the write is committed.
pub(crate) fn verify_after(checks: &PendingChecks, digests: &crate::s3::checksum::DigestValues) -> Result<(), S3Error> {
    if let Some(expected) = &checks.sha256_hex
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
    if let Some(md5) = &checks.content_md5 {
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
    if let Some((alg, value)) = &checks.checksum_header
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

/// Reads a small body (XML documents) completely, with the same checks, refusing
/// more than `limit` bytes.
pub(crate) async fn read_small(ctx: &Ctx<'_>, body: Body, limit: usize) -> Result<Vec<u8>, S3Error> {
    let (mut stream, checks) = decode(ctx, body)?;
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if buf.len() + chunk.len() > limit {
            return Err(S3Error::new("MaxMessageLengthExceeded", 400, "Your request was too big."));
        }
        buf.extend_from_slice(&chunk);
    }
    let mut digests = crate::s3::checksum::BodyDigests::new(checks.sha256_hex.is_some(), checks.checksum_algorithm);
    digests.update(&buf);
    verify_after(&checks, &digests.finish())?;
    Ok(buf)
}
