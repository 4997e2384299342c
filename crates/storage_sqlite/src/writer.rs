//! The write path: blocking functions run on the writer connection, each in one `BEGIN IMMEDIATE` transaction.

use crate::{backend, read_max_ts, sqlite_error, ts_to_sql};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use storage::{Commit, IndexId, IndexWrite, Result, StorageError, Timestamp};

const UPSERT_DOCUMENT: &str = "INSERT INTO documents (id, tbl, body) VALUES (?1, ?2, ?3) \
    ON CONFLICT (id) DO UPDATE SET tbl = excluded.tbl, body = excluded.body";
const DELETE_DOCUMENT: &str = "DELETE FROM documents WHERE id = ?1";
const UPSERT_INDEX_ENTRY: &str = "INSERT INTO index_entries (idx, key, doc) VALUES (?1, ?2, ?3) \
    ON CONFLICT (idx, key) DO UPDATE SET doc = excluded.doc";
const DELETE_INDEX_ENTRY: &str = "DELETE FROM index_entries WHERE idx = ?1 AND key = ?2";
const INSERT_LOG: &str = "INSERT INTO commit_log (ts, log) VALUES (?1, ?2)";

fn begin<'c>(conn: &'c mut Connection, operation: &'static str) -> Result<Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|error| sqlite_error(&format!("begin {operation}"), error))
}

/// Applies a batch of commits atomically: every ts is checked against the stored maximum (under the write lock)
/// before anything is written, and a failure anywhere rolls the whole batch back.
/// Writes the batch in one transaction; with `expected_latest`, only if the latest stored commit is that one.
pub(crate) fn write_commits(
    conn: &mut Connection,
    expected_latest: Option<Option<Timestamp>>,
    commits: &[Commit],
) -> Result<()> {
    let tx = begin(conn, "write")?;
    let mut previous = read_max_ts(&tx)?;
    if let Some(expected) = expected_latest.filter(|expected| *expected != previous) {
        return Err(StorageError::Conflict(format!(
            "the latest commit is {previous:?}, not the expected {expected:?}"
        )));
    }
    let mut timestamps = Vec::with_capacity(commits.len());
    for commit in commits {
        if previous.is_some_and(|previous| commit.ts <= previous) {
            return Err(StorageError::NonMonotonicTimestamp(commit.ts));
        }
        timestamps.push(ts_to_sql(commit.ts)?);
        previous = Some(commit.ts);
    }
    {
        let mut upsert_document = tx.prepare_cached(UPSERT_DOCUMENT).map_err(backend("prepare document upsert"))?;
        let mut delete_document = tx.prepare_cached(DELETE_DOCUMENT).map_err(backend("prepare document delete"))?;
        let mut insert_log = tx.prepare_cached(INSERT_LOG).map_err(backend("prepare log insert"))?;
        for (commit, ts) in commits.iter().zip(timestamps) {
            for write in &commit.documents {
                let result = match &write.body {
                    Some(body) => upsert_document.execute((&write.id, write.table, body)),
                    None => delete_document.execute([&write.id]),
                };
                result.map_err(|error| sqlite_error(&format!("write document {:?}", write.id), error))?;
            }
            apply_index_writes(&tx, &commit.indexes)?;
            insert_log.execute((ts, &commit.log)).map_err(|error| sqlite_error(&format!("append log {ts}"), error))?;
        }
    }
    tx.commit().map_err(backend("commit write"))
}

fn apply_index_writes(tx: &Transaction<'_>, writes: &[IndexWrite]) -> Result<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut upsert = tx.prepare_cached(UPSERT_INDEX_ENTRY).map_err(backend("prepare index upsert"))?;
    let mut delete = tx.prepare_cached(DELETE_INDEX_ENTRY).map_err(backend("prepare index delete"))?;
    for write in writes {
        let result = match &write.id {
            Some(id) => upsert.execute((write.index, &write.key, id)),
            None => delete.execute((write.index, &write.key)),
        };
        result.map_err(|error| sqlite_error(&format!("write index {} entry {:?}", write.index, write.key), error))?;
    }
    Ok(())
}

/// Deletes log records below `before`, keeping the latest one (it carries the store's max ts).
pub(crate) fn prune_log(conn: &mut Connection, before: i64) -> Result<()> {
    let tx = begin(conn, "prune_log")?;
    tx.prepare_cached("DELETE FROM commit_log WHERE ts < ?1 AND ts < (SELECT max(ts) FROM commit_log)")
        .and_then(|mut statement| statement.execute([before]))
        .map_err(backend("prune_log"))?;
    tx.commit().map_err(backend("commit prune_log"))
}

pub(crate) fn put_meta(conn: &mut Connection, entries: &[(String, Option<Vec<u8>>)]) -> Result<()> {
    let tx = begin(conn, "put_meta")?;
    {
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .map_err(backend("prepare meta upsert"))?;
        let mut delete =
            tx.prepare_cached("DELETE FROM meta WHERE key = ?1").map_err(backend("prepare meta delete"))?;
        for (key, value) in entries {
            let result = match value {
                Some(value) => upsert.execute((key, value)),
                None => delete.execute([key]),
            };
            result.map_err(|error| sqlite_error(&format!("put_meta {key:?}"), error))?;
        }
    }
    tx.commit().map_err(backend("commit put_meta"))
}

/// Sets or removes one metadata value if it currently equals `expected`, in one transaction.
pub(crate) fn put_meta_if(
    conn: &mut Connection,
    key: &str,
    expected: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<bool> {
    let tx = begin(conn, "put_meta_if")?;
    let current: Option<Vec<u8>> = tx
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .and_then(|mut statement| statement.query_row([key], |row| row.get(0)).optional())
        .map_err(|error| sqlite_error(&format!("put_meta_if read {key:?}"), error))?;
    if current.as_deref() != expected {
        return Ok(false);
    }
    let result = match value {
        Some(value) => tx
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut statement| statement.execute((key, value))),
        None => tx.prepare_cached("DELETE FROM meta WHERE key = ?1").and_then(|mut statement| statement.execute([key])),
    };
    result.map_err(|error| sqlite_error(&format!("put_meta_if {key:?}"), error))?;
    tx.commit().map_err(backend("commit put_meta_if"))?;
    Ok(true)
}

pub(crate) fn clear_index(conn: &mut Connection, index: IndexId) -> Result<()> {
    let tx = begin(conn, "clear_index")?;
    tx.prepare_cached("DELETE FROM index_entries WHERE idx = ?1")
        .and_then(|mut statement| statement.execute([index]))
        .map_err(|error| sqlite_error(&format!("clear_index {index}"), error))?;
    tx.commit().map_err(backend("commit clear_index"))
}

pub(crate) fn backfill_index(conn: &mut Connection, entries: &[IndexWrite]) -> Result<()> {
    let tx = begin(conn, "backfill_index")?;
    apply_index_writes(&tx, entries)?;
    tx.commit().map_err(backend("commit backfill_index"))
}
