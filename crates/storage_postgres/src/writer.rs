//! The write path: each operation is one transaction on a pooled connection.
//!
//! A batch is first collapsed to its final effect (the last write per document id, per index key, per metadata
//! key; commits apply in order, so the last one wins), then applied with one array statement per kind of change.
//! Keys are sorted so concurrent transactions lock rows in the same order.

use crate::{backend, pg_error, ts_from_sql, ts_to_sql, MAX_TS};
use deadpool_postgres::{Object, Transaction};
use std::collections::BTreeMap;
use storage::{Commit, IndexWrite, Result, StorageError, TableNumber, Timestamp};

const LOCK_COMMITS: &str = "LOCK TABLE commit_log IN SHARE ROW EXCLUSIVE MODE";
const DELETE_DOCUMENTS: &str = "DELETE FROM documents WHERE id = ANY($1::bytea[])";
const UPSERT_DOCUMENTS: &str = "INSERT INTO documents (id, tbl, body) \
    SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bytea[]) \
    ON CONFLICT (id) DO UPDATE SET tbl = excluded.tbl, body = excluded.body";
const DELETE_INDEX_ENTRIES: &str = "DELETE FROM index_entries AS e \
    USING unnest($1::bigint[], $2::bytea[]) AS gone (idx, key) WHERE e.idx = gone.idx AND e.key = gone.key";
const UPSERT_INDEX_ENTRIES: &str = "INSERT INTO index_entries (idx, key, doc) \
    SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[]) \
    ON CONFLICT (idx, key) DO UPDATE SET doc = excluded.doc";
const INSERT_LOG: &str = "INSERT INTO commit_log (ts, log) SELECT * FROM unnest($1::bigint[], $2::bytea[])";
const DELETE_META: &str = "DELETE FROM meta WHERE key = ANY($1::bytea[])";
const UPSERT_META: &str = "INSERT INTO meta (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
    ON CONFLICT (key) DO UPDATE SET value = excluded.value";

async fn begin<'c>(conn: &'c mut Object, operation: &'static str) -> Result<Transaction<'c>> {
    conn.transaction().await.map_err(|error| pg_error(&format!("begin {operation}"), &error))
}

type Params<'p> = [&'p (dyn tokio_postgres::types::ToSql + Sync)];

async fn run(tx: &Transaction<'_>, sql: &str, params: &Params<'_>) -> Result<()> {
    let statement = tx.prepare_cached(sql).await.map_err(|error| pg_error("prepare write", &error))?;
    tx.execute(&statement, params).await.map_err(|error| pg_error("write", &error))?;
    Ok(())
}

/// [`run`] when `needed`. Statements of one transaction joined with `try_join!` are pipelined (sent without
/// waiting for each other's answers); the writes of one batch touch disjoint rows, so their order does not matter.
async fn run_if(tx: &Transaction<'_>, needed: bool, sql: &str, params: &Params<'_>) -> Result<()> {
    if needed {
        run(tx, sql, params).await
    } else {
        Ok(())
    }
}

/// Applies a batch of commits atomically: under the commit lock every ts is checked against the stored maximum
/// before anything is written, and a failure anywhere rolls the whole batch back.
///
/// With `expected_latest`, the batch is written only if the latest stored commit is that one (`Some(None)`: no
/// commit yet), checked under the same lock, else `Conflict` and nothing is written: processes sharing the
/// database commit this way, so none can slip a commit in between another's conflict check and its write.
pub(crate) async fn write_commits(
    conn: &mut Object,
    expected_latest: Option<Option<Timestamp>>,
    commits: &[Commit],
    hint_token: &str,
) -> Result<()> {
    let tx = begin(conn, "write").await?;
    // Pipelined, in order: the lock is taken before the max is read.
    let (locked, max) = tokio::join!(tx.batch_execute(LOCK_COMMITS), async {
        let statement = tx.prepare_cached(MAX_TS).await.map_err(backend("prepare max ts"))?;
        tx.query_one(&statement, &[])
            .await
            .and_then(|row| row.try_get::<_, Option<i64>>(0))
            .map_err(backend("read max ts"))
    });
    locked.map_err(backend("lock the commit log"))?;
    let max = max?;
    let mut previous = max.map(ts_from_sql).transpose()?;
    if let Some(expected) = expected_latest.filter(|expected| *expected != previous) {
        return Err(StorageError::Conflict(format!(
            "the latest commit is {previous:?}, not the expected {expected:?}"
        )));
    }
    if commits.is_empty() {
        return Ok(());
    }
    let mut timestamps = Vec::with_capacity(commits.len());
    let mut logs: Vec<&[u8]> = Vec::with_capacity(commits.len());
    for commit in commits {
        if previous.is_some_and(|previous| commit.ts <= previous) {
            return Err(StorageError::NonMonotonicTimestamp(commit.ts));
        }
        timestamps.push(ts_to_sql(commit.ts)?);
        logs.push(&commit.log);
        previous = Some(commit.ts);
    }

    let mut documents: BTreeMap<&[u8], (TableNumber, Option<&[u8]>)> = BTreeMap::new();
    for write in commits.iter().flat_map(|commit| &commit.documents) {
        documents.insert(&write.id, (write.table, write.body.as_deref()));
    }
    let mut deleted: Vec<&[u8]> = Vec::new();
    let (mut ids, mut tables, mut bodies): (Vec<&[u8]>, Vec<i64>, Vec<&[u8]>) = (Vec::new(), Vec::new(), Vec::new());
    for (id, (table, body)) in documents {
        match body {
            Some(body) => {
                ids.push(id);
                tables.push(i64::from(table));
                bodies.push(body);
            }
            None => deleted.push(id),
        }
    }
    let (delete_params, upsert_params, log_params): (&Params<'_>, &Params<'_>, &Params<'_>) =
        (&[&deleted], &[&ids, &tables, &bodies], &[&timestamps, &logs]);
    let hint_params: &Params<'_> = &[&crate::hints::CHANNEL, &hint_token];
    tokio::try_join!(
        // Delivered to the other processes' listeners only if this transaction commits.
        run(&tx, "SELECT pg_notify($1, $2)", hint_params),
        run_if(&tx, !deleted.is_empty(), DELETE_DOCUMENTS, delete_params),
        run_if(&tx, !ids.is_empty(), UPSERT_DOCUMENTS, upsert_params),
        apply_index_writes(&tx, commits.iter().flat_map(|commit| &commit.indexes)),
        run(&tx, INSERT_LOG, log_params),
    )?;
    tx.commit().await.map_err(backend("commit write"))
}

async fn apply_index_writes<'w>(tx: &Transaction<'_>, writes: impl Iterator<Item = &'w IndexWrite>) -> Result<()> {
    let mut entries: BTreeMap<(u32, &[u8]), Option<&[u8]>> = BTreeMap::new();
    for write in writes {
        entries.insert((write.index, &write.key), write.id.as_deref());
    }
    let (mut gone_indexes, mut gone_keys): (Vec<i64>, Vec<&[u8]>) = (Vec::new(), Vec::new());
    let (mut indexes, mut keys, mut docs): (Vec<i64>, Vec<&[u8]>, Vec<&[u8]>) = (Vec::new(), Vec::new(), Vec::new());
    for ((index, key), id) in entries {
        match id {
            Some(id) => {
                indexes.push(i64::from(index));
                keys.push(key);
                docs.push(id);
            }
            None => {
                gone_indexes.push(i64::from(index));
                gone_keys.push(key);
            }
        }
    }
    let (delete_params, upsert_params): (&Params<'_>, &Params<'_>) =
        (&[&gone_indexes, &gone_keys], &[&indexes, &keys, &docs]);
    tokio::try_join!(
        run_if(tx, !gone_keys.is_empty(), DELETE_INDEX_ENTRIES, delete_params),
        run_if(tx, !keys.is_empty(), UPSERT_INDEX_ENTRIES, upsert_params),
    )?;
    Ok(())
}

pub(crate) async fn put_meta(conn: &mut Object, entries: &[(String, Option<Vec<u8>>)]) -> Result<()> {
    let mut last: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
    for (key, value) in entries {
        last.insert(key.as_bytes(), value.as_deref());
    }
    let mut deleted: Vec<&[u8]> = Vec::new();
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut values: Vec<&[u8]> = Vec::new();
    for (key, value) in last {
        match value {
            Some(value) => {
                keys.push(key);
                values.push(value);
            }
            None => deleted.push(key),
        }
    }
    let tx = begin(conn, "put_meta").await?;
    if !deleted.is_empty() {
        run(&tx, DELETE_META, &[&deleted]).await?;
    }
    if !keys.is_empty() {
        run(&tx, UPSERT_META, &[&keys, &values]).await?;
    }
    tx.commit().await.map_err(backend("commit put_meta"))
}

/// Sets or removes one metadata value if it currently equals `expected`. Compare-and-set calls are serialized by a
/// self-conflicting lock on `meta` (plain reads pass), so two processes never both see the old value.
pub(crate) async fn put_meta_if(
    conn: &mut Object,
    key: &str,
    expected: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<bool> {
    let tx = begin(conn, "put_meta_if").await?;
    tx.batch_execute("LOCK TABLE meta IN SHARE ROW EXCLUSIVE MODE").await.map_err(backend("lock meta"))?;
    let key_bytes = key.as_bytes();
    let current: Option<Vec<u8>> = tx
        .query_opt("SELECT value FROM meta WHERE key = $1", &[&key_bytes])
        .await
        .and_then(|row| row.map(|row| row.try_get(0)).transpose())
        .map_err(|error| pg_error(&format!("put_meta_if read {key:?}"), &error))?;
    if current.as_deref() != expected {
        return Ok(false);
    }
    match value {
        Some(value) => run(&tx, UPSERT_META, &[&vec![key_bytes], &vec![value]]).await?,
        None => run(&tx, DELETE_META, &[&vec![key_bytes]]).await?,
    }
    tx.commit().await.map_err(|error| pg_error(&format!("commit put_meta_if {key:?}"), &error))?;
    Ok(true)
}

pub(crate) async fn backfill_index(conn: &mut Object, entries: &[IndexWrite]) -> Result<()> {
    let tx = begin(conn, "backfill_index").await?;
    apply_index_writes(&tx, entries.iter()).await?;
    tx.commit().await.map_err(backend("commit backfill_index"))
}
