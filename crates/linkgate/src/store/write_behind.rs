//! Write-behind buffering for the link port, as a decorator.
//!
//! The redemption path would otherwise pay a durable commit for every use of an
//! unlimited link and every refused attempt. [`BufferedLinks`] keeps those writes
//! ([`LinkStore::count_uses`], [`LinkStore::append_audit`],
//! [`LinkStore::settle_audit`]) in memory and writes them in batches, each
//! with one [`LinkStore::record_activity`] (one commit, all or nothing): when
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
use super::links::{Activity, AuditRecord, AuditSettle, Consume, LinkFilter, LinkRecord, LinkStore, UseCount};

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
    /// A flush has been asked for since these were taken: the writes that
    /// follow a full batch must not each start one (every flush waiting behind
    /// the first would commit, and fsync, a handful of rows).
    flush_asked: bool,
}

impl Pending {
    fn len(&self) -> usize {
        self.audit.len() + self.settles.len() + self.uses.len()
    }

    fn add_use(&mut self, link_id: &str, count: u64, last_ms: i64) {
        let e = self.uses.entry(link_id.to_owned()).or_insert((0, last_ms));
        e.0 += count;
        e.1 = e.1.max(last_ms);
    }

    fn add_uses(&mut self, uses: &[UseCount]) {
        for u in uses {
            self.add_use(&u.link_id, u.count, u.last_ms);
        }
    }

    fn merge_older(&mut self, older: Pending) {
        let newer = std::mem::replace(self, older);
        self.flush_asked = newer.flush_asked;
        self.audit.extend(newer.audit);
        self.settles.extend(newer.settles);
        for (id, (count, last)) in newer.uses {
            self.add_use(&id, count, last);
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

    /// Applies `f` to the buffer; tells whether the caller should flush now (the
    /// batch is full and no flush has been asked for since it was last taken).
    fn buffer(&self, f: impl FnOnce(&mut Pending)) -> bool {
        let mut p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut p);
        let flush = p.len() >= BATCH && !p.flush_asked;
        p.flush_asked |= flush;
        flush
    }

    /// Writes everything buffered. On failure the rows stay buffered for the next flush.
    pub async fn flush(&self) -> StoreResult<()> {
        let _one_at_a_time = self.flushing.lock().await;
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if taken.len() == 0 {
            return Ok(());
        }
        let Pending { audit, settles, uses, .. } = taken;
        let uses = uses.into_iter().map(|(link_id, (count, last_ms))| UseCount { link_id, count, last_ms }).collect();
        let activity = Arc::new(Activity { uses, rows: audit, settles });
        let written = self.inner.record_activity(activity.clone()).await;
        if written.is_err() {
            // Nothing was written: keep it all for the next flush.
            let Activity { uses, rows, settles } = Arc::try_unwrap(activity).unwrap_or_else(|shared| (*shared).clone());
            let mut older = Pending { audit: rows, settles, ..Pending::default() };
            older.add_uses(&uses);
            self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).merge_older(older);
        }
        written
    }

    /// Reads show buffered rows and counts: flush first. A flush that fails (say,
    /// a full disk) keeps them buffered and does not fail the read.
    async fn flush_before_read(&self) {
        if let Err(e) = self.flush().await {
            tracing::warn!(error = %e, "cannot write buffered link audit rows and use counts; they stay buffered");
        }
    }

    /// Adds the uses still buffered (counted since the last flush began, or kept
    /// by a flush that failed) to links just read from the store.
    fn add_unwritten_uses<'a>(&self, links: impl Iterator<Item = &'a mut LinkRecord>) {
        let p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if p.uses.is_empty() {
            return;
        }
        for link in links {
            if let Some((count, _)) = p.uses.get(&link.id) {
                link.uses += count;
            }
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
        let full = self.buffer(|p| p.add_use(link_id, 1, at_ms));
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
        let mut link = self.inner.link(id).await?;
        self.add_unwritten_uses(link.iter_mut());
        Ok(link)
    }

    async fn list_links(&self, filter: &LinkFilter, limit: usize) -> StoreResult<Vec<LinkRecord>> {
        self.flush_before_read().await;
        let mut links = self.inner.list_links(filter, limit).await?;
        self.add_unwritten_uses(links.iter_mut());
        Ok(links)
    }

    async fn consume(&self, id: &str, now_ms: i64, audit: AuditRecord) -> StoreResult<Consume> {
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
        let full = self.buffer(|p| p.add_uses(uses));
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

    async fn record_activity(&self, activity: Arc<Activity>) -> StoreResult<()> {
        let full = self.buffer(|p| {
            p.add_uses(&activity.uses);
            p.audit.extend_from_slice(&activity.rows);
            p.settles.extend_from_slice(&activity.settles);
        });
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Counts the audit batches that reach it; each takes a few milliseconds, as a
    /// commit does.
    #[derive(Default)]
    struct SlowStore {
        batches: AtomicUsize,
        rows: AtomicUsize,
    }

    #[async_trait]
    impl LinkStore for SlowStore {
        async fn record_activity(&self, activity: Arc<Activity>) -> StoreResult<()> {
            if !activity.rows.is_empty() {
                self.batches.fetch_add(1, Ordering::Relaxed);
                self.rows.fetch_add(activity.rows.len(), Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(3)).await;
            Ok(())
        }
        async fn count_uses(&self, _: &[UseCount]) -> StoreResult<()> {
            unreachable!()
        }
        async fn append_audit(&self, _: &[AuditRecord]) -> StoreResult<()> {
            unreachable!()
        }
        async fn settle_audit(&self, _: &[AuditSettle]) -> StoreResult<()> {
            unreachable!()
        }
        async fn create_link(&self, _: &LinkRecord) -> StoreResult<()> {
            unreachable!()
        }
        async fn link_by_token_hash(&self, _: &str) -> StoreResult<Option<LinkRecord>> {
            unreachable!()
        }
        async fn link(&self, _: &str) -> StoreResult<Option<LinkRecord>> {
            unreachable!()
        }
        async fn list_links(&self, _: &LinkFilter, _: usize) -> StoreResult<Vec<LinkRecord>> {
            unreachable!()
        }
        async fn consume(&self, _: &str, _: i64, _: AuditRecord) -> StoreResult<Consume> {
            unreachable!()
        }
        async fn refund(&self, _: &str, _: &AuditSettle) -> StoreResult<()> {
            unreachable!()
        }
        async fn revoke(&self, _: &str, _: i64) -> StoreResult<bool> {
            unreachable!()
        }
        async fn revoke_matching(&self, _: &LinkFilter, _: i64) -> StoreResult<usize> {
            unreachable!()
        }
        async fn cut_group_expiry(&self, _: &str, _: i64) -> StoreResult<usize> {
            unreachable!()
        }
        async fn audit(&self, _: &str, _: usize) -> StoreResult<Vec<AuditRecord>> {
            unreachable!()
        }
        async fn purge(&self, _: i64, _: i64, _: i64) -> StoreResult<(usize, usize)> {
            unreachable!()
        }
    }

    fn row(at_ms: i64) -> AuditRecord {
        AuditRecord {
            link_id: "l".into(),
            at_ms,
            client_ip: "192.0.2.1".into(),
            user_agent: None,
            method: "GET".into(),
            status: 200,
            outcome: "granted".into(),
            bytes: 1,
        }
    }

    /// Rows keep arriving while a full batch is being written. Before, every row
    /// pushed after the batch filled started a flush of its own; those queued
    /// behind the first and each wrote the few rows that had arrived meanwhile
    /// (one commit and fsync apiece: 27 batches here where 5 will do).
    #[tokio::test]
    async fn a_full_batch_asks_for_one_flush() {
        let store = Arc::new(SlowStore::default());
        let buffered = Arc::new(BufferedLinks::new(store.clone()));
        let total = 4 * BATCH;
        for i in 0..total {
            buffered.push_audit(row(i as i64));
            if i % 10 == 9 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        buffered.flush().await.unwrap();
        assert_eq!(store.rows.load(Ordering::Relaxed), total, "every row written once");
        let batches = store.batches.load(Ordering::Relaxed);
        assert!(batches <= total / BATCH + 2, "{batches} batches for {total} rows");
    }
}
