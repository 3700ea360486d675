//! The link port: broker links and their audit trail.
//!
//! Only the SHA-256 of a link's token is stored: a copy of the database yields no
//! usable link. Taking a use is one atomic change ([`LinkStore::consume`]) that
//! also writes the attempt's audit row, so `max_uses = N` means exactly N
//! successes however many requests race, and no committed use is ever without its
//! audit row. Counting uses of unlimited links and appending other audit rows are
//! batch writes, which [`super::write_behind::BufferedLinks`] may buffer.

use std::sync::Arc;

use async_trait::async_trait;

use super::StoreResult;
pub use crate::links::model::{AuditId, AuditRecord, Consume, Delivery, LinkFilter, LinkIssuer, LinkMethod, LinkRecord, LinkTarget};

/// Uses of a link without `max_uses`, to add to its count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UseCount {
    /// The link.
    pub link_id: String,
    /// How many uses.
    pub count: u64,
    /// When the last of them happened, unix ms.
    pub last_ms: i64,
}

/// One flush of the write-behind buffer: use counts, new audit rows and settles,
/// written together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Uses of links without `max_uses`.
    pub uses: Vec<UseCount>,
    /// Attempts to append to audit trails.
    pub rows: Vec<AuditRecord>,
    /// Rows written by [`LinkStore::consume`] to settle.
    pub settles: Vec<AuditSettle>,
}

impl Activity {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.uses.is_empty() && self.rows.is_empty() && self.settles.is_empty()
    }
}

/// The final word on an audit row written by [`LinkStore::consume`]: what was
/// really answered and how many bytes went out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSettle {
    /// The row.
    pub id: AuditId,
    /// HTTP status answered.
    pub status: u16,
    /// Outcome (`granted`, `incomplete`, `uploaded`, …).
    pub outcome: String,
    /// Body bytes transferred.
    pub bytes: u64,
}

/// Links and their audit trails.
#[async_trait]
pub trait LinkStore: Send + Sync {
    /// Records a new link; a duplicate id or token hash is a conflict.
    async fn create_link(&self, link: &LinkRecord) -> StoreResult<()>;
    /// The link whose token hashes to `token_hash` (the redemption path).
    async fn link_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<LinkRecord>>;
    /// One link by id (the admin path).
    async fn link(&self, id: &str) -> StoreResult<Option<LinkRecord>>;
    /// Up to `limit` links matching `filter`, newest first.
    async fn list_links(&self, filter: &LinkFilter, limit: usize) -> StoreResult<Vec<LinkRecord>>;
    /// Atomically takes one use if the link is not revoked, not expired at `now_ms`
    /// and not used up, and appends `audit` in the same transaction; otherwise says
    /// why not (and writes nothing). Durable when it returns.
    ///
    /// Once the returned future has been polled, the attempt goes ahead even if
    /// the caller stops waiting (the client went away): a use taken then has its
    /// row settled as `499 abandoned` by the store, so the trail shows a use that
    /// nobody received.
    async fn consume(&self, id: &str, now_ms: i64, audit: AuditRecord) -> StoreResult<Consume>;
    /// Gives back a use taken by [`LinkStore::consume`] whose request could not be
    /// completed (an upload that could not be stored), and settles its audit row.
    async fn refund(&self, id: &str, settle: &AuditSettle) -> StoreResult<()>;
    /// Revokes one link; `false` if unknown or already revoked.
    async fn revoke(&self, id: &str, now_ms: i64) -> StoreResult<bool>;
    /// Revokes every live (not yet revoked) link matching `filter`; `bucket` +
    /// `prefix` match object targets whose key starts with the prefix. An empty
    /// filter revokes nothing (a bulk revocation must say what it means). Returns
    /// how many.
    async fn revoke_matching(&self, filter: &LinkFilter, now_ms: i64) -> StoreResult<usize>;
    /// Sets `expires_ms = min(expires_ms, given)` for every link of `group`;
    /// returns how many links it shortened.
    async fn cut_group_expiry(&self, group: &str, expires_ms: i64) -> StoreResult<usize>;
    /// Adds uses to links without `max_uses` (nothing to enforce, so no atomic
    /// take is needed); unknown links are skipped.
    async fn count_uses(&self, uses: &[UseCount]) -> StoreResult<()>;
    /// Appends attempts to audit trails.
    async fn append_audit(&self, rows: &[AuditRecord]) -> StoreResult<()>;
    /// Settles audit rows written by [`LinkStore::consume`].
    async fn settle_audit(&self, settles: &[AuditSettle]) -> StoreResult<()>;
    /// [`LinkStore::count_uses`], [`LinkStore::append_audit`] and
    /// [`LinkStore::settle_audit`] together, all or nothing: the write-behind
    /// buffer's flush, which then costs one commit, and which it can retry whole
    /// after a failure without counting a use twice. Shared rather than borrowed:
    /// an implementation that writes on another thread takes it without copying
    /// every row (one flush holds a row per redemption).
    async fn record_activity(&self, activity: Arc<Activity>) -> StoreResult<()>;
    /// The latest `limit` attempts on a link, oldest first.
    async fn audit(&self, link_id: &str, limit: usize) -> StoreResult<Vec<AuditRecord>>;
    /// Deletes links dead (expired, used up or revoked) for longer than
    /// `link_retention_ms`, and audit rows older than `audit_retention_ms`.
    /// Returns (links deleted, audit rows deleted).
    async fn purge(&self, now_ms: i64, link_retention_ms: i64, audit_retention_ms: i64) -> StoreResult<(usize, usize)>;
}
