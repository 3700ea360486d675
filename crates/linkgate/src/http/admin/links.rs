//! Broker links in the admin API: create, list, show (with audit), revoke —
//! JSON in and out; the link service holds the rules.

use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Call;
use super::common::{Reply, parse_body, rfc3339};
use super::problem::Problem;
use crate::links::model::{LinkFilter, LinkRecord, LinkTarget};
use crate::services::links::{GroupPatch, LinkSpec, TargetSpec};

/// The body of `POST /-/api/v1/links`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLink {
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

impl From<NewLink> for LinkSpec {
    fn from(b: NewLink) -> Self {
        LinkSpec {
            target: TargetSpec { bucket: b.bucket, key: b.key, upstream: b.upstream, path: b.path },
            method: b.method,
            expires_in: b.expires_in,
            expires_at: b.expires_at,
            not_before: b.not_before,
            max_uses: b.max_uses,
            allowed_ips: b.allowed_ips,
            delivery: b.delivery,
            filename: b.filename,
            password: b.password,
            group: b.group,
        }
    }
}

/// The JSON form of a link.
fn link_json(call: &Call, link: &LinkRecord) -> Value {
    let (bucket, key, upstream, path) = match &link.target {
        LinkTarget::Object { bucket, key } => (Some(bucket.as_str()), Some(key.as_str()), None, None),
        LinkTarget::Upstream { name, path } => (None, None, Some(name.as_str()), Some(path.as_str())),
    };
    let mut out = json!({
        "id": link.id,
        "issuer": link.issuer.as_str(),
        "bucket": bucket,
        "key": key,
        "method": link.method.as_str(),
        "delivery": link.delivery.as_str(),
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
        "state": call.state.links.state(link).as_str(),
    });
    if upstream.is_some() {
        out["upstream"] = json!(upstream);
        out["path"] = json!(path);
    }
    out
}

/// `POST /-/api/v1/links` → 201 with the token and URL (shown once).
pub(crate) async fn create(call: Call) -> Result<Reply, Problem> {
    let body: NewLink = parse_body(&call.body)?;
    let links = &call.state.links;
    let created = links.create(&call.caller, body.into()).await?;
    let mut out = link_json(&call, &created.record);
    out["token"] = json!(created.token);
    out["url"] = json!(format!("{}/l/{}", links.base_url(call.host()), created.token));
    Ok(Reply::Created(out))
}

/// `GET /-/api/v1/links[?group=&issuer=&bucket=&prefix=&state=]`.
pub(crate) async fn list(call: Call) -> Result<Reply, Problem> {
    let filter =
        LinkFilter { group: call.query("group"), issuer: call.query("issuer"), bucket: call.query("bucket"), prefix: call.query("prefix") };
    let found = call.state.links.list(&call.caller, &filter, call.query("state").as_deref()).await?;
    Ok(Reply::Ok(json!({ "links": found.iter().map(|l| link_json(&call, l)).collect::<Vec<_>>() })))
}

/// `GET /-/api/v1/links/{id}`: the link, its state and its audit trail.
pub(crate) async fn show(call: Call) -> Result<Reply, Problem> {
    let (link, audit) = call.state.links.show(&call.caller, call.param("id")).await?;
    let mut out = link_json(&call, &link);
    out["audit"] = audit
        .iter()
        .map(|a| {
            json!({"at": rfc3339(a.at_ms), "client_ip": a.client_ip, "user_agent": a.user_agent, "method": a.method,
                   "status": a.status, "outcome": a.outcome, "bytes": a.bytes})
        })
        .collect();
    Ok(Reply::Ok(out))
}

/// `DELETE /-/api/v1/links/{id}`.
pub(crate) async fn revoke(call: Call) -> Result<Reply, Problem> {
    call.state.links.revoke(&call.caller, call.param("id")).await?;
    Ok(Reply::NoContent)
}

/// The body of `POST /-/api/v1/links:revoke`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkRevokeBody {
    group: Option<String>,
    issuer: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
}

/// `POST /-/api/v1/links:revoke`: by group, issuer, or bucket + key prefix.
pub(crate) async fn revoke_bulk(call: Call) -> Result<Reply, Problem> {
    let b: BulkRevokeBody = parse_body(&call.body)?;
    let filter = LinkFilter { group: b.group, issuer: b.issuer, bucket: b.bucket, prefix: b.prefix };
    let n = call.state.links.revoke_matching(&call.caller, &filter).await?;
    Ok(Reply::Ok(json!({ "revoked": n })))
}

/// The body of `PATCH /-/api/v1/groups/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupPatchBody {
    expires_at: Option<String>,
    expires_in: Option<u64>,
    #[serde(default)]
    revoke: bool,
}

/// `PATCH /-/api/v1/groups/{name}`: cut the expiry of every link in the group,
/// or revoke them all.
pub(crate) async fn patch_group(call: Call) -> Result<Reply, Problem> {
    let group = call.param("name").to_owned();
    let b: GroupPatchBody = parse_body(&call.body)?;
    let patch = GroupPatch { expires_at: b.expires_at, expires_in: b.expires_in, revoke: b.revoke };
    let (shortened, revoked) = call.state.links.patch_group(&call.caller, &group, &patch).await?;
    Ok(Reply::Ok(json!({ "group": group, "shortened": shortened, "revoked": revoked })))
}
