//! `linkgate presign`: SigV4 presigned URLs for S3 objects and any SigV4 API.
//!
//! Besides signing, it answers the question people only ask after a URL died in
//! production: *when does this URL really stop working?* A URL is only as valid as
//! the credentials that signed it, judged at access time, so when the signing
//! credentials expire before `X-Amz-Expires` we say so (and `--strict` refuses).

use clap::{Args, ValueEnum};
use serde::Serialize;
use sigv4::encode::encode;
use sigv4::inspect::split_url;
use sigv4::{AmzDate, Credentials, EMPTY_SHA256, MAX_EXPIRES, PathMode, RequestParts, SigningKeyCache, SigningParams, UNSIGNED_PAYLOAD};

use super::{CliError, human_duration, parse_time};
use crate::credentials::{self, AwsCredentials, Environment, ProcessEnvironment};

/// Arguments of `linkgate presign`.
#[derive(Debug, Args)]
pub struct PresignArgs {
    /// The object, as s3://BUCKET/KEY (the key is taken literally, not URL-encoded).
    #[arg(value_name = "S3_URI", required_unless_present = "url", conflicts_with = "url")]
    pub target: Option<String>,
    /// Presign this URL instead (any SigV4 service). Its path and query are taken as
    /// already percent-encoded, as the AWS signers do.
    #[arg(long)]
    pub url: Option<String>,
    /// SigV4 service name (default: s3 for s3://, guessed from the host for --url).
    #[arg(long)]
    pub service: Option<String>,
    /// HTTP method the URL will be used with.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// Seconds the URL is valid: 1..604800 (7 days).
    #[arg(long, default_value_t = 3600, allow_negative_numbers = true)]
    pub expires_in: i64,
    /// Region of the signature (default: AWS_REGION, the profile's region, the URL's host, us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// S3 endpoint, e.g. http://127.0.0.1:8420 for linkgate (default: AWS_ENDPOINT_URL_S3,
    /// AWS_ENDPOINT_URL, the profile's endpoint_url, then AWS S3).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// path: ENDPOINT/BUCKET/KEY; virtual: BUCKET.ENDPOINT/KEY; auto: virtual on AWS, path elsewhere.
    #[arg(long, value_enum, default_value_t = AddressingStyle::Auto)]
    pub addressing_style: AddressingStyle,
    /// Content-Type the response will carry (response-content-type).
    #[arg(long)]
    pub response_content_type: Option<String>,
    /// Content-Disposition the response will carry, e.g. 'attachment; filename="a.pdf"'.
    #[arg(long)]
    pub response_content_disposition: Option<String>,
    /// Cache-Control the response will carry.
    #[arg(long)]
    pub response_cache_control: Option<String>,
    /// Expires the response will carry.
    #[arg(long)]
    pub response_expires: Option<String>,
    /// Content-Language the response will carry.
    #[arg(long)]
    pub response_content_language: Option<String>,
    /// Content-Encoding the response will carry.
    #[arg(long)]
    pub response_content_encoding: Option<String>,
    /// Object version (versionId), for versioned buckets.
    #[arg(long)]
    pub version_id: Option<String>,
    /// Part number (partNumber): with --upload-id and --method PUT, a presigned UploadPart.
    #[arg(long)]
    pub part_number: Option<u32>,
    /// Multipart upload id (uploadId).
    #[arg(long)]
    pub upload_id: Option<String>,
    /// Sign an extra header, 'Name: value'. The client must then send it exactly.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Sign as of this time instead of now (RFC 3339, yyyyMMddTHHmmssZ or unix seconds),
    /// for reproducible output.
    #[arg(long)]
    pub signing_time: Option<String>,
    /// Named profile from ~/.aws/credentials and ~/.aws/config.
    #[arg(long)]
    pub profile: Option<String>,
    /// Fail instead of warning when the credentials expire before the URL would.
    #[arg(long)]
    pub strict: bool,
    /// Sign with a fresh STS session (AssumeRole on --role-arn, or the profile's
    /// role_arn) long enough to cover --expires-in when the role allows it.
    #[arg(long)]
    pub refresh: bool,
    /// Role to assume with --refresh (default: the profile's role_arn).
    #[arg(long, requires = "refresh")]
    pub role_arn: Option<String>,
    /// RoleSessionName for --refresh.
    #[arg(long, default_value = "linkgate-presign", requires = "refresh")]
    pub role_session_name: String,
    /// STS endpoint for --refresh (default: --endpoint-url; linkgate serves STS).
    #[arg(long, requires = "refresh")]
    pub sts_endpoint_url: Option<String>,
    /// Print a JSON object instead of the bare URL.
    #[arg(long)]
    pub json: bool,
    /// Command-line positions of the query flags: the URL lists them in the order
    /// given, as botocore lists its `Params` (filled by [`super::parse_from`]).
    #[arg(skip)]
    pub query_flag_positions: Vec<(String, usize)>,
}

/// Ids of the flags that become S3 query parameters, in botocore's default order.
pub const QUERY_FLAGS: [&str; 9] = [
    "response_cache_control",
    "response_content_disposition",
    "response_content_encoding",
    "response_content_language",
    "response_content_type",
    "response_expires",
    "version_id",
    "part_number",
    "upload_id",
];

/// S3 URL styles, as the AWS CLI's `addressing_style`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AddressingStyle {
    /// Virtual-hosted on AWS endpoints, path style on custom endpoints (linkgate, MinIO).
    Auto,
    /// `ENDPOINT/BUCKET/KEY`.
    Path,
    /// `BUCKET.ENDPOINT/KEY`, falling back to path where a bucket cannot be a host name.
    Virtual,
}

/// What to presign, resolved from flags, environment and profile.
#[derive(Clone, Debug)]
pub struct PresignRequest {
    /// HTTP method.
    pub method: String,
    /// The URL without signature: scheme, authority, encoded path, encoded query.
    pub url: String,
    /// SigV4 service.
    pub service: String,
    /// SigV4 region.
    pub region: String,
    /// Extra headers to sign (host is added from the URL unless given).
    pub headers: Vec<(String, String)>,
    /// X-Amz-Expires.
    pub expires_in: u64,
    /// X-Amz-Date.
    pub time: AmzDate,
}

/// A presigned URL and what a person should know about it.
#[derive(Clone, Debug, Serialize)]
pub struct PresignOutput {
    /// The URL.
    pub url: String,
    /// HTTP method it is valid for.
    pub method: String,
    /// Headers the client must send exactly (lower-case names), host included.
    pub signed_headers: Vec<String>,
    /// X-Amz-Date, RFC 3339.
    pub signed_at: String,
    /// X-Amz-Expires.
    pub expires_in: u64,
    /// X-Amz-Date + X-Amz-Expires, RFC 3339.
    pub expires_at: String,
    /// When the signing credentials expire, if known (RFC 3339).
    pub credentials_expire_at: Option<String>,
    /// The earlier of the two: when the URL really stops working, if known.
    pub effective_expires_at: String,
    /// Whether the credentials are temporary (ASIA…, with a session token).
    pub temporary_credentials: bool,
    /// Things the person should know (printed on stderr in text mode).
    pub warnings: Vec<String>,
}

/// Runs `linkgate presign`.
pub fn run(args: &PresignArgs) -> Result<(), CliError> {
    let env = ProcessEnvironment;
    let request = resolve(args, &env)?;
    let creds = if args.refresh {
        refreshed_credentials(args, &env, &request)?
    } else {
        credentials::load(&env, args.profile.as_deref()).map_err(|e| CliError::failure(e.to_string()))?
    };
    let out = presign_url(&request, &creds, &SigningKeyCache::new(4))?;
    if args.strict
        && let Some(exp) = &out.credentials_expire_at
        && out.effective_expires_at != out.expires_at
    {
        return Err(CliError::failure(format!(
            "refusing (--strict): the credentials expire at {exp}, before the URL's expiry {}; \
             use shorter --expires-in, longer-lived credentials, or a linkgate link",
            out.expires_at
        )));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        for w in &out.warnings {
            eprintln!("{w}");
        }
        println!("{}", out.url);
    }
    Ok(())
}

/// `--refresh`: the role's source credentials assume the role for a session long
/// enough for the URL (or the longest the role allows).
fn refreshed_credentials(args: &PresignArgs, env: &dyn Environment, request: &PresignRequest) -> Result<AwsCredentials, CliError> {
    let settings = credentials::profile_settings(env, args.profile.as_deref()).ok();
    let role_arn = args
        .role_arn
        .clone()
        .or_else(|| settings.as_ref().and_then(|s| s.role_arn.clone()))
        .ok_or_else(|| CliError::usage("--refresh needs --role-arn, or a profile with role_arn"))?;
    // A role profile's own keys come from its source_profile.
    let source = match settings.as_ref().and_then(|s| s.role_arn.as_ref().and(s.source_profile.clone())) {
        Some(src) if args.role_arn.is_none() => Some(src),
        _ => args.profile.clone(),
    };
    let base = credentials::load(env, source.as_deref()).map_err(|e| CliError::failure(e.to_string()))?;
    let endpoint = args
        .sts_endpoint_url
        .clone()
        .or_else(|| args.endpoint_url.clone())
        .or_else(|| endpoint_from_env(env, args.profile.as_deref()))
        .unwrap_or_else(|| "https://sts.amazonaws.com".into());
    super::refresh::assume_role(&endpoint, &request.region, &base, &role_arn, &args.role_session_name, request.expires_in)
}

/// Turns flags (plus environment and profile) into a [`PresignRequest`].
pub fn resolve(args: &PresignArgs, env: &dyn Environment) -> Result<PresignRequest, CliError> {
    if !(1..=MAX_EXPIRES as i64).contains(&args.expires_in) {
        return Err(CliError::usage(format!(
            "--expires-in must be between 1 and 604800 seconds (7 days), got {}: SigV4 presigned URLs cannot live longer; \
             a linkgate link can",
            args.expires_in
        )));
    }
    let time = match &args.signing_time {
        Some(t) => parse_time(t)?,
        None => AmzDate::now(),
    };
    let method = args.method.to_ascii_uppercase();
    let headers = args.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>()?;
    let profile_region = || credentials::region(env, args.profile.as_deref());
    let (url, service, region) = match (&args.target, &args.url) {
        (Some(target), _) => {
            let (bucket, key) = parse_s3_uri(target)?;
            let region = args.region.clone().or_else(profile_region).unwrap_or_else(|| "us-east-1".into());
            let endpoint = args.endpoint_url.clone().or_else(|| endpoint_from_env(env, args.profile.as_deref()));
            let mut url = s3_object_url(endpoint.as_deref(), &region, args.addressing_style, &bucket, &key)?;
            let query = response_overrides(args);
            if !query.is_empty() {
                url.push('?');
                url.push_str(&query);
            }
            (url, args.service.clone().unwrap_or_else(|| "s3".into()), region)
        }
        (None, Some(url)) => {
            let parts = split_url(url).ok_or_else(|| CliError::usage(format!("--url '{url}' is not an absolute http(s) URL")))?;
            let host = parts.host_header();
            let service = match &args.service {
                Some(s) => s.clone(),
                None => guess_service(&host).ok_or_else(|| {
                    CliError::usage(format!("cannot tell the SigV4 service of '{host}': pass --service (e.g. execute-api, s3)"))
                })?,
            };
            let region =
                args.region.clone().or_else(|| region_from_host(&host)).or_else(profile_region).unwrap_or_else(|| "us-east-1".into());
            let mut url = url.split_once('#').map_or(url.as_str(), |(u, _)| u).to_owned();
            let overrides = response_overrides(args);
            if !overrides.is_empty() {
                url.push(if parts.query.is_empty() { '?' } else { '&' });
                url.push_str(&overrides);
            }
            (url, service, region)
        }
        (None, None) => return Err(CliError::usage("give s3://BUCKET/KEY or --url URL")),
    };
    Ok(PresignRequest { method, url, service, region, headers, expires_in: args.expires_in as u64, time })
}

/// Signs a resolved request with `creds` and works out the effective expiry.
pub fn presign_url(req: &PresignRequest, creds: &AwsCredentials, cache: &SigningKeyCache) -> Result<PresignOutput, CliError> {
    let parts = split_url(&req.url).ok_or_else(|| CliError::usage(format!("'{}' is not an absolute URL", req.url)))?;
    let (base, _) = req.url.split_once('?').unwrap_or((&req.url, ""));
    let host = parts.host_header();
    let mut headers: Vec<(&str, &str)> = Vec::with_capacity(req.headers.len() + 1);
    if !req.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        headers.push(("host", &host));
    }
    headers.extend(req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let is_s3 = req.service == "s3";
    let params = SigningParams {
        credentials: Credentials {
            access_key_id: &creds.access_key_id,
            secret_access_key: &creds.secret_access_key,
            session_token: creds.session_token.as_deref(),
        },
        region: &req.region,
        service: &req.service,
        time: req.time,
        path_mode: if is_s3 { PathMode::AsSent } else { PathMode::EncodeAgain { normalize: true } },
        payload_hash: if is_s3 { UNSIGNED_PAYLOAD } else { EMPTY_SHA256 },
    };
    let request = RequestParts { method: &req.method, path: parts.path, query: parts.query, headers: &headers };
    let presigned = sigv4::presign(&request, &params, req.expires_in, cache);
    let url = format!("{base}?{}", presigned.query);

    let expires_at = req.time.plus(req.expires_in as i64);
    let creds_expire = creds.expires_at.map(AmzDate::from_unix);
    let effective = match creds_expire {
        Some(c) if c < expires_at => c,
        _ => expires_at,
    };
    let temporary = creds.session_token.is_some() || creds.access_key_id.starts_with("ASIA");
    let mut warnings = Vec::new();
    if let Some(c) = creds_expire.filter(|c| *c < expires_at) {
        let left = c.unix() - req.time.unix();
        let when = if left <= 0 { "already expired".to_owned() } else { format!("in {}", human_duration(left)) };
        warnings.push(format!(
            "warning: the credentials that sign this URL expire at {} ({when}); the URL stops working then, \
             not at {} as X-Amz-Expires={} suggests",
            c.rfc3339(),
            expires_at.rfc3339(),
            req.expires_in
        ));
    } else if temporary && creds_expire.is_none() {
        warnings.push(
            "note: these are temporary credentials (session token) of unknown expiry; the URL stops working when \
             the session ends, whatever X-Amz-Expires says"
                .to_owned(),
        );
    }
    if !is_s3 {
        warnings.push(format!(
            "note: {} does not honour X-Amz-Expires; API Gateway and most AWS services accept a presigned \
             request only within their own window (typically 5 to 15 minutes after signing)",
            req.service
        ));
    }
    let mut signed: Vec<String> = headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    signed.sort();
    signed.dedup();
    Ok(PresignOutput {
        url,
        method: req.method.clone(),
        signed_headers: signed,
        signed_at: req.time.rfc3339(),
        expires_in: req.expires_in,
        expires_at: expires_at.rfc3339(),
        credentials_expire_at: creds_expire.map(AmzDate::rfc3339),
        effective_expires_at: effective.rfc3339(),
        temporary_credentials: temporary,
        warnings,
    })
}

/// `Name: value` → (name, value), refusing what cannot be a header.
pub fn parse_header(raw: &str) -> Result<(String, String), CliError> {
    let (name, value) = raw.split_once(':').ok_or_else(|| CliError::usage(format!("--header '{raw}' must look like 'Name: value'")))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
        return Err(CliError::usage(format!("--header '{raw}': '{name}' is not a valid header name")));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

/// `s3://bucket/key` → (bucket, key). The key is literal (may contain anything).
pub fn parse_s3_uri(uri: &str) -> Result<(String, String), CliError> {
    let rest = uri.strip_prefix("s3://").ok_or_else(|| CliError::usage(format!("'{uri}' is not an s3://BUCKET/KEY URI")))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(CliError::usage(format!("'{uri}' names no bucket")));
    }
    if key.is_empty() {
        return Err(CliError::usage(format!("'{uri}' names no object key: use s3://{bucket}/KEY")));
    }
    Ok((bucket.to_owned(), key.to_owned()))
}

/// The unsigned URL of an object, built as botocore builds it.
pub fn s3_object_url(endpoint: Option<&str>, region: &str, style: AddressingStyle, bucket: &str, key: &str) -> Result<String, CliError> {
    let default_endpoint =
        if region == "us-east-1" { "https://s3.amazonaws.com".to_owned() } else { format!("https://s3.{region}.amazonaws.com") };
    let endpoint = endpoint.unwrap_or(&default_endpoint).trim_end_matches('/');
    let parts = split_url(endpoint).ok_or_else(|| CliError::usage(format!("--endpoint-url '{endpoint}' is not an absolute URL")))?;
    if !parts.query.is_empty() {
        return Err(CliError::usage(format!("--endpoint-url '{endpoint}' must not have a query")));
    }
    let host = parts.authority.rsplit_once('@').map_or(parts.authority, |(_, h)| h);
    let on_aws = host.split(':').next().is_some_and(|h| h.ends_with(".amazonaws.com"));
    let virtual_ok = is_virtual_hostable(bucket, parts.scheme.eq_ignore_ascii_case("https")) && !is_ip_literal(host);
    let use_virtual = match style {
        AddressingStyle::Path => false,
        AddressingStyle::Virtual => virtual_ok,
        AddressingStyle::Auto => virtual_ok && on_aws,
    };
    let prefix = if parts.path == "/" { "" } else { parts.path.trim_end_matches('/') };
    let key_path = encode(key, true);
    Ok(if use_virtual {
        format!("{}://{bucket}.{}{prefix}/{key_path}", parts.scheme, parts.authority)
    } else {
        format!("{}://{}{prefix}/{}/{key_path}", parts.scheme, parts.authority, encode(bucket, false))
    })
}

/// Whether a bucket can be a DNS label in front of the endpoint (botocore's rule:
/// 3–63 lower-case letters, digits, hyphens; dots only over plain http).
fn is_virtual_hostable(bucket: &str, https: bool) -> bool {
    let b = bucket.as_bytes();
    if b.len() < 3 || b.len() > 63 || (https && bucket.contains('.')) {
        return false;
    }
    let edge_ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !edge_ok(b[0]) || !edge_ok(b[b.len() - 1]) || bucket.contains("..") || bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    b.iter().all(|&c| edge_ok(c) || c == b'-' || c == b'.')
}

fn is_ip_literal(authority: &str) -> bool {
    if authority.starts_with('[') {
        return true;
    }
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// The S3 query parameters (`response-*`, `versionId`, `partNumber`, `uploadId`),
/// in the order botocore serialises them, so our URLs match the SDK's byte for byte.
fn response_overrides(args: &PresignArgs) -> String {
    let part_number = args.part_number.map(|n| n.to_string());
    let fields = [
        ("response-cache-control", &args.response_cache_control),
        ("response-content-disposition", &args.response_content_disposition),
        ("response-content-encoding", &args.response_content_encoding),
        ("response-content-language", &args.response_content_language),
        ("response-content-type", &args.response_content_type),
        ("response-expires", &args.response_expires),
        ("versionId", &args.version_id),
        ("partNumber", &part_number),
        ("uploadId", &args.upload_id),
    ];
    let position = |i: usize| args.query_flag_positions.iter().find(|(id, _)| id == QUERY_FLAGS[i]).map_or(usize::MAX, |(_, p)| *p);
    let mut order: Vec<usize> = (0..fields.len()).collect();
    order.sort_by_key(|&i| position(i));
    let mut out = String::new();
    for (name, value) in order.into_iter().map(|i| fields[i]) {
        if let Some(v) = value {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
            out.push_str(&encode(v, false));
        }
    }
    out
}

fn endpoint_from_env(env: &dyn Environment, profile: Option<&str>) -> Option<String> {
    env.var("AWS_ENDPOINT_URL_S3")
        .or_else(|| env.var("AWS_ENDPOINT_URL"))
        .filter(|v| !v.is_empty())
        .or_else(|| credentials::profile_settings(env, profile).ok().and_then(|p| p.endpoint_url))
}

/// `abc.execute-api.eu-west-1.amazonaws.com` → execute-api; S3 hosts → s3.
fn guess_service(host: &str) -> Option<String> {
    let host = host.split(':').next().unwrap_or(host);
    if host.contains(".execute-api.") {
        return Some("execute-api".into());
    }
    let labels: Vec<&str> = host.split('.').collect();
    if host.ends_with(".amazonaws.com") {
        if labels.iter().any(|l| *l == "s3" || l.starts_with("s3-")) {
            return Some("s3".into());
        }
        return labels.iter().rev().nth(if labels.len() > 3 { 3 } else { 2 }).map(|s| (*s).to_owned());
    }
    None
}

/// The region label of an AWS host name, when it has one.
fn region_from_host(host: &str) -> Option<String> {
    let host = host.split(':').next().unwrap_or(host);
    host.strip_suffix(".amazonaws.com")?
        .split('.')
        .find(|l| l.split('-').count() >= 3 && l.chars().last().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_urls_follow_botocore() {
        let url = |e: Option<&str>, r: &str, s, b: &str, k: &str| s3_object_url(e, r, s, b, k).unwrap();
        assert_eq!(url(None, "us-east-1", AddressingStyle::Auto, "bkt", "a b/c"), "https://bkt.s3.amazonaws.com/a%20b/c");
        assert_eq!(url(None, "eu-west-1", AddressingStyle::Path, "bkt", "k"), "https://s3.eu-west-1.amazonaws.com/bkt/k");
        assert_eq!(url(None, "eu-west-1", AddressingStyle::Auto, "a.b.c", "k"), "https://s3.eu-west-1.amazonaws.com/a.b.c/k");
        assert_eq!(url(Some("http://127.0.0.1:8420"), "us-east-1", AddressingStyle::Auto, "bkt", "k"), "http://127.0.0.1:8420/bkt/k");
        assert_eq!(url(Some("http://[::1]:9000"), "us-east-1", AddressingStyle::Virtual, "bkt", "k"), "http://[::1]:9000/bkt/k");
        assert_eq!(url(Some("http://localhost:9000"), "us-east-1", AddressingStyle::Virtual, "bkt", "k"), "http://bkt.localhost:9000/k");
    }

    #[test]
    fn services_and_regions_from_hosts() {
        assert_eq!(guess_service("abc.execute-api.eu-west-1.amazonaws.com").as_deref(), Some("execute-api"));
        assert_eq!(guess_service("b.s3.us-west-2.amazonaws.com").as_deref(), Some("s3"));
        assert_eq!(guess_service("api.example.com"), None);
        assert_eq!(region_from_host("abc.execute-api.eu-west-1.amazonaws.com").as_deref(), Some("eu-west-1"));
        assert_eq!(region_from_host("s3.amazonaws.com"), None);
    }

    #[test]
    fn headers_and_uris_are_validated() {
        assert_eq!(parse_header("Content-Type: text/plain").unwrap(), ("Content-Type".into(), "text/plain".into()));
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert_eq!(parse_s3_uri("s3://b/k/x y").unwrap(), ("b".into(), "k/x y".into()));
        assert!(parse_s3_uri("s3://b").is_err());
        assert!(parse_s3_uri("https://b/k").is_err());
    }
}
