//! Glue between the aws-chunked decoder and request handling.

use bytes::Bytes;
use futures_util::Stream;

use super::body::BodyStream;
use crate::s3::error::S3Error;

/// Wraps `raw` in the aws-chunked decoder for payload mode `mode`.
pub(crate) fn decode(
    raw: impl Stream<Item = Result<Bytes, S3Error>> + Send + 'static,
    verified: &sigv4::Verified,
    mode: &str,
    trailer: Option<&str>,
    decoded_length: Option<u64>,
) -> Result<BodyStream, S3Error> {
    let _ = (raw, verified, mode, trailer, decoded_length);
    Err(S3Error::not_implemented())
}
