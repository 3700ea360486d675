//! S3 routing: `linkgate::s3::operation::parse` on an arbitrary method, path, query
//! and headers, then the operation's `authorization`, `refusal` and `name`. Must never
//! panic, and must never route a request as one operation while authorizing it as
//! another or on another resource.
//!
//! Input: `FLAGS METHOD \n PATH \n QUERY \n CONTENT-TYPE` (the first byte is FLAGS, the
//! rest is read as UTF-8, lossily, and split on the first three `\n`). `FLAGS & 1`:
//! `x-amz-copy-source` is present; `FLAGS & 2`: CONTENT-TYPE is sent (else none).
//!
//! Properties:
//! - the target is exactly what `Target::parse` makes of the path, and an object's key
//!   passes `validate_key`;
//! - an `Action` names the target's own ARN (`*` for the service, else the bucket's or
//!   the object's); bucket operations have bucket targets, object operations objects;
//! - `Authenticated` exactly for the refused `Unsupported`/`MethodNotAllowed`;
//!   `Anonymous` exactly for `OPTIONS`; `PerKey` only for `POST /bucket?delete`;
//!   `Form` only for a `multipart/form-data` POST to a bucket;
//! - ordinary parameters (`prefix`, `X-Amz-*`, `versionId`, …) added to the query change
//!   nothing, and parsing twice gives the same answer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use linkgate::auth::policy::{s3_bucket_arn, s3_object_arn};
use linkgate::s3::operation::{Authorization, RequestHeaders, S3Operation, S3Request, Target, parse, validate_key};
use linkgate::s3::query::Query;

fn arn(target: &Target) -> String {
    match target {
        Target::Service => "*".to_owned(),
        Target::Bucket(b) => s3_bucket_arn(b),
        Target::Object { bucket, key } => s3_object_arn(bucket, key),
    }
}

fn check(req: &S3Request, method: &str, path: &str, query: &Query, headers: &RequestHeaders<'_>) {
    use S3Operation as Op;
    assert_eq!(Target::parse(path).as_ref(), Ok(&req.target));
    if let Some(key) = req.target.key() {
        assert!(validate_key(key).is_ok(), "{key:?}");
    }
    assert!(!req.op.name().is_empty());
    let refusal = req.op.refusal();
    let is_bucket = matches!(req.target, Target::Bucket(_));
    match req.authorization() {
        Authorization::Action { resource, .. } => {
            assert_eq!(resource, arn(&req.target), "{method} {path} {:?}", req.op);
            let object_op = matches!(
                req.op,
                Op::GetObject
                    | Op::HeadObject
                    | Op::PutObject
                    | Op::CopyObject
                    | Op::DeleteObject
                    | Op::CreateMultipartUpload
                    | Op::UploadPart
                    | Op::UploadPartCopy
                    | Op::CompleteMultipartUpload
                    | Op::AbortMultipartUpload
                    | Op::ListParts
            );
            let service_op = req.op == Op::ListBuckets;
            assert_eq!(object_op, req.target.key().is_some(), "{:?} on {:?}", req.op, req.target);
            assert_eq!(service_op, req.target == Target::Service, "{:?} on {:?}", req.op, req.target);
        }
        Authorization::PerKey { action } => {
            assert_eq!((req.op, action), (Op::DeleteObjects, "s3:DeleteObject"));
            assert!(method == "POST" && is_bucket && query.has("delete"));
        }
        Authorization::Form => {
            assert_eq!(req.op, Op::PostObject);
            assert!(method == "POST" && is_bucket);
            assert!(headers.content_type.is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data")));
        }
        Authorization::Anonymous => assert_eq!(req.op, Op::CorsPreflight),
        Authorization::Authenticated => {
            assert!(matches!(req.op, Op::Unsupported { .. } | Op::MethodNotAllowed));
            assert!(refusal.is_some());
        }
    }
    assert_eq!(method == "OPTIONS", req.op == Op::CorsPreflight);
    if let Some(e) = refusal {
        assert!(e.status == 405 || e.status == 501, "{e}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.splitn(4, '\n');
    let (method, path, raw_query) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let content_type = lines.next().filter(|_| flags & 2 != 0);
    let headers = RequestHeaders { copy_source: flags & 1 != 0, content_type };
    let query = Query::parse(raw_query);

    let result = parse(method, path, &query, &headers);
    assert_eq!(result, parse(method, path, &query, &headers));
    if let Ok(req) = &result {
        check(req, method, path, &query, &headers);
    }

    let noisy = Query::parse(&format!("prefix=p&{raw_query}&X-Amz-Signature=s&versionId=v&response-content-type=t&x-id=X"));
    assert_eq!(result, parse(method, path, &noisy, &headers), "ordinary parameters changed the routing");
});
