//! `linkgate bucket ls|mb|rb|cors`, run as the built binary against a server
//! started in-process, checked through the AWS SDK.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use aws_sdk_s3::primitives::ByteStream;
use common::process::{cli, fails, ok, run, text};
use common::{SECRET_KEY, TestServer};

async fn linkgate(server: &TestServer, home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = cli(home, SECRET_KEY);
    cmd.args(args).args(["--endpoint-url", &server.endpoint]);
    run(cmd, stdin).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_list_and_remove_buckets() {
    let s = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let c = s.plain_client();

    let out = linkgate(&s, home.path(), &["bucket", "mb", "photos"], b"").await;
    ok(&out);
    assert!(text(&out.stderr).contains("make_bucket: photos"), "{}", text(&out.stderr));
    c.head_bucket().bucket("photos").send().await.expect("made");
    ok(&linkgate(&s, home.path(), &["bucket", "mb", "docs"], b"").await);

    let listed: serde_json::Value = serde_json::from_str(&ok(&linkgate(&s, home.path(), &["bucket", "ls", "--json"], b"").await)).unwrap();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["docs", "photos"]);
    let plain = ok(&linkgate(&s, home.path(), &["bucket", "ls"], b"").await);
    assert!(plain.lines().any(|l| l.ends_with("  photos")), "{plain}");

    // A bucket with objects (and a pending upload) needs --force.
    for key in ["a.jpg", "dir/b & c.jpg", "<odd>.jpg"] {
        c.put_object().bucket("photos").key(key).body(ByteStream::from_static(b"x")).send().await.unwrap();
    }
    c.create_multipart_upload().bucket("photos").key("pending.bin").send().await.unwrap();
    let err = fails(&linkgate(&s, home.path(), &["bucket", "rb", "photos"], b"").await, 1);
    assert!(err.contains("BucketNotEmpty"), "{err}");
    let out = linkgate(&s, home.path(), &["bucket", "rb", "photos", "--force"], b"").await;
    ok(&out);
    assert!(text(&out.stderr).contains("deleted 3 objects from photos"), "{}", text(&out.stderr));
    assert_eq!(c.head_bucket().bucket("photos").send().await.unwrap_err().raw_response().unwrap().status().as_u16(), 404);

    let err = fails(&linkgate(&s, home.path(), &["bucket", "rb", "nope-bucket"], b"").await, 1);
    assert!(err.contains("NoSuchBucket"), "{err}");
    let err = fails(&linkgate(&s, home.path(), &["bucket", "mb", "Bad_Name"], b"").await, 1);
    assert!(err.contains("InvalidBucketName"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_show_and_remove_cors_rules() {
    let s = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    ok(&linkgate(&s, home.path(), &["bucket", "mb", "web"], b"").await);
    let rules = br#"{"CORSRules":[{"AllowedOrigins":["https://app.example"],"AllowedMethods":["GET","PUT"],"MaxAgeSeconds":600}]}"#;
    ok(&linkgate(&s, home.path(), &["bucket", "cors", "set", "web", "-"], rules).await);
    let cors = s.plain_client().get_bucket_cors().bucket("web").send().await.unwrap();
    let rule = &cors.cors_rules()[0];
    assert_eq!(rule.allowed_origins(), ["https://app.example"]);
    assert_eq!(rule.allowed_methods(), ["GET", "PUT"]);
    assert_eq!(rule.max_age_seconds(), Some(600));
    let shown = ok(&linkgate(&s, home.path(), &["bucket", "cors", "get", "web"], b"").await);
    assert!(shown.contains("<AllowedOrigin>https://app.example</AllowedOrigin>"), "{shown}");
    ok(&linkgate(&s, home.path(), &["bucket", "cors", "delete", "web"], b"").await);
    let err = fails(&linkgate(&s, home.path(), &["bucket", "cors", "get", "web"], b"").await, 1);
    assert!(err.contains("NoSuchCORSConfiguration"), "{err}");
    let err = fails(&linkgate(&s, home.path(), &["bucket", "cors", "set", "web", "-"], b"not rules").await, 2);
    assert!(err.contains("neither XML nor JSON"), "{err}");
}
