//! Test harness: a linkgate server in-process on `127.0.0.1:0` with a fresh data
//! dir and a clock the test moves, AWS SDK clients pointed at it (on the server's
//! time), and a plain HTTP client for presigned URLs and links.
//!
//! - [`sign`]: SigV4 for hand-built requests ([`signed`], [`api`]) and browser
//!   POST forms, at the time of whichever server they go to.
//! - [`admin`]: setup through the admin API (users with keys and policies, links)
//!   and reading its JSON.
//! - [`raw`]: HTTP/1.1 over bare TCP, for requests that stall, trickle or come
//!   from a chosen loopback address.
//! - [`process`]: the real `linkgate` binary as a server process, and as the CLI.
//! - [`upstream`]: configuration and credentials for upstream APIs.

#![allow(unreachable_pub, dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod admin;
pub mod process;
pub mod raw;
pub mod sign;
pub mod upstream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use linkgate::auth::RootCredentials;
use linkgate::auth::secrets::MasterKey;
use linkgate::clock::{AdjustableClock, Clock as _};
use linkgate::config::Config;
// The signing helpers most tests use, at the top of the harness (each test file
// uses some of them).
#[allow(unused_imports)]
pub use sign::{ROOT, Signer, Target, api, as_user, sha256_hex, signed, sigv4_headers};
use sigv4::AmzDate;

/// Root credentials every test server uses.
pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
/// Secret of [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// The region the server verifies for.
pub const REGION: &str = "us-east-1";

/// A running server; stopped and its directory removed on drop.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The server's data dir (inside [`TestServer::parent`]).
    pub data_dir: PathBuf,
    /// The server's shared state, for test setup that has no HTTP API of its own.
    pub state: Arc<linkgate::http::AppState>,
    /// The server's clock: move it forward instead of sleeping. Requests the
    /// harness signs and the SDK clients it builds read it too, so they keep
    /// agreeing with the server however far it moves.
    pub clock: Arc<AdjustableClock>,
    /// The temporary directory holding `data/`: nothing may appear beside it.
    tmp: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// A server with the default configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server whose configuration `tweak` may change first.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_with_env(tweak, &linkgate::credentials::ProcessEnvironment).await
    }

    /// [`TestServer::start_with`], with upstream credentials (`[[upstreams]]`) read
    /// from `env` instead of the process environment.
    pub async fn start_with_env(tweak: impl FnOnce(&mut Config), env: &(dyn linkgate::credentials::Environment + Sync)) -> Self {
        let tmp = tempfile::Builder::new().prefix("linkgate-sdk-").tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let mut config = Config::load(None, &[]).unwrap();
        config.data_dir.clone_from(&data_dir);
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        tweak(&mut config);
        std::fs::create_dir_all(&data_dir).unwrap();
        let root = RootCredentials { access_key_id: ACCESS_KEY.into(), secret_access_key: SECRET_KEY.into() };
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let clock = Arc::new(AdjustableClock::new());
        let secrets = linkgate::app::Secrets { root, master: MasterKey::from_bytes([7; 32]) };
        let locked = linkgate::datadir::DataDir::open(&data_dir).unwrap();
        let app = linkgate::app::App::open(locked, config, secrets, env, clock.clone()).await.unwrap();
        let state = app.state.clone();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = app
                .serve(listener, async move {
                    let _ = rx.await;
                })
                .await;
        });
        Self { addr, endpoint: format!("http://{addr}"), data_dir, state, clock, tmp, shutdown: Some(tx) }
    }

    /// The temporary directory that holds the data dir.
    pub fn parent(&self) -> &Path {
        self.tmp.path()
    }

    /// The server's time.
    pub fn now(&self) -> AmzDate {
        self.clock.now()
    }

    /// An SDK client with the SDK's defaults (flexible checksums: PutObject and
    /// UploadPart go out as aws-chunked with a trailing CRC32).
    pub fn client(&self) -> aws_sdk_s3::Client {
        self.client_with(|b| b)
    }

    /// An SDK client that computes checksums only when an operation requires them,
    /// so uploads are plain bodies with a signed SHA-256.
    pub fn plain_client(&self) -> aws_sdk_s3::Client {
        self.client_with(|b| b.request_checksum_calculation(RequestChecksumCalculation::WhenRequired))
    }

    /// An SDK client with other credentials.
    pub fn client_as(&self, access_key: &str, secret_key: &str) -> aws_sdk_s3::Client {
        let creds = Credentials::new(access_key, secret_key, None, None, "linkgate-test");
        self.client_with(|b| b.credentials_provider(creds))
    }

    /// An SDK client built from the defaults (on the server's time), then `f`.
    pub fn client_with(&self, f: impl FnOnce(aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder) -> aws_sdk_s3::Client {
        let builder = sdk_config(&self.endpoint, ACCESS_KEY, SECRET_KEY).time_source(ServerTime(self.clock.clone()));
        aws_sdk_s3::Client::from_conf(f(builder).build())
    }

    /// Every regular file under [`TestServer::parent`].
    pub fn all_files(&self) -> Vec<PathBuf> {
        files_under(self.parent())
    }

    /// A server with bucket `bkt` holding `report.pdf` ([`admin::REPORT`]), the
    /// object the link tests share.
    pub async fn with_report(tweak: impl FnOnce(&mut Config)) -> Self {
        let s = Self::start_with(tweak).await;
        bucket_with(&s.plain_client(), "bkt", &[("report.pdf", admin::REPORT)]).await;
        s
    }
}

/// Creates `bucket` holding `objects` (key, body) through `c`.
pub async fn bucket_with(c: &aws_sdk_s3::Client, bucket: &str, objects: &[(&str, &[u8])]) {
    c.create_bucket().bucket(bucket).send().await.unwrap();
    for (key, body) in objects {
        c.put_object().bucket(bucket).key(*key).body(body.to_vec().into()).send().await.unwrap();
    }
}

/// The defaults of every SDK client here: path-style, [`REGION`], no retries,
/// plain HTTP (checksums are left to the caller).
pub fn sdk_config(endpoint: &str, ak: &str, sk: &str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(ak, sk, None, None, "linkgate-test"))
        .retry_config(RetryConfig::disabled())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
}

/// An SDK client for any `endpoint` (a server run as a process) with plain
/// (non-chunked) bodies, on the real clock.
pub fn sdk_client(endpoint: &str, ak: &str, sk: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        sdk_config(endpoint, ak, sk).request_checksum_calculation(RequestChecksumCalculation::WhenRequired).build(),
    )
}

/// A test server's clock as the SDK reads time.
#[derive(Debug)]
struct ServerTime(Arc<AdjustableClock>);

impl aws_smithy_async::time::TimeSource for ServerTime {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(self.0.now_ms()).unwrap_or(0))
    }
}

/// The real time `offset_secs` from now (negative: in the past).
pub fn real_time_plus(offset_secs: i64) -> SystemTime {
    let now = SystemTime::now();
    if offset_secs >= 0 { now + Duration::from_secs(offset_secs as u64) } else { now - Duration::from_secs(offset_secs.unsigned_abs()) }
}

/// Every regular file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.extend(files_under(&path)),
            Ok(_) => out.push(path),
            Err(_) => {}
        }
    }
    out.sort();
    out
}

/// Runs `fut`, failing the test with `what` if it takes longer than `secs`: a hang
/// on old code becomes a failure, never a stuck suite.
pub async fn bounded<T>(secs: f64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs_f64(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs} s: {what}"),
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A plain HTTP response, fully read.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: axum::http::HeaderMap,
    /// Body.
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The text of the first `<name>` element of the XML body.
    pub fn xml(&self, name: &str) -> Option<String> {
        xml_element(&self.text(), name)
    }

    /// Asserts an S3 XML error: status, `<Code>`, and (when given) `<Message>`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, message: Option<&str>) {
        assert_eq!(self.status, status, "status; body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/xml"), "content-type; body: {}", self.text());
        assert_eq!(self.xml("Code").as_deref(), Some(code), "code; body: {}", self.text());
        if let Some(m) = message {
            assert_eq!(self.xml("Message").as_deref(), Some(m), "message; body: {}", self.text());
        }
        assert!(self.xml("RequestId").is_some_and(|r| !r.is_empty()), "RequestId; body: {}", self.text());
    }
}

/// The unescaped text of the first `<name>…</name>` in `xml`.
pub fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(unescape(&xml[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&#13;", "\r").replace("&amp;", "&")
}

/// Sends one request with a plain HTTP/1.1 client (no signing, no retries).
pub async fn http(method: &str, url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Resp {
    KeepAlive::new().send(method, url, headers, body).await
}

/// A plain HTTP/1.1 client that keeps its connections alive between requests
/// ([`http`] builds a new one per request).
pub struct KeepAlive {
    client: HyperClient<HttpConnector, Full<Bytes>>,
}

impl KeepAlive {
    /// A new client.
    pub fn new() -> Self {
        Self { client: HyperClient::builder(TokioExecutor::new()).build_http() }
    }

    /// Sends one request (no signing, no retries).
    pub async fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Resp {
        let mut req = axum::http::Request::builder().method(method).uri(url);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let resp = self.client.request(req.body(Full::new(body.into())).unwrap()).await.unwrap();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        Resp { status: parts.status.as_u16(), headers: parts.headers, body }
    }

    /// A request signed as [`signed`] signs it.
    pub async fn signed(&self, to: &impl Target, who: Signer<'_>, method: &str, path_and_query: &str, body: &[u8]) -> Resp {
        let headers = sigv4_headers(to, who, method, path_and_query, &sha256_hex(body), true, &[]);
        let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        self.send(method, &format!("http://{}{path_and_query}", to.addr()), &refs, body.to_vec()).await
    }
}

/// Sends a presigned request as the SDK built it (its method, URL and headers).
pub async fn send_presigned(p: &aws_sdk_s3::presigning::PresignedRequest, body: impl Into<Bytes>) -> Resp {
    let headers: Vec<(&str, &str)> = p.headers().collect();
    http(p.method(), p.uri(), &headers, body).await
}

/// A presigning config valid for `secs` from now.
pub fn presign_for(secs: u64) -> aws_sdk_s3::presigning::PresigningConfig {
    aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(secs)).unwrap()
}

/// A presigning config dated `offset_secs` from now (negative: in the past).
pub fn presign_at(offset_secs: i64, secs: u64) -> aws_sdk_s3::presigning::PresigningConfig {
    let start = real_time_plus(offset_secs);
    aws_sdk_s3::presigning::PresigningConfig::builder().start_time(start).expires_in(Duration::from_secs(secs)).build().unwrap()
}

/// Replaces query parameter `name`'s value in `url` (or removes it with `None`).
pub fn set_query_param(url: &str, name: &str, value: Option<&str>) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let mut found = false;
    let pairs: Vec<String> = query
        .split('&')
        .filter_map(|seg| {
            let key = seg.split_once('=').map_or(seg, |(k, _)| k);
            if key == name {
                found = true;
                value.map(|v| format!("{name}={v}"))
            } else {
                Some(seg.to_owned())
            }
        })
        .collect();
    assert!(found, "{name} not in {url}");
    format!("{base}?{}", pairs.join("&"))
}

/// The value of query parameter `name` in `url` (still encoded).
pub fn query_param<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|seg| {
        let (k, v) = seg.split_once('=')?;
        (k == name).then_some(v)
    })
}

/// `url` with its `X-Amz-Signature` changed in the last hex digit.
pub fn tamper_signature(url: &str) -> String {
    let sig = query_param(url, "X-Amz-Signature").unwrap();
    let mut bad = sig.to_owned();
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    set_query_param(url, "X-Amz-Signature", Some(&bad))
}

/// Deterministic test bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed).wrapping_add((i >> 8) as u8)).collect()
}
