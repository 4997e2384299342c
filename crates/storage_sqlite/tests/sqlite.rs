//! The conformance suite and file-level behaviour of the SQLite backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use storage::{Persistence, StorageError, Timestamp};
use storage_sqlite::{SqlitePersistence, SCHEMA_VERSION};
use test_support::conformance::document_commit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_conformance() {
    // Each case gets its own directory, removed when the case ends; the reopen case opens one file twice.
    test_support::conformance::run_all(test_support::conformance::Sqlite).await;
}

fn open(path: &Path) -> SqlitePersistence {
    SqlitePersistence::open(path).unwrap()
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
    test_support::conformance::timestamps_above_i64_are_refused(&persistence).await;
    persistence.write(vec![document_commit(i64::MAX as u64, b"a", b"alpha")]).await.unwrap();
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
