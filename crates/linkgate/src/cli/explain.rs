//! `linkgate explain URL`: what a SigV4 presigned URL is, and why it fails.
//!
//! People paste a URL that "stopped working" and want to know: who signed it, when,
//! until when, for which service — and is the signature even right? Everything here
//! is computed offline from the URL (plus, for the signature, local credentials).

use clap::Args;
use serde::Serialize;
use sigv4::inspect::{PresignFields, split_url};
use sigv4::{AmzDate, EMPTY_SHA256, PathMode, Policy, RequestParts, SigningKeyCache, VerifyError};

use super::presign::parse_header;
use super::{CliError, human_duration, parse_time};
use crate::credentials::{self, AwsCredentials, ProcessEnvironment};

/// Arguments of `linkgate explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The presigned URL (quote it: it contains '&').
    pub url: String,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
    /// Profile whose credentials verify the signature offline.
    #[arg(long)]
    pub profile: Option<String>,
    /// A header the client sends with the URL, 'Name: value' (needed when the URL signs more than host).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Judge the URL as of this time instead of now (RFC 3339, yyyyMMddTHHmmssZ, unix seconds).
    #[arg(long)]
    pub now: Option<String>,
    /// Do not look for credentials or check the signature.
    #[arg(long)]
    pub no_verify: bool,
}

/// Everything `explain` found out, in the shape `--json` prints.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Explanation {
    /// `4` (X-Amz-* parameters) or `2` (legacy AWSAccessKeyId/Signature/Expires).
    pub signature_version: String,
    /// The host the URL is for (and signs).
    pub host: String,
    /// The path as sent.
    pub path: String,
    /// SigV4 service from the credential scope.
    pub service: Option<String>,
    /// Region from the credential scope.
    pub region: Option<String>,
    /// Access key id that signed.
    pub access_key: Option<String>,
    /// `long-term`, `temporary` or `unknown`.
    pub credential_type: String,
    /// Whether an `X-Amz-Security-Token` is present.
    pub has_session_token: bool,
    /// X-Amz-Date, RFC 3339.
    pub signed_at: Option<String>,
    /// X-Amz-Expires in seconds.
    pub expires_in: Option<i64>,
    /// Signed-at + expires, RFC 3339.
    pub expires_at: Option<String>,
    /// `valid`, `expired`, `not-yet-valid` or `malformed`.
    pub status: String,
    /// Seconds until expiry (negative: seconds since it expired).
    pub seconds_left: Option<i64>,
    /// Whether the service honours X-Amz-Expires.
    pub expires_honoured: bool,
    /// Lower-case signed header names.
    pub signed_headers: Vec<String>,
    /// Query parameters besides the X-Amz-* presign ones.
    pub other_parameters: Vec<(String, String)>,
    /// What is wrong with the parameters, as S3 would say it (code: message).
    pub problems: Vec<String>,
    /// Notes a person should read (temporary credentials, service windows…).
    pub notes: Vec<String>,
    /// Offline signature check, when credentials were available.
    pub signature: SignatureCheck,
}

/// The outcome of checking the signature offline.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SignatureCheck {
    /// `verified`, `mismatch` or `not-checked`.
    pub result: String,
    /// Why it was not checked, or what the check used.
    pub detail: String,
    /// On mismatch: what we hashed.
    pub canonical_request: Option<String>,
    /// On mismatch: what we signed.
    pub string_to_sign: Option<String>,
}

/// Runs `linkgate explain`.
pub fn run(args: &ExplainArgs) -> Result<(), CliError> {
    let now = match &args.now {
        Some(t) => parse_time(t)?,
        None => AmzDate::now(),
    };
    let headers = args.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>()?;
    let creds = if args.no_verify { None } else { credentials::load(&ProcessEnvironment, args.profile.as_deref()).ok() };
    let explanation = explain(&args.url, now, creds.as_ref(), &headers)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&explanation).unwrap_or_default());
    } else {
        print!("{}", render(&explanation));
    }
    Ok(())
}

/// Explains `url` as of `now`; with `creds`, also checks the signature.
pub fn explain(
    url: &str,
    now: AmzDate,
    creds: Option<&AwsCredentials>,
    extra_headers: &[(String, String)],
) -> Result<Explanation, CliError> {
    let parts =
        split_url(url.trim()).ok_or_else(|| CliError::usage(format!("'{url}' is not an absolute URL (scheme://host/path?query)")))?;
    let fields = PresignFields::from_query(parts.query);
    let host = parts.host_header();
    if fields.credential.is_none()
        && let Some(v2) = explain_sigv2(&fields, &host, parts.path, now)
    {
        return Ok(v2);
    }
    let scope = fields.scope();
    let service = scope.map(|s| s[3].to_owned());
    let region = scope.map(|s| s[2].to_owned());
    let access_key = scope.map(|s| s[0].to_owned());
    let credential_type = match access_key.as_deref() {
        Some(k) if k.starts_with("ASIA") => "temporary",
        Some(k) if k.starts_with("AKIA") => "long-term",
        _ if fields.security_token.is_some() => "temporary",
        _ => "unknown",
    }
    .to_owned();
    let signed_at = fields.signed_at();
    let expires_in = fields.expires.as_deref().and_then(|e| e.trim().parse::<i64>().ok());
    let expires_at = match (signed_at, expires_in) {
        (Some(t), Some(e)) => Some(t.plus(e)),
        _ => None,
    };
    let s3 = service.as_deref() == Some("s3");
    let mut headers: Vec<(&str, &str)> = vec![("host", &host)];
    headers.extend(extra_headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let request = RequestParts { method: "GET", path: parts.path, query: parts.query, headers: &headers };

    // Structural problems: run S3's checks at the URL's own signing time, so that
    // expiry does not hide what else is wrong.
    let mut problems = Vec::new();
    for r in &fields.repeated {
        problems.push(format!("{r} appears more than once"));
    }
    let policy = Policy {
        region: region.as_deref().unwrap_or("us-east-1"),
        service: service.as_deref().unwrap_or("s3"),
        path_mode: if s3 { PathMode::AsSent } else { PathMode::EncodeAgain { normalize: true } },
        now: signed_at.unwrap_or(now),
        future_tolerance_secs: 900,
        max_skew_secs: 900,
        payload_hash: (!s3).then_some(EMPTY_SHA256),
    };
    let pending = match sigv4::check_presigned(&request, &policy) {
        Ok(p) => Some(p),
        Err(e) => {
            problems.push(format!("{}: {}", e.s3_code(), e.message()));
            None
        }
    };

    let malformed = !problems.is_empty() && (signed_at.is_none() || expires_in.is_none() || scope.is_none());
    let (status, seconds_left) = match (signed_at, expires_at) {
        _ if malformed => ("malformed".to_owned(), None),
        (Some(t), Some(e)) if t.unix() > now.unix() + 900 => ("not-yet-valid".to_owned(), Some(e.unix() - now.unix())),
        (Some(_), Some(e)) if now >= e => ("expired".to_owned(), Some(e.unix() - now.unix())),
        (Some(_), Some(e)) => ("valid".to_owned(), Some(e.unix() - now.unix())),
        _ => ("malformed".to_owned(), None),
    };

    let mut notes = Vec::new();
    if credential_type == "temporary" {
        notes.push(
            "signed with temporary credentials (ASIA…/session token): the URL stops working when that session \
             expires or is revoked, which can be before its X-Amz-Expires"
                .to_owned(),
        );
    } else if credential_type == "long-term" {
        notes.push(
            "signed with a long-term access key: the URL dies early if that key is deactivated or deleted, or loses permission".to_owned(),
        );
    }
    let expires_honoured = s3;
    if let Some(svc) = service.as_deref().filter(|_| !s3) {
        notes.push(format!(
            "{svc} does not honour X-Amz-Expires: API Gateway and most AWS services accept a presigned request only \
             within their own window (5 to 15 minutes after X-Amz-Date), whatever X-Amz-Expires says"
        ));
    }

    let signature = check_signature(pending, creds, access_key.as_deref());
    Ok(Explanation {
        signature_version: "4".into(),
        host,
        path: parts.path.to_owned(),
        service,
        region,
        access_key,
        credential_type,
        has_session_token: fields.security_token.is_some(),
        signed_at: signed_at.map(AmzDate::rfc3339),
        expires_in,
        expires_at: expires_at.map(AmzDate::rfc3339),
        status,
        seconds_left,
        expires_honoured,
        signed_headers: fields.signed_headers.as_deref().map(|s| s.split(';').map(str::to_owned).collect()).unwrap_or_default(),
        other_parameters: fields.other,
        problems,
        notes,
        signature,
    })
}

/// Legacy SigV2 query auth (`AWSAccessKeyId`, `Signature`, `Expires` as unix time),
/// which AWS CLI v1 still produces for custom endpoints.
fn explain_sigv2(fields: &PresignFields, host: &str, path: &str, now: AmzDate) -> Option<Explanation> {
    let get = |name: &str| fields.other.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (access_key, _signature, expires) = (get("AWSAccessKeyId")?, get("Signature")?, get("Expires")?);
    let expires_at = expires.trim().parse::<i64>().ok().map(AmzDate::from_unix);
    let (status, seconds_left) = match expires_at {
        Some(e) if now >= e => ("expired", Some(e.unix() - now.unix())),
        Some(e) => ("valid", Some(e.unix() - now.unix())),
        None => ("malformed", None),
    };
    let mut problems = Vec::new();
    if expires_at.is_none() {
        problems.push(format!("Expires '{expires}' is not a unix time"));
    }
    let credential_type = if access_key.starts_with("ASIA") {
        "temporary"
    } else if access_key.starts_with("AKIA") {
        "long-term"
    } else {
        "unknown"
    };
    Some(Explanation {
        signature_version: "2".into(),
        host: host.to_owned(),
        path: path.to_owned(),
        service: Some("s3".into()),
        region: None,
        access_key: Some(access_key),
        credential_type: credential_type.into(),
        has_session_token: get("x-amz-security-token").is_some(),
        signed_at: None,
        expires_in: None,
        expires_at: expires_at.map(AmzDate::rfc3339),
        status: status.into(),
        seconds_left,
        expires_honoured: true,
        signed_headers: Vec::new(),
        other_parameters: fields
            .other
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "AWSAccessKeyId" | "Signature" | "Expires"))
            .cloned()
            .collect(),
        problems,
        notes: vec![
            "legacy Signature Version 2 URL (AWS CLI v1 makes these for custom endpoints): it carries an absolute \
             expiry and no region; AWS deprecated SigV2, so prefer SigV4 (`s3 =\n    signature_version = s3v4` in ~/.aws/config)"
                .into(),
        ],
        signature: SignatureCheck {
            result: "not-checked".into(),
            detail: "offline checking covers SigV4 only".into(),
            canonical_request: None,
            string_to_sign: None,
        },
    })
}

fn check_signature(pending: Option<sigv4::PendingAuth<'_>>, creds: Option<&AwsCredentials>, access_key: Option<&str>) -> SignatureCheck {
    let skipped = |detail: String| SignatureCheck { result: "not-checked".into(), detail, canonical_request: None, string_to_sign: None };
    let Some(pending) = pending else {
        return skipped("the parameters are malformed".into());
    };
    let Some(creds) = creds else {
        return skipped("no credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or --profile)".into());
    };
    if Some(creds.access_key_id.as_str()) != access_key {
        return skipped(format!(
            "signed by {}, but the local credentials are for {} ({})",
            access_key.unwrap_or("?"),
            creds.access_key_id,
            creds.source
        ));
    }
    match pending.verify(&creds.secret_access_key, &SigningKeyCache::new(2)) {
        Ok(_) => SignatureCheck {
            result: "verified".into(),
            detail: format!("signature matches the secret of {} ({})", creds.access_key_id, creds.source),
            canonical_request: None,
            string_to_sign: None,
        },
        Err(VerifyError::SignatureMismatch { canonical_request, string_to_sign, .. }) => SignatureCheck {
            result: "mismatch".into(),
            detail: "the signature does not match: compare the canonical request below with the signer's (host, path encoding, \
                     signed headers and query must be byte-identical)"
                .into(),
            canonical_request: Some(canonical_request),
            string_to_sign: Some(string_to_sign),
        },
        Err(e) => skipped(e.to_string()),
    }
}

/// The text form of an explanation.
pub fn render(e: &Explanation) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let na = || "-".to_owned();
    let _ = writeln!(s, "Signature       SigV{}", e.signature_version);
    let _ = writeln!(s, "Host            {}", e.host);
    let _ = writeln!(s, "Path            {}", e.path);
    let honoured = if e.expires_honoured { "X-Amz-Expires honoured" } else { "X-Amz-Expires NOT honoured" };
    let _ = writeln!(s, "Service         {} ({honoured})", e.service.clone().unwrap_or_else(na));
    let _ = writeln!(s, "Region          {}", e.region.clone().unwrap_or_else(na));
    let _ = writeln!(s, "Access key      {} ({} credentials)", e.access_key.clone().unwrap_or_else(na), e.credential_type);
    let _ = writeln!(s, "Signed at       {}", e.signed_at.clone().unwrap_or_else(na));
    let lifetime = e.expires_in.map(|x| format!(" (X-Amz-Expires={x}, {})", human_duration(x))).unwrap_or_default();
    let _ = writeln!(s, "Expires at      {}{lifetime}", e.expires_at.clone().unwrap_or_else(na));
    let status = match (e.status.as_str(), e.seconds_left) {
        ("valid", Some(left)) => format!("VALID, {} left", human_duration(left)),
        ("expired", Some(left)) => format!("EXPIRED {} ago", human_duration(left)),
        ("not-yet-valid", _) => "NOT YET VALID (X-Amz-Date is in the future: check the signer's clock)".to_owned(),
        _ => "MALFORMED".to_owned(),
    };
    let _ = writeln!(s, "Status          {status}");
    let _ = writeln!(s, "Signed headers  {}", if e.signed_headers.is_empty() { na() } else { e.signed_headers.join(", ") });
    for (k, v) in &e.other_parameters {
        let _ = writeln!(s, "Parameter       {k} = {v}");
    }
    if e.problems.is_empty() {
        let _ = writeln!(s, "Parameters      well-formed");
    }
    for p in &e.problems {
        let _ = writeln!(s, "Problem         {p}");
    }
    let _ = writeln!(s, "Verification    {}: {}", e.signature.result, e.signature.detail);
    if let (Some(creq), Some(sts)) = (&e.signature.canonical_request, &e.signature.string_to_sign) {
        let _ = writeln!(s, "\nCanonical request:\n{creq}\n\nString to sign:\n{sts}");
    }
    for n in &e.notes {
        let _ = writeln!(s, "Note            {n}");
    }
    s
}
