//! The identity service: who an access key is, whether it may do something, and
//! the users, keys, policies, roles and sessions behind both.
//!
//! One service for every surface that manages identities (the JSON admin API, the
//! IAM and STS query APIs, the CLI through them), so the rules live once: names
//! and policy documents are validated here, every change is authorized here as
//! `iam:<Action>` against the caller's request context, and every change clears
//! the credential cache before it returns, so the very next request anywhere in
//! this process sees it.
//!
//! Judging happens at access time, on every request: a deactivated key, an expired
//! or revoked session, or a policy that no longer allows the action denies the
//! request, whatever a presigned URL says.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::auth::RootCredentials;
use crate::auth::policy::{AccessRequest, Decision, PolicyDocument, evaluate};
use crate::auth::secrets::{MasterKey, new_access_key_id, new_secret_access_key, random_token, token_hash};
use crate::clock::SharedClock;
use crate::context::RequestContext;
use crate::links::model::LinkIssuer;
use crate::store::StoreError;
use crate::store::identity::{AddKey, IdentityStore, KeyRecord, NamedPolicy, RoleRecord, SessionRecord, UserRecord};

/// Who is acting (the store keeps sessions with it, so the type lives there).
pub use crate::store::identity::Principal;

impl Principal {
    /// The user whose identity this is, or who assumed the role (`root` for root).
    pub fn source_user(&self) -> &str {
        match self {
            Self::Root => "root",
            Self::User(u) => u,
            Self::Role { source_user, .. } => source_user,
        }
    }

    /// Who a link created by this principal acts as.
    pub fn as_issuer(&self) -> LinkIssuer {
        match self {
            Self::Root => LinkIssuer::Root,
            Self::User(u) => LinkIssuer::User(u.clone()),
            Self::Role { role, .. } => LinkIssuer::Role(role.clone()),
        }
    }
}

/// What an STS session adds to a credential.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// SHA-256 (hex) of the session token.
    pub token_hash: String,
    /// Issued, unix ms.
    pub created_ms: i64,
    /// Expires, unix ms.
    pub expires_ms: i64,
    /// Sessions of the role issued before this (unix ms) are revoked.
    pub revoked_before_ms: i64,
}

/// A resolved access key.
#[derive(Debug)]
pub struct Credential {
    /// The plaintext secret, to verify the signature.
    pub secret: String,
    /// Who it acts as.
    pub principal: Principal,
    /// Present for temporary credentials.
    pub session: Option<SessionInfo>,
    /// The policies that apply (empty for root, who needs none).
    pub policies: Vec<PolicyDocument>,
}

/// Why a request is refused after its key resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// Temporary credentials without their token, or with another token.
    InvalidToken,
    /// The session has expired.
    ExpiredToken,
    /// Policies do not allow it, or the session was revoked.
    AccessDenied,
}

/// An authenticated request: who, and the request's context. Everything that is
/// decided on someone's behalf takes one.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who signed the request.
    pub credential: Arc<Credential>,
    /// Where it came from and when.
    pub ctx: RequestContext,
}

impl Caller {
    /// Whether the caller may do `action` on `resource` (root always may).
    pub fn may(&self, action: &str, resource: &str) -> bool {
        Identities::authorize(&self.credential, action, resource, &self.ctx).is_ok()
    }
}

/// Which name a validation error is about (each surface names the field its own way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// A user name.
    User,
    /// A role name.
    Role,
    /// A policy name.
    Policy,
    /// A user named as trusted by a role.
    TrustedUser,
}

/// Why an identity operation failed.
#[derive(Debug)]
pub enum IdentityError {
    /// The caller may not perform `action` (`iam:…`).
    AccessDenied {
        /// The caller's ARN.
        caller_arn: String,
        /// The action refused.
        action: String,
    },
    /// No user of that name.
    NoSuchUser(String),
    /// No role of that name.
    NoSuchRole(String),
    /// No access key with that id (or not the named user's).
    NoSuchKey(String),
    /// The user has no inline policy of that name.
    NoSuchPolicy {
        /// The user.
        user: String,
        /// The policy name.
        name: String,
    },
    /// A user of that name exists.
    UserExists(String),
    /// A role of that name exists.
    RoleExists(String),
    /// The user already has two access keys.
    KeyLimit(String),
    /// A name breaks IAM's rules.
    InvalidName(NameKind, String),
    /// A policy document does not parse; the parser's message.
    MalformedPolicy(String),
    /// A policy document is longer than IAM allows (characters).
    PolicyTooLarge(usize),
    /// A role's session length is out of range.
    InvalidSessionDuration(u64),
    /// The identity store failed: nothing was changed.
    Unavailable(StoreError),
}

impl From<StoreError> for IdentityError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "identity store failed");
        Self::Unavailable(e)
    }
}

/// Shorthand for identity results.
pub type IdentityResult<T> = Result<T, IdentityError>;

/// IAM's limit on an inline policy, in characters.
pub const MAX_POLICY_LEN: usize = 10_240;
/// Session lengths a role may allow, seconds (IAM's MaxSessionDuration range).
pub const ROLE_SESSION_RANGE: std::ops::RangeInclusive<u64> = 3_600..=43_200;

/// Checks a user, role or policy name: 1–64 of `[A-Za-z0-9+=,.@_-]`, as IAM.
pub fn validate_name(name: &str, kind: NameKind) -> IdentityResult<()> {
    if (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)) {
        Ok(())
    } else {
        Err(IdentityError::InvalidName(kind, name.to_owned()))
    }
}

/// Checks a policy document with the same parser requests are judged with: a
/// document stored is a document enforced.
pub fn validate_policy(text: &str) -> IdentityResult<()> {
    let len = text.chars().count();
    if len > MAX_POLICY_LEN {
        return Err(IdentityError::PolicyTooLarge(len));
    }
    PolicyDocument::parse(text).map(drop).map_err(|e| IdentityError::MalformedPolicy(e.message))
}

/// A role to create, as either surface describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRole {
    /// Name.
    pub name: String,
    /// Users who may assume it (`*` for any).
    pub trusted_users: Vec<String>,
    /// Longest session, seconds; IAM's default (3600) when absent.
    pub max_session_secs: Option<u64>,
    /// Inline policies, by name.
    pub policies: Vec<NamedPolicy>,
}

/// A long-term access key just created: the only time its secret is seen.
#[derive(Debug)]
pub struct NewKey {
    /// The stored record.
    pub record: KeyRecord,
    /// The secret.
    pub secret: String,
}

/// Temporary credentials just issued by STS.
#[derive(Debug)]
pub struct IssuedSession {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret.
    pub secret: String,
    /// The session token.
    pub token: String,
    /// Expires, unix ms.
    pub expires_ms: i64,
}

/// Most credentials kept resolved at once (cleared wholesale when full).
const CACHE_CAPACITY: usize = 10_000;

/// The identity service.
pub struct Identities {
    root: RootCredentials,
    store: Arc<dyn IdentityStore>,
    master: Arc<MasterKey>,
    clock: SharedClock,
    cache: RwLock<HashMap<String, Arc<Credential>>>,
    generation: AtomicU64,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identities").field("root", &self.root).finish_non_exhaustive()
    }
}

impl Identities {
    /// The service over `store`, with root credentials, the master key and a clock.
    pub fn new(root: RootCredentials, store: Arc<dyn IdentityStore>, master: Arc<MasterKey>, clock: SharedClock) -> Self {
        Self { root, store, master, clock, cache: RwLock::new(HashMap::new()), generation: AtomicU64::new(0) }
    }

    /// The root credentials.
    pub fn root(&self) -> &RootCredentials {
        &self.root
    }

    /// This installation's 12-digit account id (stable: derived from the root key).
    pub fn account_id(&self) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(self.root.access_key_id.as_bytes());
        let n = u64::from_be_bytes([digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7]]);
        format!("{:012}", n % 1_000_000_000_000)
    }

    /// `arn:aws:iam::ACCOUNT:user/NAME`, `…:root`, `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub fn principal_arn(&self, p: &Principal) -> String {
        let account = self.account_id();
        match p {
            Principal::Root => format!("arn:aws:iam::{account}:root"),
            Principal::User(u) => format!("arn:aws:iam::{account}:user/{u}"),
            Principal::Role { role, session_name, .. } => format!("arn:aws:sts::{account}:assumed-role/{role}/{session_name}"),
        }
    }

    /// Forgets every resolved credential (after any identity change, before it is
    /// acknowledged).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut c) = self.cache.write() {
            c.clear();
        }
    }

    /// Resolves an access key: `None` if unknown or inactive (S3: `InvalidAccessKeyId`).
    pub async fn resolve(&self, access_key_id: &str) -> Result<Option<Arc<Credential>>, StoreError> {
        if crate::auth::secrets::ct_eq(access_key_id, &self.root.access_key_id) {
            return Ok(Some(Arc::new(Credential {
                secret: self.root.secret_access_key.clone(),
                principal: Principal::Root,
                session: None,
                policies: Vec::new(),
            })));
        }
        if let Ok(c) = self.cache.read()
            && let Some(hit) = c.get(access_key_id)
        {
            return Ok(Some(hit.clone()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let Some(cred) = self.load(access_key_id).await? else { return Ok(None) };
        let cred = Arc::new(cred);
        if let Ok(mut c) = self.cache.write()
            && self.generation.load(Ordering::SeqCst) == generation
        {
            if c.len() >= CACHE_CAPACITY {
                c.clear();
            }
            c.insert(access_key_id.to_owned(), cred.clone());
        }
        Ok(Some(cred))
    }

    async fn load(&self, access_key_id: &str) -> Result<Option<Credential>, StoreError> {
        if access_key_id.starts_with("ASIA") {
            return self.load_session(access_key_id).await;
        }
        let Some(key) = self.store.key(access_key_id).await? else { return Ok(None) };
        if !key.active {
            return Ok(None);
        }
        let Some(user) = self.store.user(&key.user).await? else { return Ok(None) };
        let Ok(secret) = self.master.open(&key.secret_sealed, key.access_key_id.as_bytes()) else {
            tracing::error!("an access key secret does not decrypt with the master key");
            return Ok(None);
        };
        Ok(Some(Credential {
            secret: String::from_utf8_lossy(&secret).into_owned(),
            principal: Principal::User(key.user),
            session: None,
            policies: parse_policies(user.policies),
        }))
    }

    async fn load_session(&self, access_key_id: &str) -> Result<Option<Credential>, StoreError> {
        let Some(s) = self.store.session(access_key_id).await? else { return Ok(None) };
        let Ok(secret) = self.master.open(&s.secret_sealed, s.access_key_id.as_bytes()) else {
            tracing::error!("a session secret does not decrypt with the master key");
            return Ok(None);
        };
        let (policies, revoked_before_ms) = match &s.principal {
            Principal::Root => (Vec::new(), 0),
            Principal::User(user) => {
                let Some(u) = self.store.user(user).await? else { return Ok(None) };
                (parse_policies(u.policies), 0)
            }
            Principal::Role { role, .. } => {
                let Some(r) = self.store.role(role).await? else { return Ok(None) };
                (parse_policies(r.policies), r.revoked_before_ms)
            }
        };
        let principal = s.principal;
        Ok(Some(Credential {
            secret: String::from_utf8_lossy(&secret).into_owned(),
            principal,
            session: Some(SessionInfo { token_hash: s.token_hash, created_ms: s.created_ms, expires_ms: s.expires_ms, revoked_before_ms }),
            policies,
        }))
    }

    /// Checks the session token and lifetime of temporary credentials.
    pub fn check_session(cred: &Credential, token: Option<&str>, now_ms: i64) -> Result<(), Denial> {
        let Some(s) = &cred.session else { return Ok(()) };
        let Some(token) = token else { return Err(Denial::InvalidToken) };
        if !crate::auth::secrets::ct_eq(&token_hash(token), &s.token_hash) {
            return Err(Denial::InvalidToken);
        }
        if now_ms >= s.expires_ms {
            return Err(Denial::ExpiredToken);
        }
        if s.created_ms < s.revoked_before_ms {
            return Err(Denial::AccessDenied);
        }
        Ok(())
    }

    /// Whether `cred` may perform `action` on `resource` in request context `ctx`.
    pub fn authorize(cred: &Credential, action: &str, resource: &str, ctx: &RequestContext) -> Result<(), Denial> {
        if cred.principal == Principal::Root {
            return Ok(());
        }
        match evaluate(cred.policies.iter(), &request(action, resource, ctx.client_ip)) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny | Decision::ImplicitDeny => Err(Denial::AccessDenied),
        }
    }

    /// Whether the issuer of a broker link still holds `action` on `resource`:
    /// links act with their creator's identity, judged at each redemption, so a
    /// deleted user or a removed permission stops the link. Rotating one access
    /// key does not.
    pub async fn issuer_allows(&self, issuer: &LinkIssuer, action: &str, resource: &str, ctx: &RequestContext) -> Result<bool, StoreError> {
        let docs = match issuer {
            LinkIssuer::Root => return Ok(true),
            LinkIssuer::User(u) => match self.store.user(u).await? {
                Some(user) => user.policies,
                None => return Ok(false),
            },
            LinkIssuer::Role(r) => match self.store.role(r).await? {
                Some(role) => role.policies,
                None => return Ok(false),
            },
        };
        Ok(evaluate(parse_policies(docs).iter(), &request(action, resource, ctx.client_ip)) == Decision::Allow)
    }

    /// Authorizes `iam:{action}` on `*` for `caller`.
    fn require(&self, caller: &Caller, action: &str) -> IdentityResult<()> {
        let action = format!("iam:{action}");
        if caller.may(&action, "*") {
            return Ok(());
        }
        Err(IdentityError::AccessDenied { caller_arn: self.principal_arn(&caller.credential.principal), action })
    }

    /// Runs a change: authorized first, cache cleared after it succeeded.
    fn changed<T>(&self, caller: &Caller, action: &str, result: IdentityResult<T>) -> IdentityResult<T> {
        if result.is_ok() {
            self.invalidate();
            tracing::info!(action, principal = caller.credential.principal.source_user(), "identity changed");
        }
        result
    }
}

/// `Ok` if the store found what it was asked to change, else the `missing` error.
fn found(changed: bool, missing: impl FnOnce() -> IdentityError) -> IdentityResult<()> {
    if changed { Ok(()) } else { Err(missing()) }
}

/// A named inline policy, checked before it is stored.
fn check_policy(name: &str, document: &str) -> IdentityResult<()> {
    validate_name(name, NameKind::Policy)?;
    validate_policy(document)
}

fn request<'a>(action: &'a str, resource: &'a str, ip: IpAddr) -> AccessRequest<'a> {
    AccessRequest { action, resource, source_ip: ip.to_canonical() }
}

fn parse_policies(docs: Vec<NamedPolicy>) -> Vec<PolicyDocument> {
    docs.into_iter()
        .filter_map(|(name, doc)| match PolicyDocument::parse(&doc) {
            Ok(p) => Some(p),
            Err(e) => {
                // Stored documents were validated on the way in; a bad one grants
                // nothing (fail closed).
                tracing::error!(policy = %name, error = %e.message, "stored policy does not parse");
                None
            }
        })
        .collect()
}

/// Users.
impl Identities {
    /// `CreateUser`.
    pub async fn create_user(&self, caller: &Caller, name: &str) -> IdentityResult<UserRecord> {
        self.require(caller, "CreateUser")?;
        validate_name(name, NameKind::User)?;
        let now = self.clock.now_ms();
        let result = match self.store.create_user(name, now).await? {
            true => Ok(UserRecord { name: name.to_owned(), created_ms: now, policies: Vec::new() }),
            false => Err(IdentityError::UserExists(name.to_owned())),
        };
        self.changed(caller, "CreateUser", result)
    }

    /// `DeleteUser`: the user with its keys, policies and sessions.
    pub async fn delete_user(&self, caller: &Caller, name: &str) -> IdentityResult<()> {
        self.require(caller, "DeleteUser")?;
        let result = found(self.store.delete_user(name).await?, || IdentityError::NoSuchUser(name.to_owned()));
        self.changed(caller, "DeleteUser", result)
    }

    /// `GetUser` (also what `GetUserPolicy` reads).
    pub async fn user(&self, caller: &Caller, action: &str, name: &str) -> IdentityResult<UserRecord> {
        self.require(caller, action)?;
        self.store.user(name).await?.ok_or_else(|| IdentityError::NoSuchUser(name.to_owned()))
    }

    /// `ListUsers`.
    pub async fn list_users(&self, caller: &Caller) -> IdentityResult<Vec<UserRecord>> {
        self.require(caller, "ListUsers")?;
        Ok(self.store.list_users().await?)
    }

    /// `PutUserPolicy`: adds or replaces a named inline policy.
    pub async fn put_user_policy(&self, caller: &Caller, user: &str, name: &str, document: &str) -> IdentityResult<()> {
        self.require(caller, "PutUserPolicy")?;
        check_policy(name, document)?;
        let result = found(self.store.put_user_policy(user, name, document).await?, || IdentityError::NoSuchUser(user.to_owned()));
        self.changed(caller, "PutUserPolicy", result)
    }

    /// `DeleteUserPolicy`.
    pub async fn delete_user_policy(&self, caller: &Caller, user: &str, name: &str) -> IdentityResult<()> {
        self.require(caller, "DeleteUserPolicy")?;
        let result = if self.store.delete_user_policy(user, name).await? {
            Ok(())
        } else if self.store.user(user).await?.is_none() {
            Err(IdentityError::NoSuchUser(user.to_owned()))
        } else {
            Err(IdentityError::NoSuchPolicy { user: user.to_owned(), name: name.to_owned() })
        };
        self.changed(caller, "DeleteUserPolicy", result)
    }
}

/// Access keys.
impl Identities {
    /// `CreateAccessKey`: at most two per user (one in use, one for rotation).
    pub async fn create_key(&self, caller: &Caller, user: &str) -> IdentityResult<NewKey> {
        self.require(caller, "CreateAccessKey")?;
        let id = new_access_key_id(false);
        let secret = new_secret_access_key();
        let record = KeyRecord {
            secret_sealed: self.master.seal(secret.as_bytes(), id.as_bytes()),
            access_key_id: id,
            user: user.to_owned(),
            active: true,
            created_ms: self.clock.now_ms(),
        };
        let result = match self.store.add_key(&record).await? {
            AddKey::Added => Ok(NewKey { record, secret }),
            AddKey::NoUser => Err(IdentityError::NoSuchUser(user.to_owned())),
            AddKey::LimitExceeded => Err(IdentityError::KeyLimit(user.to_owned())),
        };
        self.changed(caller, "CreateAccessKey", result)
    }

    /// `ListAccessKeys` of a user.
    pub async fn list_keys(&self, caller: &Caller, user: &str) -> IdentityResult<Vec<KeyRecord>> {
        self.require(caller, "ListAccessKeys")?;
        if self.store.user(user).await?.is_none() {
            return Err(IdentityError::NoSuchUser(user.to_owned()));
        }
        Ok(self.store.list_keys(user).await?)
    }

    /// One key (read as `ListAccessKeys`); with `user`, only if it is that user's.
    pub async fn key(&self, caller: &Caller, id: &str, user: Option<&str>) -> IdentityResult<KeyRecord> {
        self.require(caller, "ListAccessKeys")?;
        self.find_key(id, user).await
    }

    async fn find_key(&self, id: &str, user: Option<&str>) -> IdentityResult<KeyRecord> {
        match self.store.key(id).await? {
            Some(k) if user.is_none_or(|u| u == k.user) => Ok(k),
            _ => Err(IdentityError::NoSuchKey(id.to_owned())),
        }
    }

    /// `UpdateAccessKey`: an inactive key authenticates nothing, at once.
    pub async fn set_key_active(&self, caller: &Caller, id: &str, user: Option<&str>, active: bool) -> IdentityResult<KeyRecord> {
        self.require(caller, "UpdateAccessKey")?;
        let mut key = self.find_key(id, user).await?;
        let result = if self.store.set_key_active(id, active).await? {
            key.active = active;
            Ok(key)
        } else {
            Err(IdentityError::NoSuchKey(id.to_owned()))
        };
        self.changed(caller, "UpdateAccessKey", result)
    }

    /// `DeleteAccessKey`.
    pub async fn delete_key(&self, caller: &Caller, id: &str, user: Option<&str>) -> IdentityResult<()> {
        self.require(caller, "DeleteAccessKey")?;
        self.find_key(id, user).await?;
        let result = found(self.store.delete_key(id).await?, || IdentityError::NoSuchKey(id.to_owned()));
        self.changed(caller, "DeleteAccessKey", result)
    }
}

/// Roles and sessions.
impl Identities {
    /// `CreateRole`.
    pub async fn create_role(&self, caller: &Caller, new: NewRole) -> IdentityResult<RoleRecord> {
        self.require(caller, "CreateRole")?;
        validate_name(&new.name, NameKind::Role)?;
        let mut trusted: Vec<String> = Vec::with_capacity(new.trusted_users.len());
        for u in new.trusted_users {
            if u != "*" {
                validate_name(&u, NameKind::TrustedUser)?;
            }
            if !trusted.contains(&u) {
                trusted.push(u);
            }
        }
        let max = new.max_session_secs.unwrap_or(*ROLE_SESSION_RANGE.start());
        if !ROLE_SESSION_RANGE.contains(&max) {
            return Err(IdentityError::InvalidSessionDuration(max));
        }
        for (name, doc) in &new.policies {
            check_policy(name, doc)?;
        }
        let role = RoleRecord {
            name: new.name,
            created_ms: self.clock.now_ms(),
            max_session_secs: max,
            trusted_users: trusted,
            policies: new.policies,
            revoked_before_ms: 0,
        };
        let result = if self.store.create_role(&role).await? { Ok(role) } else { Err(IdentityError::RoleExists(role.name)) };
        self.changed(caller, "CreateRole", result)
    }

    /// `GetRole`.
    pub async fn role(&self, caller: &Caller, name: &str) -> IdentityResult<RoleRecord> {
        self.require(caller, "GetRole")?;
        self.store.role(name).await?.ok_or_else(|| IdentityError::NoSuchRole(name.to_owned()))
    }

    /// `ListRoles`.
    pub async fn list_roles(&self, caller: &Caller) -> IdentityResult<Vec<RoleRecord>> {
        self.require(caller, "ListRoles")?;
        Ok(self.store.list_roles().await?)
    }

    /// `DeleteRole`: the role and its sessions.
    pub async fn delete_role(&self, caller: &Caller, name: &str) -> IdentityResult<()> {
        self.require(caller, "DeleteRole")?;
        let result = found(self.store.delete_role(name).await?, || IdentityError::NoSuchRole(name.to_owned()));
        self.changed(caller, "DeleteRole", result)
    }

    /// `PutRolePolicy`.
    pub async fn put_role_policy(&self, caller: &Caller, role: &str, name: &str, document: &str) -> IdentityResult<()> {
        self.require(caller, "PutRolePolicy")?;
        check_policy(name, document)?;
        let result = found(self.store.put_role_policy(role, name, document).await?, || IdentityError::NoSuchRole(role.to_owned()));
        self.changed(caller, "PutRolePolicy", result)
    }

    /// Revokes every session of the role issued before now (stamped when the
    /// change is made, not when the request arrived: a session issued while this
    /// request was being authenticated is still "before"). Returns the instant.
    pub async fn revoke_role_sessions(&self, caller: &Caller, role: &str) -> IdentityResult<i64> {
        self.require(caller, "RevokeRoleSessions")?;
        let now = self.clock.now_ms();
        let result =
            if self.store.revoke_role_sessions(role, now).await? { Ok(now) } else { Err(IdentityError::NoSuchRole(role.to_owned())) };
        self.changed(caller, "RevokeRoleSessions", result)
    }

    /// A role, for `AssumeRole`: no `iam:` permission is needed to assume one,
    /// only the role's trust (checked by the caller of this).
    pub async fn role_to_assume(&self, name: &str) -> Result<Option<RoleRecord>, StoreError> {
        self.store.role(name).await
    }

    /// Issues temporary credentials acting as `principal` for `secs` seconds.
    pub async fn issue_session(&self, principal: Principal, secs: u64) -> Result<IssuedSession, StoreError> {
        let access_key_id = new_access_key_id(true);
        let secret = new_secret_access_key();
        let token = random_token(64);
        // Millisecond precision: a revocation at time T must not refuse a session
        // issued later within the same second.
        let now_ms = self.clock.now_ms();
        let expires_ms = now_ms.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000));
        let record = SessionRecord {
            secret_sealed: self.master.seal(secret.as_bytes(), access_key_id.as_bytes()),
            access_key_id: access_key_id.clone(),
            token_hash: token_hash(&token),
            principal,
            created_ms: now_ms,
            expires_ms,
        };
        self.store.create_session(&record).await?;
        Ok(IssuedSession { access_key_id, secret, token, expires_ms })
    }

    /// Deletes sessions that have expired; returns how many.
    pub async fn purge_sessions(&self) -> Result<usize, StoreError> {
        self.store.purge_sessions(self.clock.now_ms()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_iam() {
        assert!(validate_name("alice", NameKind::User).is_ok());
        assert!(validate_name("a+b=c,d.e@f_g-h", NameKind::User).is_ok());
        assert!(validate_name(&"x".repeat(64), NameKind::User).is_ok());
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(matches!(validate_name(bad, NameKind::Role), Err(IdentityError::InvalidName(NameKind::Role, _))), "{bad:?}");
        }
    }

    #[test]
    fn policies_are_parsed_and_bounded() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert!(validate_policy(ok).is_ok());
        assert!(matches!(validate_policy(r#"{"Statement":[{"Effect":"Maybe"}]}"#), Err(IdentityError::MalformedPolicy(_))));
        let big = format!(r#"{{"Id": "{}", "Statement": []}}"#, "x".repeat(MAX_POLICY_LEN));
        assert!(matches!(validate_policy(&big), Err(IdentityError::PolicyTooLarge(_))));
    }
}
