//! Authentication of S3 requests: SigV4 (presigned or header) and SigV2 presigned.
//!
//! The order of checks is S3's: everything about the request's own parameters
//! first, then whether the access key exists, then the signature.

use sigv4::{PathMode, Policy, RequestParts, VerifyError};

use super::Ctx;
use crate::auth::Identity;
use crate::s3::error::S3Error;
use crate::s3::sigv2;

/// How the request proved who it is, and what that means for its body.
#[derive(Clone, Debug)]
pub(crate) struct Authenticated {
    /// Who.
    pub(crate) identity: Identity,
    /// With which key.
    #[allow(dead_code)]
    pub(crate) access_key: String,
    /// The SigV4 proof (absent for SigV2), carrying the payload mode and the key
    /// needed for aws-chunked signatures.
    pub(crate) v4: Option<sigv4::Verified>,
}

/// Authenticates the request or says exactly why not.
pub(crate) fn authenticate(ctx: &Ctx<'_>) -> Result<Authenticated, S3Error> {
    let parts = ctx.parts;
    let raw_query = parts.uri.query().unwrap_or("");
    let headers: Vec<(&str, &str)> = parts.headers.iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v))).collect();
    let has_auth_header = parts.headers.contains_key("authorization");

    if !sigv4::is_presigned(raw_query) && !has_auth_header {
        if let Some(v2) = sigv2::parse_query(ctx.query.iter()) {
            return authenticate_v2(ctx, v2, &headers);
        }
        return Err(S3Error::access_denied());
    }
    if has_auth_header && !sigv4::is_presigned(raw_query) {
        let value = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        if value.starts_with("AWS ") {
            return Err(S3Error::invalid_request(
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            ));
        }
    }
    let limits = &ctx.state.config.limits;
    let policy = Policy {
        region: &ctx.state.config.region,
        service: "s3",
        path_mode: PathMode::AsSent,
        now: ctx.now,
        future_tolerance_secs: limits.presign_future_tolerance_secs,
        max_skew_secs: limits.max_clock_skew_secs,
        payload_hash: None,
    };
    let req = RequestParts { method: parts.method.as_str(), path: parts.uri.path(), query: raw_query, headers: &headers };
    let pending = if sigv4::is_presigned(raw_query) { sigv4::check_presigned(&req, &policy)? } else { sigv4::check_header(&req, &policy)? };
    let access_key = pending.access_key().to_owned();
    let (secret, identity) = ctx.state.keys.lookup(&access_key).ok_or_else(|| VerifyError::UnknownAccessKey(access_key.clone()))?;
    let verified = pending.verify(&secret, &ctx.state.signing_keys)?;
    Ok(Authenticated { identity, access_key, v4: Some(verified) })
}

fn authenticate_v2(
    ctx: &Ctx<'_>,
    parsed: Result<sigv2::QueryAuthV2, &'static str>,
    headers: &[(&str, &str)],
) -> Result<Authenticated, S3Error> {
    let v2 = parsed.map_err(|m| S3Error::new("AccessDenied", 403, m))?;
    if ctx.now.unix() > v2.expires {
        return Err(S3Error::new("AccessDenied", 403, "Request has expired")
            .with("Expires", sigv4::AmzDate::from_unix(v2.expires).rfc3339())
            .with("ServerTime", ctx.now.rfc3339()));
    }
    let (secret, identity) =
        ctx.state.keys.lookup(&v2.access_key).ok_or_else(|| S3Error::from(VerifyError::UnknownAccessKey(v2.access_key.clone())))?;
    let parts = ctx.parts;
    let sts = sigv2::string_to_sign(
        parts.method.as_str(),
        ctx.header("content-md5").unwrap_or(""),
        ctx.header("content-type").unwrap_or(""),
        v2.expires,
        headers.iter().copied(),
        parts.uri.path(),
        ctx.query.iter(),
    );
    let expected = sigv2::sign(&secret, &sts);
    if !sigv2::signature_matches(&expected, &v2.signature) {
        return Err(S3Error::new(
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
        .with("AWSAccessKeyId", v2.access_key.clone())
        .with("StringToSign", sts)
        .with("SignatureProvided", v2.signature));
    }
    Ok(Authenticated { identity, access_key: v2.access_key, v4: None })
}
