//! How an S3 request proves who sent it: SigV4 (presigned or header) or a SigV2
//! presigned URL, through the shared pipeline.

use axum::http::request::Parts;
use sigv4::{PathMode, RequestParts, Verified};

use crate::context::RequestContext;
use crate::http::AppState;
use crate::http::auth::{AuthError, Pipeline, Signed, s3_error, text_headers};
use crate::s3::error::S3Error;
use crate::s3::query::Query;
use crate::s3::sigv2;
use crate::services::identities::Caller;

/// Authenticates an S3 request or says exactly why not, in S3's order of checks.
pub(crate) async fn authenticate(
    state: &AppState,
    parts: &Parts,
    query: &Query,
    ctx: RequestContext,
) -> Result<(Caller, Option<Verified>), S3Error> {
    let raw_query = parts.uri.query().unwrap_or("");
    let presigned = sigv4::is_presigned(raw_query);
    let auth_header = parts.headers.get("authorization").and_then(|v| v.to_str().ok());
    if !presigned && auth_header.is_none() {
        return match sigv2::parse_query(query.iter()) {
            Some(v2) => authenticate_v2(state, parts, query, v2, ctx).await.map(|c| (c, None)),
            // Anonymous: linkgate has no public access.
            None => Err(S3Error::access_denied()),
        };
    }
    if !presigned && auth_header.is_some_and(|v| v.starts_with("AWS ")) {
        return Err(S3Error::invalid_request(
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }
    let headers = text_headers(parts);
    let signed = Signed {
        parts: RequestParts { method: parts.method.as_str(), path: parts.uri.path(), query: raw_query, headers: &headers },
        service: "s3",
        path_mode: PathMode::AsSent,
        payload_hash: None,
    };
    let (caller, verified) = state.pipeline.verify_v4(&signed, ctx).await.map_err(s3_error)?;
    Ok((caller, Some(verified)))
}

async fn authenticate_v2(
    state: &AppState,
    parts: &Parts,
    query: &Query,
    parsed: Result<sigv2::QueryAuthV2, &'static str>,
    ctx: RequestContext,
) -> Result<Caller, S3Error> {
    let v2 = parsed.map_err(|m| S3Error::new("AccessDenied", 403, m))?;
    let now = ctx.received_ms.div_euclid(1000);
    if now > v2.expires {
        return Err(S3Error::new("AccessDenied", 403, "Request has expired")
            .with("Expires", sigv4::AmzDate::from_unix(v2.expires).rfc3339())
            .with("ServerTime", sigv4::AmzDate::from_unix(now).rfc3339()));
    }
    let credential = state.pipeline.credential(&v2.access_key).await.map_err(s3_error)?;
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let headers = text_headers(parts);
    let sts = sigv2::string_to_sign(
        parts.method.as_str(),
        header("content-md5").unwrap_or(""),
        header("content-type").unwrap_or(""),
        v2.expires,
        headers.iter().copied(),
        parts.uri.path(),
        query.iter(),
    );
    if !sigv2::signature_matches(&sigv2::sign(&credential.secret, &sts), &v2.signature) {
        return Err(S3Error::new(
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with("AWSAccessKeyId", v2.access_key.clone())
        .with("StringToSign", sts)
        .with("SignatureProvided", v2.signature));
    }
    let token = query.get("x-amz-security-token").or_else(|| header("x-amz-security-token"));
    Pipeline::session(&credential, token, ctx.received_ms).map_err(s3_error)?;
    Ok(Caller { credential, ctx })
}

impl From<AuthError> for S3Error {
    fn from(e: AuthError) -> Self {
        s3_error(e)
    }
}
