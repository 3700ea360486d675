//! STS: `AssumeRole`, `GetSessionToken`, `GetCallerIdentity`.
//!
//! Temporary keys begin `ASIA`; session tokens are 64 random bytes, base64url;
//! only their SHA-256 is stored, and the secret is sealed under the master key
//! (the identity service issues them).

use super::{Api, Call, QueryError, response};
use crate::auth::secrets::token_hash;
use crate::services::identities::{IssuedSession, Principal};

/// GetSessionToken limits (AWS: 900..129600, default 43200).
const GST_DEFAULT: u64 = 43_200;
const GST_MAX: u64 = 129_600;
/// GetSessionToken with the root credentials: default and maximum (AWS: 1 h).
const GST_ROOT_MAX: u64 = 3_600;
/// AssumeRole default duration.
const AR_DEFAULT: u64 = 3_600;

pub(super) async fn dispatch(call: &Call<'_>, action: &str) -> Result<String, QueryError> {
    match action {
        "GetCallerIdentity" => get_caller_identity(call),
        "GetSessionToken" => get_session_token(call).await,
        "AssumeRole" => assume_role(call).await,
        other => Err(QueryError::new(400, "InvalidAction", format!("Could not find operation {other} for version 2011-06-15"))),
    }
}

fn get_caller_identity(call: &Call<'_>) -> Result<String, QueryError> {
    let ids = &call.state.identities;
    let account = ids.account_id();
    let principal = &call.caller.credential.principal;
    let user_id = match principal {
        Principal::Root => account.clone(),
        Principal::User(u) => format!("AIDA{}", &token_hash(u)[..16].to_ascii_uppercase()),
        Principal::Role { role, session_name, .. } => format!("AROA{}:{session_name}", &token_hash(role)[..16].to_ascii_uppercase()),
    };
    Ok(response(Api::Sts, "GetCallerIdentity", call.request_id(), |w| {
        w.element("UserId", &user_id);
        w.element("Account", &account);
        w.element("Arn", &ids.principal_arn(principal));
    }))
}

fn duration(call: &Call<'_>, default: u64, max: u64) -> Result<u64, QueryError> {
    let min = call.state.config.sts.min_duration_seconds;
    let Some(raw) = call.param("DurationSeconds") else { return Ok(default.clamp(min, max)) };
    let d: u64 = raw.trim().parse().map_err(|_| {
        QueryError::validation(format!("Value '{raw}' at 'durationSeconds' failed to satisfy constraint: Member must be a number"))
    })?;
    if d < min {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        )));
    }
    if d > max {
        return Err(QueryError::validation(format!(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role ({max} seconds)."
        )));
    }
    Ok(d)
}

fn credentials_xml(w: &mut crate::s3::xml::XmlWriter, s: &IssuedSession) {
    w.open("Credentials");
    w.element("AccessKeyId", &s.access_key_id);
    w.element("SecretAccessKey", &s.secret);
    w.element("SessionToken", &s.token);
    w.element("Expiration", &super::iso(s.expires_ms));
    w.close("Credentials");
}

async fn issue(call: &Call<'_>, principal: Principal, secs: u64) -> Result<IssuedSession, QueryError> {
    call.state.identities.issue_session(principal, secs).await.map_err(|e| {
        tracing::error!(error = %e, "cannot store session");
        QueryError::unavailable()
    })
}

async fn get_session_token(call: &Call<'_>) -> Result<String, QueryError> {
    if call.caller.credential.session.is_some() {
        return Err(QueryError::access_denied("Cannot call GetSessionToken with session credentials"));
    }
    let (principal, secs) = match &call.caller.credential.principal {
        // AWS lets the root have sessions of up to an hour: a longer request is
        // cut to one, not refused.
        Principal::Root => (Principal::Root, duration(call, GST_ROOT_MAX, GST_MAX)?.min(GST_ROOT_MAX)),
        Principal::User(u) => (
            Principal::User(u.clone()),
            duration(call, GST_DEFAULT, GST_MAX.min(call.state.config.sts.max_duration_seconds.max(GST_DEFAULT)))?,
        ),
        Principal::Role { .. } => return Err(QueryError::access_denied("Cannot call GetSessionToken with session credentials")),
    };
    let session = issue(call, principal, secs).await?;
    Ok(response(Api::Sts, "GetSessionToken", call.request_id(), |w| credentials_xml(w, &session)))
}

async fn assume_role(call: &Call<'_>) -> Result<String, QueryError> {
    let role_arn = call.required("RoleArn")?;
    let session_name = call.required("RoleSessionName")?;
    if !(2..=64).contains(&session_name.len()) || !session_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b)) {
        return Err(QueryError::validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let ids = &call.state.identities;
    let account = ids.account_id();
    let caller_arn = ids.principal_arn(&call.caller.credential.principal);
    let denied =
        || QueryError::access_denied(format!("User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"));
    let name = role_arn.strip_prefix(&format!("arn:aws:iam::{account}:role/")).ok_or_else(denied)?;
    let name = name.rsplit('/').next().unwrap_or(name);
    let role = ids.role_to_assume(name).await.map_err(|_| QueryError::unavailable())?.ok_or_else(denied)?;
    let source_user = match &call.caller.credential.principal {
        Principal::Root => "root".to_owned(),
        Principal::User(u) if role.trusted_users.iter().any(|t| t == u || t == "*") => u.clone(),
        _ => return Err(denied()),
    };
    let max = role.max_session_secs.min(call.state.config.sts.max_duration_seconds);
    let secs = duration(call, AR_DEFAULT.min(max), max)?;
    let arn = format!("arn:aws:sts::{account}:assumed-role/{}/{session_name}", role.name);
    let role_id = format!("AROA{}:{session_name}", &token_hash(&role.name)[..16].to_ascii_uppercase());
    let principal = Principal::Role { role: role.name.clone(), session_name: session_name.to_owned(), source_user };
    let session = issue(call, principal, secs).await?;
    Ok(response(Api::Sts, "AssumeRole", call.request_id(), |w| {
        credentials_xml(w, &session);
        w.open("AssumedRoleUser");
        w.element("AssumedRoleId", &role_id);
        w.element("Arn", &arn);
        w.close("AssumedRoleUser");
    }))
}
