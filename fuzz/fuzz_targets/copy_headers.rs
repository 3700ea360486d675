//! CopyObject / UploadPartCopy and SigV2 header parsing over untrusted header
//! values: `linkgate::s3::copy::{parse_copy_source, copy_source_range}` and
//! `linkgate::s3::sigv2::{parse_header, parse_date}`. Must never panic.
//!
//! Input: bytes split at the first NUL into a header value and a second one (the
//! range); the first byte of the second also picks the source size.
//!
//! Properties:
//! - a parsed copy source names a non-empty bucket and key;
//! - a parsed range lies inside the source: start + length ≤ size, length ≥ 1;
//! - a parsed `AWS key:signature` header gives non-empty parts that occur in it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use linkgate::s3::copy::{copy_source_range, parse_copy_source};
use linkgate::s3::sigv2::{parse_date, parse_header};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (source, range) = text.split_once('\0').unwrap_or((&text, ""));
    if let Ok(s) = parse_copy_source(source) {
        assert!(!s.bucket.is_empty() && !s.key.is_empty());
    }
    let size = u64::from(range.bytes().next().unwrap_or(0)) * 1000;
    if let Ok((start, len)) = copy_source_range(Some(range), size) {
        assert!(len >= 1 && start + len <= size, "{range:?} of {size}: {start}+{len}");
    }
    if let Some((ak, sig)) = parse_header(source) {
        assert!(!ak.is_empty() && !sig.is_empty() && source.contains(ak) && source.contains(sig));
    }
    let _ = parse_date(source);
});
