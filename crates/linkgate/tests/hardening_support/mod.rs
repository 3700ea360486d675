//! Helpers for the hardening regression tests (`tests/hardening_*.rs`): raw
//! HTTP/1.1 over TCP (for requests that stall, trickle or never end), SigV4 headers
//! for hand-built requests, the real `linkgate` binary as a child process (for
//! crashes and a second server), browser POST forms, and bounded waits.

#![allow(unreachable_pub, dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sigv4::{AmzDate, PathMode, RequestParts, SigningKey, SigningKeyCache, SigningParams};
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::net::TcpStream;

use crate::common::{self, ACCESS_KEY, REGION, Resp, SECRET_KEY, Signer};

/// Runs `fut`, failing the test with `what` if it takes longer than `secs`: a hang
/// on old code becomes a failure, never a stuck suite.
pub async fn bounded<T>(secs: f64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs_f64(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs} s: {what}"),
    }
}

/// Hex SHA-256 of `body`.
pub fn sha256_hex(body: &[u8]) -> String {
    sigv4::hex::encode(&Sha256::digest(body))
}

/// The headers of a SigV4 header-signed request to `addr` (including `host`,
/// `x-amz-date`, `authorization`, and `x-amz-content-sha256` when
/// `send_hash_header`), for a body whose SHA-256 (or `UNSIGNED-PAYLOAD`) is
/// `payload_hash`. The body itself need never be sent in full.
pub fn sigv4_headers(
    addr: SocketAddr,
    who: Signer<'_>,
    method: &str,
    path_and_query: &str,
    payload_hash: &str,
    send_hash_header: bool,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let now = AmzDate::now();
    let amz_date = now.amz_format();
    let host = addr.to_string();
    let mut headers: Vec<(&str, &str)> = vec![("host", &host), ("x-amz-date", &amz_date)];
    if send_hash_header {
        headers.push(("x-amz-content-sha256", payload_hash));
    }
    if let Some(t) = who.token {
        headers.push(("x-amz-security-token", t));
    }
    headers.extend_from_slice(extra);
    let params = SigningParams {
        credentials: sigv4::Credentials { access_key_id: who.ak, secret_access_key: who.sk, session_token: who.token },
        region: REGION,
        service: who.service,
        time: now,
        path_mode: if who.service == "s3" { PathMode::AsSent } else { PathMode::EncodeAgain { normalize: true } },
        payload_hash,
    };
    let sig = sigv4::sign_headers(&RequestParts { method, path, query, headers: &headers }, &params, &SigningKeyCache::new(8));
    let mut out: Vec<(String, String)> = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    out.push(("authorization".into(), sig.authorization));
    out
}

/// An HTTP/1.1 request head: request line, `headers`, then `content-length` if
/// given, and the blank line.
pub fn request_head(method: &str, path_and_query: &str, headers: &[(String, String)], content_length: Option<u64>) -> String {
    let mut head = format!("{method} {path_and_query} HTTP/1.1\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(n) = content_length {
        head.push_str(&format!("content-length: {n}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// [`common::signed`] against any address (a server run as a child process).
pub async fn signed_at(addr: SocketAddr, who: Signer<'_>, method: &str, path_and_query: &str, body: &[u8], extra: &[(&str, &str)]) -> Resp {
    let headers = sigv4_headers(addr, who, method, path_and_query, &sha256_hex(body), true, extra);
    let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    common::http(method, &format!("http://{addr}{path_and_query}"), &refs, body.to_vec()).await
}

/// A plain HTTP/1.1 client that keeps its connections alive between requests
/// ([`common::http`] builds a new one per request).
pub struct KeepAlive {
    client: hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, http_body_util::Full<bytes::Bytes>>,
}

impl KeepAlive {
    /// A new client.
    pub fn new() -> Self {
        Self { client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http() }
    }

    /// A request signed as [`common::signed`] signs it, to `addr`.
    pub async fn signed(&self, addr: SocketAddr, who: Signer<'_>, method: &str, path_and_query: &str, body: &[u8]) -> Resp {
        use http_body_util::BodyExt as _;
        let headers = sigv4_headers(addr, who, method, path_and_query, &sha256_hex(body), true, &[]);
        let mut req = axum::http::Request::builder().method(method).uri(format!("http://{addr}{path_and_query}"));
        for (n, v) in &headers {
            req = req.header(n.as_str(), v.as_str());
        }
        let resp = self.client.request(req.body(http_body_util::Full::new(bytes::Bytes::from(body.to_vec()))).unwrap()).await.unwrap();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        Resp { status: parts.status.as_u16(), headers: parts.headers, body }
    }
}

/// [`common::api`] against any address.
pub async fn api_at(addr: SocketAddr, who: Signer<'_>, method: &str, path: &str, body: Option<Value>) -> Resp {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    signed_at(addr, who, method, path, &bytes, &[("content-type", "application/json")]).await
}

/// The JSON body of a response (panics with the text if it is not JSON).
pub fn json_of(r: &Resp) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", r.status, r.text()))
}

/// Asserts an RFC 9457 problem with `status`; returns its JSON.
#[track_caller]
pub fn assert_problem(r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "status; body: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"), "content-type; body: {}", r.text());
    json_of(r)
}

/// An SDK S3 client for `endpoint` with plain (non-chunked) bodies and no retries.
pub fn sdk_client(endpoint: &str, ak: &str, sk: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(ak, sk, None, None, "hardening"))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .retry_config(RetryConfig::disabled())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

// ---------------------------------------------------------------------------------
// Raw HTTP/1.1 responses
// ---------------------------------------------------------------------------------

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The text of the first `<name>` element of an XML body.
    pub fn xml(&self, name: &str) -> Option<String> {
        common::xml_element(&self.text(), name)
    }

    /// Status, headers and body, for failure messages.
    pub fn describe(&self) -> String {
        format!("{} {:?} {}", self.status, self.headers, self.text())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one response: `Ok(None)` if the peer closed before sending a byte.
pub async fn read_response<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<RawResponse>> {
    let mut buf = Vec::new();
    let mut tmp = vec![0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = r.read(&mut tmp).await?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("closed mid-head: {:?}", String::from_utf8_lossy(&buf)),
            ));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned())))
        .collect();
    let mut rest = buf[head_end..].to_vec();
    let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let chunked = get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while rest.len() < len {
            let n = r.read(&mut tmp).await?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&tmp[..n]);
        }
        rest.truncate(len);
        rest
    } else if chunked {
        let mut out = Vec::new();
        loop {
            while find(&rest, b"\r\n").is_none() {
                let n = r.read(&mut tmp).await?;
                if n == 0 {
                    return Ok(Some(RawResponse { status, headers, body: out }));
                }
                rest.extend_from_slice(&tmp[..n]);
            }
            let line_end = find(&rest, b"\r\n").unwrap_or(0);
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
            rest.drain(..line_end + 2);
            if size == 0 {
                break;
            }
            while rest.len() < size + 2 {
                let n = r.read(&mut tmp).await?;
                if n == 0 {
                    out.extend_from_slice(&rest);
                    return Ok(Some(RawResponse { status, headers, body: out }));
                }
                rest.extend_from_slice(&tmp[..n]);
            }
            out.extend_from_slice(&rest[..size]);
            rest.drain(..size + 2);
        }
        out
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else {
        // No length: the body runs to the end of the connection.
        loop {
            let n = r.read(&mut tmp).await?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&tmp[..n]);
        }
        rest
    };
    Ok(Some(RawResponse { status, headers, body }))
}

/// What became of a connection the server was expected to end.
#[derive(Debug)]
pub enum Ending {
    /// The server answered (and may also have closed).
    Answered(RawResponse),
    /// Closed (EOF or reset) without an answer.
    Closed(String),
}

/// Reads until the server answers or closes the connection.
pub async fn ending<R: AsyncRead + Unpin>(r: &mut R) -> Ending {
    match read_response(r).await {
        Ok(Some(resp)) => Ending::Answered(resp),
        Ok(None) => Ending::Closed("EOF".into()),
        Err(e) => Ending::Closed(format!("{e}")),
    }
}

/// Connects to `addr`.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

// ---------------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------------

/// A `linkgate serve` child process; killed (SIGKILL) and reaped on drop, whatever
/// happened in the test.
pub struct BinServer {
    child: Option<Child>,
    /// Where it listens, once it said so.
    pub addr: Option<SocketAddr>,
    /// Its data dir.
    pub data_dir: PathBuf,
    stderr: Arc<Mutex<String>>,
    listening: std::sync::mpsc::Receiver<SocketAddr>,
}

impl BinServer {
    /// Spawns `linkgate serve --listen 127.0.0.1:0 --data-dir DIR` with the test
    /// root credentials (when `root_env`) and `env`; no other `LINKGATE_*` variable
    /// of this process leaks in. Does not wait.
    pub fn spawn(data_dir: &Path, env: &[(&str, &str)], root_env: bool) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_linkgate"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("LINKGATE_") {
                cmd.env_remove(k);
            }
        }
        if root_env {
            cmd.env("LINKGATE_ROOT_ACCESS_KEY", ACCESS_KEY).env("LINKGATE_ROOT_SECRET_KEY", SECRET_KEY);
        }
        cmd.env("LINKGATE_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(a) = line.strip_prefix("linkgate listening on http://")
                    && let Ok(addr) = a.trim().parse::<SocketAddr>()
                {
                    let _ = tx.send(addr);
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Self { child: Some(child), addr: None, data_dir: data_dir.to_path_buf(), stderr, listening: rx }
    }

    /// Spawns and waits (up to 30 s) until it listens.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut s = Self::spawn(data_dir, env, true);
        s.wait_listening(Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
        s
    }

    /// Waits until the process says where it listens.
    pub fn wait_listening(&mut self, wait: Duration) -> Result<SocketAddr, String> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Ok(addr) = self.listening.recv_timeout(Duration::from_millis(50)) {
                self.addr = Some(addr);
                return Ok(addr);
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("linkgate exited ({status}) before listening; stderr:\n{}", self.stderr()));
            }
        }
        Err(format!("linkgate did not listen within {wait:?}; stderr:\n{}", self.stderr()))
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("not listening")
    }

    /// `http://ADDR`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Everything it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `wait` for the process to exit.
    pub fn wait_exit(&mut self, wait: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                // Let the reader thread catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SDK client with the root credentials.
    pub fn client(&self) -> aws_sdk_s3::Client {
        sdk_client(&self.endpoint(), ACCESS_KEY, SECRET_KEY)
    }
}

impl Drop for BinServer {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------
// Browser POST forms
// ---------------------------------------------------------------------------------

/// A browser POST upload form for `bucket`, SigV4-signed with `ak`/`sk`, whose
/// `key` field holds `key` verbatim and whose policy allows any key. Returns
/// (Content-Type, body).
pub fn post_form(bucket: &str, key: &[u8], file: &[u8], ak: &str, sk: &str) -> (String, Vec<u8>) {
    let now = AmzDate::now();
    let credential = format!("{ak}/{}/{REGION}/s3/aws4_request", now.scope_date());
    let amz_date = now.amz_format();
    let expiration = AmzDate::from_unix(now.unix() + 3600).rfc3339().replace('Z', ".000Z");
    let policy = serde_json::json!({
        "expiration": expiration,
        "conditions": [
            {"bucket": bucket},
            ["starts-with", "$key", ""],
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": credential},
            {"x-amz-date": amz_date},
        ],
    });
    let policy_b64 = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let signature = SigningKey::derive(sk, &now.scope_date(), REGION, "s3").sign_hex(policy_b64.as_bytes());
    let boundary = "----hardeningBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    let mut field = |name: &str, value: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    };
    field("key", key);
    field("x-amz-algorithm", b"AWS4-HMAC-SHA256");
    field("x-amz-credential", credential.as_bytes());
    field("x-amz-date", amz_date.as_bytes());
    field("policy", policy_b64.as_bytes());
    field("x-amz-signature", signature.as_bytes());
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Every regular file under `dir`, recursively.
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
