//! Identities: users, their access keys and policies, roles, and STS sessions.
//!
//! The identity port, beside [`super::meta::MetaStore`], so identity data can live
//! in a different store. Secrets are stored sealed (encrypted under the master key)
//! and session tokens only as hashes: a copy of the database yields neither.

use async_trait::async_trait;

use super::StoreResult;

/// A named inline policy (IAM JSON), as attached to a user or role.
pub type NamedPolicy = (String, String);

/// A user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// Unique name.
    pub name: String,
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
    /// Inline policies, by name.
    pub policies: Vec<NamedPolicy>,
}

/// A long-term access key of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// `AKIA…`.
    pub access_key_id: String,
    /// Owner.
    pub user: String,
    /// The secret, sealed under the master key with the key id as context.
    pub secret_sealed: String,
    /// Inactive keys authenticate nothing (S3 answers `InvalidAccessKeyId`).
    pub active: bool,
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
}

/// A role users may assume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRecord {
    /// Unique name.
    pub name: String,
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
    /// Longest session, seconds (AWS: 3600 default, at most 43200).
    pub max_session_secs: u64,
    /// Users allowed to assume it.
    pub trusted_users: Vec<String>,
    /// Inline policies, by name.
    pub policies: Vec<NamedPolicy>,
    /// Sessions issued before this instant (unix ms) are revoked.
    pub revoked_before_ms: i64,
}

/// Who is acting: the root, a user, or a role someone assumed. Sessions are
/// stored with the principal they act as (`GetSessionToken` with the root
/// credentials gives a root session, for at most an hour as AWS allows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The root identity: may do everything.
    Root,
    /// A user, with the user's policies.
    User(String),
    /// An assumed role, with the role's policies.
    Role {
        /// Role name.
        role: String,
        /// `RoleSessionName`.
        session_name: String,
        /// The user who assumed it.
        source_user: String,
    },
}

/// Temporary credentials issued by STS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret, sealed with the key id as context.
    pub secret_sealed: String,
    /// SHA-256 (hex) of the session token; the token itself is never stored.
    pub token_hash: String,
    /// Who the session acts as.
    pub principal: Principal,
    /// Issued, unix milliseconds.
    pub created_ms: i64,
    /// Expires, unix milliseconds.
    pub expires_ms: i64,
}

/// Outcome of adding an access key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddKey {
    /// Added.
    Added,
    /// No such user.
    NoUser,
    /// The user already has two keys (the rotation limit).
    LimitExceeded,
}

/// Users, keys, roles and sessions.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Creates a user; `false` if the name exists.
    async fn create_user(&self, name: &str, now_ms: i64) -> StoreResult<bool>;
    /// Deletes a user with its keys, policies and sessions; `false` if unknown.
    async fn delete_user(&self, name: &str) -> StoreResult<bool>;
    /// One user.
    async fn user(&self, name: &str) -> StoreResult<Option<UserRecord>>;
    /// All users, by name.
    async fn list_users(&self) -> StoreResult<Vec<UserRecord>>;
    /// Sets (adds or replaces) a named inline policy; `false` if no such user.
    async fn put_user_policy(&self, user: &str, name: &str, document: &str) -> StoreResult<bool>;
    /// Removes a named inline policy; `false` if it did not exist.
    async fn delete_user_policy(&self, user: &str, name: &str) -> StoreResult<bool>;
    /// Adds an access key, at most two per user.
    async fn add_key(&self, key: &KeyRecord) -> StoreResult<AddKey>;
    /// One access key.
    async fn key(&self, access_key_id: &str) -> StoreResult<Option<KeyRecord>>;
    /// A user's keys.
    async fn list_keys(&self, user: &str) -> StoreResult<Vec<KeyRecord>>;
    /// Activates or deactivates a key; `false` if unknown.
    async fn set_key_active(&self, access_key_id: &str, active: bool) -> StoreResult<bool>;
    /// Deletes a key; `false` if unknown.
    async fn delete_key(&self, access_key_id: &str) -> StoreResult<bool>;
    /// Creates a role; `false` if the name exists.
    async fn create_role(&self, role: &RoleRecord) -> StoreResult<bool>;
    /// One role.
    async fn role(&self, name: &str) -> StoreResult<Option<RoleRecord>>;
    /// All roles.
    async fn list_roles(&self) -> StoreResult<Vec<RoleRecord>>;
    /// Deletes a role and its sessions; `false` if unknown.
    async fn delete_role(&self, name: &str) -> StoreResult<bool>;
    /// Sets a named inline role policy; `false` if no such role.
    async fn put_role_policy(&self, role: &str, name: &str, document: &str) -> StoreResult<bool>;
    /// Revokes every session of the role issued before `before_ms`; `false` if unknown.
    async fn revoke_role_sessions(&self, role: &str, before_ms: i64) -> StoreResult<bool>;
    /// Records a new session.
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// One session.
    async fn session(&self, access_key_id: &str) -> StoreResult<Option<SessionRecord>>;
    /// Deletes sessions that expired before `now_ms`; returns how many.
    async fn purge_sessions(&self, now_ms: i64) -> StoreResult<usize>;
}
