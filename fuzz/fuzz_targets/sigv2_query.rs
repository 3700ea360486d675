//! Legacy SigV2 query authentication: `linkgate::s3::sigv2::parse_query` over query
//! pairs, then `string_to_sign`, `sign` and `signature_matches` as the S3 handler uses
//! them. Must never panic.
//!
//! Input: a raw query string. It is split into pairs by the server's own
//! `linkgate::s3::query::Query::parse`, and also split naively (no decoding) so that
//! undecoded text reaches the parser too.
//!
//! Properties:
//! - `None` exactly when neither `AWSAccessKeyId` nor `Signature` is present;
//! - `Ok` carries the last value of each parameter, and `Expires` is that value, trimmed,
//!   as a decimal `i64`; `Err` when a parameter is missing or `Expires` is no number;
//! - the string to sign starts with the method, the two empty headers and `Expires`, and
//!   a signature matches itself and nothing shorter.

#![no_main]

use libfuzzer_sys::fuzz_target;
use linkgate::s3::query::Query;
use linkgate::s3::sigv2::{parse_query, sign, signature_matches, string_to_sign};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn check(pairs: &[(String, String)]) {
    let iter = || pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let last = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let (ak, exp, sig) = (last("AWSAccessKeyId"), last("Expires"), last("Signature"));

    match parse_query(iter()) {
        None => assert!(ak.is_none() && sig.is_none()),
        Some(Err(_)) => {
            assert!(ak.is_some() || sig.is_some());
            let complete = ak.is_some() && sig.is_some() && exp.is_some_and(|e| e.trim().parse::<i64>().is_ok());
            assert!(!complete, "refused a complete query: {pairs:?}");
        }
        Some(Ok(v2)) => {
            assert_eq!(Some(v2.access_key.as_str()), ak);
            assert_eq!(Some(v2.signature.as_str()), sig);
            assert_eq!(exp.map(|e| e.trim().parse::<i64>()), Some(Ok(v2.expires)));

            let headers = [("Content-Type", "text/plain"), ("X-Amz-Meta-A", " 1 "), ("x-amz-meta-a", "2"), ("x-amz-date", "x")];
            let sts = string_to_sign("GET", "", "", v2.expires, headers.into_iter(), "/bucket/key", iter());
            assert!(sts.starts_with(&format!("GET\n\n\n{}\nx-amz-date:x\nx-amz-meta-a:1,2\n/bucket/key", v2.expires)), "{sts:?}");
            let expected = sign(SECRET, &sts);
            assert!(signature_matches(&expected, &expected));
            assert!(!signature_matches(&expected, &expected[..expected.len() - 1]));
            assert_eq!(signature_matches(&expected, &v2.signature), expected == v2.signature);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);

    // As the server splits and decodes the query.
    let decoded: Vec<(String, String)> = Query::parse(&raw).iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    check(&decoded);

    // Undecoded, split on `&` and `=` only: every byte sequence reaches the parser.
    let plain: Vec<(String, String)> = raw
        .split('&')
        .map(|seg| {
            let (k, v) = seg.split_once('=').unwrap_or((seg, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    check(&plain);
});
