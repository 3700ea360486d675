//! Broker-link redemption over HTTP: `/l/{token}` and `/l/{token}/{*rest}`.
//!
//! The handler reads what the link service needs (token, method, password from
//! `X-Linkgate-Password` or HTTP Basic, headers, body, context), calls
//! [`crate::services::links::LinkService::redeem`], and then audits and renders
//! the outcome in one place ([`respond`]): every refusal gets its row and its page
//! (HTML for browsers, plain text otherwise); every grant's body is metered so its
//! row records the bytes that really went out.

mod metered;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use self::metered::metered;
use self::pages::{page, refusal_page};
use super::AppState;
use crate::services::links::audit::Auditor;
use crate::services::links::redeem::{Grant, Redeem, Redemption, content_disposition};

/// The header a client sends a link's password in (`curl -H 'X-Linkgate-Password: …'`);
/// HTTP Basic auth (`curl -u :PASSWORD`) works too. Never forwarded upstream.
pub const PASSWORD_HEADER: &str = "x-linkgate-password";

/// `/l/{token}` and, for upstream links, `/l/{token}/{*rest}`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/l/{token}", any(redeem)).route("/l/{token}/{*rest}", any(redeem_rest))
}

/// `/l/{token}/{*rest}`: only upstream links take a suffix; the handler reads it
/// raw from the URI.
async fn redeem_rest(State(state): State<Arc<AppState>>, Path((token, _rest)): Path<(String, String)>, req: Request) -> Response {
    redeem(State(state), Path(token), req).await
}

async fn redeem(State(state): State<Arc<AppState>>, Path(token): Path<String>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let html = parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let password = offered_password(&parts.headers);
    parts.headers.remove(PASSWORD_HEADER);
    let suffix = parts.uri.path().strip_prefix("/l/").and_then(|p| p.strip_prefix(token.as_str())).unwrap_or("").to_owned();
    let ctx = state.pipeline.context(&parts, crate::ids::request_id());
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost").to_owned();
    let method = parts.method.clone();
    let request = Redeem {
        token,
        method: parts.method,
        suffix,
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers,
        body: super::body::byte_stream(body),
        password,
        ctx,
        host,
    };
    let response = respond(state.links.redeem(request).await, html);
    if state.config.log.access_log {
        // The token is a bearer secret: the access log names the route, never the token.
        tracing::info!(target: "access", method = %method, path = "/l/<token>", status = response.status().as_u16());
    }
    response
}

/// Audits and renders a redemption's outcome: the one place both happen.
fn respond(redemption: Redemption, html: bool) -> Response {
    let Redemption { auditor, outcome } = redemption;
    match outcome {
        Err(refusal) => {
            if let Some(a) = auditor {
                a.finish(&refusal.slot, refusal.status, &refusal.reason, 0);
            }
            refusal_page(&refusal, html)
        }
        Ok(grant) => match auditor {
            Some(a) => render_grant(grant, a),
            None => page(500, "Internal error", "A grant without an audit trail.", html),
        },
    }
}

fn render_grant(grant: Grant, auditor: Auditor) -> Response {
    match grant {
        Grant::Object { read, filename, slot, outcome } => {
            let mut r = super::s3::render::object_response(read);
            if let Some(f) = filename
                && let Ok(v) = HeaderValue::from_str(&content_disposition(&f))
            {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            if outcome == "granted" {
                // Audited when the body ends or the client goes away, with the bytes sent.
                return metered(r, auditor, slot, outcome);
            }
            auditor.finish(&slot, r.status().as_u16(), outcome, 0);
            r
        }
        Grant::Redirect { location, status, slot } => {
            auditor.finish(&slot, status, "redirected", 0);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            let mut r = (status, [(header::CACHE_CONTROL, "private, no-store")]).into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Grant::Uploaded { etag, bytes, slot } => {
            auditor.finish(&slot, 200, "uploaded", bytes);
            let mut r = page(200, "Uploaded", "Thank you: the file was received.", false);
            if let Ok(v) = HeaderValue::from_str(&etag) {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        Grant::Forwarded { response, head, slot } => {
            let (answer, incoming) = response.into_parts();
            let mut out = Response::new(axum::body::Body::new(incoming));
            *out.status_mut() = answer.status;
            *out.headers_mut() = crate::upstream::forward_response_headers(&answer.headers);
            if head {
                auditor.finish(&slot, answer.status.as_u16(), "head", 0);
                return out;
            }
            // Audited when the answer has been relayed (or abandoned), with the bytes sent.
            metered(out, auditor, slot, "forwarded")
        }
    }
}

/// The password a request offers: the [`PASSWORD_HEADER`], else the password half
/// of HTTP Basic credentials (the user name is ignored).
fn offered_password(headers: &header::HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(PASSWORD_HEADER) {
        return Some(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    let basic = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = basic.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    decoded.split_once(':').map(|(_, password)| password.to_owned())
}
