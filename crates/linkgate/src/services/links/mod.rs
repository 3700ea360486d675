//! The link service: broker links created, listed, revoked and redeemed.
//!
//! A user can grant no more than they hold: creating a link needs
//! `linkgate:CreateLink` on the target *and* the permission the link will
//! exercise (`s3:GetObject` for a download link, `s3:PutObject` for an upload
//! link); an upstream link needs `linkgate:CreateLink` on
//! `arn:linkgate:upstream:::NAME` and may only name a configured `[[upstreams]]`
//! entry. Revoking needs `linkgate:RevokeLink` (or being the link's issuer).
//! Redemption ([`redeem`]) returns a grant or a refusal; the HTTP layer audits and
//! renders both in one place.

pub mod audit;
pub mod redeem;

use std::sync::Arc;

use sigv4::SigningKeyCache;

use crate::auth::policy::{LINKGATE_CREATE_LINK, LINKGATE_REVOKE_LINK, S3_GET_OBJECT, S3_PUT_OBJECT, s3_object_arn};
use crate::clock::SharedClock;
use crate::config::LinksConfig;
use crate::links::guard::LinkGuards;
use crate::links::model::{AuditRecord, Delivery, LinkFilter, LinkMethod, LinkRecord, LinkTarget};
use crate::links::{self, LinkState};
use crate::services::identities::{Caller, Identities};
use crate::services::objects::Objects;
use crate::store::StoreError;
use crate::store::links::LinkStore;
use crate::store::write_behind::BufferedLinks;
use crate::upstream::{self, Upstreams};

/// Most links one listing returns.
pub const LIST_LIMIT: usize = 1000;
/// Most audit rows shown with a link.
pub const AUDIT_LIMIT: usize = 1000;

/// Why a link operation failed.
#[derive(Debug)]
pub enum LinkError {
    /// The request is not valid; the message says why and what to send instead.
    Invalid(String),
    /// The link names an upstream that is not configured.
    UnknownUpstream(String),
    /// The caller may not do this; the message names the permission.
    AccessDenied(String),
    /// No such link (or not one the caller may see).
    NoSuchLink(String),
    /// The server cannot do it now (the password hashers are gone).
    Busy,
    /// Something that should not fail did; nothing was created.
    Internal(String),
    /// The store failed: nothing was changed.
    Unavailable(StoreError),
}

impl From<StoreError> for LinkError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "link store failed");
        Self::Unavailable(e)
    }
}

/// Shorthand for link results.
pub type LinkResult<T> = Result<T, LinkError>;

/// A link to create, as the creator describes it (the body of
/// `POST /-/api/v1/links`), before validation. The target is `bucket` + `key`, or
/// `upstream` (+ `path`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Bucket of an object link.
    pub bucket: Option<String>,
    /// Key of an object link.
    pub key: Option<String>,
    /// Upstream name of an upstream link.
    pub upstream: Option<String>,
    /// Path on the upstream (default `/`).
    pub path: Option<String>,
    /// `GET` (default) or `PUT` for object links; any of the upstream methods.
    pub method: Option<String>,
    /// Lifetime, seconds from now.
    pub expires_in: Option<u64>,
    /// Expiry, RFC 3339.
    pub expires_at: Option<String>,
    /// Not usable before, RFC 3339.
    pub not_before: Option<String>,
    /// At most this many uses.
    pub max_uses: Option<u64>,
    /// CIDRs the client must be in.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    /// `stream` (default) or `redirect`.
    pub delivery: Option<String>,
    /// `Content-Disposition` file name.
    pub filename: Option<String>,
    /// Password (hashed with argon2id; never stored as given).
    pub password: Option<String>,
    /// Group.
    pub group: Option<String>,
}

/// A link just created: the only time its token is seen.
#[derive(Debug)]
pub struct CreatedLink {
    /// The stored record.
    pub record: LinkRecord,
    /// The bearer token (in the URL).
    pub token: String,
}

/// A bulk revocation: every set field must match.
pub type BulkRevoke = LinkFilter;

/// A change to a whole group of links (the body of `PATCH /-/api/v1/groups/{name}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    /// Cut every expiry to this instant (RFC 3339) at the latest.
    pub expires_at: Option<String>,
    /// Cut every expiry to this many seconds from now at the latest.
    pub expires_in: Option<u64>,
    /// Revoke them all.
    #[serde(default)]
    pub revoke: bool,
}

/// The link service.
pub struct LinkService {
    d: LinkServiceParts,
}

impl std::fmt::Debug for LinkService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkService").finish_non_exhaustive()
    }
}

/// What the link service is built from (by the composition root).
pub struct LinkServiceParts {
    /// Links, buffered.
    pub store: Arc<BufferedLinks>,
    /// Identities (issuers are judged at each use).
    pub identities: Arc<Identities>,
    /// Objects (what object links open).
    pub objects: Arc<Objects>,
    /// Configured upstream APIs.
    pub upstreams: Arc<Upstreams>,
    /// Rate limit, password ban, hashing permits.
    pub guards: LinkGuards,
    /// Derived signing keys (redirects and forwarded requests are signed).
    pub signing_keys: Arc<SigningKeyCache>,
    /// The clock.
    pub clock: SharedClock,
    /// `[links]`.
    pub config: LinksConfig,
    /// The region presigned redirects are signed for.
    pub region: String,
    /// `public_url`, for link and redirect URLs.
    pub public_url: Option<String>,
}

impl LinkService {
    /// The service.
    pub fn new(parts: LinkServiceParts) -> Self {
        Self { d: parts }
    }

    /// The guards (housekeeping purges them).
    pub fn guards(&self) -> &LinkGuards {
        &self.d.guards
    }

    /// Where links are redeemed: `public_url`, else the `Host` the request used.
    pub fn base_url(&self, host: &str) -> String {
        self.d.public_url.clone().unwrap_or_else(|| format!("http://{host}")).trim_end_matches('/').to_owned()
    }

    /// The state of `link` now.
    pub fn state(&self, link: &LinkRecord) -> LinkState {
        links::state(link, self.d.clock.now_ms())
    }
}

fn parse_time(field: &str, value: &str) -> LinkResult<i64> {
    sigv4::AmzDate::parse_rfc3339(value)
        .map(|t| t.unix().saturating_mul(1000))
        .ok_or_else(|| LinkError::Invalid(format!("{field} must be an RFC 3339 time like 2026-12-01T00:00:00Z, got {value:?}")))
}

/// Creation.
impl LinkService {
    fn target(
        &self,
        bucket: Option<String>,
        key: Option<String>,
        upstream: Option<String>,
        path: Option<String>,
    ) -> LinkResult<LinkTarget> {
        match (bucket, key, upstream, path) {
            (Some(bucket), Some(key), None, None) => {
                crate::s3::operation::validate_bucket_name(&bucket).map_err(|e| LinkError::Invalid(format!("bucket: {}", e.message)))?;
                crate::s3::operation::validate_key(&key).map_err(|e| LinkError::Invalid(format!("key: {}", e.message)))?;
                Ok(LinkTarget::Object { bucket, key })
            }
            (None, None, Some(name), path) => {
                if self.d.upstreams.get(&name).is_none() {
                    return Err(LinkError::UnknownUpstream(name));
                }
                let path = path.unwrap_or_else(|| "/".into());
                upstream::validate_link_path(&path).map_err(LinkError::Invalid)?;
                Ok(LinkTarget::Upstream { name, path })
            }
            _ => Err(LinkError::Invalid("Name the target as \"bucket\" and \"key\", or as \"upstream\" and \"path\".".into())),
        }
    }

    fn expiry(&self, now: i64, expires_in: Option<u64>, expires_at: Option<&str>) -> LinkResult<Option<i64>> {
        match (expires_in, expires_at) {
            (Some(_), Some(_)) => Err(LinkError::Invalid("Give expires_in or expires_at, not both.".into())),
            (Some(secs), None) => links::expiry_after(now, secs, self.d.config.max_expires_in)
                .map(Some)
                .map_err(|e| LinkError::Invalid(format!("expires_in: {e}"))),
            (None, Some(at)) => parse_time("expires_at", at).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Validates a creation request into a record (without id, token and password
    /// hash) and the password, if any. The password is hashed by
    /// [`LinkService::create`] once the caller is known to be allowed: argon2 is
    /// deliberately slow, and refusals should not cost it.
    fn build(&self, caller: &Caller, spec: LinkSpec) -> LinkResult<(LinkRecord, Option<String>)> {
        let target = self.target(spec.bucket, spec.key, spec.upstream, spec.path)?;
        let method_text = spec.method.unwrap_or_else(|| "GET".into());
        let method = LinkMethod::parse(&method_text);
        let method = match (&target, method) {
            (LinkTarget::Object { .. }, Some(m @ (LinkMethod::Get | LinkMethod::Put))) => m,
            (LinkTarget::Object { .. }, _) => return Err(LinkError::Invalid(format!("method must be GET or PUT, got {method_text:?}"))),
            (LinkTarget::Upstream { .. }, Some(m)) => m,
            (LinkTarget::Upstream { .. }, None) => {
                let all: Vec<&str> = LinkMethod::ALL.iter().map(|m| m.as_str()).collect();
                return Err(LinkError::Invalid(format!("method must be one of {}, got {method_text:?}", all.join(", "))));
            }
        };
        let delivery_text = spec.delivery.unwrap_or_else(|| "stream".into());
        let delivery = Delivery::parse(&delivery_text)
            .ok_or_else(|| LinkError::Invalid(format!("delivery must be \"stream\" or \"redirect\", got {delivery_text:?}")))?;
        if delivery == Delivery::Redirect && (method != LinkMethod::Get || !matches!(target, LinkTarget::Object { .. })) {
            return Err(LinkError::Invalid("delivery \"redirect\" is for download (GET) links to objects.".into()));
        }
        if let Some(p) = &spec.password {
            links::password::validate(p).map_err(LinkError::Invalid)?;
        }
        let now = self.d.clock.now_ms();
        let expires_ms = self.expiry(now, spec.expires_in, spec.expires_at.as_deref())?.unwrap_or(now + 3_600_000);
        if expires_ms <= now {
            return Err(LinkError::Invalid("The link would already be expired.".into()));
        }
        if (expires_ms - now) / 1000 > i64::try_from(self.d.config.max_expires_in).unwrap_or(i64::MAX) {
            return Err(LinkError::Invalid(format!(
                "The link may live at most {} seconds (links.max_expires_in).",
                self.d.config.max_expires_in
            )));
        }
        let not_before_ms = spec.not_before.as_deref().map(|t| parse_time("not_before", t)).transpose()?;
        if spec.max_uses == Some(0) {
            return Err(LinkError::Invalid("max_uses must be at least 1.".into()));
        }
        links::validate_cidrs(&spec.allowed_ips).map_err(LinkError::Invalid)?;
        if let Some(f) = &spec.filename
            && (f.is_empty() || f.len() > 255 || f.chars().any(char::is_control))
        {
            return Err(LinkError::Invalid("filename must be 1 to 255 characters without control characters.".into()));
        }
        let link = LinkRecord {
            method,
            delivery,
            not_before_ms,
            max_uses: spec.max_uses,
            allowed_ips: spec.allowed_ips,
            filename: spec.filename,
            group: spec.group,
            ..LinkRecord::new(caller.credential.principal.as_issuer(), target, now, expires_ms)
        };
        Ok((link, spec.password))
    }

    /// Creates a link.
    pub async fn create(&self, caller: &Caller, spec: LinkSpec) -> LinkResult<CreatedLink> {
        let (mut link, password) = self.build(caller, spec)?;
        match &link.target {
            LinkTarget::Object { bucket, key } => {
                let arn = s3_object_arn(bucket, key);
                let exercised = if link.method == LinkMethod::Put { S3_PUT_OBJECT } else { S3_GET_OBJECT };
                if !caller.may(LINKGATE_CREATE_LINK, &arn) || !caller.may(exercised, &arn) {
                    return Err(LinkError::AccessDenied(format!(
                        "Creating this link needs {LINKGATE_CREATE_LINK} and {exercised} on {arn}: a link cannot grant more than its creator holds."
                    )));
                }
            }
            LinkTarget::Upstream { name, .. } => {
                let arn = upstream::upstream_arn(name);
                if !caller.may(LINKGATE_CREATE_LINK, &arn) {
                    return Err(LinkError::AccessDenied(format!("Creating this link needs {LINKGATE_CREATE_LINK} on {arn}.")));
                }
            }
        }
        if let Some(password) = password {
            link.password_hash = Some(self.hash_password(password).await?);
        }
        let (token, hash) = links::new_token();
        link.id = links::new_link_id();
        link.token_hash = hash;
        self.d.store.create_link(&link).await?;
        Ok(CreatedLink { record: link, token })
    }

    /// Hashes a password with argon2id on a blocking thread, holding one of the
    /// hashing permits (shared with password checks at redemption, one per core)
    /// so neither can crowd out the rest of the server.
    async fn hash_password(&self, password: String) -> LinkResult<String> {
        let permit = self.d.guards.hashing.clone().acquire_owned().await.map_err(|_| LinkError::Busy)?;
        let hashed = tokio::task::spawn_blocking(move || {
            let h = links::password::hash(&password);
            drop(permit);
            h
        })
        .await
        .map_err(|_| LinkError::Busy)?;
        hashed.map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            LinkError::Internal("The password could not be hashed; no link was created.".into())
        })
    }
}

/// Management.
impl LinkService {
    fn may_manage(caller: &Caller, link: &LinkRecord, action: &str) -> bool {
        let own = caller.credential.principal.as_issuer() == link.issuer;
        let arn = match &link.target {
            LinkTarget::Object { bucket, key } => s3_object_arn(bucket, key),
            LinkTarget::Upstream { name, .. } => upstream::upstream_arn(name),
        };
        own || caller.may(action, &arn)
    }

    /// Links matching `filter` (and `state`, if given) that the caller may see.
    pub async fn list(&self, caller: &Caller, filter: &LinkFilter, state: Option<&str>) -> LinkResult<Vec<LinkRecord>> {
        let now = self.d.clock.now_ms();
        let found = self.d.store.list_links(filter, LIST_LIMIT).await?;
        Ok(found
            .into_iter()
            .filter(|l| Self::may_manage(caller, l, LINKGATE_CREATE_LINK))
            .filter(|l| state.is_none_or(|w| links::state(l, now).as_str() == w))
            .collect())
    }

    async fn find(&self, caller: &Caller, id: &str) -> LinkResult<LinkRecord> {
        let link = self.d.store.link(id).await?;
        link.filter(|l| Self::may_manage(caller, l, LINKGATE_CREATE_LINK)).ok_or_else(|| LinkError::NoSuchLink(id.to_owned()))
    }

    /// One link and its audit trail (latest rows, oldest first).
    pub async fn show(&self, caller: &Caller, id: &str) -> LinkResult<(LinkRecord, Vec<AuditRecord>)> {
        let link = self.find(caller, id).await?;
        let audit = self.d.store.audit(&link.id, AUDIT_LIMIT).await?;
        Ok((link, audit))
    }

    /// Revokes one link.
    pub async fn revoke(&self, caller: &Caller, id: &str) -> LinkResult<()> {
        let link = self.find(caller, id).await?;
        if !Self::may_manage(caller, &link, LINKGATE_REVOKE_LINK) {
            return Err(LinkError::AccessDenied(format!("Revoking needs {LINKGATE_REVOKE_LINK}.")));
        }
        self.d.store.revoke(&link.id, self.d.clock.now_ms()).await?;
        Ok(())
    }

    /// Revokes every live link matching `filter` (by group, issuer, or bucket + key
    /// prefix); returns how many.
    pub async fn revoke_matching(&self, caller: &Caller, filter: &BulkRevoke) -> LinkResult<usize> {
        if filter.group.is_none() && filter.issuer.is_none() && filter.bucket.is_none() {
            return Err(LinkError::Invalid("Name a group, an issuer, or a bucket (with an optional prefix).".into()));
        }
        if filter.prefix.is_some() && filter.bucket.is_none() {
            return Err(LinkError::Invalid("A prefix needs a bucket.".into()));
        }
        let resource = match &filter.bucket {
            Some(b) => s3_object_arn(b, &format!("{}*", filter.prefix.as_deref().unwrap_or(""))),
            None => "*".to_owned(),
        };
        let own_issuer = caller.credential.principal.as_issuer().as_str();
        let only_own = filter.issuer.as_deref() == Some(own_issuer.as_str());
        if !only_own && !caller.may(LINKGATE_REVOKE_LINK, &resource) {
            return Err(LinkError::AccessDenied(format!("Revoking these links needs {LINKGATE_REVOKE_LINK} on {resource}.")));
        }
        Ok(self.d.store.revoke_matching(filter, self.d.clock.now_ms()).await?)
    }

    /// Like an Azure stored access policy: cuts the expiry of every link in the
    /// group at once, or revokes them all. Returns (shortened, revoked).
    pub async fn patch_group(&self, caller: &Caller, group: &str, patch: &GroupPatch) -> LinkResult<(usize, usize)> {
        if !caller.may(LINKGATE_REVOKE_LINK, "*") {
            return Err(LinkError::AccessDenied(format!("Changing a group of links needs {LINKGATE_REVOKE_LINK} on *.")));
        }
        let now = self.d.clock.now_ms();
        let cut_to = self.expiry(now, patch.expires_in, patch.expires_at.as_deref())?;
        if cut_to.is_none() && !patch.revoke {
            return Err(LinkError::Invalid("Give expires_at or expires_in (to shorten), or \"revoke\": true.".into()));
        }
        let shortened = match cut_to {
            Some(t) => self.d.store.cut_group_expiry(group, t).await?,
            None => 0,
        };
        let revoked = if patch.revoke {
            let filter = LinkFilter { group: Some(group.to_owned()), ..LinkFilter::default() };
            self.d.store.revoke_matching(&filter, now).await?
        } else {
            0
        };
        Ok((shortened, revoked))
    }
}
