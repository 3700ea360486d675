//! The `linkgate user|key|policy|role` commands, run as the built binary against a
//! server started in-process: create a user, give it a key and a policy, use the
//! key with the AWS SDK, deactivate it, and read the errors people will see.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use aws_sdk_s3::error::ProvideErrorMetadata;
use common::process::{cli, fails, ok, run};
use common::{SECRET_KEY, TestServer};

/// Runs the CLI with a clean environment (the root key with `secret`, and a home
/// directory with no `~/.aws`), naming the server's endpoint by environment.
async fn linkgate(server: &TestServer, home: &Path, secret: &str, args: &[&str]) -> Output {
    let mut cmd = cli(home, secret);
    cmd.env("LINKGATE_ENDPOINT_URL", &server.endpoint).args(args);
    run(cmd, b"").await
}

const READ_ALL: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_user_key_policy_then_deactivate() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &'static [&'static str]| linkgate(&server, home.path(), SECRET_KEY, args);
    // An IAM name with every punctuation mark IAM allows: it must survive the path.
    let user = "ops+ci=1,a.b@c_d-e";

    let out = ok(&run(&["user", "create", "ops+ci=1,a.b@c_d-e"]).await);
    assert!(out.starts_with(&format!("Created user {user}.")), "{out}");
    let out = ok(&run(&["user", "list"]).await);
    assert!(out.lines().any(|l| l.starts_with(user)), "{out}");

    let created: serde_json::Value = serde_json::from_str(&ok(&run(&["key", "create", "ops+ci=1,a.b@c_d-e", "--json"]).await)).unwrap();
    let key_id = created["access_key_id"].as_str().unwrap().to_owned();
    let secret = created["secret_access_key"].as_str().unwrap().to_owned();
    assert!(key_id.starts_with("AKIA"), "{created}");
    assert_eq!(created["user"], user);
    let s3 = server.client_as(&key_id, &secret);
    let err = s3.list_buckets().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "no policy yet: {err:?}");

    let policy = home.path().join("read-all.json");
    std::fs::write(&policy, READ_ALL).unwrap();
    let policy = policy.to_str().unwrap().to_owned();
    let out = linkgate(&server, home.path(), SECRET_KEY, &["policy", "set", "--user", user, "--name", "all", &policy]).await;
    assert_eq!(ok(&out).trim(), format!("Policy all set on user {user}."));
    s3.list_buckets().send().await.unwrap();
    let out = ok(&run(&["policy", "show", "--user", "ops+ci=1,a.b@c_d-e"]).await);
    assert!(out.starts_with("Policy all:\n{"), "{out}");
    let out = ok(&run(&["user", "show", "ops+ci=1,a.b@c_d-e"]).await);
    assert!(out.contains("Policies: all") && out.contains(&format!("{key_id} (Active)")), "{out}");

    let out = linkgate(&server, home.path(), SECRET_KEY, &["key", "deactivate", &key_id]).await;
    assert_eq!(ok(&out).trim(), format!("Access key {key_id} is now Inactive."));
    let listed: serde_json::Value = serde_json::from_str(&ok(&run(&["key", "list", "ops+ci=1,a.b@c_d-e", "--json"]).await)).unwrap();
    assert_eq!(listed["keys"][0]["status"], "Inactive", "{listed}");
    let err = s3.list_buckets().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidAccessKeyId"), "{err:?}");
    let out = ok(&linkgate(&server, home.path(), SECRET_KEY, &["key", "activate", &key_id]).await);
    assert!(out.contains("is now Active"), "{out}");
    s3.list_buckets().send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_errors_as_people_see_them() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &'static [&'static str]| linkgate(&server, home.path(), SECRET_KEY, args);

    ok(&run(&["user", "create", "alice"]).await);
    let out = ok(&run(&["role", "create", "deploy", "--trust", "alice", "--max-session-duration", "7200"]).await);
    assert!(out.starts_with("Created role deploy.\nARN: arn:aws:iam::"), "{out}");
    let out = ok(&run(&["role", "show", "deploy"]).await);
    assert!(out.contains("Trusted users:        alice\nMax session duration: 7200 s (2 h)"), "{out}");
    let out = ok(&run(&["role", "revoke-sessions", "deploy"]).await);
    assert!(out.starts_with("Revoked the sessions of role deploy issued before "), "{out}");
    assert!(ok(&run(&["role", "show", "deploy"]).await).contains("Sessions revoked before: "));

    // Problems: "linkgate: <title>: <detail>", exit 1.
    let err = fails(&run(&["user", "show", "nobody"]).await, 1);
    assert_eq!(err.trim(), "linkgate: No such user: The user with name nobody cannot be found.");
    let err = fails(&run(&["user", "create", "alice"]).await, 1);
    assert_eq!(err.trim(), "linkgate: Already exists: A user with name alice already exists.");
    let err = fails(&run(&["role", "create", "short", "--trust", "alice", "--max-session-duration", "60"]).await, 1);
    assert!(err.starts_with("linkgate: Invalid request: max_session_duration 60 is out of range"), "{err}");

    // The server's policy validation message, for JSON that parses but is no policy.
    let bad = home.path().join("maybe.json");
    std::fs::write(&bad, r#"{"Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]}"#).unwrap();
    let out = linkgate(&server, home.path(), SECRET_KEY, &["policy", "set", "--user", "alice", bad.to_str().unwrap()]).await;
    let err = fails(&out, 1);
    assert!(err.starts_with("linkgate: Malformed policy document: "), "{err}");
    // Not JSON at all: refused before anything is sent.
    std::fs::write(&bad, "{\"Statement\": [}").unwrap();
    let out = linkgate(&server, home.path(), SECRET_KEY, &["policy", "set", "--user", "alice", bad.to_str().unwrap()]).await;
    assert!(fails(&out, 2).contains("is not valid JSON: "));

    // A wrong secret: the server's authentication problem.
    let err = fails(&linkgate(&server, home.path(), "not-the-secret", &["user", "list"]).await, 1);
    assert!(err.starts_with("linkgate: Authentication failed: "), "{err}");

    let out = ok(&run(&["role", "delete", "deploy"]).await);
    assert_eq!(out.trim(), "Deleted role deploy.");
    assert_eq!(ok(&run(&["role", "list"]).await).trim(), "No roles.");
    assert_eq!(ok(&run(&["user", "delete", "alice"]).await).trim(), "Deleted user alice.");

    // Nobody listening.
    drop(server);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = cli(home.path(), SECRET_KEY).args(["user", "list", "--endpoint-url", &endpoint]).output().unwrap();
    assert_eq!(fails(&out, 1).trim(), format!("linkgate: cannot reach {endpoint}: is linkgate serve running?"));
}
