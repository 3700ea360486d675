//! Bucket operations: create, delete, head, location, list buckets, DeleteObjects.

use axum::body::Body;
use axum::http::StatusCode;

use super::body::read_small;
use super::object::set;
use super::{Ctx, S3Result, empty, iso8601_ms, now_ms, store_err, xml_response};
use crate::auth::policy::{S3_DELETE_OBJECT, s3_object_arn};
use crate::s3::error::S3Error;
use crate::s3::requests::{DeleteRequest, parse_delete};
use crate::s3::xml::{self, XmlWriter};
use crate::store::DeleteBucket;

/// S3's bucket naming rules. Names starting with `-` are impossible, which keeps
/// `/-/…` free for linkgate's own endpoints.
pub(crate) fn validate_name(name: &str) -> Result<(), S3Error> {
    let b = name.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = (3..=63).contains(&b.len())
        && edge(b[0])
        && edge(b[b.len() - 1])
        && b.iter().all(|&c| edge(c) || c == b'-' || c == b'.')
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !name.starts_with("xn--")
        && !name.ends_with("-s3alias");
    if ok { Ok(()) } else { Err(S3Error::new("InvalidBucketName", 400, "The specified bucket is not valid.").with("BucketName", name)) }
}

fn owner(w: &mut XmlWriter, ctx: &Ctx<'_>) {
    w.open("Owner");
    w.element("ID", &ctx.state.root.access_key_id);
    w.element("DisplayName", "linkgate");
    w.close("Owner");
}

/// ListBuckets.
pub(crate) fn list_buckets(ctx: &Ctx<'_>) -> S3Result {
    let buckets = ctx.state.store.list_buckets().map_err(store_err)?;
    let mut w = XmlWriter::document();
    w.open_root("ListAllMyBucketsResult");
    owner(&mut w, ctx);
    w.open("Buckets");
    for b in buckets {
        w.open("Bucket");
        w.element("Name", &b.name);
        w.element("CreationDate", &iso8601_ms(b.created_ms));
        w.close("Bucket");
    }
    w.close("Buckets");
    w.close("ListAllMyBucketsResult");
    Ok(xml_response(w.finish()))
}

/// CreateBucket. A `LocationConstraint` other than our region is refused.
pub(crate) async fn create_bucket(ctx: &Ctx<'_>, bucket: &str, body: Body) -> S3Result {
    validate_name(bucket)?;
    let doc = read_small(ctx, body, 64 * 1024).await?;
    if !doc.iter().all(u8::is_ascii_whitespace) {
        let root = xml::parse(&doc).ok_or_else(S3Error::malformed_xml)?;
        let constraint = root.child_text("LocationConstraint").unwrap_or("").trim();
        let region = &ctx.state.config.region;
        if !constraint.is_empty() && constraint != region {
            return Err(S3Error::new(
                "IllegalLocationConstraintException",
                400,
                format!("The {constraint} location constraint is incompatible for the region specific endpoint this request was sent to."),
            ));
        }
    }
    if !ctx.state.store.create_bucket(bucket, now_ms()).map_err(store_err)? {
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
pub(crate) fn delete_bucket(ctx: &Ctx<'_>, bucket: &str) -> S3Result {
    match ctx.state.store.delete_bucket(bucket).map_err(store_err)? {
        DeleteBucket::Deleted => Ok(empty(StatusCode::NO_CONTENT)),
        DeleteBucket::NotFound => Err(S3Error::no_such_bucket(bucket)),
        DeleteBucket::NotEmpty => {
            Err(S3Error::new("BucketNotEmpty", 409, "The bucket you tried to delete is not empty").with("BucketName", bucket))
        }
    }
}

/// HeadBucket.
pub(crate) fn head_bucket(ctx: &Ctx<'_>, bucket: &str) -> S3Result {
    match ctx.state.store.bucket(bucket).map_err(store_err)? {
        Some(_) => {
            let mut r = empty(StatusCode::OK);
            super::object::set_named(&mut r, "x-amz-bucket-region", &ctx.state.config.region);
            Ok(r)
        }
        None => Err(S3Error::no_such_bucket(bucket)),
    }
}

/// GetBucketLocation (empty for us-east-1, as S3 answers).
pub(crate) fn get_location(ctx: &Ctx<'_>, bucket: &str) -> S3Result {
    if ctx.state.store.bucket(bucket).map_err(store_err)?.is_none() {
        return Err(S3Error::no_such_bucket(bucket));
    }
    let region = &ctx.state.config.region;
    let mut w = XmlWriter::document();
    w.open_root("LocationConstraint");
    if region != "us-east-1" {
        w.text(region);
    }
    w.close("LocationConstraint");
    Ok(xml_response(w.finish()))
}

/// Most keys one DeleteObjects request may name.
/// DeleteObjects (POST ?delete).
pub(crate) async fn delete_objects(ctx: &Ctx<'_>, bucket: &str, body: Body) -> S3Result {
    let has_digest = ctx.header("content-md5").is_some()
        || ctx.parts.headers.keys().any(|k| k.as_str().starts_with("x-amz-checksum-"))
        || ctx.header("x-amz-sdk-checksum-algorithm").is_some();
    if !has_digest {
        return Err(S3Error::invalid_request("Missing required header for this request: Content-MD5"));
    }
    let doc = read_small(ctx, body, 2 * 1024 * 1024).await?;
    let DeleteRequest { quiet, keys } = parse_delete(&doc)?;
    if ctx.state.store.bucket(bucket).map_err(store_err)?.is_none() {
        return Err(S3Error::no_such_bucket(bucket));
    }
    let mut w = XmlWriter::document();
    w.open_root("DeleteResult");
    for key in keys {
        if let Err(e) = super::auth::authorize(ctx, S3_DELETE_OBJECT, &s3_object_arn(bucket, &key)) {
            w.open("Error");
            w.element("Key", &key);
            w.element("Code", e.code);
            w.element("Message", &e.message);
            w.close("Error");
            continue;
        }
        match ctx.state.store.delete_object(bucket, &key) {
            Ok(file) => {
                if let Some(f) = file {
                    ctx.state.objects.remove(&f);
                }
                if !quiet {
                    w.open("Deleted");
                    w.element("Key", &key);
                    w.close("Deleted");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "delete failed");
                w.open("Error");
                w.element("Key", &key);
                w.element("Code", "InternalError");
                w.element("Message", "We encountered an internal error. Please try again.");
                w.close("Error");
            }
        }
    }
    w.close("DeleteResult");
    Ok(xml_response(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.01", "a1b"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "-abc", "abc-", "ABC", "a..b", "192.168.1.1", "xn--abc", "a_b", "a.-b", &"a".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
