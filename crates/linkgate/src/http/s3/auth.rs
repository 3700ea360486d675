//! Authentication and authorization of S3 requests.
//!
//! Authentication accepts SigV4 (presigned or header) and SigV2 presigned URLs, in
//! S3's order of checks: the request's own parameters, then whether the access key
//! exists (and is active), then the signature, then the session token. Every
//! request is then authorized at access time against the principal's policies.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use sigv4::{PathMode, Policy, RequestParts, VerifyError};

use super::{Ctx, Target};
use crate::auth::authority::{Authority, Credential, Denial};
use crate::s3::error::S3Error;
use crate::s3::sigv2;

/// How the request proved who it is, and what that means for its body.
#[derive(Clone, Debug)]
pub(crate) struct Authenticated {
    /// The resolved credential: principal, policies, session.
    pub(crate) credential: Arc<Credential>,
    /// The SigV4 proof (absent for SigV2), carrying the payload mode and the key
    /// needed for aws-chunked signatures.
    pub(crate) v4: Option<sigv4::Verified>,
}

/// S3's answer for an access-time denial.
pub(crate) fn denial_error(d: Denial) -> S3Error {
    match d {
        Denial::InvalidToken => S3Error::new("InvalidToken", 400, "The provided token is malformed or otherwise invalid."),
        Denial::ExpiredToken => S3Error::new("ExpiredToken", 400, "The provided token has expired."),
        Denial::AccessDenied => S3Error::access_denied(),
    }
}

/// The client's address (no proxy header is trusted: they are trivially forged).
pub(crate) fn source_ip(ctx: &Ctx<'_>) -> IpAddr {
    ctx.parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

fn resolve(ctx: &Ctx<'_>, access_key: &str) -> Result<Arc<Credential>, S3Error> {
    match ctx.state.authority.resolve(access_key) {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(VerifyError::UnknownAccessKey(access_key.to_owned()).into()),
        Err(e) => Err(super::store_err(e)),
    }
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
    let credential = resolve(ctx, pending.access_key())?;
    let verified = pending.verify(&credential.secret, &ctx.state.signing_keys)?;
    Authority::check_session(&credential, verified.session_token.as_deref(), super::now_ms()).map_err(denial_error)?;
    Ok(Authenticated { credential, v4: Some(verified) })
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
    let credential = resolve(ctx, &v2.access_key)?;
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
    let expected = sigv2::sign(&credential.secret, &sts);
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
    let token = ctx.query.get("x-amz-security-token").or_else(|| ctx.header("x-amz-security-token"));
    Authority::check_session(&credential, token, super::now_ms()).map_err(denial_error)?;
    Ok(Authenticated { credential, v4: None })
}

/// Checks that the authenticated principal may do `action` on `resource`.
pub(crate) fn authorize(ctx: &Ctx<'_>, action: &str, resource: &str) -> Result<(), S3Error> {
    let Some(auth) = &ctx.auth else { return Err(S3Error::access_denied()) };
    Authority::authorize(&auth.credential, action, resource, source_ip(ctx)).map_err(denial_error)
}

/// The IAM action and resource an S3 request needs. DeleteObjects and POST forms
/// are checked per key inside their handlers.
pub(crate) fn required_permission(ctx: &Ctx<'_>, target: &Target) -> Option<(&'static str, String)> {
    use crate::auth::policy::{S3_DELETE_OBJECT, S3_GET_OBJECT, S3_LIST_BUCKET, S3_PUT_OBJECT, s3_bucket_arn, s3_object_arn};
    let q = &ctx.query;
    let m = ctx.parts.method.as_str();
    Some(match target {
        Target::Service => ("s3:ListAllMyBuckets", "*".to_owned()),
        Target::Bucket(b) => {
            let action = match m {
                "PUT" if q.has("cors") => "s3:PutBucketCORS",
                "PUT" => "s3:CreateBucket",
                "DELETE" if q.has("cors") => "s3:PutBucketCORS",
                "DELETE" => "s3:DeleteBucket",
                "GET" if q.has("cors") => "s3:GetBucketCORS",
                "GET" if q.has("location") => "s3:GetBucketLocation",
                "GET" if q.has("versions") => "s3:ListBucketVersions",
                "GET" if q.has("uploads") => "s3:ListBucketMultipartUploads",
                "GET" | "HEAD" => S3_LIST_BUCKET,
                _ => return None,
            };
            (action, s3_bucket_arn(b))
        }
        Target::Object(b, k) => {
            let action = match m {
                "GET" if q.has("uploadId") => "s3:ListMultipartUploadParts",
                "GET" | "HEAD" => S3_GET_OBJECT,
                "PUT" | "POST" => S3_PUT_OBJECT,
                "DELETE" if q.has("uploadId") => "s3:AbortMultipartUpload",
                "DELETE" => S3_DELETE_OBJECT,
                _ => return None,
            };
            (action, s3_object_arn(b, k))
        }
    })
}
