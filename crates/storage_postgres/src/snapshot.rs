//! Snapshots: `REPEATABLE READ READ ONLY` transactions held open on a pooled connection.

use crate::{backend, limit_to_sql, pg_error, read_max_ts, table_from_sql};
use async_trait::async_trait;
use deadpool_postgres::Object;
use storage::{
    IndexEntry, IndexId, IndexKey, KeyRange, Order, Result, Snapshot, StorageError, StoredDocument, Timestamp,
};

// One statement per direction and bound shape, so each is one walk of the (idx, key) primary key in the wanted
// direction; each entry finds its document by primary key, and an entry without a document is skipped.
pub(crate) const SCAN_ASC: &str = "SELECT e.key, e.doc, d.tbl, d.body \
    FROM index_entries AS e JOIN documents AS d ON d.id = e.doc \
    WHERE e.idx = $1 AND e.key >= $2 ORDER BY e.key ASC LIMIT $3";
pub(crate) const SCAN_DESC: &str = "SELECT e.key, e.doc, d.tbl, d.body \
    FROM index_entries AS e JOIN documents AS d ON d.id = e.doc \
    WHERE e.idx = $1 AND e.key >= $2 ORDER BY e.key DESC LIMIT $3";
pub(crate) const SCAN_ASC_BOUNDED: &str = "SELECT e.key, e.doc, d.tbl, d.body \
    FROM index_entries AS e JOIN documents AS d ON d.id = e.doc \
    WHERE e.idx = $1 AND e.key >= $2 AND e.key < $4 ORDER BY e.key ASC LIMIT $3";
pub(crate) const SCAN_DESC_BOUNDED: &str = "SELECT e.key, e.doc, d.tbl, d.body \
    FROM index_entries AS e JOIN documents AS d ON d.id = e.doc \
    WHERE e.idx = $1 AND e.key >= $2 AND e.key < $4 ORDER BY e.key DESC LIMIT $3";
// Keys-only scans: the same walk of the (idx, key) primary key, no join.
pub(crate) const KEYS_ASC: &str =
    "SELECT key, doc FROM index_entries WHERE idx = $1 AND key >= $2 ORDER BY key ASC LIMIT $3";
pub(crate) const KEYS_DESC: &str =
    "SELECT key, doc FROM index_entries WHERE idx = $1 AND key >= $2 ORDER BY key DESC LIMIT $3";
pub(crate) const KEYS_ASC_BOUNDED: &str =
    "SELECT key, doc FROM index_entries WHERE idx = $1 AND key >= $2 AND key < $4 ORDER BY key ASC LIMIT $3";
pub(crate) const KEYS_DESC_BOUNDED: &str =
    "SELECT key, doc FROM index_entries WHERE idx = $1 AND key >= $2 AND key < $4 ORDER BY key DESC LIMIT $3";
pub(crate) const GET: &str = "SELECT tbl, body FROM documents WHERE id = $1";

const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// A read transaction pinned at one commit. The connection goes back to the pool (after a rollback) when the
/// snapshot is dropped.
pub(crate) struct PostgresSnapshot {
    ts: Timestamp,
    /// `None` only during drop.
    conn: Option<Object>,
}

impl PostgresSnapshot {
    /// Opens a read transaction; its first statement pins PostgreSQL's snapshot and yields the latest ts in it.
    pub(crate) async fn begin(conn: Object) -> Result<Self> {
        // From here on the connection is inside a transaction: the guard closes it rather than pool it on any
        // early return (or cancellation).
        let mut guard = InTransaction(Some(conn));
        let ts = {
            let Some(conn) = guard.0.as_ref() else {
                return Err(StorageError::Backend("postgres snapshot: no connection".to_owned()));
            };
            // Pipelined: both statements go out before the first answer comes back (one round trip), in order.
            let (begun, ts) = tokio::join!(conn.batch_execute(BEGIN), read_max_ts(conn));
            begun.map_err(backend("begin snapshot"))?;
            ts?
        };
        Ok(PostgresSnapshot { ts: ts.unwrap_or_default(), conn: guard.0.take() })
    }

    /// The rows of one range query over an index: `statements` are its ascending, descending, bounded ascending
    /// and bounded descending forms (parameters: index, start, limit[, end]).
    async fn query_range(
        &self,
        context: &(dyn Fn() -> String + Sync),
        statements: [&'static str; 4],
        index: IndexId,
        range: &KeyRange,
        order: Order,
        limit: usize,
    ) -> Result<Vec<tokio_postgres::Row>> {
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
        let conn = self.conn()?;
        let statement = conn.prepare_cached(sql).await.map_err(|error| pg_error(&context(), &error))?;
        let index_sql = i64::from(index);
        let limit = limit_to_sql(limit);
        match &range.end {
            None => conn.query(&statement, &[&index_sql, &range.start, &limit]).await,
            Some(end) => conn.query(&statement, &[&index_sql, &range.start, &limit, end]).await,
        }
        .map_err(|error| pg_error(&context(), &error))
    }

    fn conn(&self) -> Result<&Object> {
        self.conn
            .as_ref()
            .ok_or_else(|| StorageError::Backend("postgres snapshot: the connection was already released".to_owned()))
    }
}

/// A connection that may be inside a transaction: dropped, it is detached from the pool and closed.
struct InTransaction(Option<Object>);

impl Drop for InTransaction {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(Object::take(conn));
        }
    }
}

impl Drop for PostgresSnapshot {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let mut guard = InTransaction(Some(conn));
        // Ending the transaction needs a round trip; do it on the runtime and pool the connection only once it is
        // back outside any transaction. Without a runtime (or if the task never runs) the guard closes it instead.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let rolled_back = match guard.0.as_ref() {
                    Some(conn) => conn.batch_execute("ROLLBACK").await,
                    None => return,
                };
                match rolled_back {
                    Ok(()) => drop(guard.0.take()),
                    Err(error) => tracing::warn!(
                        error = %crate::pg_detail(&error),
                        "postgres snapshot: rollback failed; closing the connection"
                    ),
                }
            });
        }
    }
}

#[async_trait]
impl Snapshot for PostgresSnapshot {
    fn ts(&self) -> Timestamp {
        self.ts
    }

    async fn get(&self, id: &[u8]) -> Result<Option<StoredDocument>> {
        let conn = self.conn()?;
        let statement = conn.prepare_cached(GET).await.map_err(backend("prepare get"))?;
        let context = || format!("get document {id:?}");
        let row = conn.query_opt(&statement, &[&id]).await.map_err(|error| pg_error(&context(), &error))?;
        let Some(row) = row else { return Ok(None) };
        let table: i64 = row.try_get(0).map_err(|error| pg_error(&context(), &error))?;
        Ok(Some(StoredDocument {
            table: table_from_sql(table)?,
            body: row.try_get(1).map_err(|error| pg_error(&context(), &error))?,
        }))
    }

    async fn scan(&self, index: IndexId, range: &KeyRange, order: Order, limit: usize) -> Result<Vec<IndexEntry>> {
        let statements = [SCAN_ASC, SCAN_DESC, SCAN_ASC_BOUNDED, SCAN_DESC_BOUNDED];
        let context = || format!("scan of index {index}");
        let rows = self.query_range(&context, statements, index, range, order, limit).await?;
        rows.iter()
            .map(|row| {
                let table: i64 = row.try_get(2).map_err(|error| pg_error(&context(), &error))?;
                Ok(IndexEntry {
                    key: row.try_get(0).map_err(|error| pg_error(&context(), &error))?,
                    id: row.try_get(1).map_err(|error| pg_error(&context(), &error))?,
                    document: StoredDocument {
                        table: table_from_sql(table)?,
                        body: row.try_get(3).map_err(|error| pg_error(&context(), &error))?,
                    },
                })
            })
            .collect()
    }

    async fn scan_keys(&self, index: IndexId, range: &KeyRange, order: Order, limit: usize) -> Result<Vec<IndexKey>> {
        let statements = [KEYS_ASC, KEYS_DESC, KEYS_ASC_BOUNDED, KEYS_DESC_BOUNDED];
        let context = || format!("keys-only scan of index {index}");
        let rows = self.query_range(&context, statements, index, range, order, limit).await?;
        rows.iter()
            .map(|row| {
                Ok(IndexKey {
                    key: row.try_get(0).map_err(|error| pg_error(&context(), &error))?,
                    id: row.try_get(1).map_err(|error| pg_error(&context(), &error))?,
                })
            })
            .collect()
    }
}
