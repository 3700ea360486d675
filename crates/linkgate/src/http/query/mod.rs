//! The AWS query protocol (`POST /`, form body, `Action=…&Version=…`): STS and IAM.
//!
//! So `aws sts assume-role --endpoint-url …`, `aws iam create-user …` and the SDKs'
//! STS and IAM clients work unchanged. Requests are SigV4 header-signed with service
//! `sts` or `iam`; the body's SHA-256 is the signed payload hash.

mod iam;
mod sts;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use sigv4::{AmzDate, PathMode, Policy, RequestParts, VerifyError};

use super::AppState;
use crate::auth::authority::{Authority, Credential, Denial, Principal};
use crate::s3::xml::XmlWriter;

/// Largest form body accepted (IAM policy documents are the biggest field).
const MAX_BODY: usize = 256 * 1024;

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
}

/// One authenticated query-API call.
pub(crate) struct Call<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) form: Vec<(String, String)>,
    pub(crate) credential: std::sync::Arc<Credential>,
    pub(crate) now: AmzDate,
    pub(crate) request_id: &'a str,
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

    /// This installation's 12-digit account id (stable: derived from the root key).
    pub(crate) fn account_id(&self) -> String {
        account_id(&self.state.root.access_key_id)
    }
}

/// A stable 12-digit account id derived from the root access key id.
pub fn account_id(root_access_key: &str) -> String {
    let digest = Sha256::digest(root_access_key.as_bytes());
    let n = u64::from_be_bytes([digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7]]);
    format!("{:012}", n % 1_000_000_000_000)
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
}

/// Decodes an `application/x-www-form-urlencoded` body (`+` is a space here).
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|s| !s.is_empty())
        .map(|seg| {
            let (k, v) = seg.split_once('=').unwrap_or((seg, ""));
            let d = |s: &str| String::from_utf8_lossy(&sigv4::encode::decode(&s.replace('+', " "))).into_owned();
            (d(k), d(v))
        })
        .collect()
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
pub(crate) async fn handle(state: &AppState, parts: &Parts, body: Body, request_id: &str) -> Response {
    let api = scope_service(parts).unwrap_or(Api::Sts);
    match handle_inner(state, parts, body, request_id, api).await {
        Ok(xml) => xml_response(StatusCode::OK, xml),
        Err(e) => {
            let mut w = XmlWriter::document();
            w.open("ErrorResponse");
            w.open("Error");
            w.element("Type", if e.status >= 500 { "Receiver" } else { "Sender" });
            w.element("Code", e.code);
            w.element("Message", &e.message);
            w.close("Error");
            w.element("RequestId", request_id);
            w.close("ErrorResponse");
            let xml = w.finish().replacen("<ErrorResponse>", &format!("<ErrorResponse xmlns=\"{}\">", api.namespace()), 1);
            xml_response(StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), xml)
        }
    }
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

async fn handle_inner(state: &AppState, parts: &Parts, body: Body, request_id: &str, api: Api) -> Result<String, QueryError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| QueryError::new(400, "IncompleteBody", "The request body terminated unexpectedly"))?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(QueryError::new(413, "RequestEntityTooLarge", "Request body is too large."));
        }
        buf.extend_from_slice(&chunk);
    }
    let now = AmzDate::now();
    let payload = sigv4::hex::encode(&Sha256::digest(&buf));
    let headers: Vec<(&str, &str)> = parts.headers.iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v))).collect();
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(QueryError::new(403, "MissingAuthenticationToken", "Request is missing Authentication Token"));
    }
    let service = match api {
        Api::Sts => "sts",
        Api::Iam => "iam",
    };
    let policy = Policy {
        region: &state.config.region,
        service,
        path_mode: PathMode::EncodeAgain { normalize: true },
        now,
        future_tolerance_secs: state.config.limits.presign_future_tolerance_secs,
        max_skew_secs: state.config.limits.max_clock_skew_secs,
        payload_hash: Some(&payload),
    };
    let req = RequestParts { method: "POST", path: parts.uri.path(), query: parts.uri.query().unwrap_or(""), headers: &headers };
    let pending = sigv4::check_header(&req, &policy)?;
    let credential = match state.authority.resolve(pending.access_key()) {
        Ok(Some(c)) => c,
        Ok(None) => return Err(VerifyError::UnknownAccessKey(pending.access_key().to_owned()).into()),
        Err(e) => {
            tracing::error!(error = %e, "identity store failed");
            return Err(QueryError::unavailable());
        }
    };
    let verified = pending.verify(&credential.secret, &state.signing_keys)?;
    Authority::check_session(&credential, verified.session_token.as_deref(), crate::http::s3::now_ms()).map_err(|d| match d {
        Denial::ExpiredToken => QueryError::new(400, "ExpiredToken", "The security token included in the request is expired"),
        Denial::InvalidToken => QueryError::new(403, "InvalidClientTokenId", "The security token included in the request is invalid."),
        Denial::AccessDenied => QueryError::access_denied("The session has been revoked."),
    })?;
    let call = Call { state, form: parse_form(&buf), credential, now, request_id };
    let action = call.required("Action")?.to_owned();
    match api {
        Api::Sts => sts::dispatch(&call, &action),
        Api::Iam => iam::dispatch(&call, &action),
    }
}

/// `arn:aws:iam::ACCOUNT:user/NAME`, `…:role/NAME`, `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, `…:root`.
pub(crate) fn principal_arn(account: &str, p: &Principal) -> String {
    match p {
        Principal::Root => format!("arn:aws:iam::{account}:root"),
        Principal::User(u) => format!("arn:aws:iam::{account}:user/{u}"),
        Principal::Role { role, session_name, .. } => format!("arn:aws:sts::{account}:assumed-role/{role}/{session_name}"),
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

/// IAM's timestamps: `2026-11-22T15:00:00Z`.
pub(crate) fn iso(ms: i64) -> String {
    AmzDate::from_unix(ms.div_euclid(1000)).rfc3339()
}
