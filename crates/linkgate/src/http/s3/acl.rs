//! ACLs, as far as linkgate has them: every bucket and object is private to the
//! installation's owner, so reads answer the owner's FULL_CONTROL and writes
//! accept only that (tools such as s3cmd, rclone and Cyberduck read ACLs, and
//! some set `private` explicitly). Anything granting access to others is a 501:
//! access is given with policies and links, never with ACLs.

use axum::body::Body;
use axum::http::StatusCode;

use super::body::read_small;
use super::bucket::owner;
use super::{S3Call, S3Result, empty, xml_response};
use crate::s3::error::S3Error;
use crate::s3::xml::{self, XmlWriter};

/// Headers that grant access in a PUT ?acl (besides a canned `x-amz-acl`).
const GRANT_HEADERS: [&str; 5] =
    ["x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control"];

/// GetBucketAcl / GetObjectAcl (the caller checked the bucket or object exists).
pub(crate) fn get_acl(call: &S3Call<'_>) -> S3Result {
    let id = call.state.identities.root().access_key_id.clone();
    let mut w = XmlWriter::document();
    w.open_root("AccessControlPolicy");
    owner(&mut w, call);
    w.open("AccessControlList");
    w.open("Grant");
    w.open_with("Grantee", &[("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"), ("xsi:type", "CanonicalUser")]);
    w.element("ID", &id);
    w.element("DisplayName", "linkgate");
    w.close("Grantee");
    w.element("Permission", "FULL_CONTROL");
    w.close("Grant");
    w.close("AccessControlList");
    w.close("AccessControlPolicy");
    Ok(xml_response(w.finish()))
}

/// PutBucketAcl / PutObjectAcl: accepts the private ACL (canned, or a policy
/// granting only the owner FULL_CONTROL), which is what everything has already.
pub(crate) async fn put_acl(call: &S3Call<'_>, body: Body) -> S3Result {
    let not_private = || S3Error::new("NotImplemented", 501, "linkgate has no public access: the only ACL it supports is private");
    if GRANT_HEADERS.iter().any(|h| call.header(h).is_some()) {
        return Err(not_private());
    }
    if let Some(canned) = call.header("x-amz-acl") {
        return if canned.trim() == "private" { Ok(empty(StatusCode::OK)) } else { Err(not_private()) };
    }
    let doc = read_small(call, body, 64 * 1024).await?;
    if doc.iter().all(u8::is_ascii_whitespace) {
        return Err(
            S3Error::new("MissingSecurityHeader", 400, "Your request was missing a required header").with("MissingHeaderName", "x-amz-acl")
        );
    }
    let root = xml::parse(&doc).filter(|r| r.name == "AccessControlPolicy").ok_or_else(S3Error::malformed_xml)?;
    let owner_id = call.state.identities.root().access_key_id.clone();
    let grants: Vec<_> = root.child("AccessControlList").map(|l| l.children_named("Grant").collect()).unwrap_or_default();
    let only_owner = grants.iter().all(|g| {
        g.child_text("Permission").map(str::trim) == Some("FULL_CONTROL")
            && g.child("Grantee").and_then(|e| e.child_text("ID")).map(str::trim) == Some(owner_id.as_str())
    });
    if only_owner { Ok(empty(StatusCode::OK)) } else { Err(not_private()) }
}
