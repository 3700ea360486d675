//! The IAM query API subset: users, access keys, inline policies, roles — the
//! same identity service the admin API calls, rendered as IAM XML. Every call is
//! authorized as `iam:<Action>` against the caller's own request context, so
//! `aws:SourceIp` conditions hold here as everywhere.

use serde_json::Value;

use super::{Api, Call, QueryError, empty_response, iso, response};
use crate::auth::secrets::token_hash;
use crate::s3::xml::XmlWriter;
use crate::services::identities::{IdentityError, MAX_POLICY_LEN, NameKind, NewRole};
use crate::store::identity::{RoleRecord, UserRecord};

pub(super) async fn dispatch(call: &Call<'_>, action: &str) -> Result<String, QueryError> {
    let result = match action {
        "CreateUser" => create_user(call).await,
        "DeleteUser" => delete_user(call).await,
        "GetUser" => get_user(call).await,
        "ListUsers" => list_users(call).await,
        "CreateAccessKey" => create_access_key(call).await,
        "UpdateAccessKey" => update_access_key(call).await,
        "DeleteAccessKey" => delete_access_key(call).await,
        "ListAccessKeys" => list_access_keys(call).await,
        "PutUserPolicy" => put_user_policy(call).await,
        "DeleteUserPolicy" => delete_user_policy(call).await,
        "CreateRole" => create_role(call).await,
        "GetRole" => get_role(call).await,
        "DeleteRole" => delete_role(call).await,
        "PutRolePolicy" => put_role_policy(call).await,
        other => return Err(QueryError::new(400, "InvalidAction", format!("Could not find operation {other} for version 2010-05-08"))),
    };
    result.map_err(iam_error)
}

/// Failures as IAM answers them.
#[derive(Debug)]
enum Failure {
    Identity(IdentityError),
    Query(QueryError),
}

impl From<IdentityError> for Failure {
    fn from(e: IdentityError) -> Self {
        Self::Identity(e)
    }
}

impl From<QueryError> for Failure {
    fn from(e: QueryError) -> Self {
        Self::Query(e)
    }
}

fn iam_error(f: Failure) -> QueryError {
    let e = match f {
        Failure::Query(q) => return q,
        Failure::Identity(e) => e,
    };
    let no_such = |m: String| QueryError::new(404, "NoSuchEntity", m);
    match e {
        IdentityError::AccessDenied { caller_arn, action } => {
            QueryError::access_denied(format!("User: {caller_arn} is not authorized to perform: {action}"))
        }
        IdentityError::NoSuchUser(n) => no_such(format!("The user with name {n} cannot be found.")),
        IdentityError::NoSuchRole(n) => no_such(format!("The role with name {n} cannot be found.")),
        IdentityError::NoSuchKey(id) => no_such(format!("The Access Key with id {id} cannot be found.")),
        IdentityError::NoSuchPolicy { name, .. } => no_such(format!("The user policy with name {name} cannot be found.")),
        IdentityError::UserExists(n) => QueryError::new(409, "EntityAlreadyExists", format!("User with name {n} already exists.")),
        IdentityError::RoleExists(n) => QueryError::new(409, "EntityAlreadyExists", format!("Role with name {n} already exists.")),
        IdentityError::KeyLimit(_) => QueryError::new(409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2"),
        IdentityError::InvalidName(kind, value) => {
            let field = match kind {
                NameKind::User => "userName",
                NameKind::Role => "roleName",
                NameKind::Policy => "policyName",
                NameKind::TrustedUser => "assumeRolePolicyDocument",
            };
            QueryError::validation(format!(
                "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
            ))
        }
        IdentityError::MalformedPolicy(m) => QueryError::new(400, "MalformedPolicyDocument", m),
        IdentityError::PolicyTooLarge(_) => {
            QueryError::new(409, "LimitExceeded", format!("Maximum policy size of {MAX_POLICY_LEN} bytes exceeded."))
        }
        IdentityError::InvalidSessionDuration(v) => QueryError::validation(format!(
            "1 validation error detected: Value '{v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200 and greater than or equal to 3600"
        )),
        IdentityError::Unavailable(_) => QueryError::unavailable(),
    }
}

type IamResult = Result<String, Failure>;

/// An answer holding one `<tag>` element (a user, a role).
fn single(call: &Call<'_>, action: &str, tag: &str, write: impl FnOnce(&mut XmlWriter)) -> String {
    response(Api::Iam, action, call.request_id(), |w| {
        w.open(tag);
        write(w);
        w.close(tag);
    })
}

fn user_xml(w: &mut XmlWriter, call: &Call<'_>, u: &UserRecord) {
    w.element("Path", "/");
    w.element("UserName", &u.name);
    w.element("UserId", &format!("AIDA{}", &token_hash(&u.name)[..16].to_ascii_uppercase()));
    w.element("Arn", &format!("arn:aws:iam::{}:user/{}", call.state.identities.account_id(), u.name));
    w.element("CreateDate", &iso(u.created_ms));
}

async fn create_user(call: &Call<'_>) -> IamResult {
    let u = call.state.identities.create_user(&call.caller, call.required("UserName")?).await?;
    Ok(single(call, "CreateUser", "User", |w| user_xml(w, call, &u)))
}

async fn get_user(call: &Call<'_>) -> IamResult {
    let u = call.state.identities.user(&call.caller, "GetUser", call.required("UserName")?).await?;
    Ok(single(call, "GetUser", "User", |w| user_xml(w, call, &u)))
}

async fn delete_user(call: &Call<'_>) -> IamResult {
    call.state.identities.delete_user(&call.caller, call.required("UserName")?).await?;
    Ok(empty_response(Api::Iam, "DeleteUser", call.request_id()))
}

async fn list_users(call: &Call<'_>) -> IamResult {
    let users = call.state.identities.list_users(&call.caller).await?;
    Ok(response(Api::Iam, "ListUsers", call.request_id(), |w| {
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

async fn create_access_key(call: &Call<'_>) -> IamResult {
    let user = call.required("UserName")?;
    let new = call.state.identities.create_key(&call.caller, user).await?;
    Ok(response(Api::Iam, "CreateAccessKey", call.request_id(), |w| {
        w.open("AccessKey");
        w.element("UserName", user);
        w.element("AccessKeyId", &new.record.access_key_id);
        w.element("Status", "Active");
        w.element("SecretAccessKey", &new.secret);
        w.element("CreateDate", &iso(new.record.created_ms));
        w.close("AccessKey");
    }))
}

async fn update_access_key(call: &Call<'_>) -> IamResult {
    let id = call.required("AccessKeyId")?;
    let active = match call.required("Status")? {
        "Active" => true,
        "Inactive" => false,
        other => {
            return Err(QueryError::validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
            ))
            .into());
        }
    };
    call.state.identities.set_key_active(&call.caller, id, call.param("UserName"), active).await?;
    Ok(empty_response(Api::Iam, "UpdateAccessKey", call.request_id()))
}

async fn delete_access_key(call: &Call<'_>) -> IamResult {
    call.state.identities.delete_key(&call.caller, call.required("AccessKeyId")?, call.param("UserName")).await?;
    Ok(empty_response(Api::Iam, "DeleteAccessKey", call.request_id()))
}

async fn list_access_keys(call: &Call<'_>) -> IamResult {
    let user = call.required("UserName")?;
    let keys = call.state.identities.list_keys(&call.caller, user).await?;
    Ok(response(Api::Iam, "ListAccessKeys", call.request_id(), |w| {
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

async fn put_user_policy(call: &Call<'_>) -> IamResult {
    let (user, name, doc) = (call.required("UserName")?, call.required("PolicyName")?, call.required("PolicyDocument")?);
    call.state.identities.put_user_policy(&call.caller, user, name, doc).await?;
    Ok(empty_response(Api::Iam, "PutUserPolicy", call.request_id()))
}

async fn delete_user_policy(call: &Call<'_>) -> IamResult {
    let (user, name) = (call.required("UserName")?, call.required("PolicyName")?);
    call.state.identities.delete_user_policy(&call.caller, user, name).await?;
    Ok(empty_response(Api::Iam, "DeleteUserPolicy", call.request_id()))
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
    let account = call.state.identities.account_id();
    w.element("Path", "/");
    w.element("RoleName", &r.name);
    w.element("RoleId", &format!("AROA{}", &token_hash(&r.name)[..16].to_ascii_uppercase()));
    w.element("Arn", &format!("arn:aws:iam::{account}:role/{}", r.name));
    w.element("CreateDate", &iso(r.created_ms));
    w.element("AssumeRolePolicyDocument", &sigv4::encode::encode(&trust_document(&r.trusted_users, &account), false));
    w.element("MaxSessionDuration", &r.max_session_secs.to_string());
}

async fn create_role(call: &Call<'_>) -> IamResult {
    let name = call.required("RoleName")?;
    let trusted = trusted_users(call.required("AssumeRolePolicyDocument")?, &call.state.identities.account_id())?;
    let max = match call.param("MaxSessionDuration") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            QueryError::validation(format!(
                "1 validation error detected: Value '{v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200 and greater than or equal to 3600"
            ))
        })?),
    };
    let new = NewRole { name: name.to_owned(), trusted_users: trusted, max_session_secs: max, policies: Vec::new() };
    let role = call.state.identities.create_role(&call.caller, new).await?;
    Ok(single(call, "CreateRole", "Role", |w| role_xml(w, call, &role)))
}

async fn get_role(call: &Call<'_>) -> IamResult {
    let role = call.state.identities.role(&call.caller, call.required("RoleName")?).await?;
    Ok(single(call, "GetRole", "Role", |w| role_xml(w, call, &role)))
}

async fn delete_role(call: &Call<'_>) -> IamResult {
    call.state.identities.delete_role(&call.caller, call.required("RoleName")?).await?;
    Ok(empty_response(Api::Iam, "DeleteRole", call.request_id()))
}

async fn put_role_policy(call: &Call<'_>) -> IamResult {
    let (role, name, doc) = (call.required("RoleName")?, call.required("PolicyName")?, call.required("PolicyDocument")?);
    call.state.identities.put_role_policy(&call.caller, role, name, doc).await?;
    Ok(empty_response(Api::Iam, "PutRolePolicy", call.request_id()))
}
