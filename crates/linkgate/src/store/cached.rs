//! A read-through cache in front of a [`MetaStore`], for the presigned-GET hot path.
//!
//! Valid only when every write goes through this process — the embedded store. A
//! writer invalidates after its commit and before it answers, so a request that
//! starts after a write returned sees the write. A global generation counter stops a
//! reader that raced a writer from caching the row it read before the commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::{BucketInfo, DeleteBucket, Lookup, MetaStore, ObjectMeta, PartInfo, StoreResult, UploadInfo, WriteCondition, WriteOutcome};

/// Caches found objects of an inner store.
pub struct CachedStore {
    inner: Arc<dyn MetaStore>,
    objects: RwLock<HashMap<String, ObjectMeta>>,
    generation: AtomicU64,
    capacity: usize,
}

impl std::fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

fn cache_key(bucket: &str, key: &str) -> String {
    let mut k = String::with_capacity(bucket.len() + key.len() + 1);
    k.push_str(bucket);
    k.push('\0');
    k.push_str(key);
    k
}

impl CachedStore {
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

impl MetaStore for CachedStore {
    fn create_bucket(&self, name: &str, now_ms: i64) -> StoreResult<bool> {
        self.inner.create_bucket(name, now_ms)
    }

    fn delete_bucket(&self, name: &str) -> StoreResult<DeleteBucket> {
        let r = self.inner.delete_bucket(name);
        self.invalidate_all();
        r
    }

    fn bucket(&self, name: &str) -> StoreResult<Option<BucketInfo>> {
        self.inner.bucket(name)
    }

    fn list_buckets(&self) -> StoreResult<Vec<BucketInfo>> {
        self.inner.list_buckets()
    }

    fn set_cors(&self, bucket: &str, cors_xml: Option<&str>) -> StoreResult<bool> {
        self.inner.set_cors(bucket, cors_xml)
    }

    fn object(&self, bucket: &str, key: &str) -> StoreResult<Lookup> {
        let id = cache_key(bucket, key);
        if let Ok(map) = self.objects.read()
            && let Some(meta) = map.get(&id)
        {
            return Ok(Lookup::Found(meta.clone()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let found = self.inner.object(bucket, key)?;
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

    fn put_object(&self, meta: &ObjectMeta, cond: &WriteCondition) -> StoreResult<WriteOutcome> {
        let r = self.inner.put_object(meta, cond);
        self.invalidate(&meta.bucket, &meta.key);
        r
    }

    fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Option<String>> {
        let r = self.inner.delete_object(bucket, key);
        self.invalidate(bucket, key);
        r
    }

    fn list_objects(&self, bucket: &str, prefix: &str, after: &str, limit: usize) -> StoreResult<Vec<ObjectMeta>> {
        self.inner.list_objects(bucket, prefix, after, limit)
    }

    fn create_upload(&self, upload: &UploadInfo) -> StoreResult<()> {
        self.inner.create_upload(upload)
    }

    fn upload(&self, upload_id: &str) -> StoreResult<Option<UploadInfo>> {
        self.inner.upload(upload_id)
    }

    fn put_part(&self, upload_id: &str, part: &PartInfo) -> StoreResult<(bool, Option<String>)> {
        self.inner.put_part(upload_id, part)
    }

    fn parts(&self, upload_id: &str) -> StoreResult<Vec<PartInfo>> {
        self.inner.parts(upload_id)
    }

    fn complete_upload(&self, upload_id: &str, meta: &ObjectMeta) -> StoreResult<Option<(Option<String>, Vec<String>)>> {
        let r = self.inner.complete_upload(upload_id, meta);
        self.invalidate(&meta.bucket, &meta.key);
        r
    }

    fn abort_upload(&self, upload_id: &str) -> StoreResult<Option<Vec<String>>> {
        self.inner.abort_upload(upload_id)
    }

    fn ping(&self) -> StoreResult<()> {
        self.inner.ping()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[test]
    fn writes_are_seen_by_the_next_read() {
        let dir = std::env::temp_dir().join(format!("linkgate-cached-{}", crate::ids::random_hex(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let s = CachedStore::new(Arc::new(SqliteStore::open(&dir.join("db")).unwrap()), 2);
        s.create_bucket("b", 0).unwrap();
        let meta =
            |f: &str| ObjectMeta { bucket: "b".into(), key: "k".into(), file_id: f.into(), etag: "\"e\"".into(), ..ObjectMeta::default() };
        s.put_object(&meta("f1"), &WriteCondition::None).unwrap();
        let file = |s: &CachedStore| match s.object("b", "k").unwrap() {
            Lookup::Found(m) => Some(m.file_id),
            _ => None,
        };
        assert_eq!(file(&s).as_deref(), Some("f1"));
        assert_eq!(file(&s).as_deref(), Some("f1"));
        s.put_object(&meta("f2"), &WriteCondition::None).unwrap();
        assert_eq!(file(&s).as_deref(), Some("f2"));
        s.delete_object("b", "k").unwrap();
        assert_eq!(file(&s), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
