//! The AWS query protocol (`POST /`, form body, `Action=…&Version=…`): STS and IAM.
//!
//! So `aws sts assume-role --endpoint-url …`, `aws iam create-user …` and the SDKs'
//! STS and IAM clients work unchanged. Requests are SigV4 header-signed with
//! service `sts` or `iam` through the shared pipeline; the body's SHA-256 is the
//! signed payload hash, so the body must be read before the signature can be
//! checked. Before a byte of it is read, the request's signature parameters and
//! access key are checked and its declared length (at most
//! `limits.max_api_body_bytes`) is reserved from the pre-authentication budget
//! (`limits.preauth_memory_bytes`); a spent budget answers 503 at once.

mod iam;
mod sts;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};
use sigv4::{PathMode, RequestParts, VerifyError};

use super::AppState;
use super::auth::{AuthError, Signed, text_headers};
use super::body::{BodyFailure, declared_length, read_to_bytes};
use crate::s3::xml::XmlWriter;
use crate::services::identities::{Caller, Denial};

/// A query-protocol error: `<ErrorResponse><Error><Type/><Code/><Message/></Error>…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl QueryError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message)
    }

    pub(crate) fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDenied", message)
    }

    pub(crate) fn unavailable() -> Self {
        Self::new(503, "ServiceUnavailable", "The service is unavailable. Please try again later.")
    }
}

impl From<VerifyError> for QueryError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::UnknownAccessKey(_) => {
                Self::new(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
            }
            VerifyError::SignatureMismatch { .. } => Self::new(403, "SignatureDoesNotMatch", e.message()),
            VerifyError::RequestTimeTooSkewed { .. } => Self::new(400, "RequestExpired", "Request has expired."),
            VerifyError::MalformedAuthorization | VerifyError::MissingDate => {
                Self::new(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
            }
            other => Self::new(other.http_status(), "IncompleteSignature", other.message()),
        }
    }
}

impl From<AuthError> for QueryError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Verify(v) => v.into(),
            AuthError::Session(Denial::ExpiredToken) => {
                Self::new(400, "ExpiredToken", "The security token included in the request is expired")
            }
            AuthError::Session(Denial::InvalidToken) => {
                Self::new(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
            }
            AuthError::Session(Denial::AccessDenied) => Self::access_denied("The session has been revoked."),
            AuthError::Unavailable => Self::unavailable(),
        }
    }
}

/// Which API a request is for, from its credential scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    Sts,
    Iam,
}

impl Api {
    fn namespace(self) -> &'static str {
        match self {
            Self::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
            Self::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
        }
    }

    fn service(self) -> &'static str {
        match self {
            Self::Sts => "sts",
            Self::Iam => "iam",
        }
    }
}

/// One authenticated query-API call.
pub(crate) struct Call<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) form: Vec<(String, String)>,
    pub(crate) caller: Caller,
}

impl Call<'_> {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn required(&self, name: &str) -> Result<&str, QueryError> {
        self.param(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            QueryError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    pub(crate) fn request_id(&self) -> &str {
        &self.caller.ctx.request_id
    }
}

pub(crate) fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

/// True for requests the query API should answer: `POST /` with a form body.
pub(crate) fn is_query_request(parts: &Parts) -> bool {
    parts.method == axum::http::Method::POST
        && parts.uri.path() == "/"
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
}

/// Handles a query-API request end to end.
pub(crate) async fn handle(state: &AppState, parts: Parts, body: Body, request_id: String) -> Response {
    let api = scope_service(&parts).unwrap_or(Api::Sts);
    let result = answer(state, &parts, body, request_id.clone(), api).await;
    let mut r = match result {
        Ok(xml) => xml_response(StatusCode::OK, xml),
        Err(e) => {
            let mut w = XmlWriter::document();
            w.open("ErrorResponse");
            w.open("Error");
            w.element("Type", if e.status >= 500 { "Receiver" } else { "Sender" });
            w.element("Code", e.code);
            w.element("Message", &e.message);
            w.close("Error");
            w.element("RequestId", &request_id);
            w.close("ErrorResponse");
            let xml = w.finish().replacen("<ErrorResponse>", &format!("<ErrorResponse xmlns=\"{}\">", api.namespace()), 1);
            let mut r = xml_response(StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), xml);
            if e.status == 503 {
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            r
        }
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

fn xml_response(status: StatusCode, xml: String) -> Response {
    let mut r = Response::new(Body::from(xml));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

fn scope_service(parts: &Parts) -> Option<Api> {
    let auth = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    match cred.split('/').nth(3)? {
        "iam" => Some(Api::Iam),
        "sts" => Some(Api::Sts),
        _ => None,
    }
}

async fn answer(state: &AppState, parts: &Parts, body: Body, request_id: String, api: Api) -> Result<String, QueryError> {
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(QueryError::new(403, "MissingAuthenticationToken", "Request is missing Authentication Token"));
    }
    let ctx = state.pipeline.context(parts, request_id);
    let headers = text_headers(parts);
    let signed = |payload_hash| Signed {
        parts: RequestParts { method: "POST", path: parts.uri.path(), query: parts.uri.query().unwrap_or(""), headers: &headers },
        service: api.service(),
        path_mode: PathMode::EncodeAgain { normalize: true },
        payload_hash,
    };
    state.pipeline.precheck_v4(&signed(None), &ctx).await?;
    let max = state.config.limits.max_api_body_bytes;
    let _held = state.preauth.reserve(declared_length(&parts.headers).unwrap_or(max).min(max)).ok_or_else(QueryError::unavailable)?;
    let body = read_to_bytes(body, max).await.map_err(|f| match f {
        BodyFailure::TooLarge => QueryError::new(413, "RequestEntityTooLarge", "Request body is too large."),
        BodyFailure::TimedOut => QueryError::new(400, "RequestTimeout", "The request body stopped arriving before it was complete."),
        BodyFailure::Broken => QueryError::new(400, "IncompleteBody", "The request body terminated unexpectedly"),
    })?;
    let hash = sigv4::hex::encode(&Sha256::digest(&body));
    let (caller, _) = state.pipeline.verify_v4(&signed(Some(&hash)), ctx).await?;
    let form = form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let call = Call { state, form, caller };
    let action = call.required("Action")?.to_owned();
    match api {
        Api::Sts => sts::dispatch(&call, &action).await,
        Api::Iam => iam::dispatch(&call, &action).await,
    }
}

/// Wraps a result element in `<{Action}Response><{Action}Result>…` with metadata.
pub(crate) fn response(api: Api, action: &str, request_id: &str, result: impl FnOnce(&mut XmlWriter)) -> String {
    let mut w = XmlWriter::document();
    w.open(&format!("{action}Response xmlns=\"{}\"", api.namespace()));
    w.open(&format!("{action}Result"));
    result(&mut w);
    w.close(&format!("{action}Result"));
    w.open("ResponseMetadata");
    w.element("RequestId", request_id);
    w.close("ResponseMetadata");
    w.close(&format!("{action}Response"));
    w.finish()
}

/// A response with no result element (IAM's for most changes).
pub(crate) fn empty_response(api: Api, action: &str, request_id: &str) -> String {
    response(api, action, request_id, |_| {}).replace(&format!("<{action}Result></{action}Result>"), "")
}

/// IAM's timestamps: `2026-11-22T15:00:00Z`.
pub(crate) fn iso(ms: i64) -> String {
    sigv4::AmzDate::from_unix(ms.div_euclid(1000)).rfc3339()
}
