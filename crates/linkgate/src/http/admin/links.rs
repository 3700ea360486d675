//! Broker links in the admin API: create, list, show (with audit), revoke —
//! JSON in and out; the link service holds the rules.

use serde_json::{Value, json};

use super::auth::Call;
use super::common::{Reply, parse_body, rfc3339};
use super::problem::Problem;
use crate::links::model::{LinkFilter, LinkRecord, LinkTarget};
use crate::services::links::{GroupPatch, LinkSpec};

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
    let spec: LinkSpec = parse_body(&call.body)?;
    let links = &call.state.links;
    let created = links.create(&call.caller, spec).await?;
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

/// `POST /-/api/v1/links:revoke`: by group, issuer, or bucket + key prefix.
pub(crate) async fn revoke_bulk(call: Call) -> Result<Reply, Problem> {
    let filter: LinkFilter = parse_body(&call.body)?;
    let n = call.state.links.revoke_matching(&call.caller, &filter).await?;
    Ok(Reply::Ok(json!({ "revoked": n })))
}

/// `PATCH /-/api/v1/groups/{name}`: cut the expiry of every link in the group,
/// or revoke them all.
pub(crate) async fn patch_group(call: Call) -> Result<Reply, Problem> {
    let group = call.param("name").to_owned();
    let patch: GroupPatch = parse_body(&call.body)?;
    let (shortened, revoked) = call.state.links.patch_group(&call.caller, &group, &patch).await?;
    Ok(Reply::Ok(json!({ "group": group, "shortened": shortened, "revoked": revoked })))
}
