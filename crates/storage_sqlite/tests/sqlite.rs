//! The conformance suite and file-level behaviour of the SQLite backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use storage::{
    Commit, DocumentWrite, IndexWrite, KeyRange, Order, Persistence, StorageError, StoredDocument, Timestamp,
};
use storage_sqlite::{SqlitePersistence, SCHEMA_VERSION};
use tempfile::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_conformance() {
    // Each case gets its own directory; all are kept until the suite ends.
    let dirs: Mutex<Vec<TempDir>> = Mutex::new(Vec::new());
    storage::conformance::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let persistence = SqlitePersistence::open(&dir.path().join("authvex.sqlite")).unwrap();
        dirs.lock().unwrap().push(dir);
        async move { Arc::new(persistence) as Arc<dyn Persistence> }
    })
    .await;
}

fn commit(ts: u64, id: &[u8], body: &[u8]) -> Commit {
    Commit {
        ts: Timestamp(ts),
        documents: vec![DocumentWrite { id: id.to_vec(), table: 4, body: Some(body.to_vec()) }],
        indexes: vec![IndexWrite { index: 2, key: body.to_vec(), id: Some(id.to_vec()) }],
        log: format!("log@{ts}").into_bytes(),
    }
}

fn open(path: &Path) -> SqlitePersistence {
    SqlitePersistence::open(path).unwrap()
}

#[tokio::test]
async fn data_survives_reopen_and_timestamps_stay_monotonic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authvex.sqlite");
    {
        let persistence = open(&path);
        persistence.write(vec![commit(10, b"a", b"alpha"), commit(20, b"b", b"beta")]).await.unwrap();
        persistence.put_meta(vec![("catalog".to_owned(), Some(b"v1".to_vec()))]).await.unwrap();
        persistence.prune_log(Timestamp(u64::MAX)).await.unwrap();
        // A snapshot still open when the store is dropped must not keep the data from being reopened.
        let snapshot = persistence.snapshot().await.unwrap();
        drop(persistence);
        assert_eq!(snapshot.ts(), Timestamp(20), "a snapshot outlives its store handle");
    }

    let persistence = open(&path);
    assert_eq!(persistence.max_ts().await.unwrap(), Some(Timestamp(20)), "max_ts survives a reopen (and a prune)");
    let snapshot = persistence.snapshot().await.unwrap();
    assert_eq!(snapshot.ts(), Timestamp(20));
    assert_eq!(snapshot.get(b"a").await.unwrap(), Some(StoredDocument { table: 4, body: b"alpha".to_vec() }));
    let keys: Vec<Vec<u8>> =
        snapshot.scan(2, &KeyRange::all(), Order::Asc, 10).await.unwrap().into_iter().map(|entry| entry.key).collect();
    assert_eq!(keys, vec![b"alpha".to_vec(), b"beta".to_vec()], "index entries survive a reopen");
    assert_eq!(persistence.get_meta("catalog").await.unwrap(), Some(b"v1".to_vec()), "metadata survives a reopen");

    for ts in [20, 19, 1] {
        let result = persistence.write(vec![commit(ts, b"c", b"gamma")]).await;
        assert!(
            matches!(result, Err(StorageError::NonMonotonicTimestamp(Timestamp(rejected))) if rejected == ts),
            "ts {ts} is not after the max before the reopen: {result:?}"
        );
    }
    persistence.write(vec![commit(21, b"c", b"gamma")]).await.unwrap();
    assert_eq!(persistence.max_ts().await.unwrap(), Some(Timestamp(21)));
}

#[tokio::test]
async fn schema_version_is_set_and_newer_schemas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authvex.sqlite");
    drop(open(&path));
    let user_version = |path: &Path| -> i64 {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap()
    };
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION), "a new database is at the current schema version");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal", "the database is in WAL mode");

    // Reopening a current database leaves it as it is.
    drop(open(&path));
    assert_eq!(user_version(&path), i64::from(SCHEMA_VERSION));

    conn.pragma_update(None, "user_version", i64::from(SCHEMA_VERSION) + 1).unwrap();
    drop(conn);
    match SqlitePersistence::open(&path) {
        Err(StorageError::Backend(message)) => {
            assert!(message.contains("schema version"), "the error names the schema version: {message}")
        }
        other => panic!("a database from a newer build must be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn timestamps_beyond_i64_are_rejected_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let persistence = open(&dir.path().join("authvex.sqlite"));
    let too_large = i64::MAX as u64 + 1;
    let result = persistence.write(vec![commit(5, b"a", b"alpha"), commit(too_large, b"b", b"beta")]).await;
    match result {
        Err(StorageError::Backend(message)) => assert!(message.contains("timestamp"), "{message}"),
        other => panic!("a ts above i64::MAX must be rejected, got {other:?}"),
    }
    assert_eq!(persistence.max_ts().await.unwrap(), None, "the whole batch was rejected");
    persistence.write(vec![commit(i64::MAX as u64, b"a", b"alpha")]).await.unwrap();
    assert_eq!(persistence.max_ts().await.unwrap(), Some(Timestamp(i64::MAX as u64)), "i64::MAX itself is storable");
}

#[test]
fn open_fails_cleanly_for_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    match SqlitePersistence::open(&dir.path().join("missing").join("authvex.sqlite")) {
        Err(StorageError::Backend(message)) => assert!(message.contains("open"), "{message}"),
        other => panic!("opening in a missing directory must fail, got {other:?}"),
    }
}
