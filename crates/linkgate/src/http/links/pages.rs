//! The pages a link answers with: small HTML for browsers, plain text otherwise.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::services::links::redeem::Refusal;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A page: small HTML for browsers, plain text for everything else.
pub(super) fn page(status: u16, title: &str, message: &str, html: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    if html {
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
             <meta name=\"viewport\" content=\"width=device-width\"></head><body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\">\
             <h1>{t}</h1><p>{m}</p><p><small>linkgate</small></p></body></html>",
            t = esc(title),
            m = esc(message)
        );
        return (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    }
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{message}\n")).into_response()
}

/// 401 asking for the password: a form for browsers (download links), a sentence
/// naming the header for everything else.
fn password_page(said: &str, form: bool, html: bool) -> Response {
    if form && html {
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Password required</title>\
             <meta name=\"viewport\" content=\"width=device-width\"></head><body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\">\
             <h1>Password required</h1><p>{}</p><form method=\"post\"><label>Password \
             <input type=\"password\" name=\"password\" autocomplete=\"off\" required autofocus></label> \
             <button type=\"submit\">Open</button></form><p><small>linkgate</small></p></body></html>",
            esc(said)
        );
        return (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    }
    let mut r = page(401, "Password required", &format!("{said} Send it in the X-Linkgate-Password header (or as HTTP Basic auth)."), html);
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"linkgate link\", charset=\"UTF-8\""));
    r
}

/// The answer for a refusal, with its headers (`Retry-After`, `Allow`, …).
pub(super) fn refusal_page(r: &Refusal, html: bool) -> Response {
    let mut out = match r.password {
        Some(prompt) => password_page(&r.message, prompt.form, html),
        None => page(r.status, &r.title, &r.message, html),
    };
    let headers = out.headers_mut();
    if r.password.is_some() {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(secs) = r.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some(allow) = r.allow {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    for (name, value) in &r.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(*name, v);
        }
    }
    out
}
