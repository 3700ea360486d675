//! RFC 9457 problem details: how every admin API error is answered.
//!
//! One shape for every failure, so scripts and the CLI branch on `status` and the
//! `type` slug while people read `detail`; `instance` is the request path, so a
//! problem pasted into a bug report says which call failed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::services::identities::{IdentityError, MAX_POLICY_LEN, NameKind, ROLE_SESSION_RANGE};
use crate::services::links::LinkError;

/// Prefix of every problem `type`; the slug after it names the problem.
pub(crate) const TYPE_BASE: &str = "https://linkgate.dev/problems/";

/// The media type RFC 9457 defines for problem details in JSON.
pub(crate) const CONTENT_TYPE: &str = "application/problem+json";

/// One admin API error. Built by the decision functions without knowing the
/// request path; [`Problem::at`] adds it before the answer is rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The HTTP status, repeated in the body as RFC 9457 asks.
    pub(crate) status: StatusCode,
    /// Stable machine-readable name: the last segment of `type`.
    pub(crate) slug: &'static str,
    /// Short summary, the same for every occurrence of the slug.
    pub(crate) title: &'static str,
    /// What went wrong with this request, specifically.
    pub(crate) detail: String,
    /// The request path (`None` until [`Problem::at`]).
    pub(crate) instance: Option<String>,
}

impl Problem {
    /// A problem with every field chosen by the caller.
    pub(crate) fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, slug, title, detail: detail.into(), instance: None }
    }

    /// The same problem, about the request at `path`.
    #[must_use]
    pub(crate) fn at(mut self, path: &str) -> Self {
        self.instance = Some(path.to_owned());
        self
    }

    /// 400: the body is not the JSON the route expects.
    pub(crate) fn invalid_json(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-json", "Malformed JSON body", detail)
    }

    /// 400: well-formed JSON with a value the route does not accept.
    pub(crate) fn validation(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation-error", "Invalid request", detail)
    }

    /// 400: a policy document that does not parse; `detail` is the parser's message.
    pub(crate) fn malformed_policy(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-policy", "Malformed policy document", detail)
    }

    /// 403: the request did not prove who sent it.
    pub(crate) fn unauthenticated(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, slug, "Authentication failed", detail)
    }

    /// 403: authenticated, but not allowed to do this.
    pub(crate) fn access_denied(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "access-denied", "Access denied", detail)
    }

    /// 404: no user of that name.
    pub(crate) fn no_such_user(name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "no-such-user", "No such user", format!("The user with name {name} cannot be found."))
    }

    /// 404: no long-term access key with that id.
    pub(crate) fn no_such_key(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "no-such-key", "No such access key", format!("The access key with id {id} cannot be found."))
    }

    /// 404: no role of that name.
    pub(crate) fn no_such_link(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "no-such-link", "No such link", format!("The link {id} cannot be found."))
    }

    /// 404: unknown role.
    pub(crate) fn no_such_role(name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "no-such-role", "No such role", format!("The role with name {name} cannot be found."))
    }

    /// 404: the user has no inline policy of that name.
    pub(crate) fn no_such_policy(user: &str, name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "no-such-policy", "No such policy", format!("The user {user} has no policy with name {name}."))
    }

    /// 404: no admin API route at this path.
    pub(crate) fn no_such_route(method: &str, path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("There is no admin API route {method} {path}."))
    }

    /// 405: the path exists, the method does not.
    pub(crate) fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("{path} does not support {method}; the Allow header lists what it does support."),
        )
    }

    /// 409: the name is taken.
    pub(crate) fn already_exists(kind: &str, name: &str) -> Self {
        Self::new(StatusCode::CONFLICT, "already-exists", "Already exists", format!("A {kind} with name {name} already exists."))
    }

    /// 409: a quota is full (two access keys per user).
    pub(crate) fn limit_exceeded(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "limit-exceeded", "Limit exceeded", detail)
    }

    /// 413: the body is larger than any admin request needs.
    pub(crate) fn too_large(max: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Request body too large",
            format!("Admin API request bodies are limited to {max} bytes."),
        )
    }

    /// 503: the store did not answer. Fail closed: nothing was granted or changed.
    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "Service unavailable",
            "The store is unavailable; nothing was changed. Please try again later.",
        )
    }

    /// 503: a server-wide budget is spent; come back shortly.
    pub(crate) fn busy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "Service busy",
            "The server is busy; nothing was changed. Please try again shortly.",
        )
    }

    /// 408: the client stopped sending its body.
    pub(crate) fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            "The request body stopped arriving before it was complete.",
        )
    }

    /// The JSON object RFC 9457 describes.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": format!("{TYPE_BASE}{}", self.slug),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let (Some(instance), Some(map)) = (&self.instance, body.as_object_mut()) {
            map.insert("instance".to_owned(), serde_json::Value::String(instance.clone()));
        }
        body
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store failed");
        Self::unavailable()
    }
}

impl From<IdentityError> for Problem {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::AccessDenied { caller_arn, action } => {
                Self::access_denied(format!("User: {caller_arn} is not authorized to perform: {action}"))
            }
            IdentityError::NoSuchUser(n) => Self::no_such_user(&n),
            IdentityError::NoSuchRole(n) => Self::no_such_role(&n),
            IdentityError::NoSuchKey(id) => Self::no_such_key(&id),
            IdentityError::NoSuchPolicy { user, name } => Self::no_such_policy(&user, &name),
            IdentityError::UserExists(n) => Self::already_exists("user", &n),
            IdentityError::RoleExists(n) => Self::already_exists("role", &n),
            IdentityError::KeyLimit(user) => Self::limit_exceeded(format!(
                "The user {user} already has 2 access keys, the most allowed (one in use, one for rotation); delete one first."
            )),
            IdentityError::InvalidName(kind, name) => {
                let what = match kind {
                    NameKind::User => "user",
                    NameKind::Role => "role",
                    NameKind::Policy => "policy",
                    NameKind::TrustedUser => "trusted user",
                };
                Self::validation(format!("Invalid {what} name {name:?}: use 1 to 64 characters from A-Z a-z 0-9 + = , . @ _ -"))
            }
            IdentityError::MalformedPolicy(m) => Self::malformed_policy(m),
            IdentityError::PolicyTooLarge(len) => {
                Self::validation(format!("The policy document has {len} characters; the maximum is {MAX_POLICY_LEN}."))
            }
            IdentityError::InvalidSessionDuration(max) => Self::validation(format!(
                "max_session_duration {max} is out of range: use {} to {} seconds.",
                ROLE_SESSION_RANGE.start(),
                ROLE_SESSION_RANGE.end()
            )),
            IdentityError::Unavailable(_) => Self::unavailable(),
        }
    }
}

impl From<LinkError> for Problem {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Invalid(m) => Self::validation(m),
            LinkError::UnknownUpstream(name) => Self::new(
                StatusCode::BAD_REQUEST,
                "unknown-upstream",
                "unknown upstream",
                format!("No upstream is configured with name {name:?}; links can only name an [[upstreams]] entry."),
            ),
            LinkError::AccessDenied(m) => Self::access_denied(m),
            LinkError::NoSuchLink(id) => Self::no_such_link(&id),
            LinkError::Busy | LinkError::Unavailable(_) => Self::unavailable(),
            LinkError::Internal(m) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", m),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut r = Response::new(axum::body::Body::from(self.to_json().to_string()));
        *r.status_mut() = self.status;
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.instance.is_none() {
            // For the router's middleware, which knows the path.
            r.extensions_mut().insert(self);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn renders_every_rfc9457_member() {
        let p = Problem::no_such_user("alice").at("/-/api/v1/users/alice");
        assert_eq!(
            p.to_json(),
            serde_json::json!({
                "type": "https://linkgate.dev/problems/no-such-user",
                "title": "No such user",
                "status": 404,
                "detail": "The user with name alice cannot be found.",
                "instance": "/-/api/v1/users/alice",
            })
        );
    }

    #[test]
    fn instance_is_omitted_until_known() {
        let v = Problem::validation("bad").to_json();
        assert!(v.get("instance").is_none());
        assert_eq!(v["status"], 400);
    }

    #[tokio::test]
    async fn response_has_status_and_media_type() {
        let r = Problem::unavailable().at("/-/api/v1/users").into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers().get(header::CONTENT_TYPE).unwrap(), CONTENT_TYPE);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["type"], "https://linkgate.dev/problems/store-unavailable");
        assert_eq!(v["instance"], "/-/api/v1/users");
    }

    #[test]
    fn store_errors_fail_closed() {
        let p: Problem = crate::store::StoreError::unavailable("read", std::io::Error::other("disk gone")).into();
        assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!p.detail.contains("disk gone"), "internal errors stay in the log");
    }
}
