//! Verification of presigned URLs and `Authorization` headers, in S3's check order.
//!
//! Verification is split in two so that this crate needs no I/O: [`check_presigned`]
//! or [`check_header`] run every check that needs no secret and return a
//! [`PendingAuth`] naming the access key; the caller looks the secret up however it
//! likes (a database, async), then calls [`PendingAuth::verify`]. An unknown key is
//! reported by the caller as [`VerifyError::UnknownAccessKey`] — which is exactly
//! where S3 reports it: after the scope checks and before the signature.

use std::borrow::Cow;

use subtle::ConstantTimeEq;

use crate::canonical::{PathMode, QueryPair, canonical_query_pairs, push_query_pair, split_ascii, split_once_ascii};
use crate::encode::{decode, encode_into};
use crate::error::{AuthStyle, CredentialProblem, VerifyError};
use crate::key::{SigningKey, SigningKeyCache};
use crate::sign::{ALGORITHM, MAX_EXPIRES, RequestParts, UNSIGNED_PAYLOAD, canonical_request, finish};
use crate::time::AmzDate;

/// What this endpoint accepts: its scope, its clock, and its tolerances.
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    /// The region this endpoint serves.
    pub region: &'a str,
    /// The service name in the scope (`s3`, `sts`, …).
    pub service: &'a str,
    /// S3's or every other service's path canonicalisation.
    pub path_mode: PathMode,
    /// The server's clock.
    pub now: AmzDate,
    /// How far in the future a presigned `X-Amz-Date` may be (S3 tolerates ~15 min).
    pub future_tolerance_secs: i64,
    /// Allowed clock skew for header auth (S3: 15 min).
    pub max_skew_secs: i64,
    /// The payload line when the request does not carry `x-amz-content-sha256`:
    /// `None` means S3's rules (presigned → `UNSIGNED-PAYLOAD`, header auth → the
    /// header is required); `Some(hash)` is the hash of the body the caller read.
    pub payload_hash: Option<&'a str>,
}

impl<'a> Policy<'a> {
    /// S3's rules for `region` at `now`.
    pub fn s3(region: &'a str, now: AmzDate) -> Self {
        Self { region, service: "s3", path_mode: PathMode::AsSent, now, future_tolerance_secs: 900, max_skew_secs: 900, payload_hash: None }
    }
}

/// A request whose auth parameters passed every check that needs no secret.
#[derive(Clone, Debug)]
pub struct PendingAuth<'r> {
    style: AuthStyle,
    req: RequestParts<'r>,
    path_mode: PathMode,
    scope: Scope<'r>,
    signed_at: AmzDate,
    expires_at: Option<AmzDate>,
    signed_headers: Vec<Cow<'r, str>>,
    /// The canonical query pairs, when the checks already walked the query.
    query_pairs: Option<Vec<QueryPair<'r>>>,
    signature: Cow<'r, str>,
    session_token: Option<Cow<'r, str>>,
    payload_hash: Cow<'r, str>,
}

/// Proof that a request was signed by the holder of a secret.
#[derive(Clone, Debug)]
pub struct Verified {
    /// Which carrier was used.
    pub style: AuthStyle,
    /// The access key that signed.
    pub access_key: String,
    /// The session token that came with it, if any (for the caller to validate).
    pub session_token: Option<String>,
    /// `X-Amz-Date`.
    pub signed_at: AmzDate,
    /// For presigned URLs, `X-Amz-Date + X-Amz-Expires`.
    pub expires_at: Option<AmzDate>,
    /// The verified signature: the seed for aws-chunked payload signatures.
    pub signature: String,
    /// The signing key, needed to verify aws-chunked chunk signatures.
    pub signing_key: SigningKey,
    /// `yyyymmdd/region/service/aws4_request`.
    pub scope: String,
    /// The payload line that was signed (`UNSIGNED-PAYLOAD`, a hash, or a `STREAMING-…` mode).
    pub payload_hash: String,
}

impl<'r> PendingAuth<'r> {
    /// The access key the request claims.
    pub fn access_key(&self) -> &str {
        self.scope.access_key()
    }

    /// The session token sent with the request.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// Presigned or header.
    pub fn style(&self) -> AuthStyle {
        self.style
    }

    /// Checks the signature with `secret`, in constant time.
    pub fn verify(self, secret: &str, cache: &SigningKeyCache) -> Result<Verified, VerifyError> {
        let key = cache.get(secret, self.scope.date(), self.scope.region(), self.scope.service());
        let time = self.signed_at;
        // `date/region/service/aws4_request`, checked by `parse_scope` to be exactly
        // what `credential_scope(signed_at, region, service)` builds.
        let scope = self.scope.scope();
        let names: Vec<&str> = self.signed_headers.iter().map(|n| &**n).collect();
        let mut pairs = self.query_pairs.unwrap_or_else(|| canonical_query_pairs(self.req.query));
        let creq = canonical_request(&self.req, self.path_mode, &mut pairs, &names, &self.payload_hash);
        let amz_date = time.amz_format();
        let parts = finish(&key, &amz_date, scope, creq);
        let mut matched = eq_ct(&parts.signature, &self.signature);
        if !matched && self.path_mode == PathMode::AsSent {
            // Clients disagree on which path bytes to escape (`!`, `*`, `'`, `(`…);
            // S3 accepts the canonical re-encoding too, so retry with it.
            let reencoded = reencode_path(self.req.path);
            if reencoded != self.req.path {
                let req = RequestParts { path: &reencoded, ..self.req };
                let creq = canonical_request(&req, self.path_mode, &mut pairs, &names, &self.payload_hash);
                let alt = finish(&key, &amz_date, scope, creq);
                matched = eq_ct(&alt.signature, &self.signature);
            }
        }
        if !matched {
            return Err(VerifyError::SignatureMismatch {
                access_key: self.scope.access_key().to_owned(),
                string_to_sign: parts.string_to_sign,
                canonical_request: parts.canonical_request,
                signature_provided: self.signature.into_owned(),
            });
        }
        Ok(Verified {
            style: self.style,
            access_key: self.scope.access_key().to_owned(),
            session_token: self.session_token.map(Cow::into_owned),
            signed_at: self.signed_at,
            expires_at: self.expires_at,
            signature: parts.signature,
            signing_key: key,
            scope: scope.to_owned(),
            payload_hash: self.payload_hash.into_owned(),
        })
    }
}

/// Constant-time string equality (the length is not secret). The bytes are OR-folded
/// without branches and only the fold goes through `subtle`, instead of one
/// optimisation barrier per byte.
fn eq_ct(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    bool::from(diff.ct_eq(&0))
}

fn reencode_path(path: &str) -> String {
    let decoded = decode(path);
    let mut out = String::with_capacity(path.len() + 8);
    encode_into(&mut out, &decoded, true);
    out
}

/// True when the query carries SigV4 presign parameters.
pub fn is_presigned(raw_query: &str) -> bool {
    raw_query.split('&').any(|seg| {
        let key = seg.split_once('=').map_or(seg, |(k, _)| k);
        matches!(key, "X-Amz-Algorithm" | "X-Amz-Credential" | "X-Amz-Signature")
    })
}

fn header<'r>(req: &RequestParts<'r>, name: &str) -> Option<&'r str> {
    req.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
}

/// Runs every check of a presigned request that needs no secret, in S3's order:
/// algorithm, required parameters, date format, expiry number and range, not yet
/// valid, expired, credential scope, scope date, unsigned headers.
pub fn check_presigned<'r>(req: &RequestParts<'r>, policy: &Policy<'_>) -> Result<PendingAuth<'r>, VerifyError> {
    if header(req, "authorization").is_some() {
        return Err(VerifyError::BothAuthMechanisms);
    }
    let mut algorithm = Slot::default();
    let mut credential = Slot::default();
    let mut date = Slot::default();
    let mut expires = Slot::default();
    let mut signed_headers = Slot::default();
    let mut signature = Slot::default();
    let mut token = Slot::default();
    let mut content_sha256 = Slot::default();
    // One walk over the query finds the auth parameters and builds the canonical
    // pairs that `verify` signs (exactly as `canonical_query_pairs` would).
    let mut query_pairs = Vec::with_capacity(8);
    for seg in split_ascii(req.query, b'&') {
        if seg.is_empty() {
            continue;
        }
        let (k, v) = split_once_ascii(seg, b'=').unwrap_or((seg, ""));
        push_query_pair(&mut query_pairs, k, v);
        let slot = match k {
            "X-Amz-Algorithm" => &mut algorithm,
            "X-Amz-Credential" => &mut credential,
            "X-Amz-Date" => &mut date,
            "X-Amz-Expires" => &mut expires,
            "X-Amz-SignedHeaders" => &mut signed_headers,
            "X-Amz-Signature" => &mut signature,
            "X-Amz-Security-Token" => &mut token,
            "X-Amz-Content-Sha256" => &mut content_sha256,
            _ => continue,
        };
        slot.put(v);
    }
    if let Some(alg) = algorithm.value()
        && alg != ALGORITHM
    {
        return Err(VerifyError::UnsupportedAlgorithm(AuthStyle::Query));
    }
    let (Some(_), Some(credential), Some(date), Some(expires), Some(signed_headers), Some(signature)) =
        (algorithm.value(), credential.value(), date.value(), expires.value(), signed_headers.value(), signature.value())
    else {
        return Err(VerifyError::MissingQueryParameters);
    };
    if token.duplicate || content_sha256.duplicate {
        return Err(VerifyError::MissingQueryParameters);
    }
    let signed_at = AmzDate::parse(&date).ok_or(VerifyError::MalformedDate)?;
    let expires_in: i64 = expires.trim().parse().map_err(|_| VerifyError::ExpiresNotNumber)?;
    if expires_in < 0 {
        return Err(VerifyError::ExpiresNegative);
    }
    let expires_in = expires_in as u64;
    if expires_in > MAX_EXPIRES {
        return Err(VerifyError::ExpiresTooLarge);
    }
    let expires_at = signed_at.plus(expires_in as i64);
    if signed_at.unix() > policy.now.unix() + policy.future_tolerance_secs {
        return Err(VerifyError::NotYetValid { signed_at, expires_at, server_time: policy.now });
    }
    if policy.now >= expires_at {
        return Err(VerifyError::Expired { expires_in, expires_at, server_time: policy.now });
    }
    let scope = parse_scope(credential, AuthStyle::Query, policy, signed_at)?;
    let signed = split_signed_headers(signed_headers);
    check_all_signed(req, &signed)?;
    let payload_hash = match (header(req, "x-amz-content-sha256"), content_sha256.value(), policy.payload_hash) {
        (Some(h), _, _) => Cow::Borrowed(h),
        (None, Some(q), _) => q,
        (None, None, Some(p)) => Cow::Owned(p.to_owned()),
        (None, None, None) => Cow::Borrowed(UNSIGNED_PAYLOAD),
    };
    Ok(PendingAuth {
        style: AuthStyle::Query,
        req: *req,
        path_mode: policy.path_mode,
        scope,
        signed_at,
        expires_at: Some(expires_at),
        signed_headers: signed,
        query_pairs: Some(query_pairs),
        signature,
        session_token: token.value(),
        payload_hash,
    })
}

/// Runs every check of an `Authorization`-header request that needs no secret:
/// header syntax, date and skew, credential scope, payload hash presence.
pub fn check_header<'r>(req: &RequestParts<'r>, policy: &Policy<'_>) -> Result<PendingAuth<'r>, VerifyError> {
    let auth = header(req, "authorization").ok_or(VerifyError::MalformedAuthorization)?;
    let rest = auth.strip_prefix(ALGORITHM).ok_or(VerifyError::UnsupportedAlgorithm(AuthStyle::Header))?;
    if !rest.starts_with(' ') {
        return Err(VerifyError::UnsupportedAlgorithm(AuthStyle::Header));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            return Err(VerifyError::MalformedAuthorization);
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => return Err(VerifyError::MalformedAuthorization),
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) = (credential, signed_headers, signature) else {
        return Err(VerifyError::MalformedAuthorization);
    };
    let signed_at =
        header(req, "x-amz-date").or_else(|| header(req, "date")).and_then(|d| AmzDate::parse(d.trim())).ok_or(VerifyError::MissingDate)?;
    if (signed_at.unix() - policy.now.unix()).abs() > policy.max_skew_secs {
        return Err(VerifyError::RequestTimeTooSkewed {
            request_time: signed_at,
            server_time: policy.now,
            max_skew_ms: (policy.max_skew_secs as u64) * 1000,
        });
    }
    let scope = parse_scope(Cow::Borrowed(credential), AuthStyle::Header, policy, signed_at)?;
    let signed = split_signed_headers(Cow::Borrowed(signed_headers));
    if !signed.iter().any(|h| h == "host") {
        return Err(VerifyError::HeadersNotSigned(vec!["host".into()]));
    }
    let payload_hash = match (header(req, "x-amz-content-sha256"), policy.payload_hash) {
        (Some(h), _) => Cow::Borrowed(h.trim()),
        (None, Some(p)) => Cow::Owned(p.to_owned()),
        (None, None) => return Err(VerifyError::MissingContentSha256),
    };
    Ok(PendingAuth {
        style: AuthStyle::Header,
        req: *req,
        path_mode: policy.path_mode,
        scope,
        signed_at,
        expires_at: None,
        signed_headers: signed,
        query_pairs: None,
        signature: Cow::Borrowed(signature),
        session_token: header(req, "x-amz-security-token").map(Cow::Borrowed),
        payload_hash,
    })
}

/// A query parameter that must appear at most once.
#[derive(Default)]
struct Slot<'r> {
    raw: Option<&'r str>,
    duplicate: bool,
}

impl<'r> Slot<'r> {
    fn put(&mut self, v: &'r str) {
        self.duplicate |= self.raw.is_some();
        self.raw = Some(v);
    }

    /// The decoded value; a repeated parameter counts as missing.
    fn value(&self) -> Option<Cow<'r, str>> {
        if self.duplicate {
            return None;
        }
        self.raw.map(|raw| match decode(raw) {
            Cow::Borrowed(_) => Cow::Borrowed(raw),
            Cow::Owned(bytes) => {
                Cow::Owned(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
            }
        })
    }
}

/// The credential (`AKID/date/region/service/aws4_request`, decoded) and where its
/// parts are: one string instead of one allocation per part.
#[derive(Clone, Debug)]
struct Scope<'r> {
    credential: Cow<'r, str>,
    /// Byte length of the access key; the date follows after a `/`.
    ak_len: usize,
    region: std::ops::Range<usize>,
    service: std::ops::Range<usize>,
}

impl Scope<'_> {
    fn access_key(&self) -> &str {
        &self.credential[..self.ak_len]
    }

    fn date(&self) -> &str {
        &self.credential[self.ak_len + 1..self.ak_len + 9]
    }

    fn region(&self) -> &str {
        &self.credential[self.region.clone()]
    }

    fn service(&self) -> &str {
        &self.credential[self.service.clone()]
    }

    /// `date/region/service/aws4_request`.
    fn scope(&self) -> &str {
        &self.credential[self.ak_len + 1..]
    }
}

fn parse_scope<'r>(credential: Cow<'r, str>, style: AuthStyle, policy: &Policy<'_>, signed_at: AmzDate) -> Result<Scope<'r>, VerifyError> {
    let fail = |p| VerifyError::Credential(style, p);
    let mut parts = split_ascii(&credential, b'/');
    let (Some(ak), Some(date), Some(region), Some(service), Some(terminal), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(fail(CredentialProblem::Malformed));
    };
    if ak.is_empty() || date.len() != 8 || AmzDate::parse_scope_date(date).is_none() {
        return Err(fail(CredentialProblem::Malformed));
    }
    if region != policy.region {
        return Err(fail(CredentialProblem::WrongRegion { got: region.into(), expected: policy.region.into() }));
    }
    if service != policy.service {
        return Err(fail(CredentialProblem::WrongService { got: service.into(), expected: policy.service.into() }));
    }
    if terminal != "aws4_request" {
        return Err(fail(CredentialProblem::WrongTerminal { got: terminal.into() }));
    }
    if !signed_at.has_scope_date(date) {
        return Err(fail(CredentialProblem::DateMismatch { scope_date: date.into(), amz_date: signed_at.scope_date() }));
    }
    let ak_len = ak.len();
    let region_start = ak_len + 1 + date.len() + 1;
    let service_start = region_start + region.len() + 1;
    let (region, service) = (region_start..service_start - 1, service_start..service_start + service.len());
    Ok(Scope { credential, ak_len, region, service })
}

/// The `SignedHeaders` list split at `;`, borrowing from the request when it can.
fn split_signed_headers(list: Cow<'_, str>) -> Vec<Cow<'_, str>> {
    match list {
        Cow::Borrowed(list) => split_ascii(list, b';').map(Cow::Borrowed).collect(),
        Cow::Owned(list) => split_ascii(&list, b';').map(|n| Cow::Owned(n.to_owned())).collect(),
    }
}

/// S3 refuses presigned requests carrying `host`, `content-md5` or `x-amz-*` headers
/// that the signature does not cover (they could be changed in transit).
fn check_all_signed(req: &RequestParts<'_>, signed: &[Cow<'_, str>]) -> Result<(), VerifyError> {
    let mut missing: Vec<String> = Vec::new();
    for (name, _) in req.headers {
        let must = name.eq_ignore_ascii_case("host")
            || name.eq_ignore_ascii_case("content-md5")
            || (name.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("x-amz-")) && !name.eq_ignore_ascii_case("x-amz-content-sha256"));
        // A signed name must equal the lower-cased header name exactly.
        if must && !signed.iter().any(|s| is_lowercase_of(s, name)) {
            let lower = name.to_ascii_lowercase();
            if !missing.contains(&lower) {
                missing.push(lower);
            }
        }
    }
    if !signed.iter().any(|s| s == "host") && !missing.iter().any(|m| m == "host") {
        missing.insert(0, "host".into());
    }
    if missing.is_empty() { Ok(()) } else { Err(VerifyError::HeadersNotSigned(missing)) }
}

/// `lower == name.to_ascii_lowercase()`, without allocating.
fn is_lowercase_of(lower: &str, name: &str) -> bool {
    lower.len() == name.len() && lower.bytes().zip(name.bytes()).all(|(l, n)| l == n.to_ascii_lowercase())
}
