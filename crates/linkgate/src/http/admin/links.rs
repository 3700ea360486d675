//! Broker links in the admin API: create, list, show (with audit), revoke.
//!
//! A user can grant no more than they hold: creating a link needs
//! `linkgate:CreateLink` on the target *and* the permission the link will exercise
//! (`s3:GetObject` for a download link, `s3:PutObject` for an upload link). An
//! upstream link needs `linkgate:CreateLink` on `arn:linkgate:upstream:::NAME`, and
//! may only name a configured `[[upstreams]]` entry (never a host). Revoking
//! needs `linkgate:RevokeLink` (root, or the link's own issuer).

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Call;
use super::common::{Reply, rfc3339};
use super::problem::Problem;
use crate::auth::authority::Principal;
use crate::auth::policy::{LINKGATE_CREATE_LINK, LINKGATE_REVOKE_LINK, S3_GET_OBJECT, S3_PUT_OBJECT, s3_object_arn};
use crate::http::upstream;
use crate::links;
use crate::store::links::{LinkFilter, LinkIssuer, LinkRecord, LinkStore, LinkTarget};

/// Most links one listing returns.
const LIST_LIMIT: usize = 1000;

/// The body of `POST /-/api/v1/links`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewLink {
    bucket: Option<String>,
    key: Option<String>,
    upstream: Option<String>,
    path: Option<String>,
    method: Option<String>,
    expires_in: Option<u64>,
    expires_at: Option<String>,
    not_before: Option<String>,
    max_uses: Option<u64>,
    #[serde(default)]
    allowed_ips: Vec<String>,
    delivery: Option<String>,
    filename: Option<String>,
    password: Option<String>,
    group: Option<String>,
}

fn store_err(e: crate::store::StoreError) -> Problem {
    tracing::error!(error = %e, "link store failed");
    Problem::unavailable()
}

fn issuer_of(p: &Principal) -> LinkIssuer {
    match p {
        Principal::Root => LinkIssuer::Root,
        Principal::User(u) => LinkIssuer::User(u.clone()),
        Principal::Role { role, .. } => LinkIssuer::Role(role.clone()),
    }
}

/// Where links are redeemed: `public_url`, else the Host the admin request used.
fn base_url(call: &Call) -> String {
    call.state.config.public_url.clone().unwrap_or_else(|| format!("http://{}", call.host())).trim_end_matches('/').to_owned()
}

fn parse_time(field: &str, value: &str) -> Result<i64, Problem> {
    sigv4::AmzDate::parse_rfc3339(value)
        .map(|t| t.unix() * 1000)
        .ok_or_else(|| Problem::validation(format!("{field} must be an RFC 3339 time like 2026-12-01T00:00:00Z, got {value:?}")))
}

/// Validates a creation request into a record (without id, token and password
/// hash) and the password, if any. The password is hashed by [`create`] once the
/// caller is known to be allowed: argon2 is deliberately slow, and refusals should
/// not cost it.
fn build(call: &Call, body: NewLink) -> Result<(LinkRecord, Option<String>), Problem> {
    let target = match (body.bucket, body.key, body.upstream, body.path) {
        (Some(bucket), Some(key), None, None) if !bucket.is_empty() && !key.is_empty() => LinkTarget::Object { bucket, key },
        (None, None, Some(name), path) => {
            if call.state.upstreams.get(&name).is_none() {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "unknown-upstream",
                    "unknown upstream",
                    format!("No upstream is configured with name {name:?}; links can only name an [[upstreams]] entry."),
                ));
            }
            let path = path.unwrap_or_else(|| "/".into());
            upstream::validate_link_path(&path).map_err(Problem::validation)?;
            LinkTarget::Upstream { name, path }
        }
        _ => return Err(Problem::validation("Name the target as \"bucket\" and \"key\", or as \"upstream\" and \"path\".")),
    };
    let method = body.method.unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
    match &target {
        LinkTarget::Object { .. } if method != "GET" && method != "PUT" => {
            return Err(Problem::validation(format!("method must be GET or PUT, got {method:?}")));
        }
        LinkTarget::Upstream { .. } if !upstream::UPSTREAM_METHODS.contains(&method.as_str()) => {
            return Err(Problem::validation(format!("method must be one of {}, got {method:?}", upstream::UPSTREAM_METHODS.join(", "))));
        }
        _ => {}
    }
    let delivery = body.delivery.unwrap_or_else(|| "stream".into());
    if delivery != "stream" && delivery != "redirect" {
        return Err(Problem::validation(format!("delivery must be \"stream\" or \"redirect\", got {delivery:?}")));
    }
    if delivery == "redirect" && method != "GET" {
        return Err(Problem::validation("delivery \"redirect\" is for download (GET) links."));
    }
    if let Some(p) = &body.password {
        links::password::validate(p).map_err(Problem::validation)?;
    }
    let now = call.now_ms;
    let max_ms = (call.state.config.links.max_expires_in as i64) * 1000;
    let expires_ms = match (body.expires_in, body.expires_at.as_deref()) {
        (Some(_), Some(_)) => return Err(Problem::validation("Give expires_in or expires_at, not both.")),
        (Some(secs), None) => now + (secs as i64) * 1000,
        (None, Some(at)) => parse_time("expires_at", at)?,
        (None, None) => now + 3_600_000,
    };
    if expires_ms <= now {
        return Err(Problem::validation("The link would already be expired."));
    }
    if expires_ms - now > max_ms {
        return Err(Problem::validation(format!(
            "The link may live at most {} seconds (links.max_expires_in).",
            call.state.config.links.max_expires_in
        )));
    }
    let not_before_ms = body.not_before.as_deref().map(|t| parse_time("not_before", t)).transpose()?;
    if body.max_uses == Some(0) {
        return Err(Problem::validation("max_uses must be at least 1."));
    }
    links::validate_cidrs(&body.allowed_ips).map_err(Problem::validation)?;
    if let Some(f) = &body.filename
        && (f.is_empty() || f.len() > 255 || f.chars().any(char::is_control))
    {
        return Err(Problem::validation("filename must be 1 to 255 characters without control characters."));
    }
    let link = LinkRecord {
        id: String::new(),
        token_hash: String::new(),
        issuer: issuer_of(&call.credential.principal),
        target,
        method,
        delivery,
        created_ms: now,
        expires_ms,
        not_before_ms,
        max_uses: body.max_uses,
        uses: 0,
        allowed_ips: body.allowed_ips,
        filename: body.filename,
        password_hash: None,
        group: body.group,
        revoked_ms: None,
    };
    Ok((link, body.password))
}

/// The JSON form of a link.
pub(crate) fn link_json(link: &LinkRecord, now_ms: i64) -> Value {
    let (bucket, key, upstream, path) = match &link.target {
        LinkTarget::Object { bucket, key } => (Some(bucket.as_str()), Some(key.as_str()), None, None),
        LinkTarget::Upstream { name, path } => (None, None, Some(name.as_str()), Some(path.as_str())),
    };
    let mut out = json!({
        "id": link.id,
        "issuer": link.issuer.as_str(),
        "bucket": bucket,
        "key": key,
        "method": link.method,
        "delivery": link.delivery,
        "created_at": rfc3339(link.created_ms),
        "expires_at": rfc3339(link.expires_ms),
        "not_before": link.not_before_ms.map(rfc3339),
        "max_uses": link.max_uses,
        "uses": link.uses,
        "allowed_ips": link.allowed_ips,
        "filename": link.filename,
        "password": link.password_hash.is_some(),
        "group": link.group,
        "revoked_at": link.revoked_ms.map(rfc3339),
        "state": links::state(link, now_ms).as_str(),
    });
    if upstream.is_some() {
        out["upstream"] = json!(upstream);
        out["path"] = json!(path);
    }
    out
}

/// `POST /-/api/v1/links`. Runs on a blocking thread (see the router): a
/// password is hashed with argon2id here.
pub(crate) fn create(call: &Call) -> Result<Reply, Problem> {
    let body: NewLink = super::common::parse_body(&call.body)?;
    let (mut link, password) = build(call, body)?;
    match &link.target {
        LinkTarget::Object { bucket, key } => {
            let arn = s3_object_arn(bucket, key);
            let exercised = if link.method == "PUT" { S3_PUT_OBJECT } else { S3_GET_OBJECT };
            if !call.allowed(LINKGATE_CREATE_LINK, &arn) || !call.allowed(exercised, &arn) {
                return Err(Problem::access_denied(format!(
                    "Creating this link needs {LINKGATE_CREATE_LINK} and {exercised} on {arn}: a link cannot grant more than its creator holds."
                )));
            }
        }
        LinkTarget::Upstream { name, .. } => {
            let arn = upstream::upstream_arn(name);
            if !call.allowed(LINKGATE_CREATE_LINK, &arn) {
                return Err(Problem::access_denied(format!("Creating this link needs {LINKGATE_CREATE_LINK} on {arn}.")));
            }
        }
    }
    if let Some(password) = password {
        link.password_hash = Some(links::password::hash(&password).map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "The password could not be hashed; no link was created.",
            )
        })?);
    }
    let (token, hash) = links::new_token();
    link.id = links::new_link_id();
    link.token_hash = hash;
    link_store(call).create_link(&link).map_err(store_err)?;
    let mut out = link_json(&link, call.now_ms);
    out["token"] = json!(token);
    out["url"] = json!(format!("{}/l/{token}", base_url(call)));
    Ok(Reply::Created(out))
}

fn link_store(call: &Call) -> &dyn LinkStore {
    call.state.links.as_ref()
}

fn may_manage(call: &Call, link: &LinkRecord, action: &str) -> bool {
    let own = issuer_of(&call.credential.principal) == link.issuer;
    let arn = match &link.target {
        LinkTarget::Object { bucket, key } => s3_object_arn(bucket, key),
        LinkTarget::Upstream { name, .. } => upstream::upstream_arn(name),
    };
    own || call.allowed(action, &arn)
}

/// `GET /-/api/v1/links[?group=&issuer=&state=]`.
pub(crate) fn list(call: &Call) -> Result<Reply, Problem> {
    let filter =
        LinkFilter { group: call.query("group"), issuer: call.query("issuer"), bucket: call.query("bucket"), prefix: call.query("prefix") };
    let wanted = call.query("state");
    let links = link_store(call).list_links(&filter, LIST_LIMIT).map_err(store_err)?;
    let items: Vec<Value> = links
        .iter()
        .filter(|l| may_manage(call, l, LINKGATE_CREATE_LINK))
        .filter(|l| wanted.as_deref().is_none_or(|w| links::state(l, call.now_ms).as_str() == w))
        .map(|l| link_json(l, call.now_ms))
        .collect();
    Ok(Reply::Ok(json!({ "links": items })))
}

fn find(call: &Call) -> Result<LinkRecord, Problem> {
    let id = call.param("id");
    let link = link_store(call).link(id).map_err(store_err)?;
    link.filter(|l| may_manage(call, l, LINKGATE_CREATE_LINK)).ok_or_else(|| Problem::no_such_link(id))
}

/// `GET /-/api/v1/links/{id}`: the link, its state and its audit trail.
pub(crate) fn show(call: &Call) -> Result<Reply, Problem> {
    let link = find(call)?;
    let audit = link_store(call).audit(&link.id, 1000).map_err(store_err)?;
    let mut out = link_json(&link, call.now_ms);
    out["audit"] = Value::Array(
        audit
            .iter()
            .map(|a| {
                json!({"at": rfc3339(a.at_ms), "client_ip": a.client_ip, "user_agent": a.user_agent, "method": a.method,
                       "status": a.status, "outcome": a.outcome, "bytes": a.bytes})
            })
            .collect(),
    );
    Ok(Reply::Ok(out))
}

/// `DELETE /-/api/v1/links/{id}`.
pub(crate) fn revoke(call: &Call) -> Result<Reply, Problem> {
    let link = find(call)?;
    if !may_manage(call, &link, LINKGATE_REVOKE_LINK) {
        return Err(Problem::access_denied(format!("Revoking needs {LINKGATE_REVOKE_LINK}.")));
    }
    link_store(call).revoke(&link.id, call.now_ms).map_err(store_err)?;
    Ok(Reply::NoContent)
}

/// The body of `POST /-/api/v1/links:revoke`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BulkRevoke {
    group: Option<String>,
    issuer: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
}

/// `POST /-/api/v1/links:revoke`: by group, issuer, or bucket + key prefix.
pub(crate) fn revoke_bulk(call: &Call) -> Result<Reply, Problem> {
    let body: BulkRevoke = super::common::parse_body(&call.body)?;
    if body.group.is_none() && body.issuer.is_none() && body.bucket.is_none() {
        return Err(Problem::validation("Name a group, an issuer, or a bucket (with an optional prefix)."));
    }
    if body.prefix.is_some() && body.bucket.is_none() {
        return Err(Problem::validation("A prefix needs a bucket."));
    }
    let resource = match &body.bucket {
        Some(b) => s3_object_arn(b, &format!("{}*", body.prefix.as_deref().unwrap_or(""))),
        None => "*".to_owned(),
    };
    let own_issuer = issuer_of(&call.credential.principal).as_str();
    let only_own = body.issuer.as_deref() == Some(own_issuer.as_str());
    if !only_own && !call.allowed(LINKGATE_REVOKE_LINK, &resource) {
        return Err(Problem::access_denied(format!("Revoking these links needs {LINKGATE_REVOKE_LINK} on {resource}.")));
    }
    let filter = LinkFilter { group: body.group, issuer: body.issuer, bucket: body.bucket, prefix: body.prefix };
    let n = link_store(call).revoke_matching(&filter, call.now_ms).map_err(store_err)?;
    Ok(Reply::Ok(json!({ "revoked": n })))
}

/// The body of `PATCH /-/api/v1/groups/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupPatch {
    expires_at: Option<String>,
    expires_in: Option<u64>,
    #[serde(default)]
    revoke: bool,
}

/// `PATCH /-/api/v1/groups/{name}`: like an Azure stored access policy — cut the
/// expiry of every link in the group at once, or revoke them all.
pub(crate) fn patch_group(call: &Call) -> Result<Reply, Problem> {
    let group = call.param("name").to_owned();
    let body: GroupPatch = super::common::parse_body(&call.body)?;
    if !call.allowed(LINKGATE_REVOKE_LINK, "*") {
        return Err(Problem::access_denied(format!("Changing a group of links needs {LINKGATE_REVOKE_LINK} on *.")));
    }
    let cut_to = match (body.expires_in, body.expires_at.as_deref()) {
        (Some(_), Some(_)) => return Err(Problem::validation("Give expires_in or expires_at, not both.")),
        (Some(secs), None) => Some(call.now_ms + (secs as i64) * 1000),
        (None, Some(at)) => Some(parse_time("expires_at", at)?),
        (None, None) => None,
    };
    if cut_to.is_none() && !body.revoke {
        return Err(Problem::validation("Give expires_at or expires_in (to shorten), or \"revoke\": true."));
    }
    let shortened = match cut_to {
        Some(t) => link_store(call).cut_group_expiry(&group, t).map_err(store_err)?,
        None => 0,
    };
    let revoked = if body.revoke {
        let filter = LinkFilter { group: Some(group.clone()), ..LinkFilter::default() };
        link_store(call).revoke_matching(&filter, call.now_ms).map_err(store_err)?
    } else {
        0
    };
    Ok(Reply::Ok(json!({ "group": group, "shortened": shortened, "revoked": revoked })))
}
