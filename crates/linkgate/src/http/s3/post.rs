//! Browser POST uploads: a `multipart/form-data` form with a signed policy.
//!
//! The form is read field by field until `file`; everything about the form is
//! checked (signature, policy, conditions) before a byte of the file is stored,
//! and the file itself streams to disk in constant memory.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use bytes::Bytes;
use futures_util::StreamExt;

use super::body::PendingChecks;
use super::object::{commit, new_object_meta, set, write_body};
use super::{Ctx, S3Result, bucket, now_ms, store_err};
use crate::auth::authority::Authority;
use crate::auth::policy::{S3_PUT_OBJECT, s3_object_arn};
use crate::s3::checksum::ChecksumAlgorithm;
use crate::s3::error::S3Error;
use crate::s3::post_policy::{
    self, MAX_PRE_FILE_BYTES, PostError, PostForm, check_length, check_policy, is_file_field, parse_auth, parse_policy, verify_signature,
};
use crate::store::WriteCondition;

/// POST Object.
pub(crate) async fn handle_post_object(ctx: &Ctx<'_>, bucket: &str, body: Body) -> S3Result {
    bucket::validate_name(bucket)?;
    let boundary = ctx.header("content-type").and_then(|ct| multer::parse_boundary(ct).ok()).ok_or_else(PostError::not_multipart)?;
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut form = PostForm::new();
    let mut pre_file = 0usize;
    let file = loop {
        let Some(mut field) = multipart.next_field().await.map_err(|_| PostError::malformed_form())? else {
            return Err(PostError::missing_field("file").into());
        };
        let name = field.name().unwrap_or("").to_owned();
        if is_file_field(&name) {
            break field;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| PostError::malformed_form())? {
            pre_file += chunk.len();
            if pre_file + name.len() > MAX_PRE_FILE_BYTES {
                return Err(PostError::fields_too_large().into());
            }
            value.extend_from_slice(&chunk);
        }
        pre_file += name.len();
        form.push(name, String::from_utf8_lossy(&value).into_owned());
    };
    let filename = file.file_name().map(str::to_owned);
    form.expand_filename(filename.as_deref());
    let key = form.object_key()?;
    if key.len() > super::MAX_KEY_LEN {
        return Err(S3Error::new("KeyTooLongError", 400, "Your key is too long").with("MaxSizeAllowed", "1024"));
    }
    let auth = parse_auth(&form, &ctx.state.config.region)?;
    let credential = match ctx.state.authority.resolve(auth.access_key()) {
        Ok(Some(c)) => c,
        Ok(None) => return Err(PostError::invalid_access_key_id(auth.access_key()).into()),
        Err(e) => return Err(store_err(e)),
    };
    verify_signature(&auth, &credential.secret, &ctx.state.signing_keys)?;
    Authority::check_session(&credential, auth.security_token(), now_ms()).map_err(super::auth::denial_error)?;
    Authority::authorize(&credential, S3_PUT_OBJECT, &s3_object_arn(bucket, &key), super::auth::source_ip(ctx))
        .map_err(super::auth::denial_error)?;
    let policy = parse_policy(auth.policy_b64())?;
    check_policy(&policy, &form, bucket, ctx.now.unix())?;
    if ctx.state.store.bucket(bucket).map_err(store_err)?.is_none() {
        return Err(S3Error::no_such_bucket(bucket));
    }

    // The form's header-like fields become the object's headers.
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
    let max =
        policy.length_range().map_or(ctx.state.config.limits.max_object_size, |(_, hi)| hi.min(ctx.state.config.limits.max_object_size));
    let mut seen = 0u64;
    let stream = file
        .map(move |chunk: Result<Bytes, multer::Error>| {
            let chunk = chunk.map_err(|_| S3Error::from(PostError::malformed_form()))?;
            seen += chunk.len() as u64;
            if seen > max { Err(S3Error::from(PostError::entity_too_large(seen, max))) } else { Ok(chunk) }
        })
        .boxed();
    let written = write_body(ctx, stream, &checks).await?;
    if let Err(e) = check_length(&policy, written.digests.len) {
        ctx.state.objects.remove(&written.id);
        return Err(e.into());
    }
    let meta = new_object_meta(bucket, &key, &written, &headers);
    commit(ctx, &meta, &WriteCondition::None, &written.id)?;
    let base = ctx.state.config.public_url.clone().unwrap_or_else(|| format!("http://{}", ctx.header("host").unwrap_or("localhost")));
    let answer = post_policy::success_response(&form, bucket, &key, &meta.etag, base.trim_end_matches('/'));
    let mut r = match answer.body {
        Some(xml) => super::xml_response(xml),
        None => super::empty(StatusCode::NO_CONTENT),
    };
    *r.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::NO_CONTENT);
    set(&mut r, header::LOCATION, &answer.location);
    set(&mut r, header::ETAG, &answer.etag);
    Ok(r)
}
