//! What the users and roles routes share: names, times, JSON bodies, policy
//! documents, and the shape of a successful answer.
//!
//! The rules are IAM's (the IAM query API manages the same identities), so a name
//! or document accepted by one API is accepted by the other.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::problem::Problem;
use crate::store::identity::NamedPolicy;

/// The policy name used when a request names none.
pub(crate) const DEFAULT_POLICY_NAME: &str = "default";

/// A successful answer: a JSON body with its status, or nothing.
#[derive(Debug, PartialEq)]
pub(crate) enum Reply {
    /// 200 with a body.
    Ok(Value),
    /// 201 with the created thing.
    Created(Value),
    /// 204.
    NoContent,
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Self::Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
            Self::Created(v) => (StatusCode::CREATED, axum::Json(v)).into_response(),
            Self::NoContent => StatusCode::NO_CONTENT.into_response(),
        }
    }
}

/// Parses a JSON request body into `T`; an empty body is a missing object.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::invalid_json("The request body must be a JSON object."));
    }
    serde_json::from_slice(body).map_err(|e| Problem::invalid_json(format!("The request body is not valid: {e}")))
}

/// `PUT …/policy`: `{"name": optional, "document": object or string}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyBody {
    /// Policy name; [`DEFAULT_POLICY_NAME`] when absent.
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The IAM policy, as a JSON object or as its text.
    pub(crate) document: Value,
}

/// A validated inline policy, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewPolicy {
    /// Its name.
    pub(crate) name: String,
    /// Its text, as stored and later parsed by the authority.
    pub(crate) text: String,
}

impl PolicyBody {
    /// The policy's name (default `default`) and text; the identity service
    /// validates both.
    pub(crate) fn into_policy(self) -> Result<NewPolicy, Problem> {
        let name = self.name.unwrap_or_else(|| DEFAULT_POLICY_NAME.to_owned());
        Ok(NewPolicy { name, text: policy_text(&self.document)? })
    }
}

/// The text of a policy given as a JSON object or a string (validated with the
/// parser requests are judged with, so a document stored is a document enforced).
pub(crate) fn policy_text(document: &Value) -> Result<String, Problem> {
    let text = match document {
        Value::String(s) => s.clone(),
        Value::Object(_) => document.to_string(),
        _ => return Err(Problem::validation("\"document\" must be a policy as a JSON object or a string.")),
    };
    crate::services::identities::validate_policy(&text)?;
    Ok(text)
}

/// A stored document as JSON (it was validated when stored; a string otherwise).
pub(crate) fn document_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// `{name: document}` for a user's or role's inline policies.
pub(crate) fn policies_json(policies: &[NamedPolicy]) -> Value {
    Value::Object(policies.iter().map(|(name, doc)| (name.clone(), document_json(doc))).collect::<Map<_, _>>())
}

/// RFC 3339 UTC: `2026-11-22T15:00:00Z`, with milliseconds only when there are some
/// (revocation instants are exact to the millisecond).
pub(crate) fn rfc3339(ms: i64) -> String {
    let base = sigv4::AmzDate::from_unix(ms.div_euclid(1000)).rfc3339();
    match ms.rem_euclid(1000) {
        0 => base,
        frac => format!("{}.{frac:03}Z", base.trim_end_matches('Z')),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn bodies_must_be_json_objects() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct B {
            name: String,
        }
        assert_eq!(parse_body::<B>(b"").unwrap_err().slug, "invalid-json");
        assert_eq!(parse_body::<B>(b"{").unwrap_err().slug, "invalid-json");
        assert_eq!(parse_body::<B>(br#"{"name": 1}"#).unwrap_err().status.as_u16(), 400);
        assert_eq!(parse_body::<B>(br#"{"name": "a"}"#).unwrap().name, "a");
    }

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

    #[test]
    fn policies_as_object_or_string() {
        let as_obj: PolicyBody = serde_json::from_str(&format!(r#"{{"document": {DOC}}}"#)).unwrap();
        let p = as_obj.into_policy().unwrap();
        assert_eq!(p.name, "default");
        assert_eq!(serde_json::from_str::<Value>(&p.text).unwrap(), serde_json::from_str::<Value>(DOC).unwrap());
        let as_str: PolicyBody = serde_json::from_value(serde_json::json!({"name": "rw", "document": DOC})).unwrap();
        assert_eq!(as_str.into_policy().unwrap(), NewPolicy { name: "rw".into(), text: DOC.into() });
    }

    #[test]
    fn bad_policies_are_400_with_the_parser_message() {
        let p = policy_text(&serde_json::json!({"Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]})).unwrap_err();
        assert_eq!((p.status.as_u16(), p.slug), (400, "malformed-policy"));
        assert!(!p.detail.is_empty());
        assert_eq!(policy_text(&serde_json::json!(42)).unwrap_err().slug, "validation-error");
        let big = format!(r#"{{"Id": "{}", "Statement": []}}"#, "x".repeat(crate::services::identities::MAX_POLICY_LEN));
        assert!(policy_text(&Value::String(big)).unwrap_err().detail.contains("maximum"));
        assert!(serde_json::from_value::<PolicyBody>(serde_json::json!({"document": DOC, "extra": 1})).is_err());
    }

    #[test]
    fn stored_policies_render_as_objects() {
        let v = policies_json(&[("rw".into(), DOC.into())]);
        assert_eq!(v["rw"]["Statement"][0]["Action"], "s3:*");
        assert_eq!(policies_json(&[]), serde_json::json!({}));
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(1_700_000_000_042), "2023-11-14T22:13:20.042Z");
    }
}
