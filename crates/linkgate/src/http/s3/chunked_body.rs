//! Glue between the aws-chunked decoder (`s3::chunked`) and request handling.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::body::S3Stream as BodyStream;
use crate::s3::chunked::{
    ChunkSigner, ChunkedDecoder, ChunkedError, ChunkedMode, decode_stream, parse_decoded_length, parse_trailer_header,
};
use crate::s3::error::S3Error;

impl From<ChunkedError> for S3Error {
    fn from(e: ChunkedError) -> Self {
        match e {
            // A failure of the underlying body keeps its own S3 error.
            ChunkedError::Body(inner) => match inner.downcast::<S3Error>() {
                Ok(s3) => *s3,
                Err(other) => {
                    tracing::debug!(error = %other, "request body failed");
                    S3Error::incomplete_body()
                }
            },
            other => S3Error::new(other.s3_code(), other.status(), other.message()),
        }
    }
}

/// Wraps `raw` in the aws-chunked decoder for payload mode `mode`, verifying chunk
/// signatures against the request's seed signature and the declared trailer.
pub(crate) fn decode(
    raw: impl Stream<Item = Result<Bytes, S3Error>> + Send + 'static,
    verified: &sigv4::Verified,
    mode: &str,
    trailer: Option<&str>,
    decoded_length: Option<&str>,
) -> Result<BodyStream, S3Error> {
    let mode = ChunkedMode::from_content_sha256(mode).ok_or_else(|| {
        S3Error::invalid_argument(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.",
            "x-amz-content-sha256",
            mode,
        )
    })?;
    let trailer = parse_trailer_header(trailer)?;
    let decoded = parse_decoded_length(decoded_length)?;
    let signer = mode.signs_chunks().then(|| ChunkSigner::from_verified(verified));
    let decoder = ChunkedDecoder::new(mode, signer, trailer, Some(decoded))?;
    Ok(decode_stream(raw, decoder).map(|r| r.map_err(S3Error::from)).boxed())
}
