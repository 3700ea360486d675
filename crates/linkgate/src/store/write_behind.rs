//! Write-behind buffering for the link port, as a decorator.
//!
//! The redemption path would otherwise pay a durable commit for every use of an
//! unlimited link and every refused attempt. [`BufferedLinks`] keeps those writes
//! ([`LinkStore::count_uses`], [`LinkStore::append_audit`],
//! [`LinkStore::settle_audit`]) in memory and writes them in batches: when
//! [`BufferedLinks::flush`] runs (every few hundred milliseconds, and at shutdown),
//! when a batch is full, and before any read that could show them. Everything
//! that decides an answer — taking a use of a limited link with its audit row,
//! revocations, new links — goes straight through.
//!
//! What a crash can lose: the buffered rows and counts of the last flush interval
//! (refused attempts, uses of links without `max_uses`, the final byte counts of
//! settled downloads). Never a limited link's use, and never its audit row.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::StoreResult;
use super::links::{AuditRecord, AuditSettle, Consume, LinkFilter, LinkRecord, LinkStore, UseCount};

/// Rows buffered before a flush is forced.
const BATCH: usize = 512;
/// Most audit rows kept while the store refuses writes: beyond it the oldest are
/// dropped (and the loss logged) rather than memory growing without end.
const MAX_BUFFERED: usize = 100_000;

#[derive(Debug, Default)]
struct Pending {
    audit: Vec<AuditRecord>,
    settles: Vec<AuditSettle>,
    /// link id → (uses, last use ms).
    uses: HashMap<String, (u64, i64)>,
}

impl Pending {
    fn len(&self) -> usize {
        self.audit.len() + self.settles.len() + self.uses.len()
    }

    fn merge_older(&mut self, older: Pending) {
        let newer = std::mem::replace(self, older);
        self.audit.extend(newer.audit);
        self.settles.extend(newer.settles);
        for (id, (count, last)) in newer.uses {
            let e = self.uses.entry(id).or_insert((0, last));
            e.0 += count;
            e.1 = e.1.max(last);
        }
        for list_len in [self.audit.len(), self.settles.len()] {
            if list_len > MAX_BUFFERED {
                tracing::error!(
                    dropped = list_len - MAX_BUFFERED,
                    "link audit rows could not be written for a while; the oldest were dropped"
                );
            }
        }
        if self.audit.len() > MAX_BUFFERED {
            let drop_n = self.audit.len() - MAX_BUFFERED;
            self.audit.drain(..drop_n);
        }
        if self.settles.len() > MAX_BUFFERED {
            let drop_n = self.settles.len() - MAX_BUFFERED;
            self.settles.drain(..drop_n);
        }
    }
}

/// A [`LinkStore`] that buffers counts and audit rows in front of another.
pub struct BufferedLinks {
    inner: Arc<dyn LinkStore>,
    pending: Mutex<Pending>,
    /// Held for a whole flush, so a read that flushes first waits for a flush
    /// already in flight instead of missing its rows.
    flushing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for BufferedLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferedLinks").finish_non_exhaustive()
    }
}

impl BufferedLinks {
    /// Buffers in front of `inner`.
    pub fn new(inner: Arc<dyn LinkStore>) -> Self {
        Self { inner, pending: Mutex::default(), flushing: tokio::sync::Mutex::const_new(()) }
    }

    fn buffer(&self, f: impl FnOnce(&mut Pending)) -> bool {
        let mut p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut p);
        p.len() >= BATCH
    }

    /// Writes everything buffered. On failure the rows stay buffered for the next flush.
    pub async fn flush(&self) -> StoreResult<()> {
        let _one_at_a_time = self.flushing.lock().await;
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if taken.len() == 0 {
            return Ok(());
        }
        let uses: Vec<UseCount> =
            taken.uses.iter().map(|(id, (count, last))| UseCount { link_id: id.clone(), count: *count, last_ms: *last }).collect();
        // Issued together, so a group-committing store writes all three in one
        // transaction; each can still fail (and stay buffered) on its own.
        let (counted, appended, settled) =
            tokio::join!(self.inner.count_uses(&uses), self.inner.append_audit(&taken.audit), self.inner.settle_audit(&taken.settles),);
        let mut left = Pending::default();
        let mut result = Ok(());
        if let Err(e) = counted {
            left.uses = taken.uses;
            result = Err(e);
        }
        if let Err(e) = appended {
            left.audit = taken.audit;
            result = result.and(Err(e));
        }
        if let Err(e) = settled {
            left.settles = taken.settles;
            result = result.and(Err(e));
        }
        if left.len() > 0 {
            self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).merge_older(left);
        }
        result
    }

    /// Reads show buffered rows and counts: flush first. A flush that fails (say,
    /// a full disk) keeps them buffered and does not fail the read.
    async fn flush_before_read(&self) {
        if let Err(e) = self.flush().await {
            tracing::warn!(error = %e, "cannot write buffered link audit rows and use counts; they stay buffered");
        }
    }

    async fn flush_if(&self, full: bool) -> StoreResult<()> {
        if full { self.flush().await } else { Ok(()) }
    }

    /// Buffers an audit row at once, without waiting (for code that cannot await,
    /// such as a response body being dropped); a full batch is flushed in the
    /// background.
    pub fn push_audit(self: &Arc<Self>, row: AuditRecord) {
        let full = self.buffer(|p| p.audit.push(row));
        self.flush_soon(full);
    }

    /// [`BufferedLinks::push_audit`] for a settle.
    pub fn push_settle(self: &Arc<Self>, settle: AuditSettle) {
        let full = self.buffer(|p| p.settles.push(settle));
        self.flush_soon(full);
    }

    /// [`BufferedLinks::push_audit`] for one use of a link without `max_uses`.
    pub fn push_use(self: &Arc<Self>, link_id: &str, at_ms: i64) {
        let full = self.buffer(|p| {
            let e = p.uses.entry(link_id.to_owned()).or_insert((0, at_ms));
            e.0 += 1;
            e.1 = e.1.max(at_ms);
        });
        self.flush_soon(full);
    }

    fn flush_soon(self: &Arc<Self>, full: bool) {
        if full && let Ok(rt) = tokio::runtime::Handle::try_current() {
            let me = self.clone();
            rt.spawn(async move {
                if let Err(e) = me.flush().await {
                    tracing::warn!(error = %e, "cannot write buffered link audit rows; they stay buffered");
                }
            });
        }
    }
}

#[async_trait]
impl LinkStore for BufferedLinks {
    async fn create_link(&self, link: &LinkRecord) -> StoreResult<()> {
        self.inner.create_link(link).await
    }

    async fn link_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<LinkRecord>> {
        self.inner.link_by_token_hash(token_hash).await
    }

    async fn link(&self, id: &str) -> StoreResult<Option<LinkRecord>> {
        self.flush_before_read().await;
        self.inner.link(id).await
    }

    async fn list_links(&self, filter: &LinkFilter, limit: usize) -> StoreResult<Vec<LinkRecord>> {
        self.flush_before_read().await;
        self.inner.list_links(filter, limit).await
    }

    async fn consume(&self, id: &str, now_ms: i64, audit: &AuditRecord) -> StoreResult<Consume> {
        self.inner.consume(id, now_ms, audit).await
    }

    async fn refund(&self, id: &str, settle: &AuditSettle) -> StoreResult<()> {
        self.inner.refund(id, settle).await
    }

    async fn revoke(&self, id: &str, now_ms: i64) -> StoreResult<bool> {
        self.inner.revoke(id, now_ms).await
    }

    async fn revoke_matching(&self, filter: &LinkFilter, now_ms: i64) -> StoreResult<usize> {
        self.inner.revoke_matching(filter, now_ms).await
    }

    async fn cut_group_expiry(&self, group: &str, expires_ms: i64) -> StoreResult<usize> {
        self.inner.cut_group_expiry(group, expires_ms).await
    }

    async fn count_uses(&self, uses: &[UseCount]) -> StoreResult<()> {
        let full = self.buffer(|p| {
            for u in uses {
                let e = p.uses.entry(u.link_id.clone()).or_insert((0, u.last_ms));
                e.0 += u.count;
                e.1 = e.1.max(u.last_ms);
            }
        });
        self.flush_if(full).await
    }

    async fn append_audit(&self, rows: &[AuditRecord]) -> StoreResult<()> {
        let full = self.buffer(|p| p.audit.extend_from_slice(rows));
        self.flush_if(full).await
    }

    async fn settle_audit(&self, settles: &[AuditSettle]) -> StoreResult<()> {
        let full = self.buffer(|p| p.settles.extend_from_slice(settles));
        self.flush_if(full).await
    }

    async fn audit(&self, link_id: &str, limit: usize) -> StoreResult<Vec<AuditRecord>> {
        self.flush_before_read().await;
        self.inner.audit(link_id, limit).await
    }

    async fn purge(&self, now_ms: i64, link_retention_ms: i64, audit_retention_ms: i64) -> StoreResult<(usize, usize)> {
        self.flush_before_read().await;
        self.inner.purge(now_ms, link_retention_ms, audit_retention_ms).await
    }
}
