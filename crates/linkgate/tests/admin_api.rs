//! Black-box tests of the identity admin API (`/-/api/v1/users|keys|roles`): real
//! HTTP to an in-process server, requests SigV4-signed (service `s3`) the way curl
//! `--aws-sigv4` and the SDK signers sign them, and the effect of each change
//! checked through the S3 API and STS with the credentials involved.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use common::admin::{assert_problem, json_of, user_with_key};
use common::sign::signed_with_hash;
use common::{ACCESS_KEY, ROOT, Resp, Signer, TestServer, api, as_user, http, sha256_hex, signed};
use serde_json::{Value, json};
use sigv4::AmzDate;

const ALLOW_S3: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

/// Asserts a 2xx-or-other status and returns the JSON body.
#[track_caller]
fn expect(r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "body: {}", r.text());
    if status == 204 {
        assert!(r.body.is_empty());
        return Value::Null;
    }
    assert_eq!(r.header("content-type"), Some("application/json"), "{}", r.text());
    json_of(r)
}

/// Asserts an RFC 9457 problem: status, slug, `instance` = the request path.
#[track_caller]
fn problem(r: &Resp, status: u16, slug: &str, path: &str) -> Value {
    let v = assert_problem(r, status);
    assert_eq!(v["type"], format!("https://linkgate.dev/problems/{slug}"), "{v}");
    assert_eq!(v["status"], status, "{v}");
    assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    assert!(v["detail"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    assert_eq!(v["instance"], path.split('?').next().unwrap(), "{v}");
    v
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str().and_then(AmzDate::parse_rfc3339).is_some()
}

/// The S3 error code of ListBuckets with these credentials, or `None` if it works.
async fn list_buckets_error(s: &TestServer, ak: &str, sk: &str, token: Option<&str>) -> Option<String> {
    let creds = Credentials::new(ak, sk, token.map(str::to_owned), None, "test");
    let c = s.client_with(|b| b.credentials_provider(creds));
    match c.list_buckets().send().await {
        Ok(_) => None,
        Err(e) => Some(e.into_service_error().code().unwrap_or("?").to_owned()),
    }
}

#[tokio::test]
async fn users_create_list_get_delete() {
    let s = TestServer::start().await;
    let created = expect(&api(&s, ROOT, "POST", "/-/api/v1/users", Some(json!({"name": "alice"}))).await, 201);
    assert_eq!(created["name"], "alice");
    assert_eq!(created["policies"], json!({}));
    assert!(is_rfc3339(&created["created_at"]), "{created}");

    problem(&api(&s, ROOT, "POST", "/-/api/v1/users", Some(json!({"name": "alice"}))).await, 409, "already-exists", "/-/api/v1/users");
    for bad in ["", "a b", "x/y", &"x".repeat(65)] {
        problem(&api(&s, ROOT, "POST", "/-/api/v1/users", Some(json!({"name": bad}))).await, 400, "validation-error", "/-/api/v1/users");
    }
    problem(&signed(&s, ROOT, "POST", "/-/api/v1/users", b"{not json", &[]).await, 400, "invalid-json", "/-/api/v1/users");
    problem(
        &api(&s, ROOT, "POST", "/-/api/v1/users", Some(json!({"name": "b", "nmae": "c"}))).await,
        400,
        "invalid-json",
        "/-/api/v1/users",
    );
    problem(&api(&s, ROOT, "POST", "/-/api/v1/users", None).await, 400, "invalid-json", "/-/api/v1/users");
    expect(&api(&s, ROOT, "POST", "/-/api/v1/users", Some(json!({"name": "b+o=b,@x.y_z-1"}))).await, 201);

    let list = expect(&api(&s, ROOT, "GET", "/-/api/v1/users", None).await, 200);
    let names: Vec<&str> = list["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "b+o=b,@x.y_z-1"]);
    assert_eq!(list["users"][0]["policies"], json!({}));

    let got = expect(&api(&s, ROOT, "GET", "/-/api/v1/users/alice", None).await, 200);
    assert_eq!(got["name"], "alice");
    assert_eq!(got["keys"], json!([]));
    assert_eq!(got["created_at"], created["created_at"]);
    // Percent-encoded names (as the CLI sends them) are decoded.
    expect(&api(&s, ROOT, "GET", "/-/api/v1/users/b%2Bo%3Db%2C%40x.y_z-1", None).await, 200);

    expect(&api(&s, ROOT, "DELETE", "/-/api/v1/users/alice", None).await, 204);
    problem(&api(&s, ROOT, "GET", "/-/api/v1/users/alice", None).await, 404, "no-such-user", "/-/api/v1/users/alice");
    problem(&api(&s, ROOT, "DELETE", "/-/api/v1/users/alice", None).await, 404, "no-such-user", "/-/api/v1/users/alice");
}

#[tokio::test]
async fn access_keys_lifecycle_and_inactive_keys_stop_working_at_once() {
    let s = TestServer::start().await;
    expect(&api(&s, ROOT, "POST", "/-/api/v1/users", Some(json!({"name": "alice"}))).await, 201);
    expect(&api(&s, ROOT, "PUT", "/-/api/v1/users/alice/policy", Some(json!({"document": ALLOW_S3}))).await, 200);

    let k = expect(&api(&s, ROOT, "POST", "/-/api/v1/users/alice/keys", None).await, 201);
    let ak = k["access_key_id"].as_str().unwrap().to_owned();
    let sk = k["secret_access_key"].as_str().unwrap().to_owned();
    assert!(ak.starts_with("AKIA") && ak.len() == 20, "{ak}");
    assert_eq!(sk.len(), 40);
    assert_eq!((&k["status"], &k["user"]), (&json!("Active"), &json!("alice")));
    assert!(is_rfc3339(&k["created_at"]));

    let k2 = expect(&api(&s, ROOT, "POST", "/-/api/v1/users/alice/keys", None).await, 201);
    problem(&api(&s, ROOT, "POST", "/-/api/v1/users/alice/keys", None).await, 409, "limit-exceeded", "/-/api/v1/users/alice/keys");
    problem(&api(&s, ROOT, "POST", "/-/api/v1/users/nobody/keys", None).await, 404, "no-such-user", "/-/api/v1/users/nobody/keys");

    let keys = expect(&api(&s, ROOT, "GET", "/-/api/v1/users/alice/keys", None).await, 200);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    assert!(!keys.to_string().contains(&sk), "secrets are shown only at creation");
    assert_eq!(keys["keys"].as_array().unwrap().iter().filter(|x| x["access_key_id"] == ak.as_str()).count(), 1);
    problem(&api(&s, ROOT, "GET", "/-/api/v1/users/nobody/keys", None).await, 404, "no-such-user", "/-/api/v1/users/nobody/keys");
    let user = expect(&api(&s, ROOT, "GET", "/-/api/v1/users/alice", None).await, 200);
    assert_eq!(user["keys"].as_array().unwrap().len(), 2);
    assert_eq!(user["keys"][0].as_object().unwrap().len(), 3, "{user}");

    let path = format!("/-/api/v1/keys/{ak}");
    let one = expect(&api(&s, ROOT, "GET", &path, None).await, 200);
    assert_eq!(one, json!({"access_key_id": ak, "status": "Active", "created_at": k["created_at"], "user": "alice"}));

    // The key works (and is now cached by the authority)…
    assert_eq!(list_buckets_error(&s, &ak, &sk, None).await, None);
    // …until it is deactivated: the very next request is refused.
    let patched = expect(&api(&s, ROOT, "PATCH", &path, Some(json!({"status": "Inactive"}))).await, 200);
    assert_eq!(patched["status"], "Inactive");
    assert_eq!(expect(&api(&s, ROOT, "GET", &path, None).await, 200)["status"], "Inactive");
    assert_eq!(list_buckets_error(&s, &ak, &sk, None).await.as_deref(), Some("InvalidAccessKeyId"));
    problem(&api(&s, as_user(&ak, &sk), "GET", "/-/api/v1/users", None).await, 403, "invalid-access-key", "/-/api/v1/users");
    expect(&api(&s, ROOT, "PATCH", &path, Some(json!({"status": "Active"}))).await, 200);
    assert_eq!(list_buckets_error(&s, &ak, &sk, None).await, None);

    problem(&api(&s, ROOT, "PATCH", &path, Some(json!({"status": "disabled"}))).await, 400, "validation-error", &path);
    problem(&api(&s, ROOT, "PATCH", &path, Some(json!({}))).await, 400, "invalid-json", &path);
    let missing = "/-/api/v1/keys/AKIAAAAAAAAAAAAAAAAA";
    problem(&api(&s, ROOT, "PATCH", missing, Some(json!({"status": "Active"}))).await, 404, "no-such-key", missing);
    problem(&api(&s, ROOT, "GET", missing, None).await, 404, "no-such-key", missing);
    // The root key is not a user's key.
    let root_path = format!("/-/api/v1/keys/{ACCESS_KEY}");
    problem(&api(&s, ROOT, "DELETE", &root_path, None).await, 404, "no-such-key", &root_path);

    expect(&api(&s, ROOT, "DELETE", &path, None).await, 204);
    problem(&api(&s, ROOT, "DELETE", &path, None).await, 404, "no-such-key", &path);
    problem(&api(&s, ROOT, "GET", &path, None).await, 404, "no-such-key", &path);
    assert_eq!(list_buckets_error(&s, &ak, &sk, None).await.as_deref(), Some("InvalidAccessKeyId"));
    // The other key is untouched, and a new one fits again.
    let sk2 = k2["secret_access_key"].as_str().unwrap();
    assert_eq!(list_buckets_error(&s, k2["access_key_id"].as_str().unwrap(), sk2, None).await, None);
    expect(&api(&s, ROOT, "POST", "/-/api/v1/users/alice/keys", None).await, 201);

    // Deleting the user deletes its keys.
    expect(&api(&s, ROOT, "DELETE", "/-/api/v1/users/alice", None).await, 204);
    assert_eq!(list_buckets_error(&s, k2["access_key_id"].as_str().unwrap(), sk2, None).await.as_deref(), Some("InvalidAccessKeyId"));
}

#[tokio::test]
async fn user_policies_put_get_delete_and_take_effect() {
    let s = TestServer::start().await;
    let (ak, sk) = user_with_key(&s, "alice", None).await;
    assert_eq!(list_buckets_error(&s, &ak, &sk, None).await.as_deref(), Some("AccessDenied"));

    let doc: Value = serde_json::from_str(ALLOW_S3).unwrap();
    let put = expect(&api(&s, ROOT, "PUT", "/-/api/v1/users/alice/policy", Some(json!({"document": doc}))).await, 200);
    assert_eq!(put, json!({"user": "alice", "name": "default", "document": doc}));
    assert_eq!(list_buckets_error(&s, &ak, &sk, None).await, None);

    let ro = r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
    let put = expect(&api(&s, ROOT, "PUT", "/-/api/v1/users/alice/policy", Some(json!({"name": "ro", "document": ro}))).await, 200);
    assert_eq!(put["name"], "ro");
    assert_eq!(put["document"]["Statement"]["Action"], "s3:GetObject");

    let got = expect(&api(&s, ROOT, "GET", "/-/api/v1/users/alice/policy", None).await, 200);
    assert_eq!(got["policies"]["default"], doc);
    assert_eq!(got["policies"]["ro"]["Statement"]["Resource"], "arn:aws:s3:::b/*");
    let user = expect(&api(&s, ROOT, "GET", "/-/api/v1/users/alice", None).await, 200);
    assert_eq!(user["policies"], got["policies"]);
    let list = expect(&api(&s, ROOT, "GET", "/-/api/v1/users", None).await, 200);
    assert_eq!(list["users"][0]["policies"], got["policies"]);

    let p = "/-/api/v1/users/alice/policy";
    let bad = json!({"document": {"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps", "Action": "s3:*", "Resource": "*"}]}});
    let v = problem(&api(&s, ROOT, "PUT", p, Some(bad)).await, 400, "malformed-policy", p);
    assert!(v["detail"].as_str().unwrap().contains("Effect"), "{v}");
    problem(&api(&s, ROOT, "PUT", p, Some(json!({"document": "not json"}))).await, 400, "malformed-policy", p);
    problem(&api(&s, ROOT, "PUT", p, Some(json!({"document": 7}))).await, 400, "validation-error", p);
    problem(&api(&s, ROOT, "PUT", p, Some(json!({"name": "a b", "document": doc}))).await, 400, "validation-error", p);
    let huge = json!({"document": {"Id": "x".repeat(10_240), "Statement": []}});
    problem(&api(&s, ROOT, "PUT", p, Some(huge)).await, 400, "validation-error", p);
    let np = "/-/api/v1/users/nobody/policy";
    problem(&api(&s, ROOT, "PUT", np, Some(json!({"document": doc}))).await, 404, "no-such-user", np);
    problem(&api(&s, ROOT, "GET", np, None).await, 404, "no-such-user", np);
    problem(&api(&s, ROOT, "DELETE", np, None).await, 404, "no-such-user", np);

    expect(&api(&s, ROOT, "DELETE", "/-/api/v1/users/alice/policy?name=ro", None).await, 204);
    problem(&api(&s, ROOT, "DELETE", "/-/api/v1/users/alice/policy?name=ro", None).await, 404, "no-such-policy", p);
    // No name: the policy called `default`, and the permission goes with it.
    expect(&api(&s, ROOT, "DELETE", p, None).await, 204);
    assert_eq!(expect(&api(&s, ROOT, "GET", p, None).await, 200), json!({"policies": {}}));
    assert_eq!(list_buckets_error(&s, &ak, &sk, None).await.as_deref(), Some("AccessDenied"));
}

#[tokio::test]
async fn permissions_are_iam_actions_on_star() {
    let s = TestServer::start().await;
    let (ak, sk) = user_with_key(&s, "bob", Some(ALLOW_S3)).await;
    let bob = as_user(&ak, &sk);
    for (method, path, body) in [
        ("GET", "/-/api/v1/users", None),
        ("POST", "/-/api/v1/users", Some(json!({"name": "mallory"}))),
        ("GET", "/-/api/v1/users/bob", None),
        ("POST", "/-/api/v1/users/bob/keys", None),
        (
            "PUT",
            "/-/api/v1/users/bob/policy",
            Some(json!({"document": {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}})),
        ),
        ("GET", "/-/api/v1/roles", None),
        ("POST", "/-/api/v1/roles/x/revoke-sessions", None),
    ] {
        let v = problem(&api(&s, bob, method, path, body).await, 403, "access-denied", path);
        assert!(v["detail"].as_str().unwrap().contains(":user/bob is not authorized to perform: iam:"), "{v}");
    }
    // Nothing changed.
    problem(&api(&s, ROOT, "GET", "/-/api/v1/users/mallory", None).await, 404, "no-such-user", "/-/api/v1/users/mallory");

    // Exactly the granted action, nothing more.
    let list_only = r#"{"Statement":{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}}"#;
    expect(&api(&s, ROOT, "PUT", "/-/api/v1/users/bob/policy", Some(json!({"name": "iam", "document": list_only}))).await, 200);
    expect(&api(&s, bob, "GET", "/-/api/v1/users", None).await, 200);
    problem(&api(&s, bob, "GET", "/-/api/v1/users/bob", None).await, 403, "access-denied", "/-/api/v1/users/bob");
    problem(&api(&s, bob, "POST", "/-/api/v1/users", Some(json!({"name": "m"}))).await, 403, "access-denied", "/-/api/v1/users");

    // An admin user (iam:*) can do what root does; an explicit Deny still wins.
    let admin =
        r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}"#;
    expect(&api(&s, ROOT, "PUT", "/-/api/v1/users/bob/policy", Some(json!({"name": "iam", "document": admin}))).await, 200);
    expect(&api(&s, bob, "POST", "/-/api/v1/users", Some(json!({"name": "carol"}))).await, 201);
    expect(&api(&s, bob, "POST", "/-/api/v1/roles", Some(json!({"name": "r"}))).await, 201);
    problem(&api(&s, bob, "DELETE", "/-/api/v1/users/carol", None).await, 403, "access-denied", "/-/api/v1/users/carol");
    expect(&api(&s, ROOT, "DELETE", "/-/api/v1/users/carol", None).await, 204);
}

#[tokio::test]
async fn authentication_failures_are_403_problems() {
    let s = TestServer::start().await;
    let p = "/-/api/v1/users";
    let url = format!("{}{p}", s.endpoint);
    let v = problem(&http("GET", &url, &[], Vec::new()).await, 403, "authentication-required", p);
    assert!(v["detail"].as_str().unwrap().contains("--aws-sigv4"), "{v}");
    problem(&api(&s, as_user(ACCESS_KEY, "wrong"), "GET", p, None).await, 403, "signature-mismatch", p);
    problem(&api(&s, as_user("AKIAUNKNOWNUNKNOWN00", "x"), "GET", p, None).await, 403, "invalid-access-key", p);
    let sts_scoped = Signer { service: "sts", ..ROOT };
    problem(&api(&s, sts_scoped, "GET", p, None).await, 403, "invalid-credential", p);
    problem(&http("GET", &url, &[("authorization", "Bearer x")], Vec::new()).await, 403, "invalid-authorization", p);

    // A body other than the one whose hash was signed.
    let good = br#"{"name":"alice"}"#;
    let r = signed_with_hash(&s, ROOT, "POST", p, good, &sha256_hex(b"something else"), &[]).await;
    problem(&r, 400, "content-sha256-mismatch", p);
    problem(&api(&s, ROOT, "GET", "/-/api/v1/users/alice", None).await, 404, "no-such-user", "/-/api/v1/users/alice");
    // UNSIGNED-PAYLOAD is what some SDK signers send: accepted.
    expect(&signed_with_hash(&s, ROOT, "POST", p, good, "UNSIGNED-PAYLOAD", &[]).await, 201);

    // Bodies are capped.
    let big = vec![b' '; 256 * 1024 + 1];
    problem(&signed(&s, ROOT, "POST", p, &big, &[]).await, 413, "payload-too-large", p);
}

#[tokio::test]
async fn unknown_routes_404_and_wrong_methods_405_as_problems() {
    let s = TestServer::start().await;
    for p in ["/-/api/v1", "/-/api/v1/", "/-/api/v1/nothing", "/-/api/v1/users/alice/nothing", "/-/api/v1/keys"] {
        let url = format!("{}{p}", s.endpoint);
        problem(&http("GET", &url, &[], Vec::new()).await, 404, "not-found", p);
        problem(&api(&s, ROOT, "POST", p, None).await, 404, "not-found", p);
    }
    for (method, p) in [
        ("PUT", "/-/api/v1/users"),
        ("DELETE", "/-/api/v1/roles"),
        ("POST", "/-/api/v1/keys/AKIAX"),
        ("GET", "/-/api/v1/roles/r/revoke-sessions"),
        ("PATCH", "/-/api/v1/users/alice"),
    ] {
        let r = api(&s, ROOT, method, p, None).await;
        problem(&r, 405, "method-not-allowed", p);
        assert!(r.header("allow").is_some(), "{method} {p}: {:?}", r.headers);
    }
}

#[tokio::test]
async fn roles_create_list_get_policy_delete() {
    let s = TestServer::start().await;
    let account = expect(&api(&s, ROOT, "GET", "/-/api/v1/roles", None).await, 200);
    assert_eq!(account, json!({"roles": []}));

    let doc: Value = serde_json::from_str(ALLOW_S3).unwrap();
    let body = json!({"name": "deploy", "trusted_users": ["alice", "bob"], "max_session_duration": 7200, "policy": doc});
    let r = expect(&api(&s, ROOT, "POST", "/-/api/v1/roles", Some(body)).await, 201);
    let arn = r["arn"].as_str().unwrap();
    let acct = arn.strip_prefix("arn:aws:iam::").unwrap().strip_suffix(":role/deploy").unwrap();
    assert!(acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()), "{arn}");
    assert_eq!(r["trusted_users"], json!(["alice", "bob"]));
    assert_eq!(r["max_session_duration"], 7200);
    assert_eq!(r["policies"], json!({"default": doc}));
    assert_eq!(r["sessions_revoked_before"], Value::Null);
    assert!(is_rfc3339(&r["created_at"]));

    let minimal = expect(&api(&s, ROOT, "POST", "/-/api/v1/roles", Some(json!({"name": "any", "trusted_users": ["*"]}))).await, 201);
    assert_eq!((&minimal["max_session_duration"], &minimal["policies"]), (&json!(3600), &json!({})));

    let p = "/-/api/v1/roles";
    problem(&api(&s, ROOT, "POST", p, Some(json!({"name": "deploy"}))).await, 409, "already-exists", p);
    for bad in [
        json!({"name": "x", "max_session_duration": 3599}),
        json!({"name": "x", "max_session_duration": 43201}),
        json!({"name": "x y"}),
        json!({"name": "x", "trusted_users": ["not a user"]}),
    ] {
        problem(&api(&s, ROOT, "POST", p, Some(bad)).await, 400, "validation-error", p);
    }
    problem(&api(&s, ROOT, "POST", p, Some(json!({"name": "x", "policy": {"Statement": 1}}))).await, 400, "malformed-policy", p);
    problem(&api(&s, ROOT, "POST", p, Some(json!({"name": "x", "trust": []}))).await, 400, "invalid-json", p);
    problem(&api(&s, ROOT, "GET", "/-/api/v1/roles/x", None).await, 404, "no-such-role", "/-/api/v1/roles/x");

    let list = expect(&api(&s, ROOT, "GET", p, None).await, 200);
    let names: Vec<&str> = list["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"deploy") && names.contains(&"any"));
    assert_eq!(expect(&api(&s, ROOT, "GET", "/-/api/v1/roles/deploy", None).await, 200), r);

    let ro = json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}});
    let put = expect(&api(&s, ROOT, "PUT", "/-/api/v1/roles/deploy/policy", Some(json!({"name": "ro", "document": ro}))).await, 200);
    assert_eq!(put, json!({"role": "deploy", "name": "ro", "document": ro}));
    assert_eq!(expect(&api(&s, ROOT, "GET", "/-/api/v1/roles/deploy", None).await, 200)["policies"]["ro"], ro);
    let np = "/-/api/v1/roles/nope/policy";
    problem(&api(&s, ROOT, "PUT", np, Some(json!({"document": ro}))).await, 404, "no-such-role", np);
    problem(
        &api(&s, ROOT, "PUT", "/-/api/v1/roles/deploy/policy", Some(json!({"document": "{}"}))).await,
        400,
        "malformed-policy",
        "/-/api/v1/roles/deploy/policy",
    );

    expect(&api(&s, ROOT, "DELETE", "/-/api/v1/roles/deploy", None).await, 204);
    problem(&api(&s, ROOT, "DELETE", "/-/api/v1/roles/deploy", None).await, 404, "no-such-role", "/-/api/v1/roles/deploy");
    problem(&api(&s, ROOT, "GET", "/-/api/v1/roles/deploy", None).await, 404, "no-such-role", "/-/api/v1/roles/deploy");
    let rp = "/-/api/v1/roles/deploy/revoke-sessions";
    problem(&api(&s, ROOT, "POST", rp, None).await, 404, "no-such-role", rp);
}

/// `AssumeRole` over the STS query API; returns (ak, sk, token).
async fn assume_role(s: &TestServer, who: Signer<'_>, role_arn: &str) -> (String, String, String) {
    let form =
        format!("Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=test-session", sigv4::encode::encode(role_arn, false));
    let sts = Signer { service: "sts", ..who };
    let r = signed(s, sts, "POST", "/", form.as_bytes(), &[("content-type", "application/x-www-form-urlencoded")]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    (r.xml("AccessKeyId").unwrap(), r.xml("SecretAccessKey").unwrap(), r.xml("SessionToken").unwrap())
}

#[tokio::test]
async fn revoke_sessions_denies_earlier_sessions_only() {
    let s = TestServer::start().await;
    let (ak, sk) = user_with_key(&s, "alice", None).await;
    let role = expect(
        &api(&s, ROOT, "POST", "/-/api/v1/roles", Some(json!({"name": "deploy", "trusted_users": ["alice"], "policy": ALLOW_S3}))).await,
        201,
    );
    let arn = role["arn"].as_str().unwrap();
    let alice = as_user(&ak, &sk);

    let (sak, ssk, token) = assume_role(&s, alice, arn).await;
    assert!(sak.starts_with("ASIA"));
    assert_eq!(list_buckets_error(&s, &sak, &ssk, Some(&token)).await, None);

    let p = "/-/api/v1/roles/deploy/revoke-sessions";
    let revoked = expect(&api(&s, ROOT, "POST", p, None).await, 200);
    assert_eq!(revoked["role"], "deploy");
    let before = AmzDate::parse_rfc3339(revoked["revoked_before"].as_str().unwrap()).unwrap();
    assert!((before.unix() - s.now().unix()).abs() <= 5, "{revoked}");
    let shown = expect(&api(&s, ROOT, "GET", "/-/api/v1/roles/deploy", None).await, 200);
    assert_eq!(shown["sessions_revoked_before"], revoked["revoked_before"]);

    // The earlier session is refused on its next request, by S3 and by the admin API.
    assert_eq!(list_buckets_error(&s, &sak, &ssk, Some(&token)).await.as_deref(), Some("AccessDenied"));
    let session = Signer { ak: &sak, sk: &ssk, token: Some(&token), service: "s3" };
    let v = problem(&api(&s, session, "GET", "/-/api/v1/users", None).await, 403, "access-denied", "/-/api/v1/users");
    assert!(v["detail"].as_str().unwrap().contains("revoked"), "{v}");

    // Sessions issued afterwards work (STS stamps sessions to the second, so the
    // server's clock moves on until the revocation instant is in the past at that
    // resolution).
    s.clock.advance_secs(1);
    let (nak, nsk, ntoken) = assume_role(&s, alice, arn).await;
    assert_eq!(list_buckets_error(&s, &nak, &nsk, Some(&ntoken)).await, None);
    assert_eq!(list_buckets_error(&s, &sak, &ssk, Some(&token)).await.as_deref(), Some("AccessDenied"));

    // A session can manage identities if the role allows it (through the same checks).
    let iam = r#"{"Statement":{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"}}"#;
    expect(&api(&s, ROOT, "PUT", "/-/api/v1/roles/deploy/policy", Some(json!({"name": "iam", "document": iam}))).await, 200);
    let fresh = Signer { ak: &nak, sk: &nsk, token: Some(&ntoken), service: "s3" };
    expect(&api(&s, fresh, "GET", "/-/api/v1/roles", None).await, 200);
    let without_token = Signer { token: None, ..fresh };
    problem(&api(&s, without_token, "GET", "/-/api/v1/roles", None).await, 403, "invalid-token", "/-/api/v1/roles");
}
