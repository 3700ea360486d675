//! Upstream links: `/l/{token}[/{rest}]` forwarded to a configured API, signed with
//! SigV4 at the moment of forwarding.
//!
//! The upstream here is a small axum app on `127.0.0.1:0` that behaves like an API
//! behind API Gateway IAM auth: it accepts only header-signed requests for service
//! `execute-api`, checks them with `sigv4::check_header` + `PendingAuth::verify`
//! (payload hash = SHA-256 of the body it received, **max skew 5 minutes**), answers
//! 200 with a JSON echo when valid and 403 otherwise, and records every request
//! (headers included, so the test sees each `X-Amz-Date`). Its clock is the real
//! clock plus an offset the test can move. A path ending in `/slow` is recorded at
//! once but answered only after [`SLOW_ANSWER`], longer than the 1 s timeout of the
//! `billing-1s` upstream (the same API) and well within `billing`'s default 30 s.
//!
//! How "a link lives far longer than the upstream's 5-minute signature window" is
//! shown, honestly and without waiting: linkgate signs forwarded requests at its
//! own (injected) clock while the API judges them against the real one, so the
//! test (1) proves the window is real — a request linkgate signed and the API
//! accepted is replayed verbatim with the API's clock moved 6 minutes ahead and is
//! refused; (2) builds a link that is genuinely old — created with linkgate's clock
//! moved back 3 days (valid for one more day) — and redeems it: the API accepts,
//! and the `X-Amz-Date` it saw is within seconds of the API's clock, i.e. days
//! after the link was made; (3) redeems an admin-API link (`expires_in` 1 day)
//! twice, a second apart on linkgate's clock (moved, not waited for: a second is
//! well inside the API's window), and sees two different, each-valid
//! `X-Amz-Date`s: every forwarded request is signed afresh, so the link's age
//! never matters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::admin::{create_link, json_of, link_id, link_path, link_url, show_link, user_with_key};
use common::upstream::{UP_AK, UP_REGION, UP_SK, UpstreamEnv, upstream};
use common::{ROOT, TestServer, api, as_user, http, real_time_plus};
use http_body_util::BodyExt as _;
use linkgate::config::UpstreamConfig;
use serde_json::{Value, json};
use sigv4::{AmzDate, PathMode, RequestParts, SigningKeyCache};

/// How long the test API takes to answer a path ending in `/slow`.
const SLOW_ANSWER: Duration = Duration::from_millis(2500);

/// One request as the test API received it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
    accepted: bool,
}

impl Seen {
    fn amz_date(&self) -> AmzDate {
        AmzDate::parse(self.headers.get("x-amz-date").unwrap().to_str().unwrap()).unwrap()
    }
}

#[derive(Default)]
struct ApiState {
    offset_secs: AtomicI64,
    seen: Mutex<Vec<Seen>>,
    keys: SigningKeyCache,
}

impl ApiState {
    fn now(&self) -> AmzDate {
        AmzDate::from_system_time(real_time_plus(self.offset_secs.load(Ordering::SeqCst)))
    }
}

/// The test API: SigV4 (`execute-api`, 5-minute skew) or 403.
struct TestApi {
    addr: SocketAddr,
    state: Arc<ApiState>,
}

impl TestApi {
    async fn start() -> Self {
        let state = Arc::new(ApiState::default());
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    fn set_clock_offset(&self, secs: i64) {
        self.state.offset_secs.store(secs, Ordering::SeqCst);
    }
}

async fn handle(State(api): State<Arc<ApiState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let hash = common::sha256_hex(&body);
    let headers: Vec<(&str, &str)> = parts.headers.iter().filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?))).collect();
    let policy = sigv4::Policy {
        region: UP_REGION,
        service: "execute-api",
        path_mode: PathMode::EncodeAgain { normalize: true },
        now: api.now(),
        future_tolerance_secs: 300,
        max_skew_secs: 300,
        payload_hash: Some(&hash),
    };
    let req = RequestParts { method: parts.method.as_str(), path: &path, query: &query, headers: &headers };
    let verdict = sigv4::check_header(&req, &policy).and_then(|p| {
        if p.access_key() != UP_AK {
            return Err(sigv4::VerifyError::UnknownAccessKey(p.access_key().to_owned()));
        }
        p.verify(UP_SK, &api.keys)
    });
    let accepted = verdict.is_ok();
    api.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
        accepted,
    });
    if path.ends_with("/slow") {
        tokio::time::sleep(SLOW_ANSWER).await;
    }
    if let Err(e) = verdict {
        return (StatusCode::FORBIDDEN, [("x-upstream", "refused")], format!("{{\"message\":{:?}}}", e.message())).into_response();
    }
    let echo = json!({
        "method": parts.method.as_str(),
        "path": path,
        "query": query,
        "body": String::from_utf8_lossy(&body),
        "headers": parts.headers.iter().map(|(n, v)| (n.as_str().to_owned(), json!(v.to_str().unwrap_or("")))).collect::<serde_json::Map<_, _>>(),
    });
    let mut r = (StatusCode::OK, [("content-type", "application/json"), ("x-upstream", "echo")], echo.to_string()).into_response();
    // A hop-by-hop header linkgate must not pass back.
    r.headers_mut().insert("keep-alive", "timeout=5".parse().unwrap());
    r
}

/// A linkgate with upstream `billing` → the test API under `/prod` (default 30 s
/// timeout), `billing-1s` → the same with `timeout_secs = 1`, and `down` → a port
/// nobody listens on.
async fn setup() -> (TestServer, TestApi) {
    let api_server = TestApi::start().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let base = format!("http://{}/prod", api_server.addr);
    let s = TestServer::start_with_env(
        move |c| {
            c.upstreams.push(UpstreamConfig { timeout_secs: Some(1), ..upstream("billing-1s", base.clone()) });
            c.upstreams.push(upstream("billing", base));
            c.upstreams.push(upstream("down", format!("http://{closed}")));
        },
        &UpstreamEnv,
    )
    .await;
    (s, api_server)
}

fn audit_outcomes(shown: &Value) -> Vec<(String, u64)> {
    shown["audit"].as_array().unwrap().iter().map(|a| (a["outcome"].as_str().unwrap().to_owned(), a["status"].as_u64().unwrap())).collect()
}

#[tokio::test]
async fn each_forwarded_request_is_signed_afresh_so_links_outlive_the_5_minute_window() {
    let (s, upstream_api) = setup().await;
    let link = create_link(&s, json!({"upstream": "billing", "path": "/v1/invoices", "expires_in": 86_400})).await;
    assert_eq!(link["upstream"], "billing");
    assert_eq!(link["path"], "/v1/invoices");
    let url = link_url(&link).to_owned();

    let first = http("GET", &format!("{url}?id=7&lang=en"), &[], Vec::new()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("x-upstream"), Some("echo"));
    assert_eq!(first.header("keep-alive"), None, "hop-by-hop response headers are dropped");
    let echo = json_of(&first);
    assert_eq!(
        (echo["method"].as_str(), echo["path"].as_str(), echo["query"].as_str()),
        (Some("GET"), Some("/prod/v1/invoices"), Some("id=7&lang=en"))
    );

    // (1) The window is real: the very request the API accepted, replayed verbatim,
    // passes now and is refused once the API's clock is 6 minutes ahead.
    let captured = upstream_api.seen().pop().unwrap();
    assert!(captured.accepted);
    let replay = || async {
        let hdrs: Vec<(String, String)> =
            captured.headers.iter().map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned())).collect();
        let hdrs: Vec<(&str, &str)> = hdrs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let target = format!("http://{}{}?{}", upstream_api.addr, captured.path, captured.query);
        http(&captured.method, &target, &hdrs, captured.body.clone()).await.status
    };
    assert_eq!(replay().await, 200, "a fresh signature is accepted");
    upstream_api.set_clock_offset(6 * 60);
    assert_eq!(replay().await, 403, "a signature 6 minutes old is refused");
    // While the API's clock is off, linkgate's fresh signature is refused too,
    // and the upstream's answer (status, headers, body) comes back as it is.
    let skewed = http("GET", &url, &[], Vec::new()).await;
    assert_eq!(skewed.status, 403);
    assert_eq!(skewed.header("x-upstream"), Some("refused"));
    assert!(skewed.text().contains("The difference between the request time"), "{}", skewed.text());
    upstream_api.set_clock_offset(0);

    // (2) A link created 3 days ago (valid one more day) still works: linkgate
    // signs at the moment it forwards. The server's clock goes back 3 days to
    // create it, then returns to now.
    let three_days_ms = 3 * 86_400_000;
    let root = s.state.identities.resolve(common::ACCESS_KEY).await.unwrap().unwrap();
    let caller = linkgate::services::identities::Caller { credential: root, ctx: linkgate::context::RequestContext::internal(0) };
    let spec = linkgate::services::links::LinkSpec {
        upstream: Some("billing".into()),
        path: Some("/v1/old".into()),
        expires_in: Some(4 * 86_400),
        ..Default::default()
    };
    s.clock.advance_ms(-three_days_ms);
    let old = s.state.links.create(&caller, spec).await.unwrap();
    s.clock.advance_ms(three_days_ms);
    let (token, old_created_ms) = (old.token, old.record.created_ms);
    let r = http("GET", &format!("{}/l/{token}", s.endpoint), &[], Vec::new()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_of(&r)["path"], "/prod/v1/old");
    let seen = upstream_api.seen().pop().unwrap();
    assert!(seen.accepted);
    let signed_at = seen.amz_date().unix();
    assert!(signed_at * 1000 - old_created_ms > three_days_ms - 60_000, "signed at forwarding time, days after the link was made");
    assert!((signed_at - AmzDate::now().unix()).abs() <= 5, "and within seconds of now");

    // (3) Two redemptions a second apart carry two different, each-valid dates
    // (linkgate's clock moves a second, well within the API's 5-minute window).
    let before = upstream_api.seen().len();
    assert_eq!(http("GET", &url, &[], Vec::new()).await.status, 200);
    s.clock.advance_secs(1);
    assert_eq!(http("GET", &url, &[], Vec::new()).await.status, 200);
    let seen = upstream_api.seen();
    let (a, b) = (&seen[before], &seen[before + 1]);
    assert!(a.accepted && b.accepted);
    assert!(b.amz_date().unix() > a.amz_date().unix(), "{:?} then {:?}", a.amz_date(), b.amz_date());
    assert_ne!(a.headers["authorization"], b.headers["authorization"]);

    // The audit trail says "forwarded" with the upstream's status.
    let shown = show_link(&s, &link).await;
    assert_eq!(
        audit_outcomes(&shown),
        [("forwarded".to_owned(), 200), ("forwarded".to_owned(), 403), ("forwarded".to_owned(), 200), ("forwarded".to_owned(), 200)]
    );
    assert_eq!(shown["uses"], 4);
}

#[tokio::test]
async fn method_body_query_suffix_and_headers() {
    let (s, upstream_api) = setup().await;
    let link = create_link(&s, json!({"upstream": "billing", "path": "/v1/items", "method": "post", "max_uses": 2})).await;
    assert_eq!(link["method"], "POST");
    let url = link_url(&link).to_owned();

    let headers = [
        ("content-type", "application/json"),
        ("authorization", "Bearer client-secret"),
        ("cookie", "session=abc"),
        ("x-amz-security-token", "not-ours"),
        ("x-amz-date", "20000101T000000Z"),
        ("keep-alive", "timeout=5"),
        ("proxy-authorization", "Basic Zm9vOmJhcg=="),
        ("connection", "keep-alive, x-hop"),
        ("x-hop", "named-by-connection"),
        ("x-custom", "kept"),
    ];
    let r = http("POST", &format!("{url}/42/notes?verbose=1"), &headers, br#"{"amount":12}"#.to_vec()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let echo = json_of(&r);
    assert_eq!(echo["path"], "/prod/v1/items/42/notes");
    assert_eq!(echo["query"], "verbose=1");
    assert_eq!(echo["body"], r#"{"amount":12}"#);
    let h = &echo["headers"];
    assert_eq!(h["x-custom"], "kept");
    assert_eq!(h["content-type"], "application/json");
    for dropped in ["cookie", "x-amz-security-token", "keep-alive", "proxy-authorization", "x-hop"] {
        assert!(h.get(dropped).is_none(), "{dropped} was forwarded: {h}");
    }
    let auth = h["authorization"].as_str().unwrap();
    assert!(auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={UP_AK}/")), "the client's Authorization is replaced: {auth}");
    assert!(!auth.contains("client-secret"));
    assert_ne!(h["x-amz-date"], "20000101T000000Z");
    assert_eq!(h["host"], upstream_api.addr.to_string());

    // The link's method only (GET is not POST); nothing reaches the API, no use taken.
    let n = upstream_api.seen().len();
    let wrong = http("GET", &url, &[], Vec::new()).await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("POST"));
    assert_eq!(upstream_api.seen().len(), n);
    // max_uses counts forwarded requests.
    assert_eq!(http("POST", &url, &[], b"x".to_vec()).await.status, 200);
    assert_eq!(http("POST", &url, &[], b"x".to_vec()).await.status, 410);

    // A GET link answers HEAD too (forwarded as HEAD).
    let get_link = create_link(&s, json!({"upstream": "billing", "path": "/v1/items"})).await;
    let head = http("HEAD", link_url(&get_link), &[], Vec::new()).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(upstream_api.seen().last().unwrap().method, "HEAD");
}

#[tokio::test]
async fn producers_name_upstreams_and_paths_cannot_escape() {
    let (s, upstream_api) = setup().await;
    let unknown = api(&s, ROOT, "POST", "/-/api/v1/links", Some(json!({"upstream": "evil.example.com", "path": "/"}))).await;
    assert_eq!(unknown.status, 400, "{}", unknown.text());
    assert_eq!(json_of(&unknown)["title"], "unknown upstream");
    assert!(json_of(&unknown)["type"].as_str().unwrap().ends_with("/unknown-upstream"));
    for (spec, why) in [
        (json!({"upstream": "billing", "path": "/v1/../admin"}), "dot segments"),
        (json!({"upstream": "billing", "path": "/v1/%2e%2e/admin"}), "encoded dot segments"),
        (json!({"upstream": "billing", "path": "v1"}), "relative path"),
        (json!({"upstream": "billing", "path": "/v1", "method": "TRACE"}), "method"),
        (json!({"upstream": "billing", "bucket": "b", "path": "/v1"}), "two targets"),
        (json!({"upstream": "billing", "base_url": "http://evil.example.com"}), "a host"),
    ] {
        let r = api(&s, ROOT, "POST", "/-/api/v1/links", Some(spec)).await;
        assert_eq!(r.status, 400, "{why}: {}", r.text());
    }

    let link = create_link(&s, json!({"upstream": "billing", "path": "/v1/public"})).await;
    let url = link_url(&link);
    for suffix in ["/../admin", "/%2e%2e/admin", "/x/%2E%2E/%2e%2e/admin", "/..%2fadmin", "/%252e%252e/admin"] {
        let r = http("GET", &format!("{url}{suffix}"), &[], Vec::new()).await;
        assert_eq!(r.status, 400, "{suffix}: {}", r.text());
    }
    assert!(upstream_api.seen().is_empty(), "nothing reached the upstream: {:?}", upstream_api.seen());
    let shown = show_link(&s, &link).await;
    assert_eq!(shown["uses"], 0, "a refused path takes no use");
}

#[tokio::test]
async fn upstream_down_is_502_and_audited() {
    let (s, _api) = setup().await;
    let link = create_link(&s, json!({"upstream": "down", "path": "/health"})).await;
    let r = http("GET", link_url(&link), &[], Vec::new()).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("upstream unreachable"));
    let shown = show_link(&s, &link).await;
    assert_eq!(audit_outcomes(&shown), [("upstream-unreachable".to_owned(), 502)]);
}

#[tokio::test]
async fn the_issuer_needs_create_link_on_the_upstream_at_creation_and_redemption() {
    let (s, _api) = setup().await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"linkgate:CreateLink","Resource":"arn:linkgate:upstream:::billing"}]}"#;
    let (ak, sk) = user_with_key(&s, "alice", Some(policy)).await;
    let alice = as_user(&ak, &sk);
    let other = api(&s, alice, "POST", "/-/api/v1/links", Some(json!({"upstream": "down", "path": "/"}))).await;
    assert_eq!(other.status, 403, "{}", other.text());
    let r = api(&s, alice, "POST", "/-/api/v1/links", Some(json!({"upstream": "billing", "path": "/v1/items"}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let url = json_of(&r)["url"].as_str().unwrap().to_owned();
    assert_eq!(http("GET", &url, &[], Vec::new()).await.status, 200);
    assert_eq!(api(&s, ROOT, "DELETE", "/-/api/v1/users/alice/policy", None).await.status, 204);
    assert_eq!(http("GET", &url, &[], Vec::new()).await.status, 403);
}

fn outcomes(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(o, s)| ((*o).to_owned(), *s)).collect()
}

#[tokio::test]
async fn an_upstream_slower_than_its_timeout_secs_is_504_and_the_use_is_spent() {
    let (s, upstream_api) = setup().await;
    let link = create_link(&s, json!({"upstream": "billing-1s", "path": "/v1/reports", "max_uses": 1})).await;
    let url = link_url(&link).to_owned();

    let started = std::time::Instant::now();
    let r = http("GET", &format!("{url}/slow"), &[], Vec::new()).await;
    let waited = started.elapsed();
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.text(), "upstream timed out: the service behind this link did not answer within 1 s.\n");
    assert!(waited >= Duration::from_secs(1) && waited < SLOW_ANSWER, "gave up after the upstream's own 1 s, not 30 s: {waited:?}");

    // The request reached the API (signed, accepted): it was only too slow.
    let seen = upstream_api.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str(), seen[0].accepted), ("GET", "/prod/v1/reports/slow", true));

    // The use is taken before forwarding, so the timed-out request spent it: the
    // link is used up and the next request is 410 without reaching the API.
    let shown = show_link(&s, &link).await;
    assert_eq!(shown["uses"], 1);
    assert_eq!(shown["state"], "exhausted");
    assert_eq!(audit_outcomes(&shown), outcomes(&[("upstream-timeout", 504)]));
    let again = http("GET", &url, &[], Vec::new()).await;
    assert_eq!(again.status, 410, "{}", again.text());
    assert_eq!(upstream_api.seen().len(), 1);
    assert_eq!(audit_outcomes(&show_link(&s, &link).await), outcomes(&[("upstream-timeout", 504), ("exhausted", 410)]));

    // The timeout is per upstream: the same slow answer through `billing` (default
    // 30 s) arrives.
    let patient = create_link(&s, json!({"upstream": "billing", "path": "/v1/reports"})).await;
    let r = http("GET", &format!("{}/slow", link_url(&patient)), &[], Vec::new()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_of(&r)["path"], "/prod/v1/reports/slow");
    assert_eq!(audit_outcomes(&show_link(&s, &patient).await), outcomes(&[("forwarded", 200)]));
}

#[tokio::test]
async fn a_body_over_10_mib_is_413_and_nothing_is_forwarded() {
    let max = linkgate::upstream::MAX_FORWARD_BODY;
    assert_eq!(max, 10 * 1024 * 1024);
    let (s, upstream_api) = setup().await;
    let link = create_link(&s, json!({"upstream": "billing", "path": "/v1/uploads", "method": "PUT", "max_uses": 1})).await;
    let url = link_url(&link).to_owned();

    let r = http("PUT", &url, &[("content-type", "application/octet-stream")], vec![b'x'; max + 1]).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.text(), "The request body is larger than 10 MiB.\n");
    assert!(upstream_api.seen().is_empty(), "nothing reached the upstream: {} requests", upstream_api.seen().len());
    let shown = show_link(&s, &link).await;
    assert_eq!(shown["uses"], 0, "a refused body takes no use");
    assert_eq!(audit_outcomes(&shown), outcomes(&[("body-too-large", 413)]));

    // Exactly 10 MiB is forwarded, signed over its hash, and takes the one use.
    let r = http("PUT", &url, &[("content-type", "application/octet-stream")], vec![b'y'; max]).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body[..r.body.len().min(200)]));
    let seen = upstream_api.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].method.as_str(), seen[0].body.len(), seen[0].accepted), ("PUT", max, true));
    let shown = show_link(&s, &link).await;
    assert_eq!(shown["uses"], 1);
    assert_eq!(audit_outcomes(&shown), outcomes(&[("body-too-large", 413), ("forwarded", 200)]));
}

#[tokio::test]
async fn head_reaches_the_upstream_so_it_takes_a_use() {
    let (s, upstream_api) = setup().await;
    let link = create_link(&s, json!({"upstream": "billing", "path": "/v1/status", "max_uses": 2})).await;
    let url = link_url(&link).to_owned();

    let head = http("HEAD", &url, &[], Vec::new()).await;
    assert_eq!(head.status, 200, "{}", head.text());
    assert!(head.body.is_empty());
    assert_eq!(head.header("x-upstream"), Some("echo"), "the upstream's answer comes back");
    let get = http("GET", &url, &[], Vec::new()).await;
    assert_eq!(get.status, 200, "{}", get.text());
    assert_eq!(json_of(&get)["method"], "GET");
    assert_eq!(http("HEAD", &url, &[], Vec::new()).await.status, 410, "a one-time link cannot be replayed as HEAD");
    assert_eq!(http("GET", &url, &[], Vec::new()).await.status, 410);

    let seen = upstream_api.seen();
    let seen: Vec<(&str, &str, bool)> = seen.iter().map(|r| (r.method.as_str(), r.path.as_str(), r.accepted)).collect();
    assert_eq!(seen, [("HEAD", "/prod/v1/status", true), ("GET", "/prod/v1/status", true)]);
    let shown = show_link(&s, &link).await;
    assert_eq!(shown["uses"], 2);
    assert_eq!(audit_outcomes(&shown), outcomes(&[("head", 200), ("forwarded", 200), ("exhausted", 410), ("exhausted", 410)]));
    let methods: Vec<&str> = shown["audit"].as_array().unwrap().iter().map(|a| a["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["HEAD", "GET", "HEAD", "GET"]);

    // The client address is judged for HEAD too; a POST link does not answer HEAD.
    let elsewhere = create_link(&s, json!({"upstream": "billing", "path": "/v1/status", "allowed_ips": ["10.0.0.0/8"]})).await;
    assert_eq!(http("HEAD", link_url(&elsewhere), &[], Vec::new()).await.status, 403);
    assert_eq!(audit_outcomes(&show_link(&s, &elsewhere).await), outcomes(&[("ip-not-allowed", 403)]));
    let post = create_link(&s, json!({"upstream": "billing", "path": "/v1/status", "method": "POST"})).await;
    let r = http("HEAD", link_url(&post), &[], Vec::new()).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    assert_eq!(upstream_api.seen().len(), 2, "neither reached the upstream");

    // On a link made for HEAD, HEAD is the use.
    let head_link = create_link(&s, json!({"upstream": "billing", "path": "/v1/status", "method": "HEAD", "max_uses": 1})).await;
    let url = link_url(&head_link);
    assert_eq!(http("HEAD", url, &[], Vec::new()).await.status, 200);
    assert_eq!(http("HEAD", url, &[], Vec::new()).await.status, 410);
    assert_eq!(http("GET", url, &[], Vec::new()).await.status, 405);
    assert_eq!(upstream_api.seen().len(), 3, "one HEAD forwarded");
    assert_eq!(show_link(&s, &head_link).await["uses"], 1);
}

#[tokio::test]
async fn timeout_secs_0_is_refused_at_startup_naming_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = linkgate::config::Config::load(None, &[]).unwrap();
    config.data_dir = tmp.path().join("data");
    config.upstreams.push(upstream("billing", "http://127.0.0.1:9/prod".into()));
    config.upstreams.push(UpstreamConfig { timeout_secs: Some(0), ..upstream("reports", "http://127.0.0.1:9/prod".into()) });
    let root = linkgate::auth::RootCredentials { access_key_id: common::ACCESS_KEY.into(), secret_access_key: common::SECRET_KEY.into() };
    let secrets = linkgate::app::Secrets { root, master: linkgate::auth::secrets::MasterKey::from_bytes([7; 32]) };
    let data_dir = linkgate::datadir::DataDir::open(&config.data_dir).unwrap();
    let clock = Arc::new(linkgate::clock::SystemClock);
    let Err(e) = linkgate::app::App::open(data_dir, config, secrets, &UpstreamEnv, clock).await else {
        panic!("timeout_secs = 0 was accepted");
    };
    assert_eq!(
        e.to_string(),
        "invalid configuration: [[upstreams]] entry \"reports\": timeout_secs must be at least 1 (leave it out for the default of 30)"
    );
}

#[tokio::test]
async fn a_link_revoked_while_a_slow_body_arrives_forwards_nothing() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (s, upstream_api) = setup().await;
    // No max_uses: the use is only counted, so the link must be read again before it.
    let link = create_link(&s, json!({"upstream": "billing", "path": "/v1/items", "method": "POST"})).await;
    let path = link_path(&link);
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!("POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello", s.addr);
    conn.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api(&s, ROOT, "DELETE", &format!("/-/api/v1/links/{}", link_id(&link)), None).await.status, 204);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    conn.write_all(b"world").await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 410"), "{answer}");
    assert!(upstream_api.seen().is_empty(), "nothing was forwarded");
    assert_eq!(audit_outcomes(&show_link(&s, &link).await), outcomes(&[("revoked", 410)]));
}
