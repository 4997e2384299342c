//! Snapshots: WAL read transactions held open on a pooled reader connection.

use crate::readers::ReaderPool;
use crate::{backend, limit_to_sql, read_max_ts, sqlite_error};
use async_trait::async_trait;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension};
use std::sync::Arc;
use storage::{
    IndexEntry, IndexId, IndexKey, KeyRange, Order, Result, Snapshot, StorageError, StoredDocument, Timestamp,
};

// One statement per direction and bound shape, so each is a single walk of the (idx, key) primary key with no sort
// step and both bounds visible to the planner. CROSS JOIN keeps `index_entries` as the outer loop (SQLite never
// reorders it); each entry then finds its document by primary key, and an entry without a document is skipped.
pub(crate) const SCAN_ASC: &str = "SELECT e.key, e.doc, d.tbl, d.body \
    FROM index_entries AS e CROSS JOIN documents AS d ON d.id = e.doc \
    WHERE e.idx = ?1 AND e.key >= ?2 ORDER BY e.key ASC LIMIT ?3";
pub(crate) const SCAN_DESC: &str = "SELECT e.key, e.doc, d.tbl, d.body \
    FROM index_entries AS e CROSS JOIN documents AS d ON d.id = e.doc \
    WHERE e.idx = ?1 AND e.key >= ?2 ORDER BY e.key DESC LIMIT ?3";
pub(crate) const SCAN_ASC_BOUNDED: &str = "SELECT e.key, e.doc, d.tbl, d.body \
    FROM index_entries AS e CROSS JOIN documents AS d ON d.id = e.doc \
    WHERE e.idx = ?1 AND e.key >= ?2 AND e.key < ?4 ORDER BY e.key ASC LIMIT ?3";
pub(crate) const SCAN_DESC_BOUNDED: &str = "SELECT e.key, e.doc, d.tbl, d.body \
    FROM index_entries AS e CROSS JOIN documents AS d ON d.id = e.doc \
    WHERE e.idx = ?1 AND e.key >= ?2 AND e.key < ?4 ORDER BY e.key DESC LIMIT ?3";
// Keys-only scans: the same walk of the (idx, key) primary key, which holds the document id too (no join).
pub(crate) const KEYS_ASC: &str =
    "SELECT key, doc FROM index_entries WHERE idx = ?1 AND key >= ?2 ORDER BY key ASC LIMIT ?3";
pub(crate) const KEYS_DESC: &str =
    "SELECT key, doc FROM index_entries WHERE idx = ?1 AND key >= ?2 ORDER BY key DESC LIMIT ?3";
pub(crate) const KEYS_ASC_BOUNDED: &str =
    "SELECT key, doc FROM index_entries WHERE idx = ?1 AND key >= ?2 AND key < ?4 ORDER BY key ASC LIMIT ?3";
pub(crate) const KEYS_DESC_BOUNDED: &str =
    "SELECT key, doc FROM index_entries WHERE idx = ?1 AND key >= ?2 AND key < ?4 ORDER BY key DESC LIMIT ?3";
pub(crate) const GET: &str = "SELECT tbl, body FROM documents WHERE id = ?1";

/// A read transaction pinned at one commit. The connection goes back to the pool when the snapshot is dropped.
pub(crate) struct SqliteSnapshot {
    ts: Timestamp,
    /// `Connection` is `Send` but not `Sync`; the mutex makes the snapshot shareable. `None` only during drop.
    conn: Mutex<Option<Connection>>,
    pool: Arc<ReaderPool>,
}

impl SqliteSnapshot {
    /// Opens a read transaction on a pooled connection; its first read pins the WAL snapshot and yields its ts.
    pub(crate) fn begin(pool: Arc<ReaderPool>) -> Result<Self> {
        let conn = pool.take()?;
        let ts = conn
            .prepare_cached("BEGIN DEFERRED")
            .and_then(|mut statement| statement.execute([]))
            .map_err(backend("begin snapshot"))
            .and_then(|_| read_max_ts(&conn));
        match ts {
            Ok(ts) => Ok(SqliteSnapshot { ts: ts.unwrap_or_default(), conn: Mutex::new(Some(conn)), pool }),
            Err(error) => {
                end_read_transaction(&conn);
                pool.give_back(conn);
                Err(error)
            }
        }
    }

    /// One range query over an index: `statements` are its ascending, descending, bounded ascending and bounded
    /// descending forms (parameters: index, start, limit[, end]); `map` reads a row.
    #[allow(clippy::too_many_arguments)]
    fn query_range<T>(
        &self,
        what: &str,
        statements: [&'static str; 4],
        index: IndexId,
        range: &KeyRange,
        order: Order,
        limit: usize,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        if range.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let [asc, desc, asc_bounded, desc_bounded] = statements;
        let sql = match (order, range.end.is_some()) {
            (Order::Asc, false) => asc,
            (Order::Desc, false) => desc,
            (Order::Asc, true) => asc_bounded,
            (Order::Desc, true) => desc_bounded,
        };
        let context = || format!("{what} of index {index}");
        self.with_conn(|conn| {
            let mut statement = conn.prepare_cached(sql).map_err(|error| sqlite_error(&context(), error))?;
            let limit = limit_to_sql(limit);
            let rows = match &range.end {
                None => statement.query_map((index, &range.start, limit), map),
                Some(end) => statement.query_map((index, &range.start, limit, end), map),
            };
            rows.and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|error| sqlite_error(&context(), error))
        })
    }

    fn with_conn<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock();
        match conn.as_ref() {
            Some(conn) => read(conn),
            None => Err(StorageError::Backend("sqlite snapshot: the connection was already released".to_owned())),
        }
    }
}

/// Rolls back the read transaction, if one is open; a connection that stays inside one is not reused.
fn end_read_transaction(conn: &Connection) {
    if conn.is_autocommit() {
        return;
    }
    if let Err(error) = conn.prepare_cached("ROLLBACK").and_then(|mut statement| statement.execute([])) {
        tracing::warn!(%error, "sqlite snapshot: rollback of the read transaction failed");
    }
}

impl Drop for SqliteSnapshot {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.get_mut().take() {
            end_read_transaction(&conn);
            self.pool.give_back(conn);
        }
    }
}

#[async_trait]
impl Snapshot for SqliteSnapshot {
    fn ts(&self) -> Timestamp {
        self.ts
    }

    async fn get(&self, id: &[u8]) -> Result<Option<StoredDocument>> {
        self.with_conn(|conn| {
            conn.prepare_cached(GET)
                .and_then(|mut statement| {
                    statement
                        .query_row([id], |row| Ok(StoredDocument { table: row.get(0)?, body: row.get(1)? }))
                        .optional()
                })
                .map_err(|error| sqlite_error(&format!("get document {id:?}"), error))
        })
    }

    async fn scan(&self, index: IndexId, range: &KeyRange, order: Order, limit: usize) -> Result<Vec<IndexEntry>> {
        let statements = [SCAN_ASC, SCAN_DESC, SCAN_ASC_BOUNDED, SCAN_DESC_BOUNDED];
        self.query_range("scan", statements, index, range, order, limit, |row| {
            Ok(IndexEntry {
                key: row.get(0)?,
                id: row.get(1)?,
                document: StoredDocument { table: row.get(2)?, body: row.get(3)? },
            })
        })
    }

    async fn scan_keys(&self, index: IndexId, range: &KeyRange, order: Order, limit: usize) -> Result<Vec<IndexKey>> {
        let statements = [KEYS_ASC, KEYS_DESC, KEYS_ASC_BOUNDED, KEYS_DESC_BOUNDED];
        self.query_range("keys-only scan", statements, index, range, order, limit, |row| {
            Ok(IndexKey { key: row.get(0)?, id: row.get(1)? })
        })
    }
}
