//! The document database: serializable transactions over a [`storage::Persistence`] backend.
//!
//! Concurrency control is optimistic with a single committer (see ARCHITECTURE.md): a transaction reads from a
//! consistent snapshot, records every index interval it read ([`ReadSet`]) and buffers its writes. At commit the
//! committer task checks that no commit after the snapshot wrote a key inside those intervals, assigns the next
//! timestamp and persists the batch. Every commit's [`WriteSet`] is kept in a recent-commit window (for the check
//! and for `query_at_ts`) and broadcast to subscribers.
//!
//! Boundaries: no HTTP, no SQL, no system clock (a [`Clock`] is passed in).

pub mod catalog;
pub mod clock;
mod committer;
mod error;
pub mod query;
pub mod schema;
pub mod search;
mod serializable;
mod transaction;
pub mod write_log;

pub use catalog::{Catalog, IndexInfo, TableInfo};
pub use clock::{Clock, Entropy, ManualClock, OsEntropy, SeededEntropy, SystemClock, UnixTime};
pub use error::{DatabaseError, Result};
pub use query::{IndexRange, ScanRequest, ScanResult};
pub use schema::{IndexDefinition, Schema, SearchIndexDefinition, TableDefinition};
pub use search::{SearchHit, SearchMatch, SearchQuery};
pub use serializable::{run_serializable, run_serializable_with, MaybeConflict, RetryPolicy};
pub use storage::{KeyRange, Order, Timestamp};
pub use transaction::{Transaction, TransactionLimits, TransactionUsage};
pub use write_log::{CommitEntry, ReadSet, WriteSet};

use committer::{CommitRequest, CommitState};
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;
use storage::{DynPersistence, Order as ScanOrder};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Shared handle to a deployment's database. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) persistence: DynPersistence,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) entropy: Arc<dyn Entropy>,
    pub(crate) schema: Schema,
    pub(crate) catalog: RwLock<Arc<Catalog>>,
    /// Serializes catalog changes (new tables).
    pub(crate) catalog_change: tokio::sync::Mutex<()>,
    pub(crate) commit_state: Mutex<CommitState>,
    pub(crate) commits: mpsc::Sender<CommitRequest>,
    pub(crate) notify: broadcast::Sender<Arc<CommitEntry>>,
    pub(crate) limits: TransactionLimits,
    pub(crate) last_creation_time: Mutex<f64>,
    /// Snapshots kept open so reads "at timestamp T" (`query_ts` then `query_at_ts`) see exactly T.
    pub(crate) pinned: Mutex<std::collections::VecDeque<PinnedSnapshot>>,
    /// The snapshot [`Database::shared_read_view`] hands out, while it is still at the latest commit (the committer
    /// drops it when a newer commit lands, so it never holds an old read transaction open).
    pub(crate) shared_view: Mutex<Option<Arc<dyn storage::Snapshot>>>,
    /// Serializes opening a new shared snapshot, so a burst of callers opens one, not one each.
    pub(crate) shared_view_open: tokio::sync::Mutex<()>,
}

pub(crate) struct PinnedSnapshot {
    ts: Timestamp,
    pinned_at_nanos: u64,
    snapshot: Arc<dyn storage::Snapshot>,
}

/// How long a pinned snapshot stays readable (Convex keeps about 30 s of history for consistent reads).
pub const PINNED_SNAPSHOT_RETENTION: std::time::Duration = std::time::Duration::from_secs(30);
/// At most this many snapshots are pinned at once (each holds a read transaction open).
const MAX_PINNED_SNAPSHOTS: usize = 16;

/// Options for opening a database.
pub struct DatabaseConfig {
    pub schema: Schema,
    pub limits: TransactionLimits,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    /// How many recent commits are kept in memory for conflict checks and `query_at_ts`.
    pub commit_window: usize,
    /// On a store other processes share ([`storage::Persistence::is_shared`]): how often the commit log is read
    /// for their commits (the longest delay before one reaches this process's subscribers).
    pub tail_interval: std::time::Duration,
}

impl DatabaseConfig {
    pub fn new(schema: Schema, clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Self {
        DatabaseConfig {
            schema,
            limits: TransactionLimits::default(),
            clock,
            entropy,
            commit_window: 10_000,
            tail_interval: std::time::Duration::from_millis(50),
        }
    }
}

impl Database {
    /// Opens the database: loads the catalog, reconciles it with the schema (creating declared tables and building
    /// new indexes), and starts the committer task. Must run inside a tokio runtime.
    pub async fn open(persistence: DynPersistence, config: DatabaseConfig) -> Result<Database> {
        let catalog = match persistence.get_meta(catalog::CATALOG_KEY).await? {
            Some(bytes) => {
                Catalog::decode(&bytes).map_err(|e| DatabaseError::Storage(storage::StorageError::Backend(e)))?
            }
            None => Catalog::default(),
        };
        let last_ts = persistence.max_ts().await?.unwrap_or_default();
        let (commits, receiver) = mpsc::channel(1024);
        let (notify, _) = broadcast::channel(4096);
        let inner = Arc::new(Inner {
            persistence,
            clock: config.clock,
            entropy: config.entropy,
            schema: config.schema,
            catalog: RwLock::new(Arc::new(catalog)),
            catalog_change: tokio::sync::Mutex::new(()),
            commit_state: Mutex::new(CommitState::new(last_ts, config.commit_window)),
            commits,
            notify,
            limits: config.limits,
            last_creation_time: Mutex::new(0.0),
            pinned: Mutex::new(std::collections::VecDeque::new()),
            shared_view: Mutex::new(None),
            shared_view_open: tokio::sync::Mutex::new(()),
        });
        let db = Database { inner };
        db.reconcile_schema().await?;
        let tail = db.inner.persistence.is_shared().then_some(config.tail_interval);
        let hints = tail.and(db.inner.persistence.commit_hints());
        committer::spawn(Arc::downgrade(&db.inner), receiver, tail, hints);
        Ok(db)
    }

    /// Starts a transaction at the latest commit. Queries pass `read_only = true`.
    pub async fn begin(&self, read_only: bool) -> Result<Transaction> {
        let snapshot: Arc<dyn storage::Snapshot> = Arc::from(self.inner.persistence.snapshot().await?);
        Ok(Transaction::new(self.inner.clone(), snapshot, read_only))
    }

    /// A consistent view of the latest commit from which any number of read-only transactions can start (the sync
    /// engine evaluates all of a client's queries at one timestamp this way).
    pub async fn read_view(&self) -> Result<ReadView> {
        let snapshot: Arc<dyn storage::Snapshot> = Arc::from(self.inner.persistence.snapshot().await?);
        Ok(ReadView { inner: self.inner.clone(), snapshot })
    }

    /// A view of the latest commit shared by every caller until the next commit: after a commit wakes many
    /// subscribers, they all read one snapshot (one storage read transaction) instead of opening one each. The view
    /// includes at least every commit [`Database::latest_ts`] reported before the call.
    pub async fn shared_read_view(&self) -> Result<ReadView> {
        if let Some(view) = self.current_shared_view() {
            return Ok(view);
        }
        let _opening = self.inner.shared_view_open.lock().await;
        if let Some(view) = self.current_shared_view() {
            return Ok(view);
        }
        let snapshot: Arc<dyn storage::Snapshot> = Arc::from(self.inner.persistence.snapshot().await?);
        let logged = self.latest_ts();
        if snapshot.ts() >= logged {
            *self.inner.shared_view.lock() = Some(snapshot.clone());
        }
        Ok(ReadView { inner: self.inner.clone(), snapshot })
    }

    fn current_shared_view(&self) -> Option<ReadView> {
        let logged = self.latest_ts();
        let shared = self.inner.shared_view.lock();
        let snapshot = shared.as_ref().filter(|s| s.ts() >= logged)?.clone();
        Some(ReadView { inner: self.inner.clone(), snapshot })
    }

    /// Pins a snapshot of the latest commit for [`PINNED_SNAPSHOT_RETENTION`] and returns its timestamp; read-only
    /// transactions at exactly that timestamp can then be started with [`Database::begin_at`].
    pub async fn pin_latest(&self) -> Result<Timestamp> {
        let now = self.inner.clock.now().as_nanos();
        let snapshot: Arc<dyn storage::Snapshot> = Arc::from(self.inner.persistence.snapshot().await?);
        let ts = snapshot.ts();
        let mut pinned = self.inner.pinned.lock();
        Self::expire_pins(&mut pinned, now);
        if let Some(existing) = pinned.iter_mut().find(|p| p.ts == ts) {
            existing.pinned_at_nanos = now;
        } else {
            if pinned.len() >= MAX_PINNED_SNAPSHOTS {
                pinned.pop_front();
            }
            pinned.push_back(PinnedSnapshot { ts, pinned_at_nanos: now, snapshot });
        }
        Ok(ts)
    }

    /// A read-only transaction at exactly `ts`, if a snapshot at `ts` is pinned and has not expired.
    pub fn begin_at(&self, ts: Timestamp) -> Option<Transaction> {
        let now = self.inner.clock.now().as_nanos();
        let mut pinned = self.inner.pinned.lock();
        Self::expire_pins(&mut pinned, now);
        let snapshot = pinned.iter().find(|p| p.ts == ts)?.snapshot.clone();
        Some(Transaction::new(self.inner.clone(), snapshot, true))
    }

    fn expire_pins(pinned: &mut std::collections::VecDeque<PinnedSnapshot>, now: u64) {
        let retention = PINNED_SNAPSHOT_RETENTION.as_nanos() as u64;
        pinned.retain(|p| now.saturating_sub(p.pinned_at_nanos) <= retention);
    }

    /// Commits a transaction: all of its writes or none. Returns the commit timestamp (the snapshot timestamp for a
    /// transaction that wrote nothing). `Conflict` means the caller should re-run the transaction.
    pub async fn commit(&self, txn: Transaction) -> Result<Timestamp> {
        let Some((commit, reads, writes, begin_ts)) = txn.into_commit()? else {
            return Ok(self.latest_ts().max(Timestamp::default()));
        };
        let (reply, response) = oneshot::channel();
        let request = CommitRequest { begin_ts, reads, writes, commit, reply };
        self.inner
            .commits
            .send(request)
            .await
            .map_err(|_| DatabaseError::Storage(storage::StorageError::Backend("committer stopped".into())))?;
        response
            .await
            .map_err(|_| DatabaseError::Storage(storage::StorageError::Backend("committer stopped".into())))?
    }

    /// The timestamp of the latest commit.
    pub fn latest_ts(&self) -> Timestamp {
        self.inner.commit_state.lock().last_ts
    }

    /// Subscribes to commits as they become durable.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommitEntry>> {
        self.inner.notify.subscribe()
    }

    /// The commits after `ts` up to the latest, if the in-memory window still reaches back to `ts`.
    pub fn commits_since(&self, ts: Timestamp) -> Option<Vec<Arc<CommitEntry>>> {
        self.inner.commit_state.lock().since(ts)
    }

    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.read().clone()
    }

    /// The schema the database was opened with.
    pub fn schema(&self) -> &Schema {
        &self.inner.schema
    }

    /// The randomness source (ids, request ids).
    pub fn entropy(&self) -> &Arc<dyn Entropy> {
        &self.inner.entropy
    }

    /// The clock the database was opened with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The persistence backend (for metadata such as deployment env vars).
    pub fn persistence(&self) -> &DynPersistence {
        &self.inner.persistence
    }

    /// Makes the catalog match the schema: declared tables exist, declared indexes exist with the declared fields
    /// (built from existing documents when new or changed), undeclared user indexes are dropped.
    async fn reconcile_schema(&self) -> Result<()> {
        let _guard = self.inner.catalog_change.lock().await;
        // Processes sharing the store may reconcile at the same moment: the catalog is changed by compare-and-set
        // against what was read, and the whole reconciliation repeats on top of the winner's catalog.
        for _ in 0..CATALOG_ATTEMPTS {
            let (stored, catalog) = load_catalog(&self.inner.persistence).await?;
            if self.reconcile_onto(stored, catalog).await? {
                return Ok(());
            }
        }
        Err(DatabaseError::Storage(storage::StorageError::Conflict(
            "the catalog kept changing while the schema was reconciled".into(),
        )))
    }

    /// One reconciliation attempt on top of the catalog `stored` held; false if the catalog changed meanwhile.
    async fn reconcile_onto(&self, stored: Option<Vec<u8>>, mut catalog: Catalog) -> Result<bool> {
        let mut to_build: Vec<(String, IndexInfo)> = Vec::new();
        let mut to_clear = Vec::new();
        for (name, def) in &self.inner.schema.tables {
            schema::check_table_name(name).map_err(DatabaseError::Invalid)?;
            if catalog.table(name).is_none() {
                catalog.add_table(name);
            }
            let mut indexes = catalog.tables.get(name).map(|t| t.indexes.clone()).unwrap_or_default();
            // Drop user indexes that are no longer declared or whose fields changed.
            indexes.retain(|ix| {
                let builtin = ix.name == schema::BY_ID || ix.name == schema::BY_CREATION_TIME;
                let keep = builtin
                    || match &ix.search {
                        None => def
                            .indexes
                            .iter()
                            .any(|d| d.name == ix.name && catalog::user_key_fields(&d.fields) == ix.key_fields),
                        Some(spec) => def.search_indexes.iter().any(|d| {
                            d.name == ix.name
                                && d.search_field == spec.search_field
                                && d.filter_fields == spec.filter_fields
                                && spec.postings == search::POSTINGS_FORMAT
                        }),
                    };
                if !keep {
                    to_clear.push(ix.id);
                }
                keep
            });
            for declared in &def.indexes {
                if declared.name == schema::BY_ID || declared.name == schema::BY_CREATION_TIME {
                    return Err(DatabaseError::Invalid(format!(
                        "index name {:?} on table {name:?} is reserved",
                        declared.name
                    )));
                }
                if declared.fields.is_empty() {
                    return Err(DatabaseError::Invalid(format!(
                        "index {:?} on table {name:?} has no fields",
                        declared.name
                    )));
                }
                if !indexes.iter().any(|ix| ix.name == declared.name) {
                    let info = catalog.allocate_index(&declared.name, catalog::user_key_fields(&declared.fields));
                    to_build.push((name.clone(), info.clone()));
                    indexes.push(info);
                }
            }
            for declared in &def.search_indexes {
                if def.indexes.iter().any(|d| d.name == declared.name) {
                    return Err(DatabaseError::Invalid(format!(
                        "index name {:?} on table {name:?} is used twice",
                        declared.name
                    )));
                }
                if !indexes.iter().any(|ix| ix.name == declared.name) {
                    let spec = catalog::SearchSpec {
                        search_field: declared.search_field.clone(),
                        filter_fields: declared.filter_fields.clone(),
                        postings: search::POSTINGS_FORMAT,
                    };
                    let info = catalog.allocate_search_index(&declared.name, spec);
                    to_build.push((name.clone(), info.clone()));
                    indexes.push(info);
                }
            }
            if let Some(table) = catalog.tables.get_mut(name) {
                table.indexes = indexes;
            }
        }
        for index in to_clear {
            self.inner.persistence.clear_index(index).await?;
        }
        for (table, index) in &to_build {
            self.backfill(&catalog, table, index).await?;
        }
        let encoded = catalog.encode();
        if stored.as_deref() != Some(encoded.as_slice())
            && !self.inner.persistence.put_meta_if(catalog::CATALOG_KEY, stored.as_deref(), Some(encoded)).await?
        {
            return Ok(false);
        }
        *self.inner.catalog.write() = Arc::new(catalog);
        Ok(true)
    }

    /// Builds an index from the documents of its table.
    async fn backfill(&self, catalog: &Catalog, table: &str, index: &IndexInfo) -> Result<()> {
        let Some(info) = catalog.table(table) else { return Ok(()) };
        self.inner.persistence.clear_index(index.id).await?;
        let snapshot = self.inner.persistence.snapshot().await?;
        let mut range = KeyRange::all();
        loop {
            let page = snapshot.scan(info.by_creation_time().id, &range, ScanOrder::Asc, 512).await?;
            let Some(last) = page.last() else { break };
            let mut next = last.key.clone();
            next.push(0);
            let mut entries = Vec::with_capacity(page.len());
            for entry in &page {
                let doc = transaction::decode_document(&entry.document.body)?;
                for key in index.keys_of(&doc) {
                    entries.push(storage::IndexWrite { index: index.id, key, id: Some(entry.id.clone()) });
                }
            }
            self.inner.persistence.backfill_index(entries).await?;
            range.start = next;
        }
        Ok(())
    }

    /// Returns the table, creating it in the catalog on first use (when the schema allows the name).
    pub(crate) async fn ensure_table(inner: &Arc<Inner>, name: &str) -> Result<TableInfo> {
        if let Some(t) = inner.catalog.read().table(name) {
            return Ok(t.clone());
        }
        schema::check_table_name(name).map_err(DatabaseError::Invalid)?;
        if schema::is_system_table(name) && !inner.schema.tables.contains_key(name) {
            return Err(DatabaseError::Invalid(format!("system table {name:?} does not exist")));
        }
        if inner.schema.strict_tables && !inner.schema.tables.contains_key(name) {
            return Err(DatabaseError::Invalid(format!("table {name:?} is not declared in the schema")));
        }
        let _guard = inner.catalog_change.lock().await;
        for _ in 0..CATALOG_ATTEMPTS {
            // The stored catalog, not the cached one: another process sharing the store may have added tables.
            let (stored, mut catalog) = load_catalog(&inner.persistence).await?;
            if let Some(t) = catalog.table(name) {
                let table = t.clone();
                *inner.catalog.write() = Arc::new(catalog);
                return Ok(table);
            }
            let table = catalog.add_table(name).clone();
            let encoded = catalog.encode();
            if inner.persistence.put_meta_if(catalog::CATALOG_KEY, stored.as_deref(), Some(encoded)).await? {
                *inner.catalog.write() = Arc::new(catalog);
                return Ok(table);
            }
        }
        Err(DatabaseError::Storage(storage::StorageError::Conflict(format!(
            "the catalog kept changing while table {name:?} was created"
        ))))
    }
}

/// Compare-and-set attempts for one catalog change before giving up.
const CATALOG_ATTEMPTS: usize = 16;

/// The stored catalog: its bytes (the compare-and-set expectation) and decoded.
async fn load_catalog(persistence: &DynPersistence) -> Result<(Option<Vec<u8>>, Catalog)> {
    let stored = persistence.get_meta(catalog::CATALOG_KEY).await?;
    let catalog = match &stored {
        Some(bytes) => Catalog::decode(bytes).map_err(|e| DatabaseError::Storage(storage::StorageError::Backend(e)))?,
        None => Catalog::default(),
    };
    Ok((stored, catalog))
}

/// Replaces the cached catalog with the stored one (another process sharing the store may have changed it).
pub(crate) async fn reload_catalog(inner: &Inner) -> Result<()> {
    let _guard = inner.catalog_change.lock().await;
    let (_, catalog) = load_catalog(&inner.persistence).await?;
    *inner.catalog.write() = Arc::new(catalog);
    Ok(())
}

/// A shared snapshot; see [`Database::read_view`].
#[derive(Clone)]
pub struct ReadView {
    inner: Arc<Inner>,
    snapshot: Arc<dyn storage::Snapshot>,
}

impl ReadView {
    pub fn ts(&self) -> Timestamp {
        self.snapshot.ts()
    }

    /// A read-only transaction on this view.
    pub fn transaction(&self) -> Transaction {
        Transaction::new(self.inner.clone(), self.snapshot.clone(), true)
    }
}

#[cfg(test)]
mod tests;
