//! SigV4 for requests the tests build by hand: header-signed requests (whole, or
//! just their headers for a raw socket) and browser POST upload forms.
//!
//! Each is signed at the time of the server it goes to ([`Target::now`]): a
//! [`TestServer`]'s clock, which tests move, or the real clock for a server run as
//! a process.

use std::net::SocketAddr;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sigv4::{AmzDate, PathMode, RequestParts, SigningKey, SigningKeyCache, SigningParams};

use super::{ACCESS_KEY, REGION, Resp, SECRET_KEY, TestServer, http};

/// Who signs a request.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    /// Access key id.
    pub ak: &'a str,
    /// Secret.
    pub sk: &'a str,
    /// Session token.
    pub token: Option<&'a str>,
    /// SigV4 service.
    pub service: &'a str,
}

/// The root credentials, for the admin API.
pub const ROOT: Signer<'static> = Signer { ak: ACCESS_KEY, sk: SECRET_KEY, token: None, service: "s3" };

/// A user's long-term key, for the admin API.
pub fn as_user<'a>(ak: &'a str, sk: &'a str) -> Signer<'a> {
    Signer { ak, sk, token: None, service: "s3" }
}

/// A server a request is signed for: where it listens and what time it is there.
pub trait Target {
    /// Where it listens.
    fn addr(&self) -> SocketAddr;
    /// Its time, which dates the signature.
    fn now(&self) -> AmzDate;
}

impl Target for TestServer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn now(&self) -> AmzDate {
        TestServer::now(self)
    }
}

/// A server at this address, on the real clock.
impl Target for SocketAddr {
    fn addr(&self) -> SocketAddr {
        *self
    }

    fn now(&self) -> AmzDate {
        AmzDate::now()
    }
}

/// Hex SHA-256 of `body`.
pub fn sha256_hex(body: &[u8]) -> String {
    sigv4::hex::encode(&Sha256::digest(body))
}

/// The headers of a SigV4 header-signed request to `to` (including `host`,
/// `x-amz-date`, `authorization`, and `x-amz-content-sha256` when
/// `send_hash_header`), for a body whose SHA-256 (or `UNSIGNED-PAYLOAD`) is
/// `payload_hash`. The body itself need never be sent in full.
pub fn sigv4_headers(
    to: &impl Target,
    who: Signer<'_>,
    method: &str,
    path_and_query: &str,
    payload_hash: &str,
    send_hash_header: bool,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let now = to.now();
    let amz_date = now.amz_format();
    let host = to.addr().to_string();
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

/// Signs (`x-amz-content-sha256` = the body's hash) and sends one request.
pub async fn signed(to: &impl Target, who: Signer<'_>, method: &str, path_and_query: &str, body: &[u8], extra: &[(&str, &str)]) -> Resp {
    signed_with_hash(to, who, method, path_and_query, body, &sha256_hex(body), extra).await
}

/// Signs and sends one request whose `x-amz-content-sha256` is `payload_hash`
/// (which need not be the body's).
pub async fn signed_with_hash(
    to: &impl Target,
    who: Signer<'_>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    payload_hash: &str,
    extra: &[(&str, &str)],
) -> Resp {
    let headers = sigv4_headers(to, who, method, path_and_query, payload_hash, true, extra);
    let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    http(method, &format!("http://{}{path_and_query}", to.addr()), &refs, body.to_vec()).await
}

/// A signed JSON call.
pub async fn api(to: &impl Target, who: Signer<'_>, method: &str, path: &str, body: Option<Value>) -> Resp {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    signed(to, who, method, path, &bytes, &[("content-type", "application/json")]).await
}

/// A browser POST upload form for `bucket`, SigV4-signed with `ak`/`sk` at `to`'s
/// time, whose `key` field holds `key` verbatim and whose policy allows any key.
/// Returns (Content-Type, body).
pub fn post_form(to: &impl Target, bucket: &str, key: &[u8], file: &[u8], ak: &str, sk: &str) -> (String, Vec<u8>) {
    let now = to.now();
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
