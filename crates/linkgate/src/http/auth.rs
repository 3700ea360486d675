//! The one authentication pipeline: every surface (S3 header and presigned SigV4,
//! SigV2 presigned URLs, POST policy forms, the admin API, STS and IAM) proves a
//! request the same way, in S3's order of checks:
//!
//! 1. the request's own parameters (algorithm, credential scope, date, expiry,
//!    skew) — [`sigv4::check_header`] / [`sigv4::check_presigned`];
//! 2. whether the access key exists and is active — [`Pipeline::credential`];
//! 3. the signature — [`sigv4::PendingAuth::verify`];
//! 4. the session token of temporary credentials — [`Pipeline::session`].
//!
//! The result is a [`Caller`]: the credential and the [`RequestContext`] that
//! every authorization decision, on every surface, is judged with. Each surface
//! renders an [`AuthError`] in its own protocol's format.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use sigv4::{PathMode, Policy, RequestParts, SigningKeyCache, Verified, VerifyError};

use crate::clock::SharedClock;
use crate::config::LimitsConfig;
use crate::context::RequestContext;
use crate::s3::error::S3Error;
use crate::services::identities::{Caller, Credential, Denial, Identities};

/// Why a request could not be authenticated.
#[derive(Debug)]
pub(crate) enum AuthError {
    /// The signature, its parameters or the access key failed (S3's reasons).
    Verify(VerifyError),
    /// Temporary credentials whose session no longer holds.
    Session(Denial),
    /// The identity store failed: fail closed (the cause is logged where it happened).
    Unavailable,
}

impl From<VerifyError> for AuthError {
    fn from(e: VerifyError) -> Self {
        Self::Verify(e)
    }
}

/// The request facts authentication reads, borrowed from the request.
pub(crate) struct Signed<'a> {
    /// What SigV4 canonicalises.
    pub(crate) parts: RequestParts<'a>,
    /// The service the signature must be scoped to.
    pub(crate) service: &'static str,
    /// How the path is canonicalised (S3: as sent; other services: normalised).
    pub(crate) path_mode: PathMode,
    /// The body's SHA-256 when the caller has read it; `None` for S3's rules
    /// (the `x-amz-content-sha256` header, or `UNSIGNED-PAYLOAD` when presigned).
    pub(crate) payload_hash: Option<&'a str>,
}

/// Verifies signatures and resolves callers.
pub(crate) struct Pipeline {
    identities: Arc<Identities>,
    signing_keys: Arc<SigningKeyCache>,
    clock: SharedClock,
    region: String,
    future_tolerance_secs: i64,
    max_skew_secs: i64,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("region", &self.region).finish_non_exhaustive()
    }
}

/// The client address of a request (the TCP peer: no proxy header is trusted).
pub(crate) fn client_ip(parts: &Parts) -> IpAddr {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip().to_canonical())
}

/// The string form of every header whose value is UTF-8 text (the only ones
/// SigV4 signs). Not `HeaderValue::to_str`, which refuses anything but visible
/// ASCII: SDKs sign the UTF-8 bytes of a non-ASCII `x-amz-meta-*` value as they are.
pub(crate) fn text_headers(parts: &Parts) -> Vec<(&str, &str)> {
    parts.headers.iter().filter_map(|(n, v)| std::str::from_utf8(v.as_bytes()).ok().map(|v| (n.as_str(), v))).collect()
}

impl Pipeline {
    /// The pipeline for `region`, judging time with `clock` and the skew limits.
    pub(crate) fn new(
        identities: Arc<Identities>,
        signing_keys: Arc<SigningKeyCache>,
        clock: SharedClock,
        region: String,
        limits: &LimitsConfig,
    ) -> Self {
        Self {
            identities,
            signing_keys,
            clock,
            region,
            future_tolerance_secs: limits.presign_future_tolerance_secs,
            max_skew_secs: limits.max_clock_skew_secs,
        }
    }

    /// The context of a request arriving now.
    pub(crate) fn context(&self, parts: &Parts, request_id: String) -> RequestContext {
        RequestContext { request_id, client_ip: client_ip(parts), tls: false, received_ms: self.clock.now_ms() }
    }

    /// The derived signing keys (POST forms verify with them too).
    pub(crate) fn signing_keys(&self) -> &SigningKeyCache {
        &self.signing_keys
    }

    /// The region signatures are scoped to.
    pub(crate) fn region(&self) -> &str {
        &self.region
    }

    fn policy<'a>(&'a self, req: &Signed<'a>, ctx: &RequestContext) -> Policy<'a> {
        Policy {
            region: &self.region,
            service: req.service,
            path_mode: req.path_mode,
            now: sigv4::AmzDate::from_unix(ctx.received_ms.div_euclid(1000)),
            future_tolerance_secs: self.future_tolerance_secs,
            max_skew_secs: self.max_skew_secs,
            payload_hash: req.payload_hash,
        }
    }

    /// Step 1 only: the request's own SigV4 parameters, and the access key they
    /// name. Cheap and bodiless: surfaces that must read a body before the
    /// signature can be checked call this first, so a request with a malformed
    /// header or an unknown key is refused before a byte of its body is read.
    pub(crate) async fn precheck_v4(&self, req: &Signed<'_>, ctx: &RequestContext) -> Result<Arc<Credential>, AuthError> {
        let policy = Policy { payload_hash: Some(sigv4::sign::EMPTY_SHA256), ..self.policy(req, ctx) };
        let pending = if sigv4::is_presigned(req.parts.query) {
            sigv4::check_presigned(&req.parts, &policy)?
        } else {
            sigv4::check_header(&req.parts, &policy)?
        };
        self.credential(pending.access_key()).await
    }

    /// Steps 1–4 for SigV4, presigned (query) or header: the caller and the proof
    /// (payload mode, seed signature for aws-chunked).
    pub(crate) async fn verify_v4(&self, req: &Signed<'_>, ctx: RequestContext) -> Result<(Caller, Verified), AuthError> {
        let policy = self.policy(req, &ctx);
        let pending = if sigv4::is_presigned(req.parts.query) {
            sigv4::check_presigned(&req.parts, &policy)?
        } else {
            sigv4::check_header(&req.parts, &policy)?
        };
        let credential = self.credential(pending.access_key()).await?;
        let verified = pending.verify(&credential.secret, &self.signing_keys)?;
        Self::session(&credential, verified.session_token.as_deref(), ctx.received_ms)?;
        Ok((Caller { credential, ctx }, verified))
    }

    /// Step 2: the credential of an access key; unknown and inactive keys are
    /// S3's `InvalidAccessKeyId`.
    pub(crate) async fn credential(&self, access_key: &str) -> Result<Arc<Credential>, AuthError> {
        match self.identities.resolve(access_key).await {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(AuthError::Verify(VerifyError::UnknownAccessKey(access_key.to_owned()))),
            Err(e) => {
                tracing::error!(error = %e, "identity store failed");
                Err(AuthError::Unavailable)
            }
        }
    }

    /// Step 4: the session token and lifetime of temporary credentials.
    pub(crate) fn session(credential: &Credential, token: Option<&str>, now_ms: i64) -> Result<(), AuthError> {
        Identities::check_session(credential, token, now_ms).map_err(AuthError::Session)
    }
}

/// S3's answer for an authentication failure.
pub(crate) fn s3_error(e: AuthError) -> S3Error {
    match e {
        AuthError::Verify(v) => v.into(),
        AuthError::Session(d) => denial_error(d),
        AuthError::Unavailable => S3Error::unavailable(),
    }
}

/// S3's answer for an access-time denial.
pub(crate) fn denial_error(d: Denial) -> S3Error {
    match d {
        Denial::InvalidToken => S3Error::new("InvalidToken", 400, "The provided token is malformed or otherwise invalid."),
        Denial::ExpiredToken => S3Error::new("ExpiredToken", 400, "The provided token has expired."),
        Denial::AccessDenied => S3Error::access_denied(),
    }
}
