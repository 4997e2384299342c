//! The store a test opens its `Database` on, chosen by `AUTHVEX_TEST_BACKEND`.

use crate::postgres::TestDatabase;
use async_trait::async_trait;
use std::any::Any;
use std::sync::Arc;
use storage::{Commit, DynPersistence, IndexId, IndexWrite, LogRecord, Persistence, Snapshot, Timestamp};

/// The env var choosing the backend of [`test_persistence`]: `memory` (the default), `sqlite` or `postgres`.
pub const BACKEND_VAR: &str = "AUTHVEX_TEST_BACKEND";

/// The backend for tests that build a `Database`: [`storage::MemoryPersistence`]; with
/// `AUTHVEX_TEST_BACKEND=sqlite` a `SqlitePersistence` in a temporary directory; with `AUTHVEX_TEST_BACKEND=postgres`
/// a `PostgresPersistence` on a fresh database. Whatever the store lives in (directory, database) is removed when
/// the returned handle is dropped. Fails the test with a clear message when the variable names another backend or
/// the store cannot be opened (PostgreSQL unreachable included: such a run never passes by skipping).
pub async fn test_persistence() -> DynPersistence {
    // Test support reads the test runner's settings from the environment; the crates under test never do.
    #[allow(clippy::disallowed_methods)]
    let backend = std::env::var(BACKEND_VAR).unwrap_or_default();
    match backend.trim() {
        "" | "memory" => Arc::new(storage::MemoryPersistence::new()),
        "sqlite" => {
            let dir =
                tempfile::tempdir().unwrap_or_else(|error| panic!("cannot create a temporary directory: {error}"));
            let path = dir.path().join("authvex.sqlite");
            let inner = storage_sqlite::SqlitePersistence::open(&path)
                .unwrap_or_else(|error| panic!("cannot open the test SQLite store {}: {error}", path.display()));
            Arc::new(Owned { inner: Arc::new(inner), _location: Box::new(dir) })
        }
        "postgres" => {
            let database = TestDatabase::create_or_panic().await;
            let inner = match storage_postgres::PostgresPersistence::connect(database.url()).await {
                Ok(inner) => inner,
                Err(error) => panic!("cannot open the test database {}: {error}", database.name()),
            };
            Arc::new(Owned { inner: Arc::new(inner), _location: Box::new(database) })
        }
        other => panic!("{BACKEND_VAR}={other:?} is not a backend these tests know (use memory, sqlite or postgres)"),
    }
}

/// A store that owns where it lives: dropping it drops the location (a temporary directory, a test database) after
/// the store itself (fields drop in order, so a pool's connections close first).
struct Owned {
    inner: DynPersistence,
    _location: Box<dyn Any + Send + Sync>,
}

#[async_trait]
impl Persistence for Owned {
    async fn write(&self, commits: Vec<Commit>) -> storage::Result<()> {
        self.inner.write(commits).await
    }
    async fn write_if_latest(&self, expected: Option<Timestamp>, commits: Vec<Commit>) -> storage::Result<()> {
        self.inner.write_if_latest(expected, commits).await
    }
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
    fn commit_hints(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.inner.commit_hints()
    }
    async fn put_meta_if(&self, key: &str, expected: Option<&[u8]>, value: Option<Vec<u8>>) -> storage::Result<bool> {
        self.inner.put_meta_if(key, expected, value).await
    }
    async fn snapshot(&self) -> storage::Result<Box<dyn Snapshot>> {
        self.inner.snapshot().await
    }
    async fn log_after(&self, after: Timestamp, limit: usize) -> storage::Result<Vec<LogRecord>> {
        self.inner.log_after(after, limit).await
    }
    async fn max_ts(&self) -> storage::Result<Option<Timestamp>> {
        self.inner.max_ts().await
    }
    async fn prune_log(&self, before: Timestamp) -> storage::Result<()> {
        self.inner.prune_log(before).await
    }
    async fn get_meta(&self, key: &str) -> storage::Result<Option<Vec<u8>>> {
        self.inner.get_meta(key).await
    }
    async fn list_meta(&self, prefix: &str) -> storage::Result<Vec<(String, Vec<u8>)>> {
        self.inner.list_meta(prefix).await
    }
    async fn put_meta(&self, entries: Vec<(String, Option<Vec<u8>>)>) -> storage::Result<()> {
        self.inner.put_meta(entries).await
    }
    async fn clear_index(&self, index: IndexId) -> storage::Result<()> {
        self.inner.clear_index(index).await
    }
    async fn backfill_index(&self, entries: Vec<IndexWrite>) -> storage::Result<()> {
        self.inner.backfill_index(entries).await
    }
}
