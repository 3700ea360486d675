//! Hardening regressions: resource limits before and after authentication —
//! findings 3 (unauthenticated form buffering), 4 (admin/STS bodies read before the
//! signature, with no timeout and no memory bound), 5 (connection timeouts and
//! the connection cap), 6 (downloads pinning the blocking pool), and the request
//! head cap. Each fails on the code before the one-pipeline change (issue #9);
//! what each observed there is in its doc comment.
//!
//! Everything here talks raw HTTP/1.1 over TCP where a well-behaved client could
//! not express the attack (stalled bodies, endless headers, trickled bytes).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::admin::{create_link, link_url};
use common::raw::{Ending, connect, ending, read_response, request_head};
use common::{ROOT, Signer, TestServer, bounded, bucket_with, http, sha256_hex, sigv4_headers};
use linkgate::config::Config;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Every connection and body timeout at 1 s, as the findings' tests ask.
fn one_second_timeouts(c: &mut Config) {
    c.limits.idle_timeout_secs = 1;
    c.limits.header_timeout_secs = 1;
    c.limits.body_timeout_secs = 1;
    c.limits.send_timeout_secs = 1;
}

/// Whether the server answered or closed within `wait` (`None`: still held).
async fn within<R: AsyncRead + Unpin>(r: &mut R, wait: Duration) -> Option<Ending> {
    tokio::time::timeout(wait, ending(r)).await.ok()
}

/// Writes `head` then `body` on a fresh connection from a task of its own (so a
/// server that stops reading cannot block the test); the write half is kept open
/// (the request stalls) until the returned handle is dropped.
async fn stalled(s: &TestServer, head: String, body: Vec<u8>) -> (OwnedReadHalf, tokio::task::JoinHandle<Option<OwnedWriteHalf>>) {
    let (read, mut write) = connect(s.addr).await.into_split();
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await.ok()?;
        write.write_all(&body).await.ok()?;
        write.flush().await.ok()?;
        Some(write)
    });
    (read, writer)
}

/// An STS `GetSessionToken` form padded to exactly `len` bytes.
fn sts_form(len: usize) -> Vec<u8> {
    let mut form = b"Action=GetSessionToken&Version=2011-06-15&Pad=".to_vec();
    form.resize(len, b'a');
    form
}

/// The head of an STS request signed by `who` for `body` (no
/// `x-amz-content-sha256`, as the SDKs send STS calls: the server must hash the
/// body to check the signature).
fn sts_head(s: &TestServer, who: Signer<'_>, body: &[u8]) -> String {
    let sts = Signer { service: "sts", ..who };
    let headers = sigv4_headers(s, sts, "POST", "/", &sha256_hex(body), false, &[("content-type", "application/x-www-form-urlencoded")]);
    request_head("POST", "/", &headers, Some(body.len() as u64))
}

/// The head of an admin API request signed by `who` for `body` (with its hash, as
/// the harness's `api()` signs).
fn admin_head(s: &TestServer, who: Signer<'_>, path: &str, body: &[u8]) -> String {
    let headers = sigv4_headers(s, who, "POST", path, &sha256_hex(body), true, &[("content-type", "application/json")]);
    request_head("POST", path, &headers, Some(body.len() as u64))
}

/// Finding 3 (unauthenticated OOM): a `multipart/form-data` POST to a bucket whose
/// first part header never ends was buffered without limit before any
/// authentication. Fixed: once the bytes before the `file` field, part headers
/// included, exceed `limits.max_form_fields_bytes` (20 KiB), the answer is 400
/// `MaxPostPreDataLengthExceeded` (S3 XML) — long before 1 MiB has been sent.
///
/// Fails on the code before the one-pipeline change (issue #9): no answer at all
/// while the whole 4 MiB of part-header junk is streamed (the server keeps
/// buffering it), then nothing until the test's wait runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_form_part_header_is_refused_at_the_fields_limit() {
    let s = TestServer::start_with(|c| c.limits.max_form_fields_bytes = 20 * KIB).await;
    s.plain_client().create_bucket().bucket("bkt").send().await.unwrap();
    let boundary = "hardeningFormBoundary";
    let head = format!(
        "POST /bkt HTTP/1.1\r\nhost: {}\r\ncontent-type: multipart/form-data; boundary={boundary}\r\ncontent-length: {}\r\n\r\n",
        s.addr,
        1_u64 << 30
    );
    let (mut read, mut write) = connect(s.addr).await.into_split();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await.ok()?;
        let opening = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\nX-Junk: ");
        write.write_all(opening.as_bytes()).await.ok()?;
        let junk = vec![b'j'; 64 * KIB];
        // 4 MiB of one endless header line, 64 KiB at a time, paced so the
        // server has time to answer between chunks.
        for _ in 0..64 {
            write.write_all(&junk).await.ok()?;
            counter.fetch_add(junk.len(), Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(write)
    });
    let answer = tokio::time::timeout(Duration::from_secs(8), read_response(&mut read)).await;
    let sent_when_answered = sent.load(Ordering::SeqCst);
    writer.abort();
    let resp = match answer {
        Ok(Ok(Some(r))) => r,
        Ok(Ok(None)) => panic!("connection closed without an answer after {sent_when_answered} bytes of part header"),
        Ok(Err(e)) => panic!("connection failed ({e}) without an answer after {sent_when_answered} bytes of part header"),
        Err(_) => panic!("no answer within 8 s while {sent_when_answered} bytes of one part header were streamed (buffered without limit)"),
    };
    assert_eq!(resp.status, 400, "{}", resp.describe());
    assert_eq!(resp.header("content-type"), Some("application/xml"), "{}", resp.describe());
    assert_eq!(resp.xml("Code").as_deref(), Some("MaxPostPreDataLengthExceeded"), "{}", resp.describe());
    assert!(sent_when_answered < MIB, "answered only after {sent_when_answered} bytes were sent");
}

/// Finding 4a: the admin API read the body before checking the signature and never
/// timed out. Fixed (`body_timeout_secs = 1`): a request that sends its head and
/// half its declared body, then stalls, is answered within 5 s with 408 and a
/// JSON problem (`application/problem+json`) — or at least its connection is
/// closed within 5 s.
///
/// Fails on the code before the one-pipeline change (issue #9): no answer and no
/// close within 5 s (the handler waits for the rest of the body forever).
#[tokio::test]
async fn a_stalled_admin_api_body_times_out() {
    let s = TestServer::start_with(one_second_timeouts).await;
    let mut body = json!({"name": "alice"}).to_string().into_bytes();
    body.resize(1024, b' ');
    let (mut read, _writer) = stalled(&s, admin_head(&s, ROOT, "/-/api/v1/users", &body), body[..512].to_vec()).await;
    match within(&mut read, Duration::from_secs(5)).await {
        None => panic!("a stalled admin API body was neither answered nor closed within 5 s"),
        Some(Ending::Closed(_)) => {}
        Some(Ending::Answered(r)) => {
            assert_eq!(r.status, 408, "{}", r.describe());
            assert_eq!(r.header("content-type"), Some("application/problem+json"), "{}", r.describe());
        }
    }
}

/// Finding 4a, STS: as above for an STS form (`POST /`, service `sts`). Fixed: 400
/// with `<Code>RequestTimeout</Code>` within 5 s — or at least the connection is
/// closed within 5 s.
///
/// Fails on the code before the one-pipeline change (issue #9): no answer and no
/// close within 5 s.
#[tokio::test]
async fn a_stalled_sts_body_times_out() {
    let s = TestServer::start_with(one_second_timeouts).await;
    let body = sts_form(1024);
    let (mut read, _writer) = stalled(&s, sts_head(&s, ROOT, &body), body[..512].to_vec()).await;
    match within(&mut read, Duration::from_secs(5)).await {
        None => panic!("a stalled STS body was neither answered nor closed within 5 s"),
        Some(Ending::Closed(_)) => {}
        Some(Ending::Answered(r)) => {
            assert_eq!(r.status, 400, "{}", r.describe());
            assert!(r.text().contains("<Code>RequestTimeout</Code>"), "{}", r.describe());
        }
    }
}

/// How many of the stalled STS requests the budget holds: a request reserves its
/// declared length (200 KiB) before reading a byte, so a 700 KiB budget holds
/// three and refuses the fourth.
const HELD: usize = 3;

/// Finding 4b: bodies read before their signature can be checked had no global
/// memory bound. Fixed (`preauth_memory_bytes` = 700 KiB): three STS requests that
/// each declare Content-Length 200 KiB and stall after 150 KiB are held (not
/// answered); a fourth such request is answered 503 with a `Retry-After` header.
///
/// Fails on the code before the one-pipeline change (issue #9): the fourth request
/// is held like the others (no answer within 5 s): nothing bounds pre-auth memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_auth_bodies_share_a_memory_budget() {
    let s = TestServer::start_with(|c| {
        c.limits.preauth_memory_bytes = 700 * KIB;
        // Long enough that no held request times out during the test.
        c.limits.body_timeout_secs = 30;
    })
    .await;
    let body = sts_form(200 * KIB);
    let mut held = Vec::new();
    for _ in 0..HELD {
        held.push(stalled(&s, sts_head(&s, ROOT, &body), body[..150 * KIB].to_vec()).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut fourth, _w) = stalled(&s, sts_head(&s, ROOT, &body), body[..150 * KIB].to_vec()).await;
    let answer = within(&mut fourth, Duration::from_secs(5)).await;
    let mut early = Vec::new();
    for (i, (read, _)) in held.iter_mut().enumerate() {
        if let Some(e) = within(read, Duration::from_millis(100)).await {
            early.push(format!("request {}: {e:?}", i + 1));
        }
    }
    match answer {
        None => panic!("the fourth stalled STS request (over the 700 KiB pre-auth budget) got no answer within 5 s"),
        Some(Ending::Closed(why)) => panic!("the fourth request was closed ({why}) instead of answered 503"),
        Some(Ending::Answered(r)) => {
            assert_eq!(r.status, 503, "{}", r.describe());
            assert!(r.header("retry-after").is_some(), "Retry-After: {}", r.describe());
        }
    }
    assert!(early.is_empty(), "the first {HELD} requests must be held, but: {early:?}");
}

/// Finding 4c: a request with an unknown access key id waited for its whole body
/// before being refused. Fixed: it is answered 403 (STS `InvalidClientTokenId`,
/// admin API `invalid-access-key` problem) without the server waiting for its
/// stalled body (and long before the 30 s body timeout).
///
/// Fails on the code before the one-pipeline change (issue #9): neither request is
/// answered within 3 s (both wait for the body that never comes).
#[tokio::test]
async fn an_unknown_access_key_is_refused_without_waiting_for_the_body() {
    let s = TestServer::start_with(|c| c.limits.body_timeout_secs = 30).await;
    let unknown = Signer { ak: "AKIAUNKNOWN000000000", sk: "not-a-secret", token: None, service: "s3" };
    let body = sts_form(1024);
    let (mut sts, _w1) = stalled(&s, sts_head(&s, unknown, &body), body[..512].to_vec()).await;
    let mut admin_body = json!({"name": "alice"}).to_string().into_bytes();
    admin_body.resize(1024, b' ');
    let (mut admin, _w2) = stalled(&s, admin_head(&s, unknown, "/-/api/v1/users", &admin_body), admin_body[..512].to_vec()).await;
    let (sts_answer, admin_answer) = tokio::join!(within(&mut sts, Duration::from_secs(3)), within(&mut admin, Duration::from_secs(3)));
    let summary = format!("STS: {sts_answer:?}\nadmin: {admin_answer:?}");
    match sts_answer {
        Some(Ending::Answered(r)) => {
            assert_eq!(r.status, 403, "{summary}");
            assert!(r.text().contains("<Code>InvalidClientTokenId</Code>"), "{summary}");
        }
        _ => panic!("STS request with an unknown key and a stalled body: no 403 within 3 s\n{summary}"),
    }
    match admin_answer {
        Some(Ending::Answered(r)) => {
            assert_eq!(r.status, 403, "{summary}");
            assert_eq!(r.header("content-type"), Some("application/problem+json"), "{summary}");
        }
        _ => panic!("admin request with an unknown key and a stalled body: no 403 within 3 s\n{summary}"),
    }
}

/// Finding 5 (no connection timeouts), idle sockets. Fixed (`idle_timeout_secs` =
/// 1): a socket that connects and sends nothing is closed within ~3 s.
///
/// Fails on the code before the one-pipeline change (issue #9): the idle socket is
/// still open after 3.5 s.
#[tokio::test]
async fn an_idle_connection_is_closed() {
    let s = TestServer::start_with(one_second_timeouts).await;
    let mut idle = connect(s.addr).await;
    let started = Instant::now();
    match within(&mut idle, Duration::from_millis(3500)).await {
        None => panic!("an idle connection was still open after {:?}", started.elapsed()),
        Some(Ending::Closed(_) | Ending::Answered(_)) => {}
    }
}

/// Finding 5, slowloris. Fixed (`header_timeout_secs` = 1): a request head trickled
/// one byte every 300 ms is cut off within ~3 s even though bytes keep coming.
///
/// Fails on the code before the one-pipeline change (issue #9): after 3.5 s of
/// trickling the connection is still open and unanswered.
#[tokio::test]
async fn a_trickled_request_head_is_cut_off() {
    let s = TestServer::start_with(one_second_timeouts).await;
    let (mut read, mut write) = connect(s.addr).await.into_split();
    let start = format!("GET /-/healthz HTTP/1.1\r\nhost: {}\r\nx-slow: ", s.addr);
    let trickler = tokio::spawn(async move {
        write.write_all(start.as_bytes()).await.ok()?;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            write.write_all(b"a").await.ok()?;
        }
        Some(write)
    });
    let started = Instant::now();
    let ended = within(&mut read, Duration::from_millis(3500)).await;
    trickler.abort();
    match ended {
        None => panic!("a request head trickled a byte every 300 ms was still being read after {:?}", started.elapsed()),
        Some(Ending::Closed(_)) => {}
        Some(Ending::Answered(r)) => assert!(r.status >= 400, "a trickled head must not be served: {}", r.describe()),
    }
}

/// Finding 5, slow bodies. Fixed (`body_timeout_secs` = 1): a PutObject body
/// trickled one byte every 2 s is answered 400 `RequestTimeout` (S3 XML).
///
/// Fails on the code before the one-pipeline change (issue #9): no answer within
/// 5 s (the upload waits for the next byte forever).
#[tokio::test]
async fn a_trickled_put_object_body_gets_request_timeout() {
    let s = TestServer::start_with(one_second_timeouts).await;
    s.plain_client().create_bucket().bucket("bkt").send().await.unwrap();
    let headers = sigv4_headers(&s, ROOT, "PUT", "/bkt/slow", sigv4::UNSIGNED_PAYLOAD, true, &[]);
    let head = request_head("PUT", "/bkt/slow", &headers, Some(10));
    let (mut read, mut write) = connect(s.addr).await.into_split();
    let trickler = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await.ok()?;
        for _ in 0..10 {
            write.write_all(b"x").await.ok()?;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        Some(write)
    });
    let ended = within(&mut read, Duration::from_secs(5)).await;
    trickler.abort();
    match ended {
        None => panic!("a PutObject body trickled a byte every 2 s got no answer within 5 s"),
        Some(Ending::Closed(why)) => panic!("closed ({why}) instead of answered 400 RequestTimeout"),
        Some(Ending::Answered(r)) => {
            assert_eq!(r.status, 400, "{}", r.describe());
            assert_eq!(r.header("content-type"), Some("application/xml"), "{}", r.describe());
            assert_eq!(r.xml("Code").as_deref(), Some("RequestTimeout"), "{}", r.describe());
        }
    }
}

/// Finding 5, the connection cap. Fixed (`max_connections = 50`): with 60 idle
/// sockets open, a normal SDK request still succeeds promptly (an idle connection
/// is closed to make room, or the excess is refused — never the real client). The
/// idle timeout is 30 s here so that the cap, not the timeout, makes the room.
///
/// On the code before the one-pipeline change (issue #9) this PASSES: nothing caps
/// connections, so 60 idle sockets lock nobody out. It guards the fix (the cap must
/// not lock real clients out); it is not a reproduction.
#[tokio::test]
async fn sixty_idle_sockets_do_not_lock_out_a_client_at_a_cap_of_fifty() {
    let s = TestServer::start_with(|c| {
        one_second_timeouts(c);
        c.limits.idle_timeout_secs = 30;
        c.limits.max_connections = 50;
    })
    .await;
    let c = s.plain_client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(connect(s.addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let put =
        bounded(5.0, "PutObject with 60 idle sockets open", c.put_object().bucket("bkt").key("k").body(b"hello".to_vec().into()).send())
            .await;
    assert!(put.is_ok(), "{put:?}");
    let got = bounded(5.0, "GetObject with 60 idle sockets open", c.get_object().bucket("bkt").key("k").send()).await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"hello");
    drop(idle);
}

/// Size of the object the slow readers download. The finding names 2 MiB, but on
/// this machine loopback socket buffers absorb 2–4 MiB per connection, so with 2 or
/// 4 MiB most download threads finish reading before they block (344 of 600 at
/// 4 MiB) and nothing freezes; at 8 MiB every thread stays blocked.
const BIG: usize = 8 * MIB;

/// Finding 6: each download held one of tokio's 512 blocking threads while the
/// client read, so ~512 slow readers froze every upload and every password check.
/// Fixed: with 600 connections each GETting a large object ([`BIG`]) and never
/// reading the body, a 1 MiB PutObject succeeds within 10 s, and so does the redemption of a
/// password-protected link (right password in `X-Linkgate-Password`).
///
/// Fails on the code before the one-pipeline change (issue #9): the PutObject gets
/// no answer within 10 s (its file writes queue behind the blocked download
/// threads); the password redemption likewise hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_do_not_starve_uploads_or_password_checks() {
    let s = TestServer::start().await;
    let c = s.plain_client();
    bucket_with(&c, "bkt", &[("big", &common::pattern(BIG, 3)), ("small", b"0123456789")]).await;
    // Created before the flood: creating a password link hashes on a blocking thread.
    let link = create_link(&s, json!({"bucket": "bkt", "key": "small", "password": "pw"})).await;
    let link_url = link_url(&link).to_owned();
    let url = c.get_object().bucket("bkt").key("big").presigned(common::presign_for(900)).await.unwrap();
    let path_and_query = url.uri().strip_prefix(&s.endpoint).unwrap().to_owned();
    let request = format!("GET {path_and_query} HTTP/1.1\r\nhost: {}\r\n\r\n", s.addr);

    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..600 {
        let (addr, request) = (s.addr, request.clone());
        opening.spawn(async move {
            // A small receive window, as a slow reader on a real network has.
            let sock = tokio::net::TcpSocket::new_v4().unwrap();
            sock.set_recv_buffer_size(8 * 1024).unwrap();
            let mut conn = sock.connect(addr).await.unwrap();
            conn.write_all(request.as_bytes()).await.unwrap();
            conn
        });
    }
    let mut readers = Vec::new();
    while let Some(conn) = opening.join_next().await {
        readers.push(conn.unwrap());
    }
    // Let the server start all 600 downloads.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (put, redeem) = tokio::join!(
        tokio::time::timeout(
            Duration::from_secs(10),
            c.put_object().bucket("bkt").key("during").body(common::pattern(MIB, 9).into()).send()
        ),
        tokio::time::timeout(Duration::from_secs(10), http("GET", &link_url, &[("x-linkgate-password", "pw")], Vec::new())),
    );
    let put_outcome = match &put {
        Ok(Ok(_)) => "ok".to_owned(),
        Ok(Err(e)) => format!("error {e:?}"),
        Err(_) => "no answer within 10 s".to_owned(),
    };
    let redeem_outcome = match &redeem {
        Ok(r) => format!("{} {}", r.status, r.text()),
        Err(_) => "no answer within 10 s".to_owned(),
    };
    let summary = format!("with 600 stalled downloads: PutObject 1 MiB: {put_outcome}; password redemption: {redeem_outcome}");
    assert!(matches!(put, Ok(Ok(_))), "{summary}");
    assert!(matches!(&redeem, Ok(r) if r.status == 200 && r.body == b"0123456789"), "{summary}");
    drop(readers);
}

/// The request head cap (`limits.max_header_bytes`, 8 KiB as S3): a request with
/// 9 KiB of headers is answered 400 `RequestHeaderSectionTooLarge` (S3 XML) with
/// `<MaxSizeAllowed>8192</MaxSizeAllowed>`.
///
/// Fails on the code before the one-pipeline change (issue #9): the 9 KiB head is
/// accepted and the request is routed like any other (an unsigned GET of an object
/// gets 403 `AccessDenied`).
#[tokio::test]
async fn a_request_head_over_the_cap_is_refused_as_s3_does() {
    let s = TestServer::start_with(|c| c.limits.max_header_bytes = 8192).await;
    s.plain_client().create_bucket().bucket("bkt").send().await.unwrap();
    let pad = "a".repeat(9 * KIB);
    let head = format!("GET /bkt/k HTTP/1.1\r\nhost: {}\r\nx-pad: {pad}\r\n\r\n", s.addr);
    let mut conn = connect(s.addr).await;
    conn.write_all(head.as_bytes()).await.unwrap();
    let r = bounded(5.0, "answer to a 9 KiB head", read_response(&mut conn)).await.unwrap().expect("closed without an answer");
    assert_eq!(r.status, 400, "{}", r.describe());
    assert_eq!(r.header("content-type"), Some("application/xml"), "{}", r.describe());
    assert_eq!(r.xml("Code").as_deref(), Some("RequestHeaderSectionTooLarge"), "{}", r.describe());
    assert_eq!(r.xml("MaxSizeAllowed").as_deref(), Some("8192"), "{}", r.describe());
}
