//! Several processes ("nodes") on one PostgreSQL database, simulated by several `Database`s each with its own
//! `PostgresPersistence` (its own connection pools and LISTEN connection) on one test database: the multi-node
//! suite (no lost update, no write skew, timestamps in commit order, remote commits reaching
//! subscribers, one number per new table, disjoint writes never failing), plus the NOTIFY commit hint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use database::Database;
use std::sync::Arc;
use std::time::Duration;
use storage_postgres::PostgresPersistence;
use test_support::multi_node::{self, insert, Pair};
use test_support::postgres::TestDatabase;
use value::{obj, Value};

async fn node_polling_every(url: &str, seed: u64, tail_interval: Duration) -> Database {
    let persistence = PostgresPersistence::connect(url).await.unwrap();
    multi_node::node(Arc::new(persistence), seed, tail_interval).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_pass_the_multi_node_suite() {
    multi_node::run_all(|| async {
        let database = TestDatabase::create_or_panic().await;
        let a = node_polling_every(database.url(), 1, Duration::from_millis(10)).await;
        let b = node_polling_every(database.url(), 2, Duration::from_millis(10)).await;
        Pair { a, b, keep: Box::new(database) }
    })
    .await;
}

/// With the commit-log poll slowed to a minute, a remote commit still arrives promptly: the writer's NOTIFY wakes
/// the other node's committer, which then reads the log (the hint carries nothing else).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_hint_brings_remote_commits_before_the_next_poll() {
    let database = TestDatabase::create_or_panic().await;
    let a = node_polling_every(database.url(), 7, Duration::from_secs(60)).await;
    let b = node_polling_every(database.url(), 8, Duration::from_secs(60)).await;
    // Let both first polls (an interval ticks at once) and the listeners' LISTEN happen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut on_b = b.subscribe();
    for n in 0..3i64 {
        let id = insert(&a, "counters", obj! {"n" => n}).await;
        let ts = a.latest_ts();
        let entry = tokio::time::timeout(Duration::from_secs(10), on_b.recv())
            .await
            .expect("node B heard of node A's commit long before its next poll")
            .unwrap();
        assert_eq!(entry.ts, ts);
        let doc = b.begin(true).await.unwrap().get(&id).await.unwrap();
        assert_eq!(doc.and_then(|d| d.get("n").cloned()), Some(Value::Int64(n)));
    }
}
