//! Persistence: the narrow, backend-agnostic storage interface under the database.
//!
//! The database layer owns every encoding; a backend stores opaque bytes:
//! * **documents**: `id bytes -> (table number, body bytes)`, the latest revision only;
//! * **index entries**: `(index id, key bytes) -> document id`, where keys compare bytewise (memcmp); a range scan
//!   joins each entry with its document, a keys-only scan ([`Snapshot::scan_keys`]) returns the entries alone;
//! * **the commit log**: `(timestamp, bytes)` appended once per commit, tailed by subscription engines;
//! * **metadata**: a small key/value map (catalog, deployment env vars, ...).
//!
//! Boundaries: no SQL, HTTP or value types leak through this trait. Invariants every backend upholds (the
//! conformance suite in `test_support` checks them): a [`Persistence::write`] batch is all-or-nothing and durable once it returns;
//! commit timestamps are strictly increasing; a [`Snapshot`] sees exactly the state after some commit and never
//! changes while it lives.

mod memory;

pub use memory::MemoryPersistence;

use async_trait::async_trait;
use std::sync::Arc;

/// Commit timestamp: nanoseconds since the Unix epoch, strictly increasing across commits (and restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

/// Identifies one index across all tables; allocated by the database catalog.
pub type IndexId = u32;
/// Identifies one table; encoded in every document id of that table.
pub type TableNumber = u32;

/// A stored document: its table and its encoded body (the database decides the encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    pub table: TableNumber,
    pub body: Vec<u8>,
}

/// One index entry returned by a range scan, joined with its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub key: Vec<u8>,
    pub id: Vec<u8>,
    pub document: StoredDocument,
}

/// One index entry as stored, without its document (a keys-only scan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexKey {
    pub key: Vec<u8>,
    pub id: Vec<u8>,
}

/// A half-open key interval `[start, end)`; `end: None` means unbounded above.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyRange {
    pub start: Vec<u8>,
    pub end: Option<Vec<u8>>,
}

impl KeyRange {
    /// Every key.
    pub fn all() -> Self {
        KeyRange { start: Vec::new(), end: None }
    }

    /// Whether `key` lies in the interval.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|end| key < end)
    }

    /// Whether the interval holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.end.as_deref().is_some_and(|end| end <= self.start.as_slice())
    }
}

/// Scan direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// A document change inside a commit. `body: None` deletes the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentWrite {
    pub id: Vec<u8>,
    pub table: TableNumber,
    pub body: Option<Vec<u8>>,
}

/// An index change inside a commit. `id: None` removes the entry at `key`; `Some(doc id)` inserts or overwrites it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexWrite {
    pub index: IndexId,
    pub key: Vec<u8>,
    pub id: Option<Vec<u8>>,
}

/// One commit: applied atomically and appended to the commit log under `ts`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Commit {
    pub ts: Timestamp,
    pub documents: Vec<DocumentWrite>,
    pub indexes: Vec<IndexWrite>,
    /// The commit-log record (the database's encoding of the write set).
    pub log: Vec<u8>,
}

/// A commit-log record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub ts: Timestamp,
    pub log: Vec<u8>,
}

/// Storage failures. `Conflict` means another writer got there first (the caller may retry);
/// everything else is unexpected and surfaces as an internal error.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("commit timestamp {0:?} is not after the latest commit")]
    NonMonotonicTimestamp(Timestamp),
    #[error("storage conflict: {0}")]
    Conflict(String),
    #[error("storage backend failed: {0}")]
    Backend(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A backend. Implementations must be cheap to share (`Arc<dyn Persistence>`).
#[async_trait]
pub trait Persistence: Send + Sync + 'static {
    /// Applies the commits in order, all or nothing, durably (an acknowledged batch survives a crash).
    /// Each commit's `ts` must be greater than every timestamp already stored, else `NonMonotonicTimestamp`
    /// and nothing is written.
    async fn write(&self, commits: Vec<Commit>) -> Result<()>;

    /// A consistent read view at the latest commit. It never observes later writes.
    async fn snapshot(&self) -> Result<Box<dyn Snapshot>>;

    /// Commit-log records with `ts > after`, oldest first, at most `limit`.
    async fn log_after(&self, after: Timestamp, limit: usize) -> Result<Vec<LogRecord>>;

    /// The timestamp of the latest commit (`None` for an empty store).
    async fn max_ts(&self) -> Result<Option<Timestamp>>;

    /// Removes commit-log records with `ts < before` (documents and indexes are untouched). The latest record is
    /// always kept.
    async fn prune_log(&self, before: Timestamp) -> Result<()>;

    /// Reads a metadata value.
    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Metadata entries whose key starts with `prefix`, in key order.
    async fn list_meta(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>>;

    /// Sets (`Some`) or removes (`None`) metadata values atomically and durably, outside the commit log.
    async fn put_meta(&self, entries: Vec<(String, Option<Vec<u8>>)>) -> Result<()>;

    /// [`Persistence::write`], but only if the latest stored commit is still `expected_latest` (`None`: the store
    /// has no commit yet); otherwise `Conflict` and nothing is written. Several processes that share one store
    /// commit through this, so none of them can slip a commit in between another's conflict check and its write.
    /// Backends that several processes share must check and write in one atomic step; the default (check, then
    /// write) is only right for a store one process writes to.
    async fn write_if_latest(&self, expected_latest: Option<Timestamp>, commits: Vec<Commit>) -> Result<()> {
        let latest = self.max_ts().await?;
        if latest != expected_latest {
            return Err(StorageError::Conflict(format!(
                "the latest commit is {latest:?}, not the expected {expected_latest:?}"
            )));
        }
        self.write(commits).await
    }

    /// Whether other processes may commit to this store too. The database then tails the commit log for their
    /// commits and commits through [`Persistence::write_if_latest`].
    fn is_shared(&self) -> bool {
        false
    }

    /// On a shared store: a wake-up signalled when another process may have committed, so the database reads the
    /// commit log at once instead of at its next poll. Only a hint — the commit log stays the source of truth, and a
    /// lost hint delays nothing beyond the poll interval. `None` (the default): no hints, poll only.
    fn commit_hints(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }

    /// Sets (`Some`) or removes (`None`) one metadata value if it currently equals `expected`; returns whether it
    /// did. Catalog changes go through this so that processes sharing a store never allocate the same table or
    /// index number twice. Same atomicity caveat as [`Persistence::write_if_latest`] for the default.
    async fn put_meta_if(&self, key: &str, expected: Option<&[u8]>, value: Option<Vec<u8>>) -> Result<bool> {
        if self.get_meta(key).await?.as_deref() != expected {
            return Ok(false);
        }
        self.put_meta(vec![(key.to_string(), value)]).await?;
        Ok(true)
    }

    /// Removes every entry of an index (used when an index is dropped or rebuilt).
    async fn clear_index(&self, index: IndexId) -> Result<()>;

    /// Inserts index entries outside the commit log (backfilling a new index from a snapshot's documents).
    async fn backfill_index(&self, entries: Vec<IndexWrite>) -> Result<()>;
}

/// A consistent read view. Holding one must not block writers.
#[async_trait]
pub trait Snapshot: Send + Sync {
    /// The timestamp of the latest commit visible in this view (`Timestamp(0)` for an empty store).
    fn ts(&self) -> Timestamp;

    /// The document with this id, if it exists.
    async fn get(&self, id: &[u8]) -> Result<Option<StoredDocument>>;

    /// Up to `limit` entries of `index` with keys in `range`, in key order (`Asc`) or reverse (`Desc`).
    async fn scan(&self, index: IndexId, range: &KeyRange, order: Order, limit: usize) -> Result<Vec<IndexEntry>>;

    /// [`Snapshot::scan`] without the documents: up to `limit` entries `(key, id)` of `index` in `range`, in key
    /// order or reverse, as stored (no document is read, so an entry whose document is missing is returned too).
    /// For readers that decide from the keys which few documents they need (full-text search scores postings).
    async fn scan_keys(&self, index: IndexId, range: &KeyRange, order: Order, limit: usize) -> Result<Vec<IndexKey>>;
}

/// Shared handle type used by the layers above.
pub type DynPersistence = Arc<dyn Persistence>;
