//! Multipart uploads: create, upload part (presignable), complete, abort, list parts.

use axum::body::Body;
use axum::http::StatusCode;

use super::body::read_small;
use super::render::{set_named, stored};
use super::{S3Call, S3Result, empty, iso8601_ms, xml_response};
use crate::s3::checksum::ChecksumAlgorithm;
use crate::s3::error::S3Error;
use crate::s3::requests::parse_complete;
use crate::s3::upload::{ObjectAttrs, check_declared_length, write_condition};
use crate::s3::xml::XmlWriter;

/// S3's highest part number.
const MAX_PART_NUMBER: u32 = 10_000;

fn upload_id<'a>(call: &'a S3Call<'_>) -> &'a str {
    call.query.get("uploadId").unwrap_or("")
}

/// CreateMultipartUpload (POST ?uploads).
pub(crate) async fn create(call: &S3Call<'_>, bucket: &str, key: &str) -> S3Result {
    let checksum = call
        .header("x-amz-checksum-algorithm")
        .map(|a| {
            ChecksumAlgorithm::from_algorithm_name(a)
                .ok_or_else(|| S3Error::invalid_request(format!("Checksum algorithm {a} is not supported.")))
        })
        .transpose()?;
    let attrs = ObjectAttrs::from_headers(&call.parts.headers);
    let upload_id = call.state.objects.create_upload(bucket, key, attrs, checksum).await?;
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
pub(crate) async fn upload_part(call: &S3Call<'_>, bucket: &str, key: &str, body: Body) -> S3Result {
    let raw = call.query.get("partNumber").unwrap_or("");
    let part_number = raw
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| S3Error::invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", raw))?;
    check_declared_length(&call.parts.headers, call.state.config.limits.max_object_size)?;
    let objects = &call.state.objects;
    objects.upload(bucket, key, upload_id(call)).await?;
    let upload = super::body::upload(call, body)?;
    let part = objects.upload_part(bucket, key, upload_id(call), part_number, upload).await?;
    Ok(stored(&part.etag, part.checksum.as_ref()))
}

/// CompleteMultipartUpload (POST ?uploadId=…).
pub(crate) async fn complete(call: &S3Call<'_>, bucket: &str, key: &str, body: Body) -> S3Result {
    let objects = &call.state.objects;
    let cond = write_condition(&call.parts.headers)?;
    if let Err(gone) = objects.upload(bucket, key, upload_id(call)).await {
        if gone.code != "NoSuchUpload" {
            return Err(gone);
        }
        // Perhaps a retry of a completion whose answer was lost.
        let requested = read_small(call, body, 4 * 1024 * 1024).await.ok().and_then(|doc| parse_complete(&doc).ok());
        let retried = match requested {
            Some(requested) => objects.completed_already(bucket, key, &requested).await?,
            None => None,
        };
        return retried.map(|meta| completed(bucket, key, &meta)).ok_or(gone);
    }
    let doc = read_small(call, body, 4 * 1024 * 1024).await?;
    let requested = parse_complete(&doc)?;
    let meta = objects.complete(bucket, key, upload_id(call), &requested, &cond).await?;
    Ok(completed(bucket, key, &meta))
}

/// CompleteMultipartUploadResult.
fn completed(bucket: &str, key: &str, meta: &crate::store::meta::ObjectMeta) -> axum::response::Response {
    let mut w = XmlWriter::document();
    w.open_root("CompleteMultipartUploadResult");
    w.element("Location", &format!("/{bucket}/{}", sigv4::encode::encode(key, true)));
    w.element("Bucket", bucket);
    w.element("Key", key);
    w.element("ETag", &meta.etag);
    w.close("CompleteMultipartUploadResult");
    xml_response(w.finish())
}

/// AbortMultipartUpload (DELETE ?uploadId=…).
pub(crate) async fn abort(call: &S3Call<'_>, bucket: &str, key: &str) -> S3Result {
    call.state.objects.abort(bucket, key, upload_id(call)).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// ListParts (GET ?uploadId=…).
pub(crate) async fn list_parts(call: &S3Call<'_>, bucket: &str, key: &str) -> S3Result {
    let (upload, parts) = call.state.objects.parts(bucket, key, upload_id(call)).await?;
    let marker: u32 = call.query.get("part-number-marker").and_then(|m| m.parse().ok()).unwrap_or(0);
    let max: usize = call.query.get("max-parts").and_then(|m| m.parse().ok()).unwrap_or(1000).min(1000);
    let parts: Vec<_> = parts.into_iter().filter(|p| p.part_number > marker).collect();
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
        if let Some(a) = p.checksum.as_ref().and_then(|(name, _)| ChecksumAlgorithm::from_header_name(name)) {
            w.element(&format!("Checksum{}", a.algorithm_name()), p.checksum.as_ref().map_or("", |(_, v)| v.as_str()));
        }
        w.close("Part");
    }
    w.close("ListPartsResult");
    Ok(xml_response(w.finish()))
}
