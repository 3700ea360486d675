//! Browser POST uploads: a `multipart/form-data` form with a signed policy.
//!
//! Everything before the `file` part — part headers included — is bounded by
//! `limits.max_form_fields_bytes` while it streams in ([`FormPrefix`]), before any
//! authentication: a form whose part header never ends is refused after that many
//! bytes, not buffered. The form is then authenticated through the shared
//! pipeline (the fields carry the signature), its policy checked, and only then
//! does the file stream to the blob store, in constant memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::render::set;
use super::{S3Result, empty, xml_response};
use crate::context::RequestContext;
use crate::http::AppState;
use crate::http::auth::{Pipeline, s3_error};
use crate::s3::checksum::ChecksumAlgorithm;
use crate::s3::error::S3Error;
use crate::s3::operation::validate_key;
use crate::s3::post_policy::{
    self, PostError, PostForm, check_length, check_policy, is_file_field, parse_auth, parse_policy, verify_signature,
};
use crate::s3::upload::{ObjectAttrs, PendingChecks};
use crate::services::identities::{Caller, Identities};
use crate::services::objects::Upload;
use crate::store::blobs::BoxError;
use crate::store::meta::WriteCondition;

/// Pieces the raw body is cut into before the file part, so the parser never
/// holds more than one small piece past the fields it was allowed.
const PIECE: usize = 8 * 1024;

/// The raw form body, counted until the `file` part is reached: past `limit`
/// bytes (plus one piece of slack for the file part's own header), it fails and
/// flags `exceeded`.
struct FormPrefix<S> {
    inner: S,
    held: Option<Bytes>,
    seen: usize,
    limit: usize,
    phase: Arc<FormPhase>,
}

/// Shared between the body stream and the handler.
#[derive(Default)]
struct FormPhase {
    /// The handler reached the `file` part: stop counting.
    file_started: AtomicBool,
    /// The prefix grew past its limit.
    exceeded: AtomicBool,
}

impl<S: Stream<Item = Result<Bytes, S3Error>> + Unpin> Stream for FormPrefix<S> {
    type Item = Result<Bytes, S3Error>;

    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.phase.file_started.load(Ordering::Relaxed) {
            if let Some(held) = this.held.take() {
                return Poll::Ready(Some(Ok(held)));
            }
            return this.inner.poll_next_unpin(cx);
        }
        let mut chunk = match this.held.take() {
            Some(c) => c,
            None => match std::task::ready!(this.inner.poll_next_unpin(cx)) {
                Some(Ok(c)) => c,
                other => return Poll::Ready(other),
            },
        };
        if chunk.len() > PIECE {
            this.held = Some(chunk.split_off(PIECE));
        }
        this.seen += chunk.len();
        if this.seen > this.limit + PIECE {
            this.phase.exceeded.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(PostError::fields_too_large(this.limit).into())));
        }
        Poll::Ready(Some(Ok(chunk)))
    }
}

/// POST Object.
pub(crate) async fn handle_post_object(state: &AppState, parts: &Parts, bucket: &str, body: Body, ctx: RequestContext) -> S3Result {
    crate::s3::operation::validate_bucket_name(bucket)?;
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let boundary = multer::parse_boundary(content_type).map_err(|_| PostError::not_multipart())?;
    let limit = state.config.limits.max_form_fields_bytes;
    let phase = Arc::new(FormPhase::default());
    let prefix = FormPrefix { inner: super::body::raw(body), held: None, seen: 0, limit, phase: phase.clone() };
    let mut multipart = multer::Multipart::new(prefix, boundary);
    let too_large = || -> S3Error { PostError::fields_too_large(limit).into() };
    let malformed = |phase: &FormPhase| -> S3Error {
        if phase.exceeded.load(Ordering::Relaxed) { too_large() } else { PostError::malformed_form().into() }
    };
    let mut form = PostForm::new();
    let mut fields = 0usize;
    let file = loop {
        let Some(mut field) = multipart.next_field().await.map_err(|_| malformed(&phase))? else {
            return Err(PostError::missing_field("file").into());
        };
        let name = field.name().unwrap_or("").to_owned();
        if is_file_field(&name) {
            phase.file_started.store(true, Ordering::Relaxed);
            break field;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| malformed(&phase))? {
            fields += chunk.len();
            if fields + name.len() > limit {
                return Err(too_large());
            }
            value.extend_from_slice(&chunk);
        }
        fields += name.len();
        form.push(name, String::from_utf8_lossy(&value).into_owned());
    };
    form.expand_filename(file.file_name());
    let key = form.object_key()?;
    validate_key(&key)?;
    let caller = authenticate(state, &form, bucket, &key, ctx).await?;
    let auth = parse_auth(&form, state.pipeline.region())?;
    let policy = parse_policy(auth.policy_b64())?;
    check_policy(&policy, &form, bucket, caller.ctx.received_ms.div_euclid(1000))?;
    let upload = form_upload(state, &form, &policy, file)?;
    let staged = state.objects.stage(bucket, &key, upload).await?;
    check_length(&policy, staged.meta.size)?;
    let meta = state.objects.commit(staged, &WriteCondition::None).await?;
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let base = state.config.public_url.clone().unwrap_or_else(|| format!("http://{host}"));
    let answer = post_policy::success_response(&form, bucket, &key, &meta.etag, base.trim_end_matches('/'));
    let mut r = match answer.body {
        Some(xml) => xml_response(xml),
        None => empty(StatusCode::NO_CONTENT),
    };
    *r.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::NO_CONTENT);
    set(&mut r, header::LOCATION, &answer.location);
    set(&mut r, header::ETAG, &answer.etag);
    Ok(r)
}

/// The form's signature, session and permission: s3:PutObject on the key, judged
/// in the request's context like any other request.
async fn authenticate(state: &AppState, form: &PostForm, bucket: &str, key: &str, ctx: RequestContext) -> Result<Caller, S3Error> {
    let auth = parse_auth(form, state.pipeline.region())?;
    let credential = state.pipeline.credential(auth.access_key()).await.map_err(|e| match e {
        crate::http::auth::AuthError::Verify(sigv4::VerifyError::UnknownAccessKey(_)) => {
            PostError::invalid_access_key_id(auth.access_key()).into()
        }
        other => s3_error(other),
    })?;
    verify_signature(&auth, &credential.secret, state.pipeline.signing_keys())?;
    Pipeline::session(&credential, auth.security_token(), ctx.received_ms).map_err(s3_error)?;
    let arn = crate::auth::policy::s3_object_arn(bucket, key);
    Identities::authorize(&credential, crate::auth::policy::S3_PUT_OBJECT, &arn, &ctx).map_err(crate::http::auth::denial_error)?;
    Ok(Caller { credential, ctx })
}

/// The file part as an upload: its bytes (bounded by the policy's
/// content-length-range and `limits.max_object_size`), the checks the form asks
/// for, and the object headers its fields give.
fn form_upload(state: &AppState, form: &PostForm, policy: &post_policy::Policy, file: multer::Field<'static>) -> Result<Upload, S3Error> {
    let mut headers = HeaderMap::new();
    for (name, value) in form.object_headers() {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            headers.insert(n, v);
        }
    }
    let mut checks = PendingChecks { content_md5: form.get("content-md5").map(|v| v.into_owned()), ..PendingChecks::default() };
    for alg in ChecksumAlgorithm::ALL {
        if let Some(v) = form.get(alg.header_name()) {
            checks.checksum_header = Some((alg, v.into_owned()));
            checks.checksum_algorithm = Some(alg);
        }
    }
    let max_object = state.config.limits.max_object_size;
    let max = policy.length_range().map_or(max_object, |(_, hi)| hi.min(max_object));
    let mut seen = 0u64;
    let body = file
        .map(move |chunk: Result<Bytes, multer::Error>| {
            let chunk = chunk.map_err(|_| Box::new(S3Error::from(PostError::malformed_form())) as BoxError)?;
            seen += chunk.len() as u64;
            if seen > max { Err(Box::new(S3Error::from(PostError::entity_too_large(seen, max))) as BoxError) } else { Ok(chunk) }
        })
        .boxed();
    Ok(Upload { body, checks, attrs: ObjectAttrs::from_headers(&headers) })
}
