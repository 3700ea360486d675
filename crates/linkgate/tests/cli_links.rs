//! `linkgate share` and `linkgate links …`, run as the built binary against a server
//! started in-process: share a file as a one-time link, redeem it, see it
//! exhausted; create links by hand and revoke them one by one and in bulk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{ACCESS_KEY, REGION, SECRET_KEY, TestServer, http};
use serde_json::Value;

/// Runs the CLI with a clean environment: the root keys, the server's endpoint
/// (by flag, to exercise it), and an empty home directory.
async fn linkgate(server: &TestServer, home: &Path, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_linkgate"));
    cmd.env_clear()
        .env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", REGION)
        .args(args)
        .args(["--endpoint-url", &server.endpoint]);
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}\nstdout: {}\nstderr: {}", out.status, text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_one_time_link_then_exhausted() {
    let server = TestServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("hello world.txt");
    let content = common::pattern(1_000_003, 3);
    std::fs::write(&file, &content).unwrap();
    let path = file.to_str().unwrap();

    let out = linkgate(&server, home.path(), &["share", path, "--max-uses", "1", "--no-qr", "--json"]).await;
    let shared = json(&ok(&out));
    assert_eq!(shared["bucket"], "shared");
    assert_eq!(shared["size"], 1_000_003);
    let key = shared["key"].as_str().unwrap();
    let (folder, name) = key.split_once('/').unwrap();
    assert_eq!(name, "hello world.txt");
    assert!(folder.len() == 8 && folder.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    let url = shared["url"].as_str().unwrap();
    assert_eq!(shared["link"]["url"], url);
    assert_eq!(shared["link"]["max_uses"], 1);
    assert_eq!(shared["link"]["filename"], "hello world.txt");
    assert!(url.starts_with(&format!("{}/l/", server.endpoint)), "{url}");

    let first = http("GET", url, &[], Vec::new()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.body, content);
    assert!(first.header("content-disposition").unwrap().contains("hello world.txt"));
    let second = http("GET", url, &[], Vec::new()).await;
    assert_eq!(second.status, 410, "{}", second.text());

    // A second share into the same (now existing) bucket works too; without --json
    // stdout is just the URL (no QR code: stdout is not a terminal).
    let out = linkgate(&server, home.path(), &["share", path, "--key", "fixed/key.bin", "--filename", "x.bin"]).await;
    let url2 = ok(&out);
    assert!(url2.trim().starts_with(&format!("{}/l/", server.endpoint)) && url2.trim().lines().count() == 1, "{url2}");
    assert!(text(&out.stderr).contains("shown only this once"), "{}", text(&out.stderr));
    assert_eq!(http("GET", url2.trim(), &[], Vec::new()).await.body, content);

    let list = ok(&linkgate(&server, home.path(), &["links", "list"]).await);
    let id = shared["link"]["id"].as_str().unwrap();
    let row = list.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id} not listed:\n{list}"));
    assert!(row.contains("exhausted") && row.contains("1/1") && row.contains(&format!("s3://shared/{key}")), "{row}");
    assert!(list.starts_with("ID "), "{list}");
    let exhausted = json(&ok(&linkgate(&server, home.path(), &["links", "list", "--state", "exhausted", "--json"]).await));
    let ids: Vec<&str> = exhausted["links"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id]);

    let shown = ok(&linkgate(&server, home.path(), &["links", "show", id]).await);
    assert!(shown.contains("State:       exhausted"), "{shown}");
    assert!(shown.contains("granted") && shown.contains("exhausted"), "{shown}");

    // A file that is not there fails before anything is sent.
    let out = linkgate(&server, home.path(), &["share", "/nonexistent/file.txt"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/file.txt"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_and_revoke_links() {
    let server = TestServer::start().await;
    let s3 = server.client();
    s3.create_bucket().bucket("bkt").send().await.unwrap();
    s3.put_object().bucket("bkt").key("docs/a.txt").body(b"aaa".to_vec().into()).send().await.unwrap();
    s3.put_object().bucket("bkt").key("docs/b.txt").body(b"bbb".to_vec().into()).send().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let run = |args: &'static [&'static str]| linkgate(&server, home.path(), args);

    // Plain output: the URL only, the once-only note on stderr.
    let out = run(&["links", "create", "s3://bkt/docs/a.txt", "--expires-in", "600", "--group", "g1"]).await;
    let url_a = ok(&out).trim().to_owned();
    assert!(text(&out.stderr).contains("shown only this once"), "{}", text(&out.stderr));
    assert_eq!(http("GET", &url_a, &[], Vec::new()).await.body, b"aaa");

    let created = json(&ok(&run(&["links", "create", "s3://bkt/docs/b.txt", "--max-uses", "5", "--group", "g1", "--json"]).await));
    let url_b = created["url"].as_str().unwrap();
    assert!(created["token"].is_string() && created["id"].is_string(), "{created}");
    assert_eq!((created["state"].as_str(), created["max_uses"].as_u64()), (Some("active"), Some(5)));
    let id_b = created["id"].as_str().unwrap().to_owned();

    let c = json(&ok(&run(&["links", "create", "s3://bkt/docs/a.txt", "--json"]).await));
    let url_c = c["url"].as_str().unwrap().to_owned();
    let id_c = c["id"].as_str().unwrap().to_owned();

    // One by id.
    let out = ok(&linkgate(&server, home.path(), &["links", "revoke", &id_c]).await);
    assert_eq!(out.trim(), "Revoked 1 link.");
    assert_eq!(http("GET", &url_c, &[], Vec::new()).await.status, 410);

    // The group: both g1 links.
    let listed = ok(&run(&["links", "list", "--group", "g1"]).await);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert_eq!(ok(&run(&["links", "revoke", "--group", "g1"]).await).trim(), "Revoked 2 links.");
    assert_eq!(http("GET", &url_a, &[], Vec::new()).await.status, 410);
    assert_eq!(http("GET", url_b, &[], Vec::new()).await.status, 410);
    let shown = ok(&linkgate(&server, home.path(), &["links", "show", &id_b]).await);
    assert!(shown.contains("State:       revoked") && shown.contains("Revoked:"), "{shown}");
    let revoked = json(&ok(&run(&["links", "list", "--state", "revoked", "--json"]).await));
    assert_eq!(revoked["links"].as_array().unwrap().len(), 3);

    // By bucket and prefix (nothing left active there).
    let n = json(&ok(&run(&["links", "revoke", "--bucket", "bkt", "--prefix", "docs/", "--json"]).await));
    assert!(n["revoked"].is_u64(), "{n}");

    // Errors: a usage error from clap, a problem from the server.
    let out = run(&["links", "revoke", "--group", "g1", "--issuer", "root"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["links", "show", "lk_nope"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(!text(&out.stderr).trim().is_empty());
    let out = run(&["links", "create", "s3://bkt/docs/a.txt", "--expires-at", "2001-01-01T00:00:00Z"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("already be expired"), "{}", text(&out.stderr));
}
