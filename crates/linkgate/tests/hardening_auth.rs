//! Hardening regressions: authorization (findings 1 and 2 of the attack run).
//! Each test states the fixed behaviour; each fails on the code before the
//! one-pipeline change (issue #9).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::admin::{assert_problem, json_of, user_with_key};
use common::{ROOT, Signer, TestServer, api, as_user, bounded, signed};
use serde_json::json;

/// Finding 1 (authorization bypass): the `delete` query flag that exempts
/// DeleteObjects from the up-front permission check (it is authorized per key)
/// also exempted every other object POST, so a user with no policy at all could
/// create a multipart upload with `POST /b/k?uploads&delete` and complete one with
/// `POST /b/k?uploadId=U&delete`. Fixed: both are 403 `AccessDenied` (S3 XML) and
/// no object appears.
///
/// Fails on the code before the one-pipeline change (issue #9): the policy-less
/// user's `POST /bkt/k?uploads&delete` is answered 200 with an `UploadId`
/// (CreateMultipartUpload succeeded), and the completion of root's upload through
/// `?uploadId=U&delete` is answered 200 and creates the object.
#[tokio::test]
async fn a_user_without_policy_cannot_create_or_complete_multipart_uploads_with_the_delete_flag() {
    bounded(60.0, "finding 1", async {
        let s = TestServer::start().await;
        let root = s.plain_client();
        root.create_bucket().bucket("bkt").send().await.unwrap();
        let (ak, sk) = user_with_key(&s, "mallory", None).await;
        let mallory = as_user(&ak, &sk);

        // CreateMultipartUpload smuggled behind `delete`.
        let created = signed(&s, mallory, "POST", "/bkt/k?uploads&delete", b"", &[]).await;
        let created_upload = created.xml("UploadId");

        // CompleteMultipartUpload of an upload root started (one uploaded part).
        let up = root.create_multipart_upload().bucket("bkt").key("victim").send().await.unwrap();
        let upload_id = up.upload_id().unwrap().to_owned();
        let part = root
            .upload_part()
            .bucket("bkt")
            .key("victim")
            .upload_id(&upload_id)
            .part_number(1)
            .body(b"planted by root, completed by mallory".to_vec().into())
            .send()
            .await
            .unwrap();
        let etag = part.e_tag().unwrap().to_owned();
        let doc = format!("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>");
        let completed = signed(&s, mallory, "POST", &format!("/bkt/victim?uploadId={upload_id}&delete"), doc.as_bytes(), &[]).await;

        let listed = root.list_objects_v2().bucket("bkt").send().await.unwrap();
        let keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();

        assert!(
            created.status == 403 && created.xml("Code").as_deref() == Some("AccessDenied"),
            "POST ?uploads&delete by a user with no policy must be 403 AccessDenied; got {} (UploadId {:?}): {}\n\
             (and the completion through ?uploadId=U&delete got {}; the bucket holds {keys:?})",
            created.status,
            created_upload,
            created.text(),
            completed.status,
        );
        created.assert_error(403, "AccessDenied", None);
        assert!(
            completed.status == 403 && completed.xml("Code").as_deref() == Some("AccessDenied"),
            "POST ?uploadId=U&delete by a user with no policy must be 403 AccessDenied; got {}: {}",
            completed.status,
            completed.text()
        );
        completed.assert_error(403, "AccessDenied", None);
        assert!(keys.is_empty(), "no object may appear, found {keys:?}");
    })
    .await;
}

/// Finding 2 (privilege escalation): the IAM query API judged every request as if
/// it came from 0.0.0.0, so `aws:SourceIp` conditions were ignored there: a user
/// allowed `iam:*` but denied `iam:*` from 127.0.0.0/8 could still call
/// `CreateAccessKey` for another user through `POST /` (service `iam`) from
/// 127.0.0.1 and get that user's secret. Fixed: 403 with `<Code>AccessDenied</Code>`
/// in the IAM error XML, bob gets no key; the admin API (which already judged the
/// real address) still denies the same call.
///
/// Fails on the code before the one-pipeline change (issue #9): the IAM
/// `CreateAccessKey` call is answered 200 with bob's new `SecretAccessKey`, and
/// bob ends up with one key.
#[tokio::test]
async fn iam_query_api_judges_the_real_source_ip() {
    bounded(60.0, "finding 2", async {
        let s = TestServer::start().await;
        let r = api(&s, ROOT, "POST", "/-/api/v1/users", Some(json!({"name": "bob"}))).await;
        assert_eq!(r.status, 201, "{}", r.text());
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"iam:*","Resource":"*"},
            {"Effect":"Deny","Action":"iam:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}"#;
        let (ak, sk) = user_with_key(&s, "eve", Some(policy)).await;

        // The admin API judges the caller's real address (127.0.0.1): denied.
        let admin = api(&s, as_user(&ak, &sk), "POST", "/-/api/v1/users/bob/keys", None).await;
        let admin_problem = assert_problem(&admin, 403);
        assert_eq!(admin_problem["type"], "https://linkgate.dev/problems/access-denied", "{admin_problem}");

        // The IAM query API must judge the same address.
        let iam = Signer { ak: &ak, sk: &sk, token: None, service: "iam" };
        let form = b"Action=CreateAccessKey&UserName=bob&Version=2010-05-08";
        let r = signed(&s, iam, "POST", "/", form, &[("content-type", "application/x-www-form-urlencoded")]).await;
        let keys = json_of(&api(&s, ROOT, "GET", "/-/api/v1/users/bob/keys", None).await);
        let bob_keys = keys["keys"].as_array().map_or(0, Vec::len);

        assert_eq!(
            r.status,
            403,
            "IAM CreateAccessKey from 127.0.0.1 under a Deny on aws:SourceIp 127.0.0.0/8 must be refused; got {} (secret handed out: {}): {}",
            r.status,
            r.xml("SecretAccessKey").is_some(),
            r.text()
        );
        assert!(r.text().contains("<Code>AccessDenied</Code>"), "{}", r.text());
        assert_eq!(bob_keys, 0, "bob must have no key: {keys}");
    })
    .await;
}
