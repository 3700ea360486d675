//! Users, their access keys and their inline policies, through the identity
//! service (which authorizes each change as `iam:<Action>` and clears the
//! credential cache). Secrets are shown exactly once: in the creation answer.

use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Call;
use super::common::{DEFAULT_POLICY_NAME, PolicyBody, Reply, parse_body, policies_json, rfc3339};
use super::problem::Problem;
use crate::store::identity::{KeyRecord, UserRecord};

/// `POST /users` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    name: String,
}

/// `PATCH /keys/{id}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateKey {
    status: String,
}

/// A user without keys (creation, listing).
fn user_json(u: &UserRecord) -> Value {
    json!({"name": u.name, "created_at": rfc3339(u.created_ms), "policies": policies_json(&u.policies)})
}

fn status(active: bool) -> &'static str {
    if active { "Active" } else { "Inactive" }
}

/// A key's metadata; never its secret.
fn key_json(k: &KeyRecord) -> Value {
    json!({"access_key_id": k.access_key_id, "status": status(k.active), "created_at": rfc3339(k.created_ms), "user": k.user})
}

/// `Active` / `Inactive`, as IAM spells them.
fn parse_status(s: &str) -> Result<bool, Problem> {
    match s {
        "Active" => Ok(true),
        "Inactive" => Ok(false),
        other => Err(Problem::validation(format!("Invalid status {other:?}: use \"Active\" or \"Inactive\"."))),
    }
}

/// `POST /users` → 201 user.
pub(crate) async fn create_user(call: Call) -> Result<Reply, Problem> {
    let CreateUser { name } = parse_body(&call.body)?;
    let user = call.state.identities.create_user(&call.caller, &name).await?;
    Ok(Reply::Created(user_json(&user)))
}

/// `GET /users` → every user with its policies.
pub(crate) async fn list_users(call: Call) -> Result<Reply, Problem> {
    let users = call.state.identities.list_users(&call.caller).await?;
    Ok(Reply::Ok(json!({"users": users.iter().map(user_json).collect::<Vec<_>>()})))
}

/// `GET /users/{name}` → the user, its policies and its keys.
pub(crate) async fn get_user(call: Call) -> Result<Reply, Problem> {
    let ids = &call.state.identities;
    let u = ids.user(&call.caller, "GetUser", call.param("name")).await?;
    let keys = ids.list_keys(&call.caller, &u.name).await?;
    let mut v = user_json(&u);
    v["keys"] = keys
        .iter()
        .map(|k| json!({"access_key_id": k.access_key_id, "status": status(k.active), "created_at": rfc3339(k.created_ms)}))
        .collect();
    Ok(Reply::Ok(v))
}

/// `DELETE /users/{name}`: the user, its keys, policies and sessions.
pub(crate) async fn delete_user(call: Call) -> Result<Reply, Problem> {
    call.state.identities.delete_user(&call.caller, call.param("name")).await?;
    Ok(Reply::NoContent)
}

/// `POST /users/{name}/keys` → 201 with the secret, the only time it is shown.
pub(crate) async fn create_key(call: Call) -> Result<Reply, Problem> {
    let new = call.state.identities.create_key(&call.caller, call.param("name")).await?;
    let mut v = key_json(&new.record);
    v["secret_access_key"] = Value::String(new.secret);
    Ok(Reply::Created(v))
}

/// `GET /users/{name}/keys` → the user's keys, without secrets.
pub(crate) async fn list_keys(call: Call) -> Result<Reply, Problem> {
    let keys = call.state.identities.list_keys(&call.caller, call.param("name")).await?;
    Ok(Reply::Ok(json!({"keys": keys.iter().map(key_json).collect::<Vec<_>>()})))
}

/// `GET /keys/{id}` → one key, without its secret.
pub(crate) async fn get_key(call: Call) -> Result<Reply, Problem> {
    Ok(Reply::Ok(key_json(&call.state.identities.key(&call.caller, call.param("id"), None).await?)))
}

/// `PATCH /keys/{id}` `{"status"}`: an inactive key authenticates nothing, at once.
pub(crate) async fn update_key(call: Call) -> Result<Reply, Problem> {
    let UpdateKey { status } = parse_body(&call.body)?;
    let active = parse_status(&status)?;
    let key = call.state.identities.set_key_active(&call.caller, call.param("id"), None, active).await?;
    Ok(Reply::Ok(key_json(&key)))
}

/// `DELETE /keys/{id}`.
pub(crate) async fn delete_key(call: Call) -> Result<Reply, Problem> {
    call.state.identities.delete_key(&call.caller, call.param("id"), None).await?;
    Ok(Reply::NoContent)
}

/// `PUT /users/{name}/policy` → the stored policy.
pub(crate) async fn put_policy(call: Call) -> Result<Reply, Problem> {
    let user = call.param("name");
    let policy = parse_body::<PolicyBody>(&call.body)?.into_policy()?;
    call.state.identities.put_user_policy(&call.caller, user, &policy.name, &policy.text).await?;
    Ok(Reply::Ok(json!({"user": user, "name": policy.name, "document": super::common::document_json(&policy.text)})))
}

/// `GET /users/{name}/policy` → every inline policy of the user.
pub(crate) async fn get_policy(call: Call) -> Result<Reply, Problem> {
    let u = call.state.identities.user(&call.caller, "GetUserPolicy", call.param("name")).await?;
    Ok(Reply::Ok(json!({"policies": policies_json(&u.policies)})))
}

/// `DELETE /users/{name}/policy?name=…` (default `default`).
pub(crate) async fn delete_policy(call: Call) -> Result<Reply, Problem> {
    let name = call.query("name").unwrap_or_else(|| DEFAULT_POLICY_NAME.to_owned());
    call.state.identities.delete_user_policy(&call.caller, call.param("name"), &name).await?;
    Ok(Reply::NoContent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_iams() {
        assert!(parse_status("Active").unwrap());
        assert!(!parse_status("Inactive").unwrap());
        assert_eq!(parse_status("inactive").unwrap_err().status.as_u16(), 400);
    }

    #[test]
    fn keys_render_without_secrets() {
        let k =
            KeyRecord { access_key_id: "AKIA1".into(), user: "alice".into(), secret_sealed: "sealed".into(), active: false, created_ms: 0 };
        let v = key_json(&k);
        assert_eq!(v["status"], "Inactive");
        assert!(!v.to_string().contains("sealed"));
    }
}
