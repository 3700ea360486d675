//! Upstream links: a redeemed `/l/{token}[/{rest}]` forwarded to a named
//! `[[upstreams]]` API and signed with SigV4 at that moment.
//!
//! Producers name an upstream; the host comes only from the configuration. Each
//! forwarded request gets a fresh signature (its own `X-Amz-Date`), so a link can
//! live for days in front of an API that accepts signatures for 5 minutes.
//!
//! The pieces that decide bytes on the wire are plain functions ([`forward_target`],
//! [`has_dot_segment`], [`forward_request_headers`], [`forward_response_headers`],
//! [`sign`]) tested without a network; [`Upstreams::send`] does the I/O. The link
//! service decides whether a request may be forwarded at all.
//!
//! Limits of this version: plain `http://` upstreams only (no TLS stack in this
//! build; an `https://` base URL is refused at startup), request bodies are buffered
//! up to [`MAX_FORWARD_BODY`] (so the payload hash is the body's SHA-256), and the
//! upstream's timeout (`timeout_secs`, default [`UPSTREAM_TIMEOUT`]) covers
//! connecting and receiving the response head.
//!
//! Unlike object links, HEAD here takes a use like any other forwarded request:
//! it reaches the upstream, which may well run its GET handler for it.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, Request, Response, Uri};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest as _, Sha256};
use sigv4::{AmzDate, Credentials, PathMode, RequestParts, SigningKeyCache, SigningParams};

use crate::config::UpstreamConfig;
use crate::credentials::{self, AwsCredentials, Environment};

/// The largest request body forwarded (buffered to hash it for the signature).
pub const MAX_FORWARD_BODY: usize = 10 << 20;
/// How long connecting to an upstream and receiving its response head may take,
/// unless its `[[upstreams]]` entry sets `timeout_secs`.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest link path accepted at creation.
const MAX_LINK_PATH: usize = 2048;

/// Methods an upstream link may name.
/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus
/// the de-facto ones proxies also drop.
const HOP_BY_HOP: [&str; 8] =
    ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "http2-settings"];

/// The resource an upstream link is judged on: `arn:linkgate:upstream:::NAME`.
pub fn upstream_arn(name: &str) -> String {
    format!("arn:linkgate:upstream:::{name}")
}

/// One `[[upstreams]]` entry, checked and with its credentials resolved.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// The name producers use.
    pub name: String,
    /// `host[:port]` to connect to.
    authority: String,
    /// The `host` header sent and signed (without a default port).
    host_header: String,
    /// The base URL's path without a trailing `/` (empty for the root).
    base_path: String,
    /// SigV4 service.
    service: String,
    /// SigV4 region.
    region: String,
    /// Who signs the forwarded requests.
    credentials: AwsCredentials,
    /// How long connecting and receiving the response head may take.
    timeout: Duration,
}

impl Upstream {
    /// The base URL's path without a trailing `/` (empty for the root).
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// How long connecting and receiving the response head may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Every configured upstream by name, and the HTTP client that reaches them.
pub struct Upstreams {
    by_name: HashMap<String, Upstream>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut timeouts: Vec<(&str, Duration)> = self.by_name.values().map(|u| (u.name.as_str(), u.timeout)).collect();
        timeouts.sort_unstable();
        f.debug_struct("Upstreams").field("timeouts", &timeouts).finish_non_exhaustive()
    }
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::from_map(HashMap::new())
    }
}

impl Upstreams {
    fn from_map(by_name: HashMap<String, Upstream>) -> Self {
        Self { by_name, client: Client::builder(TokioExecutor::new()).build_http() }
    }

    /// Checks every `[[upstreams]]` entry and resolves its credentials from `env`
    /// (`"env"`: `AWS_ACCESS_KEY_ID` & co; `"profile:NAME"`: the AWS CLI's files).
    /// The error names the entry and says what to change.
    pub fn resolve(configs: &[UpstreamConfig], env: &dyn Environment) -> Result<Self, String> {
        let mut by_name = HashMap::new();
        for c in configs {
            let up = resolve_one(c, env).map_err(|e| format!("[[upstreams]] entry {:?}: {e}", c.name))?;
            if by_name.insert(up.name.clone(), up).is_some() {
                return Err(format!("[[upstreams]]: the name {:?} is used twice; names must be unique", c.name));
            }
        }
        Ok(Self::from_map(by_name))
    }

    /// The upstream called `name`.
    pub fn get(&self, name: &str) -> Option<&Upstream> {
        self.by_name.get(name)
    }

    /// Sends one request, signed at `time`, to `up`, waiting at most `up`'s timeout
    /// for the response head.
    pub async fn send(
        &self,
        up: &Upstream,
        req: Forward,
        time: AmzDate,
        cache: &SigningKeyCache,
    ) -> Result<Response<hyper::body::Incoming>, ForwardError> {
        let Forward { method, path, query, mut headers, body } = req;
        let payload_hash = sigv4::hex::encode(&Sha256::digest(&body));
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let signed = sign(
            up,
            &Signable {
                method: method.as_str(),
                path: &path,
                query: &query,
                content_type: content_type.as_deref(),
                payload_hash: &payload_hash,
            },
            time,
            cache,
        );
        for (name, value) in signed {
            let value = HeaderValue::from_str(&value).map_err(|_| ForwardError::Unreachable("a signed header is not valid".into()))?;
            headers.insert(name, value);
        }
        let uri =
            if query.is_empty() { format!("http://{}{path}", up.authority) } else { format!("http://{}{path}?{query}", up.authority) };
        let uri: Uri = uri.parse().map_err(|e| ForwardError::Unreachable(format!("bad upstream URI: {e}")))?;
        let mut req =
            Request::builder().method(method).uri(uri).body(Full::new(body)).map_err(|e| ForwardError::Unreachable(e.to_string()))?;
        *req.headers_mut() = headers;
        match tokio::time::timeout(up.timeout, self.client.request(req)).await {
            Err(_) => Err(ForwardError::Timeout),
            Ok(Err(e)) => Err(ForwardError::Unreachable(error_chain(&e))),
            Ok(Ok(resp)) => Ok(resp),
        }
    }
}

/// One request to forward: raw (already percent-encoded) path and query, headers
/// already filtered with [`forward_request_headers`], the whole body.
#[derive(Debug)]
pub struct Forward {
    /// Method.
    pub method: Method,
    /// Path.
    pub path: String,
    /// Query, without `?`.
    pub query: String,
    /// Headers to send (the signature's are added).
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// Why a forwarded request got no answer.
#[derive(Debug)]
pub enum ForwardError {
    /// No response head within the upstream's timeout.
    Timeout,
    /// Connecting or talking to the upstream failed.
    Unreachable(String),
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn resolve_one(c: &UpstreamConfig, env: &dyn Environment) -> Result<Upstream, String> {
    if c.name.is_empty() || !c.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err("name must be non-empty and use only letters, digits, '-', '_' and '.'".into());
    }
    if c.service.is_empty() || c.region.is_empty() {
        return Err("service and region must both be set (e.g. service = \"execute-api\", region = \"eu-west-1\")".into());
    }
    let url = sigv4::inspect::split_url(&c.base_url)
        .ok_or_else(|| format!("base_url {:?} is not a URL like http://api.internal:8080/prod", c.base_url))?;
    match url.scheme.to_ascii_lowercase().as_str() {
        "http" => {}
        "https" => {
            return Err(format!(
                "base_url {:?} uses https, which this build cannot reach (it has no TLS stack); use an http:// URL, \
                 e.g. through a local TLS-terminating proxy",
                c.base_url
            ));
        }
        other => return Err(format!("base_url {:?}: scheme {other:?} is not supported; use http://", c.base_url)),
    }
    if !url.query.is_empty() || c.base_url.contains('#') || url.authority.contains('@') {
        return Err(format!("base_url {:?} must have no query, fragment or user info", c.base_url));
    }
    if has_dot_segment(url.path) || url.path.parse::<axum::http::uri::PathAndQuery>().is_err() {
        return Err(format!("base_url {:?} has an invalid path", c.base_url));
    }
    if format!("http://{}/", url.authority).parse::<Uri>().is_err() {
        return Err(format!("base_url {:?} has an invalid host", c.base_url));
    }
    let timeout = match c.timeout_secs {
        None => UPSTREAM_TIMEOUT,
        Some(0) => return Err("timeout_secs must be at least 1 (leave it out for the default of 30)".into()),
        Some(secs) => Duration::from_secs(secs),
    };
    let credentials = match c.credentials.as_str() {
        "env" => credentials::from_environment(env)
            .map_err(|e| format!("credentials = \"env\": {e}"))?
            .ok_or("credentials = \"env\", but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")?,
        other => match other.strip_prefix("profile:") {
            Some(profile) if !profile.is_empty() => {
                credentials::load(env, Some(profile)).map_err(|e| format!("credentials = {other:?}: {e}"))?
            }
            _ => return Err(format!("credentials must be \"env\" or \"profile:NAME\", got {other:?}")),
        },
    };
    Ok(Upstream {
        name: c.name.clone(),
        authority: url.authority.to_owned(),
        host_header: url.host_header(),
        base_path: url.path.trim_end_matches('/').to_owned(),
        service: c.service.clone(),
        region: c.region.clone(),
        credentials,
        timeout,
    })
}

/// Whether a raw path has a `.` or `..` segment, however it is percent-encoded
/// (`%2e%2e`, `%252e%252e`, `..%2f`, `..\`): decoded up to three times, split on `/`
/// and `\`. Also true for a NUL byte. Such a path could climb out of the link's prefix.
pub(crate) fn has_dot_segment(raw: &str) -> bool {
    let mut text = raw.to_owned();
    for _ in 0..4 {
        if text.contains('\0') || text.split(['/', '\\']).any(|seg| seg == "." || seg == "..") {
            return true;
        }
        let decoded = String::from_utf8_lossy(&sigv4::encode::decode(&text)).into_owned();
        if decoded == text {
            return false;
        }
        text = decoded;
    }
    // Still changing after that many rounds: nobody legitimate encodes four times.
    true
}

/// Checks a link's `path` at creation: starts with `/`, a valid URI path (and
/// optional query), no dot segments, at most 2048 bytes.
pub(crate) fn validate_link_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("path must start with '/', got {path:?}"));
    }
    if path.len() > MAX_LINK_PATH {
        return Err(format!("path may be at most {MAX_LINK_PATH} bytes"));
    }
    if path.contains('#') || path.parse::<axum::http::uri::PathAndQuery>().is_err() {
        return Err(format!("path {path:?} is not a valid URL path; percent-encode special characters"));
    }
    let only_path = path.split_once('?').map_or(path, |(p, _)| p);
    if has_dot_segment(only_path) {
        return Err(format!("path {path:?} has '.' or '..' segments"));
    }
    Ok(())
}

/// The upstream path and query for a redemption: base path + link path + the
/// request's suffix after `/l/{token}` (raw, `""` or starting with `/`); the
/// link's own query first, then the request's. Refuses a suffix with dot segments.
pub(crate) fn forward_target(base_path: &str, link_path: &str, suffix: &str, client_query: &str) -> Result<(String, String), &'static str> {
    if has_dot_segment(suffix) {
        return Err("The path after the link may not contain '.' or '..' segments.");
    }
    let (link_p, link_q) = link_path.split_once('?').unwrap_or((link_path, ""));
    let mut path = String::with_capacity(base_path.len() + link_p.len() + suffix.len() + 1);
    path.push_str(base_path.trim_end_matches('/'));
    path.push_str(if link_p.starts_with('/') { "" } else { "/" });
    path.push_str(link_p);
    if !suffix.is_empty() {
        while path.ends_with('/') {
            path.pop();
        }
        if !suffix.starts_with('/') {
            path.push('/');
        }
        path.push_str(suffix);
    }
    let query = match (link_q.is_empty(), client_query.is_empty()) {
        (true, _) => client_query.to_owned(),
        (false, true) => link_q.to_owned(),
        (false, false) => format!("{link_q}&{client_query}"),
    };
    Ok((path, query))
}

/// Tokens of every `Connection` header: more headers that are hop-by-hop.
fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn is_hop_by_hop(name: &str, named_by_connection: &[String]) -> bool {
    HOP_BY_HOP.contains(&name) || name.starts_with("proxy-") || named_by_connection.iter().any(|t| t == name)
}

/// The client's headers that may reach the upstream: no hop-by-hop headers (nor
/// those `Connection` names), no `host`, `authorization`, `cookie`, `x-amz-*` (the
/// signature is linkgate's), no `content-length` (recomputed) or `expect`.
pub(crate) fn forward_request_headers(headers: &HeaderMap) -> HeaderMap {
    let named = connection_tokens(headers);
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        let dropped = is_hop_by_hop(n, &named)
            || matches!(n, "host" | "authorization" | "cookie" | "content-length" | "expect")
            || n.starts_with("x-amz-");
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The upstream's response headers minus hop-by-hop ones.
pub(crate) fn forward_response_headers(headers: &HeaderMap) -> HeaderMap {
    let named = connection_tokens(headers);
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if !is_hop_by_hop(name.as_str(), &named) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// What is signed of a forwarded request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signable<'a> {
    /// Method.
    pub(crate) method: &'a str,
    /// Raw path.
    pub(crate) path: &'a str,
    /// Raw query.
    pub(crate) query: &'a str,
    /// `Content-Type`, if the request has one (signed too).
    pub(crate) content_type: Option<&'a str>,
    /// Hex SHA-256 of the body.
    pub(crate) payload_hash: &'a str,
}

/// The headers that sign a forwarded request at `time`: `host`, `x-amz-date`,
/// `x-amz-security-token` (temporary credentials), `x-amz-content-sha256` (S3
/// only, which requires it), then `authorization`. Signed: those plus
/// `content-type` when the request has one. The path is canonicalised as the AWS
/// SDKs do for the service (S3 as sent; others normalised and encoded again).
pub(crate) fn sign(up: &Upstream, req: &Signable<'_>, time: AmzDate, cache: &SigningKeyCache) -> Vec<(HeaderName, String)> {
    let Signable { method, path, query, content_type, payload_hash } = *req;
    let creds = &up.credentials;
    let is_s3 = up.service == "s3";
    let mut out: Vec<(HeaderName, String)> = vec![(header::HOST, up.host_header.clone())];
    out.push((HeaderName::from_static("x-amz-date"), time.amz_format()));
    if let Some(token) = &creds.session_token {
        out.push((HeaderName::from_static("x-amz-security-token"), token.clone()));
    }
    if is_s3 {
        out.push((HeaderName::from_static("x-amz-content-sha256"), payload_hash.to_owned()));
    }
    let mut to_sign: Vec<(&str, &str)> = out.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    if let Some(ct) = content_type {
        to_sign.push(("content-type", ct));
    }
    let params = SigningParams {
        credentials: Credentials {
            access_key_id: &creds.access_key_id,
            secret_access_key: &creds.secret_access_key,
            session_token: creds.session_token.as_deref(),
        },
        region: &up.region,
        service: &up.service,
        time,
        path_mode: if is_s3 { PathMode::AsSent } else { PathMode::EncodeAgain { normalize: true } },
        payload_hash,
    };
    let sig = sigv4::sign_headers(&RequestParts { method, path, query, headers: &to_sign }, &params, cache);
    out.push((header::AUTHORIZATION, sig.authorization));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn up(service: &str, token: Option<&str>) -> Upstream {
        Upstream {
            name: "billing".into(),
            authority: "127.0.0.1:9000".into(),
            host_header: "127.0.0.1:9000".into(),
            base_path: "/prod".into(),
            service: service.into(),
            region: "eu-west-1".into(),
            credentials: AwsCredentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                session_token: token.map(str::to_owned),
                expires_at: None,
                source: "test".into(),
            },
            timeout: UPSTREAM_TIMEOUT,
        }
    }

    #[test]
    fn dot_segments_are_found_however_encoded() {
        for bad in [
            "/..",
            "/a/../b",
            "/.",
            "/a/./b",
            "/%2e%2e/x",
            "/%2E%2e",
            "/.%2e/x",
            "/%252e%252e/x",
            "/..%2fx",
            "/..\\x",
            "/a%5c..%5cb",
            "/a\0b",
            "/%00",
        ] {
            assert!(has_dot_segment(bad), "{bad}");
        }
        for ok in ["", "/", "/a/b", "/a..b", "/...", "/.well-known", "/a%20b", "/%2e%2e%2e", "/v1/invoices"] {
            assert!(!has_dot_segment(ok), "{ok}");
        }
    }

    #[test]
    fn paths_join_without_escaping_the_prefix() {
        assert_eq!(forward_target("/prod", "/v1/items", "", ""), Ok(("/prod/v1/items".into(), String::new())));
        assert_eq!(forward_target("/prod", "/v1/items", "/42", "a=1"), Ok(("/prod/v1/items/42".into(), "a=1".into())));
        assert_eq!(forward_target("/prod", "/v1/items/", "/42", ""), Ok(("/prod/v1/items/42".into(), String::new())));
        assert_eq!(forward_target("", "/", "", ""), Ok(("/".into(), String::new())));
        assert_eq!(forward_target("", "/", "/x/y", ""), Ok(("/x/y".into(), String::new())));
        assert_eq!(forward_target("/p", "/q?fixed=1", "", "b=2"), Ok(("/p/q".into(), "fixed=1&b=2".into())));
        assert_eq!(forward_target("/p", "/q?fixed=1", "", ""), Ok(("/p/q".into(), "fixed=1".into())));
        assert!(forward_target("/prod", "/v1", "/../admin", "").is_err());
        assert!(forward_target("/prod", "/v1", "/%2e%2e/admin", "").is_err());
        assert!(forward_target("/prod", "/v1", "/x/%2E%2E", "").is_err());
    }

    #[test]
    fn link_paths_are_checked_at_creation() {
        for ok in ["/", "/v1/invoices", "/v1/invoices?id=7", "/a%20b"] {
            assert_eq!(validate_link_path(ok), Ok(()), "{ok}");
        }
        for bad in ["", "v1", "/a/../b", "/%2e%2e", "/a b", "/a#frag", "/a\nb"] {
            assert!(validate_link_path(bad).is_err(), "{bad:?}");
        }
        assert!(validate_link_path(&format!("/{}", "a".repeat(MAX_LINK_PATH))).is_err());
    }

    #[test]
    fn hop_by_hop_and_credentials_are_not_forwarded() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("connection", "keep-alive, x-private-hop"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic Zm9vOmJhcg=="),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("host", "linkgate.example"),
            ("authorization", "Bearer secret"),
            ("cookie", "session=1"),
            ("x-amz-security-token", "stolen"),
            ("x-amz-date", "20200101T000000Z"),
            ("content-length", "3"),
            ("x-private-hop", "1"),
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("x-request-id", "abc"),
            ("user-agent", "curl/8"),
        ] {
            h.append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        let out = forward_request_headers(&h);
        let mut names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["accept", "content-type", "user-agent", "x-request-id"]);

        let out = forward_response_headers(&h);
        assert!(out.get("connection").is_none() && out.get("transfer-encoding").is_none() && out.get("x-private-hop").is_none());
        assert!(out.get("content-type").is_some() && out.get("content-length").is_some());
    }

    #[test]
    fn signatures_verify_as_the_upstream_would_check_them() {
        let cache = SigningKeyCache::new(4);
        let time = AmzDate::parse("20260301T120000Z").unwrap();
        let body = b"{\"n\":1}";
        let hash = sigv4::hex::encode(&Sha256::digest(body));
        for (service, token) in [("execute-api", None), ("execute-api", Some("FQoGZXIvYXdzE")), ("s3", None)] {
            let u = up(service, token);
            let what = Signable {
                method: "POST",
                path: "/prod/v1/items%20x",
                query: "b=2&a=1",
                content_type: Some("application/json"),
                payload_hash: &hash,
            };
            let headers = sign(&u, &what, time, &cache);
            let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names.first(), Some(&"host"));
            assert_eq!(names.last(), Some(&"authorization"));
            assert_eq!(names.contains(&"x-amz-security-token"), token.is_some());
            assert_eq!(names.contains(&"x-amz-content-sha256"), service == "s3");
            let mut wire: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            wire.push(("content-type", "application/json"));
            wire.push(("user-agent", "not signed"));
            let req = RequestParts { method: "POST", path: "/prod/v1/items%20x", query: "b=2&a=1", headers: &wire };
            let policy = sigv4::Policy {
                region: "eu-west-1",
                service,
                path_mode: if service == "s3" { PathMode::AsSent } else { PathMode::EncodeAgain { normalize: true } },
                now: time,
                future_tolerance_secs: 900,
                max_skew_secs: 300,
                payload_hash: Some(&hash),
            };
            let verified = sigv4::check_header(&req, &policy).unwrap().verify(&u.credentials.secret_access_key, &cache).unwrap();
            assert_eq!(verified.access_key, "AKIDEXAMPLE");
            assert_eq!(verified.session_token.as_deref(), token);
            // Another body does not verify: the payload hash is signed.
            let other = sigv4::hex::encode(&Sha256::digest(b"tampered"));
            let policy = sigv4::Policy { payload_hash: Some(&other), ..policy };
            if service != "s3" {
                assert!(sigv4::check_header(&req, &policy).unwrap().verify(&u.credentials.secret_access_key, &cache).is_err());
            }
        }
    }

    #[test]
    fn configuration_errors_say_what_to_fix() {
        struct Env;
        impl Environment for Env {
            fn var(&self, name: &str) -> Option<String> {
                match name {
                    "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".into()),
                    "AWS_SECRET_ACCESS_KEY" => Some("secret".into()),
                    _ => None,
                }
            }
            fn home_dir(&self) -> Option<std::path::PathBuf> {
                None
            }
        }
        let cfg = |name: &str, base_url: &str, credentials: &str| UpstreamConfig {
            name: name.into(),
            base_url: base_url.into(),
            service: "execute-api".into(),
            region: "eu-west-1".into(),
            credentials: credentials.into(),
            timeout_secs: None,
        };
        let ok = Upstreams::resolve(&[cfg("billing", "http://api.internal:8080/prod/", "env")], &Env).unwrap();
        let b = ok.get("billing").unwrap();
        assert_eq!(
            (b.authority.as_str(), b.host_header.as_str(), b.base_path.as_str()),
            ("api.internal:8080", "api.internal:8080", "/prod")
        );
        assert_eq!(b.credentials.access_key_id, "AKIDEXAMPLE");
        let root = Upstreams::resolve(&[cfg("r", "http://api.internal:80", "env")], &Env).unwrap();
        assert_eq!((root.get("r").unwrap().host_header.as_str(), root.get("r").unwrap().base_path.as_str()), ("api.internal", ""));

        let err = |c: UpstreamConfig| Upstreams::resolve(&[c], &Env).unwrap_err();
        assert!(err(cfg("b", "https://api.example.com", "env")).contains("uses https"));
        assert!(err(cfg("b", "ftp://x", "env")).contains("not supported"));
        assert!(err(cfg("b", "not a url", "env")).contains("is not a URL"));
        assert!(err(cfg("b", "http://x/a?q=1", "env")).contains("no query"));
        assert!(err(cfg("b", "http://x/../a", "env")).contains("invalid path"));
        assert!(err(cfg("b", "http://x", "vault")).contains("\"env\" or \"profile:NAME\""));
        assert!(err(cfg("", "http://x", "env")).contains("name"));
        let e = err(cfg("b", "http://x", "profile:nope"));
        assert!(e.starts_with("[[upstreams]] entry \"b\": credentials = \"profile:nope\""), "{e}");
        let twice = Upstreams::resolve(&[cfg("b", "http://x", "env"), cfg("b", "http://y", "env")], &Env).unwrap_err();
        assert!(twice.contains("used twice"));

        // timeout_secs: unset is 30 s, a value is used as given, 0 is refused by name.
        assert_eq!(b.timeout, Duration::from_secs(30));
        let quick = Upstreams::resolve(&[UpstreamConfig { timeout_secs: Some(2), ..cfg("q", "http://x", "env") }], &Env).unwrap();
        assert_eq!(quick.get("q").unwrap().timeout, Duration::from_secs(2));
        let zero = err(UpstreamConfig { timeout_secs: Some(0), ..cfg("z", "http://x", "env") });
        assert_eq!(zero, "[[upstreams]] entry \"z\": timeout_secs must be at least 1 (leave it out for the default of 30)");
    }

    #[test]
    fn timeout_secs_is_read_from_the_config_file() {
        let dir = std::env::temp_dir().join(format!("linkgate-upstream-timeout-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("linkgate.toml");
        let entry = "name = \"a\"\nbase_url = \"http://x\"\nservice = \"execute-api\"\nregion = \"eu-west-1\"\ncredentials = \"env\"\n";
        std::fs::write(&file, format!("[[upstreams]]\n{entry}timeout_secs = 5\n[[upstreams]]\n{entry}")).unwrap();
        let c = crate::config::Config::load(Some(&file), &[]).unwrap();
        assert_eq!(c.upstreams.iter().map(|u| u.timeout_secs).collect::<Vec<_>>(), [Some(5), None]);
        std::fs::write(&file, format!("[[upstreams]]\n{entry}timeout = 5\n")).unwrap();
        let typo = crate::config::Config::load(Some(&file), &[]).unwrap_err();
        assert!(typo.0.contains("timeout"), "{typo}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
