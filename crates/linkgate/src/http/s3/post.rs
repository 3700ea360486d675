//! Browser POST uploads (form fields + signed policy).

use axum::body::Body;

use super::{Ctx, S3Result};
use crate::s3::error::S3Error;

/// POST Object: being wired to `s3::post_policy`.
pub(crate) async fn handle_post_object(_ctx: &Ctx<'_>, _bucket: &str, _body: Body) -> S3Result {
    Err(S3Error::not_implemented())
}
