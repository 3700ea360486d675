//! Temporary credentials end to end with the real `aws-sdk-sts` and `aws-sdk-s3`:
//! AssumeRole and GetSessionToken over HTTP, then S3 requests — header-signed and
//! presigned — judged at access time: policy, session expiry, revocation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_sdk_s3::config::Credentials;
use aws_sdk_sts::config::{BehaviorVersion, Credentials as StsCredentials, Region};
use common::admin::user_with_key;
use common::{REGION, ROOT, SECRET_KEY, TestServer, api, bucket_with, presign_for, send_presigned};
use serde_json::json;

fn sts(server: &TestServer, ak: &str, sk: &str) -> aws_sdk_sts::Client {
    sts_with(server, StsCredentials::new(ak, sk, None, None, "test"))
}

fn sts_with(server: &TestServer, credentials: StsCredentials) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&server.endpoint)
        .credentials_provider(credentials)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

const READ_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/*"}]}"#;

/// Creates bucket `bkt` with object `k`, a user `alice` with one key, and a role
/// `reader` that alice may assume. Returns alice's key pair and the role ARN.
async fn setup(server: &TestServer) -> (String, String, String) {
    bucket_with(&server.client(), "bkt", &[("k", b"hello")]).await;
    let (ak, sk) = user_with_key(server, "alice", None).await;
    let role = json!({"name": "reader", "trusted_users": ["alice"], "max_session_duration": 3600, "policy": READ_POLICY});
    assert_eq!(api(server, ROOT, "POST", "/-/api/v1/roles", Some(role)).await.status, 201);
    let account = server.state.identities.account_id();
    (ak, sk, format!("arn:aws:iam::{account}:role/reader"))
}

fn creds(c: &aws_sdk_sts::types::Credentials) -> Credentials {
    Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_owned()), None, "sts")
}

#[tokio::test]
async fn assumed_role_acts_with_the_role_policy() {
    let server = TestServer::start().await;
    let (ak, sk, role_arn) = setup(&server).await;
    let out = sts(&server, &ak, &sk).assume_role().role_arn(&role_arn).role_session_name("s1").duration_seconds(900).send().await.unwrap();
    let c = out.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    assert!(out.assumed_role_user().unwrap().arn().ends_with(":assumed-role/reader/s1"));
    let session = StsCredentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_owned()), None, "s");
    let who = sts_with(&server, session).get_caller_identity().send().await.unwrap();
    assert!(who.arn().unwrap().ends_with(":assumed-role/reader/s1"));

    let s3 = server.client_with(|b| b.credentials_provider(creds(c)));
    let body = s3.get_object().bucket("bkt").key("k").send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"hello");
    let err = s3.put_object().bucket("bkt").key("x").body(b"no".to_vec().into()).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("AccessDenied"));
}

#[tokio::test]
async fn untrusted_caller_and_too_long_sessions_are_refused() {
    let server = TestServer::start().await;
    let (ak, sk, role_arn) = setup(&server).await;
    let err =
        sts(&server, &ak, &sk).assume_role().role_arn(&role_arn).role_session_name("s1").duration_seconds(7200).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("ValidationError"));
    let bad = format!("{}x", role_arn);
    let err = sts(&server, &ak, &sk).assume_role().role_arn(&bad).role_session_name("s1").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("AccessDenied"));
    let err = sts(&server, "AKIAUNKNOWN000000000", SECRET_KEY).get_caller_identity().send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidClientTokenId"));
}

#[tokio::test]
async fn a_presigned_url_dies_with_its_session_not_its_expires() {
    let server = TestServer::start_with(|c| c.sts.min_duration_seconds = 1).await;
    let (ak, sk, _) = setup(&server).await;
    let out = sts(&server, &ak, &sk).get_session_token().duration_seconds(2).send().await.unwrap();
    // alice's own policy is what a GetSessionToken session carries.
    let policy = json!({"name": "read", "document": READ_POLICY});
    assert_eq!(api(&server, ROOT, "PUT", "/-/api/v1/users/alice/policy", Some(policy)).await.status, 200);
    let s3 = server.client_with(|b| b.credentials_provider(creds(out.credentials().unwrap())));
    let url = s3.get_object().bucket("bkt").key("k").presigned(presign_for(3600)).await.unwrap();
    assert_eq!(send_presigned(&url, Vec::new()).await.status, 200);
    server.clock.advance_ms(2500);
    send_presigned(&url, Vec::new()).await.assert_error(400, "ExpiredToken", Some("The provided token has expired."));
}

#[tokio::test]
async fn revoking_role_sessions_kills_old_urls_but_not_new_sessions() {
    let server = TestServer::start().await;
    let (ak, sk, role_arn) = setup(&server).await;
    let client = sts(&server, &ak, &sk);
    let old = client.assume_role().role_arn(&role_arn).role_session_name("old").send().await.unwrap();
    let old_s3 = server.client_with(|b| b.credentials_provider(creds(old.credentials().unwrap())));
    let url = old_s3.get_object().bucket("bkt").key("k").presigned(presign_for(600)).await.unwrap();
    assert_eq!(send_presigned(&url, Vec::new()).await.status, 200);

    server.clock.advance_ms(1100);
    assert_eq!(api(&server, ROOT, "POST", "/-/api/v1/roles/reader/revoke-sessions", None).await.status, 200);
    send_presigned(&url, Vec::new()).await.assert_error(403, "AccessDenied", None);

    server.clock.advance_ms(1100);
    let new = client.assume_role().role_arn(&role_arn).role_session_name("new").send().await.unwrap();
    let new_s3 = server.client_with(|b| b.credentials_provider(creds(new.credentials().unwrap())));
    let url = new_s3.get_object().bucket("bkt").key("k").presigned(presign_for(600)).await.unwrap();
    assert_eq!(send_presigned(&url, Vec::new()).await.status, 200);
}

#[tokio::test]
async fn a_session_token_that_is_missing_or_wrong_is_invalid() {
    let server = TestServer::start().await;
    let (ak, sk, role_arn) = setup(&server).await;
    let out = sts(&server, &ak, &sk).assume_role().role_arn(&role_arn).role_session_name("s1").send().await.unwrap();
    let c = out.credentials().unwrap();
    let no_token = server.client_as(c.access_key_id(), c.secret_access_key());
    let err = no_token.get_object().bucket("bkt").key("k").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidToken"));
    let wrong = server.client_with(|b| {
        b.credentials_provider(Credentials::new(c.access_key_id(), c.secret_access_key(), Some("forged-token".into()), None, "t"))
    });
    let err = wrong.get_object().bucket("bkt").key("k").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidToken"));
}

/// Was 403 AccessDenied: AWS lets the root credentials have a session of up to
/// an hour (a longer request is cut to an hour); it acts as the root, and may not
/// make sessions of its own.
#[tokio::test]
async fn root_session_token_lasts_an_hour_and_acts_as_root() {
    let server = TestServer::start().await;
    bucket_with(&server.client(), "bkt", &[("k", b"hello")]).await;
    let root = sts(&server, common::ACCESS_KEY, SECRET_KEY);
    let now = std::time::SystemTime::now();
    for asked in [None, Some(7200)] {
        let out = root.get_session_token().set_duration_seconds(asked).send().await.unwrap();
        let expires = std::time::SystemTime::try_from(*out.credentials().unwrap().expiration()).unwrap();
        let secs = expires.duration_since(now).unwrap().as_secs();
        assert!((3590..=3610).contains(&secs), "asked {asked:?}: expires in {secs} s");
    }
    let out = root.get_session_token().send().await.unwrap();
    let c = out.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    let s3 = server.client_with(|b| b.credentials_provider(creds(c)));
    let got = s3.get_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"hello");
    s3.create_bucket().bucket("made-by-session").send().await.expect("acts as the root");

    let session =
        sts_with(&server, StsCredentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().to_owned()), None, "s"));
    let who = session.get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn(), Some(format!("arn:aws:iam::{}:root", server.state.identities.account_id()).as_str()));
    let again = session.get_session_token().send().await.unwrap_err();
    assert_eq!(again.into_service_error().meta().code(), Some("AccessDenied"));
}
