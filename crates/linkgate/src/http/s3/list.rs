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

/// Writes the page's entries (each `tag`, with `<Owner>` if asked) and common
/// prefixes, closes `root` and answers the document.
fn finish(
    mut w: XmlWriter,
    call: &S3Call<'_>,
    page: &Page,
    enc: &Enc,
    (root, tag): (&str, &str),
    with_owner: bool,
) -> axum::response::Response {
    for o in &page.contents {
        write_object(&mut w, tag, o, enc);
        if with_owner {
            owner(&mut w, call);
        }
        w.close(tag);
    }
    write_prefixes(&mut w, page, enc);
    w.close(root);
    xml_response(w.finish())
}

fn write_prefixes(w: &mut XmlWriter, page: &Page, enc: &Enc) {
    for p in &page.prefixes {
        w.open("CommonPrefixes");
        w.element("Prefix", &enc.apply(p));
        w.close("CommonPrefixes");
    }
}

/// ListObjectsV2.
pub(crate) async fn list_objects_v2(call: &S3Call<'_>, bucket: &str) -> S3Result {
    let q = &call.query;
    let (prefix, delimiter) = (q.get("prefix").unwrap_or(""), q.get("delimiter").unwrap_or(""));
    let max = max_keys(call)?;
    let enc = Enc::from(call)?;
    let token = q.get("continuation-token");
    let after = match token {
        Some(t) => {
            let raw = URL_SAFE_NO_PAD.decode(t.trim()).ok().and_then(|b| String::from_utf8(b).ok());
            raw.ok_or_else(|| S3Error::invalid_argument("The continuation token provided is incorrect", "continuation-token", t))?
        }
        None => q.get("start-after").unwrap_or("").to_owned(),
    };
    let page = call.state.objects.list(bucket, prefix, delimiter, &after, max).await?;
    let mut w = XmlWriter::document();
    w.open_root("ListBucketResult");
    write_common(&mut w, bucket, prefix, delimiter, max, &enc);
    w.element("KeyCount", &(page.contents.len() + page.prefixes.len()).to_string());
    w.element("IsTruncated", if page.truncated { "true" } else { "false" });
    if let Some(t) = token {
        w.element("ContinuationToken", t);
    }
    if page.truncated
        && let Some(last) = &page.last
    {
        w.element("NextContinuationToken", &URL_SAFE_NO_PAD.encode(last));
    }
    if let Some(sa) = q.get("start-after") {
        w.element("StartAfter", &enc.apply(sa));
    }
    let fetch_owner = q.get("fetch-owner").is_some_and(|v| v == "true");
    Ok(finish(w, call, &page, &enc, ("ListBucketResult", "Contents"), fetch_owner))
}

/// ListObjects (v1).
pub(crate) async fn list_objects_v1(call: &S3Call<'_>, bucket: &str) -> S3Result {
    let q = &call.query;
    let (prefix, delimiter, marker) = (q.get("prefix").unwrap_or(""), q.get("delimiter").unwrap_or(""), q.get("marker").unwrap_or(""));
    let max = max_keys(call)?;
    let enc = Enc::from(call)?;
    let page = call.state.objects.list(bucket, prefix, delimiter, marker, max).await?;
    let mut w = XmlWriter::document();
    w.open_root("ListBucketResult");
    write_common(&mut w, bucket, prefix, delimiter, max, &enc);
    w.element("Marker", &enc.apply(marker));
    w.element("IsTruncated", if page.truncated { "true" } else { "false" });
    if page.truncated
        && !delimiter.is_empty()
        && let Some(last) = &page.last
    {
        w.element("NextMarker", &enc.apply(last));
    }
    Ok(finish(w, call, &page, &enc, ("ListBucketResult", "Contents"), true))
}

/// ListObjectVersions: buckets are unversioned, so every key has one `null` version.
pub(crate) async fn list_object_versions(call: &S3Call<'_>, bucket: &str) -> S3Result {
    let q = &call.query;
    let (prefix, delimiter, key_marker) =
        (q.get("prefix").unwrap_or(""), q.get("delimiter").unwrap_or(""), q.get("key-marker").unwrap_or(""));
    let max = max_keys(call)?;
    let enc = Enc::from(call)?;
    let page = call.state.objects.list(bucket, prefix, delimiter, key_marker, max).await?;
    let mut w = XmlWriter::document();
    w.open_root("ListVersionsResult");
    write_common(&mut w, bucket, prefix, delimiter, max, &enc);
    w.element("KeyMarker", &enc.apply(key_marker));
    w.element("VersionIdMarker", q.get("version-id-marker").unwrap_or(""));
    w.element("IsTruncated", if page.truncated { "true" } else { "false" });
    if page.truncated
        && let Some(last) = &page.last
    {
        w.element("NextKeyMarker", &enc.apply(last));
        w.element("NextVersionIdMarker", "null");
    }
    Ok(finish(w, call, &page, &enc, ("ListVersionsResult", "Version"), true))
}
