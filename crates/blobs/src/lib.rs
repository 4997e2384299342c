//! File bytes behind one trait ([`BlobStore`]): a local directory ([`LocalDirBlobStore`], the default), any
//! S3-compatible object store ([`S3BlobStore`], for several nodes), memory ([`MemoryBlobStore`], tests).
//!
//! A blob is named by a key the caller chooses (the file's `_storage` id). Invariants every backend keeps (the
//! conformance suite in `tests/conformance.rs` checks them on each):
//! * `put` streams the body (never holding it whole in memory), computes its SHA-256 and size on the way, and is
//!   durable when it returns; a failed or over-limit `put` leaves no blob behind and never a half-written one
//!   visible under its key.
//! * `get` streams the bytes, optionally one byte range; `None` for an unknown key.
//! * `delete` is idempotent; `list` names every stored blob with its last-modified time (for the orphan sweep).
//!
//! Boundaries: bytes and keys only; knows nothing of documents, HTTP or the clock (times come from the store).

mod local;
mod memory;
mod s3;

pub use local::LocalDirBlobStore;
pub use memory::MemoryBlobStore;
pub use s3::{S3BlobStore, S3Config};

use bytes::Bytes;
use futures::stream::BoxStream;
use protocol::UnixTime;
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::sync::Arc;

/// A body being uploaded or downloaded, in chunks.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// A shared blob store.
pub type DynBlobStore = Arc<dyn BlobStore>;

/// What a successful `put` stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOutcome {
    pub size: u64,
    pub sha256: [u8; 32],
}

/// A blob being read: its total size and the requested bytes.
pub struct BlobRead {
    /// The whole blob's size (not only the range's).
    pub size: u64,
    pub body: ByteStream,
}

/// A stored blob, as `list` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobEntry {
    pub key: String,
    pub size: u64,
    pub modified: UnixTime,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The body is longer than the limit `put` was given; nothing was stored.
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The incoming body failed (the client went away mid-upload); nothing was stored.
    #[error("the body could not be read: {0}")]
    Body(std::io::Error),
    /// A key outside the allowed alphabet.
    #[error("invalid blob key {0:?}")]
    InvalidKey(String),
    /// A range outside the blob.
    #[error("range {start}..{end} is outside the blob of {size} bytes")]
    InvalidRange { start: u64, end: u64, size: u64 },
    /// The store failed (disk, network, the object store's answer).
    #[error("blob store: {0}")]
    Backend(String),
}

impl BlobError {
    fn backend(context: &str, error: impl std::fmt::Display) -> BlobError {
        BlobError::Backend(format!("{context}: {error}"))
    }
}

/// Where file bytes live. See the crate documentation for the invariants.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `body` under `key` (replacing nothing: keys are fresh), failing with [`BlobError::TooLarge`] as soon
    /// as more than `limit` bytes arrive.
    async fn put(&self, key: &str, body: ByteStream, limit: Option<u64>) -> Result<PutOutcome, BlobError>;

    /// The blob's bytes (all, or `range` of them); `None` when there is no such blob.
    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<BlobRead>, BlobError>;

    /// Removes the blob; removing a missing blob succeeds.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;

    /// Every stored blob.
    async fn list(&self) -> Result<Vec<BlobEntry>, BlobError>;

    /// Removes leftovers of interrupted `put`s that started before `before` (local temporary files); stores
    /// without such leftovers do nothing. Returns how many were removed.
    async fn sweep_incomplete(&self, before: UnixTime) -> Result<usize, BlobError> {
        let _ = before;
        Ok(0)
    }

    /// Where the bytes are, for messages.
    fn describe(&self) -> String;
}

/// Keys are 1-128 characters of `[A-Za-z0-9_-]` (document ids qualify), so they are safe as file names and object
/// paths everywhere.
pub fn check_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !key.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(key.to_string()))
    }
}

fn check_range(range: &Range<u64>, size: u64) -> Result<(), BlobError> {
    if range.start > range.end || range.end > size {
        return Err(BlobError::InvalidRange { start: range.start, end: range.end, size });
    }
    Ok(())
}

/// SHA-256 and length of a body as it streams by, with the size limit.
pub(crate) struct Hashing {
    hasher: Sha256,
    size: u64,
    limit: Option<u64>,
}

impl Hashing {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Hashing { hasher: Sha256::new(), size: 0, limit }
    }

    /// Counts a chunk; fails once the total passes the limit.
    pub(crate) fn update(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        self.size += chunk.len() as u64;
        if let Some(limit) = self.limit.filter(|limit| self.size > *limit) {
            return Err(BlobError::TooLarge { limit });
        }
        self.hasher.update(chunk);
        Ok(())
    }

    pub(crate) fn finish(self) -> PutOutcome {
        PutOutcome { size: self.size, sha256: self.hasher.finalize().into() }
    }
}

/// A whole body as a one-chunk stream (actions storing bytes they hold, tests).
pub fn stream_of(bytes: impl Into<Bytes>) -> ByteStream {
    let bytes = bytes.into();
    Box::pin(futures::stream::once(async move { Ok(bytes) }))
}

/// Reads a whole stream into memory (actions' `ctx.storage.get`, tests); fails past `limit` bytes.
pub async fn collect(mut body: ByteStream, limit: usize) -> Result<Bytes, BlobError> {
    use futures::StreamExt;
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| BlobError::backend("reading the blob", e))?;
        if out.len() + chunk.len() > limit {
            return Err(BlobError::TooLarge { limit: limit as u64 });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}
