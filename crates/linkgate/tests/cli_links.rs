//! `linkgate share` and `linkgate links …`, run as the built binary against a server
//! started in-process: share a file as a one-time link, redeem it, see it
//! exhausted; create links by hand and revoke them one by one and in bulk; protect
//! links with a password read from standard input (`--password-stdin`), deliver by
//! redirect, and link to a configured upstream API (`--upstream`/`--path`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use common::process::{cli, fails, ok, run, text};
use common::upstream::{UpstreamEnv, upstream};
use common::{SECRET_KEY, TestServer, bucket_with, http};
use serde_json::Value;

/// Runs the CLI with a clean environment: the root keys, the server's endpoint
/// (by flag, to exercise it), an empty home directory, and empty standard input.
async fn linkgate(server: &TestServer, home: &Path, args: &[&str]) -> Output {
    linkgate_stdin(server, home, args, b"").await
}

/// [`linkgate`] with `stdin` piped to the process (then closed).
async fn linkgate_stdin(server: &TestServer, home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = cli(home, SECRET_KEY);
    cmd.args(args).args(["--endpoint-url", &server.endpoint]);
    run(cmd, stdin).await
}

#[track_caller]
fn usage_failure(out: &Output) -> String {
    let err = fails(out, 2);
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    err
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
    bucket_with(&server.client(), "bkt", &[("docs/a.txt", b"aaa"), ("docs/b.txt", b"bbb")]).await;
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

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_links_from_stdin_and_redirect_delivery() {
    let server = TestServer::start().await;
    let s3 = server.client();
    bucket_with(&s3, "bkt", &[("secret.txt", b"top secret")]).await;
    let home = tempfile::tempdir().unwrap();

    // The first line is the password (its \r\n stripped); the rest is ignored.
    let stdin = format!("{PASSWORD}\r\nnot part of it\n");
    let out =
        linkgate_stdin(&server, home.path(), &["links", "create", "s3://bkt/secret.txt", "--password-stdin", "--json"], stdin.as_bytes())
            .await;
    let created = json(&ok(&out));
    assert_eq!(created["password"], true, "{created}");
    assert!(!text(&out.stdout).contains(PASSWORD) && !text(&out.stderr).contains(PASSWORD));
    let (id, url) = (created["id"].as_str().unwrap(), created["url"].as_str().unwrap());

    let shown = json(&ok(&linkgate(&server, home.path(), &["links", "show", id, "--json"]).await));
    assert_eq!(shown["password"], true, "{shown}");
    let shown = ok(&linkgate(&server, home.path(), &["links", "show", id]).await);
    assert!(shown.contains("Password:    yes") && shown.contains("Delivery:    stream"), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");

    let none = http("GET", url, &[], Vec::new()).await;
    assert_eq!(none.status, 401, "{}", none.text());
    let wrong = http("GET", url, &[("x-linkgate-password", "correct horse battery")], Vec::new()).await;
    assert_eq!(wrong.status, 401, "{}", wrong.text());
    let right = http("GET", url, &[("x-linkgate-password", PASSWORD)], Vec::new()).await;
    assert_eq!(right.status, 200, "{}", right.text());
    assert_eq!(right.body, b"top secret");
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("anyone:{PASSWORD}")));
    assert_eq!(http("GET", url, &[("authorization", &basic)], Vec::new()).await.status, 200);

    // Empty standard input (or an empty first line): a usage error, and no link.
    let before = json(&ok(&linkgate(&server, home.path(), &["links", "list", "--json"]).await))["links"].as_array().unwrap().len();
    for empty in [&b""[..], b"\n", b"\r\nsecond line\n"] {
        let out = linkgate_stdin(&server, home.path(), &["links", "create", "s3://bkt/secret.txt", "--password-stdin"], empty).await;
        let err = usage_failure(&out);
        assert!(err.contains("--password-stdin: standard input held no password"), "{err}");
    }
    let after = json(&ok(&linkgate(&server, home.path(), &["links", "list", "--json"]).await))["links"].as_array().unwrap().len();
    assert_eq!(before, after);
    // Other mistakes are reported before standard input is read.
    let out =
        linkgate_stdin(&server, home.path(), &["links", "create", "s3://bkt/secret.txt", "--method", "PATCH", "--password-stdin"], b"pw\n")
            .await;
    assert!(usage_failure(&out).contains("GET (download) or PUT (upload)"));
    // The password is never a flag's value.
    let out = linkgate(&server, home.path(), &["links", "create", "s3://bkt/secret.txt", "--password", PASSWORD]).await;
    assert!(usage_failure(&out).contains("unexpected argument '--password'"));

    // Redirect delivery: a 302 to a short-lived presigned URL that serves the object.
    let redirect =
        json(&ok(&linkgate(&server, home.path(), &["links", "create", "s3://bkt/secret.txt", "--delivery", "redirect", "--json"]).await));
    assert_eq!(redirect["delivery"], "redirect");
    let r = http("GET", redirect["url"].as_str().unwrap(), &[], Vec::new()).await;
    assert_eq!(r.status, 302, "{}", r.text());
    let location = r.header("location").unwrap().to_owned();
    assert!(location.contains("X-Amz-Signature="), "{location}");
    assert_eq!(http("GET", &location, &[], Vec::new()).await.body, b"top secret");
    let out =
        linkgate(&server, home.path(), &["links", "create", "s3://bkt/secret.txt", "--delivery", "redirect", "--method", "PUT"]).await;
    assert!(usage_failure(&out).contains("--delivery redirect is only for download links"));
    let out = linkgate(&server, home.path(), &["links", "create", "s3://bkt/secret.txt", "--delivery", "carrier-pigeon"]).await;
    usage_failure(&out);

    // share: the same --password-stdin, and --delivery.
    let file = home.path().join("notes.txt");
    std::fs::write(&file, b"shared notes").unwrap();
    let path = file.to_str().unwrap();
    let out =
        linkgate_stdin(&server, home.path(), &["share", path, "--password-stdin", "--no-qr", "--json"], format!("{PASSWORD}\n").as_bytes())
            .await;
    let shared = json(&ok(&out));
    assert_eq!(shared["link"]["password"], true, "{shared}");
    let url = shared["url"].as_str().unwrap();
    assert_eq!(http("GET", url, &[], Vec::new()).await.status, 401);
    let got = http("GET", url, &[("x-linkgate-password", PASSWORD)], Vec::new()).await;
    assert_eq!((got.status, got.body.as_slice()), (200, &b"shared notes"[..]), "{}", got.text());

    let out =
        linkgate_stdin(&server, home.path(), &["share", path, "--password-stdin", "--delivery", "redirect", "--no-qr"], b"pw\n").await;
    let url = ok(&out).trim().to_owned();
    assert!(text(&out.stderr).contains("with a password"), "{}", text(&out.stderr));
    assert_eq!(http("GET", &url, &[], Vec::new()).await.status, 401);
    assert_eq!(http("GET", &url, &[("x-linkgate-password", "pw")], Vec::new()).await.status, 302);

    // An empty password stops share before anything is uploaded.
    let listed = s3.list_objects_v2().bucket("shared").send().await.unwrap().key_count();
    let out = linkgate_stdin(&server, home.path(), &["share", path, "--password-stdin"], b"").await;
    assert!(usage_failure(&out).contains("standard input held no password"));
    assert_eq!(s3.list_objects_v2().bucket("shared").send().await.unwrap().key_count(), listed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_links_by_name_and_path() {
    // A stand-in API that answers every request with its method and path.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|req: axum::extract::Request| async move { format!("{} {}", req.method(), req.uri().path()) });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let server =
        TestServer::start_with_env(move |c| c.upstreams.push(upstream("api", format!("http://{api_addr}/prod"))), &UpstreamEnv).await;
    let home = tempfile::tempdir().unwrap();

    let created = json(&ok(&linkgate(
        &server,
        home.path(),
        &["links", "create", "--upstream", "api", "--path", "/v1/items", "--method", "post", "--json"],
    )
    .await));
    assert_eq!(
        (created["upstream"].as_str(), created["path"].as_str(), created["method"].as_str()),
        (Some("api"), Some("/v1/items"), Some("POST"))
    );
    let url = created["url"].as_str().unwrap();
    let r = http("POST", url, &[], b"{}".to_vec()).await;
    assert_eq!((r.status, r.text().as_str()), (200, "POST /prod/v1/items"), "{}", r.text());

    let id = created["id"].as_str().unwrap();
    let shown = ok(&linkgate(&server, home.path(), &["links", "show", id]).await);
    assert!(shown.contains("Target:      upstream:api/v1/items (POST)"), "{shown}");
    assert!(shown.contains("Upstream:    api\nPath:        /v1/items\nMethod:      POST"), "{shown}");
    let list = ok(&linkgate(&server, home.path(), &["links", "list"]).await);
    assert!(list.lines().any(|l| l.starts_with(id) && l.ends_with("upstream:api/v1/items (POST)")), "{list}");

    // No --path: the upstream's base; a password works for upstream links too.
    let out = linkgate_stdin(&server, home.path(), &["links", "create", "--upstream", "api", "--password-stdin", "--json"], b"pw\n").await;
    let root = json(&ok(&out));
    assert_eq!((root["path"].as_str(), root["password"].as_bool()), (Some("/"), Some(true)), "{root}");
    let url = root["url"].as_str().unwrap();
    assert_eq!(http("GET", url, &[], Vec::new()).await.status, 401);
    let r = http("GET", url, &[("x-linkgate-password", "pw")], Vec::new()).await;
    assert_eq!((r.status, r.text().as_str()), (200, "GET /prod/"), "{}", r.text());

    // A name the server does not know: its problem, readably, exit 1.
    let out = linkgate(&server, home.path(), &["links", "create", "--upstream", "nope"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("unknown upstream") && err.contains("\"nope\"") && err.contains("[[upstreams]]"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // Usage errors, before anything is sent.
    for (args, says) in [
        (&["links", "create"][..], "<S3_URI|--upstream <NAME>>"),
        (&["links", "create", "s3://b/k", "--upstream", "api"], "cannot be used with"),
        (&["links", "create", "--path", "/x"], "required"),
        (&["links", "create", "--upstream", "api", "--path", "v1"], "must start with '/'"),
        (&["links", "create", "--upstream", "api", "--method", "TRACE"], "possible values"),
        (&["links", "create", "s3://b/k", "--method", "DELETE"], "GET (download) or PUT (upload)"),
    ] {
        let err = usage_failure(&linkgate(&server, home.path(), args).await);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
