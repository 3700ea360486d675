//! Which S3 operation a request is, decided once, from plain values.
//!
//! The route, the IAM authorization, the metrics label and the "not implemented"
//! answer of an S3 request all derive from one [`S3Operation`], so no request can be
//! routed as one operation and authorized as another. (That is how
//! `POST /b/k?uploads&delete` got through: routed as CreateMultipartUpload,
//! authorized as DeleteObjects, whose per-key check never ran.)
//!
//! Pure: no I/O, no server state. The caller reads the method, the raw path, the
//! [`Query`] and the two headers routing needs ([`RequestHeaders`]) once and calls
//! [`parse`].
//!
//! # Precedence
//!
//! [`parse`] applies these steps in order; the first that decides wins.
//!
//! | # | Condition | Result |
//! |---|---|---|
//! | 1 | the path does not decode to UTF-8, the key is over 1024 bytes or holds NUL | `Err`: 400 `InvalidURI` / `KeyTooLongError` |
//! | 2 | method `OPTIONS` | `CorsPreflight`, whatever the target and query: browsers preflight the real request's URL and cannot sign |
//! | 3 | target is the service (`/`) | `GET` → `ListBuckets`, any other method → `MethodNotAllowed`; the query is not read |
//! | 4 | two different *selectors* for the target kind | `Err`: 400 `InvalidRequest` naming both parameters |
//! | 5 | the selector is an unsupported sub-resource | `Unsupported` (501), whatever the method |
//! | 6 | a row of the tables below matches (target kind, selector, method) | that operation, refined by headers |
//! | 7 | no row matches | `MethodNotAllowed` (405) |
//!
//! A *selector* is a query parameter that picks the operation. On a bucket:
//! `cors`, `location`, `versions`, `uploads`, `delete`, `acl`. On an object: `uploads`, `acl`,
//! `uploadId`, and `partNumber` on `PUT` (where it means UploadPart, like
//! `uploadId`; it is the same selector, so `?uploadId=U&partNumber=1` is one).
//! On both: every name in [`UNSUPPORTED_SUBRESOURCES`]. Every other parameter is
//! ordinary and never selects an operation: `prefix`, `max-keys`, `list-type`,
//! `response-*`, `X-Amz-*`, SigV2's `AWSAccessKeyId`/`Signature`/`Expires`,
//! `versionId`, `x-id`, `partNumber` on `GET`/`HEAD`, and a bucket's sub-resource
//! on an object (`?delete`, `?cors` on a key), as in S3, whose object operations
//! ignore the bucket's sub-resources. Names are case-sensitive, as in S3.
//!
//! Bucket (`/{bucket}`):
//!
//! | Selector | GET | HEAD | PUT | POST | DELETE |
//! |---|---|---|---|---|---|
//! | none | ListObjects (`list-type=2`: ListObjectsV2) | HeadBucket | CreateBucket | PostObject if `Content-Type: multipart/form-data` | DeleteBucket |
//! | `cors` | GetBucketCors | | PutBucketCors | | DeleteBucketCors |
//! | `location` | GetBucketLocation | | | | |
//! | `versions` | ListObjectVersions | | | | |
//! | `uploads` | ListMultipartUploads | | | | |
//! | `delete` | | | | DeleteObjects | |
//! | `acl` | GetBucketAcl | | PutBucketAcl | | |
//!
//! Object (`/{bucket}/{key}`):
//!
//! | Selector | GET | HEAD | PUT | POST | DELETE |
//! |---|---|---|---|---|---|
//! | none | GetObject | HeadObject | PutObject (`x-amz-copy-source`: CopyObject) | | DeleteObject |
//! | `uploads` | | | | CreateMultipartUpload | |
//! | `uploadId` | ListParts | | UploadPart (`x-amz-copy-source`: UploadPartCopy) | CompleteMultipartUpload | AbortMultipartUpload |
//! | `acl` | GetObjectAcl | | PutObjectAcl | | |
//!
//! Empty cells, and every other method (`PATCH`, `TRACE`, unknown ones), are
//! `MethodNotAllowed`.
//!
//! # Differences from the `match`es this replaces
//!
//! Every request that worked keeps its operation. The differences are requests
//! that were refused or silently answered as something else:
//! - two selectors at once (`?uploads&uploadId`, `?cors&location`, `?acl&cors`) are a
//!   400 instead of whichever arm came first;
//! - a selector with a method that has no row is a 405 instead of the plain
//!   operation (`GET /b/k?uploads` was GetObject, `HEAD /b?cors` HeadBucket,
//!   `GET /b?delete` ListObjects);
//! - an unsupported sub-resource is a 501 with `HEAD` too (it was HeadBucket or
//!   HeadObject);
//! - `PUT`/`DELETE` on a bucket with ordinary parameters (a presigned CreateBucket,
//!   `?x-id=…`) are CreateBucket/DeleteBucket; any parameter made them 405;
//! - `PUT ?uploadId&partNumber` with `x-amz-copy-source` is UploadPartCopy; it
//!   was UploadPart with an empty body;
//! - a form POST carrying a selector (`POST /b?delete` as `multipart/form-data`)
//!   is what the selector says, not PostObject; the `multipart/form-data` test
//!   ignores ASCII case, as media types do.

use crate::auth::policy::{S3_DELETE_OBJECT, S3_GET_OBJECT, S3_LIST_BUCKET, S3_PUT_OBJECT, s3_bucket_arn, s3_object_arn};
use crate::s3::error::S3Error;
use crate::s3::query::Query;

/// Longest key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// S3 sub-resources linkgate does not implement. Answering one of them as the plain
/// operation would silently do the wrong thing (`PUT /b/k?acl` overwriting the
/// object with an ACL document, `GET /b?policy` listing keys), so each is a 501 on
/// a bucket and on an object alike.
pub const UNSUPPORTED_SUBRESOURCES: [&str; 31] = [
    "accelerate",
    "analytics",
    "attributes",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metadataConfiguration",
    "metadataInventoryTable",
    "metadataJournalTable",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "renameObject",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "session",
    "tagging",
    "torrent",
    "versioning",
    "website",
];

/// What the path names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// `/`: the service (ListBuckets).
    Service,
    /// `/{bucket}` or `/{bucket}/`.
    Bucket(String),
    /// `/{bucket}/{key}`.
    Object {
        /// The bucket, decoded; not validated (see [`validate_bucket_name`]).
        bucket: String,
        /// The key, decoded; valid by [`validate_key`].
        key: String,
    },
}

impl Target {
    /// Splits and decodes a raw request path. The key keeps every byte the client
    /// meant (`//`, `..`, `%2F`, spaces): it is data, never a file path. The bucket
    /// name is not validated here, because S3 authenticates before it judges the
    /// name; the handler calls [`validate_bucket_name`] at that point.
    pub fn parse(raw_path: &str) -> Result<Self, S3Error> {
        let rest = raw_path.strip_prefix('/').ok_or_else(invalid_uri)?;
        if rest.is_empty() {
            return Ok(Self::Service);
        }
        let (bucket_raw, key_raw) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket = decode_utf8(bucket_raw)?;
        if key_raw.is_empty() {
            return Ok(Self::Bucket(bucket));
        }
        let key = decode_utf8(key_raw)?;
        validate_key(&key)?;
        Ok(Self::Object { bucket, key })
    }

    /// The bucket, unless the target is the service.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Self::Service => None,
            Self::Bucket(b) | Self::Object { bucket: b, .. } => Some(b),
        }
    }

    /// The key, when the target is an object.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Object { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The ARN a policy sees for this target: `*` for the service, else the bucket's
    /// or the object's ARN.
    fn arn(&self) -> String {
        match self {
            Self::Service => "*".to_owned(),
            Self::Bucket(b) => s3_bucket_arn(b),
            Self::Object { bucket, key } => s3_object_arn(bucket, key),
        }
    }
}

fn invalid_uri() -> S3Error {
    S3Error::new("InvalidURI", 400, "Couldn't parse the specified URI.")
}

fn decode_utf8(raw: &str) -> Result<String, S3Error> {
    String::from_utf8(sigv4::encode::decode(raw).into_owned()).map_err(|_| invalid_uri())
}

/// The one key check, shared by every way a key arrives (S3 path, POST form `key`
/// field, broker and upload links), so that no route stores a key another refuses:
/// non-empty, at most [`MAX_KEY_LEN`] UTF-8 bytes (`KeyTooLongError`), no NUL
/// (`InvalidURI`, S3's answer for `%00` in a path).
pub fn validate_key(key: &str) -> Result<(), S3Error> {
    if key.is_empty() {
        return Err(S3Error::invalid_argument("User key must have a length greater than 0.", "key", ""));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(S3Error::new("KeyTooLongError", 400, "Your key is too long").with("MaxSizeAllowed", MAX_KEY_LEN.to_string()));
    }
    if key.contains('\0') {
        return Err(invalid_uri());
    }
    Ok(())
}

/// S3's bucket naming rules. Names starting with `-` are impossible, which keeps
/// `/-/…` free for linkgate's own endpoints.
pub fn validate_bucket_name(name: &str) -> Result<(), S3Error> {
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

/// The request headers routing looks at, extracted once by the caller so that this
/// module needs no HTTP types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestHeaders<'a> {
    /// `x-amz-copy-source` is present: a PUT is CopyObject or UploadPartCopy.
    pub copy_source: bool,
    /// `Content-Type`: `multipart/form-data` makes a POST to a bucket a browser form
    /// upload (PostObject).
    pub content_type: Option<&'a str>,
}

impl RequestHeaders<'_> {
    fn is_form(&self) -> bool {
        const FORM: &str = "multipart/form-data";
        self.content_type.and_then(|ct| ct.get(..FORM.len())).is_some_and(|p| p.eq_ignore_ascii_case(FORM))
    }
}

/// One S3 operation: what a request does. The single source of its route, its
/// authorization ([`authorization`](Self::authorization)), its refusal
/// ([`refusal`](Self::refusal)) and its metrics label ([`name`](Self::name)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum S3Operation {
    /// `GET /`.
    ListBuckets,
    /// `PUT /b`.
    CreateBucket,
    /// `DELETE /b`.
    DeleteBucket,
    /// `HEAD /b`.
    HeadBucket,
    /// `GET /b?location`.
    GetBucketLocation,
    /// `GET /b`.
    ListObjects,
    /// `GET /b?list-type=2`.
    ListObjectsV2,
    /// `GET /b?versions`: one "null" version per key, buckets being unversioned.
    ListObjectVersions,
    /// `GET /b?uploads`.
    ListMultipartUploads,
    /// `GET /b?acl`: always the owner's full control.
    GetBucketAcl,
    /// `PUT /b?acl`: only the private ACL, which every bucket has.
    PutBucketAcl,
    /// `GET /b?cors`.
    GetBucketCors,
    /// `PUT /b?cors`.
    PutBucketCors,
    /// `DELETE /b?cors`.
    DeleteBucketCors,
    /// `POST /b?delete`: the keys are in the body.
    DeleteObjects,
    /// `POST /b` with `Content-Type: multipart/form-data`: a browser form upload.
    PostObject,
    /// `GET /b/k`.
    GetObject,
    /// `HEAD /b/k`.
    HeadObject,
    /// `PUT /b/k`.
    PutObject,
    /// `PUT /b/k` with `x-amz-copy-source`.
    CopyObject,
    /// `DELETE /b/k`.
    DeleteObject,
    /// `GET /b/k?acl`: always the owner's full control.
    GetObjectAcl,
    /// `PUT /b/k?acl`: only the private ACL, which every object has.
    PutObjectAcl,
    /// `POST /b/k?uploads`.
    CreateMultipartUpload,
    /// `PUT /b/k?partNumber=N&uploadId=U`.
    UploadPart,
    /// `PUT /b/k?partNumber=N&uploadId=U` with `x-amz-copy-source`.
    UploadPartCopy,
    /// `POST /b/k?uploadId=U`.
    CompleteMultipartUpload,
    /// `DELETE /b/k?uploadId=U`.
    AbortMultipartUpload,
    /// `GET /b/k?uploadId=U`.
    ListParts,
    /// `OPTIONS` on anything: a browser's CORS preflight.
    CorsPreflight,
    /// A sub-resource linkgate does not implement (one of
    /// [`UNSUPPORTED_SUBRESOURCES`]): 501.
    Unsupported {
        /// The sub-resource, as the client named it (e.g. `acl`).
        what: &'static str,
    },
    /// No operation for this method on this resource: 405.
    MethodNotAllowed,
}

/// What a request must prove before its operation runs, derived from the
/// [`S3Operation`] and its [`Target`] together so that both always agree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authorization {
    /// This IAM action on this resource ARN.
    Action {
        /// The IAM action, e.g. `s3:GetObject`.
        action: &'static str,
        /// The ARN, always the target's own (`*` for the service).
        resource: String,
    },
    /// DeleteObjects: this action on each key named in the body, checked by the handler.
    PerKey {
        /// The IAM action each key needs.
        action: &'static str,
    },
    /// POST Object: the form carries its own signature and policy; s3:PutObject on the form's key.
    Form,
    /// CORS preflight: browsers cannot sign it.
    Anonymous,
    /// `Unsupported` and `MethodNotAllowed`: the request must authenticate, and then
    /// any caller gets the 501/405; there is no action to check because nothing runs.
    Authenticated,
}

/// A routed request: the operation and what it acts on, produced together by
/// [`parse`] so that they cannot disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Request {
    /// What the request does.
    pub op: S3Operation,
    /// What it does it to.
    pub target: Target,
}

impl S3Request {
    /// The authorization of this operation on this target.
    pub fn authorization(&self) -> Authorization {
        self.op.authorization(&self.target)
    }
}

impl S3Operation {
    /// The operation's name in S3's API reference, used as the metrics label.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ListBuckets => "ListBuckets",
            Self::CreateBucket => "CreateBucket",
            Self::DeleteBucket => "DeleteBucket",
            Self::HeadBucket => "HeadBucket",
            Self::GetBucketLocation => "GetBucketLocation",
            Self::ListObjects => "ListObjects",
            Self::ListObjectsV2 => "ListObjectsV2",
            Self::ListObjectVersions => "ListObjectVersions",
            Self::ListMultipartUploads => "ListMultipartUploads",
            Self::GetBucketAcl => "GetBucketAcl",
            Self::PutBucketAcl => "PutBucketAcl",
            Self::GetObjectAcl => "GetObjectAcl",
            Self::PutObjectAcl => "PutObjectAcl",
            Self::GetBucketCors => "GetBucketCors",
            Self::PutBucketCors => "PutBucketCors",
            Self::DeleteBucketCors => "DeleteBucketCors",
            Self::DeleteObjects => "DeleteObjects",
            Self::PostObject => "PostObject",
            Self::GetObject => "GetObject",
            Self::HeadObject => "HeadObject",
            Self::PutObject => "PutObject",
            Self::CopyObject => "CopyObject",
            Self::DeleteObject => "DeleteObject",
            Self::CreateMultipartUpload => "CreateMultipartUpload",
            Self::UploadPart => "UploadPart",
            Self::UploadPartCopy => "UploadPartCopy",
            Self::CompleteMultipartUpload => "CompleteMultipartUpload",
            Self::AbortMultipartUpload => "AbortMultipartUpload",
            Self::ListParts => "ListParts",
            Self::CorsPreflight => "CorsPreflight",
            Self::Unsupported { .. } => "Unsupported",
            Self::MethodNotAllowed => "MethodNotAllowed",
        }
    }

    /// What the caller must be allowed to do for this operation on `target`. The
    /// resource is always `target`'s own ARN ([`parse`] pairs bucket operations with
    /// buckets and object operations with objects), so a target of another kind
    /// can only name itself, never something wider.
    pub fn authorization(&self, target: &Target) -> Authorization {
        let action = |action: &'static str| Authorization::Action { action, resource: target.arn() };
        match self {
            Self::ListBuckets => Authorization::Action { action: "s3:ListAllMyBuckets", resource: "*".to_owned() },
            Self::CreateBucket => action("s3:CreateBucket"),
            Self::DeleteBucket => action("s3:DeleteBucket"),
            Self::HeadBucket | Self::ListObjects | Self::ListObjectsV2 => action(S3_LIST_BUCKET),
            Self::GetBucketLocation => action("s3:GetBucketLocation"),
            Self::ListObjectVersions => action("s3:ListBucketVersions"),
            Self::ListMultipartUploads => action("s3:ListBucketMultipartUploads"),
            Self::GetBucketAcl => action("s3:GetBucketAcl"),
            Self::PutBucketAcl => action("s3:PutBucketAcl"),
            Self::GetObjectAcl => action("s3:GetObjectAcl"),
            Self::PutObjectAcl => action("s3:PutObjectAcl"),
            Self::GetBucketCors => action("s3:GetBucketCORS"),
            Self::PutBucketCors | Self::DeleteBucketCors => action("s3:PutBucketCORS"),
            Self::GetObject | Self::HeadObject => action(S3_GET_OBJECT),
            // CopyObject and UploadPartCopy: the destination here; the source's
            // s3:GetObject is the handler's to check.
            Self::PutObject
            | Self::CopyObject
            | Self::CreateMultipartUpload
            | Self::UploadPart
            | Self::UploadPartCopy
            | Self::CompleteMultipartUpload => action(S3_PUT_OBJECT),
            Self::DeleteObject => action(S3_DELETE_OBJECT),
            Self::AbortMultipartUpload => action("s3:AbortMultipartUpload"),
            Self::ListParts => action("s3:ListMultipartUploadParts"),
            Self::DeleteObjects => Authorization::PerKey { action: S3_DELETE_OBJECT },
            Self::PostObject => Authorization::Form,
            Self::CorsPreflight => Authorization::Anonymous,
            Self::Unsupported { .. } | Self::MethodNotAllowed => Authorization::Authenticated,
        }
    }

    /// The error this operation answers instead of running, if any. The caller checks
    /// it after authorization, so only callers allowed to ask learn what is missing.
    pub fn refusal(&self) -> Option<S3Error> {
        match self {
            Self::Unsupported { what } => {
                Some(S3Error::new("NotImplemented", 501, format!("linkgate does not implement the ?{what} sub-resource")))
            }
            Self::MethodNotAllowed => {
                Some(S3Error::new("MethodNotAllowed", 405, "The specified method is not allowed against this resource."))
            }
            _ => None,
        }
    }
}

/// Bucket or object: the two target kinds whose query selects the operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bucket,
    Object,
}

/// A query parameter that selects the operation (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Selector {
    Cors,
    Location,
    Versions,
    Uploads,
    Delete,
    Acl,
    /// `uploadId`, or `partNumber` on PUT: one part of a multipart upload.
    UploadId,
    Unsupported(&'static str),
}

/// The selector parameter `name` is on a target of `kind` with `method`, if any.
fn selector(name: &str, method: &str, kind: Kind) -> Option<Selector> {
    let implemented = match (kind, name) {
        (Kind::Bucket, "cors") => Some(Selector::Cors),
        (Kind::Bucket, "location") => Some(Selector::Location),
        (Kind::Bucket, "versions") => Some(Selector::Versions),
        (Kind::Bucket, "delete") => Some(Selector::Delete),
        (_, "uploads") => Some(Selector::Uploads),
        (_, "acl") => Some(Selector::Acl),
        (Kind::Object, "uploadId") => Some(Selector::UploadId),
        (Kind::Object, "partNumber") if method == "PUT" => Some(Selector::UploadId),
        _ => None,
    };
    implemented.or_else(|| UNSUPPORTED_SUBRESOURCES.iter().find(|s| **s == name).map(|s| Selector::Unsupported(s)))
}

/// The query's one selector, or a 400 naming two that pick different operations.
fn select(query: &Query, method: &str, kind: Kind) -> Result<Option<Selector>, S3Error> {
    let mut chosen: Option<(&str, Selector)> = None;
    for (name, _) in query.iter() {
        let Some(sel) = selector(name, method, kind) else { continue };
        match chosen {
            None => chosen = Some((name, sel)),
            Some((first, s)) if s != sel => {
                return Err(S3Error::invalid_request(format!(
                    "The ?{first} and ?{name} parameters select different operations and cannot be combined."
                )));
            }
            Some(_) => {}
        }
    }
    Ok(chosen.map(|(_, s)| s))
}

fn service_op(method: &str) -> S3Operation {
    if method == "GET" { S3Operation::ListBuckets } else { S3Operation::MethodNotAllowed }
}

/// The bucket table of the module doc.
fn bucket_op(method: &str, sel: Option<Selector>, query: &Query, headers: &RequestHeaders<'_>) -> S3Operation {
    use S3Operation as Op;
    match (sel, method) {
        (Some(Selector::Unsupported(what)), _) => Op::Unsupported { what },
        (None, "GET") if query.get("list-type") == Some("2") => Op::ListObjectsV2,
        (None, "GET") => Op::ListObjects,
        (None, "HEAD") => Op::HeadBucket,
        (None, "PUT") => Op::CreateBucket,
        (None, "POST") if headers.is_form() => Op::PostObject,
        (None, "DELETE") => Op::DeleteBucket,
        (Some(Selector::Cors), "GET") => Op::GetBucketCors,
        (Some(Selector::Cors), "PUT") => Op::PutBucketCors,
        (Some(Selector::Cors), "DELETE") => Op::DeleteBucketCors,
        (Some(Selector::Location), "GET") => Op::GetBucketLocation,
        (Some(Selector::Versions), "GET") => Op::ListObjectVersions,
        (Some(Selector::Uploads), "GET") => Op::ListMultipartUploads,
        (Some(Selector::Delete), "POST") => Op::DeleteObjects,
        (Some(Selector::Acl), "GET") => Op::GetBucketAcl,
        (Some(Selector::Acl), "PUT") => Op::PutBucketAcl,
        _ => Op::MethodNotAllowed,
    }
}

/// The object table of the module doc.
fn object_op(method: &str, sel: Option<Selector>, headers: &RequestHeaders<'_>) -> S3Operation {
    use S3Operation as Op;
    match (sel, method) {
        (Some(Selector::Unsupported(what)), _) => Op::Unsupported { what },
        (None, "GET") => Op::GetObject,
        (None, "HEAD") => Op::HeadObject,
        (None, "PUT") if headers.copy_source => Op::CopyObject,
        (None, "PUT") => Op::PutObject,
        (None, "DELETE") => Op::DeleteObject,
        (Some(Selector::Uploads), "POST") => Op::CreateMultipartUpload,
        (Some(Selector::UploadId), "GET") => Op::ListParts,
        (Some(Selector::UploadId), "PUT") if headers.copy_source => Op::UploadPartCopy,
        (Some(Selector::UploadId), "PUT") => Op::UploadPart,
        (Some(Selector::UploadId), "POST") => Op::CompleteMultipartUpload,
        (Some(Selector::UploadId), "DELETE") => Op::AbortMultipartUpload,
        (Some(Selector::Acl), "GET") => Op::GetObjectAcl,
        (Some(Selector::Acl), "PUT") => Op::PutObjectAcl,
        _ => Op::MethodNotAllowed,
    }
}

/// Routes a request: which operation it is and on what, following the precedence
/// table of the module doc. `method` is compared case-sensitively, as HTTP does.
/// An `Err` is the answer to send as is (before authentication: it says only that
/// the URL is malformed).
pub fn parse(method: &str, raw_path: &str, query: &Query, headers: &RequestHeaders<'_>) -> Result<S3Request, S3Error> {
    let target = Target::parse(raw_path)?;
    let op = match &target {
        _ if method == "OPTIONS" => S3Operation::CorsPreflight,
        Target::Service => service_op(method),
        Target::Bucket(_) => bucket_op(method, select(query, method, Kind::Bucket)?, query, headers),
        Target::Object { .. } => object_op(method, select(query, method, Kind::Object)?, headers),
    };
    Ok(S3Request { op, target })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const METHODS: [&str; 9] = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE", "BREW"];

    /// Which headers a row sends.
    #[derive(Clone, Copy, Debug)]
    enum H {
        /// Neither header.
        No,
        /// `x-amz-copy-source`.
        Copy,
        /// `Content-Type: multipart/form-data; boundary=…`.
        Form,
    }

    impl H {
        fn headers(self) -> RequestHeaders<'static> {
            match self {
                H::No => RequestHeaders::default(),
                H::Copy => RequestHeaders { copy_source: true, content_type: Some("application/octet-stream") },
                H::Form => RequestHeaders { copy_source: false, content_type: Some("multipart/form-data; boundary=xyz") },
            }
        }
    }

    /// One expectation per method of [`METHODS`], in order: an operation name, `-`
    /// for MethodNotAllowed, `Pre` for CorsPreflight, `501` for Unsupported, or the
    /// status of an `Err`.
    const ROWS: &[(&str, &str, H, &str)] = &[
        // The service ignores its query.
        ("/", "", H::No, "ListBuckets - - - - Pre - - -"),
        ("/", "uploads&delete", H::Form, "ListBuckets - - - - Pre - - -"),
        ("/", "acl", H::No, "ListBuckets - - - - Pre - - -"),
        ("/", "uploadId=U&partNumber=1&cors", H::Copy, "ListBuckets - - - - Pre - - -"),
        // Buckets.
        ("/b", "", H::No, "ListObjects HeadBucket CreateBucket - DeleteBucket Pre - - -"),
        ("/b/", "", H::No, "ListObjects HeadBucket CreateBucket - DeleteBucket Pre - - -"),
        ("/b", "", H::Copy, "ListObjects HeadBucket CreateBucket - DeleteBucket Pre - - -"),
        ("/b", "", H::Form, "ListObjects HeadBucket CreateBucket PostObject DeleteBucket Pre - - -"),
        ("/b", "list-type=2", H::No, "ListObjectsV2 HeadBucket CreateBucket - DeleteBucket Pre - - -"),
        ("/b", "list-type=1", H::No, "ListObjects HeadBucket CreateBucket - DeleteBucket Pre - - -"),
        (
            "/b",
            "prefix=p&max-keys=1&X-Amz-Signature=s&versionId=v&x-id=X&uploadId=U&partNumber=1&response-content-type=t",
            H::No,
            "ListObjects HeadBucket CreateBucket - DeleteBucket Pre - - -",
        ),
        ("/b", "AWSAccessKeyId=A&Signature=S&Expires=1", H::Form, "ListObjects HeadBucket CreateBucket PostObject DeleteBucket Pre - - -"),
        ("/b", "cors", H::No, "GetBucketCors - PutBucketCors - DeleteBucketCors Pre - - -"),
        ("/b", "cors", H::Form, "GetBucketCors - PutBucketCors - DeleteBucketCors Pre - - -"),
        ("/b", "location", H::No, "GetBucketLocation - - - - Pre - - -"),
        ("/b", "versions&prefix=a", H::No, "ListObjectVersions - - - - Pre - - -"),
        ("/b", "uploads", H::No, "ListMultipartUploads - - - - Pre - - -"),
        ("/b", "delete", H::No, "- - - DeleteObjects - Pre - - -"),
        ("/b", "delete&delete=1", H::Form, "- - - DeleteObjects - Pre - - -"),
        ("/b", "cors&location", H::No, "400 400 400 400 400 Pre 400 400 400"),
        ("/b", "uploads&delete", H::No, "400 400 400 400 400 Pre 400 400 400"),
        ("/b", "versions&list-type=2&uploads", H::No, "400 400 400 400 400 Pre 400 400 400"),
        ("/b", "acl&cors", H::No, "400 400 400 400 400 Pre 400 400 400"),
        ("/b", "acl&tagging", H::No, "400 400 400 400 400 Pre 400 400 400"),
        ("/b", "acl&acl=x", H::Form, "GetBucketAcl - PutBucketAcl - - Pre - - -"),
        ("/b", "acl", H::No, "GetBucketAcl - PutBucketAcl - - Pre - - -"),
        // Objects.
        ("/b/k", "", H::No, "GetObject HeadObject PutObject - DeleteObject Pre - - -"),
        ("/b//a/../k", "", H::Form, "GetObject HeadObject PutObject - DeleteObject Pre - - -"),
        ("/b/k", "", H::Copy, "GetObject HeadObject CopyObject - DeleteObject Pre - - -"),
        (
            "/b/k",
            "versionId=v&response-content-type=t&X-Amz-Credential=c&list-type=2&x-id=GetObject",
            H::No,
            "GetObject HeadObject PutObject - DeleteObject Pre - - -",
        ),
        // A bucket's sub-resources mean nothing on an object.
        ("/b/k", "cors", H::No, "GetObject HeadObject PutObject - DeleteObject Pre - - -"),
        ("/b/k", "location&versions", H::No, "GetObject HeadObject PutObject - DeleteObject Pre - - -"),
        ("/b/k", "delete", H::No, "GetObject HeadObject PutObject - DeleteObject Pre - - -"),
        ("/b/k", "partNumber=1", H::No, "GetObject HeadObject UploadPart - DeleteObject Pre - - -"),
        ("/b/k", "uploads", H::No, "- - - CreateMultipartUpload - Pre - - -"),
        ("/b/k", "uploads", H::Copy, "- - - CreateMultipartUpload - Pre - - -"),
        ("/b/k", "uploadId=U", H::No, "ListParts - UploadPart CompleteMultipartUpload AbortMultipartUpload Pre - - -"),
        ("/b/k", "uploadId=U&partNumber=1", H::No, "ListParts - UploadPart CompleteMultipartUpload AbortMultipartUpload Pre - - -"),
        ("/b/k", "partNumber=1&uploadId=U", H::Copy, "ListParts - UploadPartCopy CompleteMultipartUpload AbortMultipartUpload Pre - - -"),
        ("/b/k", "uploads&delete", H::No, "- - - CreateMultipartUpload - Pre - - -"),
        ("/b/k", "uploadId=U&delete", H::No, "ListParts - UploadPart CompleteMultipartUpload AbortMultipartUpload Pre - - -"),
        ("/b/k", "uploads&uploadId=U", H::No, "400 400 400 400 400 Pre 400 400 400"),
        ("/b/k", "partNumber=1&uploads", H::No, "- - 400 CreateMultipartUpload - Pre - - -"),
        ("/b/k", "uploadId=U&acl", H::No, "400 400 400 400 400 Pre 400 400 400"),
        ("/b/k", "tagging&versionId=v", H::Copy, "501 501 501 501 501 Pre 501 501 501"),
        ("/b/k", "acl&versionId=null", H::No, "GetObjectAcl - PutObjectAcl - - Pre - - -"),
        ("/b/k", "acl", H::Copy, "GetObjectAcl - PutObjectAcl - - Pre - - -"),
    ];

    /// The authorization of each operation: `ACTION SCOPE`, where SCOPE says which
    /// ARN of the target the resource is (`*`, `bucket`, `object`).
    const AUTH: [(&str, &str); 32] = [
        ("ListBuckets", "s3:ListAllMyBuckets *"),
        ("CreateBucket", "s3:CreateBucket bucket"),
        ("DeleteBucket", "s3:DeleteBucket bucket"),
        ("HeadBucket", "s3:ListBucket bucket"),
        ("GetBucketLocation", "s3:GetBucketLocation bucket"),
        ("ListObjects", "s3:ListBucket bucket"),
        ("ListObjectsV2", "s3:ListBucket bucket"),
        ("ListObjectVersions", "s3:ListBucketVersions bucket"),
        ("ListMultipartUploads", "s3:ListBucketMultipartUploads bucket"),
        ("GetBucketAcl", "s3:GetBucketAcl bucket"),
        ("PutBucketAcl", "s3:PutBucketAcl bucket"),
        ("GetObjectAcl", "s3:GetObjectAcl object"),
        ("PutObjectAcl", "s3:PutObjectAcl object"),
        ("GetBucketCors", "s3:GetBucketCORS bucket"),
        ("PutBucketCors", "s3:PutBucketCORS bucket"),
        ("DeleteBucketCors", "s3:PutBucketCORS bucket"),
        ("DeleteObjects", "per-key s3:DeleteObject"),
        ("PostObject", "form"),
        ("GetObject", "s3:GetObject object"),
        ("HeadObject", "s3:GetObject object"),
        ("PutObject", "s3:PutObject object"),
        ("CopyObject", "s3:PutObject object"),
        ("DeleteObject", "s3:DeleteObject object"),
        ("CreateMultipartUpload", "s3:PutObject object"),
        ("UploadPart", "s3:PutObject object"),
        ("UploadPartCopy", "s3:PutObject object"),
        ("CompleteMultipartUpload", "s3:PutObject object"),
        ("AbortMultipartUpload", "s3:AbortMultipartUpload object"),
        ("ListParts", "s3:ListMultipartUploadParts object"),
        ("CorsPreflight", "anonymous"),
        ("Unsupported", "authenticated"),
        ("MethodNotAllowed", "authenticated"),
    ];

    fn route(method: &str, path: &str, query: &str, h: H) -> Result<S3Request, S3Error> {
        parse(method, path, &Query::parse(query), &h.headers())
    }

    fn cell(result: &Result<S3Request, S3Error>) -> String {
        match result {
            Ok(r) => match r.op {
                S3Operation::MethodNotAllowed => "-",
                S3Operation::CorsPreflight => "Pre",
                S3Operation::Unsupported { .. } => "501",
                op => op.name(),
            }
            .to_owned(),
            Err(e) => e.status.to_string(),
        }
    }

    /// The authorization in [`AUTH`]'s notation; `wrong-resource` when the ARN is not
    /// the target's.
    fn auth_text(req: &S3Request) -> String {
        match req.authorization() {
            Authorization::Action { action, resource } => {
                let scope = match &req.target {
                    _ if resource == "*" => "*",
                    Target::Bucket(b) if resource == s3_bucket_arn(b) => "bucket",
                    Target::Object { bucket, key } if resource == s3_object_arn(bucket, key) => "object",
                    _ => "wrong-resource",
                };
                format!("{action} {scope}")
            }
            Authorization::PerKey { action } => format!("per-key {action}"),
            Authorization::Form => "form".to_owned(),
            Authorization::Anonymous => "anonymous".to_owned(),
            Authorization::Authenticated => "authenticated".to_owned(),
        }
    }

    fn expected_auth(op: S3Operation) -> &'static str {
        AUTH.iter().find(|(name, _)| *name == op.name()).map(|(_, a)| *a).unwrap_or("missing from AUTH")
    }

    /// Checks one request against its row's expectations; returns the op names seen.
    fn check_row(path: &str, query: &str, h: H, expected: &str, seen: &mut Vec<&'static str>) {
        let expected: Vec<&str> = expected.split(' ').collect();
        assert_eq!(expected.len(), METHODS.len(), "row {path}?{query}");
        for (method, want) in METHODS.iter().zip(expected) {
            let result = route(method, path, query, h);
            assert_eq!(cell(&result), want, "{method} {path}?{query} {h:?}");
            if let Ok(req) = &result {
                assert_eq!(auth_text(req), expected_auth(req.op), "{method} {path}?{query} {h:?}");
                seen.push(req.op.name());
            }
        }
    }

    #[test]
    fn routing_table() {
        let mut seen = Vec::new();
        for (path, query, h, expected) in ROWS {
            check_row(path, query, *h, expected, &mut seen);
        }
        for what in UNSUPPORTED_SUBRESOURCES {
            for h in [H::No, H::Copy, H::Form] {
                check_row("/", what, h, "ListBuckets - - - - Pre - - -", &mut seen);
                for path in ["/b", "/b/k"] {
                    let query = format!("{what}&versionId=v&prefix=p");
                    check_row(path, &query, h, "501 501 501 501 501 Pre 501 501 501", &mut seen);
                    let req = route("PUT", path, &query, h).unwrap();
                    assert_eq!(req.op, S3Operation::Unsupported { what });
                }
            }
        }
        for (name, _) in AUTH {
            assert!(seen.contains(&name), "no row reaches {name}");
        }
    }

    /// The operations docs/api.md's table lists as supported, in the table's spellings
    /// (`ListObjects (v1)`, `Put/Get/DeleteBucketCors`, `POST Object (browser form)`,
    /// `preflight \`OPTIONS\``) turned into operation names.
    fn documented_operations() -> Vec<String> {
        let doc = include_str!("../../../../docs/api.md");
        let table = doc.lines().skip_while(|l| !l.starts_with("| operation |")).skip(2).take_while(|l| l.starts_with('|'));
        let mut names = Vec::new();
        for row in table {
            for item in row.split('|').nth(1).unwrap_or("").split(',') {
                let item = item.split(" (").next().unwrap_or("").trim();
                match item {
                    "POST Object" => names.push("PostObject".to_owned()),
                    "preflight `OPTIONS`" => names.push("CorsPreflight".to_owned()),
                    // "Put/Get/DeleteBucketCors": verbs, then the last verb and the noun.
                    _ if item.contains('/') => {
                        let (verbs, last) = item.rsplit_once('/').unwrap_or_default();
                        let noun_at = last[1..].find(|c: char| c.is_ascii_uppercase()).map_or(0, |i| i + 1);
                        let (last_verb, noun) = last.split_at(noun_at);
                        for verb in verbs.split('/').chain([last_verb]) {
                            names.push(format!("{verb}{noun}"));
                        }
                    }
                    _ => names.push(item.to_owned()),
                }
            }
        }
        names
    }

    /// A real client never meets a 501 for an operation the docs call supported:
    /// every name in docs/api.md's table is an operation the table above routes
    /// to (and the handlers match every operation exhaustively), and every
    /// routed operation is documented.
    #[test]
    fn docs_api_lists_exactly_the_routed_operations() {
        let documented = documented_operations();
        let routed: Vec<&str> = AUTH.iter().map(|(name, _)| *name).filter(|n| !["Unsupported", "MethodNotAllowed"].contains(n)).collect();
        for name in &documented {
            assert!(routed.contains(&name.as_str()), "docs/api.md lists {name}, which no request reaches");
        }
        for name in routed {
            assert!(documented.iter().any(|d| d == name), "{name} is served but missing from docs/api.md's table");
        }
    }

    #[test]
    fn uploads_and_delete_bypass_is_authorized_as_put_object() {
        // `POST /b/k?uploads&delete` was routed as CreateMultipartUpload but skipped
        // authorization as if it were DeleteObjects.
        let put_on_object = Authorization::Action { action: "s3:PutObject", resource: "arn:aws:s3:::b/k".to_owned() };
        for query in ["uploads&delete", "delete&uploads", "uploadId=U&delete", "delete&uploadId=U", "delete=&uploadId=U&partNumber=2"] {
            for h in [H::No, H::Form, H::Copy] {
                let req = route("POST", "/b/k", query, h).unwrap();
                assert_eq!(req.authorization(), put_on_object, "{query} {h:?}");
                assert!(req.op.refusal().is_none(), "{query}");
            }
        }
        // DeleteObjects exists only on a bucket, with `?delete` alone.
        let req = route("POST", "/b", "delete", H::No).unwrap();
        assert_eq!(req.authorization(), Authorization::PerKey { action: "s3:DeleteObject" });
        assert_eq!(route("POST", "/b", "uploads&delete", H::No).unwrap_err().code, "InvalidRequest");
    }

    #[test]
    fn conflicts_name_both_parameters() {
        let e = route("POST", "/b/k", "uploads&uploadId=1", H::No).unwrap_err();
        assert_eq!((e.code, e.status), ("InvalidRequest", 400));
        assert_eq!(e.message, "The ?uploads and ?uploadId parameters select different operations and cannot be combined.");
        let e = route("GET", "/b", "location&cors", H::No).unwrap_err();
        assert!(e.message.contains("?location and ?cors"), "{}", e.message);
        let e = route("PUT", "/b/k", "partNumber=1&acl", H::No).unwrap_err();
        assert!(e.message.contains("?partNumber and ?acl"), "{}", e.message);
    }

    #[test]
    fn refusals() {
        let e = S3Operation::Unsupported { what: "tagging" }.refusal().unwrap();
        assert_eq!(
            (e.code, e.status, e.message.as_str()),
            ("NotImplemented", 501, "linkgate does not implement the ?tagging sub-resource")
        );
        let e = S3Operation::MethodNotAllowed.refusal().unwrap();
        assert_eq!(
            (e.code, e.status, e.message.as_str()),
            ("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
        );
        let refused = ["Unsupported", "MethodNotAllowed"];
        for (method, (path, query, h, _)) in METHODS.iter().flat_map(|m| ROWS.iter().map(move |r| (m, r))) {
            if let Ok(req) = route(method, path, query, *h) {
                assert_eq!(req.op.refusal().is_some(), refused.contains(&req.op.name()), "{method} {path}?{query}");
            }
        }
    }

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<&str> = AUTH.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AUTH.len());
    }

    #[test]
    fn form_content_type_ignores_case_and_needs_the_media_type() {
        for (ct, form) in [
            ("multipart/form-data; boundary=x", true),
            ("Multipart/Form-Data;boundary=x", true),
            ("multipart/form-data", true),
            ("multipart/form", false),
            ("application/x-www-form-urlencoded", false),
            (" multipart/form-data", false),
            ("multipart/form-dat\u{e9}", false),
        ] {
            let headers = RequestHeaders { copy_source: false, content_type: Some(ct) };
            assert_eq!(headers.is_form(), form, "{ct}");
        }
    }

    #[test]
    fn targets_keep_every_key_byte() {
        let obj = |b: &str, k: &str| Target::Object { bucket: b.into(), key: k.into() };
        assert_eq!(Target::parse("/").unwrap(), Target::Service);
        assert_eq!(Target::parse("/b").unwrap(), Target::Bucket("b".into()));
        assert_eq!(Target::parse("/b/").unwrap(), Target::Bucket("b".into()));
        assert_eq!(Target::parse("/b//a/../c").unwrap(), obj("b", "/a/../c"));
        assert_eq!(Target::parse("/b/a%20b%2Bc%25").unwrap(), obj("b", "a b+c%"));
        assert_eq!(Target::parse("/b/%2e%2e/x").unwrap(), obj("b", "../x"));
        assert_eq!(Target::parse("b/k").unwrap_err().code, "InvalidURI");
        assert_eq!(Target::parse("").unwrap_err().code, "InvalidURI");
        assert_eq!(Target::parse("/b/a%00").unwrap_err().code, "InvalidURI");
        assert_eq!(Target::parse("/b/%ff").unwrap_err().code, "InvalidURI");
        assert_eq!(Target::parse("/%ff/k").unwrap_err().code, "InvalidURI");
        let long = Target::parse(&format!("/b/{}", "k".repeat(1025))).unwrap_err();
        assert_eq!((long.code, long.details.clone()), ("KeyTooLongError", vec![("MaxSizeAllowed", "1024".to_owned())]));
        assert_eq!(Target::parse(&format!("/b/{}", "%C3%A9".repeat(512))).unwrap(), obj("b", &"é".repeat(512)));
        assert_eq!(Target::parse(&format!("/b/{}", "%C3%A9".repeat(513))).unwrap_err().code, "KeyTooLongError");
        assert_eq!(obj("b", "k").bucket(), Some("b"));
        assert_eq!(obj("b", "k").key(), Some("k"));
        assert_eq!(Target::Bucket("b".into()).key(), None);
        assert_eq!(Target::Service.bucket(), None);
    }

    #[test]
    fn keys() {
        assert!(validate_key("a").is_ok());
        assert!(validate_key(&"k".repeat(1024)).is_ok());
        assert!(validate_key("../..//x y%").is_ok());
        assert_eq!(validate_key("").unwrap_err().code, "InvalidArgument");
        assert_eq!(validate_key(&"k".repeat(1025)).unwrap_err().code, "KeyTooLongError");
        assert_eq!(validate_key(&"é".repeat(513)).unwrap_err().code, "KeyTooLongError");
        assert_eq!(validate_key("a\0b").unwrap_err().code, "InvalidURI");
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.01", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "a_b",
            "a.-b",
            "a-.b",
            "abc-s3alias",
            "é.com",
            &"a".repeat(64),
        ] {
            let e = validate_bucket_name(bad).unwrap_err();
            assert_eq!((e.code, e.details), ("InvalidBucketName", vec![("BucketName", bad.to_owned())]), "{bad}");
        }
    }

    /// Query words the generators draw from: selectors, unsupported sub-resources,
    /// ordinary parameters, and near misses.
    const WORDS: [&str; 18] = [
        "cors",
        "location",
        "versions",
        "uploads",
        "delete",
        "uploadId",
        "partNumber",
        "list-type",
        "acl",
        "tagging",
        "select",
        "prefix",
        "X-Amz-Signature",
        "versionId",
        "Uploads",
        "cors%00",
        "%75ploads",
        "",
    ];

    fn method() -> impl Strategy<Value = String> {
        prop_oneof![4 => proptest::sample::select(METHODS.to_vec()).prop_map(str::to_owned), 1 => any::<String>()]
    }

    fn path() -> impl Strategy<Value = String> {
        let segment = prop_oneof![
            6 => "[a-z0-9]{1,4}",
            2 => "[a-z0-9.%/-]{0,8}",
            1 => proptest::sample::select(vec!["%00", "%ff", "%2F", ""]).prop_map(str::to_owned),
        ];
        prop_oneof![1 => any::<String>(), 4 => proptest::collection::vec(segment, 0..4).prop_map(|s| format!("/{}", s.join("/")))]
    }

    fn query() -> impl Strategy<Value = String> {
        let pair = (proptest::sample::select(WORDS.to_vec()), "(=[a-zA-Z0-9%&=]{0,4})?").prop_map(|(k, v)| format!("{k}{v}"));
        prop_oneof![1 => any::<String>(), 4 => proptest::collection::vec(pair, 0..3).prop_map(|p| p.join("&"))]
    }

    fn content_type() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            Just("multipart/form-data; boundary=x".to_owned()),
            Just("application/xml".to_owned()),
            any::<String>()
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// Never panics; a routed request's authorization names its own target,
        /// with the action [`AUTH`] lists; OPTIONS is always a preflight.
        #[test]
        fn parse_is_total_and_authorizes_its_own_target(
            method in method(), path in path(), query in query(), ct in content_type(), copy_source in any::<bool>(),
        ) {
            let headers = RequestHeaders { copy_source, content_type: ct.as_deref() };
            let q = Query::parse(&query);
            let Ok(req) = parse(&method, &path, &q, &headers) else { return Ok(()) };
            prop_assert_eq!(Target::parse(&path), Ok(req.target.clone()));
            prop_assert_eq!(auth_text(&req), expected_auth(req.op), "{} {}?{}", method, path, query);
            if let Authorization::Action { resource, .. } = req.authorization() {
                prop_assert_eq!(resource, req.target.arn());
            }
            if req.op.refusal().is_none() {
                prop_assert_ne!(req.authorization(), Authorization::Authenticated);
            }
            if method == "OPTIONS" {
                prop_assert_eq!(req.op, S3Operation::CorsPreflight);
            }
            if req.op == S3Operation::DeleteObjects {
                prop_assert!(method == "POST" && q.has("delete") && matches!(req.target, Target::Bucket(_)));
            }
        }

        /// Ordinary parameters never change the routing.
        #[test]
        fn ordinary_parameters_never_select(method in method(), path in path(), query in query(), copy_source in any::<bool>()) {
            let headers = RequestHeaders { copy_source, content_type: None };
            let plain = parse(&method, &path, &Query::parse(&query), &headers);
            let noisy = format!("prefix=a&{query}&max-keys=2&response-content-type=x&X-Amz-Date=1&versionId=v&x-id=Op&AWSAccessKeyId=A");
            prop_assert_eq!(plain, parse(&method, &path, &Query::parse(&noisy), &headers));
        }
    }
}
