//! Roles: who may assume them, for how long, with which policies, and revoking
//! every session issued so far.
//!
//! Trust is a list of user names (`*` for any user) instead of IAM's trust-policy
//! JSON: it is what linkgate's trust policies can express, in the form people
//! type. Revocation stamps the role with an instant; the authority denies any
//! session of the role issued before it, on its next request.

use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Call;
use super::common::{DEFAULT_POLICY_NAME, PolicyBody, Reply, document_json, parse_body, policies_json, policy_text, rfc3339, valid_name};
use super::problem::Problem;
use crate::store::identity::RoleRecord;

/// Session lengths a role may allow, seconds (IAM's MaxSessionDuration range).
const SESSION_RANGE: std::ops::RangeInclusive<u64> = 3_600..=43_200;

/// `POST /roles` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRole {
    name: String,
    #[serde(default)]
    trusted_users: Vec<String>,
    #[serde(default)]
    max_session_duration: Option<u64>,
    /// Stored as the inline policy named `default`.
    #[serde(default)]
    policy: Option<Value>,
}

/// Validates a creation request into the record to store.
fn role_record(body: CreateRole, now_ms: i64) -> Result<RoleRecord, Problem> {
    valid_name(&body.name, "role")?;
    let mut trusted: Vec<String> = Vec::with_capacity(body.trusted_users.len());
    for u in body.trusted_users {
        if u != "*" {
            valid_name(&u, "trusted user")?;
        }
        if !trusted.contains(&u) {
            trusted.push(u);
        }
    }
    let max = body.max_session_duration.unwrap_or(*SESSION_RANGE.start());
    if !SESSION_RANGE.contains(&max) {
        return Err(Problem::validation(format!(
            "max_session_duration {max} is out of range: use {} to {} seconds.",
            SESSION_RANGE.start(),
            SESSION_RANGE.end()
        )));
    }
    let policies = match body.policy {
        None | Some(Value::Null) => Vec::new(),
        Some(doc) => vec![(DEFAULT_POLICY_NAME.to_owned(), policy_text(&doc)?)],
    };
    Ok(RoleRecord { name: body.name, created_ms: now_ms, max_session_secs: max, trusted_users: trusted, policies, revoked_before_ms: 0 })
}

/// A role as the API shows it.
fn role_json(r: &RoleRecord, account: &str) -> Value {
    json!({
        "name": r.name,
        "arn": format!("arn:aws:iam::{account}:role/{}", r.name),
        "created_at": rfc3339(r.created_ms),
        "max_session_duration": r.max_session_secs,
        "trusted_users": r.trusted_users,
        "policies": policies_json(&r.policies),
        "sessions_revoked_before": if r.revoked_before_ms > 0 { Value::String(rfc3339(r.revoked_before_ms)) } else { Value::Null },
    })
}

fn account(call: &Call) -> String {
    crate::http::query::account_id(&call.state.root.access_key_id)
}

/// `POST /roles` → 201 role.
pub(crate) fn create_role(call: &Call) -> Result<Reply, Problem> {
    let role = role_record(parse_body(&call.body)?, call.now_ms)?;
    if !call.state.authority.store().create_role(&role)? {
        return Err(Problem::already_exists("role", &role.name));
    }
    Ok(Reply::Created(role_json(&role, &account(call))))
}

/// `GET /roles` → every role.
pub(crate) fn list_roles(call: &Call) -> Result<Reply, Problem> {
    let roles = call.state.authority.store().list_roles()?;
    let account = account(call);
    Ok(Reply::Ok(json!({"roles": roles.iter().map(|r| role_json(r, &account)).collect::<Vec<_>>()})))
}

/// `GET /roles/{name}` → one role.
pub(crate) fn get_role(call: &Call) -> Result<Reply, Problem> {
    let name = call.param("name");
    let role = call.state.authority.store().role(name)?.ok_or_else(|| Problem::no_such_role(name))?;
    Ok(Reply::Ok(role_json(&role, &account(call))))
}

/// `DELETE /roles/{name}`: the role and its sessions.
pub(crate) fn delete_role(call: &Call) -> Result<Reply, Problem> {
    let name = call.param("name");
    if !call.state.authority.store().delete_role(name)? {
        return Err(Problem::no_such_role(name));
    }
    Ok(Reply::NoContent)
}

/// `PUT /roles/{name}/policy` → the stored policy.
pub(crate) fn put_policy(call: &Call) -> Result<Reply, Problem> {
    let role = call.param("name");
    let policy = parse_body::<PolicyBody>(&call.body)?.validate()?;
    if !call.state.authority.store().put_role_policy(role, &policy.name, &policy.text)? {
        return Err(Problem::no_such_role(role));
    }
    Ok(Reply::Ok(json!({"role": role, "name": policy.name, "document": document_json(&policy.text)})))
}

/// `POST /roles/{name}/revoke-sessions`: every session issued before now is denied
/// from its next request on; sessions issued later are not affected.
pub(crate) fn revoke_sessions(call: &Call) -> Result<Reply, Problem> {
    let role = call.param("name");
    // Stamped at the write, not at arrival: a session issued while this request
    // was being authenticated is still "before".
    let now_ms = crate::http::s3::now_ms();
    if !call.state.authority.store().revoke_role_sessions(role, now_ms)? {
        return Err(Problem::no_such_role(role));
    }
    Ok(Reply::Ok(json!({"role": role, "revoked_before": rfc3339(now_ms)})))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn body(v: Value) -> CreateRole {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults() {
        let r = role_record(body(json!({"name": "reader"})), 5).unwrap();
        assert_eq!(r.max_session_secs, 3_600);
        assert!(r.trusted_users.is_empty() && r.policies.is_empty());
        assert_eq!((r.created_ms, r.revoked_before_ms), (5, 0));
    }

    #[test]
    fn trusted_users_are_names_or_star() {
        let r = role_record(body(json!({"name": "r", "trusted_users": ["alice", "*", "alice"]})), 0).unwrap();
        assert_eq!(r.trusted_users, ["alice", "*"]);
        let p = role_record(body(json!({"name": "r", "trusted_users": ["arn:aws:iam::1:user/a"]})), 0).unwrap_err();
        assert_eq!(p.status.as_u16(), 400);
    }

    #[test]
    fn session_duration_range() {
        for ok in [3_600, 43_200] {
            assert!(role_record(body(json!({"name": "r", "max_session_duration": ok})), 0).is_ok());
        }
        for bad in [3_599, 43_201] {
            let p = role_record(body(json!({"name": "r", "max_session_duration": bad})), 0).unwrap_err();
            assert_eq!(p.slug, "validation-error");
        }
        assert!(serde_json::from_value::<CreateRole>(json!({"name": "r", "max_session_duration": -1})).is_err());
    }

    #[test]
    fn policy_is_validated_and_named_default() {
        let doc = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}});
        let r = role_record(body(json!({"name": "r", "policy": doc})), 0).unwrap();
        assert_eq!(r.policies.len(), 1);
        assert_eq!(r.policies[0].0, "default");
        let p = role_record(body(json!({"name": "r", "policy": {"Statement": "nope"}})), 0).unwrap_err();
        assert_eq!(p.slug, "malformed-policy");
        assert_eq!(role_record(body(json!({"name": "bad name"})), 0).unwrap_err().status.as_u16(), 400);
        assert!(serde_json::from_value::<CreateRole>(json!({"name": "r", "trusted": []})).is_err());
    }

    #[test]
    fn renders_arn_and_revocation() {
        let mut r = role_record(body(json!({"name": "r", "trusted_users": ["*"]})), 0).unwrap();
        let v = role_json(&r, "123456789012");
        assert_eq!(v["arn"], "arn:aws:iam::123456789012:role/r");
        assert_eq!(v["sessions_revoked_before"], Value::Null);
        assert_eq!(v["trusted_users"], json!(["*"]));
        r.revoked_before_ms = 1_500;
        assert_eq!(role_json(&r, "1")["sessions_revoked_before"], "1970-01-01T00:00:01.500Z");
    }
}
