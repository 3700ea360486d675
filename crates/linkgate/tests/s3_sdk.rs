//! Black-box tests with the real AWS SDK for Rust (`aws-sdk-s3`) talking HTTP to a
//! linkgate server started in-process on `127.0.0.1:0`, one fresh data dir per test.
//!
//! 1. Header-signed operations as the SDK sends them (including aws-chunked uploads
//!    with trailing checksums, the SDK's default).
//! 2. The SDK's own presigning, fetched with a plain HTTP client.
//! 3. S3's errors, statuses, codes, messages and check order, mostly on presigned
//!    URLs the SDK built and the test then altered.
//! 4. Awkward keys, and keys that try to leave the data dir.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, CorsConfiguration, CorsRule, Delete,
    ObjectIdentifier,
};
use common::{
    ACCESS_KEY, REGION, SECRET_KEY, TestServer, http, pattern, presign_at, presign_for, query_param, real_time_plus, send_presigned,
    set_query_param, tamper_signature,
};

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------- helpers

/// Status, `<Code>` and `<Message>` of a failed SDK call (and the raw body).
#[derive(Debug)]
struct Failure {
    status: u16,
    code: Option<String>,
    message: Option<String>,
    body: String,
}

#[track_caller]
fn failure<T: Debug, E: ProvideErrorMetadata + Debug>(r: Result<T, SdkError<E, HttpResponse>>) -> Failure {
    let err = r.expect_err("the call should have failed");
    let Some(raw) = err.raw_response() else { panic!("no HTTP response: {err:?}") };
    let body = raw.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
    Failure { status: raw.status().as_u16(), code: err.code().map(str::to_owned), message: err.message().map(str::to_owned), body }
}

impl Failure {
    #[track_caller]
    fn assert(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code.as_deref()), (status, Some(code)), "{self:#?}");
    }
}

async fn make_bucket(c: &Client, name: &str) {
    c.create_bucket().bucket(name).send().await.unwrap();
}

async fn put(c: &Client, bucket: &str, key: &str, body: impl Into<Vec<u8>>) -> String {
    let out = c.put_object().bucket(bucket).key(key).body(ByteStream::from(body.into())).send().await.unwrap();
    out.e_tag().unwrap().to_owned()
}

async fn get_bytes(c: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = c.get_object().bucket(bucket).key(key).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn list_all_keys(c: &Client, bucket: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let out = c.list_objects_v2().bucket(bucket).set_continuation_token(token).send().await.unwrap();
        keys.extend(out.contents().iter().map(|o| o.key().unwrap().to_owned()));
        token = out.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            return keys;
        }
    }
}

// ---------------------------------------------------------------- 1. header auth

#[tokio::test]
async fn bucket_create_head_location_list_delete() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    let head = c.head_bucket().bucket("bkt").send().await.unwrap();
    assert_eq!(head.bucket_region(), Some(REGION));
    c.create_bucket().bucket("bkt").send().await.expect("us-east-1 answers 200 to the owner creating it again");

    // us-east-1 answers an empty LocationConstraint.
    let loc = c.get_bucket_location().bucket("bkt").send().await.unwrap();
    assert_eq!(loc.location_constraint().map_or("", BucketLocationConstraint::as_str), "", "{loc:?}");

    let buckets = c.list_buckets().send().await.unwrap();
    assert_eq!(buckets.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>(), ["bkt"]);

    put(&c, "bkt", "k", "v").await;
    failure(c.delete_bucket().bucket("bkt").send().await).assert(409, "BucketNotEmpty");
    c.delete_object().bucket("bkt").key("k").send().await.unwrap();
    c.delete_bucket().bucket("bkt").send().await.unwrap();
    // HEAD errors have no body: the SDK names them by status.
    let f = failure(c.head_bucket().bucket("bkt").send().await);
    assert_eq!(f.status, 404, "{f:#?}");
    failure(c.delete_bucket().bucket("bkt").send().await).assert(404, "NoSuchBucket");
}

#[tokio::test]
async fn put_object_plain_body_signed_sha256() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    let etag = put(&c, "bkt", "small.txt", "hello world").await;
    assert_eq!(etag, "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");
    assert_eq!(get_bytes(&c, "bkt", "small.txt").await, b"hello world");
}

/// Records the headers of every request the SDK sends (after signing).
#[derive(Debug, Clone, Default)]
struct HeaderSpy(Arc<Mutex<Vec<Headers>>>);

/// One request's headers, names lower-cased.
type Headers = Vec<(String, String)>;

impl Intercept for HeaderSpy {
    fn name(&self) -> &'static str {
        "HeaderSpy"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let headers = context.request().headers().iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned())).collect();
        self.0.lock().unwrap().push(headers);
        Ok(())
    }
}

impl HeaderSpy {
    /// Header `name` of the last request sent.
    fn last(&self, name: &str) -> Option<String> {
        self.0.lock().unwrap().last()?.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }
}

/// A streaming body read from a file, as `ByteStream::from_path` makes for users
/// uploading files: the SDK sends such bodies aws-chunked (in-memory bodies get a
/// checksum header instead).
async fn file_body(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> ByteStream {
    let path = dir.path().join(name);
    std::fs::write(&path, data).unwrap();
    ByteStream::from_path(&path).await.unwrap()
}

/// The SDK's default for a streaming body over http://: aws-chunked with signed
/// chunks and a signed trailing `x-amz-checksum-crc32`
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`).
#[tokio::test]
async fn put_object_sdk_default_aws_chunked_small() {
    let s = TestServer::start().await;
    let spy = HeaderSpy::default();
    let c = s.client_with(|b| b.interceptor(spy.clone()));
    make_bucket(&c, "bkt").await;
    let files = tempfile::tempdir().unwrap();
    let body = file_body(&files, "small", b"hello world").await;
    let out = c.put_object().bucket("bkt").key("small").body(body).send().await;
    assert_eq!(spy.last("x-amz-content-sha256").as_deref(), Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"));
    assert_eq!(spy.last("content-encoding").as_deref(), Some("aws-chunked"));
    assert_eq!(spy.last("x-amz-trailer").as_deref(), Some("x-amz-checksum-crc32"));
    assert_eq!(spy.last("x-amz-decoded-content-length").as_deref(), Some("11"));
    let out = out.unwrap_or_else(|e| panic!("aws-chunked PutObject failed: {:#?}", failure::<(), _>(Err(e))));
    assert_eq!(out.e_tag(), Some("\"5eb63bbbe01eeed093cb22bb8f5acdc3\""));
    assert_eq!(out.checksum_crc32(), Some("DUoRhQ=="));
    assert_eq!(get_bytes(&c, "bkt", "small").await, b"hello world");
    let head = c.head_object().bucket("bkt").key("small").checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(head.content_length(), Some(11));
    assert_eq!(head.checksum_crc32(), Some("DUoRhQ=="));
    // The object does not keep the transfer encoding.
    assert_eq!(head.content_encoding(), None);

    // An in-memory body: a CRC32 header instead, no aws-chunked.
    c.put_object().bucket("bkt").key("mem").body(ByteStream::from_static(b"hello world")).send().await.unwrap();
    assert_eq!(spy.last("x-amz-checksum-crc32").as_deref(), Some("DUoRhQ=="));
    assert_eq!(spy.last("content-encoding"), None);
    // An empty streaming body.
    let body = file_body(&files, "empty", b"").await;
    c.put_object().bucket("bkt").key("empty").body(body).send().await.unwrap();
    assert_eq!(spy.last("content-encoding").as_deref(), Some("aws-chunked"));
    assert_eq!(get_bytes(&c, "bkt", "empty").await, b"");
}

/// 12 MiB as aws-chunked (many chunks), with CRC32 (default), CRC32C, CRC64NVME,
/// SHA-256 and SHA-1 trailers, with the SDK's smallest chunk size, a large one, and
/// the whole body as one chunk.
#[tokio::test]
async fn put_object_sdk_default_aws_chunked_12mib() {
    let s = TestServer::start().await;
    let spy = HeaderSpy::default();
    let c = s.client_with(|b| b.interceptor(spy.clone()));
    make_bucket(&c, "bkt").await;
    let data = pattern(12 * MIB, 7);
    let files = tempfile::tempdir().unwrap();
    let cases = [
        ("crc32", None, None, "x-amz-checksum-crc32"),
        ("crc32c", Some(ChecksumAlgorithm::Crc32C), None, "x-amz-checksum-crc32c"),
        ("crc64", Some(ChecksumAlgorithm::Crc64Nvme), Some(Some(8192)), "x-amz-checksum-crc64nvme"),
        ("sha256", Some(ChecksumAlgorithm::Sha256), Some(Some(MIB)), "x-amz-checksum-sha256"),
        ("sha1-one-chunk", Some(ChecksumAlgorithm::Sha1), Some(None), "x-amz-checksum-sha1"),
    ];
    for (key, alg, chunk, trailer) in cases {
        let body = file_body(&files, key, &data).await;
        let mut req = c.put_object().bucket("bkt").key(key).set_checksum_algorithm(alg.clone()).body(body).customize();
        if let Some(size) = chunk {
            req = req.config_override(aws_sdk_s3::Config::builder().aws_chunked_encoding_chunk_size(size));
        }
        let out = req.send().await;
        assert_eq!(spy.last("content-encoding").as_deref(), Some("aws-chunked"), "{key}");
        assert_eq!(spy.last("x-amz-trailer").as_deref(), Some(trailer), "{key}");
        let out = out.unwrap_or_else(|e| panic!("aws-chunked PutObject {key} failed: {:#?}", failure::<(), _>(Err(e))));
        match alg {
            None => assert!(out.checksum_crc32().is_some(), "{out:?}"),
            Some(ChecksumAlgorithm::Crc32C) => assert!(out.checksum_crc32_c().is_some(), "{out:?}"),
            Some(ChecksumAlgorithm::Crc64Nvme) => assert!(out.checksum_crc64_nvme().is_some(), "{out:?}"),
            Some(ChecksumAlgorithm::Sha1) => assert!(out.checksum_sha1().is_some(), "{out:?}"),
            Some(_) => assert!(out.checksum_sha256().is_some(), "{out:?}"),
        }
        let back = get_bytes(&c, "bkt", key).await;
        assert_eq!(back.len(), data.len());
        assert!(back == data, "{key}: bytes differ");
    }
}

#[tokio::test]
async fn get_object_body_type_metadata_range_and_head() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    c.put_object()
        .bucket("bkt")
        .key("doc.txt")
        .content_type("text/plain; charset=utf-8")
        .metadata("color", "blue")
        .metadata("owner", "Ada Lovelace")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"doc.txt\"")
        .body(ByteStream::from_static(b"0123456789"))
        .send()
        .await
        .unwrap();

    let out = c.get_object().bucket("bkt").key("doc.txt").send().await.unwrap();
    assert_eq!(out.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(out.content_length(), Some(10));
    assert_eq!(out.cache_control(), Some("max-age=60"));
    assert_eq!(out.content_disposition(), Some("attachment; filename=\"doc.txt\""));
    let meta = out.metadata().unwrap();
    assert_eq!(meta.get("color").map(String::as_str), Some("blue"));
    assert_eq!(meta.get("owner").map(String::as_str), Some("Ada Lovelace"));
    assert_eq!(out.e_tag(), Some("\"781e5e245d69b566979b86e28d23f2c7\""));
    assert!(out.last_modified().is_some());
    assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), b"0123456789");

    let out = c.get_object().bucket("bkt").key("doc.txt").range("bytes=2-5").send().await.unwrap();
    assert_eq!(out.content_range(), Some("bytes 2-5/10"));
    assert_eq!(out.content_length(), Some(4));
    assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), b"2345");

    let head = c.head_object().bucket("bkt").key("doc.txt").send().await.unwrap();
    assert_eq!(head.content_length(), Some(10));
    assert_eq!(head.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(head.e_tag(), Some("\"781e5e245d69b566979b86e28d23f2c7\""));
    assert_eq!(head.metadata().unwrap().get("color").map(String::as_str), Some("blue"));

    // response-* overrides through the SDK.
    let out = c.get_object().bucket("bkt").key("doc.txt").response_content_type("application/x-test").send().await.unwrap();
    assert_eq!(out.content_type(), Some("application/x-test"));

    let f = failure(c.head_object().bucket("bkt").key("missing").send().await);
    assert_eq!(f.status, 404, "{f:#?}");
}

#[tokio::test]
async fn list_objects_v2_prefix_delimiter_pagination() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    for k in ["a/1", "a/2", "b/1", "c", "d"] {
        put(&c, "bkt", k, k).await;
    }
    let out = c.list_objects_v2().bucket("bkt").prefix("a/").send().await.unwrap();
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), ["a/1", "a/2"]);
    assert_eq!(out.key_count(), Some(2));
    assert_eq!(out.prefix(), Some("a/"));
    assert_eq!(out.contents()[0].size(), Some(3));

    let out = c.list_objects_v2().bucket("bkt").delimiter("/").send().await.unwrap();
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), ["c", "d"]);
    assert_eq!(out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), ["a/", "b/"]);
    assert_eq!(out.is_truncated(), Some(false));

    // max-keys=2 across 5 keys: 2 + 2 + 1, continuation tokens in between.
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c.list_objects_v2().bucket("bkt").max_keys(2).set_continuation_token(token.clone()).send().await.unwrap();
        assert_eq!(out.max_keys(), Some(2));
        assert_eq!(out.continuation_token(), token.as_deref());
        pages.push(out.contents().iter().map(|o| o.key().unwrap().to_owned()).collect::<Vec<_>>());
        if out.is_truncated() == Some(true) {
            token = Some(out.next_continuation_token().expect("truncated page without a token").to_owned());
        } else {
            assert!(out.next_continuation_token().is_none());
            break;
        }
        assert!(pages.len() < 10, "pagination does not end");
    }
    assert_eq!(pages, [vec!["a/1", "a/2"], vec!["b/1", "c"], vec!["d"]]);

    // start-after, and delimiter pagination that counts prefixes as entries.
    let out = c.list_objects_v2().bucket("bkt").start_after("b/1").send().await.unwrap();
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), ["c", "d"]);
    let first = c.list_objects_v2().bucket("bkt").delimiter("/").max_keys(2).send().await.unwrap();
    assert_eq!(first.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), ["a/", "b/"]);
    assert_eq!(first.is_truncated(), Some(true));
    let second = c
        .list_objects_v2()
        .bucket("bkt")
        .delimiter("/")
        .max_keys(2)
        .continuation_token(first.next_continuation_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), ["c", "d"]);
    assert!(second.common_prefixes().is_empty());

    failure(c.list_objects_v2().bucket("nope-bucket").send().await).assert(404, "NoSuchBucket");
}

#[tokio::test]
async fn list_objects_v1_and_versions() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    for k in ["a/1", "a/2", "b", "c"] {
        put(&c, "bkt", k, "x").await;
    }
    let out = c.list_objects().bucket("bkt").delimiter("/").max_keys(2).send().await.unwrap();
    assert_eq!(out.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), ["a/"]);
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), ["b"]);
    assert_eq!(out.is_truncated(), Some(true));
    // With a delimiter S3 returns NextMarker; without one the client uses the last key.
    let marker = out.next_marker().unwrap_or("b").to_owned();
    let out = c.list_objects().bucket("bkt").delimiter("/").marker(&marker).send().await.unwrap();
    assert_eq!(out.contents().iter().map(|o| o.key().unwrap()).collect::<Vec<_>>(), ["c"]);
    assert_eq!(out.marker(), Some(marker.as_str()));
    assert_eq!(out.is_truncated(), Some(false));

    // Resuming after a common prefix must not repeat it (max-keys=1: one entry a page).
    let mut entries = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = c.list_objects().bucket("bkt").delimiter("/").max_keys(1).set_marker(marker.clone()).send().await.unwrap();
        entries.extend(out.common_prefixes().iter().map(|p| p.prefix().unwrap().to_owned()));
        entries.extend(out.contents().iter().map(|o| o.key().unwrap().to_owned()));
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = Some(out.next_marker().expect("NextMarker with a delimiter").to_owned());
        assert!(entries.len() < 10, "pagination does not end: {entries:?}");
    }
    assert_eq!(entries, ["a/", "b", "c"]);

    let out = c.list_object_versions().bucket("bkt").send().await.unwrap();
    let versions = out.versions();
    assert_eq!(versions.iter().map(|v| v.key().unwrap()).collect::<Vec<_>>(), ["a/1", "a/2", "b", "c"]);
    for v in versions {
        assert_eq!(v.version_id(), Some("null"), "{v:?}");
        assert_eq!(v.is_latest(), Some(true), "{v:?}");
        assert_eq!(v.size(), Some(1));
    }
    assert!(out.delete_markers().is_empty());
    let out = c.list_object_versions().bucket("bkt").prefix("a/").send().await.unwrap();
    assert_eq!(out.versions().len(), 2);
}

#[tokio::test]
async fn delete_object_and_delete_objects() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    for k in ["one", "two", "three", "four"] {
        put(&c, "bkt", k, k).await;
    }
    c.delete_object().bucket("bkt").key("four").send().await.unwrap();
    // Deleting a missing key is a success (204), as in S3.
    c.delete_object().bucket("bkt").key("four").send().await.unwrap();
    failure(c.get_object().bucket("bkt").key("four").send().await).assert(404, "NoSuchKey");

    let ids: Vec<ObjectIdentifier> =
        ["one", "two", "never-existed"].iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect();
    // Default client: the SDK adds a checksum header (DeleteObjects requires one).
    let out = s.client().delete_objects().bucket("bkt").delete(Delete::builder().set_objects(Some(ids)).build().unwrap()).send().await;
    let out = out.unwrap_or_else(|e| panic!("DeleteObjects failed: {:#?}", failure::<(), _>(Err(e))));
    let deleted: BTreeSet<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, BTreeSet::from(["one", "two", "never-existed"]));
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    assert_eq!(list_all_keys(&c, "bkt").await, ["three"]);

    // Quiet mode reports nothing on success.
    let ids = vec![ObjectIdentifier::builder().key("three").build().unwrap()];
    let out = c
        .delete_objects()
        .bucket("bkt")
        .delete(Delete::builder().set_objects(Some(ids)).quiet(true).build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(out.deleted().is_empty());
    assert!(list_all_keys(&c, "bkt").await.is_empty());
}

#[tokio::test]
async fn bucket_cors_put_get_delete() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    failure(c.get_bucket_cors().bucket("bkt").send().await).assert(404, "NoSuchCORSConfiguration");
    let rule = CorsRule::builder()
        .allowed_origins("https://app.example.com")
        .allowed_methods("GET")
        .allowed_methods("PUT")
        .allowed_headers("*")
        .expose_headers("ETag")
        .max_age_seconds(600)
        .build()
        .unwrap();
    c.put_bucket_cors()
        .bucket("bkt")
        .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
    let out = c.get_bucket_cors().bucket("bkt").send().await.unwrap();
    let rules = out.cors_rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].allowed_origins(), ["https://app.example.com"]);
    assert_eq!(rules[0].allowed_methods(), ["GET", "PUT"]);
    assert_eq!(rules[0].allowed_headers(), ["*"]);
    assert_eq!(rules[0].expose_headers(), ["ETag"]);
    assert_eq!(rules[0].max_age_seconds(), Some(600));

    // A preflight is answered without a signature.
    let url = format!("{}/bkt/obj", s.endpoint);
    let pre = http(
        "OPTIONS",
        &url,
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type"),
        ],
        "",
    )
    .await;
    assert_eq!(pre.status, 200, "{}", pre.text());
    assert_eq!(pre.header("access-control-allow-origin"), Some("https://app.example.com"));

    c.delete_bucket_cors().bucket("bkt").send().await.unwrap();
    failure(c.get_bucket_cors().bucket("bkt").send().await).assert(404, "NoSuchCORSConfiguration");
}

/// Create, two parts (5 MiB + small), list, complete, get; then abort another.
/// With `files`, part bodies stream from files (aws-chunked with the default client).
async fn multipart_roundtrip(c: &Client, files: Option<&tempfile::TempDir>) {
    make_bucket(c, "bkt").await;
    let part1 = pattern(5 * MIB, 1);
    let part2 = b"the small last part".to_vec();
    let created = c.create_multipart_upload().bucket("bkt").key("big/object.bin").content_type("application/x-big").send().await.unwrap();
    let upload_id = created.upload_id().unwrap().to_owned();
    assert_eq!(created.key(), Some("big/object.bin"));
    let mut parts = Vec::new();
    for (n, data) in [(1, &part1), (2, &part2)] {
        let out = c
            .upload_part()
            .bucket("bkt")
            .key("big/object.bin")
            .upload_id(&upload_id)
            .part_number(n)
            .body(match files {
                Some(dir) => file_body(dir, &format!("part{n}"), data).await,
                None => ByteStream::from(data.clone()),
            })
            .send()
            .await;
        let out = out.unwrap_or_else(|e| panic!("UploadPart {n} failed: {:#?}", failure::<(), _>(Err(e))));
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                .build(),
        );
    }
    let listed = c.list_parts().bucket("bkt").key("big/object.bin").upload_id(&upload_id).send().await.unwrap();
    let got: Vec<(i32, i64)> = listed.parts().iter().map(|p| (p.part_number().unwrap(), p.size().unwrap())).collect();
    assert_eq!(got, [(1, part1.len() as i64), (2, part2.len() as i64)]);
    assert_eq!(listed.upload_id(), Some(upload_id.as_str()));

    let done = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("big/object.bin")
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await;
    let done = done.unwrap_or_else(|e| panic!("CompleteMultipartUpload failed: {:#?}", failure::<(), _>(Err(e))));
    let etag = done.e_tag().unwrap();
    assert!(etag.ends_with("-2\""), "multipart ETag {etag}");
    let out = c.get_object().bucket("bkt").key("big/object.bin").send().await.unwrap();
    assert_eq!(out.e_tag(), Some(etag));
    assert_eq!(out.content_type(), Some("application/x-big"));
    let body = out.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.len(), part1.len() + part2.len());
    assert!(body[..part1.len()] == part1[..] && body[part1.len()..] == part2[..], "concatenation differs");
    // The upload is gone once completed.
    failure(c.list_parts().bucket("bkt").key("big/object.bin").upload_id(&upload_id).send().await).assert(404, "NoSuchUpload");

    // Abort: the upload disappears, its parts with it.
    let created = c.create_multipart_upload().bucket("bkt").key("aborted").send().await.unwrap();
    let id = created.upload_id().unwrap();
    c.upload_part().bucket("bkt").key("aborted").upload_id(id).part_number(1).body(ByteStream::from_static(b"x")).send().await.unwrap();
    c.abort_multipart_upload().bucket("bkt").key("aborted").upload_id(id).send().await.unwrap();
    failure(c.list_parts().bucket("bkt").key("aborted").upload_id(id).send().await).assert(404, "NoSuchUpload");
    failure(c.upload_part().bucket("bkt").key("aborted").upload_id(id).part_number(2).body(ByteStream::from_static(b"y")).send().await)
        .assert(404, "NoSuchUpload");
    failure(c.get_object().bucket("bkt").key("aborted").send().await).assert(404, "NoSuchKey");
}

#[tokio::test]
async fn multipart_upload_plain_bodies() {
    let s = TestServer::start().await;
    multipart_roundtrip(&s.plain_client(), None).await;
}

/// UploadPart with the SDK's defaults: in-memory parts carry a CRC32 header.
#[tokio::test]
async fn multipart_upload_sdk_default_checksum_header() {
    let s = TestServer::start().await;
    multipart_roundtrip(&s.client(), None).await;
}

/// UploadPart with the SDK's defaults and file bodies: aws-chunked, CRC32 trailer.
#[tokio::test]
async fn multipart_upload_sdk_default_aws_chunked() {
    let s = TestServer::start().await;
    let spy = HeaderSpy::default();
    let files = tempfile::tempdir().unwrap();
    multipart_roundtrip(&s.client_with(|b| b.interceptor(spy.clone())), Some(&files)).await;
    let sent = spy.0.lock().unwrap();
    let chunked = sent.iter().filter(|h| h.iter().any(|(n, v)| n == "content-encoding" && v == "aws-chunked")).count();
    assert_eq!(chunked, 2, "both parts go out aws-chunked");
}

#[tokio::test]
async fn conditional_get_and_conditional_put() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    let etag = put(&c, "bkt", "k", "content").await;

    let f = failure(c.get_object().bucket("bkt").key("k").if_none_match(&etag).send().await);
    assert_eq!(f.status, 304, "{f:#?}");
    let out = c.get_object().bucket("bkt").key("k").if_none_match("\"other\"").send().await.unwrap();
    assert_eq!(out.e_tag(), Some(etag.as_str()));
    c.get_object().bucket("bkt").key("k").if_match(&etag).send().await.unwrap();
    let f = failure(c.get_object().bucket("bkt").key("k").if_match("\"wrong\"").send().await);
    f.assert(412, "PreconditionFailed");
    assert!(f.body.contains("<Condition>If-Match</Condition>"), "{}", f.body);
    // HEAD with a failed If-Match: 412 without a body.
    let f = failure(c.head_object().bucket("bkt").key("k").if_match("\"wrong\"").send().await);
    assert_eq!(f.status, 412, "{f:#?}");
    let later = aws_sdk_s3::primitives::DateTime::from(real_time_plus(3600));
    let f = failure(c.get_object().bucket("bkt").key("k").if_modified_since(later).send().await);
    assert_eq!(f.status, 304, "{f:#?}");
    let earlier = aws_sdk_s3::primitives::DateTime::from(real_time_plus(-3600));
    failure(c.get_object().bucket("bkt").key("k").if_unmodified_since(earlier).send().await).assert(412, "PreconditionFailed");

    // If-None-Match: * on an existing key refuses; on a new key writes.
    let f = failure(c.put_object().bucket("bkt").key("k").if_none_match("*").body(ByteStream::from_static(b"new")).send().await);
    f.assert(412, "PreconditionFailed");
    assert_eq!(get_bytes(&c, "bkt", "k").await, b"content");
    c.put_object().bucket("bkt").key("fresh").if_none_match("*").body(ByteStream::from_static(b"new")).send().await.unwrap();
    // If-Match on PUT (compare-and-swap).
    failure(c.put_object().bucket("bkt").key("k").if_match("\"wrong\"").body(ByteStream::from_static(b"x")).send().await)
        .assert(412, "PreconditionFailed");
    c.put_object().bucket("bkt").key("k").if_match(&etag).body(ByteStream::from_static(b"swapped")).send().await.unwrap();
    assert_eq!(get_bytes(&c, "bkt", "k").await, b"swapped");
}

// ---------------------------------------------------------------- 2. SDK presigning

#[tokio::test]
async fn presigned_get_put_head_delete() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;

    // PUT through a presigned URL, read back with the SDK.
    let p = c.put_object().bucket("bkt").key("up/loaded.txt").content_type("text/plain").presigned(presign_for(300)).await.unwrap();
    assert_eq!(p.method(), "PUT");
    assert!(p.uri().contains("X-Amz-Signature="), "{}", p.uri());
    let r = send_presigned(&p, "uploaded via presigned PUT").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("etag").is_some());
    let out = c.get_object().bucket("bkt").key("up/loaded.txt").send().await.unwrap();
    assert_eq!(out.content_type(), Some("text/plain"));
    assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), b"uploaded via presigned PUT");

    // GET, with response overrides signed into the URL.
    let p = c
        .get_object()
        .bucket("bkt")
        .key("up/loaded.txt")
        .response_content_disposition("attachment; filename=\"x.txt\"")
        .presigned(presign_for(300))
        .await
        .unwrap();
    let r = send_presigned(&p, "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"uploaded via presigned PUT");
    assert_eq!(r.header("content-disposition"), Some("attachment; filename=\"x.txt\""));
    // A presigned GET with a Range header (unsigned headers may be added).
    let r = http("GET", p.uri(), &[("range", "bytes=0-7")], "").await;
    assert_eq!((r.status, r.body.as_slice()), (206, b"uploaded".as_slice()), "{}", r.text());

    // HEAD.
    let p = c.head_object().bucket("bkt").key("up/loaded.txt").presigned(presign_for(300)).await.unwrap();
    assert_eq!(p.method(), "HEAD");
    let r = send_presigned(&p, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("26"));

    // DELETE, then the object is gone.
    let p = c.delete_object().bucket("bkt").key("up/loaded.txt").presigned(presign_for(300)).await.unwrap();
    let r = send_presigned(&p, "").await;
    assert_eq!(r.status, 204, "{}", r.text());
    failure(c.get_object().bucket("bkt").key("up/loaded.txt").send().await).assert(404, "NoSuchKey");

    // A presigned URL is bound to its method: GET's URL cannot DELETE.
    put(&c, "bkt", "kept", "still here").await;
    let p = c.get_object().bucket("bkt").key("kept").presigned(presign_for(300)).await.unwrap();
    let r = http("DELETE", p.uri(), &[], "").await;
    r.assert_error(403, "SignatureDoesNotMatch", None);
    assert_eq!(get_bytes(&c, "bkt", "kept").await, b"still here");
}

#[tokio::test]
async fn presigned_upload_part_then_complete_with_sdk() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    let created = c.create_multipart_upload().bucket("bkt").key("mp").send().await.unwrap();
    let upload_id = created.upload_id().unwrap();
    let data = [pattern(5 * MIB, 3), b"tail".to_vec()];
    let mut parts = Vec::new();
    for (i, chunk) in data.iter().enumerate() {
        let n = i as i32 + 1;
        let p = c.upload_part().bucket("bkt").key("mp").upload_id(upload_id).part_number(n).presigned(presign_for(600)).await.unwrap();
        assert!(p.uri().contains(&format!("partNumber={n}")), "{}", p.uri());
        let r = send_presigned(&p, chunk.clone()).await;
        assert_eq!(r.status, 200, "part {n}: {}", r.text());
        parts.push(CompletedPart::builder().part_number(n).e_tag(r.header("etag").unwrap()).build());
    }
    let done = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    assert!(done.e_tag().unwrap().ends_with("-2\""));
    assert_eq!(get_bytes(&c, "bkt", "mp").await, data.concat());
}

// ---------------------------------------------------------------- 3. errors

/// A bucket `bkt` holding `obj` = "secret bytes"; returns a (plain) root client.
async fn presign_fixture(s: &TestServer) -> Client {
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    put(&c, "bkt", "obj", "secret bytes").await;
    c
}

#[tokio::test]
async fn presigned_expired_reports_expiry_details() {
    let s = TestServer::start().await;
    let c = presign_fixture(&s).await;
    let p = c.get_object().bucket("bkt").key("obj").presigned(presign_at(-7200, 60)).await.unwrap();
    let r = send_presigned(&p, "").await;
    r.assert_error(403, "AccessDenied", Some("Request has expired"));
    assert_eq!(r.xml("X-Amz-Expires").as_deref(), Some("60"));
    let expires = r.xml("Expires").expect("<Expires>");
    let server_time = r.xml("ServerTime").expect("<ServerTime>");
    assert!(expires.ends_with('Z') && server_time.ends_with('Z') && expires < server_time, "{expires} {server_time}");
    assert!(!r.text().contains("secret bytes"));

    // Expired AND a bad signature: expiry is reported (S3's order).
    let r = http("GET", &tamper_signature(p.uri()), &[], "").await;
    r.assert_error(403, "AccessDenied", Some("Request has expired"));
}

#[tokio::test]
async fn presigned_dated_in_the_future_is_not_yet_valid() {
    let s = TestServer::start().await;
    let c = presign_fixture(&s).await;
    let p = c.get_object().bucket("bkt").key("obj").presigned(presign_at(3600, 300)).await.unwrap();
    let r = send_presigned(&p, "").await;
    r.assert_error(403, "AccessDenied", Some("Request is not yet valid"));
    // 5 minutes ahead is served (clock skew tolerance).
    let p = c.get_object().bucket("bkt").key("obj").presigned(presign_at(300, 300)).await.unwrap();
    let r = send_presigned(&p, "").await;
    assert_eq!((r.status, r.body.as_slice()), (200, b"secret bytes".as_slice()), "{}", r.text());
}

#[tokio::test]
async fn presigned_x_amz_expires_bounds_and_format() {
    let s = TestServer::start().await;
    let c = presign_fixture(&s).await;
    let p = c.get_object().bucket("bkt").key("obj").presigned(presign_for(60)).await.unwrap();
    let url = p.uri();
    assert_eq!(query_param(url, "X-Amz-Expires"), Some("60"));

    let r = http("GET", &set_query_param(url, "X-Amz-Expires", Some("604801")), &[], "").await;
    r.assert_error(
        400,
        "AuthorizationQueryParametersError",
        Some("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"),
    );
    let r = http("GET", &set_query_param(url, "X-Amz-Expires", Some("abc")), &[], "").await;
    r.assert_error(400, "AuthorizationQueryParametersError", Some("X-Amz-Expires should be a number"));
    let r = http("GET", &set_query_param(url, "X-Amz-Expires", Some("-1")), &[], "").await;
    r.assert_error(400, "AuthorizationQueryParametersError", Some("X-Amz-Expires must be non-negative"));
    // 604800 itself is within bounds: the (now wrong) signature is what fails.
    let r = http("GET", &set_query_param(url, "X-Amz-Expires", Some("604800")), &[], "").await;
    r.assert_error(403, "SignatureDoesNotMatch", None);
    // X-Amz-Expires=0 parses, then is already expired.
    let r = http("GET", &set_query_param(url, "X-Amz-Expires", Some("0")), &[], "").await;
    r.assert_error(403, "AccessDenied", Some("Request has expired"));

    // The SDK's own 7-day cap agrees with the server: a full week is served.
    let p = c.get_object().bucket("bkt").key("obj").presigned(presign_for(604_800)).await.unwrap();
    assert_eq!(send_presigned(&p, "").await.status, 200);
}

#[tokio::test]
async fn presigned_missing_parameters() {
    let s = TestServer::start().await;
    let c = presign_fixture(&s).await;
    let p = c.get_object().bucket("bkt").key("obj").presigned(presign_for(60)).await.unwrap();
    let msg = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";
    for param in ["X-Amz-Signature", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Credential"] {
        let r = http("GET", &set_query_param(p.uri(), param, None), &[], "").await;
        assert_eq!(r.status, 400, "without {param}: {}", r.text());
        r.assert_error(400, "AuthorizationQueryParametersError", Some(msg));
    }
    let r = http("GET", &set_query_param(p.uri(), "X-Amz-Algorithm", Some("AWS4-HMAC-SHA1")), &[], "").await;
    r.assert_error(400, "AuthorizationQueryParametersError", None);
    let r = http("GET", &set_query_param(p.uri(), "X-Amz-Date", Some("2024-01-01T00:00:00Z")), &[], "").await;
    r.assert_error(
        400,
        "AuthorizationQueryParametersError",
        Some("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""),
    );
}

#[tokio::test]
async fn presigned_unknown_key_and_bad_signature() {
    let s = TestServer::start().await;
    let c = presign_fixture(&s).await;

    let stranger = s.client_as("AKIAUNKNOWNKEY000000", "not-the-secret");
    let p = stranger.get_object().bucket("bkt").key("obj").presigned(presign_for(300)).await.unwrap();
    let r = send_presigned(&p, "").await;
    r.assert_error(403, "InvalidAccessKeyId", Some("The AWS Access Key Id you provided does not exist in our records."));
    assert_eq!(r.xml("AWSAccessKeyId").as_deref(), Some("AKIAUNKNOWNKEY000000"));
    // Unknown key AND bad signature: the key is reported first.
    let r = http("GET", &tamper_signature(p.uri()), &[], "").await;
    r.assert_error(403, "InvalidAccessKeyId", None);

    // Right key, wrong secret.
    let wrong_secret = s.client_as(ACCESS_KEY, "wrong-secret");
    let p = wrong_secret.get_object().bucket("bkt").key("obj").presigned(presign_for(300)).await.unwrap();
    let r = send_presigned(&p, "").await;
    r.assert_error(
        403,
        "SignatureDoesNotMatch",
        Some("The request signature we calculated does not match the signature you provided. Check your key and signing method."),
    );

    // Right key, signature tampered.
    let p = c.get_object().bucket("bkt").key("obj").presigned(presign_for(300)).await.unwrap();
    let bad = tamper_signature(p.uri());
    let r = http("GET", &bad, &[], "").await;
    r.assert_error(403, "SignatureDoesNotMatch", None);
    assert_eq!(r.xml("AWSAccessKeyId").as_deref(), Some(ACCESS_KEY));
    assert_eq!(r.xml("SignatureProvided").as_deref(), query_param(&bad, "X-Amz-Signature"));
    let sts = r.xml("StringToSign").expect("<StringToSign>");
    assert!(sts.starts_with("AWS4-HMAC-SHA256\n"), "{sts}");
    assert!(sts.contains(&format!("/{REGION}/s3/aws4_request\n")), "{sts}");
    let creq = r.xml("CanonicalRequest").expect("<CanonicalRequest>");
    assert!(creq.starts_with("GET\n/bkt/obj\n"), "{creq}");
    assert!(creq.ends_with("\nUNSIGNED-PAYLOAD"), "{creq}");
    assert!(r.xml("StringToSignBytes").is_some() && r.xml("CanonicalRequestBytes").is_some(), "{}", r.text());
    assert!(!r.text().contains("secret bytes"));

    // A signed parameter changed after signing.
    let p = c.get_object().bucket("bkt").key("obj").response_content_type("text/plain").presigned(presign_for(300)).await.unwrap();
    let r = http("GET", &p.uri().replace("text%2Fplain", "text%2Fhtml"), &[], "").await;
    r.assert_error(403, "SignatureDoesNotMatch", None);
    // Another object with the same query.
    put(&c, "bkt", "other", "other bytes").await;
    let r = http("GET", &p.uri().replace("/bkt/obj?", "/bkt/other?"), &[], "").await;
    r.assert_error(403, "SignatureDoesNotMatch", None);
}

#[tokio::test]
async fn presigned_wrong_region_in_scope() {
    let s = TestServer::start().await;
    presign_fixture(&s).await;
    let eu = s.client_with(|b| b.region(aws_sdk_s3::config::Region::new("eu-west-1")));
    let p = eu.get_object().bucket("bkt").key("obj").presigned(presign_for(300)).await.unwrap();
    assert!(p.uri().contains("%2Feu-west-1%2Fs3%2Faws4_request"), "{}", p.uri());
    let r = send_presigned(&p, "").await;
    r.assert_error(
        400,
        "AuthorizationQueryParametersError",
        Some("Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'"),
    );
    assert_eq!(r.xml("Region").as_deref(), Some(REGION));
}

#[tokio::test]
async fn presigned_plus_authorization_header_is_invalid_argument() {
    let s = TestServer::start().await;
    let c = presign_fixture(&s).await;
    let p = c.get_object().bucket("bkt").key("obj").presigned(presign_for(300)).await.unwrap();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20240101/{REGION}/s3/aws4_request, SignedHeaders=host, Signature={}",
        "0".repeat(64)
    );
    let r = http("GET", p.uri(), &[("authorization", &auth)], "").await;
    r.assert_error(
        400,
        "InvalidArgument",
        Some("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"),
    );
    assert_eq!(r.xml("ArgumentName").as_deref(), Some("Authorization"));
}

/// A clock that runs `offset` seconds away from the real one.
#[derive(Debug)]
struct SkewedClock(i64);

impl aws_smithy_async::time::TimeSource for SkewedClock {
    fn now(&self) -> SystemTime {
        real_time_plus(self.0)
    }
}

#[tokio::test]
async fn header_auth_clock_skew_is_request_time_too_skewed() {
    let s = TestServer::start().await;
    presign_fixture(&s).await;
    for offset in [-3600, 3600] {
        let c = s.client_with(|b| {
            b.time_source(SkewedClock(offset)).request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        });
        let f = failure(c.get_object().bucket("bkt").key("obj").send().await);
        f.assert(403, "RequestTimeTooSkewed");
        assert_eq!(f.message.as_deref(), Some("The difference between the request time and the current time is too large."), "{f:#?}");
        assert!(f.body.contains("<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>"), "{}", f.body);
        assert!(f.body.contains("<RequestTime>") && f.body.contains("<ServerTime>"), "{}", f.body);
    }
    // Within 15 minutes is fine.
    let c = s.client_with(|b| b.time_source(SkewedClock(-300)));
    assert_eq!(get_bytes(&c, "bkt", "obj").await, b"secret bytes");
}

#[tokio::test]
async fn header_auth_unknown_key_and_bad_secret() {
    let s = TestServer::start().await;
    presign_fixture(&s).await;
    let f = failure(s.client_as("AKIAUNKNOWNKEY000000", "x").get_object().bucket("bkt").key("obj").send().await);
    f.assert(403, "InvalidAccessKeyId");
    let f = failure(s.client_as(ACCESS_KEY, "wrong").get_object().bucket("bkt").key("obj").send().await);
    f.assert(403, "SignatureDoesNotMatch");
    assert!(f.body.contains("<CanonicalRequest>GET\n/bkt/obj\n"), "{}", f.body);
    let f = failure(
        s.client_with(|b| b.region(aws_sdk_s3::config::Region::new("eu-west-1"))).get_object().bucket("bkt").key("obj").send().await,
    );
    f.assert(400, "AuthorizationHeaderMalformed");
    // No credentials at all.
    let r = http("GET", &format!("{}/bkt/obj", s.endpoint), &[], "").await;
    r.assert_error(403, "AccessDenied", None);
}

#[tokio::test]
async fn no_such_bucket_no_such_key_invalid_range() {
    let s = TestServer::start().await;
    let c = presign_fixture(&s).await;
    let f = failure(c.get_object().bucket("missing-bucket").key("k").send().await);
    f.assert(404, "NoSuchBucket");
    assert!(f.body.contains("<BucketName>missing-bucket</BucketName>"), "{}", f.body);
    failure(c.put_object().bucket("missing-bucket").key("k").body(ByteStream::from_static(b"x")).send().await).assert(404, "NoSuchBucket");
    let f = failure(c.get_object().bucket("bkt").key("missing").send().await);
    f.assert(404, "NoSuchKey");
    assert_eq!(f.message.as_deref(), Some("The specified key does not exist."));

    // Same through presigned URLs.
    let p = c.get_object().bucket("missing-bucket").key("k").presigned(presign_for(60)).await.unwrap();
    send_presigned(&p, "").await.assert_error(404, "NoSuchBucket", Some("The specified bucket does not exist"));
    let p = c.get_object().bucket("bkt").key("missing").presigned(presign_for(60)).await.unwrap();
    let r = send_presigned(&p, "").await;
    r.assert_error(404, "NoSuchKey", Some("The specified key does not exist."));
    assert_eq!(r.xml("Key").as_deref(), Some("missing"));

    // "secret bytes" is 12 bytes long.
    let f = failure(c.get_object().bucket("bkt").key("obj").range("bytes=100-").send().await);
    f.assert(416, "InvalidRange");
    assert!(f.body.contains("<ActualObjectSize>12</ActualObjectSize>"), "{}", f.body);
    let p = c.get_object().bucket("bkt").key("obj").range("bytes=100-200").presigned(presign_for(60)).await.unwrap();
    let r = send_presigned(&p, "").await;
    r.assert_error(416, "InvalidRange", Some("The requested range is not satisfiable"));
    assert_eq!(r.header("content-range"), Some("bytes */12"));
}

#[tokio::test]
async fn entity_too_large_with_small_limit() {
    let s = TestServer::start_with(|cfg| cfg.limits.max_object_size = 1024).await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    put(&c, "bkt", "fits", vec![b'a'; 1024]).await;
    let f = failure(c.put_object().bucket("bkt").key("big").body(ByteStream::from(vec![b'a'; 2048])).send().await);
    f.assert(400, "EntityTooLarge");
    assert!(f.body.contains("<MaxSizeAllowed>1024</MaxSizeAllowed>"), "{}", f.body);
    // The SDK's default (aws-chunked, decoded length announced) is refused the same way.
    failure(s.client().put_object().bucket("bkt").key("big").body(ByteStream::from(vec![b'a'; 2048])).send().await)
        .assert(400, "EntityTooLarge");
    // A presigned PUT too.
    let p = c.put_object().bucket("bkt").key("big").presigned(presign_for(60)).await.unwrap();
    send_presigned(&p, vec![b'b'; 4096]).await.assert_error(
        400,
        "EntityTooLarge",
        Some("Your proposed upload exceeds the maximum allowed size"),
    );
    failure(c.get_object().bucket("bkt").key("big").send().await).assert(404, "NoSuchKey");
    // Nothing half-written is left behind: one object file, the one that fit.
    let object_files = s.all_files().into_iter().filter(|p| p.starts_with(s.data_dir.join("objects"))).count();
    assert_eq!(object_files, 1, "{:?}", s.all_files());
}

#[tokio::test]
async fn invalid_bucket_names() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    for bad in ["ab", "Bad_Name", "bucket..name", "192.168.5.4", "a".repeat(64).as_str()] {
        let f = failure(c.create_bucket().bucket(bad).send().await);
        f.assert(400, "InvalidBucketName");
    }
    // Presigned too (the SDK cannot presign CreateBucket: linkgate's signer does).
    let r = http("PUT", &presign_raw(&s, "PUT", "/UPPER"), &[], "").await;
    r.assert_error(400, "InvalidBucketName", Some("The specified bucket is not valid."));
    assert_eq!(r.xml("BucketName").as_deref(), Some("UPPER"));
}

// ---------------------------------------------------------------- 4. keys

const AWKWARD_KEYS: [&str; 22] = [
    "with space",
    "  leading and trailing spaces  ",
    "plus+sign",
    "a+b c",
    "percent%",
    "percent%25encoded",
    "tilde~x",
    "unicode-ü-é-日本語-ключ-🙂",
    "a//b",
    "/leading",
    "//double-leading",
    "trailing/",
    "a/../b",
    "a/./b",
    "..",
    "./x",
    "%2e%2e",
    "%2e%2e/%2e%2e/etc/passwd",
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "=&?#[]@!$'()*,;:",
    "quote\"and<angle>&amp",
];

#[tokio::test]
async fn awkward_keys_round_trip_via_sdk_list_and_presigned_get() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    for key in AWKWARD_KEYS {
        let out = c.put_object().bucket("bkt").key(key).body(ByteStream::from(key.as_bytes().to_vec())).send().await;
        if let Err(e) = out {
            panic!("put {key:?}: {:#?}", failure::<(), _>(Err(e)));
        }
    }
    for key in AWKWARD_KEYS {
        let out = c.get_object().bucket("bkt").key(key).send().await;
        let out = out.unwrap_or_else(|e| panic!("get {key:?}: {:#?}", failure::<(), _>(Err(e))));
        assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), key.as_bytes(), "{key:?}");
        let head = c.head_object().bucket("bkt").key(key).send().await.unwrap();
        assert_eq!(head.content_length(), Some(key.len() as i64), "{key:?}");

        let p = c.get_object().bucket("bkt").key(key).presigned(presign_for(300)).await.unwrap();
        let r = send_presigned(&p, "").await;
        assert_eq!(r.status, 200, "presigned GET {key:?} ({}): {}", p.uri(), r.text());
        assert_eq!(r.body, key.as_bytes(), "{key:?}");
    }
    let listed: BTreeSet<String> = list_all_keys(&c, "bkt").await.into_iter().collect();
    let expected: BTreeSet<String> = AWKWARD_KEYS.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(listed, expected);
    // encoding-type=url decodes to the same keys.
    let out = c.list_objects_v2().bucket("bkt").encoding_type(aws_sdk_s3::types::EncodingType::Url).send().await.unwrap();
    let decoded: BTreeSet<String> =
        out.contents().iter().map(|o| String::from_utf8(sigv4::encode::decode(o.key().unwrap()).into_owned()).unwrap()).collect();
    assert_eq!(decoded, expected);

    // Presigned PUT of an awkward key, then delete them all with the SDK.
    let p = c.put_object().bucket("bkt").key("presigned/ü + %2e%2e/../x").presigned(presign_for(300)).await.unwrap();
    assert_eq!(send_presigned(&p, "via presign").await.status, 200);
    assert_eq!(get_bytes(&c, "bkt", "presigned/ü + %2e%2e/../x").await, b"via presign");
    for key in AWKWARD_KEYS {
        c.delete_object().bucket("bkt").key(key).send().await.unwrap();
    }
    assert_eq!(list_all_keys(&c, "bkt").await, ["presigned/ü + %2e%2e/../x"]);
    assert_files_confined(&s);
}

/// Raw request paths an attacker would send (not as an SDK encodes them), presigned
/// with linkgate's own signer so that the signature is valid for the exact bytes.
fn presign_raw(s: &TestServer, method: &str, path: &str) -> String {
    let host = s.addr.to_string();
    let headers = [("host", host.as_str())];
    let req = sigv4::RequestParts { method, path, query: "", headers: &headers };
    let params = sigv4::SigningParams {
        credentials: sigv4::Credentials { access_key_id: ACCESS_KEY, secret_access_key: SECRET_KEY, session_token: None },
        region: REGION,
        service: "s3",
        time: s.now(),
        path_mode: sigv4::PathMode::AsSent,
        payload_hash: sigv4::UNSIGNED_PAYLOAD,
    };
    let signed = sigv4::presign(&req, &params, 300, &sigv4::SigningKeyCache::default());
    format!("{}{path}?{}", s.endpoint, signed.query)
}

#[tokio::test]
async fn traversal_attempts_stay_inside_the_data_dir() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    make_bucket(&c, "bkt").await;
    // A file beside the data dir that a traversal would reach.
    std::fs::write(s.parent().join("outside.txt"), b"OUTSIDE").unwrap();
    let raw_paths = [
        "/bkt/../../outside.txt",
        "/bkt/..%2f..%2foutside.txt",
        "/bkt/..%2F..%2Foutside.txt",
        "/bkt/%2e%2e/%2e%2e/outside.txt",
        "/bkt/%2E%2E%2F%2E%2E%2Foutside.txt",
        "/bkt/../../../../../../../../etc/passwd",
        "/bkt/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/bkt//etc/passwd",
        "/bkt/objects/../linkgate.db",
        "/bkt/..%5C..%5Coutside.txt",
    ];
    // Reading first: never the outside file, never /etc/passwd.
    for path in raw_paths {
        let r = http("GET", &presign_raw(&s, "GET", path), &[], "").await;
        assert!(r.status == 404 || r.status == 400, "GET {path}: {} {}", r.status, r.text());
        assert!(!r.text().contains("OUTSIDE") && !r.text().contains("root:"), "GET {path}: {}", r.text());
    }
    // Writing: stored as an object key (or refused), never as a path. Several paths
    // decode to the same key, so each is read back right after its write.
    for path in raw_paths {
        let r = http("PUT", &presign_raw(&s, "PUT", path), &[], format!("written via {path}")).await;
        assert!(r.status == 200 || r.status == 400, "PUT {path}: {} {}", r.status, r.text());
        if r.status == 200 {
            let r = http("GET", &presign_raw(&s, "GET", path), &[], "").await;
            assert_eq!((r.status, r.text()), (200, format!("written via {path}")), "GET back {path}");
        }
    }
    // The raw paths decoded into keys: the traversal is data.
    let keys = list_all_keys(&c, "bkt").await;
    assert!(keys.contains(&"../../outside.txt".to_owned()), "{keys:?}");
    assert!(keys.contains(&"../../../../../../../../etc/passwd".to_owned()), "{keys:?}");
    assert_eq!(std::fs::read(s.parent().join("outside.txt")).unwrap(), b"OUTSIDE");
    assert_files_confined(&s);
}

/// Every file under the test's temporary dir is inside the data dir (or the one
/// planted beside it), and object files are named by hex ids, never by key text.
fn assert_files_confined(s: &TestServer) {
    let objects = s.data_dir.join("objects");
    let mut object_files = 0;
    for path in s.all_files() {
        if path == s.parent().join("outside.txt") {
            continue;
        }
        assert!(path.starts_with(&s.data_dir), "file outside the data dir: {}", path.display());
        let rel = path.strip_prefix(&s.data_dir).unwrap();
        if path.starts_with(&objects) {
            object_files += 1;
            let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
            assert_eq!(parts.len(), 3, "unexpected object path {}", path.display());
            let (dir, name) = (parts[1], parts[2]);
            assert!(dir != "tmp", "left-over temporary file {}", path.display());
            assert!(
                name.len() >= 16 && name.bytes().all(|b| b.is_ascii_hexdigit()),
                "object file not named by a hex id: {}",
                path.display()
            );
            assert_eq!(dir, &name[..2], "{}", path.display());
        } else {
            let name = rel.to_str().unwrap();
            assert!(
                name.starts_with("linkgate.db") || name == "master.key" || name == "root-credentials" || name == "linkgate.lock",
                "unexpected file {}",
                path.display()
            );
        }
    }
    assert!(object_files > 0, "no object files at all under {}", objects.display());
}
