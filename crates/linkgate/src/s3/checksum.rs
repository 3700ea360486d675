//! S3's additional checksums (`x-amz-checksum-*`) and the digests a PUT needs.
//!
//! Current AWS SDKs and the AWS CLI attach a CRC32 (or CRC32C, CRC64NVME, SHA-1,
//! SHA-256) to every upload, either as a request header or as an aws-chunked trailer,
//! and S3 answers `BadDigest` when it does not match. The value on the wire is always
//! base64 of the big-endian digest bytes. This module names the algorithms as S3 does
//! in its three spellings (header name, `x-amz-checksum-algorithm` value, message text),
//! computes them incrementally so a body is never held in memory, and bundles the
//! digests an upload handler needs (MD5 for the ETag, SHA-256 for a signed payload
//! hash, one additional checksum) into a single pass over the bytes.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest as _, Md5};
use sha1::Sha1;
use sha2::Sha256;

/// One of the checksum algorithms S3 accepts in `x-amz-checksum-*`.
///
/// Kept as a closed enum so handlers can match exhaustively and every wire spelling
/// comes from one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC, as zlib), 4 bytes.
    Crc32,
    /// CRC-32C (Castagnoli), 4 bytes.
    Crc32c,
    /// CRC-64/NVME, 8 bytes: the SDKs' default for full-object checksums.
    Crc64Nvme,
    /// SHA-1, 20 bytes.
    Sha1,
    /// SHA-256, 32 bytes.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in S3's documentation order (for iterating over request headers).
    pub const ALL: [Self; 5] = [Self::Crc32, Self::Crc32c, Self::Crc64Nvme, Self::Sha1, Self::Sha256];

    /// The algorithm named by a checksum header such as `x-amz-checksum-crc32`
    /// (case-insensitive, as HTTP header names are).
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// The lower-case header (and trailer) name that carries this checksum.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm named in `x-amz-sdk-checksum-algorithm` / `x-amz-checksum-algorithm`
    /// (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`; case-insensitive because
    /// some clients send lower case).
    pub fn from_algorithm_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.algorithm_name().eq_ignore_ascii_case(name.trim()))
    }

    /// The upper-case name S3 uses in `x-amz-checksum-algorithm`, XML
    /// (`<ChecksumAlgorithm>`) and error messages.
    pub fn algorithm_name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// Length of the raw digest in bytes (before base64).
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// The CRC this algorithm is, or `None` for the SHA hashes.
    fn crc(self) -> Option<crc_fast::CrcAlgorithm> {
        match self {
            Self::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
            Self::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
            Self::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
            Self::Sha1 | Self::Sha256 => None,
        }
    }

    /// Whether a multipart object can carry this algorithm as a full-object
    /// checksum: only CRCs can be combined from the parts' values without
    /// reading the bytes again.
    pub fn combines(self) -> bool {
        self.crc().is_some()
    }

    /// The checksum of the parts' bytes one after another, from each part's raw
    /// digest and length, as S3 computes a multipart object's `FULL_OBJECT`
    /// checksum; `None` for the SHA hashes or a digest of the wrong length.
    pub fn combine<'a>(self, parts: impl IntoIterator<Item = (&'a [u8], u64)>) -> Option<Vec<u8>> {
        let crc = self.crc()?;
        let mut whole = 0u64;
        for (digest, len) in parts {
            if digest.len() != self.digest_len() {
                return None;
            }
            let mut be = [0u8; 8];
            be[8 - digest.len()..].copy_from_slice(digest);
            whole = crc_fast::checksum_combine(crc, whole, u64::from_be_bytes(be), len);
        }
        Some(crc_bytes(self, whole))
    }

    /// A fresh incremental checksummer for this algorithm.
    pub fn checksummer(self) -> Checksummer {
        Checksummer::new(self)
    }

    /// The checksum of `data` as S3 sends it (base64), for small in-memory bodies.
    pub fn compute(self, data: &[u8]) -> String {
        let mut c = self.checksummer();
        c.update(data);
        c.finish()
    }

    /// Decodes a wire value (standard base64, padded as S3 and the SDKs send it) into
    /// raw digest bytes; `None` when it is not base64 or has the wrong length, which S3
    /// reports as `InvalidRequest` rather than `BadDigest`.
    pub fn decode_value(self, value: &str) -> Option<Vec<u8>> {
        let bytes = BASE64.decode(value.as_bytes()).ok()?;
        (bytes.len() == self.digest_len()).then_some(bytes)
    }

    /// True when `value` (base64) is well-formed and equals the raw `digest`.
    pub fn value_matches(self, value: &str, digest: &[u8]) -> bool {
        self.decode_value(value).is_some_and(|v| v == digest)
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.algorithm_name())
    }
}

/// What a multipart object's checksum is of (`x-amz-checksum-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumType {
    /// The checksum of the parts' checksums, written `…-N`: S3's default for
    /// CRC32, CRC32C and the SHA hashes.
    Composite,
    /// The CRC of the whole object, as a single PUT would have it; S3 combines
    /// it from the parts' CRCs. The only type CRC64NVME has.
    FullObject,
}

impl ChecksumType {
    /// The type named in `x-amz-checksum-type` (case-insensitive), or `None`.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim() {
            v if v.eq_ignore_ascii_case("COMPOSITE") => Some(Self::Composite),
            v if v.eq_ignore_ascii_case("FULL_OBJECT") => Some(Self::FullObject),
            _ => None,
        }
    }

    /// The type of a stored object checksum value: composite values end in `-N`.
    pub fn of_value(value: &str) -> Self {
        if value.contains('-') { Self::Composite } else { Self::FullObject }
    }

    /// S3's spelling, for headers and XML.
    pub fn name(self) -> &'static str {
        match self {
            Self::Composite => "COMPOSITE",
            Self::FullObject => "FULL_OBJECT",
        }
    }

    /// The type an upload gets when CreateMultipartUpload names only the algorithm.
    pub fn default_for(algorithm: ChecksumAlgorithm) -> Self {
        if algorithm == ChecksumAlgorithm::Crc64Nvme { Self::FullObject } else { Self::Composite }
    }

    /// Whether S3 accepts this type with `algorithm`: full-object checksums must
    /// combine (CRCs only), and CRC64NVME has no composite form.
    pub fn allows(self, algorithm: ChecksumAlgorithm) -> bool {
        match self {
            Self::FullObject => algorithm.combines(),
            Self::Composite => algorithm != ChecksumAlgorithm::Crc64Nvme,
        }
    }
}

impl fmt::Display for ChecksumType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Running state of one checksum; fed in pieces so bodies stream in constant memory.
#[derive(Clone)]
pub struct Checksummer {
    state: State,
}

#[derive(Clone)]
enum State {
    Crc(ChecksumAlgorithm, crc_fast::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Checksummer {
    /// Starts a checksum of the given algorithm over no bytes.
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm.crc() {
            Some(crc) => State::Crc(algorithm, crc_fast::Digest::new(crc)),
            None if algorithm == ChecksumAlgorithm::Sha1 => State::Sha1(Sha1::new()),
            None => State::Sha256(Sha256::new()),
        };
        Self { state }
    }

    /// Which algorithm this computes.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.state {
            State::Crc(algorithm, _) => algorithm,
            State::Sha1(_) => ChecksumAlgorithm::Sha1,
            State::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    /// Feeds the next bytes of the body.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc(_, h) => h.update(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The raw digest: big-endian bytes for the CRCs, the hash output otherwise.
    pub fn finish_bytes(self) -> Vec<u8> {
        match self.state {
            State::Crc(algorithm, h) => crc_bytes(algorithm, h.finalize()),
            State::Sha1(h) => h.finalize().to_vec(),
            State::Sha256(h) => h.finalize().to_vec(),
        }
    }

    /// The digest as S3 puts it on the wire: standard base64 with padding.
    pub fn finish(self) -> String {
        BASE64.encode(self.finish_bytes())
    }
}

/// A CRC's value as S3 sends it: big-endian, in the algorithm's width.
fn crc_bytes(algorithm: ChecksumAlgorithm, value: u64) -> Vec<u8> {
    value.to_be_bytes()[8 - algorithm.digest_len()..].to_vec()
}

impl fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checksummer").field("algorithm", &self.algorithm()).finish_non_exhaustive()
    }
}

/// The digests an upload handler needs, computed in one pass over the body.
///
/// MD5 is always computed (it is the ETag of a single-part object and is checked
/// against `Content-MD5`); SHA-256 only when asked (to verify a signed
/// `x-amz-content-sha256`, since it is the costliest); plus at most one additional
/// `x-amz-checksum-*` algorithm. When the additional algorithm is SHA-256 and SHA-256
/// is also wanted, it is computed once.
#[derive(Clone, Debug)]
pub struct BodyDigests {
    md5: Md5,
    sha256: Option<Sha256>,
    extra: Option<Checksummer>,
    /// The additional checksum is SHA-256 and is served from `sha256`.
    shared_sha256: bool,
    len: u64,
}

impl BodyDigests {
    /// Starts the digests: `sha256` to also hash for `x-amz-content-sha256`, `extra`
    /// for an additional checksum to report or verify.
    pub fn new(sha256: bool, extra: Option<ChecksumAlgorithm>) -> Self {
        let shared_sha256 = sha256 && extra == Some(ChecksumAlgorithm::Sha256);
        Self {
            md5: Md5::new(),
            sha256: sha256.then(Sha256::new),
            extra: if shared_sha256 { None } else { extra.map(Checksummer::new) },
            shared_sha256,
            len: 0,
        }
    }

    /// Feeds the next bytes of the body to every digest.
    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
        if let Some(c) = &mut self.extra {
            c.update(data);
        }
        self.len += data.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when no bytes have been fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Finishes every digest.
    pub fn finish(self) -> DigestValues {
        let md5: [u8; 16] = self.md5.finalize().into();
        let sha256: Option<[u8; 32]> = self.sha256.map(|h| h.finalize().into());
        let checksum = match (self.extra, self.shared_sha256, sha256) {
            (Some(c), _, _) => Some((c.algorithm(), c.finish())),
            (None, true, Some(digest)) => Some((ChecksumAlgorithm::Sha256, BASE64.encode(digest))),
            _ => None,
        };
        DigestValues { len: self.len, md5, sha256, checksum }
    }
}

/// The finished digests of a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestValues {
    /// Number of bytes digested.
    pub len: u64,
    /// Raw MD5.
    pub md5: [u8; 16],
    /// Raw SHA-256, when requested.
    pub sha256: Option<[u8; 32]>,
    /// The additional checksum, base64 as S3 sends it, when requested.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

impl DigestValues {
    /// Lower-case hex MD5: the ETag of a single-part object (without its quotes).
    pub fn md5_hex(&self) -> String {
        sigv4::hex::encode(&self.md5)
    }

    /// Base64 MD5, the form of `Content-MD5`.
    pub fn md5_base64(&self) -> String {
        BASE64.encode(self.md5)
    }

    /// True when a `Content-MD5` header value (base64) names this body's MD5.
    pub fn content_md5_matches(&self, header: &str) -> bool {
        BASE64.decode(header.as_bytes()).is_ok_and(|v| v == self.md5)
    }

    /// Lower-case hex SHA-256, when it was computed.
    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256.map(|d| sigv4::hex::encode(&d))
    }

    /// True when a signed `x-amz-content-sha256` (64 hex digits, either case) equals the
    /// body's SHA-256. False when SHA-256 was not computed.
    pub fn sha256_matches_hex(&self, expected: &str) -> bool {
        match (self.sha256, sigv4::hex::decode_32(expected)) {
            (Some(actual), Some(expected)) => actual == expected,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed independently with Python (zlib.crc32, hashlib, and a
    // bitwise reflected CRC for CRC32C 0x82F63B78 and CRC64/NVME 0x9a6c9329ac4bc9b5,
    // whose check values on "123456789" are 0xe3069283 and 0xae8b14860a799888).
    const HELLO: &[u8] = b"hello world";

    #[test]
    fn known_values_hello_world() {
        assert_eq!(ChecksumAlgorithm::Crc32.compute(HELLO), "DUoRhQ==");
        assert_eq!(ChecksumAlgorithm::Crc32c.compute(HELLO), "yZRlqg==");
        assert_eq!(ChecksumAlgorithm::Crc64Nvme.compute(HELLO), "jSnVw/bqjr4=");
        assert_eq!(ChecksumAlgorithm::Sha1.compute(HELLO), "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
        assert_eq!(ChecksumAlgorithm::Sha256.compute(HELLO), "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
    }

    #[test]
    fn known_values_empty() {
        assert_eq!(ChecksumAlgorithm::Crc32.compute(b""), "AAAAAA==");
        assert_eq!(ChecksumAlgorithm::Crc32c.compute(b""), "AAAAAA==");
        assert_eq!(ChecksumAlgorithm::Crc64Nvme.compute(b""), "AAAAAAAAAAA=");
        assert_eq!(ChecksumAlgorithm::Sha1.compute(b""), "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
        assert_eq!(ChecksumAlgorithm::Sha256.compute(b""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn crc_check_values() {
        let check = b"123456789";
        assert_eq!(ChecksumAlgorithm::Crc32.checksummer().tap(check).finish_bytes(), 0xcbf4_3926u32.to_be_bytes());
        assert_eq!(ChecksumAlgorithm::Crc32c.checksummer().tap(check).finish_bytes(), 0xe306_9283u32.to_be_bytes());
        assert_eq!(ChecksumAlgorithm::Crc64Nvme.checksummer().tap(check).finish_bytes(), 0xae8b_1486_0a79_9888u64.to_be_bytes());
    }

    #[test]
    fn aws_documentation_crc32c_of_the_streaming_example() {
        // sigv4-streaming-trailers: 66560 bytes of 'a' carry x-amz-checksum-crc32c:sOO8/Q==.
        let body = vec![b'a'; 66560];
        assert_eq!(ChecksumAlgorithm::Crc32c.compute(&body), "sOO8/Q==");
        assert_eq!(ChecksumAlgorithm::Crc32.compute(&body), "sK4Y7A==");
        assert_eq!(ChecksumAlgorithm::Crc64Nvme.compute(&body), "pRf+emrnL+A=");
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for alg in ChecksumAlgorithm::ALL {
            let whole = alg.compute(&data);
            for split in [0, 1, 3, 64, 4095, 9999, 10_000] {
                let mut c = alg.checksummer();
                c.update(&data[..split]);
                c.update(&data[split..]);
                assert_eq!(c.finish(), whole, "{alg} split {split}");
            }
            let mut c = alg.checksummer();
            for b in &data {
                c.update(std::slice::from_ref(b));
            }
            assert_eq!(c.finish(), whole, "{alg} byte by byte");
        }
    }

    fn raw(alg: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
        alg.checksummer().tap(data).finish_bytes()
    }

    #[test]
    fn combined_crcs_equal_the_crc_of_the_whole() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 31 + i / 7) as u8).collect();
        for alg in ChecksumAlgorithm::ALL.into_iter().filter(|a| a.combines()) {
            for cuts in [&[][..], &[0], &[1], &[5, 5, 9], &[65_536], &[10, 20_000, 69_999]] {
                let mut pieces = Vec::new();
                let mut start = 0;
                for &cut in cuts.iter().chain([&data.len()]) {
                    pieces.push((raw(alg, &data[start..cut]), (cut - start) as u64));
                    start = cut;
                }
                let combined = alg.combine(pieces.iter().map(|(d, n)| (d.as_slice(), *n)));
                assert_eq!(combined, Some(raw(alg, &data)), "{alg} cut at {cuts:?}");
            }
        }
    }

    #[test]
    fn only_crcs_combine() {
        let digest = raw(ChecksumAlgorithm::Sha256, b"x");
        assert!(!ChecksumAlgorithm::Sha256.combines());
        assert_eq!(ChecksumAlgorithm::Sha256.combine([(digest.as_slice(), 1)]), None);
        assert_eq!(ChecksumAlgorithm::Crc32.combine([(&[1u8, 2, 3][..], 1)]), None, "a digest of the wrong width");
        assert_eq!(ChecksumAlgorithm::Crc64Nvme.combine([]), Some(vec![0; 8]), "no parts: the CRC of nothing");
    }

    #[test]
    fn names_round_trip() {
        for alg in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::from_header_name(alg.header_name()), Some(alg));
            assert_eq!(ChecksumAlgorithm::from_header_name(&alg.header_name().to_ascii_uppercase()), Some(alg));
            assert_eq!(ChecksumAlgorithm::from_algorithm_name(alg.algorithm_name()), Some(alg));
            assert_eq!(ChecksumAlgorithm::from_algorithm_name(&alg.algorithm_name().to_ascii_lowercase()), Some(alg));
            assert_eq!(alg.to_string(), alg.algorithm_name());
            assert_eq!(alg.checksummer().algorithm(), alg);
            assert_eq!(alg.checksummer().finish_bytes().len(), alg.digest_len());
        }
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-crc32"), Some(ChecksumAlgorithm::Crc32));
        assert_eq!(ChecksumAlgorithm::from_header_name("X-Amz-Checksum-CRC32C"), Some(ChecksumAlgorithm::Crc32c));
        assert_eq!(ChecksumAlgorithm::from_algorithm_name("crc64nvme"), Some(ChecksumAlgorithm::Crc64Nvme));
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-md5"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-sha10"), None);
        assert_eq!(ChecksumAlgorithm::from_algorithm_name("MD5"), None);
        assert_eq!(ChecksumAlgorithm::from_algorithm_name(""), None);
    }

    #[test]
    fn decode_value_checks_base64_and_length() {
        let crc = ChecksumAlgorithm::Crc32;
        assert_eq!(crc.decode_value("DUoRhQ=="), Some(vec![0x0d, 0x4a, 0x11, 0x85]));
        assert!(crc.value_matches("DUoRhQ==", &[0x0d, 0x4a, 0x11, 0x85]));
        assert!(!crc.value_matches("AAAAAA==", &[0x0d, 0x4a, 0x11, 0x85]));
        assert_eq!(crc.decode_value("DUoRhQ"), None, "unpadded");
        assert_eq!(crc.decode_value("DUoR"), None, "3 bytes");
        assert_eq!(crc.decode_value("not base64!"), None);
        assert_eq!(crc.decode_value(""), None);
        assert_eq!(ChecksumAlgorithm::Crc64Nvme.decode_value("DUoRhQ=="), None, "4 bytes for an 8-byte digest");
        assert!(ChecksumAlgorithm::Sha256.decode_value("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=").is_some());
    }

    #[test]
    fn body_digests_in_one_pass() {
        let mut d = BodyDigests::new(true, Some(ChecksumAlgorithm::Crc32));
        assert!(d.is_empty());
        d.update(b"hello ");
        d.update(b"world");
        assert_eq!(d.len(), 11);
        let v = d.finish();
        assert_eq!(v.len, 11);
        assert_eq!(v.md5_hex(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert_eq!(v.md5_base64(), "XrY7u+Ae7tCTyyK7j1rNww==");
        assert!(v.content_md5_matches("XrY7u+Ae7tCTyyK7j1rNww=="));
        assert!(!v.content_md5_matches("1B2M2Y8AsgTpgAmY7PhCfg=="));
        assert!(!v.content_md5_matches("garbage"));
        assert_eq!(v.sha256_hex().as_deref(), Some("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"));
        assert!(v.sha256_matches_hex("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"));
        assert!(v.sha256_matches_hex("B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9"));
        assert!(!v.sha256_matches_hex(sigv4::EMPTY_SHA256));
        assert!(!v.sha256_matches_hex("UNSIGNED-PAYLOAD"));
        assert_eq!(v.checksum, Some((ChecksumAlgorithm::Crc32, "DUoRhQ==".to_owned())));
    }

    #[test]
    fn body_digests_share_sha256_and_skip_what_is_not_asked() {
        let mut d = BodyDigests::new(true, Some(ChecksumAlgorithm::Sha256));
        d.update(HELLO);
        let v = d.finish();
        assert_eq!(v.checksum, Some((ChecksumAlgorithm::Sha256, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=".to_owned())));
        assert!(v.sha256.is_some());

        let mut d = BodyDigests::new(false, Some(ChecksumAlgorithm::Sha256));
        d.update(HELLO);
        let v = d.finish();
        assert_eq!(v.sha256, None);
        assert!(!v.sha256_matches_hex("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"));
        assert_eq!(v.checksum, Some((ChecksumAlgorithm::Sha256, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=".to_owned())));

        let v = BodyDigests::new(false, None).finish();
        assert_eq!(v.md5_hex(), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(v.checksum, None);
        assert_eq!(v.sha256_hex(), None);
    }

    trait Tap {
        fn tap(self, data: &[u8]) -> Self;
    }

    impl Tap for Checksummer {
        fn tap(mut self, data: &[u8]) -> Self {
            self.update(data);
            self
        }
    }
}
