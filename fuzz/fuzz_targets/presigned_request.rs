//! A whole presigned request from arbitrary bytes, through every parser and both
//! verification steps. Must never panic.
//!
//! Input: `URL \0 BLOB`, split on the first NUL byte (no NUL: all URL, empty blob).
//! The blob is lines: `name: value` is a header, a line without `:` is the method.
//! When the URL parses and no `host` header was given, the URL's host is added, so
//! real presigned URLs (see the seed corpus) reach the signature check.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sigv4::canonical::{canonical_query_pairs, push_sorted_query};
use sigv4::inspect::{PresignFields, split_url};
use sigv4::{AmzDate, EMPTY_SHA256, PathMode, Policy, RequestParts, SigningKeyCache, check_header, check_presigned};

/// The AWS documentation's example secret; `seed-own-*` corpus files are signed with it.
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-east-1";
/// 2013-05-24T00:00:00Z, the date of AWS's documented S3 presign example.
const FALLBACK_NOW: i64 = 1_369_353_600;

fuzz_target!(|data: &[u8]| {
    let (url, blob) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let url = String::from_utf8_lossy(url);
    let blob = String::from_utf8_lossy(blob);

    let mut method = "GET";
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for line in blob.lines() {
        match line.split_once(':') {
            Some((name, value)) => headers.push((name.trim(), value.trim_start())),
            None => method = line,
        }
    }

    // An unparsable URL is still a (path, query) pair to the verifier.
    let (path, query, host) = match split_url(&url) {
        Some(parts) => {
            let _ = parts.host_header();
            (parts.path, parts.query, Some(parts.host_header()))
        }
        None => match url.split_once('?') {
            Some((p, q)) => (p, q, None),
            None => (&*url, "", None),
        },
    };
    if let Some(host) = &host
        && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host"))
    {
        headers.push(("host", host));
    }

    let fields = PresignFields::from_query(query);
    let _ = (fields.scope(), fields.signed_at());
    let mut pairs = canonical_query_pairs(query);
    let mut canonical_query = String::new();
    push_sorted_query(&mut canonical_query, &mut pairs);

    // The clock is the URL's own X-Amz-Date when it has one, so that the time checks
    // pass and the fuzzer gets to the scope, header and signature checks.
    let now = fields.signed_at().unwrap_or(AmzDate::from_unix(FALLBACK_NOW));
    let s3 = Policy::s3(REGION, now);
    let api = Policy {
        region: REGION,
        service: "execute-api",
        path_mode: PathMode::EncodeAgain { normalize: true },
        now,
        future_tolerance_secs: 900,
        max_skew_secs: 900,
        payload_hash: Some(EMPTY_SHA256),
    };
    let cache = SigningKeyCache::new(4);
    let req = RequestParts { method, path, query, headers: &headers };
    for policy in [s3, api] {
        if let Ok(pending) = check_presigned(&req, &policy) {
            let _ = (pending.access_key(), pending.session_token(), pending.style());
            if let Ok(verified) = pending.verify(SECRET, &cache) {
                // What was verified is the signature the URL carries.
                assert_eq!(Some(&verified.signature), fields.signature.as_ref());
            }
        }
        if let Ok(pending) = check_header(&req, &policy) {
            let _ = pending.verify(SECRET, &cache);
        }
    }
});
