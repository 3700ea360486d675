//! Signing: presigned URLs (query auth) and `Authorization` headers.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use crate::canonical::{PathMode, QueryPair, canonical_query_pairs, push_canonical_headers, push_canonical_uri, push_sorted_query};
use crate::encode::encode_into;
use crate::key::{SigningKey, SigningKeyCache};
use crate::time::AmzDate;

/// The only algorithm linkgate speaks.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Payload line for presigned S3 URLs and unsigned header-auth bodies.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// S3's longest presign lifetime, in seconds (7 days).
pub const MAX_EXPIRES: u64 = 604_800;

/// Credentials that sign a request. Borrowed: the caller owns (and protects) secrets.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// `AKIA…` (long-term) or `ASIA…` (temporary).
    pub access_key_id: &'a str,
    /// The secret; only used to derive the signing key.
    pub secret_access_key: &'a str,
    /// STS session token, sent as `X-Amz-Security-Token`.
    pub session_token: Option<&'a str>,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// The parts of an HTTP request SigV4 covers. `path` and `query` are raw (as on the
/// request line, already percent-encoded); `headers` must include `host`.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// Raw path, without the query.
    pub path: &'a str,
    /// Raw query without the leading `?` (empty when there is none).
    pub query: &'a str,
    /// Request headers as (name, value); names in any case.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Everything besides the request that determines a signature.
#[derive(Clone, Copy, Debug)]
pub struct SigningParams<'a> {
    /// Who signs.
    pub credentials: Credentials<'a>,
    /// Region of the credential scope.
    pub region: &'a str,
    /// Service of the credential scope (`s3`, `execute-api`, `sts`, …).
    pub service: &'a str,
    /// The signing instant (`X-Amz-Date`).
    pub time: AmzDate,
    /// How the path is canonicalised (S3 differs from every other service).
    pub path_mode: PathMode,
    /// The payload line: [`UNSIGNED_PAYLOAD`] or a hex SHA-256.
    pub payload_hash: &'a str,
}

/// A signature together with the intermediate strings, which error messages and the
/// `explain` command show to people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureParts {
    /// The canonical request that was hashed.
    pub canonical_request: String,
    /// The string that was signed.
    pub string_to_sign: String,
    /// 64 hex characters.
    pub signature: String,
}

/// A presigned request: the final query to put after `?`, and how it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presigned {
    /// The original query, then the `X-Amz-*` parameters, `X-Amz-Signature` last.
    pub query: String,
    /// Canonical request, string to sign, signature.
    pub parts: SignatureParts,
}

/// `yyyymmdd/region/service/aws4_request`.
pub fn credential_scope(time: AmzDate, region: &str, service: &str) -> String {
    scope_for(&time.scope_date(), region, service)
}

fn scope_for(scope_date: &str, region: &str, service: &str) -> String {
    let mut s = String::with_capacity(scope_date.len() + region.len() + service.len() + 15);
    s.push_str(scope_date);
    s.push('/');
    s.push_str(region);
    s.push('/');
    s.push_str(service);
    s.push_str("/aws4_request");
    s
}

/// `X-Amz-Date` and the scope date of a signing instant, formatted once per signature.
struct Stamp {
    amz_date: String,
    /// Only for years outside 0–9999, where the scope date is not a prefix.
    odd_scope_date: Option<String>,
}

impl Stamp {
    fn new(time: AmzDate) -> Self {
        let amz_date = time.amz_format();
        let odd_scope_date = if amz_date.len() == 16 { None } else { Some(time.scope_date()) };
        Self { amz_date, odd_scope_date }
    }

    fn scope_date(&self) -> &str {
        self.odd_scope_date.as_deref().unwrap_or(&self.amz_date[..8])
    }
}

/// Builds the canonical request from its lines.
pub(crate) fn canonical_request(
    req: &RequestParts<'_>,
    path_mode: PathMode,
    query_pairs: &mut [QueryPair<'_>],
    signed_headers: &[&str],
    payload_hash: &str,
) -> String {
    // Sized up front so that building it does not reallocate (S3 paths are as sent;
    // a path encoded again may still grow it).
    let query_len: usize = query_pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let headers_len: usize = req
        .headers
        .iter()
        .filter(|(n, _)| signed_headers.iter().any(|s| s.eq_ignore_ascii_case(n)))
        .map(|(n, v)| n.len() + v.len() + 3)
        .sum();
    let names_len: usize = signed_headers.iter().map(|n| n.len() + 3).sum();
    let mut creq =
        String::with_capacity(req.method.len() + req.path.len() + query_len + headers_len + 2 * names_len + payload_hash.len() + 8);
    creq.push_str(req.method);
    creq.push('\n');
    push_canonical_uri(&mut creq, req.path, path_mode);
    creq.push('\n');
    push_sorted_query(&mut creq, query_pairs);
    creq.push('\n');
    push_canonical_headers(&mut creq, signed_headers, req.headers);
    creq.push('\n');
    push_joined(&mut creq, signed_headers, ';');
    creq.push('\n');
    creq.push_str(payload_hash);
    creq
}

/// `AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex sha256(creq)>`.
pub fn string_to_sign(time: AmzDate, scope: &str, canonical_request: &str) -> String {
    string_to_sign_at(&time.amz_format(), scope, canonical_request)
}

fn string_to_sign_at(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let mut sts = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 67);
    sts.push_str(ALGORITHM);
    sts.push('\n');
    sts.push_str(amz_date);
    sts.push('\n');
    sts.push_str(scope);
    sts.push('\n');
    crate::hex::push(&mut sts, &Sha256::digest(canonical_request.as_bytes()));
    sts
}

/// Signs a canonical request; `amz_date` is the signing instant's `X-Amz-Date`.
pub(crate) fn finish(key: &SigningKey, amz_date: &str, scope: &str, canonical_request: String) -> SignatureParts {
    let string_to_sign = string_to_sign_at(amz_date, scope, &canonical_request);
    let signature = key.sign_hex(string_to_sign.as_bytes());
    SignatureParts { canonical_request, string_to_sign, signature }
}

fn push_joined(out: &mut String, items: &[&str], sep: char) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        out.push_str(item);
    }
}

/// Lower-cased, sorted, de-duplicated header names: the `SignedHeaders` list.
/// Names that are already lower case (the usual case) are borrowed.
fn signed_header_names<'h>(headers: &[(&'h str, &str)]) -> Vec<Cow<'h, str>> {
    let mut names: Vec<Cow<'h, str>> = headers
        .iter()
        .map(|&(n, _)| if n.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(n.to_ascii_lowercase()) } else { Cow::Borrowed(n) })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Presigns a request: adds the `X-Amz-*` query parameters valid for `expires_in`
/// seconds and signs every header in `req.headers` (which must include `host`).
///
/// The session token, when present, is part of the signed query, as every AWS SDK
/// does. The existing query is kept as written and comes first, as botocore does.
pub fn presign(req: &RequestParts<'_>, params: &SigningParams<'_>, expires_in: u64, cache: &SigningKeyCache) -> Presigned {
    presign_with(req, params, expires_in, cache, true)
}

/// [`presign`], with the choice to leave the session token out of the signature
/// and append it afterwards (what the AWS CRT calls `omit_session_token`).
pub fn presign_with(
    req: &RequestParts<'_>,
    params: &SigningParams<'_>,
    expires_in: u64,
    cache: &SigningKeyCache,
    sign_session_token: bool,
) -> Presigned {
    let creds = params.credentials;
    let stamp = Stamp::new(params.time);
    let scope = scope_for(stamp.scope_date(), params.region, params.service);
    let names = signed_header_names(req.headers);
    let name_refs: Vec<&str> = names.iter().map(|n| &**n).collect();

    // The X-Amz-* parameters, already encoded, in botocore's order.
    // `%2F` after the key, and the scope's three `/` become `%2F` too.
    let mut credential = String::with_capacity(creds.access_key_id.len() + scope.len() + 3 + 3 * 2);
    encode_into(&mut credential, creds.access_key_id.as_bytes(), false);
    credential.push_str("%2F");
    encode_into(&mut credential, scope.as_bytes(), false);
    let mut signed = String::with_capacity(names.iter().map(|n| n.len() + 3).sum());
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            signed.push_str("%3B");
        }
        encode_into(&mut signed, n.as_bytes(), false);
    }
    let mut token_enc = String::new();
    if let Some(token) = creds.session_token {
        encode_into(&mut token_enc, token.as_bytes(), false);
    }
    let expires = expires_in.to_string();
    let mut added: Vec<(&str, &str)> = vec![
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", &credential),
        ("X-Amz-Date", &stamp.amz_date),
        ("X-Amz-Expires", &expires),
        ("X-Amz-SignedHeaders", &signed),
    ];
    if creds.session_token.is_some() && sign_session_token {
        added.push(("X-Amz-Security-Token", &token_enc));
    }

    let mut pairs = canonical_query_pairs(req.query);
    pairs.extend(added.iter().map(|&(k, v)| (k.into(), v.into())));
    let creq = canonical_request(req, params.path_mode, &mut pairs, &name_refs, params.payload_hash);
    let key = cache.get(creds.secret_access_key, stamp.scope_date(), params.region, params.service);
    let parts = finish(&key, &stamp.amz_date, &scope, creq);

    if creds.session_token.is_some() && !sign_session_token {
        added.push(("X-Amz-Security-Token", &token_enc));
    }
    let added_len: usize = added.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut query = String::with_capacity(req.query.len() + added_len + "&X-Amz-Signature=".len() + parts.signature.len());
    query.push_str(req.query);
    for (k, v) in added.iter().chain([("X-Amz-Signature", parts.signature.as_str())].iter()) {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(k);
        query.push('=');
        query.push_str(v);
    }
    Presigned { query, parts }
}

/// A signed `Authorization` header and the strings behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderSignature {
    /// The `Authorization` header value.
    pub authorization: String,
    /// Canonical request, string to sign, signature.
    pub parts: SignatureParts,
}

/// Signs a request for the `Authorization` header. Every header in `req.headers` is
/// signed; the caller must already have added `host`, `x-amz-date` (matching
/// `params.time`) and, where used, `x-amz-security-token` and `x-amz-content-sha256`.
pub fn sign_headers(req: &RequestParts<'_>, params: &SigningParams<'_>, cache: &SigningKeyCache) -> HeaderSignature {
    let stamp = Stamp::new(params.time);
    let scope = scope_for(stamp.scope_date(), params.region, params.service);
    let names = signed_header_names(req.headers);
    let name_refs: Vec<&str> = names.iter().map(|n| &**n).collect();
    let mut pairs = canonical_query_pairs(req.query);
    let creq = canonical_request(req, params.path_mode, &mut pairs, &name_refs, params.payload_hash);
    let key = cache.get(params.credentials.secret_access_key, stamp.scope_date(), params.region, params.service);
    let parts = finish(&key, &stamp.amz_date, &scope, creq);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={}",
        params.credentials.access_key_id,
        name_refs.join(";"),
        parts.signature
    );
    HeaderSignature { authorization, parts }
}
