//! Legacy Signature Version 2 query authentication (`AWSAccessKeyId`, `Expires`,
//! `Signature`).
//!
//! AWS CLI v1 still presigns with SigV2 for custom endpoints (`aws s3 presign
//! --endpoint-url …`), so a gateway that refused it would break the first command
//! many users try. Only the query form is accepted; it is verified in constant time.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Query parameters that belong to the canonical resource, in SigV2's sorted order.
const SUBRESOURCES: [&str; 26] = [
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "select",
];

/// The SigV2 fields of a query, when all three are present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryAuthV2 {
    /// `AWSAccessKeyId`.
    pub access_key: String,
    /// `Expires`, unix seconds.
    pub expires: i64,
    /// `Signature`, base64.
    pub signature: String,
}

/// Extracts SigV2 query auth from decoded query pairs. `Err` when present but malformed.
pub fn parse_query<'a>(mut pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Option<Result<QueryAuthV2, &'static str>> {
    let (mut ak, mut exp, mut sig) = (None, None, None);
    for (k, v) in pairs.by_ref() {
        match k {
            "AWSAccessKeyId" => ak = Some(v),
            "Expires" => exp = Some(v),
            "Signature" => sig = Some(v),
            _ => {}
        }
    }
    if ak.is_none() && sig.is_none() {
        return None;
    }
    let (Some(ak), Some(exp), Some(sig)) = (ak, exp, sig) else {
        return Some(Err("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"));
    };
    let Ok(expires) = exp.trim().parse::<i64>() else {
        return Some(Err("Invalid date (should be seconds since epoch)"));
    };
    Some(Ok(QueryAuthV2 { access_key: ak.to_owned(), expires, signature: sig.to_owned() }))
}

/// The string SigV2 signs for a presigned request.
pub fn string_to_sign<'a>(
    method: &str,
    content_md5: &str,
    content_type: &str,
    expires: i64,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    raw_path: &str,
    query: impl Iterator<Item = (&'a str, &'a str)>,
) -> String {
    string_to_sign_dated(method, content_md5, content_type, &expires.to_string(), headers, raw_path, query)
}

/// The string SigV2 signs, with `date` on the date line: `Expires` for a
/// presigned request; for a header-signed one the `Date` header, or nothing
/// when `x-amz-date` is sent (it is then signed among the `x-amz-*` headers).
pub fn string_to_sign_dated<'a>(
    method: &str,
    content_md5: &str,
    content_type: &str,
    date: &str,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    raw_path: &str,
    query: impl Iterator<Item = (&'a str, &'a str)>,
) -> String {
    let expires = date;
    let mut amz: Vec<(String, String)> = headers
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-amz-"))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    amz.sort();
    let mut s = format!("{method}\n{content_md5}\n{content_type}\n{expires}\n");
    let mut i = 0;
    while i < amz.len() {
        let name = amz[i].0.clone();
        let values: Vec<&str> = amz[i..].iter().take_while(|(n, _)| *n == name).map(|(_, v)| v.as_str()).collect();
        i += values.len();
        s.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    s.push_str(raw_path);
    let mut subs: Vec<(&str, &str)> = query.filter(|(k, _)| SUBRESOURCES.contains(k)).collect();
    subs.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (k, v)) in subs.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        if !v.is_empty() {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

/// Splits `Authorization: AWS AccessKeyId:Signature`; `None` if it is not
/// that shape.
pub fn parse_header(value: &str) -> Option<(&str, &str)> {
    let (ak, sig) = value.strip_prefix("AWS ")?.trim().split_once(':')?;
    (!ak.is_empty() && !sig.is_empty()).then_some((ak, sig))
}

/// A SigV2 `Date` / `x-amz-date`: an HTTP date, in GMT (`… 12:13:20 GMT`) or
/// with a numeric offset (`… 12:13:20 +0000`, as s3cmd and Python's `email.utils`
/// write it). Unix seconds.
pub fn parse_date(value: &str) -> Option<i64> {
    let value = value.trim();
    let unix = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs() as i64);
    if let Ok(t) = httpdate::parse_http_date(value) {
        return unix(t);
    }
    let (stamp, offset) = value.rsplit_once(' ')?;
    let (sign, digits) = match offset.as_bytes().first()? {
        b'+' => (1, &offset[1..]),
        b'-' => (-1, &offset[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let minutes = digits[..2].parse::<i64>().ok()? * 60 + digits[2..].parse::<i64>().ok()?;
    let local = unix(httpdate::parse_http_date(&format!("{stamp} GMT")).ok()?)?;
    Some(local - sign * minutes * 60)
}

/// `base64(HMAC-SHA1(secret, string_to_sign))`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time comparison of the expected and provided signatures.
pub fn signature_matches(expected: &str, provided: &str) -> bool {
    expected.len() == provided.len() && bool::from(expected.as_bytes().ct_eq(provided.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header-signed GET of AWS's SigV2 documentation ("Example Object GET").
    #[test]
    fn aws_documentation_example() {
        let sts = string_to_sign_dated(
            "GET",
            "",
            "",
            "Tue, 27 Mar 2007 19:36:42 +0000",
            std::iter::empty(),
            "/awsexamplebucket1/photos/puppy.jpg",
            std::iter::empty(),
        );
        assert_eq!(sts, "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg");
        assert_eq!(sign("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &sts), "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
        assert_eq!(
            parse_header("AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g="),
            Some(("AKIAIOSFODNN7EXAMPLE", "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="))
        );
        assert_eq!(parse_header("AWS nocolon"), None);
        assert_eq!(parse_date("Tue, 27 Mar 2007 19:36:42 +0000"), Some(1_175_024_202));
        assert_eq!(parse_date("Tue, 27 Mar 2007 19:36:42 GMT"), Some(1_175_024_202));
        assert_eq!(parse_date("Tue, 27 Mar 2007 21:36:42 +0200"), Some(1_175_024_202));
        assert_eq!(parse_date("Tue, 27 Mar 2007 19:36:42 +02"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_header("AWS4-HMAC-SHA256 Credential=x"), None);
    }

    #[test]
    fn matches_the_aws_documentation_example() {
        // "Query string request authentication" example from the S3 SigV2 docs.
        let sts = string_to_sign("GET", "", "", 1_175_139_620, std::iter::empty(), "/johnsmith/photos/puppy.jpg", std::iter::empty());
        assert_eq!(sts, "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg");
        assert_eq!(
            sign("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", &sts),
            "NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D".replace("%2B", "+").replace("%3D", "=")
        );
    }

    #[test]
    fn subresources_are_sorted_and_others_ignored() {
        let q = [("versionId", "3"), ("X-foo", "1"), ("response-content-type", "text/plain"), ("uploads", "")];
        let sts = string_to_sign("GET", "", "", 5, [("X-Amz-Meta-B", " 2 "), ("x-amz-meta-a", "1")].into_iter(), "/b/k", q.into_iter());
        assert_eq!(sts, "GET\n\n\n5\nx-amz-meta-a:1\nx-amz-meta-b:2\n/b/k?response-content-type=text/plain&uploads&versionId=3");
    }

    #[test]
    fn parses_or_rejects() {
        assert_eq!(parse_query([("a", "b")].into_iter()), None);
        assert!(matches!(parse_query([("AWSAccessKeyId", "AK")].into_iter()), Some(Err(_))));
        let ok = parse_query([("AWSAccessKeyId", "AK"), ("Expires", "10"), ("Signature", "s")].into_iter()).unwrap().unwrap();
        assert_eq!(ok.expires, 10);
    }
}
