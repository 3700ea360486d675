//! Reading URLs and presign parameters for people and tools, leniently.
//!
//! [`crate::verify`] stops at the first problem, as S3 does; `linkgate explain`
//! wants to show everything it can about a URL, even a broken one. This module
//! splits a URL and collects the `X-Amz-*` fields without judging them.

use crate::encode::decode;
use crate::time::AmzDate;

/// A URL split into the pieces SigV4 cares about. Nothing is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// `http` or `https` (lower-cased by the caller's eye; kept as written).
    pub scheme: &'a str,
    /// `host[:port]` as written.
    pub authority: &'a str,
    /// The path, `/` when the URL has none.
    pub path: &'a str,
    /// The query without `?`, empty when there is none.
    pub query: &'a str,
}

impl UrlParts<'_> {
    /// The `host` header value a client sends and signs: lower-case, without the
    /// scheme's default port (botocore and the CRT drop `:80`/`:443`).
    pub fn host_header(&self) -> String {
        let host = self.authority.rsplit_once('@').map_or(self.authority, |(_, h)| h).to_ascii_lowercase();
        let default = match self.scheme.to_ascii_lowercase().as_str() {
            "http" => Some(":80"),
            "https" => Some(":443"),
            _ => None,
        };
        match default {
            Some(port) if host.ends_with(port) && !host.ends_with(']') => host[..host.len() - port.len()].to_owned(),
            _ => host,
        }
    }
}

/// Splits `scheme://authority/path?query#fragment`. Returns `None` without a scheme
/// or authority. The fragment is dropped: it never reaches a server.
pub fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
        return None;
    }
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    if authority.is_empty() {
        return None;
    }
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    Some(UrlParts { scheme, authority, path: if path.is_empty() { "/" } else { path }, query })
}

/// The presign fields of a query, decoded, each as found (or absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresignFields {
    /// `X-Amz-Algorithm`.
    pub algorithm: Option<String>,
    /// `X-Amz-Credential`, decoded.
    pub credential: Option<String>,
    /// `X-Amz-Date` as written.
    pub date: Option<String>,
    /// `X-Amz-Expires` as written.
    pub expires: Option<String>,
    /// `X-Amz-SignedHeaders`, decoded.
    pub signed_headers: Option<String>,
    /// `X-Amz-Signature`.
    pub signature: Option<String>,
    /// `X-Amz-Security-Token`, decoded.
    pub security_token: Option<String>,
    /// Every other query parameter, decoded, in order.
    pub other: Vec<(String, String)>,
    /// Names of `X-Amz-*` presign parameters that appear more than once.
    pub repeated: Vec<String>,
}

impl PresignFields {
    /// Collects the fields from a raw query string.
    pub fn from_query(query: &str) -> Self {
        let mut f = Self::default();
        for seg in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = seg.split_once('=').unwrap_or((seg, ""));
            let value = String::from_utf8_lossy(&decode(v)).into_owned();
            let slot = match k {
                "X-Amz-Algorithm" => &mut f.algorithm,
                "X-Amz-Credential" => &mut f.credential,
                "X-Amz-Date" => &mut f.date,
                "X-Amz-Expires" => &mut f.expires,
                "X-Amz-SignedHeaders" => &mut f.signed_headers,
                "X-Amz-Signature" => &mut f.signature,
                "X-Amz-Security-Token" => &mut f.security_token,
                _ => {
                    f.other.push((String::from_utf8_lossy(&decode(k)).into_owned(), value));
                    continue;
                }
            };
            if slot.is_some() && !f.repeated.iter().any(|r| r == k) {
                f.repeated.push(k.to_owned());
            }
            *slot = Some(value);
        }
        f
    }

    /// The credential's five parts, when it has exactly five.
    pub fn scope(&self) -> Option<[&str; 5]> {
        let parts: Vec<&str> = self.credential.as_deref()?.split('/').collect();
        parts.try_into().ok()
    }

    /// `X-Amz-Date` parsed.
    pub fn signed_at(&self) -> Option<AmzDate> {
        AmzDate::parse(self.date.as_deref()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let u = split_url("https://B.s3.amazonaws.com:443/k%20ey?a=1&b#frag").unwrap();
        assert_eq!((u.scheme, u.authority, u.path, u.query), ("https", "B.s3.amazonaws.com:443", "/k%20ey", "a=1&b"));
        assert_eq!(u.host_header(), "b.s3.amazonaws.com");
        let v = split_url("http://[::1]:9000?x=1").unwrap();
        assert_eq!((v.path, v.query, v.host_header().as_str()), ("/", "x=1", "[::1]:9000"));
        assert_eq!(split_url("http://localhost:80/").unwrap().host_header(), "localhost");
        assert!(split_url("nohost").is_none());
        assert!(split_url("http:///path").is_none());
    }

    #[test]
    fn collects_fields() {
        let f = PresignFields::from_query(
            "X-Amz-Credential=AK%2F20200101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20200101T000000Z&x=1&X-Amz-Date=2",
        );
        assert_eq!(f.scope(), Some(["AK", "20200101", "us-east-1", "s3", "aws4_request"]));
        assert_eq!(f.repeated, vec!["X-Amz-Date".to_owned()]);
        assert_eq!(f.other, vec![("x".to_owned(), "1".to_owned())]);
    }
}
