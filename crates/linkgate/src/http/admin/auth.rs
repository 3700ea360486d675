//! Who is calling the admin API, proven by SigV4 through the shared pipeline.
//!
//! The admin API is signed like an S3 request (service `s3`, the path as sent), so
//! `curl --aws-sigv4 "aws:amz:REGION:s3" --user AK:SK` and every SDK signer work
//! without a linkgate-specific client. Nothing of the body is read before the
//! request's own signature parameters and access key have been checked. When the
//! client signs its payload hash (`x-amz-content-sha256`, as curl and the S3
//! signers send), the signature is verified before the body is read and the body
//! is then checked against the hash; otherwise the body (at most
//! `limits.max_api_body_bytes`) must be read first, and while it is, it holds part
//! of the shared pre-authentication budget (`limits.preauth_memory_bytes`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use sigv4::{PathMode, RequestParts, VerifyError};

use super::problem::Problem;
use crate::http::AppState;
use crate::http::auth::{AuthError, Signed, text_headers};
use crate::http::body::{BodyFailure, declared_length, read_to_bytes};
use crate::services::identities::{Caller, Denial};

/// An authenticated admin API request: the caller, the path parameters and the
/// body. Extracting it is the authentication; each operation is authorized by
/// the service it calls.
pub(crate) struct Call {
    /// The application.
    pub(crate) state: Arc<AppState>,
    /// Who signed the request, and its context.
    pub(crate) caller: Caller,
    /// Path parameters, percent-decoded.
    params: Vec<(String, String)>,
    /// The raw query (without `?`).
    query: String,
    /// The whole body.
    pub(crate) body: Bytes,
    /// The `Host` the request was sent to (to build link URLs).
    host: String,
}

impl Call {
    /// A path parameter (`{name}`, `{id}`); empty if the route has none by that name.
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// A query parameter, decoded; the first if repeated.
    pub(crate) fn query(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    /// The `Host` header of the request.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }
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
        let (caller, body) = authenticate(state, &parts, body).await.map_err(|p| p.at(&path))?;
        let query = parts.uri.query().unwrap_or("").to_owned();
        let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost").to_owned();
        Ok(Self { state: state.clone(), caller, params, query, body, host })
    }
}

/// Verifies the SigV4 `Authorization` header and the session, in S3's order, and
/// reads the body.
async fn authenticate(state: &AppState, parts: &Parts, body: Body) -> Result<(Caller, Bytes), Problem> {
    let region = state.pipeline.region();
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(Problem::unauthenticated(
            "authentication-required",
            format!(
                "The admin API needs a SigV4 Authorization header (service s3, region {region}), e.g. curl --aws-sigv4 \"aws:amz:{region}:s3\" --user ACCESS_KEY:SECRET_KEY; presigned URLs are not accepted."
            ),
        ));
    }
    let ctx = state.pipeline.context(parts, crate::ids::request_id());
    let headers = text_headers(parts);
    let signed = |payload_hash| Signed {
        parts: RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &headers,
        },
        service: "s3",
        path_mode: PathMode::AsSent,
        payload_hash,
    };
    state.pipeline.precheck_v4(&signed(None), &ctx).await.map_err(auth_problem)?;
    let max = state.config.limits.max_api_body_bytes;
    let claimed = parts.headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok());
    match claimed {
        Some(hash) if hash == sigv4::UNSIGNED_PAYLOAD || is_hex_sha256(hash) => {
            // The signature covers the claimed hash: verify it before reading a byte.
            let (caller, _) = state.pipeline.verify_v4(&signed(None), ctx).await.map_err(auth_problem)?;
            let body = read_to_bytes(body, max).await.map_err(|f| body_problem(f, max))?;
            if hash != sigv4::UNSIGNED_PAYLOAD && !hash.eq_ignore_ascii_case(&sigv4::hex::encode(&Sha256::digest(&body))) {
                return Err(Problem::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "content-sha256-mismatch",
                    "Body does not match its hash",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                ));
            }
            Ok((caller, body))
        }
        Some(other) => Err(Problem::validation(format!(
            "x-amz-content-sha256 {other} is not supported here: send the body's SHA-256 or UNSIGNED-PAYLOAD."
        ))),
        None => {
            let reserved = declared_length(&parts.headers).unwrap_or(max).min(max);
            let _held = state.preauth.reserve(reserved).ok_or_else(Problem::busy)?;
            let body = read_to_bytes(body, max).await.map_err(|f| body_problem(f, max))?;
            let hash = sigv4::hex::encode(&Sha256::digest(&body));
            let (caller, _) = state.pipeline.verify_v4(&signed(Some(&hash)), ctx).await.map_err(auth_problem)?;
            Ok((caller, body))
        }
    }
}

fn is_hex_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A body that could not be read, as a problem.
pub(crate) fn body_problem(f: BodyFailure, max: usize) -> Problem {
    match f {
        BodyFailure::TooLarge => Problem::too_large(max),
        BodyFailure::TimedOut => Problem::request_timeout(),
        BodyFailure::Broken => Problem::validation("The request body terminated unexpectedly."),
    }
}

/// A failed authentication, as a 403 problem whose detail is S3's message.
fn auth_problem(e: AuthError) -> Problem {
    match e {
        AuthError::Verify(v) => verify_problem(v),
        AuthError::Session(d) => denial_problem(d),
        AuthError::Unavailable => Problem::unavailable(),
    }
}

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
    fn auth_failures_are_403() {
        assert_eq!(verify_problem(VerifyError::UnknownAccessKey("AKIAX".into())).status.as_u16(), 403);
        assert_eq!(verify_problem(VerifyError::MalformedAuthorization).status.as_u16(), 403);
        for d in [Denial::InvalidToken, Denial::ExpiredToken, Denial::AccessDenied] {
            assert_eq!(denial_problem(d).status.as_u16(), 403);
        }
    }

    #[test]
    fn body_failures() {
        assert_eq!(body_problem(BodyFailure::TooLarge, 10).status.as_u16(), 413);
        assert_eq!(body_problem(BodyFailure::TimedOut, 10).status.as_u16(), 408);
        assert_eq!(body_problem(BodyFailure::Broken, 10).status.as_u16(), 400);
    }
}
