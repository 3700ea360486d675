//! Password-protected links, the brute-force ban, and the per-address rate limit
//! on `/l/{token}`, over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::admin::{REPORT, create_link, json_of, link_path, link_url, outcomes, show_link};
use common::raw::status_from;
use common::{ROOT, TestServer, api, http};
use serde_json::json;

#[tokio::test]
async fn a_password_link_refuses_without_consuming_until_the_right_password() {
    let s = TestServer::with_report(|_| {}).await;
    let link = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "max_uses": 1, "password": "correct horse"})).await;
    assert_eq!(link["password"], true);
    let url = link_url(&link);

    let none = http("GET", url, &[], Vec::new()).await;
    assert_eq!(none.status, 401, "{}", none.text());
    assert!(none.header("www-authenticate").unwrap().starts_with("Basic realm="));
    assert!(none.text().contains("X-Linkgate-Password"), "{}", none.text());
    assert_eq!(none.header("cache-control"), Some("no-store"));

    let page = http("GET", url, &[("accept", "text/html,application/xhtml+xml")], Vec::new()).await;
    assert_eq!(page.status, 401);
    assert!(page.header("www-authenticate").is_none(), "browsers get the form, not the native Basic prompt");
    assert!(page.text().contains("<form method=\"post\">") && page.text().contains("name=\"password\""), "{}", page.text());

    let wrong = http("GET", url, &[("x-linkgate-password", "correct horsE")], Vec::new()).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("Wrong password (4 attempts left)"), "{}", wrong.text());
    let wrong_basic = base64::engine::general_purpose::STANDARD.encode("anyone:nope");
    let wrong = http("GET", url, &[("authorization", &format!("Basic {wrong_basic}"))], Vec::new()).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("(3 attempts left)"), "{}", wrong.text());

    let head = http("HEAD", url, &[("x-linkgate-password", "correct horse")], Vec::new()).await;
    assert_eq!(head.status, 200, "HEAD with the password answers and takes no use");
    assert_eq!(show_link(&s, &link).await["uses"], 0, "wrong passwords and HEAD consumed nothing");
    // HEAD's audit row is buffered, the use's written at once: a millisecond apart,
    // they cannot read the other way round.
    s.clock.advance_ms(1);

    let right = base64::engine::general_purpose::STANDARD.encode(":correct horse");
    let got = http("GET", url, &[("authorization", &format!("Basic {right}"))], Vec::new()).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, REPORT);
    let again = http("GET", url, &[("x-linkgate-password", "correct horse")], Vec::new()).await;
    assert_eq!(again.status, 410);

    let shown = show_link(&s, &link).await;
    assert_eq!(shown["uses"], 1);
    assert_eq!(shown["password"], true);
    assert_eq!(
        outcomes(&shown),
        ["password-required", "password-required", "wrong-password", "wrong-password", "head", "granted", "exhausted"]
    );

    // The store keeps an argon2id hash, never the password.
    for f in s.all_files() {
        let bytes = std::fs::read(&f).unwrap();
        assert!(!bytes.windows(13).any(|w| w == b"correct horse"), "password found in {}", f.display());
    }
    let hashed = s.all_files().iter().any(|f| std::fs::read(f).unwrap().windows(10).any(|w| w == b"$argon2id$"));
    assert!(hashed, "the hash is argon2id");
}

#[tokio::test]
async fn the_browser_form_posts_the_password_to_the_link() {
    let s = TestServer::with_report(|_| {}).await;
    let stream = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "password": "pw", "filename": "r.pdf"})).await;
    let form = [("content-type", "application/x-www-form-urlencoded"), ("accept", "text/html")];
    let url = link_url(&stream);
    let wrong = http("POST", url, &form, "password=nope").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("Wrong password"), "{}", wrong.text());
    let got = http("POST", url, &form, "password=pw").await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, REPORT);
    assert!(got.header("content-disposition").unwrap().contains("r.pdf"));

    let redirect = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "password": "p&w=1", "delivery": "redirect"})).await;
    let r = http("POST", link_url(&redirect), &form, "password=p%26w%3D1").await;
    assert_eq!(r.status, 303, "after a POST the browser must follow with GET: {}", r.text());
    let fetched = http("GET", r.header("location").unwrap(), &[], Vec::new()).await;
    assert_eq!(fetched.body, REPORT);

    // A form POST to a link without a password is still not a download method.
    let plain = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf"})).await;
    let r = http("POST", link_url(&plain), &[("content-type", "text/plain")], "x").await;
    assert_eq!(r.status, 405);
    // An oversized form is refused.
    let r = http("POST", url, &form, format!("password={}", "a".repeat(5000))).await;
    assert_eq!(r.status, 413);
}

#[tokio::test]
async fn wrong_passwords_ban_that_client_from_that_link() {
    let s = TestServer::with_report(|c| {
        c.limits.password_attempts = 3;
        c.limits.password_ban_secs = 600;
    })
    .await;
    let link = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "password": "pw"})).await;
    let other = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "password": "pw"})).await;
    let right = "X-Linkgate-Password: pw\r\n";
    for n in 0..3 {
        let (status, _) = status_from("127.0.0.1", &s, &link_path(&link), "X-Linkgate-Password: guess\r\n").await;
        assert_eq!(status, 401, "wrong password {n}");
    }
    let (status, head) = status_from("127.0.0.1", &s, &link_path(&link), right).await;
    assert_eq!(status, 429, "banned even with the right password: {head}");
    let retry: u64 = head.lines().find_map(|l| l.strip_prefix("retry-after: ")).unwrap().parse().unwrap();
    assert!((590..=600).contains(&retry), "Retry-After {retry}");
    // Another client, and another link from the same client, are unaffected.
    assert_eq!(status_from("127.0.0.2", &s, &link_path(&link), right).await.0, 200);
    assert_eq!(status_from("127.0.0.1", &s, &link_path(&other), right).await.0, 200);

    let shown = show_link(&s, &link).await;
    assert_eq!(outcomes(&shown), ["wrong-password", "wrong-password", "wrong-password", "password-ban", "granted"]);
    assert_eq!(shown["audit"][4]["client_ip"], "127.0.0.2");

    // The ban ends with its window, 600 s on the server's clock.
    s.clock.advance_secs(590);
    assert_eq!(status_from("127.0.0.1", &s, &link_path(&link), right).await.0, 429, "ten seconds before the end");
    s.clock.advance_secs(10);
    assert_eq!(status_from("127.0.0.1", &s, &link_path(&link), right).await.0, 200);
}

#[tokio::test]
async fn password_validation_at_creation() {
    let s = TestServer::with_report(|_| {}).await;
    for bad in [json!(""), json!("x".repeat(1025))] {
        let r = api(&s, ROOT, "POST", "/-/api/v1/links", Some(json!({"bucket": "bkt", "key": "report.pdf", "password": bad}))).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(json_of(&r)["detail"].as_str().unwrap().contains("password"));
    }
    let r = api(&s, ROOT, "POST", "/-/api/v1/links", Some(json!({"bucket": "bkt", "key": "report.pdf", "password": 7}))).await;
    assert_eq!(r.status, 400);
    let plain = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf"})).await;
    assert_eq!(plain["password"], false);
}

#[tokio::test]
async fn redemptions_beyond_the_rate_get_429_per_client_address() {
    let s = TestServer::with_report(|c| {
        c.limits.link_requests_per_second = 1;
        c.limits.link_burst = 3;
    })
    .await;
    let link = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf"})).await;
    let path = link_path(&link);
    for _ in 0..2 {
        assert_eq!(status_from("127.0.0.1", &s, &path, "").await.0, 200);
    }
    assert_eq!(status_from("127.0.0.1", &s, "/l/unknown-token", "").await.0, 404, "unknown tokens count too");
    let (status, head) = status_from("127.0.0.1", &s, &path, "Accept: text/html\r\n").await;
    assert_eq!(status, 429, "{head}");
    assert!(head.contains("retry-after: 1\r\n"), "{head}");
    assert!(head.contains("text/html"), "browsers get a page");
    assert_eq!(status_from("127.0.0.3", &s, &path, "").await.0, 200, "each address has its own budget");
    // The rate refills: one more after a second (of the server's clock, which the
    // limiter reads).
    s.clock.advance_secs(1);
    assert_eq!(status_from("127.0.0.1", &s, &path, "").await.0, 200);
    assert_eq!(status_from("127.0.0.1", &s, &path, "").await.0, 429);
    // Rate-limited requests are not audited (a flood must not become audit rows).
    let shown = show_link(&s, &link).await;
    assert_eq!(outcomes(&shown), ["granted", "granted", "granted", "granted"]);
    // The admin API and S3 are not behind this limit.
    for _ in 0..5 {
        assert_eq!(api(&s, ROOT, "GET", "/-/api/v1/links", None).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_cannot_outrun_the_ban() {
    let s = std::sync::Arc::new(TestServer::with_report(|c| c.limits.password_attempts = 3).await);
    let link = create_link(&s, json!({"bucket": "bkt", "key": "report.pdf", "password": "pw"})).await;
    let path = std::sync::Arc::new(link_path(&link));
    let mut guesses = Vec::new();
    for n in 0..24 {
        let (s, path) = (s.clone(), path.clone());
        guesses
            .push(tokio::spawn(async move { status_from("127.0.0.1", &s, &path, &format!("X-Linkgate-Password: guess-{n}\r\n")).await.0 }));
    }
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.unwrap());
    }
    let checked = statuses.iter().filter(|&&st| st == 401).count();
    let in_flight = std::thread::available_parallelism().unwrap().get();
    assert!(statuses.iter().all(|&st| st == 401 || st == 429), "{statuses:?}");
    // Each check holds one of `in_flight` permits and records its strike before
    // releasing it: at most the allowed attempts plus those already in flight.
    assert!(checked <= 3 + in_flight, "{checked} passwords were checked: {statuses:?}");
    assert!(checked >= 3, "{statuses:?}");
}
