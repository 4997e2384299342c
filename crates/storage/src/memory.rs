//! An in-memory backend for tests and for running the engines without a disk.
//!
//! Documents and index entries live in one copy-on-write [`Tables`] value behind an `Arc`: a snapshot holds a
//! clone of the `Arc`, and a write that finds the value shared copies it first (`Arc::make_mut`), so a snapshot never
//! changes. The commit log and metadata are not part of snapshots and are updated in place. Nothing here is durable.

use crate::{
    Commit, IndexEntry, IndexId, IndexKey, IndexWrite, KeyRange, LogRecord, Order, Persistence, Result, Snapshot,
    StorageError, StoredDocument, Timestamp,
};
use async_trait::async_trait;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// In-memory [`Persistence`]: every operation is atomic under one mutex, snapshots are copy-on-write.
#[derive(Debug, Default)]
pub struct MemoryPersistence {
    state: Mutex<State>,
    shared: bool,
}

impl MemoryPersistence {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that says it is shared ([`Persistence::is_shared`]): several databases opened on one
    /// `Arc` of it behave like several nodes on one database server (for tests of multi-node behaviour).
    pub fn new_shared() -> Self {
        MemoryPersistence { shared: true, ..Self::default() }
    }
}

#[derive(Debug, Default)]
struct State {
    /// What snapshots see; replaced copy-on-write while a snapshot shares it.
    tables: Arc<Tables>,
    log: BTreeMap<u64, Vec<u8>>,
    meta: BTreeMap<String, Vec<u8>>,
}

/// An index entry's position: entries of one index are contiguous, in key order.
type EntryKey = (IndexId, Vec<u8>);

#[derive(Debug, Clone, Default)]
struct Tables {
    /// The latest commit's timestamp (kept here, not derived from the log, so pruning cannot lose it).
    max_ts: Option<Timestamp>,
    documents: BTreeMap<Vec<u8>, StoredDocument>,
    indexes: BTreeMap<EntryKey, Vec<u8>>,
}

impl Tables {
    fn apply_index_write(&mut self, write: IndexWrite) {
        match write.id {
            Some(id) => {
                self.indexes.insert((write.index, write.key), id);
            }
            None => {
                self.indexes.remove(&(write.index, write.key));
            }
        }
    }
}

/// Checks that the batch's timestamps are strictly increasing and all after `latest`; returns the first offender.
fn check_monotonic(latest: Option<Timestamp>, commits: &[Commit]) -> Result<()> {
    let mut previous = latest;
    for commit in commits {
        if previous.is_some_and(|previous| commit.ts <= previous) {
            return Err(StorageError::NonMonotonicTimestamp(commit.ts));
        }
        previous = Some(commit.ts);
    }
    Ok(())
}

impl MemoryPersistence {
    /// Applies a batch under the lock: validated first, then written whole.
    fn apply(state: &mut State, commits: Vec<Commit>) -> Result<()> {
        // Validate the whole batch before touching anything: all or nothing.
        check_monotonic(state.tables.max_ts, &commits)?;
        if commits.is_empty() {
            return Ok(());
        }
        let State { tables, log, .. } = &mut *state;
        let tables = Arc::make_mut(tables);
        for commit in commits {
            for write in commit.documents {
                match write.body {
                    Some(body) => {
                        tables.documents.insert(write.id, StoredDocument { table: write.table, body });
                    }
                    None => {
                        tables.documents.remove(&write.id);
                    }
                }
            }
            for write in commit.indexes {
                tables.apply_index_write(write);
            }
            log.insert(commit.ts.0, commit.log);
            tables.max_ts = Some(commit.ts);
        }
        Ok(())
    }
}

#[async_trait]
impl Persistence for MemoryPersistence {
    fn is_shared(&self) -> bool {
        self.shared
    }

    async fn write_if_latest(&self, expected_latest: Option<Timestamp>, commits: Vec<Commit>) -> Result<()> {
        let mut state = self.state.lock();
        if state.tables.max_ts != expected_latest {
            return Err(StorageError::Conflict(format!(
                "the latest commit is {:?}, not the expected {expected_latest:?}",
                state.tables.max_ts
            )));
        }
        Self::apply(&mut state, commits)
    }

    async fn put_meta_if(&self, key: &str, expected: Option<&[u8]>, value: Option<Vec<u8>>) -> Result<bool> {
        let mut state = self.state.lock();
        if state.meta.get(key).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        match value {
            Some(value) => state.meta.insert(key.to_string(), value),
            None => state.meta.remove(key),
        };
        Ok(true)
    }

    async fn write(&self, commits: Vec<Commit>) -> Result<()> {
        let mut state = self.state.lock();
        Self::apply(&mut state, commits)
    }

    async fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        let tables = Arc::clone(&self.state.lock().tables);
        Ok(Box::new(MemorySnapshot { tables }))
    }

    async fn log_after(&self, after: Timestamp, limit: usize) -> Result<Vec<LogRecord>> {
        let state = self.state.lock();
        Ok(state
            .log
            .range((Bound::Excluded(after.0), Bound::Unbounded))
            .take(limit)
            .map(|(&ts, log)| LogRecord { ts: Timestamp(ts), log: log.clone() })
            .collect())
    }

    async fn max_ts(&self) -> Result<Option<Timestamp>> {
        Ok(self.state.lock().tables.max_ts)
    }

    async fn prune_log(&self, before: Timestamp) -> Result<()> {
        let mut state = self.state.lock();
        let latest = state.log.last_key_value().map(|(&ts, _)| ts);
        state.log.retain(|&ts, _| ts >= before.0 || Some(ts) == latest);
        Ok(())
    }

    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.state.lock().meta.get(key).cloned())
    }

    async fn list_meta(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let state = self.state.lock();
        Ok(state
            .meta
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    async fn put_meta(&self, entries: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        let mut state = self.state.lock();
        for (key, value) in entries {
            match value {
                Some(value) => {
                    state.meta.insert(key, value);
                }
                None => {
                    state.meta.remove(&key);
                }
            }
        }
        Ok(())
    }

    async fn clear_index(&self, index: IndexId) -> Result<()> {
        let mut state = self.state.lock();
        let has_entries = state.tables.indexes.range(index_bounds(index, &KeyRange::all())).next().is_some();
        if has_entries {
            Arc::make_mut(&mut state.tables).indexes.retain(|(entry_index, _), _| *entry_index != index);
        }
        Ok(())
    }

    async fn backfill_index(&self, entries: Vec<IndexWrite>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut state = self.state.lock();
        let tables = Arc::make_mut(&mut state.tables);
        for write in entries {
            tables.apply_index_write(write);
        }
        Ok(())
    }
}

/// The `BTreeMap` bounds of `range` within `index`. The caller must reject empty ranges first (`BTreeMap::range`
/// panics when start > end).
fn index_bounds(index: IndexId, range: &KeyRange) -> (Bound<EntryKey>, Bound<EntryKey>) {
    let start = Bound::Included((index, range.start.clone()));
    let end = match &range.end {
        Some(end) => Bound::Excluded((index, end.clone())),
        // Every key of `index` sorts before the empty key of the next index.
        None => match index.checked_add(1) {
            Some(next) => Bound::Excluded((next, Vec::new())),
            None => Bound::Unbounded,
        },
    };
    (start, end)
}

/// An immutable view: the `Tables` value current when it was taken.
struct MemorySnapshot {
    tables: Arc<Tables>,
}

#[async_trait]
impl Snapshot for MemorySnapshot {
    fn ts(&self) -> Timestamp {
        self.tables.max_ts.unwrap_or_default()
    }

    async fn get(&self, id: &[u8]) -> Result<Option<StoredDocument>> {
        Ok(self.tables.documents.get(id).cloned())
    }

    async fn scan(&self, index: IndexId, range: &KeyRange, order: Order, limit: usize) -> Result<Vec<IndexEntry>> {
        if range.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let entries = self.tables.indexes.range(index_bounds(index, range));
        // Entries whose document is missing are skipped, like an inner join in SQL.
        let join = |((_, key), id): (&EntryKey, &Vec<u8>)| {
            let document = self.tables.documents.get(id)?;
            Some(IndexEntry { key: key.clone(), id: id.clone(), document: document.clone() })
        };
        Ok(match order {
            Order::Asc => entries.filter_map(join).take(limit).collect(),
            Order::Desc => entries.rev().filter_map(join).take(limit).collect(),
        })
    }

    async fn scan_keys(&self, index: IndexId, range: &KeyRange, order: Order, limit: usize) -> Result<Vec<IndexKey>> {
        if range.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let entries = self.tables.indexes.range(index_bounds(index, range));
        let entry = |((_, key), id): (&EntryKey, &Vec<u8>)| IndexKey { key: key.clone(), id: id.clone() };
        Ok(match order {
            Order::Asc => entries.map(entry).take(limit).collect(),
            Order::Desc => entries.rev().map(entry).take(limit).collect(),
        })
    }
}
