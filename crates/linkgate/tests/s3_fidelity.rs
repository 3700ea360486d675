//! S3 behaviours real clients rely on, checked with the AWS SDK for Rust against
//! a server started in-process: each test names the S3 answer it expects and was
//! written against a build that answered otherwise (issue 10's list).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_sdk_s3::config::Region;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use common::TestServer;

/// Status and S3 `<Code>` of a call that must fail.
#[track_caller]
fn status_and_code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, SdkError<E, HttpResponse>>,
) -> (u16, Option<String>) {
    let err = r.expect_err("the call should have failed");
    let status = err.raw_response().map_or(0, |raw| raw.status().as_u16());
    (status, err.code().map(str::to_owned))
}

/// Status, S3 `<Code>` and `<Message>` of a call that must fail.
#[track_caller]
fn status_code_message<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, SdkError<E, HttpResponse>>,
) -> (u16, String, String) {
    let err = r.expect_err("the call should have failed");
    let status = err.raw_response().map_or(0, |raw| raw.status().as_u16());
    (status, err.code().unwrap_or_default().to_owned(), err.message().unwrap_or_default().to_owned())
}

/// A fresh server with bucket `bkt`, and a client with plain (non-chunked)
/// bodies.
async fn with_bucket() -> (TestServer, aws_sdk_s3::Client) {
    let s = TestServer::start().await;
    let c = s.plain_client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    (s, c)
}

/// Was 409 `BucketAlreadyOwnedByYou` in us-east-1, where S3 answers 200 to the
/// owner; other regions keep the 409.
#[tokio::test]
async fn create_bucket_again_is_200_in_us_east_1_and_409_elsewhere() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    c.create_bucket().bucket("again").send().await.unwrap();
    c.create_bucket().bucket("again").send().await.expect("us-east-1: creating your own bucket again succeeds");

    let eu = TestServer::start_with(|cfg| cfg.region = "eu-west-1".into()).await;
    let c = eu.client_with(|b| b.region(Region::new("eu-west-1")));
    let constraint = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
        .build();
    c.create_bucket().bucket("again").create_bucket_configuration(constraint.clone()).send().await.unwrap();
    let again = c.create_bucket().bucket("again").create_bucket_configuration(constraint).send().await;
    assert_eq!(status_and_code(again), (409, Some("BucketAlreadyOwnedByYou".into())));
}

/// Was 412 `PreconditionFailed`: S3 answers a conditional write on a key that
/// does not exist with 404 `NoSuchKey`, and writes nothing.
#[tokio::test]
async fn put_if_match_on_a_missing_key_is_no_such_key() {
    let (_server, c) = with_bucket().await;
    let r = c
        .put_object()
        .bucket("bkt")
        .key("missing")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(status_and_code(r), (404, Some("NoSuchKey".into())));
    let head = c.head_object().bucket("bkt").key("missing").send().await;
    assert_eq!(status_and_code(head).0, 404, "nothing was written");
}

/// Was `IsTruncated` true with no continuation token (a client following it
/// loops): S3 answers an empty, untruncated page.
#[tokio::test]
async fn max_keys_zero_is_an_empty_untruncated_page() {
    let (_server, c) = with_bucket().await;
    c.put_object().bucket("bkt").key("k").body(ByteStream::from_static(b"x")).send().await.unwrap();
    let v2 = c.list_objects_v2().bucket("bkt").max_keys(0).send().await.unwrap();
    assert_eq!(v2.is_truncated(), Some(false), "{v2:?}");
    assert_eq!(v2.key_count(), Some(0));
    assert!(v2.contents().is_empty() && v2.next_continuation_token().is_none(), "{v2:?}");
    let v1 = c.list_objects().bucket("bkt").max_keys(0).send().await.unwrap();
    assert_eq!(v1.is_truncated(), Some(false), "{v1:?}");
    assert!(v1.contents().is_empty(), "{v1:?}");
}

/// Was `deflate,gzip`: a Content-Encoding without `aws-chunked` comes back
/// exactly as it was sent.
#[tokio::test]
async fn content_encoding_comes_back_as_sent() {
    let (_server, c) = with_bucket().await;
    c.put_object().bucket("bkt").key("k").content_encoding("deflate, gzip").body(ByteStream::from_static(b"x")).send().await.unwrap();
    let head = c.head_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(head.content_encoding(), Some("deflate, gzip"));
}

/// Were ignored (every bucket, always): ListBuckets pages with `max-buckets` and
/// `continuation-token`, and filters with `prefix`.
#[tokio::test]
async fn list_buckets_pages_and_filters() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    for b in ["lb-e", "lb-a", "other", "lb-c", "lb-b", "lb-d"] {
        c.create_bucket().bucket(b).send().await.unwrap();
    }
    let names = |out: &aws_sdk_s3::operation::list_buckets::ListBucketsOutput| -> Vec<String> {
        out.buckets().iter().map(|b| b.name().unwrap().to_owned()).collect()
    };
    let all = c.list_buckets().send().await.unwrap();
    assert_eq!(names(&all), ["lb-a", "lb-b", "lb-c", "lb-d", "lb-e", "other"]);
    assert!(all.continuation_token().is_none());

    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let out = c.list_buckets().prefix("lb-").max_buckets(2).set_continuation_token(token).send().await.unwrap();
        assert_eq!(out.prefix(), Some("lb-"));
        assert!(out.buckets().len() <= 2, "{out:?}");
        seen.extend(names(&out));
        pages += 1;
        token = out.continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["lb-a", "lb-b", "lb-c", "lb-d", "lb-e"]);
    assert_eq!(pages, 3);

    let r = c.list_buckets().max_buckets(0).send().await;
    assert_eq!(status_and_code(r), (400, Some("InvalidArgument".into())));
    let r = c.list_buckets().continuation_token("not a token!").send().await;
    assert_eq!(status_and_code(r), (400, Some("InvalidArgument".into())));
}

/// Was 404 `NoSuchKey` for anyone who may read objects: S3 says a key is missing
/// only to a caller who may list the bucket, and 403 `AccessDenied` to others
/// (headers and presigned URLs alike), so existence cannot be probed.
#[tokio::test]
async fn missing_key_is_access_denied_without_list_bucket() {
    let s = TestServer::start().await;
    s.plain_client().create_bucket().bucket("bkt").send().await.unwrap();
    s.plain_client().put_object().bucket("bkt").key("there").body(ByteStream::from_static(b"x")).send().await.unwrap();
    let read_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}"#;
    let (ak, sk) = common::admin::user_with_key(&s, "reader", Some(read_only)).await;
    let reader = s.client_as(&ak, &sk);
    reader.get_object().bucket("bkt").key("there").send().await.expect("an existing key is readable");
    assert_eq!(status_and_code(reader.get_object().bucket("bkt").key("absent").send().await), (403, Some("AccessDenied".into())));
    assert_eq!(status_and_code(reader.head_object().bucket("bkt").key("absent").send().await).0, 403);
    let presigned = reader.get_object().bucket("bkt").key("absent").presigned(common::presign_for(300)).await.unwrap();
    common::send_presigned(&presigned, "").await.assert_error(403, "AccessDenied", None);

    let lister = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"},
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bkt"}]}"#;
    let (ak, sk) = common::admin::user_with_key(&s, "lister", Some(lister)).await;
    let lister = s.client_as(&ak, &sk);
    assert_eq!(status_and_code(lister.get_object().bucket("bkt").key("absent").send().await), (404, Some("NoSuchKey".into())));
    assert_eq!(status_and_code(lister.head_object().bucket("bkt").key("absent").send().await).0, 404);
    let root = s.plain_client();
    assert_eq!(status_and_code(root.get_object().bucket("bkt").key("absent").send().await), (404, Some("NoSuchKey".into())));
}

/// Starts a one-part multipart upload of `body` at `bkt/key`; returns the upload
/// id and the part list to complete it with.
async fn one_part_upload(c: &aws_sdk_s3::Client, key: &str, body: &'static [u8]) -> (String, aws_sdk_s3::types::CompletedMultipartUpload) {
    let id = c.create_multipart_upload().bucket("bkt").key(key).send().await.unwrap().upload_id().unwrap().to_owned();
    let part =
        c.upload_part().bucket("bkt").key(key).upload_id(&id).part_number(1).body(ByteStream::from_static(body)).send().await.unwrap();
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    (id, done)
}

/// Was 404 `NoSuchUpload`: S3 answers a repeated CompleteMultipartUpload (an SDK
/// retrying after a lost response) with 200 and the same ETag while the object
/// is still the one it made.
#[tokio::test]
async fn complete_multipart_upload_again_is_200() {
    let (_server, c) = with_bucket().await;
    let (id, done) = one_part_upload(&c, "k", b"multipart body").await;
    let first = c.complete_multipart_upload().bucket("bkt").key("k").upload_id(&id).multipart_upload(done.clone()).send().await.unwrap();
    let again = c.complete_multipart_upload().bucket("bkt").key("k").upload_id(&id).multipart_upload(done.clone()).send().await.unwrap();
    assert_eq!(again.e_tag(), first.e_tag());
    assert!(first.e_tag().unwrap().ends_with("-1\""), "{first:?}");

    // Once the key holds something else, the upload is gone for good.
    c.put_object().bucket("bkt").key("k").body(ByteStream::from_static(b"other")).send().await.unwrap();
    let r = c.complete_multipart_upload().bucket("bkt").key("k").upload_id(&id).multipart_upload(done).send().await;
    assert_eq!(status_and_code(r), (404, Some("NoSuchUpload".into())));
}

/// Was ignored (the object was overwritten): CompleteMultipartUpload with
/// `If-None-Match: *` on an existing key is 412 and leaves both the object and
/// the upload; `If-Match` with the current ETag completes.
#[tokio::test]
async fn conditional_complete_multipart_upload() {
    let (_server, c) = with_bucket().await;
    let existing = c.put_object().bucket("bkt").key("k").body(ByteStream::from_static(b"existing")).send().await.unwrap();
    let (id, done) = one_part_upload(&c, "k", b"replacement").await;
    let r =
        c.complete_multipart_upload().bucket("bkt").key("k").upload_id(&id).multipart_upload(done.clone()).if_none_match("*").send().await;
    assert_eq!(status_and_code(r), (412, Some("PreconditionFailed".into())));
    let r = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .multipart_upload(done.clone())
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .send()
        .await;
    assert_eq!(status_and_code(r), (412, Some("PreconditionFailed".into())));
    let body = c.get_object().bucket("bkt").key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(body.as_ref(), b"existing", "the object is untouched");
    c.complete_multipart_upload()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .multipart_upload(done)
        .if_match(existing.e_tag().unwrap())
        .send()
        .await
        .unwrap();
    let body = c.get_object().bucket("bkt").key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(body.as_ref(), b"replacement");

    let (id, done) = one_part_upload(&c, "new", b"fresh").await;
    c.complete_multipart_upload().bucket("bkt").key("new").upload_id(&id).multipart_upload(done).if_none_match("*").send().await.unwrap();
}

/// Was 501: ListMultipartUploads lists pending uploads by key with `prefix`,
/// `delimiter` and `key-marker` / `upload-id-marker` pages of `max-uploads`.
#[tokio::test]
async fn list_multipart_uploads() {
    let (_server, c) = with_bucket().await;
    let mut started = Vec::new();
    for key in ["logs/a", "logs/a", "logs/b", "logs/deep/c", "top"] {
        let out = c.create_multipart_upload().bucket("bkt").key(key).send().await.unwrap();
        started.push((key.to_owned(), out.upload_id().unwrap().to_owned()));
    }
    started.sort();
    let done = c.create_multipart_upload().bucket("bkt").key("logs/done").send().await.unwrap();
    let (id, parts) = one_part_upload(&c, "logs/completed", b"x").await;
    c.complete_multipart_upload().bucket("bkt").key("logs/completed").upload_id(&id).multipart_upload(parts).send().await.unwrap();
    c.abort_multipart_upload().bucket("bkt").key("logs/done").upload_id(done.upload_id().unwrap()).send().await.unwrap();

    let all = c.list_multipart_uploads().bucket("bkt").send().await.unwrap();
    let listed: Vec<(String, String)> =
        all.uploads().iter().map(|u| (u.key().unwrap().to_owned(), u.upload_id().unwrap().to_owned())).collect();
    assert_eq!(listed, started, "pending uploads only, by key then upload id");
    assert_eq!(all.is_truncated(), Some(false));
    assert!(all.uploads()[0].initiated().is_some() && all.uploads()[0].owner().is_some());

    // Pages of two, following NextKeyMarker / NextUploadIdMarker.
    let (mut key_marker, mut id_marker, mut paged, mut pages) = (None::<String>, None::<String>, Vec::new(), 0);
    loop {
        let out = c
            .list_multipart_uploads()
            .bucket("bkt")
            .max_uploads(2)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        paged.extend(out.uploads().iter().map(|u| (u.key().unwrap().to_owned(), u.upload_id().unwrap().to_owned())));
        if out.is_truncated() != Some(true) {
            break;
        }
        key_marker = out.next_key_marker().map(str::to_owned);
        id_marker = out.next_upload_id_marker().map(str::to_owned);
    }
    assert_eq!(paged, started);
    assert_eq!(pages, 3);

    // A key marker without an upload id marker skips every upload of that key.
    let after = c.list_multipart_uploads().bucket("bkt").key_marker("logs/a").send().await.unwrap();
    assert_eq!(after.uploads().iter().map(|u| u.key().unwrap()).collect::<Vec<_>>(), ["logs/b", "logs/deep/c", "top"]);

    // Prefix and delimiter roll keys up.
    let rolled = c.list_multipart_uploads().bucket("bkt").prefix("logs/").delimiter("/").send().await.unwrap();
    assert_eq!(rolled.uploads().iter().map(|u| u.key().unwrap()).collect::<Vec<_>>(), ["logs/a", "logs/a", "logs/b"]);
    assert_eq!(rolled.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), ["logs/deep/"]);

    let r = c.list_multipart_uploads().bucket("missing-bucket").send().await;
    assert_eq!(status_and_code(r), (404, Some("NoSuchBucket".into())));
}

/// Was 409 `BucketNotEmpty` (with nothing to see in a listing): S3 deletes a
/// bucket whose only contents are pending uploads, and discards them.
#[tokio::test]
async fn delete_bucket_discards_pending_uploads() {
    let (s, c) = with_bucket().await;
    let (id, _) = one_part_upload(&c, "interrupted", b"half an upload").await;
    c.put_object().bucket("bkt").key("obj").body(ByteStream::from_static(b"x")).send().await.unwrap();
    assert_eq!(status_and_code(c.delete_bucket().bucket("bkt").send().await), (409, Some("BucketNotEmpty".into())));
    c.delete_object().bucket("bkt").key("obj").send().await.unwrap();
    c.delete_bucket().bucket("bkt").send().await.expect("only a pending upload was left");
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let r = c.list_parts().bucket("bkt").key("interrupted").upload_id(&id).send().await;
    assert_eq!(status_and_code(r), (404, Some("NoSuchUpload".into())));
    assert!(c.list_multipart_uploads().bucket("bkt").send().await.unwrap().uploads().is_empty());
    let objects = s.data_dir.join("objects");
    let leftover: Vec<_> = common::files_under(&objects).into_iter().filter(|p| !p.starts_with(objects.join("tmp"))).collect();
    assert!(leftover.is_empty(), "the part's bytes are removed: {leftover:?}");
}

async fn body_of(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    c.get_object().bucket(bucket).key(key).send().await.unwrap().body.collect().await.unwrap().into_bytes().to_vec()
}

/// Was 501: CopyObject within and across buckets, keeping the source's metadata
/// (COPY) or taking the request's (REPLACE), with S3's refusals.
#[tokio::test]
async fn copy_object() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    for b in ["src", "dst"] {
        c.create_bucket().bucket(b).send().await.unwrap();
    }
    let put = c
        .put_object()
        .bucket("src")
        .key("dir/a file ü.txt")
        .content_type("text/plain")
        .cache_control("max-age=60")
        .metadata("owner", "ops")
        .body(ByteStream::from_static(b"copy me"))
        .send()
        .await
        .unwrap();
    let source = "src/dir/a%20file%20%C3%BC.txt";

    // COPY (the default): same bytes, ETag and metadata, across buckets.
    let out = c.copy_object().copy_source(source).bucket("dst").key("copied").send().await.unwrap();
    let result = out.copy_object_result().unwrap();
    assert_eq!(result.e_tag(), put.e_tag());
    assert!(result.last_modified().is_some());
    assert_eq!(body_of(&c, "dst", "copied").await, b"copy me");
    let head = c.head_object().bucket("dst").key("copied").send().await.unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(head.metadata().unwrap().get("owner").map(String::as_str), Some("ops"));

    // REPLACE: the request's metadata instead.
    c.copy_object()
        .copy_source(source)
        .bucket("src")
        .key("replaced")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .content_type("application/json")
        .metadata("owner", "dev")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("src").key("replaced").send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/json"));
    assert_eq!(head.cache_control(), None);
    assert_eq!(head.metadata().unwrap().get("owner").map(String::as_str), Some("dev"));

    // Onto itself: only with REPLACE (rclone and `aws s3 cp` use it to change metadata).
    let r = c.copy_object().copy_source("src/replaced").bucket("src").key("replaced").send().await;
    assert_eq!(status_and_code(r), (400, Some("InvalidRequest".into())));
    c.copy_object()
        .copy_source("src/replaced")
        .bucket("src")
        .key("replaced")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .metadata("mtime", "1700000000")
        .send()
        .await
        .unwrap();
    let head = c.head_object().bucket("src").key("replaced").send().await.unwrap();
    assert_eq!(head.metadata().unwrap().get("mtime").map(String::as_str), Some("1700000000"));
    assert_eq!(body_of(&c, "src", "replaced").await, b"copy me");

    // The copy has bytes of its own.
    c.delete_object().bucket("src").key("dir/a file ü.txt").send().await.unwrap();
    assert_eq!(body_of(&c, "dst", "copied").await, b"copy me");

    // Refusals.
    let r = c.copy_object().copy_source("src/gone").bucket("dst").key("x").send().await;
    assert_eq!(status_and_code(r), (404, Some("NoSuchKey".into())));
    let r = c.copy_object().copy_source("nosuchbucket/k").bucket("dst").key("x").send().await;
    assert_eq!(status_and_code(r), (404, Some("NoSuchBucket".into())));
    let r = c.copy_object().copy_source("src/replaced").bucket("dst").key("x").copy_source_if_match("\"nope\"").send().await;
    assert_eq!(status_and_code(r), (412, Some("PreconditionFailed".into())));
    let r = c.copy_object().copy_source("src/replaced").bucket("dst").key("x").copy_source_if_none_match(put.e_tag().unwrap()).send().await;
    assert_eq!(status_and_code(r), (412, Some("PreconditionFailed".into())));
    let r = c.copy_object().copy_source("src/replaced").bucket("dst").key("copied").if_none_match("*").send().await;
    assert_eq!(status_and_code(r), (412, Some("PreconditionFailed".into())), "the destination's own condition");
    let r = c.copy_object().copy_source("src").bucket("dst").key("x").send().await;
    assert_eq!(status_and_code(r), (400, Some("InvalidArgument".into())));
    let r = c.copy_object().copy_source("src/replaced?versionId=abc").bucket("dst").key("x").send().await;
    assert_eq!(status_and_code(r), (400, Some("InvalidArgument".into())));
}

/// CopyObject reads the source with `s3:GetObject`: a caller who may write the
/// destination but not read the source is refused, and nothing is written.
#[tokio::test]
async fn copy_object_needs_get_object_on_the_source() {
    let s = TestServer::start().await;
    let root = s.plain_client();
    for b in ["secret", "drop"] {
        root.create_bucket().bucket(b).send().await.unwrap();
    }
    root.put_object().bucket("secret").key("k").body(ByteStream::from_static(b"private")).send().await.unwrap();
    let writer = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::drop/*"}]}"#;
    let (ak, sk) = common::admin::user_with_key(&s, "writer", Some(writer)).await;
    let c = s.client_as(&ak, &sk);
    let r = c.copy_object().copy_source("secret/k").bucket("drop").key("stolen").send().await;
    assert_eq!(status_and_code(r), (403, Some("AccessDenied".into())));
    assert_eq!(status_and_code(root.head_object().bucket("drop").key("stolen").send().await).0, 404);
}

/// Was 501: UploadPartCopy fills parts from byte ranges of an existing object
/// (how SDKs copy objects over 5 GiB, and boto3's managed copy above 8 MiB); the
/// completed object is byte-identical.
#[tokio::test]
async fn upload_part_copy_assembles_a_copy() {
    let (_server, c) = with_bucket().await;
    let size = 12 * 1024 * 1024 + 123;
    let data = common::pattern(size, 7);
    c.put_object().bucket("bkt").key("big").body(ByteStream::from(data.clone())).send().await.unwrap();
    let id = c.create_multipart_upload().bucket("bkt").key("copy").send().await.unwrap().upload_id().unwrap().to_owned();
    let half = 6 * 1024 * 1024;
    let mut parts = Vec::new();
    for (n, range) in [(1, format!("bytes=0-{}", half - 1)), (2, format!("bytes={half}-{}", size - 1))] {
        let out = c
            .upload_part_copy()
            .bucket("bkt")
            .key("copy")
            .upload_id(&id)
            .part_number(n)
            .copy_source("bkt/big")
            .copy_source_range(range)
            .send()
            .await
            .unwrap();
        let etag = out.copy_part_result().unwrap().e_tag().unwrap().to_owned();
        parts.push(aws_sdk_s3::types::CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    let listed = c.list_parts().bucket("bkt").key("copy").upload_id(&id).send().await.unwrap();
    assert_eq!(listed.parts().iter().map(|p| p.size().unwrap()).collect::<Vec<_>>(), [half as i64, (size - half) as i64]);
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    c.complete_multipart_upload().bucket("bkt").key("copy").upload_id(&id).multipart_upload(done).send().await.unwrap();
    assert!(body_of(&c, "bkt", "copy").await == data, "the copy differs from its source");

    // A range past the end, and a malformed one.
    let id = c.create_multipart_upload().bucket("bkt").key("bad").send().await.unwrap().upload_id().unwrap().to_owned();
    let copy = |range: &str| {
        c.upload_part_copy().bucket("bkt").key("bad").upload_id(&id).part_number(1).copy_source("bkt/big").copy_source_range(range).send()
    };
    assert_eq!(status_and_code(copy(&format!("bytes=0-{size}")).await), (400, Some("InvalidArgument".into())));
    assert_eq!(status_and_code(copy("bytes=9-1").await), (400, Some("InvalidArgument".into())));
    let r = c.upload_part_copy().bucket("bkt").key("bad").upload_id("no-such-upload").part_number(1).copy_source("bkt/big").send().await;
    assert_eq!(status_and_code(r), (404, Some("NoSuchUpload".into())));
}

/// Was 403 `SignatureDoesNotMatch` (the value was left out of the canonical
/// request): a non-ASCII `x-amz-meta-*` value is signed as its UTF-8 bytes, kept,
/// and sent back as S3 does, as an RFC 2047 encoded word.
#[tokio::test]
async fn non_ascii_metadata_is_signed_and_kept() {
    let (_server, c) = with_bucket().await;
    c.put_object()
        .bucket("bkt")
        .key("k")
        .metadata("title", "Grüße aus Köln")
        .metadata("plain", "ascii")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("signed with the UTF-8 value");
    let head = c.head_object().bucket("bkt").key("k").send().await.unwrap();
    let meta = head.metadata().unwrap();
    assert_eq!(meta.get("plain").map(String::as_str), Some("ascii"));
    assert_eq!(meta.get("title").map(String::as_str), Some("=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?="));
}

/// Was 501: ACL reads answer the owner's FULL_CONTROL (many tools read them);
/// writes accept the private ACL everything already has, and refuse anything that
/// would give others access with a clear 501.
#[tokio::test]
async fn acls_are_private_and_readable() {
    use aws_sdk_s3::types::{BucketCannedAcl, ObjectCannedAcl, Permission};
    let (_server, c) = with_bucket().await;
    c.put_object().bucket("bkt").key("k").body(ByteStream::from_static(b"x")).send().await.unwrap();

    let bucket_acl = c.get_bucket_acl().bucket("bkt").send().await.unwrap();
    let object_acl = c.get_object_acl().bucket("bkt").key("k").send().await.unwrap();
    let owner_id = bucket_acl.owner().unwrap().id().unwrap().to_owned();
    for grants in [bucket_acl.grants(), object_acl.grants()] {
        assert_eq!(grants.len(), 1, "{grants:?}");
        assert_eq!(grants[0].permission(), Some(&Permission::FullControl));
        assert_eq!(grants[0].grantee().unwrap().id(), Some(owner_id.as_str()));
    }
    assert_eq!(object_acl.owner().unwrap().id(), Some(owner_id.as_str()));

    c.put_object_acl().bucket("bkt").key("k").acl(ObjectCannedAcl::Private).send().await.unwrap();
    c.put_bucket_acl().bucket("bkt").acl(BucketCannedAcl::Private).send().await.unwrap();
    // Writing back what was read (the owner's FULL_CONTROL) is fine too.
    let policy = aws_sdk_s3::types::AccessControlPolicy::builder()
        .set_grants(Some(object_acl.grants().to_vec()))
        .set_owner(object_acl.owner().cloned())
        .build();
    c.put_object_acl().bucket("bkt").key("k").access_control_policy(policy).send().await.unwrap();

    let r = c.put_object_acl().bucket("bkt").key("k").acl(ObjectCannedAcl::PublicRead).send().await;
    assert_eq!(status_and_code(r), (501, Some("NotImplemented".into())));
    let r = c.put_bucket_acl().bucket("bkt").grant_read("uri=http://acs.amazonaws.com/groups/global/AllUsers").send().await;
    assert_eq!(status_and_code(r), (501, Some("NotImplemented".into())));
    let r = c.get_object_acl().bucket("bkt").key("missing").send().await;
    assert_eq!(status_and_code(r), (404, Some("NoSuchKey".into())));
    let r = c.get_bucket_acl().bucket("no-such-bucket").send().await;
    assert_eq!(status_and_code(r), (404, Some("NoSuchBucket".into())));
}

/// New: housekeeping aborts multipart uploads left pending for
/// `limits.abandoned_upload_secs` (7 days by default) and frees their parts;
/// younger ones stay.
#[tokio::test]
async fn abandoned_uploads_expire() {
    let s = TestServer::start().await;
    assert_eq!(s.state.config.limits.abandoned_upload_secs, 7 * 24 * 3600);
    let c = s.plain_client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let (old, _) = one_part_upload(&c, "old", b"forgotten part").await;
    s.clock.advance_secs(6 * 24 * 3600);
    // Each call from here on is a fresh client's first: an SDK corrects its clock
    // by a response's Date header, which is real time, not the moved clock.
    let fresh = || s.plain_client();
    let young = fresh().create_multipart_upload().bucket("bkt").key("young").send().await.unwrap().upload_id().unwrap().to_owned();
    s.clock.advance_secs(24 * 3600 + 1);
    let expired = s.state.objects.expire_uploads(7 * 24 * 3600 * 1000).await.unwrap();
    assert_eq!(expired, 1);
    let left = fresh().list_multipart_uploads().bucket("bkt").send().await.unwrap();
    assert_eq!(left.uploads().iter().map(|u| u.upload_id().unwrap()).collect::<Vec<_>>(), [young.as_str()]);
    let r = fresh().list_parts().bucket("bkt").key("old").upload_id(&old).send().await;
    assert_eq!(status_and_code(r), (404, Some("NoSuchUpload".into())));
    let objects = s.data_dir.join("objects");
    let files: Vec<_> = common::files_under(&objects).into_iter().filter(|p| !p.starts_with(objects.join("tmp"))).collect();
    assert!(files.is_empty(), "the old upload's part is freed: {files:?}");
}

/// Was ignored (the whole object, 200): GET / HEAD `?partNumber=N` answers that
/// part of a multipart object with 206, `Content-Range` and the part count, as
/// S3 does (SDKs download big objects part by part this way).
#[tokio::test]
async fn get_by_part_number() {
    let (_server, c) = with_bucket().await;
    let five = 5 * 1024 * 1024;
    let sizes = [five, five + 7, 1000];
    let data = common::pattern(sizes.iter().sum(), 3);
    let id = c.create_multipart_upload().bucket("bkt").key("mp").send().await.unwrap().upload_id().unwrap().to_owned();
    let (mut parts, mut at) = (Vec::new(), 0);
    for (i, size) in sizes.iter().enumerate() {
        let n = i as i32 + 1;
        let body = ByteStream::from(data[at..at + size].to_vec());
        let out = c.upload_part().bucket("bkt").key("mp").upload_id(&id).part_number(n).body(body).send().await.unwrap();
        parts.push(aws_sdk_s3::types::CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build());
        at += size;
    }
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    c.complete_multipart_upload().bucket("bkt").key("mp").upload_id(&id).multipart_upload(done).send().await.unwrap();

    let total = data.len();
    let mut start = 0;
    for (i, size) in sizes.iter().enumerate() {
        let out = c.get_object().bucket("bkt").key("mp").part_number(i as i32 + 1).send().await.unwrap();
        assert_eq!(out.content_range(), Some(format!("bytes {start}-{}/{total}", start + size - 1).as_str()));
        assert_eq!(out.parts_count(), Some(3));
        assert_eq!(out.content_length(), Some(*size as i64));
        let got = out.body.collect().await.unwrap().into_bytes();
        assert!(got.as_ref() == &data[start..start + size], "part {} differs", i + 1);
        start += size;
    }
    let head = c.head_object().bucket("bkt").key("mp").part_number(2).send().await.unwrap();
    assert_eq!((head.content_length(), head.parts_count()), (Some(sizes[1] as i64), Some(3)));
    let plain = c.head_object().bucket("bkt").key("mp").send().await.unwrap();
    assert_eq!(plain.parts_count(), None, "the part count comes only with partNumber, as on S3");
    assert_eq!(
        status_and_code(c.get_object().bucket("bkt").key("mp").part_number(4).send().await),
        (416, Some("InvalidPartNumber".into()))
    );
    assert_eq!(status_and_code(c.get_object().bucket("bkt").key("mp").part_number(0).send().await), (400, Some("InvalidArgument".into())));
    let both = c.get_object().bucket("bkt").key("mp").part_number(1).range("bytes=0-1").send().await;
    assert_eq!(status_and_code(both), (400, Some("InvalidRequest".into())));

    // A single-part object is its own part 1.
    c.put_object().bucket("bkt").key("single").body(ByteStream::from_static(b"0123456789")).send().await.unwrap();
    let out = c.get_object().bucket("bkt").key("single").part_number(1).send().await.unwrap();
    assert_eq!(out.content_range(), Some("bytes 0-9/10"));
    assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), b"0123456789");
    assert_eq!(
        status_and_code(c.get_object().bucket("bkt").key("single").part_number(2).send().await),
        (416, Some("InvalidPartNumber".into()))
    );
}

/// Was accepted: a CompleteMultipartUpload part list whose checksum for a part
/// is not the one the part was stored with is 400 `InvalidPart`.
#[tokio::test]
async fn complete_with_a_wrong_part_checksum_is_invalid_part() {
    let s = TestServer::start().await;
    let c = s.client(); // flexible checksums: parts go up with a CRC32
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let id = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("k")
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let part = c
        .upload_part()
        .bucket("bkt")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from_static(b"part one"))
        .send()
        .await
        .unwrap();
    let crc = part.checksum_crc32().expect("the part's CRC32").to_owned();
    let list = |crc: &str| {
        aws_sdk_s3::types::CompletedMultipartUpload::builder()
            .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).checksum_crc32(crc).build())
            .build()
    };
    let r = c.complete_multipart_upload().bucket("bkt").key("k").upload_id(&id).multipart_upload(list("AAAAAA==")).send().await;
    assert_eq!(status_and_code(r), (400, Some("InvalidPart".into())));
    c.complete_multipart_upload().bucket("bkt").key("k").upload_id(&id).multipart_upload(list(&crc)).send().await.expect("the right CRC");
}

/// Was wrong: CompleteMultipartUpload checked `x-amz-checksum-crc32` against its
/// own XML body, and the object kept no checksum. Now the object's checksum is
/// S3's composite one (CRC32 of the parts' CRC32s, `-N`), returned by Complete
/// and by HEAD with checksum mode as `COMPOSITE`; a client's different value is
/// 400 `BadDigest`.
#[tokio::test]
async fn multipart_objects_carry_a_composite_checksum() {
    use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart};
    use base64::Engine as _;
    let s = TestServer::start().await;
    let c = s.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let start = |key: &'static str| {
        let c = c.clone();
        async move {
            c.create_multipart_upload()
                .bucket("bkt")
                .key(key)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .send()
                .await
                .unwrap()
                .upload_id()
                .unwrap()
                .to_owned()
        }
    };
    let upload_two = |key: &'static str, id: String| {
        let c = c.clone();
        async move {
            let mut parts = Vec::new();
            for (n, body) in [(1, common::pattern(5 * 1024 * 1024, 1)), (2, b"tail".to_vec())] {
                let out =
                    c.upload_part().bucket("bkt").key(key).upload_id(&id).part_number(n).body(ByteStream::from(body)).send().await.unwrap();
                parts.push((n, out.e_tag().unwrap().to_owned(), out.checksum_crc32().unwrap().to_owned()));
            }
            parts
        }
    };
    let list = |parts: &[(i32, String, String)]| {
        CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts.iter().map(|(n, e, crc)| CompletedPart::builder().part_number(*n).e_tag(e).checksum_crc32(crc).build()).collect(),
            ))
            .build()
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let id = start("composite").await;
    let parts = upload_two("composite", id.clone()).await;
    let mut over = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32IsoHdlc);
    for (_, _, crc) in &parts {
        over.update(&b64.decode(crc).unwrap());
    }
    let want = format!("{}-2", b64.encode((over.finalize() as u32).to_be_bytes()));

    let r = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("composite")
        .upload_id(&id)
        .multipart_upload(list(&parts))
        .checksum_crc32("AAAAAA==-2")
        .send()
        .await;
    assert_eq!(status_and_code(r), (400, Some("BadDigest".into())));
    let done = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("composite")
        .upload_id(&id)
        .multipart_upload(list(&parts))
        .checksum_crc32(&want)
        .send()
        .await
        .unwrap();
    assert_eq!(done.checksum_crc32(), Some(want.as_str()));
    assert_eq!(done.checksum_type(), Some(&ChecksumType::Composite));
    let head = c.head_object().bucket("bkt").key("composite").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(head.checksum_crc32(), Some(want.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));
}

/// Uploads `bodies` as parts 1, 2, … of upload `id` of `bkt`/`key`.
async fn upload_parts<const N: usize>(
    c: &aws_sdk_s3::Client,
    key: &str,
    id: &str,
    bodies: [Vec<u8>; N],
) -> Vec<(i32, aws_sdk_s3::operation::upload_part::UploadPartOutput)> {
    let mut parts = Vec::new();
    for (n, body) in (1..).zip(bodies) {
        let out = c.upload_part().bucket("bkt").key(key).upload_id(id).part_number(n).body(ByteStream::from(body)).send().await.unwrap();
        parts.push((n, out));
    }
    parts
}

/// Was wrong: `x-amz-checksum-type: FULL_OBJECT` was dropped at CreateMultipartUpload
/// and the completed object kept no checksum (HEAD with checksum mode showed
/// none; a client's wrong value was accepted). Now the object carries the CRC of
/// its whole bytes, combined from the parts' CRCs, checked against the client's
/// value and returned as `FULL_OBJECT`; the Rust SDK validates it on GET. CRC64NVME
/// uploads are full-object by default; the combinations S3 refuses are refused in
/// its words.
#[tokio::test]
async fn multipart_objects_carry_a_full_object_checksum() {
    use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart};
    let (_s, c) = with_bucket().await;
    let first = common::pattern(5 * 1024 * 1024, 3);
    let whole = [first.clone(), b"the tail".to_vec()].concat();
    let crc = |algorithm, bytes: &[u8]| {
        let value = crc_fast::checksum(algorithm, bytes);
        let be = value.to_be_bytes();
        let width = if algorithm == crc_fast::CrcAlgorithm::Crc64Nvme { 8 } else { 4 };
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &be[8 - width..])
    };

    let created = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("full")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .checksum_type(ChecksumType::FullObject);
    let created = created.send().await.unwrap();
    assert_eq!(created.checksum_type(), Some(&ChecksumType::FullObject));
    let id = created.upload_id().unwrap().to_owned();
    let parts = upload_parts(&c, "full", &id, [first.clone(), b"the tail".to_vec()]).await;
    let parts: Vec<_> = parts
        .into_iter()
        .map(|(n, out)| {
            CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).checksum_crc32(out.checksum_crc32().unwrap()).build()
        })
        .collect();
    let other = c.upload_part().bucket("bkt").key("full").upload_id(&id).part_number(3).checksum_algorithm(ChecksumAlgorithm::Sha256);
    assert_eq!(
        status_code_message(other.body(ByteStream::from_static(b"x")).send().await),
        (
            400,
            "InvalidRequest".into(),
            "Checksum Type mismatch occurred, expected checksum Type: crc32, actual checksum Type: sha256".into()
        )
    );
    let list = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    let complete = || c.complete_multipart_upload().bucket("bkt").key("full").upload_id(&id).multipart_upload(list.clone());
    assert_eq!(
        status_code_message(complete().checksum_type(ChecksumType::Composite).send().await),
        (
            400,
            "InvalidRequest".into(),
            "The upload was created using the FULL_OBJECT checksum mode. The complete request must use the same checksum mode.".into()
        )
    );
    assert_eq!(
        status_code_message(complete().checksum_type(ChecksumType::FullObject).checksum_crc32("AAAAAA==").send().await),
        (400, "BadDigest".into(), "The CRC32 you specified did not match the calculated checksum.".into())
    );
    let want = crc(crc_fast::CrcAlgorithm::Crc32IsoHdlc, &whole);
    let done = complete().checksum_type(ChecksumType::FullObject).checksum_crc32(&want).send().await.unwrap();
    assert_eq!((done.checksum_crc32(), done.checksum_type()), (Some(want.as_str()), Some(&ChecksumType::FullObject)));
    let head = c.head_object().bucket("bkt").key("full").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!((head.checksum_crc32(), head.checksum_type()), (Some(want.as_str()), Some(&ChecksumType::FullObject)));
    let got = c.get_object().bucket("bkt").key("full").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(got.checksum_crc32(), Some(want.as_str()));
    assert_eq!(got.body.collect().await.expect("the SDK validates the full-object CRC32").into_bytes(), whole);

    // CRC64NVME is full-object without asking; the client need not send the value.
    let created =
        c.create_multipart_upload().bucket("bkt").key("nvme").checksum_algorithm(ChecksumAlgorithm::Crc64Nvme).send().await.unwrap();
    assert_eq!(created.checksum_type(), Some(&ChecksumType::FullObject));
    let id = created.upload_id().unwrap().to_owned();
    let parts = upload_parts(&c, "nvme", &id, [first.clone(), b"the tail".to_vec()]).await;
    let parts: Vec<_> =
        parts.into_iter().map(|(n, out)| CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build()).collect();
    let list = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    let done = c.complete_multipart_upload().bucket("bkt").key("nvme").upload_id(&id).multipart_upload(list).send().await.unwrap();
    let want = crc(crc_fast::CrcAlgorithm::Crc64Nvme, &whole);
    assert_eq!((done.checksum_crc64_nvme(), done.checksum_type()), (Some(want.as_str()), Some(&ChecksumType::FullObject)));

    // What S3 refuses at CreateMultipartUpload.
    let create = || c.create_multipart_upload().bucket("bkt").key("refused");
    let refused = |message: &str| (400, "InvalidRequest".to_owned(), message.to_owned());
    assert_eq!(
        status_code_message(create().checksum_algorithm(ChecksumAlgorithm::Sha256).checksum_type(ChecksumType::FullObject).send().await),
        refused("The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm.")
    );
    assert_eq!(
        status_code_message(create().checksum_algorithm(ChecksumAlgorithm::Crc64Nvme).checksum_type(ChecksumType::Composite).send().await),
        refused("The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.")
    );
    assert_eq!(
        status_code_message(create().checksum_type(ChecksumType::FullObject).send().await),
        refused("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
    );
    assert_eq!(
        status_code_message(create().checksum_algorithm(ChecksumAlgorithm::Crc32).checksum_type(ChecksumType::from("WHOLE")).send().await),
        refused("Value for x-amz-checksum-type header is invalid.")
    );
}
