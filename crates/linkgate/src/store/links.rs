//! Broker links (`/l/{token}`): records, their audit trail, and the [`LinkStore`] trait.
//!
//! A third trait beside [`super::MetaStore`] and [`super::identity::IdentityStore`],
//! so links can move to a shared database with the rest. Only the SHA-256 of a
//! link's token is stored: a copy of the database yields no usable link. Taking a
//! use is one atomic statement ([`LinkStore::consume`]), so `max_uses = N` means
//! exactly N successes however many requests race.

use std::fmt;
use std::str::FromStr;

use super::StoreResult;

/// Who created a link: the admin API records it so links can be listed and revoked
/// per issuer (e.g. when a user leaves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkIssuer {
    /// The root credentials.
    Root,
    /// A user, by name (long-term key or `GetSessionToken` session).
    User(String),
    /// A role, by name (an `AssumeRole` session).
    Role(String),
}

impl LinkIssuer {
    /// The stored and filterable form: `root`, `user:NAME` or `role:NAME`.
    pub fn as_str(&self) -> String {
        match self {
            LinkIssuer::Root => "root".to_owned(),
            LinkIssuer::User(name) => format!("user:{name}"),
            LinkIssuer::Role(name) => format!("role:{name}"),
        }
    }

    /// Reads the [`LinkIssuer::as_str`] form back; `None` for anything else
    /// (including an empty name), so a corrupt row or a bad filter is noticed.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "root" {
            return Some(LinkIssuer::Root);
        }
        match text.split_once(':') {
            Some(("user", name)) if !name.is_empty() => Some(LinkIssuer::User(name.to_owned())),
            Some(("role", name)) if !name.is_empty() => Some(LinkIssuer::Role(name.to_owned())),
            _ => None,
        }
    }
}

impl fmt::Display for LinkIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl FromStr for LinkIssuer {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        LinkIssuer::parse(text).ok_or_else(|| format!("invalid issuer {text:?}: expected root, user:NAME or role:NAME"))
    }
}

/// What a link opens: an object, or a path on a configured upstream API (producers
/// name an upstream; they never give linkgate an arbitrary host).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkTarget {
    /// An object in a bucket.
    Object {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// A request forwarded to a named `[[upstreams]]` entry, signed at that moment.
    Upstream {
        /// The upstream's configured name.
        name: String,
        /// Path (and query) appended to its base URL.
        path: String,
    },
}

/// A broker link as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRecord {
    /// `lnk_` + 24 hex: the public, non-secret handle used by the admin API.
    pub id: String,
    /// SHA-256 (hex) of the token; the token itself is never stored.
    pub token_hash: String,
    /// Who created it.
    pub issuer: LinkIssuer,
    /// What it opens.
    pub target: LinkTarget,
    /// `GET`, or `PUT` for an upload link.
    pub method: String,
    /// `stream` (linkgate sends the bytes) or `redirect` (302 to a short-lived presigned URL).
    pub delivery: String,
    /// Created, unix milliseconds.
    pub created_ms: i64,
    /// Expires (no use at or after this instant), unix milliseconds.
    pub expires_ms: i64,
    /// Not usable before this instant, unix milliseconds.
    pub not_before_ms: Option<i64>,
    /// At most this many successful uses; `None` for unlimited.
    pub max_uses: Option<u64>,
    /// Uses taken so far.
    pub uses: u64,
    /// CIDRs (IPv4 or IPv6) the client must be in; empty for anywhere.
    pub allowed_ips: Vec<String>,
    /// File name for `Content-Disposition`.
    pub filename: Option<String>,
    /// argon2id hash (PHC string) of the link's password, if it has one.
    pub password_hash: Option<String>,
    /// Group, for revoking or cutting the expiry of many links at once.
    pub group: Option<String>,
    /// Revoked at, unix milliseconds.
    pub revoked_ms: Option<i64>,
}

/// Outcome of trying to take one use of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consume {
    /// A use was taken; `uses` counts it.
    Consumed {
        /// Uses after this one.
        uses: u64,
    },
    /// Every use has been taken.
    UsedUp,
    /// The link was revoked.
    Revoked,
    /// The link expired.
    Expired,
    /// No such link (never existed, or purged).
    Missing,
}

/// One redemption attempt, granted or denied: every attempt goes to the link's audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// The link's id.
    pub link_id: String,
    /// When, unix milliseconds.
    pub at_ms: i64,
    /// Client address.
    pub client_ip: String,
    /// `User-Agent`, if sent.
    pub user_agent: Option<String>,
    /// Request method.
    pub method: String,
    /// HTTP status answered.
    pub status: u16,
    /// `granted`, or the denial reason (e.g. `expired`, `ip-not-allowed`).
    pub outcome: String,
    /// Body bytes transferred.
    pub bytes: u64,
}

/// Selects links for listing and bulk revocation; every set field must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkFilter {
    /// Exactly this group.
    pub group: Option<String>,
    /// Exactly this issuer, in [`LinkIssuer::as_str`] form.
    pub issuer: Option<String>,
    /// Object targets in this bucket.
    pub bucket: Option<String>,
    /// Object targets whose key starts with this.
    pub prefix: Option<String>,
}

impl LinkFilter {
    /// True if no field is set (it would select every link).
    pub fn is_empty(&self) -> bool {
        self.group.is_none() && self.issuer.is_none() && self.bucket.is_none() && self.prefix.is_none()
    }
}

/// Where the answer to [`LinkStore::consume_later`] arrives.
pub type ConsumeTicket = tokio::sync::oneshot::Receiver<StoreResult<Consume>>;

/// Links and their audit trails.
pub trait LinkStore: Send + Sync {
    /// Records a new link.
    fn create_link(&self, link: &LinkRecord) -> StoreResult<()>;
    /// The link whose token hashes to `token_hash` (the redemption path).
    fn link_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<LinkRecord>>;
    /// One link by id (the admin path).
    fn link(&self, id: &str) -> StoreResult<Option<LinkRecord>>;
    /// Up to `limit` links matching `filter`, newest first.
    fn list_links(&self, filter: &LinkFilter, limit: usize) -> StoreResult<Vec<LinkRecord>>;
    /// Atomically takes one use if the link is not revoked, not expired at `now_ms`
    /// and not used up (a single `UPDATE … WHERE … RETURNING`, so no read-then-write
    /// race); otherwise says why not. The answer comes through the ticket once the
    /// use is durable, so async callers wait without holding a thread.
    fn consume_later(&self, id: &str, now_ms: i64) -> ConsumeTicket;
    /// [`LinkStore::consume_later`], waited for. Not for async code (it blocks).
    fn consume(&self, id: &str, now_ms: i64) -> StoreResult<Consume> {
        self.consume_later(id, now_ms).blocking_recv().unwrap_or_else(|_| Err(super::StoreError("the store's committer stopped".into())))
    }
    /// Revokes one link; `false` if unknown or already revoked.
    fn revoke(&self, id: &str, now_ms: i64) -> StoreResult<bool>;
    /// Revokes every live (not yet revoked) link matching `filter`; `bucket` + `prefix`
    /// match object targets whose key starts with the prefix. An empty filter revokes
    /// nothing (a bulk revocation must say what it means). Returns how many.
    fn revoke_matching(&self, filter: &LinkFilter, now_ms: i64) -> StoreResult<usize>;
    /// Sets `expires_ms = min(expires_ms, given)` for every link of `group`; returns
    /// how many links it shortened.
    fn cut_group_expiry(&self, group: &str, expires_ms: i64) -> StoreResult<usize>;
    /// Counts a use of a link without `max_uses`. There is no limit to enforce, so
    /// no atomic write is needed: the caller judged the link live from a fresh read,
    /// and the store may buffer the count and write it with the audit rows
    /// ([`LinkStore::flush_audit`]) instead of paying a durable commit per request.
    /// A crash may lose the last moments of counts; never a limit.
    fn note_use(&self, id: &str, now_ms: i64) -> StoreResult<()>;
    /// Appends an attempt to a link's audit trail.
    fn append_audit(&self, rec: &AuditRecord) -> StoreResult<()>;
    /// Writes buffered audit rows and use counts. Stores may buffer
    /// [`LinkStore::append_audit`] and [`LinkStore::note_use`] so the redemption path
    /// does no synchronous write for them; the server flushes every few hundred
    /// milliseconds and reads always see every row and count.
    fn flush_audit(&self) -> StoreResult<()> {
        Ok(())
    }
    /// The latest `limit` attempts on a link, oldest first.
    fn audit(&self, link_id: &str, limit: usize) -> StoreResult<Vec<AuditRecord>>;
    /// Deletes links dead (expired, used up or revoked) for longer than
    /// `link_retention_ms`, and audit rows older than `audit_retention_ms`. Returns
    /// (links deleted, audit rows deleted).
    fn purge(&self, now_ms: i64, link_retention_ms: i64, audit_retention_ms: i64) -> StoreResult<(usize, usize)>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_round_trips_through_its_string_form() {
        for issuer in [LinkIssuer::Root, LinkIssuer::User("alice".into()), LinkIssuer::Role("ci:deploy".into())] {
            assert_eq!(LinkIssuer::parse(&issuer.as_str()), Some(issuer.clone()));
            assert_eq!(issuer.to_string().parse::<LinkIssuer>(), Ok(issuer));
        }
        assert_eq!(LinkIssuer::User("bob".into()).as_str(), "user:bob");
        for bad in ["", "Root", "user:", "role:", "group:x", "alice"] {
            assert_eq!(LinkIssuer::parse(bad), None, "{bad}");
        }
    }
}
