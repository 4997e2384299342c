//! The embedded default [`Persistence`] backend: one SQLite file in WAL mode.
//!
//! * **Writes** go through one writer connection behind a mutex, each batch in one `BEGIN IMMEDIATE` transaction,
//!   on Tokio's blocking pool so the fsync (`synchronous = FULL`) never stalls the async runtime. A write that
//!   returned `Ok` is durable.
//! * **Snapshots** are WAL read transactions on pooled reader connections: `BEGIN` then `SELECT max(ts)` pins the
//!   snapshot and reads its timestamp atomically; the transaction stays open until the snapshot is dropped. Readers
//!   never block the writer (though a long-lived snapshot keeps the WAL from being checkpointed past it).
//! * **Reads** (point reads, scans, the log, metadata) are short local queries and run on the calling task.
//!
//! Timestamps are stored as SQLite integers (i64), so a commit timestamp above `i64::MAX` is rejected.

mod readers;
mod schema;
mod snapshot;
#[cfg(test)]
mod tests;
mod writer;

pub use schema::SCHEMA_VERSION;

use async_trait::async_trait;
use parking_lot::Mutex;
use readers::ReaderPool;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use storage::{Commit, IndexId, IndexWrite, LogRecord, Persistence, Result, Snapshot, StorageError, Timestamp};

/// How long a connection waits for a lock held by another connection (another process, a checkpoint) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection.
const STATEMENT_CACHE_CAPACITY: usize = 32;

/// A [`Persistence`] backed by one SQLite database file.
pub struct SqlitePersistence {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Arc<ReaderPool>,
}

impl std::fmt::Debug for SqlitePersistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlitePersistence").field("path", &self.inner.readers.path()).finish_non_exhaustive()
    }
}

impl SqlitePersistence {
    /// Opens the database at `path`, creating the file and the schema if needed and migrating an older schema.
    ///
    /// # Errors
    /// [`StorageError::Backend`] when the file cannot be opened or put in WAL mode, or holds a schema from a newer
    /// build.
    pub fn open(path: &Path) -> Result<Self> {
        let mut writer = open_writer(path)?;
        schema::migrate(&mut writer)?;
        tracing::debug!(path = %path.display(), "opened sqlite storage");
        Ok(SqlitePersistence {
            inner: Arc::new(Inner { writer: Mutex::new(writer), readers: Arc::new(ReaderPool::new(path.to_owned())) }),
        })
    }

    /// Runs `work` on the writer connection on the blocking pool.
    async fn with_writer<T, W>(&self, operation: &'static str, work: W) -> Result<T>
    where
        T: Send + 'static,
        W: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&mut inner.writer.lock()))
            .await
            .map_err(|error| StorageError::Backend(format!("sqlite {operation}: the blocking task failed: {error}")))?
    }
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend("set busy timeout"))?;
    conn.pragma_update(None, "foreign_keys", false).map_err(backend("disable foreign keys"))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(())
}

fn open_writer(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|error| sqlite_error(&format!("open {}", path.display()), error))?;
    configure(&conn)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(backend("enable WAL mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StorageError::Backend(format!("sqlite enable WAL mode: journal mode stayed {mode:?}")));
    }
    // FULL syncs the WAL on every commit: an acknowledged write survives power loss, not only a process crash.
    conn.pragma_update(None, "synchronous", "FULL").map_err(backend("set synchronous = FULL"))?;
    Ok(conn)
}

fn open_reader(path: &Path) -> Result<Connection> {
    // No CREATE: the writer created the file. `query_only` guards against a write slipping into a reader.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|error| sqlite_error(&format!("open reader on {}", path.display()), error))?;
    configure(&conn)?;
    conn.pragma_update(None, "query_only", true).map_err(backend("set query_only"))?;
    Ok(conn)
}

/// Maps a rusqlite error to [`StorageError::Backend`], naming the operation.
pub(crate) fn sqlite_error(operation: &str, error: rusqlite::Error) -> StorageError {
    StorageError::Backend(format!("sqlite {operation}: {error}"))
}

/// [`sqlite_error`] for `map_err`.
pub(crate) fn backend(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> StorageError {
    move |error| sqlite_error(operation, error)
}

/// A timestamp as stored: SQLite integers are i64.
pub(crate) fn ts_to_sql(ts: Timestamp) -> Result<i64> {
    i64::try_from(ts.0).map_err(|_| {
        StorageError::Backend(format!("sqlite: timestamp {} exceeds the largest storable timestamp (i64::MAX)", ts.0))
    })
}

/// A stored timestamp read back; negative values mean the file was not written by this backend.
pub(crate) fn ts_from_sql(value: i64) -> Result<Timestamp> {
    u64::try_from(value)
        .map(Timestamp)
        .map_err(|_| StorageError::Backend(format!("sqlite: stored timestamp {value} is negative")))
}

/// A limit as an SQL `LIMIT` (anything above i64::MAX is unlimited anyway).
pub(crate) fn limit_to_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The latest commit's timestamp as seen by `conn` (inside its transaction, if one is open).
pub(crate) fn read_max_ts(conn: &Connection) -> Result<Option<Timestamp>> {
    let max: Option<i64> = conn
        .prepare_cached("SELECT max(ts) FROM commit_log")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(backend("read max ts"))?;
    max.map(ts_from_sql).transpose()
}

#[async_trait]
impl Persistence for SqlitePersistence {
    async fn write(&self, commits: Vec<Commit>) -> Result<()> {
        if commits.is_empty() {
            return Ok(());
        }
        self.with_writer("write", move |conn| writer::write_commits(conn, None, &commits)).await
    }

    async fn write_if_latest(&self, expected_latest: Option<Timestamp>, commits: Vec<Commit>) -> Result<()> {
        self.with_writer("write", move |conn| writer::write_commits(conn, Some(expected_latest), &commits)).await
    }

    async fn put_meta_if(&self, key: &str, expected: Option<&[u8]>, value: Option<Vec<u8>>) -> Result<bool> {
        let (key, expected) = (key.to_string(), expected.map(<[u8]>::to_vec));
        self.with_writer("put_meta_if", move |conn| {
            writer::put_meta_if(conn, &key, expected.as_deref(), value.as_deref())
        })
        .await
    }

    async fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(snapshot::SqliteSnapshot::begin(Arc::clone(&self.inner.readers))?))
    }

    async fn log_after(&self, after: Timestamp, limit: usize) -> Result<Vec<LogRecord>> {
        // Every stored ts is at most i64::MAX, so nothing lies after a larger one.
        let Ok(after) = i64::try_from(after.0) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.inner.readers.with(|conn| {
            let mut statement = conn
                .prepare_cached("SELECT ts, log FROM commit_log WHERE ts > ?1 ORDER BY ts ASC LIMIT ?2")
                .map_err(backend("prepare log_after"))?;
            let rows = statement
                .query_map((after, limit_to_sql(limit)), |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)))
                .map_err(backend("log_after"))?;
            let mut records = Vec::new();
            for row in rows {
                let (ts, log) = row.map_err(backend("read commit log row"))?;
                records.push(LogRecord { ts: ts_from_sql(ts)?, log });
            }
            Ok(records)
        })
    }

    async fn max_ts(&self) -> Result<Option<Timestamp>> {
        self.inner.readers.with(read_max_ts)
    }

    async fn prune_log(&self, before: Timestamp) -> Result<()> {
        // Every stored ts is at most i64::MAX, so a larger bound prunes like i64::MAX (the latest is kept anyway).
        let before = i64::try_from(before.0).unwrap_or(i64::MAX);
        self.with_writer("prune_log", move |conn| writer::prune_log(conn, before)).await
    }

    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.readers.with(|conn| {
            conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")
                .and_then(|mut statement| statement.query_row([key], |row| row.get(0)).optional())
                .map_err(|error| sqlite_error(&format!("get_meta {key:?}"), error))
        })
    }

    async fn list_meta(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.inner.readers.with(|conn| {
            let mut statement = conn
                .prepare_cached("SELECT key, value FROM meta WHERE key >= ?1 ORDER BY key ASC")
                .map_err(backend("prepare list_meta"))?;
            let mut rows = statement.query([prefix]).map_err(backend("list_meta"))?;
            let mut entries = Vec::new();
            // Keys compare bytewise (BINARY collation on UTF-8), so the matches are the run starting at `prefix`.
            while let Some(row) = rows.next().map_err(backend("read meta row"))? {
                let key: String = row.get(0).map_err(backend("read meta key"))?;
                if !key.starts_with(prefix) {
                    break;
                }
                entries.push((key, row.get(1).map_err(backend("read meta value"))?));
            }
            Ok(entries)
        })
    }

    async fn put_meta(&self, entries: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.with_writer("put_meta", move |conn| writer::put_meta(conn, &entries)).await
    }

    async fn clear_index(&self, index: IndexId) -> Result<()> {
        self.with_writer("clear_index", move |conn| writer::clear_index(conn, index)).await
    }

    async fn backfill_index(&self, entries: Vec<IndexWrite>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.with_writer("backfill_index", move |conn| writer::backfill_index(conn, &entries)).await
    }
}
