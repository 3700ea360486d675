//! Users, their access keys and their inline policies.
//!
//! Each operation takes an authenticated, authorized [`Call`] and answers a
//! [`Reply`] or a [`Problem`]; the router clears the authority's cache after every
//! successful change. Secrets are generated here, sealed under the master key
//! before they are stored, and shown exactly once: in the creation answer.

use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Call;
use super::common::{DEFAULT_POLICY_NAME, PolicyBody, Reply, parse_body, policies_json, rfc3339, valid_name};
use super::problem::Problem;
use crate::auth::secrets::{new_access_key_id, new_secret_access_key};
use crate::store::identity::{AddKey, KeyRecord, UserRecord};

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

fn user_or_404(call: &Call, name: &str) -> Result<UserRecord, Problem> {
    call.state.authority.store().user(name)?.ok_or_else(|| Problem::no_such_user(name))
}

fn key_or_404(call: &Call, id: &str) -> Result<KeyRecord, Problem> {
    call.state.authority.store().key(id)?.ok_or_else(|| Problem::no_such_key(id))
}

/// `POST /users` → 201 user.
pub(crate) fn create_user(call: &Call) -> Result<Reply, Problem> {
    let CreateUser { name } = parse_body(&call.body)?;
    valid_name(&name, "user")?;
    if !call.state.authority.store().create_user(&name, call.now_ms)? {
        return Err(Problem::already_exists("user", &name));
    }
    Ok(Reply::Created(user_json(&UserRecord { name, created_ms: call.now_ms, policies: Vec::new() })))
}

/// `GET /users` → every user with its policies.
pub(crate) fn list_users(call: &Call) -> Result<Reply, Problem> {
    let users = call.state.authority.store().list_users()?;
    Ok(Reply::Ok(json!({"users": users.iter().map(user_json).collect::<Vec<_>>()})))
}

/// `GET /users/{name}` → the user, its policies and its keys.
pub(crate) fn get_user(call: &Call) -> Result<Reply, Problem> {
    let u = user_or_404(call, call.param("name"))?;
    let keys = call.state.authority.store().list_keys(&u.name)?;
    let mut v = user_json(&u);
    v["keys"] = keys
        .iter()
        .map(|k| json!({"access_key_id": k.access_key_id, "status": status(k.active), "created_at": rfc3339(k.created_ms)}))
        .collect();
    Ok(Reply::Ok(v))
}

/// `DELETE /users/{name}`: the user, its keys, policies and sessions.
pub(crate) fn delete_user(call: &Call) -> Result<Reply, Problem> {
    let name = call.param("name");
    if !call.state.authority.store().delete_user(name)? {
        return Err(Problem::no_such_user(name));
    }
    Ok(Reply::NoContent)
}

/// `POST /users/{name}/keys` → 201 with the secret, the only time it is shown.
pub(crate) fn create_key(call: &Call) -> Result<Reply, Problem> {
    let user = call.param("name");
    let id = new_access_key_id(false);
    let secret = new_secret_access_key();
    let record = KeyRecord {
        secret_sealed: call.state.authority.master().seal(secret.as_bytes(), id.as_bytes()),
        access_key_id: id,
        user: user.to_owned(),
        active: true,
        created_ms: call.now_ms,
    };
    match call.state.authority.store().add_key(&record)? {
        AddKey::Added => {}
        AddKey::NoUser => return Err(Problem::no_such_user(user)),
        AddKey::LimitExceeded => {
            return Err(Problem::limit_exceeded(format!(
                "The user {user} already has 2 access keys, the most allowed (one in use, one for rotation); delete one first."
            )));
        }
    }
    let mut v = key_json(&record);
    v["secret_access_key"] = Value::String(secret);
    Ok(Reply::Created(v))
}

/// `GET /users/{name}/keys` → the user's keys, without secrets.
pub(crate) fn list_keys(call: &Call) -> Result<Reply, Problem> {
    let user = user_or_404(call, call.param("name"))?;
    let keys = call.state.authority.store().list_keys(&user.name)?;
    Ok(Reply::Ok(json!({"keys": keys.iter().map(key_json).collect::<Vec<_>>()})))
}

/// `GET /keys/{id}` → one key, without its secret.
pub(crate) fn get_key(call: &Call) -> Result<Reply, Problem> {
    Ok(Reply::Ok(key_json(&key_or_404(call, call.param("id"))?)))
}

/// `PATCH /keys/{id}` `{"status"}`: an inactive key authenticates nothing, at once.
pub(crate) fn update_key(call: &Call) -> Result<Reply, Problem> {
    let UpdateKey { status } = parse_body(&call.body)?;
    let active = parse_status(&status)?;
    let mut key = key_or_404(call, call.param("id"))?;
    if !call.state.authority.store().set_key_active(&key.access_key_id, active)? {
        return Err(Problem::no_such_key(&key.access_key_id));
    }
    key.active = active;
    Ok(Reply::Ok(key_json(&key)))
}

/// `DELETE /keys/{id}`.
pub(crate) fn delete_key(call: &Call) -> Result<Reply, Problem> {
    let id = call.param("id");
    if !call.state.authority.store().delete_key(id)? {
        return Err(Problem::no_such_key(id));
    }
    Ok(Reply::NoContent)
}

/// `PUT /users/{name}/policy` → the stored policy.
pub(crate) fn put_policy(call: &Call) -> Result<Reply, Problem> {
    let user = call.param("name");
    let policy = parse_body::<PolicyBody>(&call.body)?.validate()?;
    if !call.state.authority.store().put_user_policy(user, &policy.name, &policy.text)? {
        return Err(Problem::no_such_user(user));
    }
    Ok(Reply::Ok(json!({"user": user, "name": policy.name, "document": super::common::document_json(&policy.text)})))
}

/// `GET /users/{name}/policy` → every inline policy of the user.
pub(crate) fn get_policy(call: &Call) -> Result<Reply, Problem> {
    let u = user_or_404(call, call.param("name"))?;
    Ok(Reply::Ok(json!({"policies": policies_json(&u.policies)})))
}

/// `DELETE /users/{name}/policy?name=…` (default `default`).
pub(crate) fn delete_policy(call: &Call) -> Result<Reply, Problem> {
    let user = call.param("name");
    let name = call.query("name").unwrap_or_else(|| DEFAULT_POLICY_NAME.to_owned());
    let store = call.state.authority.store();
    if !store.delete_user_policy(user, &name)? {
        // Say which of the two is missing.
        return Err(if store.user(user)?.is_none() { Problem::no_such_user(user) } else { Problem::no_such_policy(user, &name) });
    }
    Ok(Reply::NoContent)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn statuses_are_iams() {
        assert!(parse_status("Active").unwrap());
        assert!(!parse_status("Inactive").unwrap());
        assert_eq!(parse_status("inactive").unwrap_err().status.as_u16(), 400);
    }

    #[test]
    fn keys_render_without_secrets() {
        let k = KeyRecord {
            access_key_id: "AKIAEXAMPLE".into(),
            user: "alice".into(),
            secret_sealed: "sealed".into(),
            active: false,
            created_ms: 0,
        };
        assert_eq!(
            key_json(&k),
            json!({"access_key_id": "AKIAEXAMPLE", "status": "Inactive", "created_at": "1970-01-01T00:00:00Z", "user": "alice"})
        );
        assert!(!key_json(&k).to_string().contains("sealed"));
    }

    #[test]
    fn users_render_with_policies() {
        let u = UserRecord { name: "alice".into(), created_ms: 1_000, policies: vec![("p".into(), r#"{"Statement":[]}"#.into())] };
        assert_eq!(user_json(&u), json!({"name": "alice", "created_at": "1970-01-01T00:00:01Z", "policies": {"p": {"Statement": []}}}));
    }

    #[test]
    fn create_user_body_is_strict() {
        assert!(serde_json::from_str::<CreateUser>(r#"{"name":"a"}"#).is_ok());
        assert!(serde_json::from_str::<CreateUser>(r#"{"nmae":"a"}"#).is_err());
        assert!(serde_json::from_str::<UpdateKey>(r#"{"status":"Active","x":1}"#).is_err());
    }
}
