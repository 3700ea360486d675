//! Redeeming a link: `GET | HEAD | PUT /l/{token}` for object links; the link's
//! method at `/l/{token}[/{rest}]` for upstream links.
//!
//! Everything that can be judged without a use (shape, revoked, expired, used up,
//! not yet valid, client address, password, the issuer's current permission, the
//! object's existence and the request's conditions) is judged first. Then a use is
//! taken — atomically, with its audit row, for links with `max_uses`, so exactly N
//! requests succeed however many race — and only then does a byte move. A
//! download's use is taken before the first byte; an upload's only once its bytes
//! are stored and checked, just before they become the object (a failed or cut
//! upload leaves the use; of concurrent uploaders exactly one wins). HEAD on an
//! object link and conditional GETs answered 304 or 412 take no use.
//!
//! The outcome is a [`Grant`] or a [`Refusal`]; the HTTP layer audits and renders
//! both in one place, through the [`Auditor`] returned with it.

use std::net::IpAddr;

use axum::http::{HeaderMap, Method, header};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::LinkService;
use super::audit::{AuditSlot, Auditor};
use crate::auth::policy::{LINKGATE_CREATE_LINK, S3_GET_OBJECT, S3_PUT_OBJECT, s3_object_arn};
use crate::auth::secrets::token_hash;
use crate::context::RequestContext;
use crate::links::model::{AuditRecord, Delivery, LinkMethod, LinkRecord, LinkTarget};
use crate::links::{self, LinkDenial};
use crate::s3::error::S3Error;
use crate::s3::upload::{ObjectAttrs, PendingChecks, check_declared_length};
use crate::services::objects::{ObjectRead, ReadKind, Staged, Upload};
use crate::store::blobs::ByteStream;
use crate::store::links::{AuditSettle, Consume, LinkStore};
use crate::store::meta::WriteCondition;
use crate::upstream::{self, Forward, ForwardError, MAX_FORWARD_BODY};

/// Largest password form body read, bytes.
const MAX_FORM_BODY: usize = 4096;

/// How old this request's read of the link may be when a use of a link without
/// `max_uses` is counted; older (a slow upload, a queue for the password check),
/// the link is read again so a revocation or expiry meanwhile is not missed.
const FRESH_READ_MS: i64 = 1000;

/// One redemption request.
pub struct Redeem {
    /// The token from the path.
    pub token: String,
    /// The request method.
    pub method: Method,
    /// The raw path after `/l/{token}` (`""` or starting with `/`).
    pub suffix: String,
    /// The raw query.
    pub query: String,
    /// The request headers (the password header already taken out).
    pub headers: HeaderMap,
    /// The request body.
    pub body: ByteStream,
    /// The password offered in a header or as HTTP Basic.
    pub password: Option<String>,
    /// Who asked, from where, when.
    pub ctx: RequestContext,
    /// The `Host` the request was sent to (for redirect URLs).
    pub host: String,
}

/// What a granted redemption answers.
pub enum Grant {
    /// An object (GET, HEAD, or a 304).
    Object {
        /// The object and its bytes.
        read: ObjectRead,
        /// `Content-Disposition` file name.
        filename: Option<String>,
        /// The audit row.
        slot: AuditSlot,
        /// Audit outcome once fully sent (`granted`, `head`, `not-modified`).
        outcome: &'static str,
    },
    /// A 302 (or 303 after the password form) to a short-lived presigned URL.
    Redirect {
        /// The URL.
        location: String,
        /// 302 or 303.
        status: u16,
        /// The audit row.
        slot: AuditSlot,
    },
    /// An upload stored.
    Uploaded {
        /// The new object's ETag.
        etag: String,
        /// Its size.
        bytes: u64,
        /// The audit row.
        slot: AuditSlot,
    },
    /// The upstream's answer, relayed.
    Forwarded {
        /// The answer.
        response: axum::http::Response<hyper::body::Incoming>,
        /// It answers a HEAD.
        head: bool,
        /// The audit row.
        slot: AuditSlot,
    },
}

/// Asking for a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPrompt {
    /// Offer a browser form (download links to objects).
    pub form: bool,
    /// After a wrong password: how many are left before the ban.
    pub attempts_left: Option<u32>,
}

/// Why a redemption is refused, with what the answer needs.
#[derive(Debug)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// Stable reason, also the audit outcome (`expired`, `wrong-password`, an S3 code…).
    pub reason: String,
    /// Page title.
    pub title: String,
    /// A sentence for people.
    pub message: String,
    /// `Retry-After`, seconds.
    pub retry_after: Option<u64>,
    /// `Allow`, for 405.
    pub allow: Option<&'static str>,
    /// Set when the answer asks for a password (401).
    pub password: Option<PasswordPrompt>,
    /// Other headers (e.g. `Content-Range` for 416).
    pub headers: Vec<(&'static str, String)>,
    /// The audit row, if a use was already taken.
    pub slot: AuditSlot,
}

impl Refusal {
    fn new(status: u16, reason: &str, title: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.to_owned(),
            title: title.to_owned(),
            message: message.into(),
            retry_after: None,
            allow: None,
            password: None,
            headers: Vec::new(),
            slot: AuditSlot::Pending,
        }
    }

    fn denied(d: LinkDenial) -> Self {
        Self::new(d.status, d.reason, d.reason, d.message)
    }

    fn unavailable() -> Self {
        let mut r = Self::new(503, "unavailable", "Unavailable", "The service cannot check this link right now. Try again shortly.");
        r.retry_after = Some(1);
        r
    }

    fn too_many(retry_after_secs: u64, reason: &str, message: &str) -> Self {
        let mut r = Self::new(429, reason, "Too many requests", message);
        r.retry_after = Some(retry_after_secs);
        r
    }

    /// An object operation's error, as a link answers it.
    fn from_s3(e: S3Error) -> Self {
        if matches!(e.code, "NoSuchKey" | "NoSuchBucket") {
            return Self::new(404, "no-such-object", "Not found", "The shared file no longer exists.");
        }
        let mut r = Self::new(e.status, e.code, e.code, e.message.clone());
        r.headers = e.headers;
        r.retry_after = (e.status == 503).then_some(1);
        r
    }

    fn after_use(mut self, slot: AuditSlot) -> Self {
        self.slot = slot;
        self
    }
}

/// A redemption's outcome and the auditor that records it (`None` when there is
/// nothing to audit: an unknown token, a rate-limited client).
pub struct Redemption {
    /// Records the outcome.
    pub auditor: Option<Auditor>,
    /// Granted or refused.
    pub outcome: Result<Grant, Refusal>,
}

impl LinkService {
    /// Redeems a link.
    pub async fn redeem(&self, req: Redeem) -> Redemption {
        let ip = req.ctx.client_ip;
        if let Err(wait) = self.d.guards.rate.check(ip) {
            // Not audited: a flood must not turn into a flood of audit rows.
            tracing::debug!(client = %ip, "link redemption rate-limited");
            let r = Refusal::too_many(
                wait.as_secs() + 1,
                "rate-limited",
                "Too many requests from your network address. Try again in a moment.",
            );
            return Redemption { auditor: None, outcome: Err(r) };
        }
        let link = match self.d.store.link_by_token_hash(&token_hash(&req.token)).await {
            Ok(Some(l)) => l,
            Ok(None) => {
                return Redemption {
                    auditor: None,
                    outcome: Err(Refusal::new(404, "unknown", "Unknown link", "This link does not exist.")),
                };
            }
            Err(e) => {
                tracing::error!(error = %e, "link store failed");
                return Redemption { auditor: None, outcome: Err(Refusal::unavailable()) };
            }
        };
        let template = AuditRecord {
            link_id: link.id.clone(),
            at_ms: req.ctx.received_ms,
            client_ip: ip.to_string(),
            user_agent: req.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
            method: req.method.as_str().to_owned(),
            status: 0,
            outcome: String::new(),
            bytes: 0,
        };
        let auditor = Auditor::new(self.d.store.clone(), template);
        let outcome = self.judge_and_serve(&link, req, &auditor).await;
        Redemption { auditor: Some(auditor), outcome }
    }

    async fn judge_and_serve(&self, link: &LinkRecord, mut req: Redeem, auditor: &Auditor) -> Result<Grant, Refusal> {
        let answered_method = req.method.clone();
        if is_password_form(&req, link) {
            // The browser page's form posts the password to the link itself; what
            // follows is the GET it stands for.
            req.password = Box::pin(read_form_password(std::mem::replace(&mut req.body, futures_util::stream::empty().boxed()))).await?;
            req.method = Method::GET;
        }
        shape_refusal(link, &req.method, !req.suffix.is_empty()).map_or(Ok(()), Err)?;
        let now = req.ctx.received_ms;
        links::judge(link, now, req.ctx.client_ip).map_err(Refusal::denied)?;
        self.password_gate(link, req.password.take(), req.ctx.client_ip).await?;
        // Uploads and upstream calls are boxed: their futures are large, and every
        // download would otherwise carry (and copy, level by level) their size.
        match &link.target {
            LinkTarget::Upstream { name, path } => Box::pin(self.forward(link, name, path, req, auditor)).await,
            LinkTarget::Object { bucket, key } => {
                let action = if req.method == Method::PUT { S3_PUT_OBJECT } else { S3_GET_OBJECT };
                self.issuer_check(link, action, &s3_object_arn(bucket, key), &req.ctx).await?;
                if req.method == Method::PUT {
                    Box::pin(self.upload(link, bucket, key, req, auditor)).await
                } else {
                    self.download(link, bucket, key, req, answered_method, auditor).await
                }
            }
        }
    }

    /// Whether the link's issuer still holds `action` on `resource`.
    async fn issuer_check(&self, link: &LinkRecord, action: &str, resource: &str, ctx: &RequestContext) -> Result<(), Refusal> {
        match self.d.identities.issuer_allows(&link.issuer, action, resource, ctx).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                Err(Refusal::new(403, "issuer-denied", "Access denied", "The person who shared this link can no longer grant it."))
            }
            Err(e) => {
                tracing::error!(error = %e, "identity store failed");
                Err(Refusal::unavailable())
            }
        }
    }

    /// Takes one use, writing the audit row `row` makes with it for a link with
    /// `max_uses` (only then is the row built).
    ///
    /// With `max_uses`, the store takes the use atomically and writes the audit row
    /// in the same transaction; if the client leaves while that commits, the use
    /// still happens and the store settles its row as `abandoned` (see
    /// [`LinkStore::consume`]). A link without `max_uses` has nothing to run out of: it was
    /// judged from this request's own read (read again if that is older than
    /// [`FRESH_READ_MS`]), so the use is only counted (write-behind) and the row is
    /// appended when the answer is known.
    async fn take_use(&self, link: &LinkRecord, read_ms: i64, row: impl FnOnce() -> AuditRecord) -> Result<AuditSlot, Refusal> {
        let now = self.d.clock.now_ms();
        if link.max_uses.is_none() {
            if now - read_ms > FRESH_READ_MS {
                match self.d.store.link_by_token_hash(&link.token_hash).await {
                    Ok(Some(fresh)) => links::judge_state(&fresh, now).map_err(Refusal::denied)?,
                    Ok(None) => return Err(Refusal::new(404, "unknown", "Unknown link", "This link does not exist.")),
                    Err(e) => {
                        tracing::error!(error = %e, "link store failed");
                        return Err(Refusal::unavailable());
                    }
                }
            }
            self.d.store.push_use(&link.id, now);
            return Ok(AuditSlot::Pending);
        }
        let row = row();
        let (status, outcome, bytes) = (row.status, row.outcome.clone(), row.bytes);
        match self.d.store.consume(&link.id, now, row).await {
            Ok(Consume::Consumed { audit, .. }) => Ok(AuditSlot::Written(AuditSettle { id: audit, status, outcome, bytes })),
            Ok(other) => Err(links::denial_for(other).map_or_else(Refusal::unavailable, Refusal::denied)),
            Err(e) => {
                tracing::error!(error = %e, "link store failed");
                Err(Refusal::unavailable())
            }
        }
    }

    /// GET or HEAD of an object link.
    async fn download(
        &self,
        link: &LinkRecord,
        bucket: &str,
        key: &str,
        req: Redeem,
        answered: Method,
        auditor: &Auditor,
    ) -> Result<Grant, Refusal> {
        let head = req.method == Method::HEAD;
        let redirect = link.delivery == Delivery::Redirect;
        let range = req.headers.get(header::RANGE).and_then(|v| v.to_str().ok());
        let read = self.d.objects.read(bucket, key, &req.headers, range, head || redirect).await.map_err(Refusal::from_s3)?;
        let filename = link.filename.clone();
        match read.kind {
            ReadKind::NotModified => return Ok(Grant::Object { read, filename, slot: AuditSlot::Pending, outcome: "not-modified" }),
            _ if head => return Ok(Grant::Object { read, filename, slot: AuditSlot::Pending, outcome: "head" }),
            _ => {}
        }
        if redirect {
            // After the password form's POST, 303 makes the browser follow with a GET.
            let status = if answered == Method::POST { 303 } else { 302 };
            let slot = self.take_use(link, req.ctx.received_ms, || auditor.row(status, "redirected", 0)).await?;
            let location = self.redirect_url(&req.host, bucket, key, link.filename.as_deref());
            return Ok(Grant::Redirect { location, status, slot });
        }
        let (status, len) = match read.kind {
            ReadKind::Partial { len, .. } => (206, len),
            _ => (200, read.meta.size),
        };
        let slot = self.take_use(link, req.ctx.received_ms, || auditor.row(status, "granted", len)).await?;
        Ok(Grant::Object { read, filename, slot, outcome: "granted" })
    }

    /// PUT to an upload link: the bytes are stored and checked first; the use is
    /// taken just before they become the object, and given back if that fails.
    async fn upload(&self, link: &LinkRecord, bucket: &str, key: &str, req: Redeem, auditor: &Auditor) -> Result<Grant, Refusal> {
        check_declared_length(&req.headers, u64::MAX).map_err(Refusal::from_s3)?;
        self.d.objects.precheck_put(bucket, key, &WriteCondition::None).await.map_err(Refusal::from_s3)?;
        let upload = Upload { body: req.body, checks: PendingChecks::default(), attrs: ObjectAttrs::from_headers(&req.headers) };
        let staged = self.d.objects.stage(bucket, key, upload).await.map_err(Refusal::from_s3)?;
        let bytes = staged.meta.size;
        if link.max_uses.is_none() {
            let meta = self.d.objects.commit(staged, &WriteCondition::None).await.map_err(Refusal::from_s3)?;
            let slot = self.take_use(link, req.ctx.received_ms, || auditor.row(200, "uploaded", bytes)).await?;
            return Ok(Grant::Uploaded { etag: meta.etag, bytes, slot });
        }
        let slot = self.take_use(link, req.ctx.received_ms, || auditor.row(200, "uploaded", bytes)).await?;
        self.commit_upload(link, staged, slot, bytes).await
    }

    async fn commit_upload(&self, link: &LinkRecord, staged: Staged, slot: AuditSlot, bytes: u64) -> Result<Grant, Refusal> {
        let e = match self.d.objects.commit(staged, &WriteCondition::None).await {
            Ok(meta) => return Ok(Grant::Uploaded { etag: meta.etag, bytes, slot }),
            Err(e) => e,
        };
        let refusal = Refusal::from_s3(e);
        let AuditSlot::Written(said) = slot else { return Err(refusal) };
        let settle = AuditSettle { id: said.id, status: refusal.status, outcome: refusal.reason.clone(), bytes: 0 };
        if let Err(err) = self.d.store.refund(&link.id, &settle).await {
            tracing::error!(error = %err, link = %link.id, "could not give back the use of a failed upload");
        }
        // The refund settled the row as the refusal reads: nothing left to settle.
        Err(refusal.after_use(AuditSlot::Written(settle)))
    }

    /// A presigned URL for the object on this server, living `links.redirect_ttl`
    /// seconds: what a `redirect` link hands out after taking its use. Short enough
    /// that the URL cannot be passed around for long.
    fn redirect_url(&self, host: &str, bucket: &str, key: &str, filename: Option<&str>) -> String {
        let base = self.base_url(host);
        let parts = sigv4::inspect::split_url(&base);
        let host_header = parts.map_or_else(|| host.to_owned(), |p| p.host_header());
        let prefix = parts.map_or("", |p| if p.path == "/" { "" } else { p.path.trim_end_matches('/') }).to_owned();
        let path = format!("{prefix}/{}/{}", sigv4::encode::encode(bucket, false), sigv4::encode::encode(key, true));
        let query = filename
            .map(|f| format!("response-content-disposition={}", sigv4::encode::encode(&content_disposition(f), false)))
            .unwrap_or_default();
        let headers = [("host", host_header.as_str())];
        let req = sigv4::RequestParts { method: "GET", path: &path, query: &query, headers: &headers };
        let root = self.d.identities.root();
        let params = sigv4::SigningParams {
            credentials: sigv4::Credentials {
                access_key_id: &root.access_key_id,
                secret_access_key: &root.secret_access_key,
                session_token: None,
            },
            region: &self.d.region,
            service: "s3",
            time: self.d.clock.now(),
            path_mode: sigv4::PathMode::AsSent,
            payload_hash: sigv4::UNSIGNED_PAYLOAD,
        };
        let presigned = sigv4::presign(&req, &params, self.d.config.redirect_ttl.clamp(1, sigv4::MAX_EXPIRES), &self.d.signing_keys);
        let origin = base.strip_suffix(&prefix).unwrap_or(&base);
        format!("{origin}{path}?{}", presigned.query)
    }
}

/// Upstream links.
impl LinkService {
    /// Forwards to the link's upstream: issuer, path, body, one use, then the
    /// request, signed now. HEAD (allowed on a GET link too) takes a use as well:
    /// many APIs run their GET handler for HEAD, so a free HEAD would let a
    /// one-time link act on the upstream without limit. The use is taken before
    /// forwarding, so a request the upstream then fails (502) or does not answer in
    /// time (504) has still used it.
    async fn forward(&self, link: &LinkRecord, name: &str, link_path: &str, req: Redeem, auditor: &Auditor) -> Result<Grant, Refusal> {
        self.issuer_check(link, LINKGATE_CREATE_LINK, &upstream::upstream_arn(name), &req.ctx).await?;
        let Some(up) = self.d.upstreams.get(name) else {
            tracing::error!(upstream = name, "link names an upstream that is not configured");
            return Err(Refusal::new(
                502,
                "upstream-not-configured",
                "Upstream unavailable",
                "The service behind this link is not configured any more.",
            ));
        };
        let (path, query) = upstream::forward_target(up.base_path(), link_path, &req.suffix, &req.query)
            .map_err(|msg| Refusal::new(400, "bad-path", "Bad request", msg))?;
        let body = collect(req.body, MAX_FORWARD_BODY).await.map_err(|too_large| {
            if too_large {
                Refusal::new(413, "body-too-large", "Too large", "The request body is larger than 10 MiB.")
            } else {
                Refusal::new(400, "body-read-failed", "Bad request", "The request body could not be read.")
            }
        })?;
        let head = req.method == Method::HEAD;
        let slot = self.take_use(link, req.ctx.received_ms, || auditor.row(0, if head { "head" } else { "forwarded" }, 0)).await?;
        let forward = Forward { method: req.method, path, query, headers: upstream::forward_request_headers(&req.headers), body };
        match self.d.upstreams.send(up, forward, self.d.clock.now(), &self.d.signing_keys).await {
            Ok(response) => Ok(Grant::Forwarded { response, head, slot }),
            Err(ForwardError::Timeout) => {
                tracing::warn!(upstream = name, "upstream timed out");
                let msg = format!("upstream timed out: the service behind this link did not answer within {} s.", up.timeout().as_secs());
                Err(Refusal::new(504, "upstream-timeout", "Gateway timeout", msg).after_use(slot))
            }
            Err(ForwardError::Unreachable(e)) => {
                tracing::warn!(upstream = name, error = %e, "upstream unreachable");
                Err(Refusal::new(502, "upstream-unreachable", "Bad gateway", "upstream unreachable").after_use(slot))
            }
        }
    }
}

/// Reads a whole body of at most `max` bytes; `Err(true)` if it is larger,
/// `Err(false)` if it failed.
async fn collect(mut body: ByteStream, max: usize) -> Result<Bytes, bool> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| false)?;
        if buf.len() + chunk.len() > max {
            return Err(true);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Whether the request's shape fits the link — its method, and a path suffix only
/// for upstream links. Judged before the link's state: no state makes a wrong
/// method right.
fn shape_refusal(link: &LinkRecord, method: &Method, has_suffix: bool) -> Option<Refusal> {
    let wrong = |message: String, allow: &'static str| {
        let mut r = Refusal::new(405, "wrong-method", "Method not allowed", message);
        r.allow = Some(allow);
        r
    };
    match &link.target {
        LinkTarget::Upstream { .. } => {
            let allowed = method.as_str() == link.method.as_str() || (*method == Method::HEAD && link.method == LinkMethod::Get);
            (!allowed).then(|| wrong(format!("This link answers {} only.", link.method), link.method.as_str()))
        }
        LinkTarget::Object { .. } if has_suffix => Some(Refusal::new(404, "no-such-path", "Unknown link", "This link does not exist.")),
        LinkTarget::Object { .. } => {
            let put_link = link.method == LinkMethod::Put;
            let fits = if put_link { *method == Method::PUT } else { *method == Method::GET || *method == Method::HEAD };
            if fits {
                return None;
            }
            let message = if *method == Method::PUT {
                "This link is for downloading."
            } else if put_link && (*method == Method::GET || *method == Method::HEAD) {
                "This link is for uploading (PUT)."
            } else {
                "Links answer GET, HEAD and PUT only."
            };
            Some(wrong(message.to_owned(), if put_link { "PUT" } else { "GET, HEAD" }))
        }
    }
}

/// Whether this request is the password page's form: a urlencoded POST to a
/// download link.
fn is_password_form(req: &Redeem, link: &LinkRecord) -> bool {
    req.method == Method::POST
        && link.method == LinkMethod::Get
        && matches!(link.target, LinkTarget::Object { .. })
        && req
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// The `password` field of a form body of at most [`MAX_FORM_BODY`] bytes.
async fn read_form_password(body: ByteStream) -> Result<Option<String>, Refusal> {
    let bytes = collect(body, MAX_FORM_BODY)
        .await
        .map_err(|_| Refusal::new(413, "bad-form", "Too large", "The form is larger than a password needs."))?;
    Ok(form_urlencoded::parse(&bytes).find(|(name, _)| name == "password").map(|(_, v)| v.into_owned()))
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
pub fn content_disposition(filename: &str) -> String {
    let ascii: String = filename.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", sigv4::encode::encode(filename, false))
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

/// Password checks.
impl LinkService {
    /// The password gate for a link that has one. A banned client is refused
    /// unseen (429); a missing or wrong password gets 401 and takes no use; a wrong
    /// one counts toward the ban.
    ///
    /// Verification (argon2id, tens of ms of CPU and 19 MiB) runs on a blocking
    /// thread holding one of the hashing permits (one per core) until it is done,
    /// even if the client has gone. The ban is checked again once a permit is held
    /// and the outcome recorded before it is released, so concurrent guesses from
    /// one client cannot outrun the ban by more than the permits in flight.
    async fn password_gate(&self, link: &LinkRecord, offered: Option<String>, ip: IpAddr) -> Result<(), Refusal> {
        let Some(phc) = link.password_hash.clone() else { return Ok(()) };
        let banned = |secs: u64| {
            Refusal::too_many(
                secs,
                "password-ban",
                "Too many wrong passwords were tried for this link from your network address. Try again later.",
            )
        };
        let form = link.method == LinkMethod::Get && matches!(link.target, LinkTarget::Object { .. });
        let prompt = |attempts_left: Option<u32>| {
            let said = match attempts_left {
                None => "This link is protected by a password.".to_owned(),
                Some(0) => "Wrong password. No attempts are left from your network address for now.".to_owned(),
                Some(left) => format!("Wrong password ({left} attempts left)."),
            };
            let reason = if attempts_left.is_some() { "wrong-password" } else { "password-required" };
            let mut r = Refusal::new(401, reason, "Password required", said);
            r.password = Some(PasswordPrompt { form, attempts_left });
            r
        };
        if let Some(secs) = self.d.guards.passwords.banned(&link.id, ip, self.d.clock.now_ms()) {
            return Err(banned(secs));
        }
        let Some(offered) = offered else { return Err(prompt(None)) };
        let permit = self.d.guards.hashing.clone().acquire_owned().await.map_err(|_| Refusal::unavailable())?;
        let (guard, id, clock) = (self.d.guards.passwords.clone(), link.id.clone(), self.d.clock.clone());
        let checked = tokio::task::spawn_blocking(move || {
            let now = clock.now_ms();
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
            Ok(Verdict::Matched) => Ok(()),
            Ok(Verdict::Banned(secs)) => Err(banned(secs)),
            Ok(Verdict::Wrong { attempts_left }) => Err(prompt(Some(attempts_left))),
            Err(_) => Err(Refusal::unavailable()),
        }
    }
}
