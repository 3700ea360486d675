//! The authority: who an access key is, and whether it may do this — judged at
//! access time, on every request.
//!
//! A presigned URL is only as valid as the credentials that signed it *when it is
//! used*: a deactivated key, an expired or revoked session, or a policy that no
//! longer allows the action denies the request, whatever the URL says. Resolved
//! credentials are cached for speed; every identity change made through this
//! process clears the cache before it answers, so the next request sees it. (With
//! one process writing the embedded store, that is every change.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::RootCredentials;
use super::policy::{AccessRequest, Decision, PolicyDocument, evaluate};
use super::secrets::{MasterKey, token_hash};
use crate::store::StoreError;
use crate::store::identity::{IdentityStore, SessionPrincipal};

/// Who is acting.
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
        /// Who assumed it.
        source_user: String,
    },
}

impl Principal {
    /// The user whose identity this is, or who assumed the role (`root` for root).
    pub fn source_user(&self) -> &str {
        match self {
            Self::Root => "root",
            Self::User(u) => u,
            Self::Role { source_user, .. } => source_user,
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

/// Resolves keys and judges requests.
pub struct Authority {
    root: RootCredentials,
    store: Arc<dyn IdentityStore>,
    master: Arc<MasterKey>,
    cache: RwLock<HashMap<String, Arc<Credential>>>,
    generation: AtomicU64,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").field("root", &self.root).finish_non_exhaustive()
    }
}

/// Most credentials kept resolved at once (cleared wholesale when full).
const CACHE_CAPACITY: usize = 10_000;

impl Authority {
    /// An authority over `store`, with root credentials and the master key.
    pub fn new(root: RootCredentials, store: Arc<dyn IdentityStore>, master: Arc<MasterKey>) -> Self {
        Self { root, store, master, cache: RwLock::new(HashMap::new()), generation: AtomicU64::new(0) }
    }

    /// The identity store (for the admin and IAM APIs).
    pub fn store(&self) -> &Arc<dyn IdentityStore> {
        &self.store
    }

    /// The master key (to seal new secrets).
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The root credentials.
    pub fn root(&self) -> &RootCredentials {
        &self.root
    }

    /// Forgets every resolved credential. Called after each identity change, before
    /// the change is acknowledged.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut c) = self.cache.write() {
            c.clear();
        }
    }

    /// Resolves an access key: `None` if unknown or inactive (S3: `InvalidAccessKeyId`).
    pub fn resolve(&self, access_key_id: &str) -> Result<Option<Arc<Credential>>, StoreError> {
        if super::secrets::ct_eq(access_key_id, &self.root.access_key_id) {
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
        let Some(cred) = self.load(access_key_id)? else { return Ok(None) };
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

    fn load(&self, access_key_id: &str) -> Result<Option<Credential>, StoreError> {
        let parse = |docs: Vec<(String, String)>| -> Vec<PolicyDocument> {
            docs.into_iter()
                .filter_map(|(name, doc)| match PolicyDocument::parse(&doc) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        // Stored documents were validated on the way in; a bad one
                        // grants nothing (fail closed).
                        tracing::error!(policy = %name, error = %e.message, "stored policy does not parse");
                        None
                    }
                })
                .collect()
        };
        if access_key_id.starts_with("ASIA") {
            let Some(s) = self.store.session(access_key_id)? else { return Ok(None) };
            let Ok(secret) = self.master.open(&s.secret_sealed, s.access_key_id.as_bytes()) else {
                tracing::error!("a session secret does not decrypt with the master key");
                return Ok(None);
            };
            let (principal, policies, revoked_before_ms) = match s.principal {
                SessionPrincipal::User(user) => {
                    let Some(u) = self.store.user(&user)? else { return Ok(None) };
                    (Principal::User(user), parse(u.policies), 0)
                }
                SessionPrincipal::Role { role, session_name, source_user } => {
                    let Some(r) = self.store.role(&role)? else { return Ok(None) };
                    (Principal::Role { role, session_name, source_user }, parse(r.policies), r.revoked_before_ms)
                }
            };
            return Ok(Some(Credential {
                secret: String::from_utf8_lossy(&secret).into_owned(),
                principal,
                session: Some(SessionInfo {
                    token_hash: s.token_hash,
                    created_ms: s.created_ms,
                    expires_ms: s.expires_ms,
                    revoked_before_ms,
                }),
                policies,
            }));
        }
        let Some(key) = self.store.key(access_key_id)? else { return Ok(None) };
        if !key.active {
            return Ok(None);
        }
        let Some(user) = self.store.user(&key.user)? else { return Ok(None) };
        let Ok(secret) = self.master.open(&key.secret_sealed, key.access_key_id.as_bytes()) else {
            tracing::error!("an access key secret does not decrypt with the master key");
            return Ok(None);
        };
        Ok(Some(Credential {
            secret: String::from_utf8_lossy(&secret).into_owned(),
            principal: Principal::User(key.user),
            session: None,
            policies: parse(user.policies),
        }))
    }

    /// Checks the session token and lifetime of temporary credentials.
    pub fn check_session(cred: &Credential, token: Option<&str>, now_ms: i64) -> Result<(), Denial> {
        let Some(s) = &cred.session else { return Ok(()) };
        let Some(token) = token else { return Err(Denial::InvalidToken) };
        if !super::secrets::ct_eq(&token_hash(token), &s.token_hash) {
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

    /// Whether `cred` may perform `action` on `resource` from `source_ip`.
    pub fn authorize(cred: &Credential, action: &str, resource: &str, source_ip: IpAddr) -> Result<(), Denial> {
        if cred.principal == Principal::Root {
            return Ok(());
        }
        match evaluate(cred.policies.iter(), &AccessRequest { action, resource, source_ip }) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny | Decision::ImplicitDeny => Err(Denial::AccessDenied),
        }
    }
}

impl Authority {
    /// Whether the issuer of a broker link still holds `action` on `resource`: links
    /// act with their creator's identity, judged at each redemption, so a deleted
    /// user or a removed permission stops the link. Rotating one access key does not.
    pub fn issuer_allows(
        &self,
        issuer: &crate::store::links::LinkIssuer,
        action: &str,
        resource: &str,
        source_ip: IpAddr,
    ) -> Result<bool, StoreError> {
        use crate::store::links::LinkIssuer;
        let docs = match issuer {
            LinkIssuer::Root => return Ok(true),
            LinkIssuer::User(u) => match self.store.user(u)? {
                Some(user) => user.policies,
                None => return Ok(false),
            },
            LinkIssuer::Role(r) => match self.store.role(r)? {
                Some(role) => role.policies,
                None => return Ok(false),
            },
        };
        let policies: Vec<PolicyDocument> = docs.iter().filter_map(|(_, d)| PolicyDocument::parse(d).ok()).collect();
        Ok(evaluate(policies.iter(), &AccessRequest { action, resource, source_ip }) == Decision::Allow)
    }
}
