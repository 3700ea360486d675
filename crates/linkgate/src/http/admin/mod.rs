//! The admin API under `/-/api/v1/`: JSON in and out, errors as RFC 9457 problem
//! details, SigV4 header auth with service `s3` (so `curl --aws-sigv4` and any SDK
//! signer work), permissions as IAM actions.
//!
//! Identities (the IAM query API manages the same ones, through the same service):
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
//! Broker links (`links`) are authorized on their target instead (see
//! [`crate::services::links`]). Routes: `POST`/`GET /-/api/v1/links`,
//! `GET`/`DELETE /-/api/v1/links/{id}`, `POST /-/api/v1/links:revoke`,
//! `PATCH /-/api/v1/groups/{name}`.
//!
//! Every request is authenticated by extracting a [`auth::Call`]; each handler
//! parses its input, calls one service (which authorizes and applies the change)
//! and renders a [`common::Reply`] or a [`problem::Problem`]. Unknown paths under
//! `/-/api/v1/` answer a 404 problem and unsupported methods a 405 problem, never
//! the S3 API's XML.

mod auth;
mod common;
mod links;
mod problem;
mod roles;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, patch, post, put};

use self::problem::Problem;
use super::AppState;

/// The admin API's routes, with 404 and 405 answered as problems.
pub fn router() -> Router<Arc<AppState>> {
    const V1: &str = "/-/api/v1";
    Router::new()
        .route(&format!("{V1}/users"), post(users::create_user).get(users::list_users))
        .route(&format!("{V1}/users/{{name}}"), get(users::get_user).delete(users::delete_user))
        .route(&format!("{V1}/users/{{name}}/keys"), post(users::create_key).get(users::list_keys))
        .route(&format!("{V1}/keys/{{id}}"), get(users::get_key).patch(users::update_key).delete(users::delete_key))
        .route(&format!("{V1}/users/{{name}}/policy"), put(users::put_policy).get(users::get_policy).delete(users::delete_policy))
        .route(&format!("{V1}/roles"), post(roles::create_role).get(roles::list_roles))
        .route(&format!("{V1}/roles/{{name}}"), get(roles::get_role).delete(roles::delete_role))
        .route(&format!("{V1}/roles/{{name}}/policy"), put(roles::put_policy))
        .route(&format!("{V1}/roles/{{name}}/revoke-sessions"), post(roles::revoke_sessions))
        .route(&format!("{V1}/links"), post(links::create).get(links::list))
        .route(&format!("{V1}/links:revoke"), post(links::revoke_bulk))
        .route(&format!("{V1}/links/{{id}}"), get(links::show).delete(links::revoke))
        .route(&format!("{V1}/groups/{{name}}"), patch(links::patch_group))
        .method_not_allowed_fallback(method_not_allowed)
        .route(V1, any(not_found))
        .route(&format!("{V1}/"), any(not_found))
        .route(&format!("{V1}/{{*rest}}"), any(not_found))
        .layer(axum::middleware::from_fn(problem_instance))
}

/// Sets every problem's `instance` to the request path: handlers and services
/// build problems without knowing it.
async fn problem_instance(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut response = next.run(req).await;
    match response.extensions_mut().remove::<Problem>() {
        Some(p) if p.instance.is_none() => p.at(&path).into_response(),
        _ => response,
    }
}

async fn not_found(method: Method, uri: Uri) -> Problem {
    Problem::no_such_route(method.as_str(), uri.path())
}

async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    Problem::method_not_allowed(method.as_str(), uri.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_builds() {
        let _ = router();
    }
}
