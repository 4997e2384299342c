//! Blobs in memory (tests, `StorageConfig::Memory` deployments). Times come from the caller's clock.

use crate::{check_key, check_range, BlobEntry, BlobError, BlobRead, BlobStore, ByteStream, Hashing, PutOutcome};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use parking_lot::Mutex;
use protocol::UnixTime;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

type Now = Arc<dyn Fn() -> UnixTime + Send + Sync>;

pub struct MemoryBlobStore {
    blobs: Mutex<BTreeMap<String, (Bytes, UnixTime)>>,
    now: Now,
}

impl MemoryBlobStore {
    /// A store whose blobs are stamped with `now()` when they are written.
    pub fn new(now: impl Fn() -> UnixTime + Send + Sync + 'static) -> MemoryBlobStore {
        MemoryBlobStore { blobs: Mutex::new(BTreeMap::new()), now: Arc::new(now) }
    }
}

impl Default for MemoryBlobStore {
    fn default() -> Self {
        MemoryBlobStore::new(|| UnixTime::from_millis(0))
    }
}

#[async_trait::async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(&self, key: &str, mut body: ByteStream, limit: Option<u64>) -> Result<PutOutcome, BlobError> {
        check_key(key)?;
        let mut hashing = Hashing::new(limit);
        let mut bytes = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(BlobError::Body)?;
            hashing.update(&chunk)?;
            bytes.extend_from_slice(&chunk);
        }
        self.blobs.lock().insert(key.to_string(), (bytes.freeze(), (self.now)()));
        Ok(hashing.finish())
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<BlobRead>, BlobError> {
        check_key(key)?;
        let Some((bytes, _)) = self.blobs.lock().get(key).cloned() else { return Ok(None) };
        let size = bytes.len() as u64;
        let range = range.unwrap_or(0..size);
        check_range(&range, size)?;
        let part = bytes.slice(range.start as usize..range.end as usize);
        Ok(Some(BlobRead { size, body: crate::stream_of(part) }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        self.blobs.lock().remove(key);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<BlobEntry>, BlobError> {
        Ok(self
            .blobs
            .lock()
            .iter()
            .map(|(key, (bytes, modified))| BlobEntry {
                key: key.clone(),
                size: bytes.len() as u64,
                modified: *modified,
            })
            .collect())
    }

    fn describe(&self) -> String {
        "memory".to_string()
    }
}
