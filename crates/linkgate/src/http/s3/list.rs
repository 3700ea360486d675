//! ListObjects (v1), ListObjectsV2 and ListObjectVersions.
//!
//! One walk over the keys serves all three: keys in UTF-8 byte order, grouped by
//! delimiter into common prefixes, stopping after `max-keys` entries (keys and
//! prefixes both count, as in S3).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Ctx, S3Result, iso8601_ms, store_err, xml_response};
use crate::s3::error::S3Error;
use crate::s3::xml::XmlWriter;
use crate::store::ObjectMeta;

/// One page of a listing.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) contents: Vec<ObjectMeta>,
    pub(crate) prefixes: Vec<String>,
    pub(crate) truncated: bool,
    /// The last key or prefix returned: where the next page starts.
    pub(crate) last: Option<String>,
}

const BATCH: usize = 1000;

/// Walks keys after `after` under `prefix`.
pub(crate) fn walk(ctx: &Ctx<'_>, bucket: &str, prefix: &str, delimiter: &str, after: &str, max_keys: usize) -> Result<Page, S3Error> {
    let store = &ctx.state.store;
    if store.bucket(bucket).map_err(store_err)?.is_none() {
        return Err(S3Error::no_such_bucket(bucket));
    }
    let mut page = Page::default();
    let mut cursor = after.to_owned();
    // Resuming after a common prefix (NextMarker / token): its keys were rolled up already.
    let rest = after.strip_prefix(prefix).unwrap_or("");
    if !delimiter.is_empty() && rest.find(delimiter).is_some_and(|i| i + delimiter.len() == rest.len()) {
        cursor.push('\u{10FFFF}');
    }
    let mut count = 0;
    'outer: loop {
        let batch = store.list_objects(bucket, prefix, &cursor, BATCH).map_err(store_err)?;
        let full = batch.len() == BATCH;
        for obj in batch {
            if count == max_keys {
                page.truncated = true;
                break 'outer;
            }
            let rest = &obj.key[prefix.len()..];
            if let Some(i) = (!delimiter.is_empty()).then(|| rest.find(delimiter)).flatten() {
                let cp = obj.key[..prefix.len() + i + delimiter.len()].to_owned();
                // Skip every other key under this prefix.
                cursor = format!("{cp}\u{10FFFF}");
                page.last = Some(cp.clone());
                page.prefixes.push(cp);
                count += 1;
                continue 'outer;
            }
            cursor.clone_from(&obj.key);
            page.last = Some(obj.key.clone());
            page.contents.push(obj);
            count += 1;
        }
        if !full {
            break;
        }
    }
    Ok(page)
}

fn max_keys(ctx: &Ctx<'_>) -> Result<usize, S3Error> {
    match ctx.query.get("max-keys") {
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
    fn from(ctx: &Ctx<'_>) -> Result<Self, S3Error> {
        match ctx.query.get("encoding-type") {
            None => Ok(Self(false)),
            Some("url") => Ok(Self(true)),
            Some(other) => Err(S3Error::invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", other)),
        }
    }

    fn apply(&self, s: &str) -> String {
        if self.0 { sigv4::encode::encode(s, true) } else { s.to_owned() }
    }
}

fn owner(w: &mut XmlWriter, ctx: &Ctx<'_>) {
    w.open("Owner");
    w.element("ID", &ctx.state.root.access_key_id);
    w.element("DisplayName", "linkgate");
    w.close("Owner");
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

fn write_prefixes(w: &mut XmlWriter, page: &Page, enc: &Enc) {
    for p in &page.prefixes {
        w.open("CommonPrefixes");
        w.element("Prefix", &enc.apply(p));
        w.close("CommonPrefixes");
    }
}

/// ListObjectsV2.
pub(crate) fn list_objects_v2(ctx: &Ctx<'_>, bucket: &str) -> S3Result {
    let q = &ctx.query;
    let (prefix, delimiter) = (q.get("prefix").unwrap_or(""), q.get("delimiter").unwrap_or(""));
    let max = max_keys(ctx)?;
    let enc = Enc::from(ctx)?;
    let token = q.get("continuation-token");
    let after = match token {
        Some(t) => {
            let raw = URL_SAFE_NO_PAD.decode(t.trim()).ok().and_then(|b| String::from_utf8(b).ok());
            raw.ok_or_else(|| S3Error::invalid_argument("The continuation token provided is incorrect", "continuation-token", t))?
        }
        None => q.get("start-after").unwrap_or("").to_owned(),
    };
    let page = walk(ctx, bucket, prefix, delimiter, &after, max)?;
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
    for o in &page.contents {
        write_object(&mut w, "Contents", o, &enc);
        if fetch_owner {
            owner(&mut w, ctx);
        }
        w.close("Contents");
    }
    write_prefixes(&mut w, &page, &enc);
    w.close("ListBucketResult");
    Ok(xml_response(w.finish()))
}

/// ListObjects (v1).
pub(crate) fn list_objects_v1(ctx: &Ctx<'_>, bucket: &str) -> S3Result {
    let q = &ctx.query;
    let (prefix, delimiter, marker) = (q.get("prefix").unwrap_or(""), q.get("delimiter").unwrap_or(""), q.get("marker").unwrap_or(""));
    let max = max_keys(ctx)?;
    let enc = Enc::from(ctx)?;
    let page = walk(ctx, bucket, prefix, delimiter, marker, max)?;
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
    for o in &page.contents {
        write_object(&mut w, "Contents", o, &enc);
        owner(&mut w, ctx);
        w.close("Contents");
    }
    write_prefixes(&mut w, &page, &enc);
    w.close("ListBucketResult");
    Ok(xml_response(w.finish()))
}

/// ListObjectVersions: buckets are unversioned, so every key has one `null` version.
pub(crate) fn list_object_versions(ctx: &Ctx<'_>, bucket: &str) -> S3Result {
    let q = &ctx.query;
    let (prefix, delimiter, key_marker) =
        (q.get("prefix").unwrap_or(""), q.get("delimiter").unwrap_or(""), q.get("key-marker").unwrap_or(""));
    let max = max_keys(ctx)?;
    let enc = Enc::from(ctx)?;
    let page = walk(ctx, bucket, prefix, delimiter, key_marker, max)?;
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
    for o in &page.contents {
        write_object(&mut w, "Version", o, &enc);
        owner(&mut w, ctx);
        w.close("Version");
    }
    write_prefixes(&mut w, &page, &enc);
    w.close("ListVersionsResult");
    Ok(xml_response(w.finish()))
}
