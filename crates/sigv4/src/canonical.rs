//! The canonical request: the exact bytes both sides hash.
//!
//! Each helper here writes one line of the canonical request. They are shared by the
//! signer and the verifier, so a request we presign and a request we verify can never
//! be canonicalised in two different ways.

use std::borrow::Cow;

use crate::encode::{canonicalize_component, encode_into};

/// How the request path becomes the canonical URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathMode {
    /// S3: the path exactly as sent. S3 neither normalises (`//`, `.`, `..` are part
    /// of object keys) nor re-encodes it.
    AsSent,
    /// Every other service: optionally remove dot segments and repeated slashes, then
    /// percent-encode the (already encoded) path once more, keeping `/`.
    EncodeAgain {
        /// Remove `.`/`..` segments and collapse `//`, as the SDKs do by default.
        normalize: bool,
    },
}

/// Appends the canonical URI for `path` (raw, without query) to `out`.
pub fn push_canonical_uri(out: &mut String, path: &str, mode: PathMode) {
    match mode {
        PathMode::AsSent => out.push_str(if path.is_empty() { "/" } else { path }),
        PathMode::EncodeAgain { normalize } => {
            let normalized: Cow<'_, str> = if normalize { Cow::Owned(remove_dot_segments(path)) } else { Cow::Borrowed(path) };
            let p = if normalized.is_empty() { "/" } else { &normalized };
            encode_into(out, p.as_bytes(), true);
        }
    }
}

/// Removes `.` and `..` segments and empty segments (`//`), keeping a leading and a
/// trailing slash, as botocore and the AWS CRT normalise paths.
pub fn remove_dot_segments(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// One query parameter in canonical (encoded) form.
pub type QueryPair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Splits a raw query string into canonical pairs, skipping `X-Amz-Signature`.
/// Keys without `=` get an empty value; empty segments (`a=1&&b=2`) are skipped.
pub fn canonical_query_pairs(raw_query: &str) -> Vec<QueryPair<'_>> {
    let mut pairs = Vec::with_capacity(raw_query.bytes().filter(|&b| b == b'&').count() + 1);
    for segment in raw_query.split('&') {
        if segment.is_empty() {
            continue;
        }
        let (k, v) = segment.split_once('=').unwrap_or((segment, ""));
        if k == "X-Amz-Signature" {
            continue;
        }
        pairs.push((canonicalize_component(k), canonicalize_component(v)));
    }
    pairs
}

/// Sorts pairs by (key, value) bytes and appends them as `k=v&k=v` to `out`.
pub fn push_sorted_query(out: &mut String, pairs: &mut [QueryPair<'_>]) {
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then_with(|| a.1.as_bytes().cmp(b.1.as_bytes())));
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

/// Appends a header value as SigV4 wants it: trimmed, and every run of whitespace
/// (including folded continuation lines) collapsed to one space.
pub fn push_header_value(out: &mut String, value: &str) {
    let mut first = true;
    for word in value.split_ascii_whitespace() {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

/// Appends the canonical header lines (`name:value\n` each) for `signed` (lower-case
/// names, in order), taking values from `headers`. Repeated headers are joined with
/// `,` in the order received; a signed header that is absent yields an empty value,
/// which then fails the signature check as it should.
pub fn push_canonical_headers(out: &mut String, signed: &[&str], headers: &[(&str, &str)]) {
    for name in signed {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !first {
                out.push(',');
            }
            push_header_value(out, value);
            first = false;
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str, mode: PathMode) -> String {
        let mut s = String::new();
        push_canonical_uri(&mut s, path, mode);
        s
    }

    #[test]
    fn s3_paths_are_left_alone() {
        assert_eq!(uri("/b/a%20b//../c", PathMode::AsSent), "/b/a%20b//../c");
        assert_eq!(uri("", PathMode::AsSent), "/");
    }

    #[test]
    fn other_services_normalise_and_encode_again() {
        let norm = PathMode::EncodeAgain { normalize: true };
        assert_eq!(uri("/dev/x+y/a%20b/", norm), "/dev/x%2By/a%2520b/");
        assert_eq!(uri("//example//", norm), "/example/");
        assert_eq!(uri("/example/..", norm), "/");
        assert_eq!(uri("/./a/./b/../c/", norm), "/a/c/");
        assert_eq!(uri("//example//", PathMode::EncodeAgain { normalize: false }), "//example//");
    }

    #[test]
    fn query_is_canonicalised_and_sorted() {
        let mut pairs = canonical_query_pairs("b=2&a=z&a=y&c&X-Amz-Signature=abc&d=%2f&&e=a%20b");
        let mut s = String::new();
        push_sorted_query(&mut s, &mut pairs);
        assert_eq!(s, "a=y&a=z&b=2&c=&d=%2F&e=a%20b");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        let mut s = String::new();
        push_canonical_headers(&mut s, &["a", "b"], &[("A", "  x   y "), ("B", "1"), ("b", "2\n  3")]);
        assert_eq!(s, "a:x y\nb:1,2 3\n");
    }
}
