//! Broker links over HTTP: created through the admin API, redeemed at `/l/{token}`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::admin::{REPORT, create_link, json_of, link_id, link_path, link_url, outcomes, show_link, user_with_key};
use common::{ROOT, Resp, TestServer, api, as_user, bucket_with, http};
use serde_json::{Value, json};

async fn setup() -> TestServer {
    TestServer::with_report(|_| {}).await
}

async fn get(url: &str) -> Resp {
    http("GET", url, &[], Vec::new()).await
}

#[tokio::test]
async fn one_time_link_then_410_and_audit() {
    let s = setup().await;
    let link = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "max_uses": 1, "filename": "Q3 report.pdf"})).await;
    assert_eq!(link["uses"], 0);
    assert_eq!(link["state"], "active");
    let url = link_url(&link);
    assert!(url.starts_with(&format!("{}/l/", s.endpoint)));
    let head = http("HEAD", url, &[], Vec::new()).await;
    assert_eq!(head.status, 200, "HEAD does not consume");
    // The audit trail orders rows by their millisecond, then by when they were
    // written: HEAD's row is buffered and the use's is written at once, so in one
    // millisecond they would read the other way round.
    s.clock.advance_ms(1);
    let first = get(url).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.body, REPORT);
    assert_eq!(first.header("content-disposition"), Some("attachment; filename=\"Q3 report.pdf\"; filename*=UTF-8''Q3%20report.pdf"));
    let second = get(url).await;
    assert_eq!(second.status, 410, "{}", second.text());
    let html = http("GET", url, &[("accept", "text/html")], Vec::new()).await;
    assert_eq!(html.status, 410);
    assert!(html.text().contains("<html"));
    assert_eq!(get(&format!("{}/l/not-a-token", s.endpoint)).await.status, 404);

    let shown = show_link(&s, &link).await;
    assert_eq!(shown["state"], "exhausted");
    assert_eq!(shown["uses"], 1);
    assert_eq!(outcomes(&shown), ["head", "granted", "exhausted", "exhausted"]);
    assert_eq!(shown["audit"][1]["bytes"], 10);
    assert!(shown["audit"][1]["client_ip"].as_str().unwrap().starts_with("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_max_uses_succeed_under_concurrency() {
    // 6,000 requests from one address: beyond the default rate limit.
    let s = Arc::new(TestServer::with_report(|c| c.limits.link_requests_per_second = 0).await);
    // The issue's trial: 300 concurrent GETs on a max_uses=10 link, 20 times.
    for _ in 0..20 {
        let link = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "max_uses": 10})).await;
        let url = Arc::new(link_url(&link).to_owned());
        let mut tasks = Vec::new();
        for _ in 0..300 {
            let url = url.clone();
            tasks.push(tokio::spawn(async move { get(&url).await.status }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                200 => ok += 1,
                410 => {}
                other => panic!("unexpected status {other}"),
            }
        }
        assert_eq!(ok, 10);
    }
}

#[tokio::test]
async fn expiry_not_before_ip_and_revocation() {
    let s = setup().await;
    let soon = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "expires_in": 60})).await;
    s.clock.advance_secs(55);
    assert_eq!(get(link_url(&soon)).await.status, 200);
    s.clock.advance_secs(5);
    assert_eq!(get(link_url(&soon)).await.status, 410);

    let in_an_hour = s.now().plus(3600).rfc3339();
    let later = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "not_before": in_an_hour, "expires_in": 7200})).await;
    assert_eq!(later["state"], "not-yet-valid");
    assert_eq!(get(link_url(&later)).await.status, 403);
    // Longer than a week is fine (SigV4's cap does not apply), up to links.max_expires_in.
    let long = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "expires_in": 30 * 86_400})).await;
    assert_eq!(get(link_url(&long)).await.status, 200);
    let r = api(&s, ROOT, "POST", "/-/api/v1/links", Some(json!({"bucket": "bkt", "key": "report.pdf", "expires_in": 999_999_999}))).await;
    assert_eq!(r.status, 400, "{}", r.text());

    let local = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "allowed_ips": ["127.0.0.0/8", "::1/128"]})).await;
    assert_eq!(get(link_url(&local)).await.status, 200);
    let remote = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "allowed_ips": ["10.0.0.0/8"]})).await;
    assert_eq!(get(link_url(&remote)).await.status, 403);
    let bad =
        api(&s, ROOT, "POST", "/-/api/v1/links", Some(json!({"bucket": "bkt", "key": "report.pdf", "allowed_ips": ["10.0.0.0/33"]}))).await;
    assert_eq!(bad.status, 400);

    let one = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "group": "g1"})).await;
    let two = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "group": "g1"})).await;
    let three = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf"})).await;
    let del = api(&s, ROOT, "DELETE", &format!("/-/api/v1/links/{}", link_id(&three)), None).await;
    assert_eq!(del.status, 204);
    assert_eq!(get(link_url(&three)).await.status, 410);
    let bulk = json_of(&api(&s, ROOT, "POST", "/-/api/v1/links:revoke", Some(json!({"group": "g1"}))).await);
    assert_eq!(bulk["revoked"], 2);
    assert_eq!(get(link_url(&one)).await.status, 410);
    assert_eq!(get(link_url(&two)).await.status, 410);
    assert_eq!(get(link_url(&local)).await.status, 200);
}

#[tokio::test]
async fn a_user_grants_no_more_than_they_hold_and_links_follow_the_issuer() {
    let s = setup().await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","linkgate:CreateLink"],"Resource":"arn:aws:s3:::bkt/*"}]}"#;
    let (ak, sk) = user_with_key(&s, "alice", Some(policy)).await;
    let alice = as_user(&ak, &sk);
    let upload = api(&s, alice, "POST", "/-/api/v1/links", Some(json!({"bucket": "bkt", "key": "x", "method": "PUT"}))).await;
    assert_eq!(upload.status, 403, "alice may not upload, so she may not share an upload: {}", upload.text());
    let r = api(&s, alice, "POST", "/-/api/v1/links", Some(json!({"bucket": "bkt", "key": "report.pdf"}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let link = json_of(&r);
    let url = link_url(&link);
    assert_eq!(get(url).await.status, 200);
    // Rotating alice's key does not kill the link.
    let k2 = json_of(&api(&s, ROOT, "POST", "/-/api/v1/users/alice/keys", None).await);
    assert_eq!(api(&s, ROOT, "DELETE", &format!("/-/api/v1/keys/{ak}"), None).await.status, 204);
    assert!(k2["access_key_id"].is_string());
    assert_eq!(get(url).await.status, 200);
    // Losing the permission does.
    assert_eq!(api(&s, ROOT, "DELETE", "/-/api/v1/users/alice/policy", None).await.status, 204);
    assert_eq!(get(url).await.status, 403);
}

#[tokio::test]
async fn one_time_upload_link() {
    let s = setup().await;
    let link = create_link(&s, json!({"bucket": "bkt", "key": "inbox/upload.bin", "method": "PUT", "max_uses": 1})).await;
    let url = link_url(&link);
    let put = http("PUT", url, &[("content-type", "application/octet-stream")], b"uploaded!".to_vec()).await;
    assert_eq!(put.status, 200, "{}", put.text());
    let again = http("PUT", url, &[], b"again".to_vec()).await;
    assert_eq!(again.status, 410);
    assert_eq!(get(url).await.status, 405, "an upload link does not download");
    let got = s.client().get_object().bucket("bkt").key("inbox/upload.bin").send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"uploaded!");
}

#[tokio::test]
async fn the_store_holds_no_token() {
    let s = setup().await;
    let link = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf"})).await;
    let token = link["token"].as_str().unwrap();
    for f in s.all_files() {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "token found in {}", f.display());
    }
}

#[tokio::test]
async fn a_group_expiry_cut_and_group_revocation() {
    let s = setup().await;
    let a = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "group": "partners", "expires_in": 86_400})).await;
    let b = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "group": "partners", "expires_in": 86_400})).await;
    let other = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "group": "others", "expires_in": 86_400})).await;
    let cut = api(&s, ROOT, "PATCH", "/-/api/v1/groups/partners", Some(json!({"expires_in": 1}))).await;
    assert_eq!(cut.status, 200, "{}", cut.text());
    assert_eq!(json_of(&cut)["shortened"], 2);
    s.clock.advance_secs(1);
    assert_eq!(get(link_url(&a)).await.status, 410);
    assert_eq!(get(link_url(&b)).await.status, 410);
    assert_eq!(get(link_url(&other)).await.status, 200);
    let revoked = json_of(&api(&s, ROOT, "PATCH", "/-/api/v1/groups/others", Some(json!({"revoke": true}))).await);
    assert_eq!(revoked["revoked"], 1);
    assert_eq!(get(link_url(&other)).await.status, 410);
    let listed = json_of(&api(&s, ROOT, "GET", "/-/api/v1/links?group=others&state=revoked", None).await);
    assert_eq!(listed["links"].as_array().unwrap().len(), 1);
    assert_eq!(api(&s, ROOT, "PATCH", "/-/api/v1/groups/x", Some(json!({}))).await.status, 400);
}

#[tokio::test]
async fn redirect_delivery_hands_out_a_short_presigned_url_once() {
    let s = TestServer::start_with(|c| c.links.redirect_ttl = 2).await;
    bucket_with(&s.client(), "bkt", &[("dir/a b.txt", b"redirected")]).await;
    let link =
        create_link(&s, json!({"bucket": "bkt", "key": "dir/a b.txt", "delivery": "redirect", "max_uses": 1, "filename": "a.txt"})).await;
    let first = get(link_url(&link)).await;
    assert_eq!(first.status, 302, "{}", first.text());
    let location = first.header("location").unwrap().to_owned();
    assert!(location.starts_with(&format!("{}/bkt/dir/a%20b.txt?", s.endpoint)), "{location}");
    assert!(location.contains("X-Amz-Expires=2&"), "{location}");
    let fetched = get(&location).await;
    assert_eq!(fetched.status, 200, "{}", fetched.text());
    assert_eq!(fetched.body, b"redirected");
    assert!(fetched.header("content-disposition").unwrap().contains("a.txt"));
    assert_eq!(get(link_url(&link)).await.status, 410, "the link itself was one-time");
    // The URL's own 2 s pass on the server's clock.
    s.clock.advance_secs(2);
    get(&location).await.assert_error(403, "AccessDenied", Some("Request has expired"));
    let put =
        api(&s, ROOT, "POST", "/-/api/v1/links", Some(json!({"bucket": "bkt", "key": "x", "method": "PUT", "delivery": "redirect"}))).await;
    assert_eq!(put.status, 400);
}

#[tokio::test]
async fn a_download_cut_short_is_audited_as_incomplete_with_the_bytes_sent() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let s = setup().await;
    // Larger than loopback socket buffers can absorb, so the server is still sending
    // when the client hangs up.
    let size = 32 << 20;
    s.plain_client().put_object().bucket("bkt").key("big.bin").body(vec![5u8; size].into()).send().await.unwrap();
    let link = create_link(&s, json!({"bucket": "bkt", "key": "big.bin"})).await;
    let path = link_path(&link);
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes()).await.unwrap();
    let mut first = vec![0u8; 64 * 1024];
    let n = conn.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    drop(conn);

    let mut audit = Value::Null;
    for _ in 0..100 {
        audit = show_link(&s, &link).await["audit"].clone();
        if audit.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(audit[0]["outcome"], "incomplete", "{audit}");
    assert_eq!(audit[0]["status"], 200);
    let sent = audit[0]["bytes"].as_u64().unwrap();
    assert!(sent < size as u64, "bytes sent {sent} must be what went out, not the Content-Length");

    // A whole download reads `granted` with every byte.
    let whole = get(link_url(&link)).await;
    assert_eq!(whole.body.len(), size);
    let shown = show_link(&s, &link).await;
    assert_eq!(shown["audit"][1]["outcome"], "granted", "{shown}");
    assert_eq!(shown["audit"][1]["bytes"], size);
}

#[tokio::test]
async fn range_requests_on_a_link_get_206_and_take_a_use_each() {
    let s = setup().await;
    let link = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "max_uses": 2})).await;
    let url = link_url(&link);
    let part = http("GET", url, &[("range", "bytes=2-5")], Vec::new()).await;
    assert_eq!(part.status, 206, "{}", part.text());
    assert_eq!(part.body, b"2345");
    assert_eq!(part.header("content-range"), Some("bytes 2-5/10"));
    let tail = http("GET", url, &[("range", "bytes=-3")], Vec::new()).await;
    assert_eq!((tail.status, tail.body.as_slice()), (206, &b"789"[..]));
    assert_eq!(http("GET", url, &[("range", "bytes=0-0")], Vec::new()).await.status, 410, "each range request is a use");
    let shown = show_link(&s, &link).await;
    let rows: Vec<(u64, &str, u64)> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["status"].as_u64().unwrap(), a["outcome"].as_str().unwrap(), a["bytes"].as_u64().unwrap()))
        .collect();
    assert_eq!(rows, [(206, "granted", 4), (206, "granted", 3), (410, "exhausted", 0)]);
}
