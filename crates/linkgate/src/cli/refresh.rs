//! `linkgate presign --refresh`: get temporary credentials that last as long as the
//! URL should, through STS `AssumeRole`, before presigning.
//!
//! A URL signed by a role session dies with the session. Asking STS for a session
//! at least `--expires-in` long makes the URL live as long as it says — when the
//! role allows it. When it does not, we take the longest session the role grants
//! and the presign output says exactly when the URL will stop working.

use sigv4::AmzDate;

use super::CliError;
use crate::credentials::AwsCredentials;
use crate::s3::xml;

/// STS's shortest session.
const MIN_SESSION: u64 = 900;
/// The longest role session AWS allows.
const MAX_ROLE_SESSION: u64 = 43_200;

/// Session lengths to ask for, longest first: enough for the URL, then the common
/// role maxima down to STS's minimum, so the first one the role accepts is the
/// longest it grants.
pub fn durations_to_try(expires_in: u64) -> Vec<u64> {
    let want = expires_in.clamp(MIN_SESSION, MAX_ROLE_SESSION);
    let mut out = vec![want];
    for d in [MAX_ROLE_SESSION, 21_600, 14_400, 7_200, 3_600, MIN_SESSION] {
        if d < want && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// The form body of an `AssumeRole` call.
pub fn assume_role_body(role_arn: &str, session_name: &str, duration: u64) -> String {
    let enc = |s: &str| sigv4::encode::encode(s, false);
    format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName={}&DurationSeconds={duration}",
        enc(role_arn),
        enc(session_name)
    )
}

/// The outcome of one `AssumeRole` call.
#[derive(Debug)]
pub enum AssumeRoleOutcome {
    /// Temporary credentials, with their expiry.
    Credentials(AwsCredentials),
    /// The role does not allow that long a session (try shorter).
    TooLong,
    /// Any other refusal, as `Code: Message`.
    Refused(String),
}

/// Reads an STS response body (success or `ErrorResponse`).
pub fn parse_assume_role(status: u16, body: &str) -> AssumeRoleOutcome {
    let Some(root) = xml::parse(body.as_bytes()) else {
        return AssumeRoleOutcome::Refused(format!("HTTP {status}: the STS response is not XML"));
    };
    if root.name == "ErrorResponse" {
        let err = root.child("Error");
        let code = err.and_then(|e| e.child_text("Code")).unwrap_or("Unknown");
        let message = err.and_then(|e| e.child_text("Message")).unwrap_or("");
        if code == "ValidationError" && message.contains("DurationSeconds") {
            return AssumeRoleOutcome::TooLong;
        }
        return AssumeRoleOutcome::Refused(format!("{code}: {message}"));
    }
    let creds = root.child("AssumeRoleResult").and_then(|r| r.child("Credentials"));
    let field = |name: &str| creds.and_then(|c| c.child_text(name)).map(str::to_owned);
    match (field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken"), field("Expiration")) {
        (Some(ak), Some(sk), Some(token), Some(exp)) => AssumeRoleOutcome::Credentials(AwsCredentials {
            access_key_id: ak,
            secret_access_key: sk,
            session_token: Some(token),
            expires_at: AmzDate::parse_rfc3339(&exp).map(AmzDate::unix),
            source: "STS AssumeRole (--refresh)".into(),
        }),
        _ => AssumeRoleOutcome::Refused(format!("HTTP {status}: the STS response has no credentials")),
    }
}

/// Refuses an `https://` STS endpoint: this build has no TLS client.
pub fn check_endpoint(endpoint: &str) -> Result<(), CliError> {
    if endpoint.starts_with("https://") {
        return Err(CliError::failure(format!(
            "--refresh needs an http:// STS endpoint in this build (got {endpoint}); use --sts-endpoint-url http://… (linkgate serves STS)"
        )));
    }
    Ok(())
}

/// Calls `AssumeRole` at `endpoint` (a linkgate server, or any http:// STS) as
/// `creds`, asking for the longest session in [`durations_to_try`] the role grants.
/// Returns the temporary credentials.
pub fn assume_role(
    endpoint: &str,
    region: &str,
    creds: &AwsCredentials,
    role_arn: &str,
    session_name: &str,
    expires_in: u64,
) -> Result<AwsCredentials, CliError> {
    use sigv4::{PathMode, SigningKeyCache};

    use super::admin::{AdminClient, Route, Signer, SigningTarget, parse_endpoint, sign_body};

    check_endpoint(endpoint)?;
    let ep = parse_endpoint(endpoint)?;
    let client = AdminClient::new(ep.clone(), region.to_owned(), creds.clone())?;
    let cache = SigningKeyCache::new(1);
    let mut last = String::new();
    for duration in durations_to_try(expires_in) {
        let body = assume_role_body(role_arn, session_name, duration);
        let target = SigningTarget {
            service: "sts",
            path_mode: PathMode::EncodeAgain { normalize: true },
            content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
            content_sha256_header: false,
        };
        let signer = Signer { endpoint: &ep, region, creds, time: AmzDate::now(), cache: &cache };
        let signed = sign_body(&signer, &target, Route { method: "POST", path: "/", query: "" }, body.into_bytes());
        let resp = client.send(signed)?;
        match parse_assume_role(resp.status, &String::from_utf8_lossy(&resp.body)) {
            AssumeRoleOutcome::Credentials(c) => return Ok(c),
            AssumeRoleOutcome::TooLong => last = format!("the role does not allow a {duration} s session"),
            AssumeRoleOutcome::Refused(m) => return Err(CliError::failure(format!("STS AssumeRole on {role_arn} was refused: {m}"))),
        }
    }
    Err(CliError::failure(format!("STS AssumeRole on {role_arn}: {last}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tries_long_enough_first_then_shorter() {
        assert_eq!(durations_to_try(86_400), vec![43_200, 21_600, 14_400, 7_200, 3_600, 900]);
        assert_eq!(durations_to_try(10_000), vec![10_000, 7_200, 3_600, 900]);
        assert_eq!(durations_to_try(60), vec![900]);
    }

    #[test]
    fn reads_credentials_and_refusals() {
        let ok = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>
<AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2030-01-01T01:00:00Z</Expiration>
</Credentials></AssumeRoleResult></AssumeRoleResponse>"#;
        match parse_assume_role(200, ok) {
            AssumeRoleOutcome::Credentials(c) => {
                assert_eq!((c.access_key_id.as_str(), c.session_token.as_deref()), ("ASIAX", Some("t")));
                assert_eq!(c.expires_at, AmzDate::parse_rfc3339("2030-01-01T01:00:00Z").map(AmzDate::unix));
            }
            other => panic!("{other:?}"),
        }
        let long = "<ErrorResponse><Error><Code>ValidationError</Code><Message>The requested DurationSeconds exceeds the MaxSessionDuration set for this role.</Message></Error></ErrorResponse>";
        assert!(matches!(parse_assume_role(400, long), AssumeRoleOutcome::TooLong));
        let denied = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>";
        assert!(matches!(parse_assume_role(403, denied), AssumeRoleOutcome::Refused(m) if m == "AccessDenied: no"));
        assert!(assume_role_body("arn:aws:iam::1:role/r", "s n", 900).contains("RoleSessionName=s%20n"));
    }
}
