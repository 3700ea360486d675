//! What a GET or HEAD of an object answers before any byte is read: conditional
//! headers (RFC 7232, in S3's order) and the one byte range S3 honours.

use axum::http::{HeaderMap, HeaderName, header};

use crate::store::meta::etag_matches;

/// The request headers [`evaluate_conditionals`] reads.
const CONDITIONAL_HEADERS: [HeaderName; 4] =
    [header::IF_MATCH, header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE, header::IF_UNMODIFIED_SINCE];

/// The outcome of evaluating conditional GET headers.
#[derive(Debug, PartialEq, Eq)]
pub enum Conditional {
    /// Answer normally.
    Proceed,
    /// 304.
    NotModified,
    /// 412, naming the condition that failed.
    Failed(&'static str),
}

/// RFC 7232 precedence, as S3 applies it: If-Match, then If-Unmodified-Since (only
/// without If-Match), then If-None-Match, then If-Modified-Since (only without
/// If-None-Match).
pub fn evaluate_conditionals(headers: &HeaderMap, etag: &str, last_modified_ms: i64) -> Conditional {
    // Most reads send none of them: four lookups by constant name, no parsing.
    if !CONDITIONAL_HEADERS.iter().any(|name| headers.contains_key(name)) {
        return Conditional::Proceed;
    }
    evaluate_conditionals_by(|n: &str| headers.get(n).and_then(|v| v.to_str().ok()), etag, last_modified_ms)
}

/// [`evaluate_conditionals`] with the headers read through `get` (by lower-case
/// name without prefix: `if-match`, …), for CopyObject's `x-amz-copy-source-if-*`.
pub fn evaluate_conditionals_by<'h>(get: impl Fn(&str) -> Option<&'h str>, etag: &str, last_modified_ms: i64) -> Conditional {
    let modified_secs = last_modified_ms.div_euclid(1000);
    let date =
        |v: &str| httpdate::parse_http_date(v).ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs() as i64);
    if let Some(want) = get("if-match") {
        if !etag_matches(want, etag) {
            return Conditional::Failed("If-Match");
        }
    } else if let Some(since) = get("if-unmodified-since").and_then(date)
        && modified_secs > since
    {
        return Conditional::Failed("If-Unmodified-Since");
    }
    if let Some(none) = get("if-none-match") {
        if etag_matches(none, etag) {
            return Conditional::NotModified;
        }
    } else if let Some(since) = get("if-modified-since").and_then(date)
        && modified_secs <= since
    {
        return Conditional::NotModified;
    }
    Conditional::Proceed
}

/// A parsed `Range: bytes=…` header, resolved against the object size.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// No (usable) range: the whole object.
    Full,
    /// Inclusive byte range.
    Part(u64, u64),
    /// Syntactically valid but outside the object.
    Unsatisfiable,
}

/// S3 honours one range; malformed or multi-range headers get the whole object.
pub fn parse_range(value: Option<&str>, size: u64) -> RangeSpec {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else { return RangeSpec::Full };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return RangeSpec::Full };
    let (a, b) = (a.trim(), b.trim());
    let from = |start: u64, end: u64| if start >= size { RangeSpec::Unsatisfiable } else { RangeSpec::Part(start, end.min(size - 1)) };
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => from(start, end),
        (Ok(_), Ok(_)) => RangeSpec::Full,
        (Ok(start), Err(_)) if b.is_empty() => from(start, u64::MAX),
        (Err(_), Ok(suffix)) if a.is_empty() => {
            if suffix == 0 || size == 0 {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Part(size.saturating_sub(suffix), size - 1)
            }
        }
        _ => RangeSpec::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_as_s3() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100), RangeSpec::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=90-200"), 100), RangeSpec::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-10"), 100), RangeSpec::Part(90, 99));
        assert_eq!(parse_range(Some("bytes=-200"), 100), RangeSpec::Part(0, 99));
        assert_eq!(parse_range(Some("bytes=50-"), 100), RangeSpec::Part(50, 99));
        assert_eq!(parse_range(Some("bytes=100-"), 100), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=9-1"), 100), RangeSpec::Full);
        assert_eq!(parse_range(Some("items=0-1"), 100), RangeSpec::Full);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), RangeSpec::Unsatisfiable);
    }

    #[test]
    fn conditionals_follow_rfc7232_precedence() {
        let mut h = HeaderMap::new();
        let t = 1_700_000_000_000;
        let date = |s: i64| httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(s as u64));
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::Proceed);
        h.insert("if-match", "\"x\"".parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::Failed("If-Match"));
        h.insert("if-match", "\"e\"".parse().unwrap());
        h.insert("if-unmodified-since", date(1).parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::Proceed);
        let mut h = HeaderMap::new();
        h.insert("if-unmodified-since", date(1).parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::Failed("If-Unmodified-Since"));
        let mut h = HeaderMap::new();
        h.insert("if-none-match", "\"e\"".parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::NotModified);
        h.insert("if-none-match", "\"x\"".parse().unwrap());
        h.insert("if-modified-since", date(t / 1000 + 10).parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::Proceed);
        let mut h = HeaderMap::new();
        h.insert("if-modified-since", date(t / 1000).parse().unwrap());
        assert_eq!(evaluate_conditionals(&h, "\"e\"", t), Conditional::NotModified);
    }
}
