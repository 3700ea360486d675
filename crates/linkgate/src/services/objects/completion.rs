//! S3's rules for turning an upload's parts into one object: which parts, the
//! ETag, and the checksum (composite `…-N` or full-object) the object carries.
//!
//! Pure functions over the stored parts; [`super::Objects::complete`] calls them
//! before it writes anything.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest as _, Md5};

use crate::s3::checksum::{ChecksumAlgorithm, ChecksumType, Checksummer};
use crate::s3::error::S3Error;
use crate::s3::requests::CompletedPart;
use crate::store::meta::{PartInfo, UploadInfo};

/// Every part but the last must be at least this big (S3's rule).
pub(super) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// What a CompleteMultipartUpload says of the object's checksum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompletionChecksum {
    /// `x-amz-checksum-type`, if sent: it must be the upload's.
    pub checksum_type: Option<ChecksumType>,
    /// `x-amz-checksum-<alg>`, if sent: what the client computed, checked
    /// against what the parts give.
    pub expected: Option<(ChecksumAlgorithm, String)>,
}

/// The stored parts the client named, in its order; every part but the last at
/// least [`MIN_PART_SIZE`].
pub(super) fn choose_parts<'a>(stored: &'a [PartInfo], requested: &[CompletedPart], upload_id: &str) -> Result<Vec<&'a PartInfo>, S3Error> {
    let mut chosen = Vec::with_capacity(requested.len());
    for CompletedPart { number, etag, checksum } in requested {
        // A checksum the client names must be the one stored with the part.
        let same_checksum = |p: &PartInfo| match checksum {
            None => true,
            Some((algorithm, value)) => {
                p.checksum.as_ref().is_some_and(|(name, stored)| name.as_str() == algorithm.header_name() && stored == value)
            }
        };
        let found = stored.iter().find(|p| p.part_number == *number && p.etag.trim_matches('"') == etag && same_checksum(p));
        let part = found.ok_or_else(|| S3Error::invalid_part(upload_id, *number))?;
        chosen.push(part);
    }
    if let Some(small) = chosen.iter().rev().skip(1).find(|p| p.size < MIN_PART_SIZE) {
        return Err(S3Error::new("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size.")
            .with("ProposedSize", small.size.to_string())
            .with("MinSizeAllowed", MIN_PART_SIZE.to_string())
            .with("PartNumber", small.part_number.to_string()));
    }
    Ok(chosen)
}

/// The checksum the completed object carries, as (header name, value), or
/// `None` when the upload has no checksum algorithm.
///
/// - `COMPOSITE`: the upload's algorithm over the chosen parts' raw checksums, in
///   order, base64, then `-N`.
/// - `FULL_OBJECT`: the CRC of the whole object, combined from the parts' CRCs
///   and sizes (no byte is read again).
///
/// What the client sent must agree: a different type or algorithm is
/// `InvalidRequest`, a different value `BadDigest` (a composite value may come
/// with or without its `-N`).
pub(super) fn object_checksum(
    upload: &UploadInfo,
    chosen: &[&PartInfo],
    asked: &CompletionChecksum,
) -> Result<Option<(String, String)>, S3Error> {
    let checksum = upload_checksum(upload);
    let created_with = checksum.map(|(algorithm, _)| algorithm);
    if let Some((sent, _)) = &asked.expected
        && Some(*sent) != created_with
    {
        return Err(algorithm_mismatch(created_with, *sent));
    }
    let Some((algorithm, kind)) = checksum else { return Ok(None) };
    if asked.checksum_type.is_some_and(|t| t != kind) {
        return Err(S3Error::invalid_request(format!(
            "The upload was created using the {kind} checksum mode. The complete request must use the same checksum mode."
        )));
    }
    let digests = chosen.iter().map(|part| part_digest(part, algorithm, &upload.upload_id)).collect::<Result<Vec<_>, _>>()?;
    let value = match kind {
        ChecksumType::Composite => {
            let mut over_parts = Checksummer::new(algorithm);
            digests.iter().for_each(|d| over_parts.update(d));
            format!("{}-{}", over_parts.finish(), chosen.len())
        }
        ChecksumType::FullObject => {
            let whole = algorithm.combine(digests.iter().zip(chosen).map(|(d, p)| (d.as_slice(), p.size))).ok_or_else(S3Error::internal)?;
            BASE64.encode(whole)
        }
    };
    if let Some((_, sent)) = &asked.expected
        && !same_value(sent.trim(), &value)
    {
        return Err(S3Error::new(
            "BadDigest",
            400,
            format!("The {} you specified did not match the calculated checksum.", algorithm.algorithm_name()),
        ));
    }
    Ok(Some((algorithm.header_name().to_owned(), value)))
}

/// The checksum an upload's object will carry: the algorithm it was created
/// with and whether it is composite or full-object; `None` without one.
pub fn upload_checksum(upload: &UploadInfo) -> Option<(ChecksumAlgorithm, ChecksumType)> {
    let algorithm = upload.template.checksum.as_ref().and_then(|(name, _)| ChecksumAlgorithm::from_header_name(name))?;
    Some((algorithm, if upload.full_object_checksum { ChecksumType::FullObject } else { ChecksumType::Composite }))
}

/// Whether a value the client sent names `computed`: a composite value may be
/// sent without its `-N`.
fn same_value(sent: &str, computed: &str) -> bool {
    sent == computed || computed.split_once('-').is_some_and(|(value, _)| value == sent)
}

/// A part's raw checksum in `algorithm`, or `InvalidPart` saying it has none.
fn part_digest(part: &PartInfo, algorithm: ChecksumAlgorithm, upload_id: &str) -> Result<Vec<u8>, S3Error> {
    part.checksum
        .as_ref()
        .filter(|(name, _)| name.as_str() == algorithm.header_name())
        .and_then(|(_, value)| algorithm.decode_value(value))
        .ok_or_else(|| {
            S3Error::invalid_part(upload_id, part.part_number)
                .with("Reason", format!("the part has no {} checksum", algorithm.algorithm_name()))
        })
}

/// S3's 400 for a checksum of another algorithm than the upload's (or for one
/// on an upload that has none: `null`).
pub(super) fn algorithm_mismatch(expected: Option<ChecksumAlgorithm>, actual: ChecksumAlgorithm) -> S3Error {
    let name = |a: ChecksumAlgorithm| a.algorithm_name().to_ascii_lowercase();
    S3Error::invalid_request(format!(
        "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
        expected.map_or_else(|| "null".to_owned(), name),
        name(actual)
    ))
}

/// S3's multipart ETag: the MD5 of the parts' MD5s, then `-` and the count;
/// `None` if an ETag is not an MD5.
pub(super) fn multipart_etag<'a>(part_etags: impl ExactSizeIterator<Item = &'a str>) -> Option<String> {
    let count = part_etags.len();
    let mut md5 = Md5::new();
    for etag in part_etags {
        md5.update(hex16(etag.trim_matches('"'))?);
    }
    Some(format!("\"{}-{count}\"", sigv4::hex::encode(&md5.finalize())))
}

/// 32 hex characters → 16 bytes (a part's MD5 ETag).
fn hex16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::meta::ObjectMeta;

    fn part(n: u32, size: u64) -> PartInfo {
        PartInfo {
            part_number: n,
            blob_id: format!("{n:08x}"),
            size,
            etag: format!("\"{}\"", "ab".repeat(16)),
            last_modified_ms: 0,
            checksum: None,
        }
    }

    #[test]
    fn a_named_checksum_must_be_the_stored_one() {
        let crc = || Some(("x-amz-checksum-crc32".to_owned(), "AAAAAA==".to_owned()));
        let stored = [PartInfo { checksum: crc(), ..part(1, MIN_PART_SIZE) }, part(2, 1)];
        let named = |number, checksum: Option<(ChecksumAlgorithm, &str)>| CompletedPart {
            number,
            etag: "ab".repeat(16),
            checksum: checksum.map(|(a, v)| (a, v.to_owned())),
        };
        assert!(choose_parts(&stored, &[named(1, Some((ChecksumAlgorithm::Crc32, "AAAAAA==")))], "u").is_ok());
        for wrong in [(ChecksumAlgorithm::Crc32, "BBBBBB=="), (ChecksumAlgorithm::Crc32c, "AAAAAA==")] {
            assert_eq!(choose_parts(&stored, &[named(1, Some(wrong))], "u").unwrap_err().code, "InvalidPart");
        }
        assert_eq!(choose_parts(&stored, &[named(2, Some((ChecksumAlgorithm::Crc32, "AAAAAA==")))], "u").unwrap_err().code, "InvalidPart");
        assert!(choose_parts(&stored, &[named(1, None), named(2, None)], "u").is_ok(), "naming none is fine");
    }

    #[test]
    fn only_the_last_part_may_be_small() {
        let stored = [part(1, MIN_PART_SIZE), part(2, 1), part(3, 1)];
        let named = |number| CompletedPart { number, etag: "ab".repeat(16), checksum: None };
        assert_eq!(choose_parts(&stored, &[named(1), named(2)], "u").unwrap().len(), 2);
        assert_eq!(choose_parts(&stored, &[named(2), named(3)], "u").unwrap_err().code, "EntityTooSmall");
        assert_eq!(choose_parts(&stored, &[named(4)], "u").unwrap_err().code, "InvalidPart");
        let etag = multipart_etag(stored[..2].iter().map(|p| p.etag.as_str())).unwrap();
        assert!(etag.ends_with("-2\""), "{etag}");
        assert_eq!(multipart_etag(["\"not an md5\""].into_iter()), None);
    }

    fn upload(algorithm: Option<ChecksumAlgorithm>, full_object: bool) -> UploadInfo {
        UploadInfo {
            upload_id: "u".into(),
            bucket: "b".into(),
            key: "k".into(),
            initiated_ms: 0,
            template: ObjectMeta { checksum: algorithm.map(|a| (a.header_name().to_owned(), String::new())), ..ObjectMeta::default() },
            full_object_checksum: full_object,
        }
    }

    /// Two parts of known bytes, with their CRC32s stored.
    fn crc32_parts() -> (Vec<PartInfo>, Vec<u8>) {
        let (a, b) = (vec![7u8; MIN_PART_SIZE as usize], b"the last part".to_vec());
        let stored = |n, bytes: &[u8]| PartInfo {
            checksum: Some(("x-amz-checksum-crc32".into(), ChecksumAlgorithm::Crc32.compute(bytes))),
            ..part(n, bytes.len() as u64)
        };
        let parts = vec![stored(1, &a), stored(2, &b)];
        (parts, [a, b].concat())
    }

    #[test]
    fn a_full_object_checksum_is_the_crc_of_the_whole_object() {
        let (parts, whole) = crc32_parts();
        let chosen: Vec<&PartInfo> = parts.iter().collect();
        let want = ChecksumAlgorithm::Crc32.compute(&whole);
        let full = upload(Some(ChecksumAlgorithm::Crc32), true);
        let got = object_checksum(&full, &chosen, &CompletionChecksum::default()).unwrap();
        assert_eq!(got, Some(("x-amz-checksum-crc32".into(), want.clone())));
        let asked = |t, v: &str| CompletionChecksum { checksum_type: t, expected: Some((ChecksumAlgorithm::Crc32, v.to_owned())) };
        assert!(object_checksum(&full, &chosen, &asked(Some(ChecksumType::FullObject), &want)).is_ok());
        let wrong = object_checksum(&full, &chosen, &asked(None, "AAAAAA==")).unwrap_err();
        assert_eq!((wrong.code, wrong.message.as_str()), ("BadDigest", "The CRC32 you specified did not match the calculated checksum."));
        let composite = object_checksum(&full, &chosen, &asked(Some(ChecksumType::Composite), &want)).unwrap_err();
        assert_eq!(
            (composite.code, composite.message.as_str()),
            (
                "InvalidRequest",
                "The upload was created using the FULL_OBJECT checksum mode. The complete request must use the same checksum mode."
            )
        );
    }

    #[test]
    fn a_composite_checksum_is_over_the_parts_checksums() {
        let (parts, _) = crc32_parts();
        let chosen: Vec<&PartInfo> = parts.iter().collect();
        let mut over = Checksummer::new(ChecksumAlgorithm::Crc32);
        for p in &parts {
            over.update(&ChecksumAlgorithm::Crc32.decode_value(&p.checksum.as_ref().unwrap().1).unwrap());
        }
        let want = format!("{}-2", over.finish());
        let composite = upload(Some(ChecksumAlgorithm::Crc32), false);
        let got = object_checksum(&composite, &chosen, &CompletionChecksum::default()).unwrap().unwrap();
        assert_eq!(got.1, want);
        let without_suffix = want.split('-').next().unwrap().to_owned();
        for sent in [want.clone(), without_suffix] {
            let asked = CompletionChecksum { checksum_type: None, expected: Some((ChecksumAlgorithm::Crc32, sent)) };
            assert!(object_checksum(&composite, &chosen, &asked).is_ok());
        }
        let other_count =
            CompletionChecksum { checksum_type: None, expected: Some((ChecksumAlgorithm::Crc32, format!("{}3", &want[..want.len() - 1]))) };
        assert_eq!(object_checksum(&composite, &chosen, &other_count).unwrap_err().code, "BadDigest");
    }

    #[test]
    fn a_checksum_of_another_algorithm_is_a_type_mismatch() {
        let (parts, _) = crc32_parts();
        let chosen: Vec<&PartInfo> = parts.iter().collect();
        let sha = CompletionChecksum { checksum_type: None, expected: Some((ChecksumAlgorithm::Sha256, "x".into())) };
        let e = object_checksum(&upload(Some(ChecksumAlgorithm::Crc32), false), &chosen, &sha).unwrap_err();
        assert_eq!(e.message, "Checksum Type mismatch occurred, expected checksum Type: crc32, actual checksum Type: sha256");
        let e = object_checksum(&upload(None, false), &chosen, &sha).unwrap_err();
        assert_eq!(e.message, "Checksum Type mismatch occurred, expected checksum Type: null, actual checksum Type: sha256");
        assert_eq!(object_checksum(&upload(None, false), &chosen, &CompletionChecksum::default()).unwrap(), None);
    }

    #[test]
    fn a_part_without_the_uploads_checksum_is_an_invalid_part() {
        let parts = [part(1, 1)];
        let e = object_checksum(&upload(Some(ChecksumAlgorithm::Crc32c), true), &[&parts[0]], &CompletionChecksum::default()).unwrap_err();
        assert_eq!(e.code, "InvalidPart");
    }
}
