//! The connection layer over real TCP on 127.0.0.1, timeouts at 1 s.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request};
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{BodyTimeout, ConnectionInfo, is_body_timeout, run};
use crate::config::LimitsConfig;

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
/// When the `/watched` response's chunks were pulled (one test uses it).
static WATCHED_PULLS: std::sync::Mutex<Vec<Instant>> = std::sync::Mutex::new(Vec::new());

fn app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hi" }))
        .route(
            "/info",
            get(|req: Request| async move {
                let connect = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
                let info = req.extensions().get::<ConnectionInfo>().copied();
                format!("{connect:?} {info:?}")
            }),
        )
        .route(
            "/echo",
            post(|body: Body| async move {
                let mut stream = body.into_data_stream();
                let mut len = 0;
                while let Some(chunk) = stream.next().await {
                    match chunk {
                        Ok(c) => len += c.len(),
                        Err(e) if is_body_timeout(&e) => return (axum::http::StatusCode::BAD_REQUEST, "RequestTimeout".to_owned()),
                        Err(e) => return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                    }
                }
                (axum::http::StatusCode::OK, len.to_string())
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "slow"
            }),
        )
        .route(
            "/big/{mib}",
            get(|Path(mib): Path<usize>| async move {
                let chunks =
                    futures_util::stream::iter((0..mib * 16).map(|_| Ok::<_, std::convert::Infallible>(Bytes::from_static(&ZEROS))));
                Body::from_stream(chunks)
            }),
        )
        .route(
            "/watched/{mib}",
            get(|Path(mib): Path<usize>| async move {
                let chunks = futures_util::stream::iter(0..mib * 16).map(|_| {
                    WATCHED_PULLS.lock().unwrap().push(Instant::now());
                    Ok::<_, std::convert::Infallible>(Bytes::from_static(&ZEROS))
                });
                Body::from_stream(chunks)
            }),
        )
}

/// 1 s timeouts everywhere unless a test says otherwise.
fn limits() -> LimitsConfig {
    LimitsConfig { idle_timeout_secs: 1, header_timeout_secs: 1, body_timeout_secs: 1, send_timeout_secs: 1, ..LimitsConfig::default() }
}

struct TestServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<std::io::Result<()>>,
}

async fn start(limits: LimitsConfig) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        run(listener, app(), &limits, async move {
            let _ = stopped.await;
        })
        .await
    });
    TestServer { addr, stop: Some(stop), handle }
}

async fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Reads one response (Content-Length or read-to-EOF bodies), within 5 s.
async fn read_reply(s: &mut TcpStream) -> Reply {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed before a response head: {:?}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        let status = head[9..12].parse().unwrap();
        let length =
            head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()));
        let mut body = buf[head_end..].to_vec();
        loop {
            if length.is_some_and(|len| body.len() >= len) {
                break;
            }
            let n = s.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                assert!(length.is_none(), "body cut short");
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Reply { status, head, body }
    })
    .await
    .expect("no response within 5 s")
}

async fn get_ok(s: &mut TcpStream, path: &str) -> Reply {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()).await.unwrap();
    let reply = read_reply(s).await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    reply
}

/// How long until the server closes `s` (EOF or reset), reading and discarding
/// whatever arrives; panics after `within`.
async fn closed_after(s: &mut TcpStream, within: Duration) -> Duration {
    let start = Instant::now();
    tokio::time::timeout(within, async {
        let mut sink = [0u8; 64 * 1024];
        while let Ok(n) = s.read(&mut sink).await
            && n > 0
        {}
    })
    .await
    .expect("connection still open");
    start.elapsed()
}

/// Asserts that the server closes `s` about one idle timeout (1 s) from now.
async fn assert_closed_when_idle(s: &mut TcpStream) {
    let t = closed_after(s, Duration::from_secs(3)).await;
    assert!(t >= Duration::from_millis(900), "closed after {t:?}");
}

/// Whether `s` is still open (nothing arrives within `wait`).
async fn still_open(s: &mut TcpStream, wait: Duration) -> bool {
    let mut b = [0u8; 1];
    tokio::time::timeout(wait, s.read(&mut b)).await.is_err()
}

#[tokio::test]
async fn requests_carry_connect_info_and_connection_info() {
    let server = start(limits()).await;
    let mut s = connect(server.addr).await;
    let me = s.local_addr().unwrap();
    let reply = get_ok(&mut s, "/info").await;
    let body = String::from_utf8(reply.body).unwrap();
    assert_eq!(body, format!("{:?} {:?}", Some(me), Some(ConnectionInfo { peer: me, tls: false })));
}

/// botocore reuses an early final status line for the next response on the
/// connection, so an empty request that asked for `100 Continue` must not leave
/// the connection open; one with a body gets its `100 Continue` and keeps it.
#[tokio::test]
async fn expect_continue_without_a_body_closes_the_connection() {
    let server = start(limits()).await;
    let mut s = connect(server.addr).await;
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n").await.unwrap();
    let reply = read_reply(&mut s).await;
    assert_eq!((reply.status, reply.body.as_slice()), (200, b"0".as_slice()), "{}", reply.head);
    assert!(reply.head.to_ascii_lowercase().contains("connection: close"), "{}", reply.head);
    closed_after(&mut s, Duration::from_secs(2)).await;

    let mut s = connect(server.addr).await;
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n").await.unwrap();
    let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut got = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got)).await.unwrap().unwrap();
    assert_eq!(&got, interim, "{:?}", String::from_utf8_lossy(&got));
    s.write_all(b"xy").await.unwrap();
    let reply = read_reply(&mut s).await;
    assert_eq!((reply.status, reply.body.as_slice()), (200, b"2".as_slice()), "{}", reply.head);
    assert!(!reply.head.to_ascii_lowercase().contains("connection: close"), "{}", reply.head);
    get_ok(&mut s, "/hello").await;
}

#[tokio::test]
async fn idle_fresh_socket_is_closed() {
    let server = start(limits()).await;
    let mut s = connect(server.addr).await;
    assert_closed_when_idle(&mut s).await;
}

#[tokio::test]
async fn idle_keep_alive_socket_is_closed_after_a_response() {
    let server = start(limits()).await;
    let mut s = connect(server.addr).await;
    get_ok(&mut s, "/hello").await;
    get_ok(&mut s, "/hello").await; // keep-alive works
    assert_closed_when_idle(&mut s).await;
}

/// A response slower than the idle timeout (1.5 s against 1 s) is not cut off,
/// and the connection closes an idle timeout after it, not before and not never:
/// no hyper timer is armed, so the wrapper's own timer must wake the task after
/// the request (without it, the idle timer never started after a response).
#[tokio::test]
async fn idle_timer_starts_after_a_response_slower_than_the_idle_timeout() {
    let server = start(limits()).await;
    let mut s = connect(server.addr).await;
    assert_eq!(get_ok(&mut s, "/slow").await.body, b"slow");
    assert_closed_when_idle(&mut s).await;
}

#[tokio::test]
async fn trickled_head_is_cut_off_while_other_connections_are_served() {
    // A long idle timeout: only the head timer can cut the trickle off.
    let server = start(LimitsConfig { idle_timeout_secs: 10, ..limits() }).await;
    let s = connect(server.addr).await;
    let (mut rx, mut tx) = s.into_split();
    let trickle = tokio::spawn(async move {
        let head = format!("GET /hello HTTP/1.1\r\nHost: t\r\nX-Pad: {}", "a".repeat(100));
        for b in head.bytes() {
            if tx.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let start = Instant::now();
    let mut other = connect(server.addr).await;
    get_ok(&mut other, "/hello").await;
    let mut sink = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(3), rx.read(&mut sink)).await.expect("head not cut off");
    assert!(n.is_err() || n.is_ok_and(|n| n == 0), "got a response to a trickled head");
    let t = start.elapsed();
    assert!(t >= Duration::from_millis(900) && t < Duration::from_millis(2500), "cut off after {t:?}");
    trickle.abort();
}

#[tokio::test]
async fn prompt_request_after_long_idle_works() {
    // Idle 2 s, head 1 s: a 1.5 s pause before a promptly sent head is fine, on a
    // fresh connection and on a keep-alive one (hyper's own header timer, which
    // also counts idle time, would cut both off).
    let server = start(LimitsConfig { idle_timeout_secs: 2, ..limits() }).await;
    let mut s = connect(server.addr).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    get_ok(&mut s, "/hello").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    get_ok(&mut s, "/hello").await;
}

#[tokio::test]
async fn stalled_body_gives_the_handler_a_recognisable_timeout() {
    let server = start(LimitsConfig { idle_timeout_secs: 10, ..limits() }).await;
    let mut s = connect(server.addr).await;
    let start = Instant::now();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789").await.unwrap();
    let reply = read_reply(&mut s).await;
    let t = start.elapsed();
    assert_eq!((reply.status, reply.body.as_slice()), (400, &b"RequestTimeout"[..]));
    assert!(t >= Duration::from_millis(900) && t < Duration::from_millis(2500), "timed out after {t:?}");
}

#[tokio::test]
async fn body_trickled_within_the_timeout_per_chunk_succeeds() {
    let server = start(limits()).await;
    let mut s = connect(server.addr).await;
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n").await.unwrap();
    for b in b"abcdef" {
        tokio::time::sleep(Duration::from_millis(400)).await;
        s.write_all(&[*b]).await.unwrap();
    }
    let reply = read_reply(&mut s).await;
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"6"[..]));
}

/// A client socket with a small receive buffer, so the server's writes block soon.
async fn small_window_client(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let s = socket.connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

#[tokio::test]
async fn stalled_reader_is_closed_after_the_send_timeout() {
    let server = start(limits()).await;
    let mut s = small_window_client(server.addr).await;
    s.write_all(b"GET /big/64 HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The server gave up: what was buffered arrives, then the end.
    let mut total = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(n) = s.read(&mut buf).await
            && n > 0
        {
            total += n;
        }
    })
    .await
    .expect("stalled reader's connection not closed");
    assert!(total < 64 << 20, "got the whole response ({total} bytes)");
}

#[tokio::test]
async fn slow_but_progressing_reader_gets_everything() {
    let server = start(limits()).await;
    let mut s = small_window_client(server.addr).await;
    s.write_all(b"GET /watched/8 HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    // Three pauses of 0.7 s (each under the 1 s send timeout, together over it),
    // 1 MiB read between them, then the rest at full speed. The kernel buffers a
    // few MiB; the response is big enough that the server still waits each time.
    let mut total = 0usize;
    let mut tail = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pauses = 0;
    'read: loop {
        if pauses < 3 {
            tokio::time::sleep(Duration::from_millis(700)).await;
            pauses += 1;
        }
        let mut burst = 0;
        while burst < 1 << 20 {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed after {total} bytes");
            total += n;
            burst += n;
            tail.extend_from_slice(&buf[..n]);
            tail.drain(..tail.len().saturating_sub(7));
            if tail.ends_with(b"\r\n0\r\n\r\n") {
                break 'read;
            }
        }
    }
    assert!(total > 8 << 20);
    // The server really was held up: gaps in pulling the body add up to more
    // than the send timeout.
    let pulls = WATCHED_PULLS.lock().unwrap().clone();
    let waited: Duration = pulls.windows(2).map(|w| w[1] - w[0]).filter(|gap| *gap > Duration::from_millis(300)).sum();
    assert!(waited > Duration::from_millis(1200), "server waited only {waited:?} in all");
}

#[tokio::test]
async fn oversized_head_gets_s3s_error() {
    let server = start(limits()).await;
    let mut s = connect(server.addr).await;
    // Just under the limit: served.
    let pad = "a".repeat(8192 - 200);
    s.write_all(format!("GET /hello HTTP/1.1\r\nHost: t\r\nX-Pad: {pad}\r\n\r\n").as_bytes()).await.unwrap();
    assert_eq!(read_reply(&mut s).await.status, 200);
    // 9 KiB: S3's error, then the connection closes.
    let pad = "a".repeat(9 * 1024);
    s.write_all(format!("GET /bucket/key HTTP/1.1\r\nHost: t\r\nX-Pad: {pad}\r\n\r\n").as_bytes()).await.unwrap();
    let reply = read_reply(&mut s).await;
    assert_eq!(reply.status, 400);
    assert!(reply.head.to_ascii_lowercase().contains("content-type: application/xml"), "{}", reply.head);
    let xml = String::from_utf8(reply.body).unwrap();
    assert!(xml.contains("<Code>RequestHeaderSectionTooLarge</Code>"), "{xml}");
    assert!(xml.contains("<Message>Your request header section exceeds the maximum allowed size.</Message>"), "{xml}");
    assert!(xml.contains("<MaxSizeAllowed>8192</MaxSizeAllowed>"), "{xml}");
    assert!(xml.contains("<Resource>/bucket/key</Resource>"), "{xml}");
    closed_after(&mut s, Duration::from_secs(1)).await;
    // Beyond hyper's hard cap: its bare 431.
    let mut s = connect(server.addr).await;
    let pad = "a".repeat(40 * 1024);
    s.write_all(format!("GET /hello HTTP/1.1\r\nHost: t\r\nX-Pad: {pad}\r\n\r\n").as_bytes()).await.unwrap();
    let reply = read_reply(&mut s).await;
    assert_eq!(reply.status, 431);
}

#[tokio::test]
async fn at_the_cap_the_longest_idle_connection_makes_room() {
    let server = start(LimitsConfig { max_connections: 3, idle_timeout_secs: 10, ..limits() }).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(connect(server.addr).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut newcomer = connect(server.addr).await;
    get_ok(&mut newcomer, "/hello").await;
    closed_after(&mut idle[0], Duration::from_secs(1)).await;
    assert!(still_open(&mut idle[1], Duration::from_millis(200)).await);
    assert!(still_open(&mut idle[2], Duration::from_millis(10)).await);
}

#[tokio::test]
async fn at_the_cap_with_every_connection_busy_the_newcomer_gets_503() {
    let server = start(LimitsConfig { max_connections: 2, ..limits() }).await;
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = connect(server.addr).await;
        s.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut newcomer = connect(server.addr).await;
    newcomer.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    let reply = read_reply(&mut newcomer).await;
    assert_eq!(reply.status, 503);
    assert!(reply.head.contains("Retry-After: 1\r\n") && reply.head.contains("Connection: close\r\n"), "{}", reply.head);
    assert!(reply.body.is_empty());
    closed_after(&mut newcomer, Duration::from_secs(1)).await;
    for s in &mut busy {
        let reply = read_reply(s).await;
        assert_eq!((reply.status, reply.body.as_slice()), (200, &b"slow"[..]));
    }
}

#[tokio::test]
async fn shutdown_returns_promptly_with_an_idle_connection_open() {
    let mut server = start(LimitsConfig { idle_timeout_secs: 30, ..limits() }).await;
    let mut fresh = connect(server.addr).await;
    let mut kept = connect(server.addr).await;
    get_ok(&mut kept, "/hello").await;
    let start = Instant::now();
    let _ = server.stop.take().map(|stop| stop.send(()));
    tokio::time::timeout(Duration::from_secs(2), &mut server.handle).await.expect("shutdown hung").unwrap().unwrap();
    assert!(start.elapsed() < Duration::from_millis(500), "{:?}", start.elapsed());
    closed_after(&mut fresh, Duration::from_secs(1)).await;
    closed_after(&mut kept, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let mut server = start(limits()).await;
    let mut s = connect(server.addr).await;
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = server.stop.take().map(|stop| stop.send(()));
    let reply = read_reply(&mut s).await;
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"slow"[..]));
    tokio::time::timeout(Duration::from_secs(2), &mut server.handle).await.expect("shutdown hung").unwrap().unwrap();
}

#[test]
fn body_timeout_is_recognised_through_wrappers() {
    let axum_err = axum::Error::new(Box::new(BodyTimeout) as Box<dyn std::error::Error + Send + Sync>);
    assert!(is_body_timeout(&axum_err));
    assert!(is_body_timeout(&std::io::Error::other(axum::Error::new(BodyTimeout))));
    assert!(!is_body_timeout(&axum::Error::new(std::io::Error::other("reset"))));
}

#[test]
fn head_size_counts_request_line_and_fields() {
    let req = axum::http::Request::get("/b/k?x=1").header("host", "t").header("x-a", "bc").body(()).unwrap();
    let (parts, ()) = req.into_parts();
    // "GET /b/k?x=1 HTTP/1.1\r\n" = 23; "host: t\r\n" = 9; "x-a: bc\r\n" = 9.
    assert_eq!(super::service::head_size(&parts), 23 + 9 + 9);
}

#[test]
fn connection_cap_fits_under_the_open_file_limit() {
    assert_eq!(super::connection_cap(4096, None), 4096);
    assert_eq!(super::connection_cap(4096, Some(1 << 20)), 4096);
    assert_eq!(super::connection_cap(4096, Some(1024)), (1024 - 256) / 2);
    assert_eq!(super::connection_cap(4096, Some(8448)), 4096);
    assert_eq!(super::connection_cap(4096, Some(8447)), 4095);
    assert_eq!(super::connection_cap(4096, Some(10)), 1);
    assert_eq!(super::connection_cap(0, None), 1);
}

/// `bind` gives a listener that serves, on IPv4 and IPv6 loopback alike.
#[tokio::test]
async fn bind_listens_on_v4_and_v6() {
    for addr in ["127.0.0.1:0", "[::1]:0"] {
        let Ok(listener) = super::bind(addr.parse().unwrap()) else {
            assert!(addr.starts_with('['), "cannot bind {addr}");
            continue; // no IPv6 on this machine
        };
        let local = listener.local_addr().unwrap();
        let (client, accepted) = tokio::join!(TcpStream::connect(local), listener.accept());
        assert_eq!(client.unwrap().peer_addr().unwrap(), local);
        accepted.unwrap();
    }
}
