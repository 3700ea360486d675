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
    if !presigned && let Some(v2) = auth_header.filter(|v| v.starts_with("AWS ")) {
        return authenticate_v2_header(state, parts, query, v2, ctx).await.map(|c| (c, None));
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

/// SigV2 header auth (`Authorization: AWS AccessKeyId:Signature`), which s3cmd
/// `--signature-v2` and old libraries still send: HMAC-SHA1 over the method,
/// `Content-MD5`, `Content-Type`, the date and the canonical resource, with the
/// date no further than 15 minutes from the server's clock.
async fn authenticate_v2_header(
    state: &AppState,
    parts: &Parts,
    query: &Query,
    value: &str,
    ctx: RequestContext,
) -> Result<Caller, S3Error> {
    let (access_key, signature) = sigv2::parse_header(value).ok_or_else(|| {
        S3Error::invalid_argument("AWS authorization header is invalid.  Expected AwsAccessKeyId:signature", "Authorization", value)
    })?;
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let amz_date = header("x-amz-date");
    let date = amz_date.or_else(|| header("date"));
    let signed_secs = date
        .and_then(sigv2::parse_date)
        .ok_or_else(|| S3Error::new("AccessDenied", 403, "AWS authentication requires a valid Date or x-amz-date header"))?;
    let signed_ms = signed_secs.saturating_mul(1000);
    let max_skew_ms = state.config.limits.max_clock_skew_secs.saturating_mul(1000);
    if (signed_ms - ctx.received_ms).abs() > max_skew_ms {
        return Err(S3Error::new(
            "RequestTimeTooSkewed",
            403,
            "The difference between the request time and the current time is too large.",
        )
        .with("RequestTime", date.unwrap_or("").to_owned())
        .with("ServerTime", sigv4::AmzDate::from_unix(ctx.received_ms.div_euclid(1000)).rfc3339())
        .with("MaxAllowedSkewMilliseconds", max_skew_ms.to_string()));
    }
    let credential = state.pipeline.credential(access_key).await.map_err(s3_error)?;
    let headers = text_headers(parts);
    // With x-amz-date, the date line is empty: the header is signed among the x-amz-* ones.
    let date_line = if amz_date.is_some() { "" } else { date.unwrap_or("") };
    let sts = sigv2::string_to_sign_dated(
        parts.method.as_str(),
        header("content-md5").unwrap_or(""),
        header("content-type").unwrap_or(""),
        date_line,
        headers.iter().copied(),
        parts.uri.path(),
        query.iter(),
    );
    if !sigv2::signature_matches(&sigv2::sign(&credential.secret, &sts), signature) {
        return Err(S3Error::new(
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with("AWSAccessKeyId", access_key.to_owned())
        .with("StringToSign", sts)
        .with("SignatureProvided", signature.to_owned()));
    }
    Pipeline::session(&credential, header("x-amz-security-token"), ctx.received_ms).map_err(s3_error)?;
    Ok(Caller { credential, ctx })
}

impl From<AuthError> for S3Error {
    fn from(e: AuthError) -> Self {
        s3_error(e)
    }
}
