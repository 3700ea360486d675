//! Bucket operations: create, delete, head, location, list buckets, DeleteObjects.

use axum::body::Body;
use axum::http::StatusCode;

use super::body::read_small;
use super::render::{set, set_named};
use super::{S3Call, S3Result, empty, iso8601_ms, xml_response};
use crate::auth::policy::s3_object_arn;
use crate::s3::error::S3Error;
use crate::s3::operation::validate_key;
use crate::s3::requests::{DeleteRequest, parse_delete};
use crate::s3::xml::{self, XmlWriter};

/// `<Owner>`: every bucket is the installation's (its root's).
pub(crate) fn owner(w: &mut XmlWriter, call: &S3Call<'_>) {
    w.open("Owner");
    w.element("ID", &call.state.identities.root().access_key_id);
    w.element("DisplayName", "linkgate");
    w.close("Owner");
}

/// Most buckets one ListBuckets page holds, and the default page size.
const MAX_BUCKETS: usize = 10_000;

/// ListBuckets, in name order: `prefix`, and pages of `max-buckets` (1 to
/// 10,000) joined by `continuation-token`.
pub(crate) async fn list_buckets(call: &S3Call<'_>) -> S3Result {
    let q = &call.query;
    let max = match q.get("max-buckets") {
        None => MAX_BUCKETS,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_BUCKETS).contains(&n) => n,
            _ => return Err(S3Error::invalid_argument("Argument max-buckets must be an integer between 1 and 10000", "max-buckets", v)),
        },
    };
    let prefix = q.get("prefix").unwrap_or("");
    let after = q.get("continuation-token").map(super::list::decode_token).transpose()?.unwrap_or_default();
    let mut buckets: Vec<_> =
        call.state.objects.list_buckets().await?.into_iter().filter(|b| b.name.starts_with(prefix) && b.name > after).collect();
    let next = (buckets.len() > max).then(|| super::list::encode_token(&buckets[max - 1].name));
    buckets.truncate(max);
    let mut w = XmlWriter::document();
    w.open_root("ListAllMyBucketsResult");
    owner(&mut w, call);
    w.open("Buckets");
    for b in buckets {
        w.open("Bucket");
        w.element("Name", &b.name);
        w.element("CreationDate", &iso8601_ms(b.created_ms));
        w.close("Bucket");
    }
    w.close("Buckets");
    if let Some(next) = next {
        w.element("ContinuationToken", &next);
    }
    if q.has("prefix") {
        w.element("Prefix", prefix);
    }
    w.close("ListAllMyBucketsResult");
    Ok(xml_response(w.finish()))
}

/// CreateBucket. A `LocationConstraint` other than our region is refused; a
/// bucket that exists already (every bucket is the owner's) is 200 in us-east-1
/// and 409 `BucketAlreadyOwnedByYou` elsewhere, as in S3.
pub(crate) async fn create_bucket(call: &S3Call<'_>, bucket: &str, body: Body) -> S3Result {
    let doc = read_small(call, body, 64 * 1024).await?;
    if !doc.iter().all(u8::is_ascii_whitespace) {
        let root = xml::parse(&doc).ok_or_else(S3Error::malformed_xml)?;
        let constraint = root.child_text("LocationConstraint").unwrap_or("").trim();
        let region = &call.state.config.region;
        if !constraint.is_empty() && constraint != region {
            return Err(S3Error::new(
                "IllegalLocationConstraintException",
                400,
                format!("The {constraint} location constraint is incompatible for the region specific endpoint this request was sent to."),
            ));
        }
    }
    // In us-east-1, S3 answers 200 to the owner creating a bucket again.
    if !call.state.objects.create_bucket(bucket).await? && call.state.config.region != "us-east-1" {
        return Err(S3Error::new(
            "BucketAlreadyOwnedByYou",
            409,
            "Your previous request to create the named bucket succeeded and you already own it.",
        )
        .with("BucketName", bucket));
    }
    let mut r = empty(StatusCode::OK);
    set(&mut r, axum::http::header::LOCATION, &format!("/{bucket}"));
    Ok(r)
}

/// DeleteBucket.
pub(crate) async fn delete_bucket(call: &S3Call<'_>, bucket: &str) -> S3Result {
    call.state.objects.delete_bucket(bucket).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// HeadBucket.
pub(crate) async fn head_bucket(call: &S3Call<'_>, bucket: &str) -> S3Result {
    call.state.objects.bucket(bucket).await?;
    let mut r = empty(StatusCode::OK);
    set_named(&mut r, "x-amz-bucket-region", &call.state.config.region);
    Ok(r)
}

/// GetBucketLocation (empty for us-east-1, as S3 answers).
pub(crate) async fn get_location(call: &S3Call<'_>, bucket: &str) -> S3Result {
    call.state.objects.bucket(bucket).await?;
    let region = &call.state.config.region;
    let mut w = XmlWriter::document();
    w.open_root("LocationConstraint");
    if region != "us-east-1" {
        w.text(region);
    }
    w.close("LocationConstraint");
    Ok(xml_response(w.finish()))
}

fn key_error(w: &mut XmlWriter, key: &str, code: &str, message: &str) {
    w.open("Error");
    w.element("Key", key);
    w.element("Code", code);
    w.element("Message", message);
    w.close("Error");
}

/// DeleteObjects (POST ?delete): each key is authorized for s3:DeleteObject on
/// its own, and answered on its own.
pub(crate) async fn delete_objects(call: &S3Call<'_>, bucket: &str, body: Body) -> S3Result {
    let has_digest = call.header("content-md5").is_some()
        || call.parts.headers.keys().any(|k| k.as_str().starts_with("x-amz-checksum-"))
        || call.header("x-amz-sdk-checksum-algorithm").is_some();
    if !has_digest {
        return Err(S3Error::invalid_request("Missing required header for this request: Content-MD5"));
    }
    let doc = read_small(call, body, 2 * 1024 * 1024).await?;
    let DeleteRequest { quiet, keys } = parse_delete(&doc)?;
    call.state.objects.bucket(bucket).await?;
    let mut w = XmlWriter::document();
    w.open_root("DeleteResult");
    for key in keys {
        let checked = validate_key(&key).and_then(|()| call.authorize(crate::auth::policy::S3_DELETE_OBJECT, &s3_object_arn(bucket, &key)));
        if let Err(e) = checked {
            key_error(&mut w, &key, e.code, &e.message);
            continue;
        }
        match call.state.objects.delete_key(bucket, &key).await {
            Ok(()) if quiet => {}
            Ok(()) => {
                w.open("Deleted");
                w.element("Key", &key);
                w.close("Deleted");
            }
            Err(e) => key_error(&mut w, &key, e.code, &e.message),
        }
    }
    w.close("DeleteResult");
    Ok(xml_response(w.finish()))
}
