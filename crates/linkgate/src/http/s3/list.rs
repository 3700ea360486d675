//! ListObjects (v1), ListObjectsV2 and ListObjectVersions.
//!
//! One walk over the keys ([`crate::services::objects::Objects::list`]) serves all
//! three; this module reads their parameters and writes their XML.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::bucket::owner;
use super::{S3Call, S3Result, iso8601_ms, xml_response};
use crate::s3::error::S3Error;
use crate::s3::xml::XmlWriter;
use crate::services::objects::Page;
use crate::store::meta::ObjectMeta;

fn max_keys(call: &S3Call<'_>) -> Result<usize, S3Error> {
    match call.query.get("max-keys") {
        None => Ok(1000),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Ok((n as usize).min(1000)),
            _ => Err(S3Error::invalid_argument("Provided max-keys not an integer or within integer range", "max-keys", v)),
        },
    }
}

/// A continuation token: the name listing resumes after, opaque to clients.
pub(crate) fn encode_token(after: &str) -> String {
    URL_SAFE_NO_PAD.encode(after)
}

/// The name a `continuation-token` resumes after; S3's 400 for one we did not make.
pub(crate) fn decode_token(token: &str) -> Result<String, S3Error> {
    let raw = URL_SAFE_NO_PAD.decode(token.trim()).ok().and_then(|b| String::from_utf8(b).ok());
    raw.ok_or_else(|| S3Error::invalid_argument("The continuation token provided is incorrect", "continuation-token", token))
}

/// `encoding-type=url` encodes keys and prefixes (keeping `/`), for keys XML cannot carry.
struct Enc(bool);

impl Enc {
    fn from(call: &S3Call<'_>) -> Result<Self, S3Error> {
        match call.query.get("encoding-type") {
            None => Ok(Self(false)),
            Some("url") => Ok(Self(true)),
            Some(other) => Err(S3Error::invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", other)),
        }
    }

    fn apply(&self, s: &str) -> String {
        if self.0 { sigv4::encode::encode(s, true) } else { s.to_owned() }
    }
}

fn write_common(w: &mut XmlWriter, name: &str, prefix: &str, delimiter: &str, max: usize, enc: &Enc) {
    w.element("Name", name);
    w.element("Prefix", &enc.apply(prefix));
    w.element("MaxKeys", &max.to_string());
    if !delimiter.is_empty() {
        w.element("Delimiter", &enc.apply(delimiter));
    }
    if enc.0 {
        w.element("EncodingType", "url");
    }
}

fn write_object(w: &mut XmlWriter, tag: &str, o: &ObjectMeta, enc: &Enc) {
    w.open(tag);
    w.element("Key", &enc.apply(&o.key));
    if tag == "Version" {
        w.element("VersionId", "null");
        w.element("IsLatest", "true");
    }
    w.element("LastModified", &iso8601_ms(o.last_modified_ms));
    w.element("ETag", &o.etag);
    w.element("Size", &o.size.to_string());
    w.element("StorageClass", "STANDARD");
}

/// One listing being answered: its page of keys and the document so far.
struct Listing {
    w: XmlWriter,
    page: Page,
    enc: Enc,
}

impl Listing {
    /// Reads the parameters every listing shares, lists the keys after `after`, and
    /// opens the `root` document with them.
    async fn begin(call: &S3Call<'_>, bucket: &str, after: &str, root: &str) -> Result<Self, S3Error> {
        let q = &call.query;
        let (prefix, delimiter) = (q.get("prefix").unwrap_or(""), q.get("delimiter").unwrap_or(""));
        let max = max_keys(call)?;
        let enc = Enc::from(call)?;
        let page = call.state.objects.list(bucket, prefix, delimiter, after, max).await?;
        let mut w = XmlWriter::document();
        w.open_root(root);
        write_common(&mut w, bucket, prefix, delimiter, max, &enc);
        Ok(Self { w, page, enc })
    }

    fn truncated(&self) -> &'static str {
        if self.page.truncated { "true" } else { "false" }
    }

    /// The key or prefix the next page starts after, if there is a next page.
    fn next(&self) -> Option<&str> {
        self.page.last.as_deref().filter(|_| self.page.truncated)
    }

    /// Writes the page's entries (each `tag`, with `<Owner>` if asked) and common
    /// prefixes, closes `root` and answers the document.
    fn finish(mut self, call: &S3Call<'_>, (root, tag): (&str, &str), with_owner: bool) -> axum::response::Response {
        for o in &self.page.contents {
            write_object(&mut self.w, tag, o, &self.enc);
            if with_owner {
                owner(&mut self.w, call);
            }
            self.w.close(tag);
        }
        for p in &self.page.prefixes {
            self.w.open("CommonPrefixes");
            self.w.element("Prefix", &self.enc.apply(p));
            self.w.close("CommonPrefixes");
        }
        self.w.close(root);
        xml_response(self.w.finish())
    }
}

/// ListObjectsV2.
pub(crate) async fn list_objects_v2(call: &S3Call<'_>, bucket: &str) -> S3Result {
    let q = &call.query;
    let token = q.get("continuation-token");
    let after = match token {
        Some(t) => decode_token(t)?,
        None => q.get("start-after").unwrap_or("").to_owned(),
    };
    let mut l = Listing::begin(call, bucket, &after, "ListBucketResult").await?;
    l.w.element("KeyCount", &(l.page.contents.len() + l.page.prefixes.len()).to_string());
    l.w.element("IsTruncated", l.truncated());
    if let Some(t) = token {
        l.w.element("ContinuationToken", t);
    }
    if let Some(next) = l.next().map(encode_token) {
        l.w.element("NextContinuationToken", &next);
    }
    if let Some(sa) = q.get("start-after") {
        l.w.element("StartAfter", &l.enc.apply(sa));
    }
    let fetch_owner = q.get("fetch-owner").is_some_and(|v| v == "true");
    Ok(l.finish(call, ("ListBucketResult", "Contents"), fetch_owner))
}

/// ListObjects (v1).
pub(crate) async fn list_objects_v1(call: &S3Call<'_>, bucket: &str) -> S3Result {
    let marker = call.query.get("marker").unwrap_or("");
    let mut l = Listing::begin(call, bucket, marker, "ListBucketResult").await?;
    l.w.element("Marker", &l.enc.apply(marker));
    l.w.element("IsTruncated", l.truncated());
    let delimited = call.query.get("delimiter").is_some_and(|d| !d.is_empty());
    if let Some(next) = l.next().filter(|_| delimited).map(|n| l.enc.apply(n)) {
        l.w.element("NextMarker", &next);
    }
    Ok(l.finish(call, ("ListBucketResult", "Contents"), true))
}

/// ListObjectVersions: buckets are unversioned, so every key has one `null` version.
pub(crate) async fn list_object_versions(call: &S3Call<'_>, bucket: &str) -> S3Result {
    let key_marker = call.query.get("key-marker").unwrap_or("");
    let mut l = Listing::begin(call, bucket, key_marker, "ListVersionsResult").await?;
    l.w.element("KeyMarker", &l.enc.apply(key_marker));
    l.w.element("VersionIdMarker", call.query.get("version-id-marker").unwrap_or(""));
    l.w.element("IsTruncated", l.truncated());
    if let Some(next) = l.next().map(|n| l.enc.apply(n)) {
        l.w.element("NextKeyMarker", &next);
        l.w.element("NextVersionIdMarker", "null");
    }
    Ok(l.finish(call, ("ListVersionsResult", "Version"), true))
}
