//! A read-through cache in front of a [`MetaStore`], for the presigned-GET hot path.
//!
//! Valid only when every write goes through this process — the embedded store. A
//! writer invalidates after its commit and before it answers, so a request that
//! starts after a write returned sees the write. A global generation counter stops
//! a reader that raced a writer from caching the row it read before the commit.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::StoreResult;
use super::meta::{
    BucketInfo, Completion, DeleteBucket, Lookup, MetaStore, ObjectMeta, PartInfo, PutPart, UploadInfo, WriteCondition, WriteOutcome,
};

/// Caches found objects of an inner store.
pub struct CachedMeta {
    inner: Arc<dyn MetaStore>,
    objects: RwLock<HashMap<String, ObjectMeta>>,
    generation: AtomicU64,
    capacity: usize,
}

impl std::fmt::Debug for CachedMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedMeta").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

fn cache_key(bucket: &str, key: &str) -> String {
    let mut k = String::with_capacity(bucket.len() + key.len() + 1);
    k.push_str(bucket);
    k.push('\0');
    k.push_str(key);
    k
}

impl CachedMeta {
    /// Wraps `inner`, caching up to `capacity` objects (cleared wholesale when full).
    pub fn new(inner: Arc<dyn MetaStore>, capacity: usize) -> Self {
        Self { inner, objects: RwLock::new(HashMap::new()), generation: AtomicU64::new(0), capacity: capacity.max(1) }
    }

    fn invalidate(&self, bucket: &str, key: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut map) = self.objects.write() {
            map.remove(&cache_key(bucket, key));
        }
    }

    fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut map) = self.objects.write() {
            map.clear();
        }
    }
}

#[async_trait]
impl MetaStore for CachedMeta {
    async fn create_bucket(&self, name: &str, now_ms: i64) -> StoreResult<bool> {
        self.inner.create_bucket(name, now_ms).await
    }

    async fn delete_bucket(&self, name: &str) -> StoreResult<DeleteBucket> {
        let r = self.inner.delete_bucket(name).await;
        self.invalidate_all();
        r
    }

    async fn bucket(&self, name: &str) -> StoreResult<Option<BucketInfo>> {
        self.inner.bucket(name).await
    }

    async fn list_buckets(&self) -> StoreResult<Vec<BucketInfo>> {
        self.inner.list_buckets().await
    }

    async fn set_cors(&self, bucket: &str, cors_xml: Option<&str>) -> StoreResult<bool> {
        self.inner.set_cors(bucket, cors_xml).await
    }

    async fn object(&self, bucket: &str, key: &str) -> StoreResult<Lookup> {
        let id = cache_key(bucket, key);
        if let Ok(map) = self.objects.read()
            && let Some(meta) = map.get(&id)
        {
            return Ok(Lookup::Found(meta.clone()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let found = self.inner.object(bucket, key).await?;
        if let Lookup::Found(meta) = &found
            && let Ok(mut map) = self.objects.write()
            && self.generation.load(Ordering::SeqCst) == generation
        {
            if map.len() >= self.capacity {
                map.clear();
            }
            map.insert(id, meta.clone());
        }
        Ok(found)
    }

    async fn put_object(&self, meta: &ObjectMeta, cond: &WriteCondition) -> StoreResult<WriteOutcome> {
        let r = self.inner.put_object(meta, cond).await;
        self.invalidate(&meta.bucket, &meta.key);
        r
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Option<String>> {
        let r = self.inner.delete_object(bucket, key).await;
        self.invalidate(bucket, key);
        r
    }

    async fn list_objects(&self, bucket: &str, prefix: &str, after: &str, limit: usize) -> StoreResult<Vec<ObjectMeta>> {
        self.inner.list_objects(bucket, prefix, after, limit).await
    }

    async fn create_upload(&self, upload: &UploadInfo) -> StoreResult<bool> {
        self.inner.create_upload(upload).await
    }

    async fn upload(&self, upload_id: &str) -> StoreResult<Option<UploadInfo>> {
        self.inner.upload(upload_id).await
    }

    async fn stale_uploads(&self, initiated_before_ms: i64, limit: usize) -> StoreResult<Vec<UploadInfo>> {
        self.inner.stale_uploads(initiated_before_ms, limit).await
    }

    async fn list_uploads(&self, bucket: &str, prefix: &str, after: (&str, &str), limit: usize) -> StoreResult<Vec<UploadInfo>> {
        self.inner.list_uploads(bucket, prefix, after, limit).await
    }

    async fn put_part(&self, upload_id: &str, part: &PartInfo) -> StoreResult<PutPart> {
        self.inner.put_part(upload_id, part).await
    }

    async fn parts(&self, upload_id: &str) -> StoreResult<Vec<PartInfo>> {
        self.inner.parts(upload_id).await
    }

    async fn complete_upload(&self, upload_id: &str, meta: &ObjectMeta, cond: &WriteCondition) -> StoreResult<Completion> {
        let r = self.inner.complete_upload(upload_id, meta, cond).await;
        self.invalidate(&meta.bucket, &meta.key);
        r
    }

    async fn abort_upload(&self, upload_id: &str) -> StoreResult<Option<Vec<String>>> {
        self.inner.abort_upload(upload_id).await
    }

    async fn referenced_blobs(&self, candidates: &[String]) -> StoreResult<HashSet<String>> {
        self.inner.referenced_blobs(candidates).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
}
