//! The conformance suite and database-level behaviour of the PostgreSQL backend. Each test gets a fresh database
//! (see `test_support::postgres`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use storage::{
    Commit, DocumentWrite, IndexWrite, KeyRange, Order, Persistence, StorageError, StoredDocument, Timestamp,
};
use storage_postgres::{PostgresConfig, PostgresPersistence};
use test_support::conformance::document_commit;
use test_support::postgres::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_conformance() {
    // Each case gets its own database, dropped when the case ends; the reopen case connects to one twice.
    test_support::conformance::run_all(test_support::conformance::Postgres).await;
}

#[tokio::test]
async fn timestamps_and_table_numbers_at_the_limits() {
    let database = TestDatabase::create_or_panic().await;
    let persistence = PostgresPersistence::connect(database.url()).await.unwrap();
    test_support::conformance::timestamps_above_i64_are_refused(&persistence).await;
    persistence
        .write(vec![Commit {
            ts: Timestamp(i64::MAX as u64),
            documents: vec![DocumentWrite { id: b"max".to_vec(), table: u32::MAX, body: Some(b"m".to_vec()) }],
            indexes: vec![IndexWrite { index: u32::MAX, key: vec![0xff; 3], id: Some(b"max".to_vec()) }],
            log: Vec::new(),
        }])
        .await
        .unwrap();
    assert_eq!(persistence.max_ts().await.unwrap(), Some(Timestamp(i64::MAX as u64)), "i64::MAX itself is storable");
    let snapshot = persistence.snapshot().await.unwrap();
    assert_eq!(snapshot.get(b"max").await.unwrap(), Some(StoredDocument { table: u32::MAX, body: b"m".to_vec() }));
    assert_eq!(snapshot.scan(u32::MAX, &KeyRange::all(), Order::Desc, 1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn metadata_keys_with_nul_and_non_ascii_round_trip() {
    let database = TestDatabase::create_or_panic().await;
    let persistence = PostgresPersistence::connect(database.url()).await.unwrap();
    let keys = ["a\0b", "a", "a\u{10ffff}", "\u{7f}", "é"];
    persistence
        .put_meta(keys.iter().map(|key| ((*key).to_owned(), Some(key.as_bytes().to_vec()))).collect())
        .await
        .unwrap();
    for key in keys {
        assert_eq!(persistence.get_meta(key).await.unwrap(), Some(key.as_bytes().to_vec()), "{key:?}");
    }
    let listed: Vec<String> = persistence.list_meta("a").await.unwrap().into_iter().map(|(key, _)| key).collect();
    assert_eq!(listed, vec!["a".to_owned(), "a\0b".to_owned(), "a\u{10ffff}".to_owned()], "bytewise order");
}

#[tokio::test]
async fn bad_connection_strings_and_unreachable_servers_are_clear_errors() {
    match PostgresPersistence::connect("postgres://bad url with spaces:notaport/x").await {
        Err(StorageError::Backend(message)) => assert!(message.contains("connection string"), "{message}"),
        other => panic!("an invalid URL must be refused, got {other:?}"),
    }
    let config = PostgresConfig { connect_timeout: std::time::Duration::from_secs(2), ..PostgresConfig::default() };
    // Port 1 on loopback: nothing listens there.
    match PostgresPersistence::connect_with("postgres://someone:secret-password@127.0.0.1:1/db", config).await {
        Err(StorageError::Backend(message)) => {
            assert!(message.contains("127.0.0.1:1"), "the target is named: {message}");
            assert!(!message.contains("secret-password"), "the password is never printed: {message}");
        }
        other => panic!("an unreachable server must fail, got {other:?}"),
    }
    let database = TestDatabase::create_or_panic().await;
    let missing = test_support::postgres::with_database(database.url(), "authvex_no_such_database");
    match PostgresPersistence::connect(&missing).await {
        Err(StorageError::Backend(message)) => assert!(message.contains("does not exist"), "{message}"),
        other => panic!("a missing database must fail, got {other:?}"),
    }
}

#[tokio::test]
async fn snapshots_beyond_their_pool_wait_then_fail_clearly_and_never_block_commits() {
    let database = TestDatabase::create_or_panic().await;
    let config = PostgresConfig {
        snapshot_connections: 2,
        other_connections: 1,
        wait_timeout: std::time::Duration::from_millis(300),
        ..PostgresConfig::default()
    };
    let persistence = PostgresPersistence::connect_with(database.url(), config).await.unwrap();
    persistence.write(vec![document_commit(1, b"a", b"alpha")]).await.unwrap();
    let first = persistence.snapshot().await.unwrap();
    let second = persistence.snapshot().await.unwrap();
    match persistence.snapshot().await {
        Err(StorageError::Backend(message)) => assert!(message.contains("snapshots"), "{message}"),
        Err(other) => panic!("expected a pool timeout, got {other}"),
        Ok(_) => panic!("a third snapshot cannot get a connection"),
    }
    // Transactions hold their snapshots until they commit: commits and the other operations must not need one.
    persistence.write(vec![document_commit(2, b"b", b"beta")]).await.unwrap();
    persistence.write_if_latest(Some(Timestamp(2)), vec![document_commit(3, b"c", b"gamma")]).await.unwrap();
    assert_eq!(persistence.max_ts().await.unwrap(), Some(Timestamp(3)));
    assert_eq!(persistence.log_after(Timestamp(0), 10).await.unwrap().len(), 3);
    persistence.put_meta(vec![("k".to_owned(), Some(b"v".to_vec()))]).await.unwrap();
    assert_eq!(persistence.get_meta("k").await.unwrap(), Some(b"v".to_vec()));

    drop(first);
    // The dropped snapshot's connection comes back after its rollback, and a snapshot on the recycled connection
    // is outside the old read transaction: it sees the later commits.
    let third = persistence.snapshot().await.unwrap();
    assert_eq!(third.ts(), Timestamp(3), "a recycled connection starts a fresh snapshot");
    assert_eq!(third.get(b"c").await.unwrap().map(|doc| doc.body), Some(b"gamma".to_vec()));
    assert_eq!(second.ts(), Timestamp(1), "the other snapshot is unchanged");
    assert_eq!(second.get(b"b").await.unwrap(), None, "and does not see the later commits");
}
