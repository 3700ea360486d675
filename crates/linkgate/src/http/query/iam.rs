//! The IAM query API subset: users, access keys, inline policies, roles.
//!
//! The same identity model the admin API manages, reachable by `aws iam …
//! --endpoint-url` and the SDKs' IAM clients. Callers need `iam:<Action>` on `*`
//! (root always has it). Every change clears the authority's cache before it is
//! acknowledged, so the next request anywhere in this process sees it.

use serde_json::Value;

use super::{Api, Call, QueryError, iso, response};
use crate::auth::authority::Authority;
use crate::auth::policy::PolicyDocument;
use crate::auth::secrets::{new_access_key_id, new_secret_access_key, token_hash};
use crate::s3::xml::XmlWriter;
use crate::store::identity::{AddKey, KeyRecord, RoleRecord, UserRecord};

/// IAM's limit on inline policy size (characters).
const MAX_POLICY_LEN: usize = 10_240;

pub(super) fn dispatch(call: &Call<'_>, action: &str) -> Result<String, QueryError> {
    Authority::authorize(&call.credential, &format!("iam:{action}"), "*", std::net::IpAddr::from([0, 0, 0, 0])).map_err(|_| {
        QueryError::access_denied(format!(
            "User: {} is not authorized to perform: iam:{action}",
            super::principal_arn(&call.account_id(), &call.credential.principal)
        ))
    })?;
    let result = match action {
        "CreateUser" => create_user(call),
        "DeleteUser" => delete_user(call),
        "GetUser" => get_user(call),
        "ListUsers" => list_users(call),
        "CreateAccessKey" => create_access_key(call),
        "UpdateAccessKey" => update_access_key(call),
        "DeleteAccessKey" => delete_access_key(call),
        "ListAccessKeys" => list_access_keys(call),
        "PutUserPolicy" => put_user_policy(call),
        "DeleteUserPolicy" => delete_user_policy(call),
        "CreateRole" => create_role(call),
        "GetRole" => get_role(call),
        "DeleteRole" => delete_role(call),
        "PutRolePolicy" => put_role_policy(call),
        other => return Err(QueryError::new(400, "InvalidAction", format!("Could not find operation {other} for version 2010-05-08"))),
    };
    if result.is_ok() && !matches!(action, "GetUser" | "ListUsers" | "ListAccessKeys" | "GetRole") {
        call.state.authority.invalidate();
    }
    result
}

fn store_err(e: crate::store::StoreError) -> QueryError {
    tracing::error!(error = %e, "identity store failed");
    QueryError::unavailable()
}

fn no_such(kind: &str, name: &str) -> QueryError {
    QueryError::new(404, "NoSuchEntity", format!("The {kind} with name {name} cannot be found."))
}

fn valid_name(name: &str, field: &str) -> Result<(), QueryError> {
    if (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)) {
        Ok(())
    } else {
        Err(QueryError::validation(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )))
    }
}

fn user_xml(w: &mut XmlWriter, call: &Call<'_>, u: &UserRecord) {
    w.element("Path", "/");
    w.element("UserName", &u.name);
    w.element("UserId", &format!("AIDA{}", &token_hash(&u.name)[..16].to_ascii_uppercase()));
    w.element("Arn", &format!("arn:aws:iam::{}:user/{}", call.account_id(), u.name));
    w.element("CreateDate", &iso(u.created_ms));
}

fn now_ms(call: &Call<'_>) -> i64 {
    call.now.unix() * 1000
}

fn create_user(call: &Call<'_>) -> Result<String, QueryError> {
    let name = call.required("UserName")?;
    valid_name(name, "userName")?;
    if !call.state.authority.store().create_user(name, now_ms(call)).map_err(store_err)? {
        return Err(QueryError::new(409, "EntityAlreadyExists", format!("User with name {name} already exists.")));
    }
    let u = UserRecord { name: name.to_owned(), created_ms: now_ms(call), policies: Vec::new() };
    Ok(response(Api::Iam, "CreateUser", call.request_id, |w| {
        w.open("User");
        user_xml(w, call, &u);
        w.close("User");
    }))
}

fn get_user(call: &Call<'_>) -> Result<String, QueryError> {
    let name = call.required("UserName")?;
    let u = call.state.authority.store().user(name).map_err(store_err)?.ok_or_else(|| no_such("user", name))?;
    Ok(response(Api::Iam, "GetUser", call.request_id, |w| {
        w.open("User");
        user_xml(w, call, &u);
        w.close("User");
    }))
}

fn delete_user(call: &Call<'_>) -> Result<String, QueryError> {
    let name = call.required("UserName")?;
    if !call.state.authority.store().delete_user(name).map_err(store_err)? {
        return Err(no_such("user", name));
    }
    Ok(response(Api::Iam, "DeleteUser", call.request_id, |_| {}).replace("<DeleteUserResult></DeleteUserResult>", ""))
}

fn list_users(call: &Call<'_>) -> Result<String, QueryError> {
    let users = call.state.authority.store().list_users().map_err(store_err)?;
    Ok(response(Api::Iam, "ListUsers", call.request_id, |w| {
        w.open("Users");
        for u in &users {
            w.open("member");
            user_xml(w, call, u);
            w.close("member");
        }
        w.close("Users");
        w.element("IsTruncated", "false");
    }))
}

fn create_access_key(call: &Call<'_>) -> Result<String, QueryError> {
    let user = call.required("UserName")?;
    let id = new_access_key_id(false);
    let secret = new_secret_access_key();
    let record = KeyRecord {
        secret_sealed: call.state.authority.master().seal(secret.as_bytes(), id.as_bytes()),
        access_key_id: id.clone(),
        user: user.to_owned(),
        active: true,
        created_ms: now_ms(call),
    };
    match call.state.authority.store().add_key(&record).map_err(store_err)? {
        AddKey::Added => {}
        AddKey::NoUser => return Err(no_such("user", user)),
        AddKey::LimitExceeded => return Err(QueryError::new(409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")),
    }
    Ok(response(Api::Iam, "CreateAccessKey", call.request_id, |w| {
        w.open("AccessKey");
        w.element("UserName", user);
        w.element("AccessKeyId", &id);
        w.element("Status", "Active");
        w.element("SecretAccessKey", &secret);
        w.element("CreateDate", &iso(record.created_ms));
        w.close("AccessKey");
    }))
}

fn key_of(call: &Call<'_>) -> Result<KeyRecord, QueryError> {
    let id = call.required("AccessKeyId")?;
    let key = call.state.authority.store().key(id).map_err(store_err)?;
    match (key, call.param("UserName")) {
        (Some(k), Some(u)) if k.user != u => {
            Err(QueryError::new(404, "NoSuchEntity", format!("The Access Key with id {id} cannot be found.")))
        }
        (Some(k), _) => Ok(k),
        (None, _) => Err(QueryError::new(404, "NoSuchEntity", format!("The Access Key with id {id} cannot be found."))),
    }
}

fn update_access_key(call: &Call<'_>) -> Result<String, QueryError> {
    let key = key_of(call)?;
    let active = match call.required("Status")? {
        "Active" => true,
        "Inactive" => false,
        other => {
            return Err(QueryError::validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
            )));
        }
    };
    call.state.authority.store().set_key_active(&key.access_key_id, active).map_err(store_err)?;
    Ok(response(Api::Iam, "UpdateAccessKey", call.request_id, |_| {}).replace("<UpdateAccessKeyResult></UpdateAccessKeyResult>", ""))
}

fn delete_access_key(call: &Call<'_>) -> Result<String, QueryError> {
    let key = key_of(call)?;
    call.state.authority.store().delete_key(&key.access_key_id).map_err(store_err)?;
    Ok(response(Api::Iam, "DeleteAccessKey", call.request_id, |_| {}).replace("<DeleteAccessKeyResult></DeleteAccessKeyResult>", ""))
}

fn list_access_keys(call: &Call<'_>) -> Result<String, QueryError> {
    let user = call.required("UserName")?;
    if call.state.authority.store().user(user).map_err(store_err)?.is_none() {
        return Err(no_such("user", user));
    }
    let keys = call.state.authority.store().list_keys(user).map_err(store_err)?;
    Ok(response(Api::Iam, "ListAccessKeys", call.request_id, |w| {
        w.element("UserName", user);
        w.open("AccessKeyMetadata");
        for k in &keys {
            w.open("member");
            w.element("UserName", &k.user);
            w.element("AccessKeyId", &k.access_key_id);
            w.element("Status", if k.active { "Active" } else { "Inactive" });
            w.element("CreateDate", &iso(k.created_ms));
            w.close("member");
        }
        w.close("AccessKeyMetadata");
        w.element("IsTruncated", "false");
    }))
}

fn policy_param(call: &Call<'_>, field: &str) -> Result<String, QueryError> {
    let doc = call.required(field)?;
    if doc.len() > MAX_POLICY_LEN {
        return Err(QueryError::new(409, "LimitExceeded", format!("Maximum policy size of {MAX_POLICY_LEN} bytes exceeded.")));
    }
    PolicyDocument::parse(doc).map_err(|e| QueryError::new(400, "MalformedPolicyDocument", e.message))?;
    Ok(doc.to_owned())
}

fn put_user_policy(call: &Call<'_>) -> Result<String, QueryError> {
    let user = call.required("UserName")?;
    let name = call.required("PolicyName")?;
    valid_name(name, "policyName")?;
    let doc = policy_param(call, "PolicyDocument")?;
    if !call.state.authority.store().put_user_policy(user, name, &doc).map_err(store_err)? {
        return Err(no_such("user", user));
    }
    Ok(response(Api::Iam, "PutUserPolicy", call.request_id, |_| {}).replace("<PutUserPolicyResult></PutUserPolicyResult>", ""))
}

fn delete_user_policy(call: &Call<'_>) -> Result<String, QueryError> {
    let user = call.required("UserName")?;
    let name = call.required("PolicyName")?;
    if !call.state.authority.store().delete_user_policy(user, name).map_err(store_err)? {
        return Err(QueryError::new(404, "NoSuchEntity", format!("The user policy with name {name} cannot be found.")));
    }
    Ok(response(Api::Iam, "DeleteUserPolicy", call.request_id, |_| {}).replace("<DeleteUserPolicyResult></DeleteUserPolicyResult>", ""))
}

/// Users a trust policy lets assume the role: `arn:aws:iam::ACCOUNT:user/NAME`
/// principals; the account itself (`…:root` or the bare id) or `*` means any user.
pub(crate) fn trusted_users(doc: &str, account: &str) -> Result<Vec<String>, QueryError> {
    let bad = |m: &str| QueryError::new(400, "MalformedPolicyDocument", m.to_owned());
    let v: Value = serde_json::from_str(doc).map_err(|e| bad(&format!("Syntax errors in policy: {e}")))?;
    let statements = match &v["Statement"] {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![v["Statement"].clone()],
        _ => return Err(bad("Policy document must contain a Statement")),
    };
    let mut users = Vec::new();
    for s in statements {
        if s["Effect"] != "Allow" {
            continue;
        }
        let principals = match &s["Principal"] {
            Value::String(p) if p == "*" => vec!["*".to_owned()],
            Value::Object(o) => match o.get("AWS") {
                Some(Value::String(p)) => vec![p.clone()],
                Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
                _ => Vec::new(),
            },
            _ => return Err(bad("Trust policy statements need a Principal")),
        };
        for p in principals {
            if p == "*" || p == account || p == format!("arn:aws:iam::{account}:root") {
                users.push("*".to_owned());
            } else if let Some(u) = p.strip_prefix(&format!("arn:aws:iam::{account}:user/")) {
                users.push(u.to_owned());
            } else {
                return Err(bad(&format!("Invalid principal in policy: \"AWS\":\"{p}\"")));
            }
        }
    }
    Ok(users)
}

fn trust_document(users: &[String], account: &str) -> String {
    let principals: Vec<String> = users
        .iter()
        .map(|u| if u == "*" { format!("arn:aws:iam::{account}:root") } else { format!("arn:aws:iam::{account}:user/{u}") })
        .collect();
    serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": principals}, "Action": "sts:AssumeRole"}]})
        .to_string()
}

fn role_xml(w: &mut XmlWriter, call: &Call<'_>, r: &RoleRecord) {
    let account = call.account_id();
    w.element("Path", "/");
    w.element("RoleName", &r.name);
    w.element("RoleId", &format!("AROA{}", &token_hash(&r.name)[..16].to_ascii_uppercase()));
    w.element("Arn", &format!("arn:aws:iam::{account}:role/{}", r.name));
    w.element("CreateDate", &iso(r.created_ms));
    w.element("AssumeRolePolicyDocument", &sigv4::encode::encode(&trust_document(&r.trusted_users, &account), false));
    w.element("MaxSessionDuration", &r.max_session_secs.to_string());
}

fn create_role(call: &Call<'_>) -> Result<String, QueryError> {
    let name = call.required("RoleName")?;
    valid_name(name, "roleName")?;
    let trust = call.required("AssumeRolePolicyDocument")?;
    let users = trusted_users(trust, &call.account_id())?;
    let max = match call.param("MaxSessionDuration") {
        None => 3_600,
        Some(v) => v.parse::<u64>().ok().filter(|m| (3_600..=43_200).contains(m)).ok_or_else(|| {
            QueryError::validation(format!(
                "1 validation error detected: Value '{v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200 and greater than or equal to 3600"
            ))
        })?,
    };
    let role = RoleRecord {
        name: name.to_owned(),
        created_ms: now_ms(call),
        max_session_secs: max,
        trusted_users: users,
        policies: Vec::new(),
        revoked_before_ms: 0,
    };
    if !call.state.authority.store().create_role(&role).map_err(store_err)? {
        return Err(QueryError::new(409, "EntityAlreadyExists", format!("Role with name {name} already exists.")));
    }
    Ok(response(Api::Iam, "CreateRole", call.request_id, |w| {
        w.open("Role");
        role_xml(w, call, &role);
        w.close("Role");
    }))
}

fn get_role(call: &Call<'_>) -> Result<String, QueryError> {
    let name = call.required("RoleName")?;
    let role = call.state.authority.store().role(name).map_err(store_err)?.ok_or_else(|| no_such("role", name))?;
    Ok(response(Api::Iam, "GetRole", call.request_id, |w| {
        w.open("Role");
        role_xml(w, call, &role);
        w.close("Role");
    }))
}

fn delete_role(call: &Call<'_>) -> Result<String, QueryError> {
    let name = call.required("RoleName")?;
    if !call.state.authority.store().delete_role(name).map_err(store_err)? {
        return Err(no_such("role", name));
    }
    Ok(response(Api::Iam, "DeleteRole", call.request_id, |_| {}).replace("<DeleteRoleResult></DeleteRoleResult>", ""))
}

fn put_role_policy(call: &Call<'_>) -> Result<String, QueryError> {
    let role = call.required("RoleName")?;
    let name = call.required("PolicyName")?;
    valid_name(name, "policyName")?;
    let doc = policy_param(call, "PolicyDocument")?;
    if !call.state.authority.store().put_role_policy(role, name, &doc).map_err(store_err)? {
        return Err(no_such("role", role));
    }
    Ok(response(Api::Iam, "PutRolePolicy", call.request_id, |_| {}).replace("<PutRolePolicyResult></PutRolePolicyResult>", ""))
}
