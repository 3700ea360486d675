//! The admin API client shared by `linkgate user|key|policy|role`: where the
//! server is, SigV4 header signing, one plain HTTP/1.1 exchange, and turning RFC
//! 9457 problem details into one readable line.
//!
//! Everything that decides bytes on the wire is a plain function
//! ([`resolve_endpoint`], [`api_path`], [`sign_request`], [`problem_message`]) so
//! tests check it without a server; only [`AdminClient::call`] touches the network.
//!
//! Plain `http://` only for now: this build carries no TLS stack.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest as _, Sha256};
use sigv4::encode::encode;
use sigv4::inspect::split_url;
use sigv4::{AmzDate, Credentials, PathMode, RequestParts, SigningKeyCache, SigningParams};

use super::CliError;
use crate::credentials::{self, AwsCredentials, Environment, ProcessEnvironment};

/// Where the admin API lives under the server's root.
pub const API_PREFIX: &str = "/-/api/v1";
/// The endpoint when neither flag nor environment names one: `linkgate serve`'s default.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8420";
/// How long one admin call may take, connect included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The most response body we read (admin answers are small JSON documents).
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Options every admin command takes: where the server is, who signs, what to print.
#[derive(Clone, Debug, Default, Args)]
pub struct AdminOptions {
    /// linkgate server (default: LINKGATE_ENDPOINT_URL, then AWS_ENDPOINT_URL, then http://127.0.0.1:8420).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Named profile from ~/.aws/credentials and ~/.aws/config whose keys sign the request.
    #[arg(long)]
    pub profile: Option<String>,
    /// Region of the signature (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Print the server's JSON instead of a short summary.
    #[arg(long)]
    pub json: bool,
}

/// A resolved `http://` endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// As people should read it in messages: `http://host:port[/prefix]`, no trailing `/`.
    pub display: String,
    /// `host[:port]` as written (what the connection goes to).
    pub authority: String,
    /// The `host` header value that is sent and signed (default port dropped, lower case).
    pub host_header: String,
    /// Path prefix when linkgate sits under a sub-path of a proxy: empty or `/prefix`.
    pub base_path: String,
}

/// Picks the endpoint: `--endpoint-url`, `LINKGATE_ENDPOINT_URL`, `AWS_ENDPOINT_URL`,
/// then [`DEFAULT_ENDPOINT`]. Empty values count as unset.
pub fn resolve_endpoint(flag: Option<&str>, env: &dyn Environment) -> Result<Endpoint, CliError> {
    let chosen = flag
        .map(str::to_owned)
        .or_else(|| env.var("LINKGATE_ENDPOINT_URL").filter(|v| !v.trim().is_empty()))
        .or_else(|| env.var("AWS_ENDPOINT_URL").filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    parse_endpoint(&chosen)
}

/// Checks and splits an endpoint URL (`http://host[:port][/prefix]`).
pub fn parse_endpoint(raw: &str) -> Result<Endpoint, CliError> {
    let raw = raw.trim();
    let parts = split_url(raw).ok_or_else(|| {
        CliError::usage(format!("endpoint '{raw}' is not an absolute URL: use http://HOST:PORT, e.g. {DEFAULT_ENDPOINT}"))
    })?;
    if parts.scheme.eq_ignore_ascii_case("https") {
        return Err(CliError::usage(format!("endpoint '{raw}': https endpoints need a TLS-enabled build; use http://… or a local proxy")));
    }
    if !parts.scheme.eq_ignore_ascii_case("http") {
        return Err(CliError::usage(format!("endpoint '{raw}': only http:// endpoints are supported")));
    }
    if parts.authority.is_empty() || parts.authority.contains('@') {
        return Err(CliError::usage(format!("endpoint '{raw}' must be http://HOST[:PORT] (no user info)")));
    }
    if !parts.query.is_empty() || raw.contains('#') {
        return Err(CliError::usage(format!("endpoint '{raw}' must not have a query or fragment")));
    }
    let base_path = parts.path.trim_end_matches('/').to_owned();
    Ok(Endpoint {
        display: format!("http://{}{base_path}", parts.authority),
        authority: parts.authority.to_owned(),
        host_header: parts.host_header(),
        base_path,
    })
}

/// Region as the AWS CLI resolves it: `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`,
/// the profile's region, then `us-east-1`.
pub fn resolve_region(flag: Option<&str>, env: &dyn Environment, profile: Option<&str>) -> String {
    flag.filter(|r| !r.is_empty())
        .map(str::to_owned)
        .or_else(|| credentials::region(env, profile))
        .unwrap_or_else(|| "us-east-1".to_owned())
}

/// One path segment, percent-encoded so that any name stays one segment: every
/// byte outside the unreserved set is escaped (`/`, `+`, `@`, space…), and the
/// dot segments `.` and `..` become `%2E`/`%2E%2E` so nothing on the way
/// normalises them into another route.
pub fn path_segment(raw: &str) -> String {
    if !raw.is_empty() && raw.bytes().all(|b| b == b'.') && raw.len() <= 2 {
        return "%2E".repeat(raw.len());
    }
    encode(raw, false)
}

/// `/-/api/v1/seg/seg…`, each segment encoded by [`path_segment`].
pub fn api_path(segments: &[&str]) -> String {
    let mut out = String::from(API_PREFIX);
    for s in segments {
        out.push('/');
        out.push_str(&path_segment(s));
    }
    out
}

/// One admin API call, before signing.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiRequest {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Encoded path under the server root (starts with [`API_PREFIX`]).
    pub path: String,
    /// Encoded query without `?` (empty when none).
    pub query: String,
    /// JSON body, if any.
    pub body: Option<serde_json::Value>,
}

impl ApiRequest {
    /// A request without query or body.
    pub fn new(method: &'static str, path: String) -> Self {
        Self { method, path, query: String::new(), body: None }
    }

    /// The same request with a JSON body.
    pub fn with_body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The same request with a query parameter added (both sides encoded here).
    pub fn with_query(mut self, name: &str, value: &str) -> Self {
        if !self.query.is_empty() {
            self.query.push('&');
        }
        self.query.push_str(&encode(name, false));
        self.query.push('=');
        self.query.push_str(&encode(value, false));
        self
    }
}

/// A request ready to send: every header, signed ones included.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query as they go on the request line (and were signed).
    pub path_and_query: String,
    /// Headers (lower-case names): the signed ones, `authorization`, then unsigned extras.
    pub headers: Vec<(String, String)>,
    /// The body bytes (empty when none).
    pub body: Vec<u8>,
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), if n == "x-amz-security-token" || n == "authorization" { "<redacted>" } else { v.as_str() }))
            .collect();
        f.debug_struct("SignedRequest")
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl SignedRequest {
    /// A header's value, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Signs `req` for `endpoint` with SigV4 header auth (service `s3`, path as sent):
/// `host`, `x-amz-date`, `x-amz-content-sha256` (hex SHA-256 of the body),
/// `content-type` when there is a body, and `x-amz-security-token` for temporary
/// credentials are all signed.
pub fn sign_request(
    endpoint: &Endpoint,
    region: &str,
    req: &ApiRequest,
    creds: &AwsCredentials,
    time: AmzDate,
    cache: &SigningKeyCache,
) -> SignedRequest {
    let body = match &req.body {
        Some(v) => serde_json::to_vec(v).unwrap_or_default(),
        None => Vec::new(),
    };
    let content_type = req.body.as_ref().map(|_| "application/json");
    let target = SigningTarget { service: "s3", path_mode: PathMode::AsSent, content_type, content_sha256_header: true };
    let signer = Signer { endpoint, region, creds, time, cache };
    let mut signed = sign_body(&signer, &target, Route { method: req.method, path: &req.path, query: &req.query }, body);
    signed.headers.push(("accept".into(), "application/json, application/problem+json".into()));
    signed
}

/// What differs between the services the CLI signs for (admin API as `s3`, STS).
#[derive(Clone, Copy, Debug)]
pub struct SigningTarget<'a> {
    /// SigV4 service name.
    pub service: &'a str,
    /// S3 signs the path as sent; other services normalise and encode it again.
    pub path_mode: PathMode,
    /// `content-type` to send and sign, if any.
    pub content_type: Option<&'a str>,
    /// Send (and sign) `x-amz-content-sha256`, as S3-style endpoints want.
    pub content_sha256_header: bool,
}

/// Who signs, for which endpoint, when: what every signed CLI request shares.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    /// Where the request goes.
    pub endpoint: &'a Endpoint,
    /// SigV4 region.
    pub region: &'a str,
    /// The credentials.
    pub creds: &'a AwsCredentials,
    /// The signing time.
    pub time: AmzDate,
    /// Derived signing keys.
    pub cache: &'a SigningKeyCache,
}

/// The method, path (below the endpoint's base path) and raw query of a request.
#[derive(Clone, Copy, Debug)]
pub struct Route<'a> {
    /// Method.
    pub method: &'static str,
    /// Path.
    pub path: &'a str,
    /// Raw query, without `?`.
    pub query: &'a str,
}

/// Signs a request with a raw body (SigV4 header auth); the payload hash is the
/// body's SHA-256.
pub fn sign_body(signer: &Signer<'_>, target: &SigningTarget<'_>, route: Route<'_>, body: Vec<u8>) -> SignedRequest {
    let payload_hash = sigv4::hex::encode(&Sha256::digest(&body));
    let mut signed = sign_parts(signer, target, route, &payload_hash, Vec::new());
    signed.body = body;
    signed
}

/// Signs a request whose body is sent separately (e.g. streamed from a file) with
/// `payload_hash` (a hex SHA-256 or `UNSIGNED-PAYLOAD`); `extra` headers (such as
/// `content-length`) are signed too. The returned request has an empty body.
pub fn sign_parts(
    signer: &Signer<'_>,
    target: &SigningTarget<'_>,
    route: Route<'_>,
    payload_hash: &str,
    extra: Vec<(String, String)>,
) -> SignedRequest {
    let Signer { endpoint, region, creds, time, cache } = *signer;
    let Route { method, path, query } = route;
    let path = format!("{}{}", endpoint.base_path, path);
    let mut headers: Vec<(String, String)> = vec![("host".into(), endpoint.host_header.clone()), ("x-amz-date".into(), time.amz_format())];
    if target.content_sha256_header {
        headers.push(("x-amz-content-sha256".into(), payload_hash.to_owned()));
    }
    if let Some(token) = &creds.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    if let Some(ct) = target.content_type {
        headers.push(("content-type".into(), ct.into()));
    }
    headers.extend(extra);
    let header_refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let params = SigningParams {
        credentials: Credentials {
            access_key_id: &creds.access_key_id,
            secret_access_key: &creds.secret_access_key,
            session_token: creds.session_token.as_deref(),
        },
        region,
        service: target.service,
        time,
        path_mode: target.path_mode,
        payload_hash,
    };
    let parts = RequestParts { method, path: &path, query, headers: &header_refs };
    let signature = sigv4::sign_headers(&parts, &params, cache);
    headers.push(("authorization".into(), signature.authorization));
    headers.push(("user-agent".into(), concat!("linkgate-cli/", env!("CARGO_PKG_VERSION")).into()));
    let path_and_query = if query.is_empty() { path } else { format!("{path}?{query}") };
    SignedRequest { method: method.to_owned(), path_and_query, headers, body: Vec::new() }
}

/// A response, fully read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiResponse {
    /// Status code.
    pub status: u16,
    /// `content-type`, if sent.
    pub content_type: Option<String>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON; `Null` when empty (204).
    pub fn json(&self) -> Result<serde_json::Value, CliError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| CliError::failure(format!("the server answered {} with a body that is not JSON ({e})", self.status)))
    }
}

/// One line for a failed call: `<title>: <detail>` for problem details (RFC 9457),
/// `<Code>: <Message>` for an S3 XML error, else the status and the start of the body.
pub fn problem_message(resp: &ApiResponse) -> String {
    let reason = status_reason(resp.status);
    if let Ok(serde_json::Value::Object(p)) = serde_json::from_slice::<serde_json::Value>(&resp.body) {
        let text = |k: &str| p.get(k).and_then(serde_json::Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        match (text("title"), text("detail")) {
            (Some(t), Some(d)) if t != d => return format!("{t}: {d}"),
            (Some(t), _) => return t.to_owned(),
            (None, Some(d)) => return format!("{reason}: {d}"),
            (None, None) => {}
        }
        if let Some(m) = text("message").or_else(|| text("error")) {
            return format!("{reason}: {m}");
        }
    }
    let text = String::from_utf8_lossy(&resp.body);
    if let Some(code) = xml_text(&text, "Code") {
        return match xml_text(&text, "Message") {
            Some(m) => format!("{code}: {m} (HTTP {}; is this a linkgate server with the admin API?)", resp.status),
            None => format!("{code} (HTTP {}; is this a linkgate server with the admin API?)", resp.status),
        };
    }
    let snippet: String = text.trim().chars().take(200).collect();
    if snippet.is_empty() { format!("HTTP {} {reason}", resp.status) } else { format!("HTTP {} {reason}: {snippet}", resp.status) }
}

fn xml_text<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..end].trim()).filter(|s| !s.is_empty())
}

fn status_reason(status: u16) -> &'static str {
    hyper::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error")
}

/// What to say when the request never got an answer. Connection refused means
/// nothing listens there: most likely the server is not running.
pub fn transport_message(endpoint: &str, err: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost: &(dyn std::error::Error + 'static) = err;
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return format!("cannot reach {endpoint}: is linkgate serve running?");
        }
        innermost = e;
        source = e.source();
    }
    format!("cannot reach {endpoint}: {innermost}")
}

/// Signs with one set of credentials and sends to one endpoint.
#[derive(Debug)]
pub struct AdminClient {
    /// Where requests go.
    pub endpoint: Endpoint,
    /// Region of the signatures.
    pub region: String,
    creds: AwsCredentials,
    cache: SigningKeyCache,
    runtime: tokio::runtime::Runtime,
}

impl AdminClient {
    /// Resolves endpoint, region and credentials from `opts` and the process environment.
    pub fn from_options(opts: &AdminOptions) -> Result<Self, CliError> {
        let env = ProcessEnvironment;
        let endpoint = resolve_endpoint(opts.endpoint_url.as_deref(), &env)?;
        let region = resolve_region(opts.region.as_deref(), &env, opts.profile.as_deref());
        let creds = credentials::load(&env, opts.profile.as_deref()).map_err(|e| CliError::failure(e.to_string()))?;
        Self::new(endpoint, region, creds)
    }

    /// A client for `endpoint`, signing as `creds`.
    pub fn new(endpoint: Endpoint, region: String, creds: AwsCredentials) -> Result<Self, CliError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::failure(format!("cannot start the I/O runtime: {e}")))?;
        Ok(Self { endpoint, region, creds, cache: SigningKeyCache::new(1), runtime })
    }

    /// The credentials requests are signed with.
    pub fn credentials(&self) -> &AwsCredentials {
        &self.creds
    }

    /// The derived signing keys of this client.
    pub fn keys(&self) -> &SigningKeyCache {
        &self.cache
    }

    /// Signs and sends `req`. A 2xx answer is returned; anything else becomes an
    /// error whose message is [`problem_message`].
    pub fn call(&self, req: &ApiRequest) -> Result<ApiResponse, CliError> {
        let signed = sign_request(&self.endpoint, &self.region, req, &self.creds, AmzDate::now(), &self.cache);
        let resp = self.send(signed)?;
        if resp.is_success() { Ok(resp) } else { Err(CliError::failure(problem_message(&resp))) }
    }

    /// Sends a signed request and reads the whole answer, whatever its status.
    pub fn send(&self, signed: SignedRequest) -> Result<ApiResponse, CliError> {
        let url = format!("http://{}{}", self.endpoint.authority, signed.path_and_query);
        let mut builder = hyper::Request::builder().method(signed.method.as_str()).uri(&url);
        for (n, v) in &signed.headers {
            builder = builder.header(n.as_str(), v.as_str());
        }
        let request = builder
            .body(Full::new(Bytes::from(signed.body)))
            .map_err(|e| CliError::usage(format!("cannot build a request for {url}: {e}")))?;
        let display = self.endpoint.display.clone();
        self.runtime.block_on(async move {
            let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
            let exchange = async {
                let resp = client.request(request).await.map_err(|e| CliError::failure(transport_message(&display, &e)))?;
                let (parts, body) = resp.into_parts();
                let body = Limited::new(body, MAX_RESPONSE_BYTES)
                    .collect()
                    .await
                    .map_err(|e| CliError::failure(format!("reading the answer from {display}: {e}")))?
                    .to_bytes();
                let content_type = parts.headers.get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
                Ok(ApiResponse { status: parts.status.as_u16(), content_type, body: body.to_vec() })
            };
            tokio::time::timeout(CALL_TIMEOUT, exchange)
                .await
                .map_err(|_| CliError::failure(format!("no answer from {display} within {} s", CALL_TIMEOUT.as_secs())))?
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use sigv4::{Policy, check_header};

    use super::*;

    struct MapEnv(HashMap<&'static str, &'static str>);

    impl Environment for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }

        fn home_dir(&self) -> Option<PathBuf> {
            None
        }
    }

    fn env(vars: &[(&'static str, &'static str)]) -> MapEnv {
        MapEnv(vars.iter().copied().collect())
    }

    fn creds(token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_owned),
            expires_at: None,
            source: "test".into(),
        }
    }

    fn time() -> AmzDate {
        AmzDate::parse("20261122T150000Z").unwrap()
    }

    /// Verifies `signed` as the server would (S3 policy, path as sent) with `secret`.
    fn verify(signed: &SignedRequest, secret: &str, region: &str) -> Result<sigv4::Verified, sigv4::VerifyError> {
        let (path, query) = signed.path_and_query.split_once('?').unwrap_or((&signed.path_and_query, ""));
        let headers: Vec<(&str, &str)> = signed.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let parts = RequestParts { method: &signed.method, path, query, headers: &headers };
        let pending = check_header(&parts, &Policy::s3(region, time().plus(30)))?;
        pending.verify(secret, &SigningKeyCache::new(1))
    }

    #[test]
    fn endpoints_resolve_in_order() {
        assert_eq!(resolve_endpoint(None, &env(&[])).unwrap().display, DEFAULT_ENDPOINT);
        let both = env(&[("LINKGATE_ENDPOINT_URL", "http://a:1"), ("AWS_ENDPOINT_URL", "http://b:2")]);
        assert_eq!(resolve_endpoint(None, &both).unwrap().display, "http://a:1");
        assert_eq!(resolve_endpoint(Some("http://c:3/"), &both).unwrap().display, "http://c:3");
        let aws = env(&[("LINKGATE_ENDPOINT_URL", ""), ("AWS_ENDPOINT_URL", "http://b:2")]);
        assert_eq!(resolve_endpoint(None, &aws).unwrap().authority, "b:2");
    }

    #[test]
    fn endpoints_are_checked() {
        let e = parse_endpoint("http://LocalHost:80/gw/").unwrap();
        assert_eq!((e.host_header.as_str(), e.base_path.as_str(), e.display.as_str()), ("localhost", "/gw", "http://LocalHost:80/gw"));
        let https = parse_endpoint("https://linkgate.example.com").unwrap_err();
        assert_eq!(https.exit_code, 2);
        assert!(https.message.contains("https endpoints need a TLS-enabled build; use http://… or a local proxy"), "{https}");
        assert!(parse_endpoint("127.0.0.1:8420").is_err());
        assert!(parse_endpoint("ftp://h").is_err());
        assert!(parse_endpoint("http://h/?x=1").is_err());
        assert!(parse_endpoint("http://u:p@h").is_err());
    }

    #[test]
    fn regions_resolve_in_order() {
        assert_eq!(resolve_region(Some("eu-west-1"), &env(&[("AWS_REGION", "x")]), None), "eu-west-1");
        assert_eq!(resolve_region(None, &env(&[("AWS_REGION", "ap-south-1")]), None), "ap-south-1");
        assert_eq!(resolve_region(None, &env(&[]), None), "us-east-1");
    }

    #[test]
    fn odd_names_stay_one_segment() {
        assert_eq!(api_path(&["users"]), "/-/api/v1/users");
        assert_eq!(api_path(&["users", "a+b=c,d.e@f_g-h", "keys"]), "/-/api/v1/users/a%2Bb%3Dc%2Cd.e%40f_g-h/keys");
        assert_eq!(api_path(&["users", "a b/../c"]), "/-/api/v1/users/a%20b%2F..%2Fc");
        assert_eq!(api_path(&["users", ".."]), "/-/api/v1/users/%2E%2E");
        assert_eq!(api_path(&["users", "."]), "/-/api/v1/users/%2E");
        assert_eq!(api_path(&["users", "..."]), "/-/api/v1/users/...");
        assert_eq!(api_path(&["users", "é?#%"]), "/-/api/v1/users/%C3%A9%3F%23%25");
        let q = ApiRequest::new("DELETE", api_path(&["users", "u", "policy"])).with_query("name", "a&b=c d");
        assert_eq!(q.query, "name=a%26b%3Dc%20d");
    }

    #[test]
    fn signatures_verify_with_the_same_secret() {
        let ep = parse_endpoint("http://127.0.0.1:8420").unwrap();
        let req = ApiRequest::new("POST", api_path(&["users", "a+b@c", "keys"]));
        let signed = sign_request(&ep, "us-east-1", &req, &creds(None), time(), &SigningKeyCache::new(1));
        assert_eq!(signed.path_and_query, "/-/api/v1/users/a%2Bb%40c/keys");
        assert_eq!(signed.header("host"), Some("127.0.0.1:8420"));
        assert_eq!(signed.header("x-amz-date"), Some("20261122T150000Z"));
        assert_eq!(signed.header("x-amz-content-sha256"), Some(sigv4::EMPTY_SHA256));
        assert_eq!(signed.header("x-amz-security-token"), None);
        assert_eq!(signed.header("content-type"), None);
        let auth = signed.header("authorization").unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261122/us-east-1/s3/aws4_request, "), "{auth}");
        assert!(auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"), "{auth}");
        let v = verify(&signed, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1").unwrap();
        assert_eq!(v.access_key, "AKIAIOSFODNN7EXAMPLE");
        assert!(verify(&signed, "another secret", "us-east-1").is_err());
        assert!(verify(&signed, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-west-1").is_err());
    }

    #[test]
    fn bodies_queries_tokens_and_prefixes_are_signed() {
        let ep = parse_endpoint("http://Proxy.local:8080/linkgate/").unwrap();
        let req = ApiRequest::new("PUT", api_path(&["users", "..", "policy"]))
            .with_query("name", "read only")
            .with_body(serde_json::json!({"document": {"Version": "2012-10-17", "Statement": []}}));
        let signed = sign_request(&ep, "eu-west-1", &req, &creds(Some("FwoG/token+=")), time(), &SigningKeyCache::new(1));
        assert_eq!(signed.path_and_query, "/linkgate/-/api/v1/users/%2E%2E/policy?name=read%20only");
        assert_eq!(signed.header("host"), Some("proxy.local:8080"));
        assert_eq!(signed.header("content-type"), Some("application/json"));
        assert_eq!(signed.header("x-amz-security-token"), Some("FwoG/token+="));
        let expected_hash = sigv4::hex::encode(&Sha256::digest(&signed.body));
        assert_eq!(signed.header("x-amz-content-sha256"), Some(expected_hash.as_str()));
        assert_ne!(expected_hash, sigv4::EMPTY_SHA256);
        let auth = signed.header("authorization").unwrap();
        assert!(auth.contains("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"), "{auth}");
        let v = verify(&signed, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-west-1").unwrap();
        assert_eq!(v.session_token.as_deref(), Some("FwoG/token+="));
        assert_eq!(v.payload_hash, expected_hash);

        // The body hash is part of the signature: another hash does not verify.
        let mut tampered = signed.clone();
        tampered.headers.iter_mut().filter(|(n, _)| n == "x-amz-content-sha256").for_each(|(_, v)| *v = sigv4::EMPTY_SHA256.into());
        assert!(verify(&tampered, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-west-1").is_err());
        // Nor does a path changed after signing.
        let mut moved = signed.clone();
        moved.path_and_query = moved.path_and_query.replace("%2E%2E", "admin");
        assert!(verify(&moved, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-west-1").is_err());
        assert!(!format!("{signed:?}").contains("FwoG"), "Debug must redact the token");
    }

    fn resp(status: u16, content_type: &str, body: &str) -> ApiResponse {
        ApiResponse { status, content_type: Some(content_type.into()), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn problems_render_as_one_line() {
        let p = resp(
            400,
            "application/problem+json",
            r#"{"type":"about:blank","title":"Invalid policy","status":400,"detail":"Statement[0].Effect must be Allow or Deny","instance":"/-/api/v1/users/a/policy"}"#,
        );
        assert_eq!(problem_message(&p), "Invalid policy: Statement[0].Effect must be Allow or Deny");
        assert_eq!(problem_message(&resp(404, "application/problem+json", r#"{"title":"No such user","status":404}"#)), "No such user");
        assert_eq!(problem_message(&resp(409, "application/problem+json", r#"{"detail":"user a exists"}"#)), "Conflict: user a exists");
        assert_eq!(problem_message(&resp(403, "application/problem+json", r#"{"title":"Forbidden","detail":"Forbidden"}"#)), "Forbidden");
        let xml = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        assert!(problem_message(&resp(403, "application/xml", xml)).starts_with("AccessDenied: Access Denied (HTTP 403"));
        assert_eq!(problem_message(&resp(502, "text/plain", "")), "HTTP 502 Bad Gateway");
        assert_eq!(problem_message(&resp(500, "text/plain", " oops \n")), "HTTP 500 Internal Server Error: oops");
    }

    #[test]
    fn refused_connections_say_what_to_do() {
        let err = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(transport_message("http://127.0.0.1:8420", &err), "cannot reach http://127.0.0.1:8420: is linkgate serve running?");
        let other = std::io::Error::other("no route to host");
        assert_eq!(transport_message("http://h:1", &other), "cannot reach http://h:1: no route to host");
    }

    #[test]
    fn a_closed_port_is_reported_as_not_running() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let ep = parse_endpoint(&format!("http://127.0.0.1:{port}")).unwrap();
        let client = AdminClient::new(ep, "us-east-1".into(), creds(None)).unwrap();
        let err = client.call(&ApiRequest::new("GET", api_path(&["users"]))).unwrap_err();
        assert_eq!(err.exit_code, 1);
        assert_eq!(err.message, format!("cannot reach http://127.0.0.1:{port}: is linkgate serve running?"));
    }
}
