//! The admin API under `/-/api/v1/`: JSON in and out, errors as RFC 9457 problem
//! details, SigV4 header auth with service `s3` (so `curl --aws-sigv4` and any SDK
//! signer work), permissions as IAM actions.
//!
//! Identities (this module; the IAM query API manages the same ones):
//!
//! | Route | IAM action |
//! |---|---|
//! | `POST /-/api/v1/users`, `GET /-/api/v1/users` | `CreateUser`, `ListUsers` |
//! | `GET`, `DELETE /-/api/v1/users/{name}` | `GetUser`, `DeleteUser` |
//! | `POST`, `GET /-/api/v1/users/{name}/keys` | `CreateAccessKey`, `ListAccessKeys` |
//! | `GET`, `PATCH`, `DELETE /-/api/v1/keys/{id}` | `ListAccessKeys`, `UpdateAccessKey`, `DeleteAccessKey` |
//! | `PUT`, `GET`, `DELETE /-/api/v1/users/{name}/policy` | `PutUserPolicy`, `GetUserPolicy`, `DeleteUserPolicy` |
//! | `POST /-/api/v1/roles`, `GET /-/api/v1/roles` | `CreateRole`, `ListRoles` |
//! | `GET`, `DELETE /-/api/v1/roles/{name}` | `GetRole`, `DeleteRole` |
//! | `PUT /-/api/v1/roles/{name}/policy` | `PutRolePolicy` |
//! | `POST /-/api/v1/roles/{name}/revoke-sessions` | `RevokeRoleSessions` |
//!
//! Broker links (`links`) are authorized on their target instead: creating needs
//! `linkgate:CreateLink` plus the permission the link exercises; revoking needs
//! `linkgate:RevokeLink` (or being the link's issuer). Routes: `POST`/`GET
//! /-/api/v1/links`, `GET`/`DELETE /-/api/v1/links/{id}`, `POST
//! /-/api/v1/links:revoke`, `PATCH /-/api/v1/groups/{name}`.
//!
//! Every request is authenticated (`auth`), then authorized for `iam:<Action>` on
//! `*` (root always passes), then handled by a plain function of the request
//! (`users`, `roles`). A successful change clears the authority's cache before
//! the answer is sent, so the very next request — S3 or admin — sees it. Unknown
//! paths under `/-/api/v1/` answer a 404 problem and unsupported methods a 405
//! problem, never the S3 API's XML.

mod auth;
mod common;
mod links;
mod problem;
mod roles;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};

use self::auth::Call;
use self::common::Reply;
use self::problem::Problem;
use super::AppState;

/// An operation: a decision over an authenticated request.
type Op = fn(&Call) -> Result<Reply, Problem>;

/// The identity routes of the admin API, with 404 and 405 answered as problems.
pub fn router() -> Router<Arc<AppState>> {
    const V1: &str = "/-/api/v1";
    Router::new()
        .route(&format!("{V1}/users"), post(op("CreateUser", users::create_user)).get(op("ListUsers", users::list_users)))
        .route(&format!("{V1}/users/{{name}}"), get(op("GetUser", users::get_user)).delete(op("DeleteUser", users::delete_user)))
        .route(
            &format!("{V1}/users/{{name}}/keys"),
            post(op("CreateAccessKey", users::create_key)).get(op("ListAccessKeys", users::list_keys)),
        )
        .route(
            &format!("{V1}/keys/{{id}}"),
            get(op("ListAccessKeys", users::get_key))
                .patch(op("UpdateAccessKey", users::update_key))
                .delete(op("DeleteAccessKey", users::delete_key)),
        )
        .route(
            &format!("{V1}/users/{{name}}/policy"),
            put(op("PutUserPolicy", users::put_policy))
                .get(op("GetUserPolicy", users::get_policy))
                .delete(op("DeleteUserPolicy", users::delete_policy)),
        )
        .route(&format!("{V1}/roles"), post(op("CreateRole", roles::create_role)).get(op("ListRoles", roles::list_roles)))
        .route(&format!("{V1}/roles/{{name}}"), get(op("GetRole", roles::get_role)).delete(op("DeleteRole", roles::delete_role)))
        .route(&format!("{V1}/roles/{{name}}/policy"), put(op("PutRolePolicy", roles::put_policy)))
        .route(&format!("{V1}/roles/{{name}}/revoke-sessions"), post(op("RevokeRoleSessions", roles::revoke_sessions)))
        .route(&format!("{V1}/links"), post(blocking_link_op(links::create)).get(link_op(links::list)))
        .route(&format!("{V1}/links:revoke"), post(link_op(links::revoke_bulk)))
        .route(&format!("{V1}/links/{{id}}"), get(link_op(links::show)).delete(link_op(links::revoke)))
        .route(&format!("{V1}/groups/{{name}}"), axum::routing::patch(link_op(links::patch_group)))
        .method_not_allowed_fallback(method_not_allowed)
        .route(V1, any(not_found))
        .route(&format!("{V1}/"), any(not_found))
        .route(&format!("{V1}/{{*rest}}"), any(not_found))
}

/// A handler running `f` as `iam:{action}`.
fn op(action: &'static str, f: Op) -> impl Fn(Call) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move |call| std::future::ready(run(&call, action, f))
}

/// A link handler: it authorizes itself (links are judged on their target, not
/// by an IAM action on `*`).
fn link_op(f: Op) -> impl Fn(Call) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move |call| std::future::ready(f(&call).map_or_else(|p| p.at(&call.path).into_response(), IntoResponse::into_response))
}

/// [`link_op`] on a blocking thread, for handlers that do deliberately slow work
/// (hashing a link password with argon2id) which must not stall the async workers.
/// It holds one of the same permits as password checks at redemption (one per
/// core), so neither can crowd out the rest of the server.
fn blocking_link_op(f: Op) -> impl Fn(Call) -> futures_util::future::BoxFuture<'static, Response> + Clone + Send + Sync + 'static {
    move |call| {
        Box::pin(async move {
            let Ok(permit) = call.state.link_guards.hashing.clone().acquire_owned().await else {
                return Problem::unavailable().into_response();
            };
            tokio::task::spawn_blocking(move || {
                let answer = f(&call).map_or_else(|p| p.at(&call.path).into_response(), IntoResponse::into_response);
                drop(permit);
                answer
            })
            .await
            .unwrap_or_else(|_| Problem::unavailable().into_response())
        })
    }
}

/// Reads (`Get…`, `List…`) change nothing; everything else does.
fn is_write(action: &str) -> bool {
    !(action.starts_with("Get") || action.starts_with("List"))
}

/// Authorizes, runs, and on a successful change clears the authority's cache
/// before answering.
fn run(call: &Call, action: &'static str, f: Op) -> Response {
    match call.authorize(action).and_then(|()| f(call)) {
        Ok(reply) => {
            if is_write(action) {
                call.state.authority.invalidate();
                tracing::info!(action, principal = call.credential.principal.source_user(), path = %call.path, "identity changed");
            }
            reply.into_response()
        }
        Err(p) => p.at(&call.path).into_response(),
    }
}

async fn not_found(method: Method, uri: Uri) -> Problem {
    Problem::no_such_route(method.as_str(), uri.path()).at(uri.path())
}

async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    Problem::method_not_allowed(method.as_str(), uri.path()).at(uri.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_do_not_invalidate() {
        for a in ["GetUser", "ListUsers", "ListAccessKeys", "GetUserPolicy", "ListRoles", "GetRole"] {
            assert!(!is_write(a), "{a}");
        }
        for a in ["CreateUser", "DeleteAccessKey", "UpdateAccessKey", "PutRolePolicy", "RevokeRoleSessions"] {
            assert!(is_write(a), "{a}");
        }
    }

    #[test]
    fn router_builds() {
        let _ = router();
    }
}
