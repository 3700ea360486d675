//! Request bodies: whatever the payload mode, hand the services a plain byte stream.
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

use super::S3Call;
use crate::s3::checksum::{BodyDigests, ChecksumAlgorithm};
use crate::s3::error::S3Error;
use crate::s3::upload::{ObjectAttrs, PendingChecks};
use crate::services::objects::Upload;
use crate::store::blobs::BoxError;

/// A request body as bytes with S3 errors.
pub(crate) type S3Stream = BoxStream<'static, Result<Bytes, S3Error>>;

/// The raw body, its failures as S3 errors (`RequestTimeout` or `IncompleteBody`).
pub(crate) fn raw(body: Body) -> S3Stream {
    crate::http::body::s3_stream(body)
}

/// Turns the raw body into decoded bytes plus the checks still to do.
pub(crate) fn decode(call: &S3Call<'_>, body: Body) -> Result<(S3Stream, PendingChecks), S3Error> {
    decode_as(call, body, true)
}

/// [`decode`]; with `body_checksum` false, `x-amz-checksum-*` headers are not
/// the body's and are left alone.
fn decode_as(call: &S3Call<'_>, body: Body, body_checksum: bool) -> Result<(S3Stream, PendingChecks), S3Error> {
    let mut checks = PendingChecks { content_md5: call.header("content-md5").map(str::to_owned), ..PendingChecks::default() };
    for alg in ChecksumAlgorithm::ALL.into_iter().filter(|_| body_checksum) {
        if let Some(v) = call.header(alg.header_name()) {
            if alg.decode_value(v).is_none() {
                return Err(S3Error::invalid_request(format!("Value for {} header is invalid.", alg.header_name())));
            }
            checks.checksum_header = Some((alg, v.to_owned()));
            checks.checksum_algorithm = Some(alg);
        }
    }
    let trailer = call.header("x-amz-trailer").map(str::trim).filter(|t| !t.is_empty());
    if checks.checksum_algorithm.is_none() {
        checks.checksum_algorithm = trailer
            .and_then(ChecksumAlgorithm::from_header_name)
            .or_else(|| call.header("x-amz-sdk-checksum-algorithm").and_then(ChecksumAlgorithm::from_algorithm_name));
    }
    checks.decoded_length = call.header("x-amz-decoded-content-length").and_then(|v| v.trim().parse().ok());
    let raw = raw(body);
    let Some(verified) = &call.v4 else { return Ok((raw, checks)) };
    match verified.payload_hash.as_str() {
        sigv4::UNSIGNED_PAYLOAD => Ok((raw, checks)),
        p if p.starts_with("STREAMING-") => {
            let stream = super::chunked_body::decode(raw, verified, p, trailer, call.header("x-amz-decoded-content-length"))?;
            Ok((stream, checks))
        }
        p if p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()) => {
            checks.sha256_hex = Some(p.to_ascii_lowercase());
            Ok((raw, checks))
        }
        other => Err(S3Error::invalid_argument(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.",
            "x-amz-content-sha256",
            other,
        )),
    }
}

/// An upload for the object service: the decoded body, its checks, and the
/// metadata the request's headers give the object.
pub(crate) fn upload(call: &S3Call<'_>, body: Body) -> Result<Upload, S3Error> {
    let (stream, checks) = decode(call, body)?;
    Ok(Upload { body: stream.map_err(|e| Box::new(e) as BoxError).boxed(), checks, attrs: ObjectAttrs::from_headers(&call.parts.headers) })
}

/// Reads a small body (XML documents) completely, with the same checks, refusing
/// more than `limit` bytes as soon as they arrive.
pub(crate) async fn read_small(call: &S3Call<'_>, body: Body, limit: usize) -> Result<Vec<u8>, S3Error> {
    read_small_as(call, body, limit, true).await
}

/// [`read_small`]; with `body_checksum` false, an `x-amz-checksum-*` header is
/// not taken as the body's (CompleteMultipartUpload's names the object's).
pub(crate) async fn read_small_as(call: &S3Call<'_>, body: Body, limit: usize, body_checksum: bool) -> Result<Vec<u8>, S3Error> {
    let (mut stream, checks) = decode_as(call, body, body_checksum)?;
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if buf.len() + chunk.len() > limit {
            return Err(S3Error::new("MaxMessageLengthExceeded", 400, "Your request was too big."));
        }
        buf.extend_from_slice(&chunk);
    }
    let mut digests = BodyDigests::new(checks.sha256_hex.is_some(), checks.checksum_algorithm);
    digests.update(&buf);
    checks.verify(&digests.finish())?;
    Ok(buf)
}
