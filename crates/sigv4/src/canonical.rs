//! The canonical request: the exact bytes both sides hash.
//!
//! Each helper here writes one line of the canonical request. They are shared by the
//! signer and the verifier, so a request we presign and a request we verify can never
//! be canonicalised in two different ways.

use std::borrow::Cow;

use crate::encode::{canonicalize_component, encode_into, find_byte};

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
    if raw_query.is_empty() {
        return Vec::new();
    }
    // Room for eight pairs covers a presigned URL's parameters without growing.
    let mut pairs = Vec::with_capacity(8);
    for segment in split_ascii(raw_query, b'&') {
        if segment.is_empty() {
            continue;
        }
        let (k, v) = split_once_ascii(segment, b'=').unwrap_or((segment, ""));
        push_query_pair(&mut pairs, k, v);
    }
    pairs
}

/// One step of [`canonical_query_pairs`] for a non-empty segment split into `k` and
/// `v`, for callers that walk the query themselves.
pub(crate) fn push_query_pair<'a>(pairs: &mut Vec<QueryPair<'a>>, k: &'a str, v: &'a str) {
    if k != "X-Amz-Signature" {
        pairs.push((canonicalize_component(k), canonicalize_component(v)));
    }
}

/// Splits `s` at every `sep`, like `str::split` with an ASCII `char`, but with an
/// inlinable word-at-a-time scan ([`find_byte`]): query segments are short, and
/// the general searcher's set-up cost showed up in verification profiles.
pub(crate) fn split_ascii(s: &str, sep: u8) -> SplitAscii<'_> {
    debug_assert!(sep.is_ascii());
    SplitAscii { rest: Some(s), sep }
}

/// Like `str::split_once` with an ASCII `char` (see [`split_ascii`]).
pub(crate) fn split_once_ascii(s: &str, sep: u8) -> Option<(&str, &str)> {
    debug_assert!(sep.is_ascii());
    let i = find_byte(s.as_bytes(), sep)?;
    // `sep` is ASCII, so `i` and `i + 1` are character boundaries.
    Some((&s[..i], &s[i + 1..]))
}

/// The iterator of [`split_ascii`].
pub(crate) struct SplitAscii<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for SplitAscii<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        match split_once_ascii(s, self.sep) {
            Some((head, tail)) => {
                self.rest = Some(tail);
                Some(head)
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
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
    fn ascii_splitting_matches_str_split() {
        for s in ["", "&", "a", "a&b", "&a&&b&", "k=v=w&x", "é=ü&ß", "=", "a=&=b"] {
            assert_eq!(split_ascii(s, b'&').collect::<Vec<_>>(), s.split('&').collect::<Vec<_>>(), "{s}");
            for seg in s.split('&') {
                assert_eq!(split_once_ascii(seg, b'='), seg.split_once('='), "{seg}");
            }
        }
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        let mut s = String::new();
        push_canonical_headers(&mut s, &["a", "b"], &[("A", "  x   y "), ("B", "1"), ("b", "2\n  3")]);
        assert_eq!(s, "a:x y\nb:1,2 3\n");
    }
}
