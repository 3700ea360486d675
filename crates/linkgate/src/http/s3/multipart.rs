//! Multipart uploads: create, upload part (presignable), complete, abort, list parts.

use axum::body::Body;
use axum::http::StatusCode;

use super::render::{copy_result, set_named, stored};
use super::{S3Call, S3Result, empty, iso8601_ms, xml_response};
use crate::auth::policy::s3_object_arn;
use crate::s3::checksum::{ChecksumAlgorithm, ChecksumType};
use crate::s3::copy::{check_source_conditions, copy_source_range, parse_copy_source};
use crate::s3::error::S3Error;
use crate::s3::requests::parse_complete;
use crate::s3::upload::{ObjectAttrs, check_declared_length, write_condition};
use crate::s3::xml::XmlWriter;
use crate::services::objects::{CompletionChecksum, upload_checksum};

/// S3's highest part number.
const MAX_PART_NUMBER: u32 = 10_000;

fn upload_id<'a>(call: &'a S3Call<'_>) -> &'a str {
    call.query.get("uploadId").unwrap_or("")
}

/// CreateMultipartUpload (POST ?uploads).
pub(crate) async fn create(call: &S3Call<'_>, bucket: &str, key: &str) -> S3Result {
    let checksum = requested_checksum(call)?;
    let attrs = ObjectAttrs::from_headers(&call.parts.headers);
    let upload_id = call.state.objects.create_upload(bucket, key, attrs, checksum).await?;
    let mut w = XmlWriter::document();
    w.open_root("InitiateMultipartUploadResult");
    w.element("Bucket", bucket);
    w.element("Key", key);
    w.element("UploadId", &upload_id);
    w.close("InitiateMultipartUploadResult");
    let mut r = xml_response(w.finish());
    if let Some((algorithm, checksum_type)) = checksum {
        set_named(&mut r, "x-amz-checksum-algorithm", algorithm.algorithm_name());
        set_named(&mut r, "x-amz-checksum-type", checksum_type.name());
    }
    Ok(r)
}

/// The checksum a new upload's object will carry: `x-amz-checksum-algorithm`
/// and `x-amz-checksum-type` (defaulting as S3 does), refused in S3's words
/// when they don't go together.
fn requested_checksum(call: &S3Call<'_>) -> Result<Option<(ChecksumAlgorithm, ChecksumType)>, S3Error> {
    let algorithm = call
        .header("x-amz-checksum-algorithm")
        .map(|a| {
            ChecksumAlgorithm::from_algorithm_name(a)
                .ok_or_else(|| S3Error::invalid_request(format!("Checksum algorithm {a} is not supported.")))
        })
        .transpose()?;
    let checksum_type = requested_type(call)?;
    let Some(algorithm) = algorithm else {
        return match checksum_type {
            Some(_) => {
                Err(S3Error::invalid_request("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."))
            }
            None => Ok(None),
        };
    };
    let checksum_type = checksum_type.unwrap_or_else(|| ChecksumType::default_for(algorithm));
    if !checksum_type.allows(algorithm) {
        return Err(S3Error::invalid_request(format!(
            "The {checksum_type} checksum type cannot be used with the {} checksum algorithm.",
            algorithm.algorithm_name().to_ascii_lowercase()
        )));
    }
    Ok(Some((algorithm, checksum_type)))
}

/// `x-amz-checksum-type`, if sent.
fn requested_type(call: &S3Call<'_>) -> Result<Option<ChecksumType>, S3Error> {
    call.header("x-amz-checksum-type")
        .map(|t| ChecksumType::parse(t).ok_or_else(|| S3Error::invalid_request("Value for x-amz-checksum-type header is invalid.")))
        .transpose()
}

fn part_number(call: &S3Call<'_>) -> Result<u32, S3Error> {
    let raw = call.query.get("partNumber").unwrap_or("");
    raw.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| S3Error::invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", raw))
}

/// UploadPart (PUT ?partNumber=N&uploadId=…), presigned or header-signed.
pub(crate) async fn upload_part(call: &S3Call<'_>, bucket: &str, key: &str, body: Body) -> S3Result {
    let part_number = part_number(call)?;
    check_declared_length(&call.parts.headers, call.state.config.limits.max_object_size)?;
    let objects = &call.state.objects;
    objects.upload(bucket, key, upload_id(call)).await?;
    let upload = super::body::upload(call, body)?;
    let part = objects.upload_part(bucket, key, upload_id(call), part_number, upload).await?;
    Ok(stored(&part.etag, part.checksum.as_ref()))
}

/// UploadPartCopy (UploadPart with `x-amz-copy-source`, and
/// `x-amz-copy-source-range` for a slice): needs `s3:GetObject` on the source.
pub(crate) async fn upload_part_copy(call: &S3Call<'_>, bucket: &str, key: &str) -> S3Result {
    let part_number = part_number(call)?;
    let headers = &call.parts.headers;
    let source = parse_copy_source(call.header("x-amz-copy-source").unwrap_or(""))?;
    call.authorize("s3:GetObject", &s3_object_arn(&source.bucket, &source.key))?;
    let range = |src: &crate::store::meta::ObjectMeta| {
        check_source_conditions(headers, &src.etag, src.last_modified_ms)?;
        copy_source_range(call.header("x-amz-copy-source-range"), src.size)
    };
    let part =
        call.state.objects.upload_part_copy((&source.bucket, &source.key), (bucket, key, upload_id(call), part_number), range).await?;
    Ok(copy_result("CopyPartResult", part.last_modified_ms, &part.etag, part.checksum.as_ref()))
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
        let requested = read_complete_body(call, body).await.ok().and_then(|doc| parse_complete(&doc).ok());
        let retried = match requested {
            Some(requested) => objects.completed_already(bucket, key, &requested).await?,
            None => None,
        };
        return retried.map(|meta| completed(bucket, key, &meta)).ok_or(gone);
    }
    let checksum = completion_checksum(call)?;
    let doc = read_complete_body(call, body).await?;
    let requested = parse_complete(&doc)?;
    let meta = objects.complete(bucket, key, upload_id(call), &requested, &cond, &checksum).await?;
    Ok(completed(bucket, key, &meta))
}

/// The part list: its `x-amz-checksum-*` header names the object's checksum, not
/// the list's, so the list is read without checking it against one.
async fn read_complete_body(call: &S3Call<'_>, body: Body) -> Result<Vec<u8>, S3Error> {
    super::body::read_small_as(call, body, 4 * 1024 * 1024, false).await
}

/// What `x-amz-checksum-type` and `x-amz-checksum-<alg>` say of the object.
fn completion_checksum(call: &S3Call<'_>) -> Result<CompletionChecksum, S3Error> {
    let expected = ChecksumAlgorithm::ALL.into_iter().find_map(|a| call.header(a.header_name()).map(|v| (a, v.trim().to_owned())));
    Ok(CompletionChecksum { checksum_type: requested_type(call)?, expected })
}

/// CompleteMultipartUploadResult.
fn completed(bucket: &str, key: &str, meta: &crate::store::meta::ObjectMeta) -> axum::response::Response {
    let mut w = XmlWriter::document();
    w.open_root("CompleteMultipartUploadResult");
    w.element("Location", &format!("/{bucket}/{}", sigv4::encode::encode(key, true)));
    w.element("Bucket", bucket);
    w.element("Key", key);
    w.element("ETag", &meta.etag);
    if let Some((name, value)) = &meta.checksum
        && let Some(a) = ChecksumAlgorithm::from_header_name(name)
    {
        w.element(&format!("Checksum{}", a.algorithm_name()), value);
        w.element("ChecksumType", ChecksumType::of_value(value).name());
    }
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
    if let Some((algorithm, checksum_type)) = upload_checksum(&upload) {
        w.element("ChecksumAlgorithm", algorithm.algorithm_name());
        w.element("ChecksumType", checksum_type.name());
    }
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

/// The highest (and default) `max-uploads`.
const MAX_UPLOADS: usize = 1000;

/// ListMultipartUploads (GET /bucket?uploads): `prefix`, `delimiter`,
/// `key-marker` / `upload-id-marker` pagination, `max-uploads`, `encoding-type=url`.
pub(crate) async fn list_uploads(call: &S3Call<'_>, bucket: &str) -> S3Result {
    let q = &call.query;
    let max = match q.get("max-uploads") {
        None => MAX_UPLOADS,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 0 => (n as usize).min(MAX_UPLOADS),
            _ => return Err(S3Error::invalid_argument("Provided max-uploads not an integer or within integer range", "max-uploads", v)),
        },
    };
    let url = match q.get("encoding-type") {
        None => false,
        Some("url") => true,
        Some(other) => return Err(S3Error::invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", other)),
    };
    let enc = |s: &str| if url { sigv4::encode::encode(s, true) } else { s.to_owned() };
    let (prefix, delimiter) = (q.get("prefix").unwrap_or(""), q.get("delimiter").unwrap_or(""));
    let key_marker = q.get("key-marker").unwrap_or("");
    // Without an upload-id-marker, S3 resumes after every upload of the key marker.
    let id_marker = q.get("upload-id-marker").filter(|_| !key_marker.is_empty());
    let after_id = id_marker.unwrap_or(if key_marker.is_empty() { "" } else { "\u{10FFFF}" });
    let page = call.state.objects.list_uploads(bucket, prefix, delimiter, (key_marker, after_id), max).await?;

    let root_id = call.state.identities.root().access_key_id.clone();
    let mut w = XmlWriter::document();
    w.open_root("ListMultipartUploadsResult");
    w.element("Bucket", bucket);
    w.element("KeyMarker", &enc(key_marker));
    w.element("UploadIdMarker", id_marker.unwrap_or(""));
    if page.truncated
        && let Some((key, id)) = &page.next
    {
        w.element("NextKeyMarker", &enc(key));
        w.element("NextUploadIdMarker", id);
    }
    w.element("Prefix", &enc(prefix));
    if !delimiter.is_empty() {
        w.element("Delimiter", &enc(delimiter));
    }
    w.element("MaxUploads", &max.to_string());
    w.element("IsTruncated", if page.truncated { "true" } else { "false" });
    if url {
        w.element("EncodingType", "url");
    }
    for u in &page.uploads {
        w.open("Upload");
        w.element("Key", &enc(&u.key));
        w.element("UploadId", &u.upload_id);
        for who in ["Initiator", "Owner"] {
            w.open(who);
            w.element("ID", &root_id);
            w.element("DisplayName", "linkgate");
            w.close(who);
        }
        w.element("StorageClass", "STANDARD");
        w.element("Initiated", &iso8601_ms(u.initiated_ms));
        if let Some(a) = u.template.checksum.as_ref().and_then(|(name, _)| ChecksumAlgorithm::from_header_name(name)) {
            w.element("ChecksumAlgorithm", a.algorithm_name());
        }
        w.close("Upload");
    }
    for p in &page.prefixes {
        w.open("CommonPrefixes");
        w.element("Prefix", &enc(p));
        w.close("CommonPrefixes");
    }
    w.close("ListMultipartUploadsResult");
    Ok(xml_response(w.finish()))
}
