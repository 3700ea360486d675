//! aws-chunked request bodies (`Content-Encoding: aws-chunked`), as current AWS SDKs
//! and the AWS CLI send them for PutObject and UploadPart.
//!
//! Three framings, named by `x-amz-content-sha256`:
//!
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: `hex(size);chunk-signature=SIG\r\nDATA\r\n`
//!   per chunk, ending with a signed empty chunk `0;chunk-signature=SIG\r\n\r\n`. Each
//!   signature chains from the previous one, starting at the request's header
//!   signature (the seed), so chunks can be neither forged, reordered nor dropped.
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: the same, then trailing headers
//!   (`x-amz-checksum-crc32:…\r\n`) and `x-amz-trailer-signature:SIG\r\n\r\n`, which
//!   signs the canonical trailers and chains from the empty chunk's signature.
//! - `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (what botocore, the AWS CLI and
//!   aws-sdk-rust send by default): `hex(size)\r\nDATA\r\n` per chunk, `0\r\n`,
//!   trailing headers, `\r\n`. Integrity comes from the trailing checksum only.
//!
//! [`ChunkedDecoder`] is a sans-IO state machine: it is fed bytes and hands back
//! decoded data and, last, an [`ChunkedEvent::End`] once every check passed. Signed
//! chunks are held until their signature is verified (so a forged chunk is never
//! released), which bounds memory to one chunk ([`MAX_CHUNK_SIZE`]); unsigned chunks
//! are released as they arrive, since nothing could be checked by holding them, and
//! a handler must therefore commit an upload only after `End` (or after
//! [`decode_stream`] ends without an error). [`decode_stream`] and [`decode_events`]
//! adapt it to a body stream.
//!
//! Parsing is strict where it matters (sizes, signatures, the declared length, the
//! declared trailer) and lenient where real clients differ: header lines may end in
//! `\n` or `\r\n`, and the body may stop after the last trailer line or after `0\r\n`
//! without the final empty line.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::stream::{self, Stream, StreamExt};
use sha2::{Digest, Sha256};
use sigv4::{EMPTY_SHA256, SigningKey, Verified};
use subtle::ConstantTimeEq;

use super::checksum::{ChecksumAlgorithm, Checksummer};

/// Largest signed chunk held in memory for verification. SDKs send 64 KiB, the Java
/// SDK 128 KiB; anything above this is refused rather than buffered.
pub const MAX_CHUNK_SIZE: usize = 16 * 1024 * 1024;

/// Longest chunk-size or trailer line, terminator included.
pub const MAX_LINE_LEN: usize = 4096;

/// Largest trailer section (all lines, terminators included).
pub const MAX_TRAILER_LEN: usize = 16 * 1024;

/// Most trailer lines accepted (SDKs send one checksum and one signature).
pub const MAX_TRAILER_LINES: usize = 16;

const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";
const CHUNK_SIGNATURE: &[u8] = b"chunk-signature=";

/// Which aws-chunked framing a request uses, from its `x-amz-content-sha256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkedMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: signed chunks, no trailer.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    SignedWithTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: plain chunks and an unsigned trailer.
    UnsignedWithTrailer,
}

impl ChunkedMode {
    /// The mode named by an `x-amz-content-sha256` value; `None` for anything else
    /// (a hash, `UNSIGNED-PAYLOAD`, or the SigV4a `STREAMING-AWS4-ECDSA-…` modes we do
    /// not support).
    pub fn from_content_sha256(value: &str) -> Option<Self> {
        match value {
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Some(Self::Signed),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Some(Self::SignedWithTrailer),
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Some(Self::UnsignedWithTrailer),
            _ => None,
        }
    }

    /// The `x-amz-content-sha256` value of this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signed => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Self::SignedWithTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            Self::UnsignedWithTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        }
    }

    /// True when every chunk carries a `chunk-signature` (needs a [`ChunkSigner`]).
    pub fn signs_chunks(self) -> bool {
        matches!(self, Self::Signed | Self::SignedWithTrailer)
    }

    /// True when the trailer carries an `x-amz-trailer-signature`.
    pub fn signs_trailer(self) -> bool {
        matches!(self, Self::SignedWithTrailer)
    }
}

/// What chunk signatures are computed with: the verified request's signing key,
/// `X-Amz-Date`, scope, and its header signature as the seed of the chain.
#[derive(Clone)]
pub struct ChunkSigner {
    /// The derived signing key of the request.
    pub key: SigningKey,
    /// `X-Amz-Date` in basic format (`20130524T000000Z`).
    pub amz_date: String,
    /// `yyyymmdd/region/service/aws4_request`.
    pub scope: String,
    /// The request's (verified) header signature: the "previous signature" of chunk 1.
    pub seed: String,
}

impl ChunkSigner {
    /// Everything the chain needs, from the verifier's proof.
    pub fn from_verified(verified: &Verified) -> Self {
        Self {
            key: verified.signing_key.clone(),
            amz_date: verified.signed_at.amz_format(),
            scope: verified.scope.clone(),
            seed: verified.signature.clone(),
        }
    }

    /// Raw signature of one chunk whose predecessor's signature is `previous` (hex).
    fn chunk_signature_raw(&self, previous: &str, data: &[u8]) -> [u8; 32] {
        let hash = sigv4::hex::encode(&Sha256::digest(data));
        let sts = format!("AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{}\n{}", self.amz_date, self.scope, previous, EMPTY_SHA256, hash);
        self.key.sign(sts.as_bytes())
    }

    /// Raw signature of a trailer section (`canonical` is `name:value\n` per header).
    fn trailer_signature_raw(&self, previous: &str, canonical: &[u8]) -> [u8; 32] {
        let hash = sigv4::hex::encode(&Sha256::digest(canonical));
        let sts = format!("AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}", self.amz_date, self.scope, previous, hash);
        self.key.sign(sts.as_bytes())
    }

    /// The `chunk-signature` (hex) of a chunk following `previous`; what a client
    /// computes, exposed for encoders and tests.
    pub fn chunk_signature(&self, previous: &str, data: &[u8]) -> String {
        sigv4::hex::encode(&self.chunk_signature_raw(previous, data))
    }

    /// The `x-amz-trailer-signature` (hex) of `trailers` after the chunk signed
    /// `previous`; trailers are canonicalised as `name:value\n` in the given order.
    pub fn trailer_signature(&self, previous: &str, trailers: &[(&str, &str)]) -> String {
        let canonical: Vec<(String, String)> = trailers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        sigv4::hex::encode(&self.trailer_signature_raw(previous, &canonical_trailers(&canonical)))
    }
}

impl fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The seed is a signature: never in logs.
        f.debug_struct("ChunkSigner").field("amz_date", &self.amz_date).field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// Why an aws-chunked body was refused; each maps to the S3 error a client expects.
#[derive(Debug)]
pub enum ChunkedError {
    /// A chunk or trailer signature does not match (forged, reordered or corrupted data).
    SignatureDoesNotMatch,
    /// The body ended in the middle of a chunk, a line, or before the final chunk.
    Truncated,
    /// The framing is broken (bad size, missing CRLF, bad or missing chunk signature…).
    Malformed(&'static str),
    /// A chunk-size or trailer line is longer than [`MAX_LINE_LEN`].
    LineTooLong,
    /// A signed chunk is larger than [`MAX_CHUNK_SIZE`] and would have to be buffered.
    ChunkTooLarge {
        /// The declared chunk size.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// The decoded bytes disagree with `x-amz-decoded-content-length`.
    DecodedLengthMismatch {
        /// The declared decoded length.
        expected: u64,
        /// The decoded length seen (or announced by a chunk header, for an overrun).
        actual: u64,
    },
    /// The trailer is not well-formed, missing, or not the one `x-amz-trailer` declared.
    MalformedTrailer(&'static str),
    /// A trailing checksum is not base64 of the algorithm's digest length.
    InvalidChecksumValue(ChecksumAlgorithm),
    /// The trailing checksum differs from the checksum of the decoded data.
    BadDigest(ChecksumAlgorithm),
    /// `x-amz-trailer` names something other than one `x-amz-checksum-*` header.
    UnsupportedTrailer,
    /// `x-amz-decoded-content-length` is missing.
    MissingDecodedLength,
    /// `x-amz-decoded-content-length` is not a decimal number.
    InvalidDecodedLength,
    /// A signed mode was requested without a [`ChunkSigner`]: a bug in the caller.
    MissingSigner,
    /// Reading the request body failed (client went away, transport error).
    Body(Box<dyn StdError + Send + Sync>),
}

impl ChunkedError {
    /// The S3 error code (`<Code>`).
    pub fn s3_code(&self) -> &'static str {
        match self {
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::Truncated | Self::Malformed(_) | Self::LineTooLong | Self::DecodedLengthMismatch { .. } | Self::Body(_) => {
                "IncompleteBody"
            }
            Self::ChunkTooLarge { .. } => "EntityTooLarge",
            Self::MalformedTrailer(_) => "MalformedTrailerError",
            Self::InvalidChecksumValue(_) | Self::UnsupportedTrailer => "InvalidRequest",
            Self::BadDigest(_) => "BadDigest",
            Self::MissingDecodedLength => "MissingContentLength",
            Self::InvalidDecodedLength => "InvalidArgument",
            Self::MissingSigner => "InternalError",
        }
    }

    /// The HTTP status S3 answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::SignatureDoesNotMatch => 403,
            Self::MissingDecodedLength => 411,
            Self::MissingSigner => 500,
            _ => 400,
        }
    }

    /// The S3 error message (`<Message>`), in S3's words.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            Self::SignatureDoesNotMatch => Cow::Borrowed(
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            ),
            Self::Truncated | Self::Malformed(_) | Self::LineTooLong | Self::Body(_) => {
                Cow::Borrowed("The request body terminated unexpectedly")
            }
            Self::DecodedLengthMismatch { .. } => {
                Cow::Borrowed("You did not provide the number of bytes specified by the Content-Length HTTP header")
            }
            Self::ChunkTooLarge { .. } => Cow::Borrowed("Your proposed upload exceeds the maximum allowed size"),
            Self::MalformedTrailer(_) => {
                Cow::Borrowed("The request contained trailing data that was not well-formed or did not conform to our published schema.")
            }
            Self::InvalidChecksumValue(alg) => Cow::Owned(format!("Value for {} trailing header is invalid.", alg.header_name())),
            Self::BadDigest(alg) => {
                Cow::Owned(format!("The {} you specified did not match the calculated checksum.", alg.algorithm_name()))
            }
            Self::UnsupportedTrailer => Cow::Borrowed("The value specified in the x-amz-trailer header is not supported"),
            Self::MissingDecodedLength => Cow::Borrowed("You must provide the Content-Length HTTP header."),
            Self::InvalidDecodedLength => Cow::Borrowed("The x-amz-decoded-content-length header is not a valid number."),
            Self::MissingSigner => Cow::Borrowed("We encountered an internal error. Please try again."),
        }
    }
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Details for logs; never a signature or data.
        match self {
            Self::SignatureDoesNotMatch => f.write_str("aws-chunked: chunk or trailer signature does not match"),
            Self::Truncated => f.write_str("aws-chunked: body ended early"),
            Self::Malformed(why) => write!(f, "aws-chunked: malformed body: {why}"),
            Self::LineTooLong => write!(f, "aws-chunked: line longer than {MAX_LINE_LEN} bytes"),
            Self::ChunkTooLarge { size, limit } => write!(f, "aws-chunked: signed chunk of {size} bytes exceeds {limit}"),
            Self::DecodedLengthMismatch { expected, actual } => {
                write!(f, "aws-chunked: x-amz-decoded-content-length is {expected} but the body holds {actual}")
            }
            Self::MalformedTrailer(why) => write!(f, "aws-chunked: malformed trailer: {why}"),
            Self::InvalidChecksumValue(alg) => write!(f, "aws-chunked: invalid {} value", alg.header_name()),
            Self::BadDigest(alg) => write!(f, "aws-chunked: {alg} mismatch"),
            Self::UnsupportedTrailer => f.write_str("aws-chunked: unsupported x-amz-trailer"),
            Self::MissingDecodedLength => f.write_str("aws-chunked: missing x-amz-decoded-content-length"),
            Self::InvalidDecodedLength => f.write_str("aws-chunked: invalid x-amz-decoded-content-length"),
            Self::MissingSigner => f.write_str("aws-chunked: signed mode without a chunk signer"),
            Self::Body(e) => write!(f, "aws-chunked: reading the body failed: {e}"),
        }
    }
}

impl StdError for ChunkedError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Body(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// Parses `x-amz-trailer`: `None` when absent or empty, the checksum it names, or
/// [`ChunkedError::UnsupportedTrailer`] for anything else (unknown names, several
/// checksums), as S3 refuses those up front.
pub fn parse_trailer_header(value: Option<&str>) -> Result<Option<ChecksumAlgorithm>, ChunkedError> {
    let mut found = None;
    for name in value.unwrap_or("").split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let alg = ChecksumAlgorithm::from_header_name(name).ok_or(ChunkedError::UnsupportedTrailer)?;
        if found.replace(alg).is_some() {
            return Err(ChunkedError::UnsupportedTrailer);
        }
    }
    Ok(found)
}

/// Parses `x-amz-decoded-content-length`, which S3 requires with aws-chunked bodies.
pub fn parse_decoded_length(value: Option<&str>) -> Result<u64, ChunkedError> {
    let value = value.map(str::trim).ok_or(ChunkedError::MissingDecodedLength)?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ChunkedError::InvalidDecodedLength);
    }
    value.parse().map_err(|_| ChunkedError::InvalidDecodedLength)
}

/// What the decoder produced from its input.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkedEvent {
    /// Decoded payload bytes, already verified when the mode signs chunks.
    Data(Bytes),
    /// The body is complete and every check passed: chunk signatures, length,
    /// trailer signature, trailing checksum. Commit the upload only now.
    End {
        /// Total decoded bytes.
        decoded_len: u64,
        /// Trailing headers, names lower-cased, without `x-amz-trailer-signature`.
        trailers: Vec<(String, String)>,
        /// The verified trailing checksum (base64), when one was declared: store it
        /// to answer `x-amz-checksum-*` on GET/HEAD.
        checksum: Option<(ChecksumAlgorithm, String)>,
    },
}

enum State {
    /// Expecting a chunk-size line.
    Header,
    /// Holding a signed chunk until all of it (and its CRLF) is here.
    SignedData { size: usize, signature: [u8; 32] },
    /// Streaming an unsigned chunk.
    UnsignedData { remaining: u64 },
    /// Expecting the CRLF after an unsigned chunk.
    DataEnd,
    /// After the final chunk: trailing headers up to an empty line or the end.
    Trailers(Trailers),
    /// `End` was returned; only line ends may follow.
    Done,
    /// An error was returned; the decoder refuses to go on.
    Failed,
}

#[derive(Default)]
struct Trailers {
    headers: Vec<(String, String)>,
    signature: Option<String>,
    lines: usize,
    bytes: usize,
}

/// Sans-IO aws-chunked decoder: feed it a buffer, take events.
///
/// Call [`decode`](Self::decode) whenever bytes were appended to the buffer, until it
/// returns `Ok(None)` (it needs more input); at the end of the body call
/// [`decode_eof`](Self::decode_eof) until it returns `Ok(None)`, which then means the
/// body is complete (an [`ChunkedEvent::End`] was returned before). After an error
/// the decoder only returns errors.
pub struct ChunkedDecoder {
    mode: ChunkedMode,
    signer: Option<ChunkSigner>,
    previous: String,
    expected_trailer: Option<ChecksumAlgorithm>,
    checksum: Option<Checksummer>,
    decoded_len: Option<u64>,
    total: u64,
    state: State,
}

impl ChunkedDecoder {
    /// A decoder for one request body.
    ///
    /// `signer` is required when `mode` signs chunks (else [`ChunkedError::MissingSigner`])
    /// and ignored otherwise. `expected_trailer` is the checksum named by
    /// `x-amz-trailer` (see [`parse_trailer_header`]): it must then arrive and match
    /// the decoded data, and no other trailer is accepted. `decoded_len` is
    /// `x-amz-decoded-content-length` (see [`parse_decoded_length`]); when given, the
    /// decoded total must equal it.
    pub fn new(
        mode: ChunkedMode,
        signer: Option<ChunkSigner>,
        expected_trailer: Option<ChecksumAlgorithm>,
        decoded_len: Option<u64>,
    ) -> Result<Self, ChunkedError> {
        let signer = if mode.signs_chunks() { Some(signer.ok_or(ChunkedError::MissingSigner)?) } else { None };
        let previous = signer.as_ref().map(|s| s.seed.to_ascii_lowercase()).unwrap_or_default();
        Ok(Self {
            mode,
            signer,
            previous,
            expected_trailer,
            checksum: expected_trailer.map(Checksummer::new),
            decoded_len,
            total: 0,
            state: State::Header,
        })
    }

    /// The framing this decoder expects.
    pub fn mode(&self) -> ChunkedMode {
        self.mode
    }

    /// Decoded bytes released so far.
    pub fn decoded_so_far(&self) -> u64 {
        self.total
    }

    /// True once [`ChunkedEvent::End`] was returned.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Consumes what it can from `buf` and returns the next event, or `Ok(None)` when
    /// it needs more input (or is finished). Bytes it cannot use yet stay in `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ChunkedEvent>, ChunkedError> {
        self.step(buf, false)
    }

    /// Like [`decode`](Self::decode), knowing no more input will come: a body that
    /// stops early is [`ChunkedError::Truncated`], and `Ok(None)` means finished.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<ChunkedEvent>, ChunkedError> {
        self.step(buf, true)
    }

    fn step(&mut self, buf: &mut BytesMut, eof: bool) -> Result<Option<ChunkedEvent>, ChunkedError> {
        loop {
            // Every path that continues puts a state back; an error leaves `Failed`.
            match std::mem::replace(&mut self.state, State::Failed) {
                State::Failed => return Err(ChunkedError::Malformed("decoding already failed")),
                State::Done => {
                    if buf.iter().any(|&b| b != b'\r' && b != b'\n') {
                        return Err(ChunkedError::Malformed("data after the end of the body"));
                    }
                    buf.clear();
                    self.state = State::Done;
                    return Ok(None);
                }
                State::Header => {
                    let Some(line) = take_line(buf, eof)? else {
                        if eof {
                            return Err(ChunkedError::Truncated);
                        }
                        self.state = State::Header;
                        return Ok(None);
                    };
                    let (size, signature) = parse_chunk_header(&line, self.mode.signs_chunks())?;
                    self.begin_chunk(size, signature)?;
                }
                State::SignedData { size, signature } => {
                    let needed = size + 2;
                    if buf.len() < needed {
                        if eof {
                            return Err(ChunkedError::Truncated);
                        }
                        buf.reserve(needed - buf.len());
                        self.state = State::SignedData { size, signature };
                        return Ok(None);
                    }
                    if &buf[size..needed] != b"\r\n" {
                        return Err(ChunkedError::Malformed("chunk data not followed by CRLF"));
                    }
                    let data = buf.split_to(size).freeze();
                    buf.advance(2);
                    self.verify_chunk(&data, &signature)?;
                    self.state = State::Header;
                    return Ok(Some(self.release(data)));
                }
                State::UnsignedData { remaining } => {
                    if buf.is_empty() {
                        if eof {
                            return Err(ChunkedError::Truncated);
                        }
                        self.state = State::UnsignedData { remaining };
                        return Ok(None);
                    }
                    let n = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
                    let left = remaining - n as u64;
                    self.state = if left == 0 { State::DataEnd } else { State::UnsignedData { remaining: left } };
                    let data = buf.split_to(n).freeze();
                    return Ok(Some(self.release(data)));
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        if buf.first().is_some_and(|&b| b != b'\r') {
                            return Err(ChunkedError::Malformed("chunk data not followed by CRLF"));
                        }
                        if eof {
                            return Err(ChunkedError::Truncated);
                        }
                        self.state = State::DataEnd;
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(ChunkedError::Malformed("chunk data not followed by CRLF"));
                    }
                    buf.advance(2);
                    self.state = State::Header;
                }
                State::Trailers(mut trailers) => match take_line(buf, eof)? {
                    None if eof => return self.finish(trailers).map(Some),
                    None => {
                        self.state = State::Trailers(trailers);
                        return Ok(None);
                    }
                    Some(line) if line.is_empty() => {
                        if self.trailers_complete(&trailers) {
                            return self.finish(trailers).map(Some);
                        }
                        // An empty line before the trailer we wait for (the AWS
                        // documentation's example has one): skip it, within bounds.
                        trailers.bytes += 2;
                        if trailers.bytes > MAX_TRAILER_LEN {
                            return Err(ChunkedError::MalformedTrailer("trailer section too large"));
                        }
                        self.state = State::Trailers(trailers);
                    }
                    Some(line) => {
                        add_trailer_line(&mut trailers, &line)?;
                        self.state = State::Trailers(trailers);
                    }
                },
            }
        }
    }

    /// Acts on a chunk-size line.
    fn begin_chunk(&mut self, size: u64, signature: Option<[u8; 32]>) -> Result<(), ChunkedError> {
        if let Some(expected) = self.decoded_len {
            match self.total.checked_add(size) {
                Some(end) if end <= expected => {}
                end => return Err(ChunkedError::DecodedLengthMismatch { expected, actual: end.unwrap_or(u64::MAX) }),
            }
        }
        if size == 0 {
            if let Some(signature) = signature {
                self.verify_chunk(b"", &signature)?;
            }
            if let Some(expected) = self.decoded_len
                && self.total != expected
            {
                return Err(ChunkedError::DecodedLengthMismatch { expected, actual: self.total });
            }
            self.state = State::Trailers(Trailers::default());
            return Ok(());
        }
        self.state = match signature {
            Some(signature) => {
                let size = usize::try_from(size)
                    .ok()
                    .filter(|&s| s <= MAX_CHUNK_SIZE)
                    .ok_or(ChunkedError::ChunkTooLarge { size, limit: MAX_CHUNK_SIZE })?;
                State::SignedData { size, signature }
            }
            None => State::UnsignedData { remaining: size },
        };
        Ok(())
    }

    /// Checks one chunk's signature against the chain and advances the chain.
    fn verify_chunk(&mut self, data: &[u8], provided: &[u8; 32]) -> Result<(), ChunkedError> {
        let signer = self.signer.as_ref().ok_or(ChunkedError::MissingSigner)?;
        let expected = signer.chunk_signature_raw(&self.previous, data);
        if !bool::from(expected.ct_eq(provided)) {
            return Err(ChunkedError::SignatureDoesNotMatch);
        }
        self.previous = sigv4::hex::encode(&expected);
        Ok(())
    }

    /// Counts and checksums verified bytes on their way out.
    fn release(&mut self, data: Bytes) -> ChunkedEvent {
        self.total += data.len() as u64;
        if let Some(c) = &mut self.checksum {
            c.update(&data);
        }
        ChunkedEvent::Data(data)
    }

    /// Whether an empty line ends the trailer section now.
    fn trailers_complete(&self, t: &Trailers) -> bool {
        let waiting_for_checksum = self.expected_trailer.is_some();
        if self.mode.signs_trailer() {
            t.signature.is_some() || (t.headers.is_empty() && !waiting_for_checksum)
        } else {
            !t.headers.is_empty() || !waiting_for_checksum
        }
    }

    /// Verifies the trailer section and ends the body.
    fn finish(&mut self, t: Trailers) -> Result<ChunkedEvent, ChunkedError> {
        if self.mode.signs_trailer() {
            if !t.headers.is_empty() || t.signature.is_some() {
                let signature =
                    t.signature.as_deref().ok_or(ChunkedError::MalformedTrailer("trailing headers without x-amz-trailer-signature"))?;
                self.verify_trailer_signature(&t.headers, signature)?;
            }
        } else if t.signature.is_some() {
            return Err(ChunkedError::MalformedTrailer("x-amz-trailer-signature in a body whose trailer is unsigned"));
        }

        let mut value = None;
        for (name, v) in &t.headers {
            match self.expected_trailer {
                Some(alg) if name == alg.header_name() => {
                    if value.replace(v.as_str()).is_some() {
                        return Err(ChunkedError::MalformedTrailer("trailing checksum sent twice"));
                    }
                }
                _ => return Err(ChunkedError::MalformedTrailer("trailing header not declared in x-amz-trailer")),
            }
        }
        let checksum = match (self.expected_trailer, self.checksum.take()) {
            (Some(alg), Some(computed)) => {
                let value = value.ok_or(ChunkedError::MalformedTrailer("the trailing header declared in x-amz-trailer is missing"))?;
                let provided = alg.decode_value(value).ok_or(ChunkedError::InvalidChecksumValue(alg))?;
                let computed = computed.finish_bytes();
                if provided != computed {
                    return Err(ChunkedError::BadDigest(alg));
                }
                Some((alg, BASE64.encode(computed)))
            }
            _ => None,
        };
        self.state = State::Done;
        Ok(ChunkedEvent::End { decoded_len: self.total, trailers: t.headers, checksum })
    }

    /// Checks `x-amz-trailer-signature` over the trailing headers, canonicalised in
    /// name order (as the .NET and Java SDKs sign them) or, failing that, in the order
    /// received (as aws-sdk-rust writes them); identical for the usual single header.
    fn verify_trailer_signature(&self, headers: &[(String, String)], signature: &str) -> Result<(), ChunkedError> {
        let signer = self.signer.as_ref().ok_or(ChunkedError::MissingSigner)?;
        let provided = sigv4::hex::decode_32(signature).ok_or(ChunkedError::SignatureDoesNotMatch)?;
        let mut sorted = headers.to_vec();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut candidates = vec![sorted];
        if candidates[0].as_slice() != headers {
            candidates.push(headers.to_vec());
        }
        for candidate in candidates {
            let expected = signer.trailer_signature_raw(&self.previous, &canonical_trailers(&candidate));
            if bool::from(expected.ct_eq(&provided)) {
                return Ok(());
            }
        }
        Err(ChunkedError::SignatureDoesNotMatch)
    }
}

impl fmt::Debug for ChunkedDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkedDecoder")
            .field("mode", &self.mode)
            .field("expected_trailer", &self.expected_trailer)
            .field("decoded_len", &self.decoded_len)
            .field("total", &self.total)
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// `name:value\n` per header: the string whose hash the trailer signature signs.
fn canonical_trailers(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Removes one line from `buf` and returns it without its `\n` or `\r\n`. At the end of
/// the body an unterminated last line counts as a line. `Ok(None)`: no full line yet
/// (or nothing left at the end).
fn take_line(buf: &mut BytesMut, eof: bool) -> Result<Option<BytesMut>, ChunkedError> {
    let window = &buf[..buf.len().min(MAX_LINE_LEN)];
    let mut line = if let Some(i) = window.iter().position(|&b| b == b'\n') {
        let mut line = buf.split_to(i + 1);
        line.truncate(i);
        line
    } else if buf.len() >= MAX_LINE_LEN {
        return Err(ChunkedError::LineTooLong);
    } else if eof && !buf.is_empty() {
        buf.split()
    } else {
        return Ok(None);
    };
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    Ok(Some(line))
}

/// Parses `hex-size[;chunk-signature=64hex]`.
fn parse_chunk_header(line: &[u8], signed: bool) -> Result<(u64, Option<[u8; 32]>), ChunkedError> {
    let end = line.iter().rposition(|&b| !is_blank(b)).map_or(0, |i| i + 1);
    let line = &line[..end];
    let (size, extension) = match line.iter().position(|&b| b == b';') {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    };
    if size.is_empty() {
        return Err(ChunkedError::Malformed("empty chunk size"));
    }
    let mut value: u64 = 0;
    for &b in size {
        let digit = (b as char).to_digit(16).ok_or(ChunkedError::Malformed("chunk size is not hexadecimal"))?;
        value =
            value.checked_mul(16).and_then(|v| v.checked_add(u64::from(digit))).ok_or(ChunkedError::Malformed("chunk size overflows"))?;
    }
    match (signed, extension) {
        (true, Some(ext)) => {
            let hex = ext.strip_prefix(CHUNK_SIGNATURE).ok_or(ChunkedError::Malformed("expected chunk-signature="))?;
            let signature = std::str::from_utf8(hex)
                .ok()
                .and_then(sigv4::hex::decode_32)
                .ok_or(ChunkedError::Malformed("chunk-signature is not 64 hex digits"))?;
            Ok((value, Some(signature)))
        }
        (true, None) => Err(ChunkedError::Malformed("chunk without chunk-signature in a signed body")),
        (false, Some(_)) => Err(ChunkedError::Malformed("chunk extension in an unsigned body")),
        (false, None) => Ok((value, None)),
    }
}

/// Adds one `name:value` trailer line.
fn add_trailer_line(t: &mut Trailers, line: &[u8]) -> Result<(), ChunkedError> {
    t.lines += 1;
    t.bytes += line.len() + 2;
    if t.lines > MAX_TRAILER_LINES || t.bytes > MAX_TRAILER_LEN {
        return Err(ChunkedError::MalformedTrailer("trailer section too large"));
    }
    let line = std::str::from_utf8(line).map_err(|_| ChunkedError::MalformedTrailer("trailer line is not text"))?;
    let (name, value) = line.split_once(':').ok_or(ChunkedError::MalformedTrailer("trailer line without a colon"))?;
    let name = name.trim_matches(|c| c == ' ' || c == '\t');
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(ChunkedError::MalformedTrailer("invalid trailer name"));
    }
    let name = name.to_ascii_lowercase();
    let value = value.trim_matches(|c| c == ' ' || c == '\t').to_owned();
    if name == TRAILER_SIGNATURE {
        if t.signature.replace(value).is_some() {
            return Err(ChunkedError::MalformedTrailer("x-amz-trailer-signature sent twice"));
        }
    } else {
        t.headers.push((name, value));
    }
    Ok(())
}

/// Optional whitespace in HTTP: space and horizontal tab, nothing else.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Drives a decoder over a body stream, yielding every event: data as it is
/// verified, then [`ChunkedEvent::End`] with the trailers and verified checksum.
///
/// Memory stays bounded by one signed chunk plus one body frame. The stream stops
/// after the first error. After `End` the rest of the body is read and must hold at
/// most line ends.
pub fn decode_events<S, E>(body: S, decoder: ChunkedDecoder) -> impl Stream<Item = Result<ChunkedEvent, ChunkedError>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    struct Driver<S> {
        body: std::pin::Pin<Box<S>>,
        decoder: ChunkedDecoder,
        buf: BytesMut,
        eof: bool,
        stopped: bool,
    }

    let driver = Driver { body: Box::pin(body), decoder, buf: BytesMut::new(), eof: false, stopped: false };
    stream::unfold(driver, |mut d| async move {
        loop {
            if d.stopped {
                return None;
            }
            let step = if d.eof { d.decoder.decode_eof(&mut d.buf) } else { d.decoder.decode(&mut d.buf) };
            match step {
                Err(e) => {
                    d.stopped = true;
                    return Some((Err(e), d));
                }
                Ok(Some(event)) => return Some((Ok(event), d)),
                Ok(None) if d.eof => return None,
                Ok(None) => match d.body.next().await {
                    Some(Ok(bytes)) => d.buf.extend_from_slice(&bytes),
                    Some(Err(e)) => {
                        d.stopped = true;
                        return Some((Err(ChunkedError::Body(e.into())), d));
                    }
                    None => d.eof = true,
                },
            }
        }
    })
}

/// Drives a decoder over a body stream, yielding the decoded payload only.
///
/// The stream ends (`None`) only after the whole body verified, trailer and checksum
/// included; any failure is its last item. So a writer that commits on `None` and
/// discards on `Err` never stores a forged, truncated or corrupted upload. Use
/// [`decode_events`] to also get the trailing checksum.
pub fn decode_stream<S, E>(body: S, decoder: ChunkedDecoder) -> impl Stream<Item = Result<Bytes, ChunkedError>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    decode_events(body, decoder).filter_map(|item| {
        std::future::ready(match item {
            Ok(ChunkedEvent::Data(bytes)) => Some(Ok(bytes)),
            Ok(ChunkedEvent::End { .. }) => None,
            Err(e) => Some(Err(e)),
        })
    })
}

/// Encodes `chunks` and `trailers` as the SDKs send an aws-chunked body: each
/// chunk's size line (with its signature when `mode` signs chunks, chained from
/// `signer`'s seed) ended by `eol`, its bytes, the final empty chunk, the trailers
/// (signed when `mode` signs them) and, if `final_line`, the closing empty line.
///
/// The server only decodes; this is the other side, for tests and fuzzing (`eol`
/// `\n` and a missing final line are what lenient or cut-off clients send).
pub fn encode(
    mode: ChunkedMode,
    signer: Option<&ChunkSigner>,
    chunks: &[&[u8]],
    trailers: &[(&str, &str)],
    eol: &[u8],
    final_line: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut previous = signer.map(|s| s.seed.clone()).unwrap_or_default();
    for data in chunks.iter().copied().chain(std::iter::once(&b""[..])) {
        out.extend_from_slice(format!("{:x}", data.len()).as_bytes());
        if let Some(s) = signer.filter(|_| mode.signs_chunks()) {
            previous = s.chunk_signature(&previous, data);
            out.extend_from_slice(format!(";chunk-signature={previous}").as_bytes());
        }
        out.extend_from_slice(eol);
        if !data.is_empty() {
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
    }
    for (name, value) in trailers {
        out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
    }
    if let Some(s) = signer.filter(|_| mode.signs_trailer() && !trailers.is_empty()) {
        let sig = s.trailer_signature(&previous, trailers);
        out.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
    }
    if final_line {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20130524T000000Z";
    const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
    /// Seed of the AWS example for STREAMING-AWS4-HMAC-SHA256-PAYLOAD.
    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    /// Seed of the AWS example for STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.
    const TRAILER_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";

    fn signer(seed: &str) -> ChunkSigner {
        ChunkSigner {
            key: SigningKey::derive(SECRET, "20130524", "us-east-1", "s3"),
            amz_date: DATE.to_owned(),
            scope: SCOPE.to_owned(),
            seed: seed.to_owned(),
        }
    }

    /// Encodes a body the way the SDKs do (see [`super::encode`]).
    fn encode(mode: ChunkedMode, signer: Option<&ChunkSigner>, chunks: &[&[u8]], trailers: &[(&str, &str)]) -> Vec<u8> {
        super::encode(mode, signer, chunks, trailers, b"\r\n", true)
    }

    fn decoder(mode: ChunkedMode, seed: &str, trailer: Option<ChecksumAlgorithm>, len: Option<u64>) -> ChunkedDecoder {
        ChunkedDecoder::new(mode, Some(signer(seed)), trailer, len).unwrap()
    }

    /// Feeds `pieces` in order, then EOF; collects data, the end event, or the error.
    fn run_pieces(mut dec: ChunkedDecoder, pieces: &[&[u8]]) -> (Vec<u8>, Result<ChunkedEvent, ChunkedError>) {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut end = None;
        let mut absorb = |ev: ChunkedEvent, out: &mut Vec<u8>| match ev {
            ChunkedEvent::Data(b) => {
                assert!(!b.is_empty(), "empty data event");
                out.extend_from_slice(&b);
            }
            e @ ChunkedEvent::End { .. } => {
                assert!(end.is_none(), "two End events");
                end = Some(e);
            }
        };
        for piece in pieces {
            buf.extend_from_slice(piece);
            loop {
                match dec.decode(&mut buf) {
                    Ok(Some(ev)) => absorb(ev, &mut out),
                    Ok(None) => break,
                    Err(e) => return (out, Err(e)),
                }
            }
        }
        loop {
            match dec.decode_eof(&mut buf) {
                Ok(Some(ev)) => absorb(ev, &mut out),
                Ok(None) => break,
                Err(e) => return (out, Err(e)),
            }
        }
        assert!(dec.is_finished());
        (out, Ok(end.expect("finished without End")))
    }

    fn run(dec: ChunkedDecoder, body: &[u8]) -> (Vec<u8>, Result<ChunkedEvent, ChunkedError>) {
        run_pieces(dec, &[body])
    }

    fn run_bytewise(dec: ChunkedDecoder, body: &[u8]) -> (Vec<u8>, Result<ChunkedEvent, ChunkedError>) {
        let pieces: Vec<&[u8]> = body.chunks(1).collect();
        run_pieces(dec, &pieces)
    }

    fn aws_example_body(seed: &str) -> Vec<u8> {
        let s = signer(seed);
        encode(ChunkedMode::Signed, Some(&s), &[&[b'a'; 65536], &[b'a'; 1024]], &[])
    }

    #[test]
    fn reproduces_the_aws_documentation_chunk_signatures() {
        let s = signer(SEED);
        let c1 = s.chunk_signature(SEED, &[b'a'; 65536]);
        assert_eq!(c1, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
        let c2 = s.chunk_signature(&c1, &[b'a'; 1024]);
        assert_eq!(c2, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
        let c3 = s.chunk_signature(&c2, b"");
        assert_eq!(c3, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
    }

    #[test]
    fn decodes_the_aws_documentation_example() {
        // Written out literally, as in the documentation.
        let mut body = Vec::new();
        body.extend_from_slice(b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
        body.extend_from_slice(&[b'a'; 65536]);
        body.extend_from_slice(b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
        assert_eq!(body, aws_example_body(SEED));

        let (data, end) = run(decoder(ChunkedMode::Signed, SEED, None, Some(66560)), &body);
        assert_eq!(data, vec![b'a'; 66560]);
        assert_eq!(end.unwrap(), ChunkedEvent::End { decoded_len: 66560, trailers: vec![], checksum: None });

        // Releases each chunk whole, once verified.
        let mut dec = decoder(ChunkedMode::Signed, SEED, None, Some(66560));
        let mut buf = BytesMut::from(&body[..body.len() - 100]);
        assert!(matches!(dec.decode(&mut buf).unwrap(), Some(ChunkedEvent::Data(b)) if b.len() == 65536));
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        assert_eq!(dec.decoded_so_far(), 65536);
    }

    #[test]
    fn decodes_the_aws_documentation_trailer_example() {
        let s = signer(TRAILER_SEED);
        let c1 = s.chunk_signature(TRAILER_SEED, &[b'a'; 65536]);
        assert_eq!(c1, "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2");
        let c2 = s.chunk_signature(&c1, &[b'a'; 1024]);
        assert_eq!(c2, "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7");
        let c3 = s.chunk_signature(&c2, b"");
        assert_eq!(c3, "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992");
        let ts = s.trailer_signature(&c3, &[("x-amz-checksum-crc32c", "sOO8/Q==")]);
        assert_eq!(ts, "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435");

        let head = {
            let mut b = Vec::new();
            b.extend_from_slice(format!("10000;chunk-signature={c1}\r\n").as_bytes());
            b.extend_from_slice(&[b'a'; 65536]);
            b.extend_from_slice(format!("\r\n400;chunk-signature={c2}\r\n").as_bytes());
            b.extend_from_slice(&[b'a'; 1024]);
            b.extend_from_slice(format!("\r\n0;chunk-signature={c3}\r\n").as_bytes());
            b
        };
        let trailer = format!("x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:{ts}");
        // As the SDKs send it, as the documentation prints it (no final CRLFs), and with
        // an empty line after the final chunk.
        for tail in [format!("{trailer}\r\n\r\n"), trailer.clone(), format!("\r\n{trailer}")] {
            let mut body = head.clone();
            body.extend_from_slice(tail.as_bytes());
            let dec = decoder(ChunkedMode::SignedWithTrailer, TRAILER_SEED, Some(ChecksumAlgorithm::Crc32c), Some(66560));
            let (data, end) = run(dec, &body);
            assert_eq!(data.len(), 66560);
            assert_eq!(
                end.unwrap(),
                ChunkedEvent::End {
                    decoded_len: 66560,
                    trailers: vec![("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())],
                    checksum: Some((ChecksumAlgorithm::Crc32c, "sOO8/Q==".to_owned())),
                },
                "{tail:?}"
            );
        }
        assert_eq!(
            encode(ChunkedMode::SignedWithTrailer, Some(&s), &[&[b'a'; 65536], &[b'a'; 1024]], &[("x-amz-checksum-crc32c", "sOO8/Q==")]),
            [head, format!("{trailer}\r\n\r\n").into_bytes()].concat()
        );

        // A forged trailer value with the genuine signature fails on the signature.
        let mut body =
            encode(ChunkedMode::SignedWithTrailer, Some(&s), &[&[b'a'; 65536], &[b'a'; 1024]], &[("x-amz-checksum-crc32c", "sOO8/Q==")]);
        let at = body.windows(8).position(|w| w == b"sOO8/Q==").unwrap();
        body[at..at + 8].copy_from_slice(b"AAAAAA==");
        let dec = decoder(ChunkedMode::SignedWithTrailer, TRAILER_SEED, Some(ChecksumAlgorithm::Crc32c), Some(66560));
        assert!(matches!(run(dec, &body).1, Err(ChunkedError::SignatureDoesNotMatch)));
    }

    #[test]
    fn tampered_chunks_are_rejected_before_release() {
        let body = aws_example_body(SEED);
        // Flip one byte of the first chunk's data: nothing of it may come out.
        let mut forged = body.clone();
        forged[200] = b'b';
        let (data, end) = run(decoder(ChunkedMode::Signed, SEED, None, None), &forged);
        assert!(data.is_empty());
        assert!(matches!(end, Err(ChunkedError::SignatureDoesNotMatch)));
        assert_eq!(end.unwrap_err().status(), 403);

        // Flip a byte of the second chunk: the first is released, the second is not.
        let mut forged = body.clone();
        forged[65536 + 200] = b'b';
        let (data, end) = run(decoder(ChunkedMode::Signed, SEED, None, None), &forged);
        assert_eq!(data.len(), 65536);
        assert!(matches!(end, Err(ChunkedError::SignatureDoesNotMatch)));

        // A different seed (another request's signature) breaks the whole chain.
        let (data, end) = run(decoder(ChunkedMode::Signed, TRAILER_SEED, None, None), &body);
        assert!(data.is_empty());
        assert!(matches!(end, Err(ChunkedError::SignatureDoesNotMatch)));

        // A wrong signature on the final empty chunk.
        let mut forged = body.clone();
        let n = forged.len();
        forged[n - 5] = if forged[n - 5] == b'0' { b'1' } else { b'0' };
        let (_, end) = run(decoder(ChunkedMode::Signed, SEED, None, None), &forged);
        assert!(matches!(end, Err(ChunkedError::SignatureDoesNotMatch)));

        // Dropping the middle chunk (a valid chunk, out of chain) fails.
        let s = signer(SEED);
        let whole = encode(ChunkedMode::Signed, Some(&s), &[b"one", b"two", b"three"], &[]);
        let second_start = whole.windows(5).position(|w| w == b"one\r\n").unwrap() + 5;
        let second_end = whole.windows(5).position(|w| w == b"two\r\n").unwrap() + 5;
        let dropped = [&whole[..second_start], &whole[second_end..]].concat();
        let (data, end) = run(decoder(ChunkedMode::Signed, SEED, None, None), &dropped);
        assert_eq!(data, b"one");
        assert!(matches!(end, Err(ChunkedError::SignatureDoesNotMatch)));
    }

    #[test]
    fn signed_mode_needs_signer_and_signatures() {
        assert!(matches!(ChunkedDecoder::new(ChunkedMode::Signed, None, None, None), Err(ChunkedError::MissingSigner)));
        assert!(matches!(ChunkedDecoder::new(ChunkedMode::SignedWithTrailer, None, None, None), Err(ChunkedError::MissingSigner)));
        assert!(ChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, None, None, None).is_ok());

        // Unsigned framing in a signed mode.
        let (_, end) = run(decoder(ChunkedMode::Signed, SEED, None, None), b"3\r\nabc\r\n0\r\n\r\n");
        assert!(matches!(end, Err(ChunkedError::Malformed(_))));
        // A signature in the unsigned mode.
        let signed = aws_example_body(SEED);
        let (_, end) = run(ChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, None, None, None).unwrap(), &signed);
        assert!(matches!(end, Err(ChunkedError::Malformed(_))));
        // Short or non-hex signatures.
        for bad in ["3;chunk-signature=abc\r\n", "3;chunk-signature=\r\n", "3;signature=00\r\n", "3;\r\n"] {
            let (_, end) = run(decoder(ChunkedMode::Signed, SEED, None, None), bad.as_bytes());
            assert!(matches!(end, Err(ChunkedError::Malformed(_))), "{bad}");
        }
        let mut sig_garbage = b"3;chunk-signature=".to_vec();
        sig_garbage.extend_from_slice(&[b'z'; 64]);
        sig_garbage.extend_from_slice(b"\r\nabc\r\n");
        assert!(matches!(run(decoder(ChunkedMode::Signed, SEED, None, None), &sig_garbage).1, Err(ChunkedError::Malformed(_))));
    }

    fn unsigned(trailer: Option<ChecksumAlgorithm>, len: Option<u64>) -> ChunkedDecoder {
        ChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, None, trailer, len).unwrap()
    }

    #[test]
    fn unsigned_trailer_checksums() {
        let data = b"hello world";
        for alg in ChecksumAlgorithm::ALL {
            let good = alg.compute(data);
            let body = encode(ChunkedMode::UnsignedWithTrailer, None, &[b"hello ", b"world"], &[(alg.header_name(), &good)]);
            let (out, end) = run(unsigned(Some(alg), Some(11)), &body);
            assert_eq!(out, data);
            assert_eq!(
                end.unwrap(),
                ChunkedEvent::End {
                    decoded_len: 11,
                    trailers: vec![(alg.header_name().to_owned(), good.clone())],
                    checksum: Some((alg, good.clone())),
                }
            );

            // The checksum of other data: BadDigest, with S3's message.
            let wrong = alg.compute(b"hello World");
            let body = encode(ChunkedMode::UnsignedWithTrailer, None, &[b"hello ", b"world"], &[(alg.header_name(), &wrong)]);
            let err = run(unsigned(Some(alg), Some(11)), &body).1.unwrap_err();
            assert!(matches!(err, ChunkedError::BadDigest(a) if a == alg), "{alg}: {err:?}");
            assert_eq!(err.s3_code(), "BadDigest");
            assert_eq!(err.status(), 400);
            assert_eq!(err.message(), format!("The {} you specified did not match the calculated checksum.", alg.algorithm_name()));

            // Not base64 / wrong length: InvalidRequest.
            for bad in ["!!!!", "AAAA", ""] {
                let body = encode(ChunkedMode::UnsignedWithTrailer, None, &[data], &[(alg.header_name(), bad)]);
                let err = run(unsigned(Some(alg), Some(11)), &body).1.unwrap_err();
                assert!(matches!(err, ChunkedError::InvalidChecksumValue(a) if a == alg), "{alg} {bad:?}: {err:?}");
                assert_eq!(err.s3_code(), "InvalidRequest");
            }
        }
        // Exact known values on the wire.
        let body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        assert!(run(unsigned(Some(ChecksumAlgorithm::Crc32), Some(11)), body).1.is_ok());
        let body = b"B\r\nhello world\r\n0\r\nx-amz-checksum-crc32c:yZRlqg==\r\n\r\n";
        assert!(run(unsigned(Some(ChecksumAlgorithm::Crc32c), Some(11)), body).1.is_ok());
        let body = b"B\r\nhello world\r\n0\r\nx-amz-checksum-crc32c:DUoRhQ==\r\n\r\n";
        assert!(matches!(run(unsigned(Some(ChecksumAlgorithm::Crc32c), Some(11)), body).1, Err(ChunkedError::BadDigest(_))));
    }

    #[test]
    fn unsigned_framings_real_clients_send() {
        let crc = "x-amz-checksum-crc32:DUoRhQ==";
        for body in [
            // botocore / aws-sdk-rust: one chunk (upper-case hex from Rust), CRLF-terminated.
            format!("B\r\nhello world\r\n0\r\n{crc}\r\n\r\n"),
            // Several chunks.
            format!("5\r\nhello\r\n6\r\n world\r\n0\r\n{crc}\r\n\r\n"),
            // No final empty line.
            format!("b\r\nhello world\r\n0\r\n{crc}\r\n"),
            format!("b\r\nhello world\r\n0\r\n{crc}"),
            // Bare LF line ends on header lines, trailing blanks, leading zeros.
            format!("0000b  \nhello world\r\n0\n{crc}\n\n"),
            // Mixed-case trailer name, spaces around the value.
            "b\r\nhello world\r\n0\r\nX-Amz-Checksum-CRC32:  DUoRhQ== \r\n\r\n".to_owned(),
        ] {
            let (out, end) = run(unsigned(Some(ChecksumAlgorithm::Crc32), Some(11)), body.as_bytes());
            assert_eq!(out, b"hello world", "{body:?}");
            let end = end.unwrap_or_else(|e| panic!("{body:?}: {e:?}"));
            assert!(matches!(end, ChunkedEvent::End { checksum: Some(_), .. }));
        }
        // No trailer declared or sent.
        for body in ["b\r\nhello world\r\n0\r\n\r\n", "b\r\nhello world\r\n0\r\n", "b\r\nhello world\r\n0"] {
            let (out, end) = run(unsigned(None, Some(11)), body.as_bytes());
            assert_eq!(out, b"hello world");
            assert_eq!(end.unwrap(), ChunkedEvent::End { decoded_len: 11, trailers: vec![], checksum: None });
        }
        // Empty object.
        let (out, end) = run(unsigned(Some(ChecksumAlgorithm::Crc32), Some(0)), b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
        assert!(out.is_empty());
        assert!(end.is_ok());
    }

    #[test]
    fn trailers_must_match_the_declaration() {
        let crc = "x-amz-checksum-crc32:DUoRhQ==";
        // Declared but missing.
        for body in ["b\r\nhello world\r\n0\r\n\r\n", "b\r\nhello world\r\n0\r\n"] {
            let err = run(unsigned(Some(ChecksumAlgorithm::Crc32), None), body.as_bytes()).1.unwrap_err();
            assert!(matches!(err, ChunkedError::MalformedTrailer(_)), "{body:?}: {err:?}");
            assert_eq!(err.s3_code(), "MalformedTrailerError");
        }
        // Sent but not declared, or a different one than declared.
        let body = format!("b\r\nhello world\r\n0\r\n{crc}\r\n\r\n");
        assert!(matches!(run(unsigned(None, None), body.as_bytes()).1, Err(ChunkedError::MalformedTrailer(_))));
        let err = run(unsigned(Some(ChecksumAlgorithm::Crc32c), None), body.as_bytes()).1.unwrap_err();
        assert!(matches!(err, ChunkedError::MalformedTrailer(_)), "{err:?}");
        // Twice.
        let body = format!("b\r\nhello world\r\n0\r\n{crc}\r\n{crc}\r\n\r\n");
        assert!(matches!(run(unsigned(Some(ChecksumAlgorithm::Crc32), None), body.as_bytes()).1, Err(ChunkedError::MalformedTrailer(_))));
        // Not name:value.
        for line in ["no colon", ":value", "bad name:x", "x-amz-checksum-crc32"] {
            let body = format!("b\r\nhello world\r\n0\r\n{line}\r\n\r\n");
            let err = run(unsigned(Some(ChecksumAlgorithm::Crc32), None), body.as_bytes()).1.unwrap_err();
            assert!(matches!(err, ChunkedError::MalformedTrailer(_)), "{line:?}: {err:?}");
        }
        // A trailer signature where none is expected.
        let body = format!("b\r\nhello world\r\n0\r\n{crc}\r\nx-amz-trailer-signature:{SEED}\r\n\r\n");
        assert!(matches!(run(unsigned(Some(ChecksumAlgorithm::Crc32), None), body.as_bytes()).1, Err(ChunkedError::MalformedTrailer(_))));
        // Endless empty lines while a trailer is awaited.
        let body = format!("0\r\n{}", "\r\n".repeat(MAX_TRAILER_LEN));
        assert!(matches!(run(unsigned(Some(ChecksumAlgorithm::Crc32), None), body.as_bytes()).1, Err(ChunkedError::MalformedTrailer(_))));
        // Too many lines.
        let many: String = (0..40).map(|i| format!("x-amz-meta-{i}:v\r\n")).collect();
        let body = format!("0\r\n{many}\r\n");
        assert!(matches!(run(unsigned(None, None), body.as_bytes()).1, Err(ChunkedError::MalformedTrailer(_))));
    }

    #[test]
    fn signed_trailer_mode() {
        let s = signer(SEED);
        let crc = ChecksumAlgorithm::Crc32.compute(b"hello world");
        let trailers = [("x-amz-checksum-crc32", crc.as_str())];
        let body = encode(ChunkedMode::SignedWithTrailer, Some(&s), &[b"hello ", b"world"], &trailers);
        let (out, end) = run(decoder(ChunkedMode::SignedWithTrailer, SEED, Some(ChecksumAlgorithm::Crc32), Some(11)), &body);
        assert_eq!(out, b"hello world");
        assert!(matches!(end.unwrap(), ChunkedEvent::End { checksum: Some((ChecksumAlgorithm::Crc32, _)), .. }));

        // Signature missing.
        let text = String::from_utf8(body.clone()).unwrap();
        let cut = text.find("x-amz-trailer-signature").unwrap();
        let unsigned_trailer = format!("{}\r\n", &text[..cut]);
        let err = run(decoder(ChunkedMode::SignedWithTrailer, SEED, Some(ChecksumAlgorithm::Crc32), Some(11)), unsigned_trailer.as_bytes())
            .1
            .unwrap_err();
        assert!(matches!(err, ChunkedError::MalformedTrailer(_)), "{err:?}");

        // Signature of the wrong previous chunk / garbage.
        let wrong = format!("{}x-amz-trailer-signature:{SEED}\r\n\r\n", &text[..cut]);
        let err = run(decoder(ChunkedMode::SignedWithTrailer, SEED, Some(ChecksumAlgorithm::Crc32), Some(11)), wrong.as_bytes()).1;
        assert!(matches!(err, Err(ChunkedError::SignatureDoesNotMatch)));
        let wrong = format!("{}x-amz-trailer-signature:xyz\r\n\r\n", &text[..cut]);
        let err = run(decoder(ChunkedMode::SignedWithTrailer, SEED, Some(ChecksumAlgorithm::Crc32), Some(11)), wrong.as_bytes()).1;
        assert!(matches!(err, Err(ChunkedError::SignatureDoesNotMatch)));

        // Signed correctly but the checksum is of other data: BadDigest.
        let other = ChecksumAlgorithm::Crc32.compute(b"other");
        let body = encode(ChunkedMode::SignedWithTrailer, Some(&s), &[b"hello world"], &[("x-amz-checksum-crc32", &other)]);
        let err = run(decoder(ChunkedMode::SignedWithTrailer, SEED, Some(ChecksumAlgorithm::Crc32), Some(11)), &body).1;
        assert!(matches!(err, Err(ChunkedError::BadDigest(ChecksumAlgorithm::Crc32))));

        // No trailers at all (aws-sdk-rust without a checksum): just the final chunk.
        let body = encode(ChunkedMode::SignedWithTrailer, Some(&s), &[b"hello world"], &[]);
        let (out, end) = run(decoder(ChunkedMode::SignedWithTrailer, SEED, None, Some(11)), &body);
        assert_eq!(out, b"hello world");
        assert!(end.is_ok());

        // Signature line first (header-map order) is accepted too.
        let sig = s.trailer_signature(
            &{
                let c1 = s.chunk_signature(SEED, b"hello world");
                s.chunk_signature(&c1, b"")
            },
            &trailers,
        );
        let c1 = s.chunk_signature(SEED, b"hello world");
        let c2 = s.chunk_signature(&c1, b"");
        let body = format!(
            "b;chunk-signature={c1}\r\nhello world\r\n0;chunk-signature={c2}\r\nx-amz-trailer-signature:{sig}\r\nx-amz-checksum-crc32:{crc}\r\n\r\n"
        );
        let (_, end) = run(decoder(ChunkedMode::SignedWithTrailer, SEED, Some(ChecksumAlgorithm::Crc32), Some(11)), body.as_bytes());
        assert!(end.is_ok(), "{end:?}");
    }

    #[test]
    fn decoded_length_is_enforced() {
        let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        // Longer than declared: refused at the chunk header, before the data goes out.
        let (out, end) = run(unsigned(None, Some(8)), body);
        assert_eq!(out, b"hello");
        let err = end.unwrap_err();
        assert!(matches!(err, ChunkedError::DecodedLengthMismatch { expected: 8, actual: 11 }), "{err:?}");
        assert_eq!(err.s3_code(), "IncompleteBody");
        assert_eq!(err.message(), "You did not provide the number of bytes specified by the Content-Length HTTP header");
        // Shorter than declared.
        let (_, end) = run(unsigned(None, Some(12)), body);
        assert!(matches!(end, Err(ChunkedError::DecodedLengthMismatch { expected: 12, actual: 11 })));
        // Exact, or not declared.
        assert!(run(unsigned(None, Some(11)), body).1.is_ok());
        assert!(run(unsigned(None, None), body).1.is_ok());
        // Signed.
        let body = aws_example_body(SEED);
        let (out, end) = run(decoder(ChunkedMode::Signed, SEED, None, Some(66559)), &body);
        assert_eq!(out.len(), 65536);
        assert!(matches!(end, Err(ChunkedError::DecodedLengthMismatch { .. })));
        let (_, end) = run(decoder(ChunkedMode::Signed, SEED, None, Some(70000)), &body);
        assert!(matches!(end, Err(ChunkedError::DecodedLengthMismatch { .. })));
    }

    #[test]
    fn truncated_bodies_fail() {
        let s = signer(SEED);
        let crc = ChecksumAlgorithm::Crc32.compute(b"hello world");
        type Case = (Vec<u8>, Box<dyn Fn() -> ChunkedDecoder>);
        let cases: Vec<Case> = vec![
            (aws_example_body(SEED), Box::new(|| decoder(ChunkedMode::Signed, SEED, None, Some(66560)))),
            (
                encode(ChunkedMode::SignedWithTrailer, Some(&s), &[b"hello ", b"world"], &[("x-amz-checksum-crc32", &crc)]),
                Box::new(|| decoder(ChunkedMode::SignedWithTrailer, SEED, Some(ChecksumAlgorithm::Crc32), Some(11))),
            ),
            (
                encode(ChunkedMode::UnsignedWithTrailer, None, &[b"hello ", b"world"], &[("x-amz-checksum-crc32", &crc)]),
                Box::new(|| unsigned(Some(ChecksumAlgorithm::Crc32), Some(11))),
            ),
            // Without a declared length, truncation is still caught by the framing.
            (
                encode(ChunkedMode::UnsignedWithTrailer, None, &[b"hello ", b"world"], &[("x-amz-checksum-crc32", &crc)]),
                Box::new(|| unsigned(Some(ChecksumAlgorithm::Crc32), None)),
            ),
        ];
        for (body, make) in &cases {
            assert!(run(make(), body).1.is_ok());
            // Every prefix that cuts more than the final line ends must fail; the
            // signed example's prefixes are sampled (it is 66 KiB).
            let limit = body.len() - 4;
            let prefixes: Vec<usize> = if body.len() > 1000 {
                (0..limit).filter(|n| n % 997 == 0 || *n + 200 > limit || *n < 200).collect()
            } else {
                (0..limit).collect()
            };
            for n in prefixes {
                let (_, end) = run(make(), &body[..n]);
                assert!(end.is_err(), "prefix {n} of {} decoded: {:?}", body.len(), String::from_utf8_lossy(&body[..n.min(200)]));
            }
        }
        // Unsigned without a trailer or length: cut at a chunk boundary.
        assert!(matches!(run(unsigned(None, None), b"5\r\nhello\r\n").1, Err(ChunkedError::Truncated)));
        // Truncated is final, like every error: more bytes do not revive the decoder.
        let mut d = unsigned(None, None);
        let mut buf = BytesMut::from(&b"5\r\nhello\r\n"[..]);
        assert!(matches!(d.decode(&mut buf), Ok(Some(ChunkedEvent::Data(_)))));
        assert!(matches!(d.decode_eof(&mut buf), Err(ChunkedError::Truncated)));
        let mut rest = BytesMut::from(&b"0\r\n\r\n"[..]);
        assert!(d.decode(&mut rest).is_err(), "after Truncated the decoder only returns errors");
        assert!(matches!(run(unsigned(None, None), b"5\r\nhel").1, Err(ChunkedError::Truncated)));
        assert!(matches!(run(unsigned(None, None), b"5\r\nhello\r").1, Err(ChunkedError::Truncated)));
        assert!(matches!(run(unsigned(None, None), b"").1, Err(ChunkedError::Truncated)));
        let err = run(unsigned(None, None), b"5\r\nhello").1.unwrap_err();
        assert_eq!((err.s3_code(), err.status()), ("IncompleteBody", 400));
        assert_eq!(err.message(), "The request body terminated unexpectedly");
    }

    #[test]
    fn bad_framing_fails() {
        for body in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"\r\nhello\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"5 5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"5\r\nhello\r\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5;foo=bar\r\nhello\r\n0\r\n\r\n",
            // Overflowing sizes.
            b"10000000000000000\r\n",
            b"FFFFFFFFFFFFFFFFF\r\n",
            // Garbage after the end.
            b"5\r\nhello\r\n0\r\n\r\nmore",
        ] {
            let err = run(unsigned(None, None), body).1.unwrap_err();
            assert!(matches!(err, ChunkedError::Malformed(_)), "{:?}: {err:?}", String::from_utf8_lossy(body));
            assert_eq!(err.s3_code(), "IncompleteBody");
        }
        // Extra line ends after the end are fine.
        assert!(run(unsigned(None, None), b"5\r\nhello\r\n0\r\n\r\n\r\n").1.is_ok());
        // A size that fits u64 but not the declared length.
        let err = run(unsigned(None, Some(5)), b"FFFFFFFFFFFFFFFF\r\n").1.unwrap_err();
        assert!(matches!(err, ChunkedError::DecodedLengthMismatch { actual: u64::MAX, .. }));
    }

    #[test]
    fn oversize_lines_and_chunks_fail() {
        // A size line with no end: refused once it passes the limit, not buffered.
        let mut dec = unsigned(None, None);
        let mut buf = BytesMut::from(&vec![b'0'; MAX_LINE_LEN - 1][..]);
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"0");
        assert!(matches!(dec.decode(&mut buf), Err(ChunkedError::LineTooLong)));
        // The decoder stays failed.
        assert!(dec.decode(&mut BytesMut::from(&b"0\r\n\r\n"[..])).is_err());

        // A long signed header line.
        let mut line = b"5;chunk-signature=".to_vec();
        line.extend_from_slice(&vec![b'a'; 5000]);
        assert!(matches!(run(decoder(ChunkedMode::Signed, SEED, None, None), &line).1, Err(ChunkedError::LineTooLong)));

        // A trailer line too long.
        let body = format!("0\r\nx-amz-checksum-crc32:{}\r\n\r\n", "A".repeat(5000));
        assert!(matches!(run(unsigned(Some(ChecksumAlgorithm::Crc32), None), body.as_bytes()).1, Err(ChunkedError::LineTooLong)));

        // A signed chunk above the cap is refused at its header.
        let header = format!("{:x};chunk-signature={SEED}\r\n", MAX_CHUNK_SIZE + 1);
        let err = run(decoder(ChunkedMode::Signed, SEED, None, None), header.as_bytes()).1.unwrap_err();
        assert!(matches!(err, ChunkedError::ChunkTooLarge { size, .. } if size == MAX_CHUNK_SIZE as u64 + 1), "{err:?}");
        assert_eq!(err.s3_code(), "EntityTooLarge");
        // At the cap it is accepted (and waits for data).
        let header = format!("{:x};chunk-signature={SEED}\r\n", MAX_CHUNK_SIZE);
        let mut dec = decoder(ChunkedMode::Signed, SEED, None, None);
        assert_eq!(dec.decode(&mut BytesMut::from(header.as_bytes())).unwrap(), None);
        // Unsigned chunks are streamed, so they have no cap.
        let mut dec = unsigned(None, None);
        let mut buf = BytesMut::from(&b"100000000\r\nabc"[..]);
        assert_eq!(dec.decode(&mut buf).unwrap(), Some(ChunkedEvent::Data(Bytes::from_static(b"abc"))));
    }

    #[test]
    fn one_byte_at_a_time() {
        let body = aws_example_body(SEED);
        let (out, end) = run_bytewise(decoder(ChunkedMode::Signed, SEED, None, Some(66560)), &body);
        assert_eq!(out, vec![b'a'; 66560]);
        assert!(end.is_ok());

        let s = signer(SEED);
        let crc = ChecksumAlgorithm::Sha256.compute(b"hello world");
        let body = encode(ChunkedMode::SignedWithTrailer, Some(&s), &[b"hello ", b"world"], &[("x-amz-checksum-sha256", &crc)]);
        let whole = run(decoder(ChunkedMode::SignedWithTrailer, SEED, Some(ChecksumAlgorithm::Sha256), Some(11)), &body);
        let bytewise = run_bytewise(decoder(ChunkedMode::SignedWithTrailer, SEED, Some(ChecksumAlgorithm::Sha256), Some(11)), &body);
        assert_eq!(whole.0, bytewise.0);
        assert_eq!(whole.1.unwrap(), bytewise.1.unwrap());

        let body = encode(ChunkedMode::UnsignedWithTrailer, None, &[b"hello ", b"world"], &[("x-amz-checksum-sha256", &crc)]);
        let (out, end) = run_bytewise(unsigned(Some(ChecksumAlgorithm::Sha256), Some(11)), &body);
        assert_eq!(out, b"hello world");
        assert!(end.is_ok());

        // A tampered body fails the same way whatever the split.
        let mut forged = aws_example_body(SEED);
        forged[66_000] = b'b';
        let (out, end) = run_bytewise(decoder(ChunkedMode::Signed, SEED, None, None), &forged);
        assert_eq!(out.len(), 65536);
        assert!(matches!(end, Err(ChunkedError::SignatureDoesNotMatch)));
    }

    #[test]
    fn parses_headers() {
        assert_eq!(ChunkedMode::from_content_sha256("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), Some(ChunkedMode::Signed));
        assert_eq!(ChunkedMode::from_content_sha256("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), Some(ChunkedMode::SignedWithTrailer));
        assert_eq!(ChunkedMode::from_content_sha256("STREAMING-UNSIGNED-PAYLOAD-TRAILER"), Some(ChunkedMode::UnsignedWithTrailer));
        for mode in [ChunkedMode::Signed, ChunkedMode::SignedWithTrailer, ChunkedMode::UnsignedWithTrailer] {
            assert_eq!(ChunkedMode::from_content_sha256(mode.as_str()), Some(mode));
        }
        assert_eq!(ChunkedMode::from_content_sha256("UNSIGNED-PAYLOAD"), None);
        assert_eq!(ChunkedMode::from_content_sha256("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"), None);
        assert_eq!(ChunkedMode::from_content_sha256(EMPTY_SHA256), None);

        assert_eq!(parse_trailer_header(None).unwrap(), None);
        assert_eq!(parse_trailer_header(Some("")).unwrap(), None);
        assert_eq!(parse_trailer_header(Some("x-amz-checksum-crc32")).unwrap(), Some(ChecksumAlgorithm::Crc32));
        assert_eq!(parse_trailer_header(Some(" X-Amz-Checksum-CRC64NVME ")).unwrap(), Some(ChecksumAlgorithm::Crc64Nvme));
        let err = parse_trailer_header(Some("x-amz-checksum-sha10")).unwrap_err();
        assert_eq!(
            (err.s3_code(), err.message().as_ref()),
            ("InvalidRequest", "The value specified in the x-amz-trailer header is not supported")
        );
        assert!(parse_trailer_header(Some("x-amz-checksum-crc32,x-amz-checksum-sha1")).is_err());
        assert!(parse_trailer_header(Some("x-amz-meta-a")).is_err());

        assert_eq!(parse_decoded_length(Some("66560")).unwrap(), 66560);
        assert_eq!(parse_decoded_length(Some("0")).unwrap(), 0);
        assert!(matches!(parse_decoded_length(None), Err(ChunkedError::MissingDecodedLength)));
        assert_eq!(parse_decoded_length(None).unwrap_err().status(), 411);
        for bad in ["", "-1", "+1", "1e3", "0x10", "99999999999999999999999"] {
            assert!(matches!(parse_decoded_length(Some(bad)), Err(ChunkedError::InvalidDecodedLength)), "{bad}");
        }
    }

    #[test]
    fn errors_map_to_s3() {
        let e = ChunkedError::SignatureDoesNotMatch;
        assert_eq!((e.s3_code(), e.status()), ("SignatureDoesNotMatch", 403));
        assert!(e.message().starts_with("The request signature we calculated does not match"));
        let e = ChunkedError::BadDigest(ChecksumAlgorithm::Crc32);
        assert_eq!(e.message(), "The CRC32 you specified did not match the calculated checksum.");
        let e = ChunkedError::InvalidChecksumValue(ChecksumAlgorithm::Crc32c);
        assert_eq!(e.message(), "Value for x-amz-checksum-crc32c trailing header is invalid.");
        let e = ChunkedError::MissingSigner;
        assert_eq!((e.s3_code(), e.status()), ("InternalError", 500));
        let e = ChunkedError::Body(Box::new(std::io::Error::other("reset")));
        assert_eq!(e.s3_code(), "IncompleteBody");
        assert!(StdError::source(&e).is_some());
        assert!(e.to_string().contains("reset"));
        // Debug output of the signer and decoder shows no signature.
        let dec = decoder(ChunkedMode::Signed, SEED, None, None);
        assert!(!format!("{dec:?}").contains(SEED));
        assert!(!format!("{:?}", signer(SEED)).contains(SEED));
    }

    fn frames(body: &[u8], cuts: &[usize]) -> Vec<Result<Bytes, std::io::Error>> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        points.push(0);
        points.push(body.len());
        points.sort_unstable();
        points.dedup();
        points.windows(2).map(|w| Ok(Bytes::copy_from_slice(&body[w[0]..w[1]]))).collect()
    }

    async fn collect(stream: impl Stream<Item = Result<Bytes, ChunkedError>>) -> Result<Vec<u8>, ChunkedError> {
        let mut stream = std::pin::pin!(stream);
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            out.extend_from_slice(&item?);
        }
        Ok(out)
    }

    fn assert_send<T: Send>(_: &T) {}

    #[tokio::test]
    async fn stream_adapter_decodes_and_verifies() {
        // What the handlers hand it: an axum body's data stream; the result must be Send.
        let axum_body = axum::body::Body::from("0\r\n\r\n").into_data_stream();
        let decoded = decode_stream(axum_body, unsigned(None, Some(0)));
        assert_send(&decoded);
        assert!(collect(decoded).await.unwrap().is_empty());

        let body = aws_example_body(SEED);
        let body_stream = stream::iter(frames(&body, &[1, 100, 5000, 65600, 66000]));
        let out = collect(decode_stream(body_stream, decoder(ChunkedMode::Signed, SEED, None, Some(66560)))).await.unwrap();
        assert_eq!(out, vec![b'a'; 66560]);

        // Events carry the verified checksum.
        let crc = ChecksumAlgorithm::Crc64Nvme.compute(b"hello world");
        let body = encode(ChunkedMode::UnsignedWithTrailer, None, &[b"hello world"], &[("x-amz-checksum-crc64nvme", &crc)]);
        let events = decode_events(stream::iter(frames(&body, &[3, 7])), unsigned(Some(ChecksumAlgorithm::Crc64Nvme), Some(11)));
        let events: Vec<_> = events.collect().await;
        assert!(matches!(
            events.last(),
            Some(Ok(ChunkedEvent::End { checksum: Some((ChecksumAlgorithm::Crc64Nvme, v)), .. })) if *v == crc
        ));

        // Forged data: an error, and nothing after it.
        let mut forged = aws_example_body(SEED);
        forged[200] = b'b';
        let items: Vec<_> =
            decode_stream(stream::iter(frames(&forged, &[])), decoder(ChunkedMode::Signed, SEED, None, None)).collect().await;
        assert_eq!(items.len(), 1);
        assert!(matches!(items[0], Err(ChunkedError::SignatureDoesNotMatch)));

        // Truncated body.
        let body = aws_example_body(SEED);
        let cut = stream::iter(frames(&body[..66000], &[]));
        assert!(matches!(collect(decode_stream(cut, decoder(ChunkedMode::Signed, SEED, None, None))).await, Err(ChunkedError::Truncated)));

        // A transport error surfaces as Body and ends the stream.
        let failing = stream::iter(vec![Ok(Bytes::from_static(b"5\r\nhel")), Err(std::io::Error::other("connection reset"))]);
        let items: Vec<_> = decode_stream(failing, unsigned(None, None)).collect().await;
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap(), &Bytes::from_static(b"hel"));
        assert!(matches!(items[1], Err(ChunkedError::Body(_))));

        // Checksum mismatch is the last item.
        let body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
        let res = collect(decode_stream(stream::iter(frames(body, &[5])), unsigned(Some(ChecksumAlgorithm::Crc32), Some(11)))).await;
        assert!(matches!(res, Err(ChunkedError::BadDigest(ChecksumAlgorithm::Crc32))));
    }

    /// 64 cases unless `PROPTEST_CASES` asks for more (`PROPTEST_CASES=20000 cargo test
    /// -p linkgate --release --lib s3::chunked`).
    fn config() -> ProptestConfig {
        let env = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_some() { env } else { ProptestConfig { cases: 64, ..env } }
    }

    fn arb_chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..6)
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_split_decodes_the_same(
            chunks in arb_chunks(),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
            mode_index in 0usize..3,
            alg_index in 0usize..5,
        ) {
            let mode = [ChunkedMode::Signed, ChunkedMode::SignedWithTrailer, ChunkedMode::UnsignedWithTrailer][mode_index];
            let alg = ChecksumAlgorithm::ALL[alg_index];
            let data: Vec<u8> = chunks.concat();
            let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            let s = signer(SEED);
            let value = alg.compute(&data);
            let (trailers, expected): (Vec<(&str, &str)>, _) = if mode == ChunkedMode::Signed {
                (vec![], None)
            } else {
                (vec![(alg.header_name(), value.as_str())], Some(alg))
            };
            let body = encode(mode, Some(&s), &refs, &trailers);
            let make = || ChunkedDecoder::new(mode, Some(signer(SEED)), expected, Some(data.len() as u64)).unwrap();

            let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
            points.push(0);
            points.push(body.len());
            points.sort_unstable();
            points.dedup();
            let pieces: Vec<&[u8]> = points.windows(2).map(|w| &body[w[0]..w[1]]).collect();

            let (out, end) = run_pieces(make(), &pieces);
            prop_assert_eq!(&out, &data);
            let end = end.unwrap();
            prop_assert_eq!(end, ChunkedEvent::End {
                decoded_len: data.len() as u64,
                trailers: trailers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
                checksum: expected.map(|a| (a, value.clone())),
            });

            // Any single flipped byte is caught (signature, checksum or framing), and
            // in signed modes never lets out bytes that differ from the original.
            if !body.is_empty() {
                let at = cuts.first().copied().unwrap_or(0) % body.len();
                let mut forged = body.clone();
                forged[at] ^= 0x01;
                let (out, end) = run_pieces(make(), &[&forged]);
                prop_assert!(end.is_err(), "flip at {} accepted", at);
                if mode.signs_chunks() {
                    prop_assert!(data.starts_with(&out));
                }
            }
        }

        #[test]
        fn arbitrary_input_never_panics(input in prop::collection::vec(any::<u8>(), 0..600), cut in any::<usize>()) {
            for mode in [ChunkedMode::Signed, ChunkedMode::SignedWithTrailer, ChunkedMode::UnsignedWithTrailer] {
                let at = cut % (input.len() + 1);
                let dec = ChunkedDecoder::new(mode, Some(signer(SEED)), Some(ChecksumAlgorithm::Crc32), None).unwrap();
                let _ = run_pieces(dec, &[&input[..at], &input[at..]]);
            }
        }
    }
}
