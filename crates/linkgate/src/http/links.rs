//! Broker-link redemption: `GET | HEAD | PUT /l/{token}` for object links; any
//! method the link names at `/l/{token}[/{*rest}]` for upstream links (forwarded by
//! [`super::upstream`]).
//!
//! The token is looked up by its SHA-256. Everything that can be judged without a
//! use (revoked, expired, used up, not yet valid, client IP, the issuer's current
//! permission) is judged first; then GET and PUT take one use atomically in the
//! store — before any byte is sent — so exactly `max_uses` requests succeed however
//! many arrive at once. HEAD never consumes. Every attempt is audited.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::AppState;
use super::link_audit::{AbandonGuard, Auditor};
use super::s3::object_support::{commit_plain, object_response};
use crate::auth::policy::{S3_GET_OBJECT, S3_PUT_OBJECT, s3_object_arn};
use crate::auth::secrets::token_hash;
use crate::links::{self, LinkDenial};
use crate::store::Lookup;
use crate::store::links::{AuditRecord, LinkRecord, LinkTarget};

/// `/l/{token}` and, for upstream links, `/l/{token}/{*rest}`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/l/{token}", any(redeem)).route("/l/{token}/{*rest}", any(redeem_rest))
}

/// A refusal page: small HTML for browsers, plain text for everything else.
pub(super) fn page(status: u16, title: &str, message: &str, html: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    if html {
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
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

/// 503: the store (or a worker) could not answer; fail closed.
fn unavailable(html: bool) -> Response {
    page(503, "Unavailable", "The service cannot check this link right now. Try again shortly.", html)
}

pub(super) fn denied(d: &LinkDenial, html: bool) -> Response {
    page(d.status, d.reason, d.message, html)
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
pub(crate) fn content_disposition(filename: &str) -> String {
    let ascii: String = filename.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", sigv4::encode::encode(filename, false))
}

/// `/l/{token}/{*rest}`: only upstream links take a suffix; the handler reads it
/// raw from the URI.
async fn redeem_rest(State(state): State<Arc<AppState>>, Path((token, _rest)): Path<(String, String)>, req: Request) -> Response {
    redeem(State(state), Path(token), req).await
}

async fn redeem(State(state): State<Arc<AppState>>, Path(token): Path<String>, req: Request) -> Response {
    let method = req.method().clone();
    let response = redeem_link(&state, &token, req).await;
    if state.config.log.access_log {
        // The token is a bearer secret: the access log names the route, never the token.
        tracing::info!(target: "access", method = %method, path = "/l/<token>", status = response.status().as_u16());
    }
    response
}

async fn redeem_link(state: &Arc<AppState>, token: &str, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let has_suffix = parts.uri.path().len() > "/l/".len() + token.len();
    let now = super::s3::now_ms();
    let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let html = parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if let Err(wait) = state.link_guards.rate.check(ip) {
        // Not audited: a flood must not turn into a flood of audit rows.
        tracing::debug!(client = %ip, "link redemption rate-limited");
        return too_many(wait.as_secs() + 1, "Too many requests from your network address. Try again in a moment.", html);
    }
    let user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut method = parts.method.clone();
    let link = match state.links.link_by_token_hash(&token_hash(token)) {
        Ok(Some(l)) => l,
        Ok(None) => return page(404, "Unknown link", "This link does not exist.", html),
        Err(e) => {
            tracing::error!(error = %e, "link store failed");
            return unavailable(html);
        }
    };
    let auditor = Auditor::new(
        state.links.clone(),
        AuditRecord {
            link_id: link.id.clone(),
            at_ms: now,
            client_ip: ip.to_string(),
            user_agent,
            method: parts.method.as_str().to_owned(),
            status: 0,
            outcome: String::new(),
            bytes: 0,
        },
    );
    let mut body = body;
    let mut offered = offered_password(&parts.headers);
    parts.headers.remove(PASSWORD_HEADER);
    if is_password_form(&parts, &link) {
        // The browser page's form posts the password to the link itself; what
        // follows is the GET it stands for.
        offered = match read_form_password(body).await {
            Ok(p) => p,
            Err(r) => {
                auditor.record(r.status().as_u16(), "bad-form", 0);
                return r;
            }
        };
        body = Body::empty();
        method = Method::GET;
    }
    if let Some((outcome, refused)) = shape_refusal(&link, &method, has_suffix, html) {
        auditor.record(refused.status().as_u16(), outcome, 0);
        return refused;
    }
    if let Err(d) = links::judge(&link, now, ip) {
        auditor.record(d.status, d.reason, 0);
        return denied(&d, html);
    }
    if let Some(refused) = password_gate(state, &link, offered, ip, now, html, &auditor).await {
        return refused;
    }
    if let LinkTarget::Upstream { name, path } = &link.target {
        return super::upstream::redeem(state, &link, name, path, token, parts, body, now, ip, html, &auditor).await;
    }
    let wants_put = method == Method::PUT;
    let LinkTarget::Object { bucket, key } = &link.target else {
        return page(500, "Internal error", "Unexpected link target.", html);
    };
    let action = if wants_put { S3_PUT_OBJECT } else { S3_GET_OBJECT };
    if let Some(refused) = issuer_refusal(state, &link, action, &s3_object_arn(bucket, key), ip, html, &auditor) {
        return refused;
    }
    if wants_put {
        return upload(state, &link, bucket, key, &parts.headers, body, now, html, &auditor).await;
    }
    let meta = match state.store.object(bucket, key) {
        Ok(Lookup::Found(m)) => m,
        Ok(_) => {
            auditor.record(404, "no-such-object", 0);
            return page(404, "Not found", "The shared file no longer exists.", html);
        }
        Err(e) => {
            tracing::error!(error = %e, "metadata store failed");
            auditor.record(503, "unavailable", 0);
            return page(503, "Unavailable", "Try again shortly.", html);
        }
    };
    let head = method == Method::HEAD;
    if !head && let Some(d) = consume(state, &link, now, &auditor).await {
        auditor.record(d.status, d.reason, 0);
        return denied(&d, html);
    }
    if !head && link.delivery == "redirect" {
        let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
        let location = redirect_url(state, host, bucket, key, link.filename.as_deref());
        // After the password form's POST, 303 makes the browser follow with a GET.
        let status = if parts.method == Method::POST { StatusCode::SEE_OTHER } else { StatusCode::FOUND };
        auditor.record(status.as_u16(), "redirected", 0);
        let mut r = (status, [(header::CACHE_CONTROL, "private, no-store")]).into_response();
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        return r;
    }
    let range = parts.headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    match object_response(&state.objects, &meta, &parts.headers, range, head) {
        Ok(mut r) => {
            if let Some(f) = &link.filename
                && let Ok(v) = HeaderValue::from_str(&content_disposition(f))
            {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            if head {
                auditor.record(r.status().as_u16(), "head", 0);
                return r;
            }
            // Audited when the body ends or the client goes away, with the bytes sent.
            auditor.metered(r, "granted")
        }
        Err(e) => {
            auditor.record(e.status, e.code, 0);
            page(e.status, e.code, &e.message, html)
        }
    }
}

/// Whether the request's shape fits the link — its method, and a path suffix only
/// for upstream links — as `(audit outcome, answer)` when not. Judged before the
/// link's state: no state makes a wrong method right.
fn shape_refusal(link: &LinkRecord, method: &Method, has_suffix: bool, html: bool) -> Option<(&'static str, Response)> {
    match &link.target {
        LinkTarget::Upstream { .. } => {
            let allowed = method.as_str() == link.method || (method == Method::HEAD && link.method == "GET");
            if allowed {
                return None;
            }
            let mut r = page(405, "Method not allowed", &format!("This link answers {} only.", link.method), html);
            if let Ok(v) = HeaderValue::from_str(&link.method) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            Some(("wrong-method", r))
        }
        LinkTarget::Object { .. } if has_suffix => Some(("no-such-path", page(404, "Unknown link", "This link does not exist.", html))),
        LinkTarget::Object { .. } => {
            let put_link = link.method == "PUT";
            let fits = if put_link { method == Method::PUT } else { method == Method::GET || method == Method::HEAD };
            if fits {
                return None;
            }
            let message = if *method == Method::PUT {
                "This link is for downloading."
            } else if put_link && (method == Method::GET || method == Method::HEAD) {
                "This link is for uploading (PUT)."
            } else {
                "Links answer GET, HEAD and PUT only."
            };
            let mut r = page(405, "Method not allowed", message, html);
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(if put_link { "PUT" } else { "GET, HEAD" }));
            Some(("wrong-method", r))
        }
    }
}

/// The header a client sends a link's password in (`curl -H 'X-Linkgate-Password: …'`);
/// HTTP Basic auth (`curl -u :PASSWORD`) works too. Never forwarded upstream.
pub const PASSWORD_HEADER: &str = "x-linkgate-password";

/// Largest password form body read, bytes.
const MAX_FORM_BODY: usize = 4096;

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

/// Whether this request is the password page's form: a urlencoded POST to a
/// download link.
fn is_password_form(parts: &axum::http::request::Parts, link: &LinkRecord) -> bool {
    parts.method == Method::POST
        && link.method == "GET"
        && matches!(link.target, LinkTarget::Object { .. })
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// The `password` field of a form body of at most [`MAX_FORM_BODY`] bytes.
async fn read_form_password(body: Body) -> Result<Option<String>, Response> {
    use http_body_util::BodyExt as _;
    let bytes = match http_body_util::Limited::new(body, MAX_FORM_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(page(413, "Too large", "The form is larger than a password needs.", true)),
    };
    Ok(form_urlencoded::parse(&bytes).find(|(name, _)| name == "password").map(|(_, v)| v.into_owned()))
}

/// 429 with `Retry-After`.
fn too_many(retry_after_secs: u64, message: &str, html: bool) -> Response {
    let mut r = page(429, "Too many requests", message, html);
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    r
}

/// The password gate for a link that has one: `None` lets the request through.
/// A banned client is refused unseen (429); a missing or wrong password gets 401
/// and takes no use; a wrong one counts toward the ban.
///
/// Verification (argon2id, tens of ms of CPU and 19 MiB) runs on a blocking thread
/// holding one of [`crate::links::guard::LinkGuards::hashing`]'s permits (one per
/// core) until it is done, even if the client has gone. The ban is checked again
/// once a permit is held and the outcome recorded before it is released, so
/// concurrent guesses from one client cannot outrun the ban by more than the
/// permits in flight.
async fn password_gate(
    state: &Arc<AppState>,
    link: &LinkRecord,
    offered: Option<String>,
    ip: IpAddr,
    now: i64,
    html: bool,
    auditor: &Auditor,
) -> Option<Response> {
    let phc = link.password_hash.clone()?;
    let banned = |secs: u64| {
        auditor.record(429, "password-ban", 0);
        Some(too_many(secs, "Too many wrong passwords were tried for this link from your network address. Try again later.", html))
    };
    if let Some(secs) = state.link_guards.passwords.banned(&link.id, ip, now) {
        return banned(secs);
    }
    let Some(offered) = offered else {
        auditor.record(401, "password-required", 0);
        return Some(password_page(link, None, html));
    };
    let Ok(permit) = state.link_guards.hashing.clone().acquire_owned().await else {
        auditor.record(503, "unavailable", 0);
        return Some(unavailable(html));
    };
    let (shared, id) = (state.clone(), link.id.clone());
    let checked = tokio::task::spawn_blocking(move || {
        let guard = &shared.link_guards.passwords;
        let now = super::s3::now_ms();
        let verdict = if let Some(secs) = guard.banned(&id, ip, now) {
            Verdict::Banned(secs)
        } else if links::password::verify(&phc, &offered) {
            guard.succeeded(&id, ip);
            Verdict::Matched
        } else {
            Verdict::Wrong { attempts_left: guard.failed(&id, ip, now) }
        };
        drop(permit);
        verdict
    })
    .await;
    match checked {
        Ok(Verdict::Matched) => None,
        Ok(Verdict::Banned(secs)) => banned(secs),
        Ok(Verdict::Wrong { attempts_left }) => {
            auditor.record(401, "wrong-password", 0);
            Some(password_page(link, Some(attempts_left), html))
        }
        Err(_) => {
            auditor.record(503, "unavailable", 0);
            Some(unavailable(html))
        }
    }
}

/// What checking an offered password concluded.
enum Verdict {
    /// The password is right.
    Matched,
    /// The client is banned from the link for this many more seconds.
    Banned(u64),
    /// Wrong; this many more wrong ones before the ban.
    Wrong { attempts_left: u32 },
}

/// 401 asking for the password: a form for browsers (download links), a sentence
/// naming the header for everything else. `wrong` is `Some(attempts left)` after a
/// wrong password.
fn password_page(link: &LinkRecord, wrong: Option<u32>, html: bool) -> Response {
    let said = match wrong {
        None => "This link is protected by a password.".to_owned(),
        Some(0) => "Wrong password. No attempts are left from your network address for now.".to_owned(),
        Some(left) => format!("Wrong password ({left} attempts left)."),
    };
    let form = html && link.method == "GET" && matches!(link.target, LinkTarget::Object { .. });
    let mut r = if form {
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Password required</title>\
             <meta name=\"viewport\" content=\"width=device-width\"></head><body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\">\
             <h1>Password required</h1><p>{said}</p><form method=\"post\"><label>Password \
             <input type=\"password\" name=\"password\" autocomplete=\"off\" required autofocus></label> \
             <button type=\"submit\">Open</button></form><p><small>linkgate</small></p></body></html>"
        );
        (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    } else {
        let mut r =
            page(401, "Password required", &format!("{said} Send it in the X-Linkgate-Password header (or as HTTP Basic auth)."), html);
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"linkgate link\", charset=\"UTF-8\""));
        r
    };
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A presigned URL for the object on this server, living `links.redirect_ttl`
/// seconds: what a `redirect` link hands out after taking its use. Short enough
/// that the URL cannot be passed around for long.
fn redirect_url(state: &AppState, host: &str, bucket: &str, key: &str, filename: Option<&str>) -> String {
    let base = state.config.public_url.clone().unwrap_or_else(|| format!("http://{host}"));
    let base = base.trim_end_matches('/');
    let parts = sigv4::inspect::split_url(base);
    let host_header = parts.map_or_else(|| host.to_owned(), |p| p.host_header());
    let prefix = parts.map_or("", |p| if p.path == "/" { "" } else { p.path.trim_end_matches('/') }).to_owned();
    let path = format!("{prefix}/{}/{}", sigv4::encode::encode(bucket, false), sigv4::encode::encode(key, true));
    let query = filename
        .map(|f| format!("response-content-disposition={}", sigv4::encode::encode(&content_disposition(f), false)))
        .unwrap_or_default();
    let headers = [("host", host_header.as_str())];
    let req = sigv4::RequestParts { method: "GET", path: &path, query: &query, headers: &headers };
    let params = sigv4::SigningParams {
        credentials: sigv4::Credentials {
            access_key_id: &state.root.access_key_id,
            secret_access_key: &state.root.secret_access_key,
            session_token: None,
        },
        region: &state.config.region,
        service: "s3",
        time: sigv4::AmzDate::now(),
        path_mode: sigv4::PathMode::AsSent,
        payload_hash: sigv4::UNSIGNED_PAYLOAD,
    };
    let presigned = sigv4::presign(&req, &params, state.config.links.redirect_ttl.clamp(1, sigv4::MAX_EXPIRES), &state.signing_keys);
    let origin = base.strip_suffix(&prefix).unwrap_or(base);
    format!("{origin}{path}?{}", presigned.query)
}

/// Whether the link's issuer still holds `action` on `resource` (links act with
/// their creator's identity, judged at each use); `Some(answer)` when not.
#[allow(clippy::too_many_arguments)]
pub(super) fn issuer_refusal(
    state: &AppState,
    link: &LinkRecord,
    action: &str,
    resource: &str,
    ip: IpAddr,
    html: bool,
    auditor: &Auditor,
) -> Option<Response> {
    match state.authority.issuer_allows(&link.issuer, action, resource, ip) {
        Ok(true) => None,
        Ok(false) => {
            auditor.record(403, "issuer-denied", 0);
            Some(page(403, "Access denied", "The person who shared this link can no longer grant it.", html))
        }
        Err(e) => {
            tracing::error!(error = %e, "identity store failed");
            auditor.record(503, "unavailable", 0);
            Some(unavailable(html))
        }
    }
}

/// How old this request's read of the link may be when a use of a link without
/// `max_uses` is counted; older (a slow upload, a queue for the password check),
/// the link is read again so a revocation or expiry meanwhile is not missed.
const FRESH_READ_MS: i64 = 1000;

/// Takes one use; `Some(denial)` when none was left (or the link died meanwhile).
/// `read_ms` is when this request read the link.
///
/// With `max_uses`, the store takes the use atomically (`UPDATE … WHERE` still
/// live and not used up, judged at this moment); concurrent redemptions wait,
/// without holding a thread, on the same group commit. If the client leaves while
/// that commit runs, the use is still audited (`abandoned`).
///
/// A link without `max_uses` has nothing to run out of: it was judged from this
/// request's own read (read again if that is older than [`FRESH_READ_MS`]), so the
/// use is only counted (buffered, see
/// [`crate::store::links::LinkStore::note_use`]) and costs no commit.
pub(super) async fn consume(state: &AppState, link: &LinkRecord, read_ms: i64, auditor: &Auditor) -> Option<LinkDenial> {
    const UNAVAILABLE: LinkDenial =
        LinkDenial { status: 503, reason: "unavailable", message: "The service cannot check this link right now." };
    let now = super::s3::now_ms();
    if link.max_uses.is_none() {
        if now - read_ms > FRESH_READ_MS {
            match state.links.link_by_token_hash(&link.token_hash) {
                Ok(Some(fresh)) => {
                    if let Err(d) = links::judge_state(&fresh, now) {
                        return Some(d);
                    }
                }
                Ok(None) => return links::denial_for(crate::store::links::Consume::Missing),
                Err(e) => {
                    tracing::error!(error = %e, "link store failed");
                    return Some(UNAVAILABLE);
                }
            };
        }
        return match state.links.note_use(&link.id, now) {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(error = %e, "link store failed");
                Some(UNAVAILABLE)
            }
        };
    }
    let abandoned = AbandonGuard::new(auditor);
    let taken = state
        .links
        .consume_later(&link.id, now)
        .await
        .unwrap_or_else(|_| Err(crate::store::StoreError("the store's committer stopped".into())));
    abandoned.disarm();
    match taken {
        Ok(c) => links::denial_for(c),
        Err(e) => {
            tracing::error!(error = %e, "link store failed");
            Some(UNAVAILABLE)
        }
    }
}

/// A one-time (or N-time) upload link: the use is taken before the body is read.
#[allow(clippy::too_many_arguments)]
async fn upload(
    state: &AppState,
    link: &LinkRecord,
    bucket: &str,
    key: &str,
    headers: &axum::http::HeaderMap,
    body: Body,
    now: i64,
    html: bool,
    auditor: &Auditor,
) -> Response {
    if let Some(d) = consume(state, link, now, auditor).await {
        auditor.record(d.status, d.reason, 0);
        return denied(&d, html);
    }
    match commit_plain(state, bucket, key, headers, body).await {
        Ok(etag) => {
            auditor.record(200, "uploaded", 0);
            let mut r = page(200, "Uploaded", "Thank you: the file was received.", html);
            if let Ok(v) = HeaderValue::from_str(&etag) {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        Err(e) => {
            auditor.record(e.status, e.code, 0);
            page(e.status, e.code, &e.message, html)
        }
    }
}
