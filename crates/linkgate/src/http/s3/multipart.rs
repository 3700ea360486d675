//! Multipart uploads: create, upload part (presignable), complete, abort, list parts.

use axum::body::Body;
use axum::http::{StatusCode, header};
use md5::{Digest as _, Md5};

use super::body::{self, read_small};
use super::object::{check_upload_headers, metadata_from_headers, set, set_named, write_body};
use super::{Ctx, S3Result, empty, iso8601_ms, now_ms, store_err, xml_response};
use crate::ids::random_hex;
use crate::s3::checksum::ChecksumAlgorithm;
use crate::s3::error::S3Error;
use crate::s3::requests::parse_complete;
use crate::s3::xml::XmlWriter;
use crate::store::{Lookup, ObjectMeta, PartInfo, UploadInfo};

/// Every part but the last must be at least this big (S3's rule).
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's highest part number.
const MAX_PART_NUMBER: u32 = 10_000;

fn upload_for(ctx: &Ctx<'_>, bucket: &str, key: &str) -> Result<UploadInfo, S3Error> {
    let id = ctx.query.get("uploadId").unwrap_or("");
    match ctx.state.store.upload(id).map_err(store_err)? {
        Some(u) if u.bucket == bucket && u.key == key => Ok(u),
        _ => Err(S3Error::no_such_upload(id)),
    }
}

/// CreateMultipartUpload (POST ?uploads).
pub(crate) fn create(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result {
    if matches!(ctx.state.store.object(bucket, key).map_err(store_err)?, Lookup::NoBucket) {
        return Err(S3Error::no_such_bucket(bucket));
    }
    let (content_type, headers) = metadata_from_headers(&ctx.parts.headers);
    let checksum = ctx
        .header("x-amz-checksum-algorithm")
        .map(|a| {
            ChecksumAlgorithm::from_algorithm_name(a)
                .ok_or_else(|| S3Error::invalid_request(format!("Checksum algorithm {a} is not supported.")))
        })
        .transpose()?;
    let upload_id = random_hex(24);
    let template = ObjectMeta {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        content_type,
        headers,
        checksum: checksum.map(|a| (a.header_name().to_owned(), String::new())),
        ..ObjectMeta::default()
    };
    let upload =
        UploadInfo { upload_id: upload_id.clone(), bucket: bucket.to_owned(), key: key.to_owned(), initiated_ms: now_ms(), template };
    ctx.state.store.create_upload(&upload).map_err(store_err)?;
    let mut w = XmlWriter::document();
    w.open_root("InitiateMultipartUploadResult");
    w.element("Bucket", bucket);
    w.element("Key", key);
    w.element("UploadId", &upload_id);
    w.close("InitiateMultipartUploadResult");
    let mut r = xml_response(w.finish());
    if let Some(a) = checksum {
        set_named(&mut r, "x-amz-checksum-algorithm", a.algorithm_name());
    }
    Ok(r)
}

/// UploadPart (PUT ?partNumber=N&uploadId=…), presigned or header-signed.
pub(crate) async fn upload_part(ctx: &Ctx<'_>, bucket: &str, key: &str, body: Body) -> S3Result {
    let raw = ctx.query.get("partNumber").unwrap_or("");
    let part_number = raw
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| S3Error::invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", raw))?;
    check_upload_headers(ctx)?;
    let upload = upload_for(ctx, bucket, key)?;
    let (stream, checks) = body::decode(ctx, body)?;
    let written = write_body(ctx, stream, &checks).await?;
    let etag = format!("\"{}\"", written.digests.md5_hex());
    let part = PartInfo {
        part_number,
        file_id: written.id.clone(),
        size: written.digests.len,
        etag: etag.clone(),
        last_modified_ms: now_ms(),
        checksum: written.digests.checksum.as_ref().map(|(a, v)| (a.header_name().to_owned(), v.clone())),
    };
    let (exists, replaced) = ctx.state.store.put_part(&upload.upload_id, &part).map_err(|e| {
        ctx.state.objects.remove(&written.id);
        store_err(e)
    })?;
    if !exists {
        ctx.state.objects.remove(&written.id);
        return Err(S3Error::no_such_upload(&upload.upload_id));
    }
    if let Some(old) = replaced {
        ctx.state.objects.remove(&old);
    }
    let mut r = empty(StatusCode::OK);
    set(&mut r, header::ETAG, &etag);
    if let Some((name, value)) = &part.checksum {
        set_named(&mut r, name, value);
    }
    Ok(r)
}

/// CompleteMultipartUpload (POST ?uploadId=…).
pub(crate) async fn complete(ctx: &Ctx<'_>, bucket: &str, key: &str, body: Body) -> S3Result {
    let upload = upload_for(ctx, bucket, key)?;
    let doc = read_small(ctx, body, 4 * 1024 * 1024).await?;
    let requested = parse_complete(&doc)?;
    let stored = ctx.state.store.parts(&upload.upload_id).map_err(store_err)?;
    let mut chosen: Vec<&PartInfo> = Vec::with_capacity(requested.len());
    for (number, etag) in &requested {
        let part = stored.iter().find(|p| p.part_number == *number && p.etag.trim_matches('"') == etag).ok_or_else(|| {
            S3Error::new(
                "InvalidPart",
                400,
                "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
            )
            .with("UploadId", upload.upload_id.clone())
            .with("PartNumber", number.to_string())
        })?;
        chosen.push(part);
    }
    if let Some(small) = chosen[..chosen.len() - 1].iter().find(|p| p.size < MIN_PART_SIZE) {
        return Err(S3Error::new("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size.")
            .with("ProposedSize", small.size.to_string())
            .with("MinSizeAllowed", MIN_PART_SIZE.to_string())
            .with("PartNumber", small.part_number.to_string()));
    }
    // ETag of a multipart object: MD5 of the parts' binary MD5s, then "-N".
    let mut md5 = Md5::new();
    for p in &chosen {
        md5.update(hex16(p.etag.trim_matches('"')).ok_or_else(S3Error::internal)?);
    }
    let etag = format!("\"{}-{}\"", sigv4::hex::encode(&md5.finalize()), chosen.len());
    let (file_id, size) = ctx.state.objects.concat(chosen.iter().map(|p| p.file_id.clone()).collect()).await.map_err(|e| {
        tracing::error!(error = %e, "multipart concatenation failed");
        S3Error::internal()
    })?;
    let meta = ObjectMeta {
        file_id: file_id.clone(),
        size,
        etag: etag.clone(),
        last_modified_ms: now_ms(),
        checksum: None,
        parts_count: Some(chosen.len() as u32),
        ..upload.template.clone()
    };
    match ctx.state.store.complete_upload(&upload.upload_id, &meta) {
        Ok(Some((replaced, part_files))) => {
            for f in replaced.iter().chain(part_files.iter()) {
                ctx.state.objects.remove(f);
            }
        }
        Ok(None) => {
            ctx.state.objects.remove(&file_id);
            return Err(S3Error::no_such_upload(&upload.upload_id));
        }
        Err(e) => {
            ctx.state.objects.remove(&file_id);
            return Err(store_err(e));
        }
    }
    let mut w = XmlWriter::document();
    w.open_root("CompleteMultipartUploadResult");
    w.element("Location", &format!("/{bucket}/{}", sigv4::encode::encode(key, true)));
    w.element("Bucket", bucket);
    w.element("Key", key);
    w.element("ETag", &etag);
    w.close("CompleteMultipartUploadResult");
    Ok(xml_response(w.finish()))
}

/// 32 hex characters → 16 bytes (a part's MD5 ETag).
fn hex16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// AbortMultipartUpload (DELETE ?uploadId=…).
pub(crate) fn abort(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result {
    let upload = upload_for(ctx, bucket, key)?;
    match ctx.state.store.abort_upload(&upload.upload_id).map_err(store_err)? {
        Some(files) => {
            for f in files {
                ctx.state.objects.remove(&f);
            }
            Ok(empty(StatusCode::NO_CONTENT))
        }
        None => Err(S3Error::no_such_upload(&upload.upload_id)),
    }
}

/// ListParts (GET ?uploadId=…).
pub(crate) fn list_parts(ctx: &Ctx<'_>, bucket: &str, key: &str) -> S3Result {
    let upload = upload_for(ctx, bucket, key)?;
    let marker: u32 = ctx.query.get("part-number-marker").and_then(|m| m.parse().ok()).unwrap_or(0);
    let max: usize = ctx.query.get("max-parts").and_then(|m| m.parse().ok()).unwrap_or(1000).min(1000);
    let parts: Vec<PartInfo> =
        ctx.state.store.parts(&upload.upload_id).map_err(store_err)?.into_iter().filter(|p| p.part_number > marker).collect();
    let truncated = parts.len() > max;
    let shown = &parts[..parts.len().min(max)];
    let mut w = XmlWriter::document();
    w.open_root("ListPartsResult");
    w.element("Bucket", bucket);
    w.element("Key", key);
    w.element("UploadId", &upload.upload_id);
    w.element("PartNumberMarker", &marker.to_string());
    if let Some(last) = shown.last() {
        w.element("NextPartNumberMarker", &last.part_number.to_string());
    }
    w.element("MaxParts", &max.to_string());
    w.element("IsTruncated", if truncated { "true" } else { "false" });
    w.element("StorageClass", "STANDARD");
    for p in shown {
        w.open("Part");
        w.element("PartNumber", &p.part_number.to_string());
        w.element("LastModified", &iso8601_ms(p.last_modified_ms));
        w.element("ETag", &p.etag);
        w.element("Size", &p.size.to_string());
        if let Some((name, value)) = &p.checksum {
            let tag = match ChecksumAlgorithm::from_header_name(name) {
                Some(a) => format!("Checksum{}", a.algorithm_name()),
                None => continue,
            };
            w.element(&tag, value);
        }
        w.close("Part");
    }
    w.close("ListPartsResult");
    Ok(xml_response(w.finish()))
}

/// ListMultipartUploads: not needed by the clients we target; say so plainly.
pub(crate) fn list_uploads(_ctx: &Ctx<'_>, _bucket: &str) -> S3Result {
    Err(S3Error::new("NotImplemented", 501, "linkgate does not implement ListMultipartUploads"))
}
