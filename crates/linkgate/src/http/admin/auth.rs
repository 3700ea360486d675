//! Who is calling the admin API, proven by SigV4, and whether they may.
//!
//! The admin API is signed like an S3 request (service `s3`, the path as sent), so
//! `curl --aws-sigv4 "aws:amz:REGION:s3" --user AK:SK` and every SDK signer work
//! without a linkgate-specific client. The body is read in full (it is small) so
//! that its SHA-256 can stand in for a missing `x-amz-content-sha256` and be checked
//! against a present one. Keys, sessions and permissions are judged by the same
//! [`Authority`] as S3 requests, at access time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header;
use axum::http::request::Parts;
use futures_util::StreamExt as _;
use sha2::{Digest, Sha256};
use sigv4::{AmzDate, PathMode, Policy, RequestParts, VerifyError};

use super::problem::Problem;
use crate::auth::authority::{Authority, Credential, Denial};
use crate::http::AppState;

/// Largest request body accepted: policy documents are the biggest thing sent.
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// An authenticated admin API request: the caller's credential, the path
/// parameters and the body. Extracting it is the authentication; permission is
/// checked per operation with [`Call::authorize`].
pub(crate) struct Call {
    /// The application.
    pub(crate) state: Arc<AppState>,
    /// Who signed the request.
    pub(crate) credential: Arc<Credential>,
    /// The request path, for problem `instance`s.
    pub(crate) path: String,
    /// Path parameters, percent-decoded.
    params: Vec<(String, String)>,
    /// The raw query (without `?`).
    query: String,
    /// The whole body.
    pub(crate) body: bytes::Bytes,
    /// The client's address, for `aws:SourceIp` conditions.
    source_ip: IpAddr,
    /// The `Host` the request was sent to (to build link URLs).
    host: String,
    /// When the request arrived, unix milliseconds.
    pub(crate) now_ms: i64,
}

impl Call {
    /// A path parameter (`{name}`, `{id}`); empty if the route has none by that name.
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// A query parameter, decoded; the first if repeated.
    pub(crate) fn query(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|seg| {
            let (k, v) = seg.split_once('=').unwrap_or((seg, ""));
            (decode(k) == name).then(|| decode(v))
        })
    }

    /// The `Host` header of the request.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// Whether the caller may perform `action` on `resource` (root always may).
    pub(crate) fn allowed(&self, action: &str, resource: &str) -> bool {
        Authority::authorize(&self.credential, action, resource, self.source_ip).is_ok()
    }

    /// Whether the caller may perform `iam:{action}` (root always may). The denial
    /// names the principal and action, as IAM's does, so the fix is obvious.
    pub(crate) fn authorize(&self, action: &str) -> Result<(), Problem> {
        let action = format!("iam:{action}");
        Authority::authorize(&self.credential, &action, "*", self.source_ip).map_err(|_| {
            let account = crate::http::query::account_id(&self.state.root.access_key_id);
            Problem::access_denied(format!(
                "User: {} is not authorized to perform: {action}",
                crate::http::query::principal_arn(&account, &self.credential.principal)
            ))
        })
    }
}

/// Percent-decodes a query component (`+` is a space, as forms write it).
fn decode(s: &str) -> String {
    String::from_utf8_lossy(&sigv4::encode::decode(&s.replace('+', " "))).into_owned()
}

impl FromRequest<Arc<AppState>> for Call {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Problem> {
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let params = match RawPathParams::from_request_parts(&mut parts, state).await {
            Ok(p) => p.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            Err(RawPathParamsRejection::MissingPathParams(_)) => Vec::new(),
            Err(e) => return Err(Problem::validation(e.body_text()).at(&path)),
        };
        let body = read_body(body).await.map_err(|p| p.at(&path))?;
        let now_ms = crate::http::s3::now_ms();
        let credential = authenticate(state, &parts, &body, now_ms).map_err(|p| p.at(&path))?;
        let source_ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let query = parts.uri.query().unwrap_or("").to_owned();
        let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost").to_owned();
        Ok(Self { state: state.clone(), credential, path, params, query, body, source_ip, host, now_ms })
    }
}

/// Reads the whole body, refusing more than [`MAX_BODY`] bytes.
async fn read_body(body: Body) -> Result<bytes::Bytes, Problem> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Problem::validation("The request body terminated unexpectedly."))?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(Problem::too_large(MAX_BODY));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.into())
}

/// Verifies the SigV4 `Authorization` header and the session, in S3's order.
fn authenticate(state: &AppState, parts: &Parts, body: &[u8], now_ms: i64) -> Result<Arc<Credential>, Problem> {
    let region = &state.config.region;
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(Problem::unauthenticated(
            "authentication-required",
            format!(
                "The admin API needs a SigV4 Authorization header (service s3, region {region}), e.g. curl --aws-sigv4 \"aws:amz:{region}:s3\" --user ACCESS_KEY:SECRET_KEY; presigned URLs are not accepted."
            ),
        ));
    }
    let now = AmzDate::from_unix(now_ms.div_euclid(1000));
    let body_hash = sigv4::hex::encode(&Sha256::digest(body));
    let limits = &state.config.limits;
    let policy = Policy {
        region,
        service: "s3",
        path_mode: PathMode::AsSent,
        now,
        future_tolerance_secs: limits.presign_future_tolerance_secs,
        max_skew_secs: limits.max_clock_skew_secs,
        payload_hash: Some(&body_hash),
    };
    let headers: Vec<(&str, &str)> = parts.headers.iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v))).collect();
    let req =
        RequestParts { method: parts.method.as_str(), path: parts.uri.path(), query: parts.uri.query().unwrap_or(""), headers: &headers };
    let pending = sigv4::check_header(&req, &policy).map_err(verify_problem)?;
    let credential = match state.authority.resolve(pending.access_key()) {
        Ok(Some(c)) => c,
        Ok(None) => return Err(verify_problem(VerifyError::UnknownAccessKey(pending.access_key().to_owned()))),
        Err(e) => return Err(e.into()),
    };
    let verified = pending.verify(&credential.secret, &state.signing_keys).map_err(verify_problem)?;
    check_payload_hash(&verified.payload_hash, &body_hash)?;
    Authority::check_session(&credential, verified.session_token.as_deref(), now_ms).map_err(denial_problem)?;
    Ok(credential)
}

/// The signed payload line must be the body's hash, or `UNSIGNED-PAYLOAD` (which
/// some SDK signers send for S3 over TLS). Streaming modes carry aws-chunked
/// bodies, which no admin route takes.
fn check_payload_hash(signed: &str, body_hash: &str) -> Result<(), Problem> {
    if signed == sigv4::sign::UNSIGNED_PAYLOAD || signed.eq_ignore_ascii_case(body_hash) {
        return Ok(());
    }
    if signed.len() == 64 && signed.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Problem::new(
            axum::http::StatusCode::BAD_REQUEST,
            "content-sha256-mismatch",
            "Body does not match its hash",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ));
    }
    Err(Problem::validation(format!("x-amz-content-sha256 {signed} is not supported here: send the body's SHA-256 or UNSIGNED-PAYLOAD.")))
}

/// A failed signature check, as a 403 problem whose detail is S3's message.
fn verify_problem(e: VerifyError) -> Problem {
    let slug = match &e {
        VerifyError::UnknownAccessKey(_) => {
            return Problem::unauthenticated(
                "invalid-access-key",
                "The AWS Access Key Id you provided does not exist in our records (or the key is inactive).",
            );
        }
        VerifyError::SignatureMismatch { .. } => "signature-mismatch",
        VerifyError::RequestTimeTooSkewed { .. } => "request-time-too-skewed",
        VerifyError::Credential(..) => "invalid-credential",
        _ => "invalid-authorization",
    };
    Problem::unauthenticated(slug, e.message())
}

/// A session that no longer holds, as a 403 problem.
fn denial_problem(d: Denial) -> Problem {
    match d {
        Denial::InvalidToken => Problem::unauthenticated("invalid-token", "The provided token is malformed or otherwise invalid."),
        Denial::ExpiredToken => Problem::unauthenticated("expired-token", "The provided token has expired."),
        Denial::AccessDenied => Problem::access_denied("The session has been revoked."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_hash_must_match_the_body() {
        let h = sigv4::sign::EMPTY_SHA256;
        assert!(check_payload_hash(h, h).is_ok());
        assert!(check_payload_hash(&h.to_ascii_uppercase(), h).is_ok());
        assert!(check_payload_hash("UNSIGNED-PAYLOAD", h).is_ok());
        let other = "0".repeat(64);
        assert_eq!(check_payload_hash(&other, h).map_err(|p| p.slug), Err("content-sha256-mismatch"));
        assert_eq!(check_payload_hash("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", h).map_err(|p| p.status.as_u16()), Err(400));
    }

    #[test]
    fn auth_failures_are_403() {
        assert_eq!(verify_problem(VerifyError::UnknownAccessKey("AKIAX".into())).status.as_u16(), 403);
        assert_eq!(verify_problem(VerifyError::MalformedAuthorization).status.as_u16(), 403);
        for d in [Denial::InvalidToken, Denial::ExpiredToken, Denial::AccessDenied] {
            assert_eq!(denial_problem(d).status.as_u16(), 403);
        }
    }

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(decode("a%2Bb+c"), "a+b c");
    }
}
