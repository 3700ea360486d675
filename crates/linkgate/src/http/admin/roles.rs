//! Roles: who may assume them, for how long, with which policies, and revoking
//! every session issued so far — through the identity service.
//!
//! Trust is a list of user names (`*` for any user) instead of IAM's trust-policy
//! JSON: it is what linkgate's trust policies can express, in the form people
//! type. Revocation stamps the role with an instant; the session of the role
//! issued before it is denied on its next request.

use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Call;
use super::common::{DEFAULT_POLICY_NAME, PolicyBody, Reply, document_json, parse_body, policies_json, policy_text, rfc3339};
use super::problem::Problem;
use crate::services::identities::NewRole;
use crate::store::identity::RoleRecord;

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

/// `POST /roles` → 201 role.
pub(crate) async fn create_role(call: Call) -> Result<Reply, Problem> {
    let body: CreateRole = parse_body(&call.body)?;
    let policies = match body.policy {
        None | Some(Value::Null) => Vec::new(),
        Some(doc) => vec![(DEFAULT_POLICY_NAME.to_owned(), policy_text(&doc)?)],
    };
    let new = NewRole { name: body.name, trusted_users: body.trusted_users, max_session_secs: body.max_session_duration, policies };
    let ids = &call.state.identities;
    let role = ids.create_role(&call.caller, new).await?;
    Ok(Reply::Created(role_json(&role, &ids.account_id())))
}

/// `GET /roles` → every role.
pub(crate) async fn list_roles(call: Call) -> Result<Reply, Problem> {
    let ids = &call.state.identities;
    let roles = ids.list_roles(&call.caller).await?;
    let account = ids.account_id();
    Ok(Reply::Ok(json!({"roles": roles.iter().map(|r| role_json(r, &account)).collect::<Vec<_>>()})))
}

/// `GET /roles/{name}` → one role.
pub(crate) async fn get_role(call: Call) -> Result<Reply, Problem> {
    let ids = &call.state.identities;
    let role = ids.role(&call.caller, call.param("name")).await?;
    Ok(Reply::Ok(role_json(&role, &ids.account_id())))
}

/// `DELETE /roles/{name}`: the role and its sessions.
pub(crate) async fn delete_role(call: Call) -> Result<Reply, Problem> {
    call.state.identities.delete_role(&call.caller, call.param("name")).await?;
    Ok(Reply::NoContent)
}

/// `PUT /roles/{name}/policy` → the stored policy.
pub(crate) async fn put_policy(call: Call) -> Result<Reply, Problem> {
    let role = call.param("name");
    let policy = parse_body::<PolicyBody>(&call.body)?.into_policy()?;
    call.state.identities.put_role_policy(&call.caller, role, &policy.name, &policy.text).await?;
    Ok(Reply::Ok(json!({"role": role, "name": policy.name, "document": document_json(&policy.text)})))
}

/// `POST /roles/{name}/revoke-sessions`: every session issued before now is denied
/// from its next request on; sessions issued later are not affected.
pub(crate) async fn revoke_sessions(call: Call) -> Result<Reply, Problem> {
    let role = call.param("name");
    let at = call.state.identities.revoke_role_sessions(&call.caller, role).await?;
    Ok(Reply::Ok(json!({"role": role, "revoked_before": rfc3339(at)})))
}
