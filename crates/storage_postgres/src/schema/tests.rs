#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{migrate, MIGRATIONS, SCHEMA_VERSION};
use crate::PostgresPersistence;
use storage::StorageError;
// `test_support` depends on this crate, so its copy of it is another crate: only the URL crosses over.
use test_support::postgres::TestDatabase;

async fn version(persistence: &PostgresPersistence) -> i64 {
    let conn = persistence.conn().await.unwrap();
    conn.query_one("SELECT version FROM schema_version", &[]).await.unwrap().get(0)
}

async fn table_exists(persistence: &PostgresPersistence, table: &str) -> bool {
    let conn = persistence.conn().await.unwrap();
    conn.query_one("SELECT to_regclass($1) IS NOT NULL", &[&table]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_new_database_gets_the_current_schema_and_reopening_keeps_it() {
    let db = TestDatabase::create_or_panic().await;
    let persistence = PostgresPersistence::connect(db.url()).await.unwrap();
    assert_eq!(version(&persistence).await, i64::from(SCHEMA_VERSION));
    for table in ["documents", "index_entries", "commit_log", "meta"] {
        assert!(table_exists(&persistence, table).await, "table {table} exists");
    }
    drop(persistence);
    let persistence = PostgresPersistence::connect(db.url()).await.unwrap();
    assert_eq!(version(&persistence).await, i64::from(SCHEMA_VERSION), "reopening leaves the version alone");
    let rows: i64 =
        persistence.conn().await.unwrap().query_one("SELECT count(*) FROM schema_version", &[]).await.unwrap().get(0);
    assert_eq!(rows, 1, "one version row");
}

#[tokio::test]
async fn a_failed_step_leaves_the_previous_version_and_a_good_one_applies() {
    let db = TestDatabase::create_or_panic().await;
    let persistence = PostgresPersistence::connect(db.url()).await.unwrap();
    let mut conn = persistence.conn().await.unwrap();

    let failing = [MIGRATIONS[0], "CREATE TABLE extra (x integer); SELECT * FROM no_such_table"];
    match migrate(&mut conn, &failing).await {
        Err(StorageError::Backend(message)) => {
            assert!(message.contains("migration to schema version 2"), "the step is named: {message}");
            assert!(message.contains("no_such_table"), "the server's reason is kept: {message}");
        }
        other => panic!("a failing migration must fail, got {other:?}"),
    }
    assert_eq!(version(&persistence).await, 1, "the failed step left version 1");
    assert!(!table_exists(&persistence, "extra").await, "the failed step's table was rolled back");

    let good = [MIGRATIONS[0], "CREATE TABLE extra (x integer)", "ALTER TABLE extra ADD COLUMN y integer"];
    migrate(&mut conn, &good).await.unwrap();
    assert_eq!(version(&persistence).await, 3, "both new steps applied");
    assert!(table_exists(&persistence, "extra").await);
    migrate(&mut conn, &good).await.unwrap();
    assert_eq!(version(&persistence).await, 3, "an up-to-date database is left alone");

    drop(conn);
    match PostgresPersistence::connect(db.url()).await {
        Err(StorageError::Backend(message)) => {
            assert!(message.contains("schema version 3 is not supported"), "a newer schema is refused: {message}")
        }
        other => panic!("a database from a newer build must be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn processes_starting_at_once_migrate_once() {
    let db = TestDatabase::create_or_panic().await;
    let url = db.url().to_owned();
    let opens = (0..4).map(|_| {
        let url = url.clone();
        async move { PostgresPersistence::connect(&url).await }
    });
    for result in futures_join_all(opens).await {
        result.unwrap();
    }
    let persistence = PostgresPersistence::connect(db.url()).await.unwrap();
    assert_eq!(version(&persistence).await, i64::from(SCHEMA_VERSION));
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}
