//! Several processes ("nodes") on one PostgreSQL database, simulated by several `Database`s each with its own
//! `PostgresPersistence` (its own connection pool) on one test database: commits stay serializable across nodes
//! (no lost update, no write skew), every commit gets its own timestamp, and a commit on one node reaches the other
//! node's subscribers through the commit log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use database::{Database, DatabaseConfig, Schema, SeededEntropy, SystemClock, TableDefinition, Transaction};
use std::sync::Arc;
use std::time::Duration;
use storage_postgres::testing::TestDatabase;
use storage_postgres::PostgresPersistence;
use value::{obj, v, DocumentId, Object, Value};

fn schema() -> Schema {
    Schema::new()
        .table("counters", TableDefinition::with_fields([("n", v::int64())]))
        .table("doctors", TableDefinition::with_fields([("name", v::string()), ("on_call", v::boolean())]))
}

async fn node(url: &str, seed: u64) -> Database {
    node_polling_every(url, seed, Duration::from_millis(10)).await
}

async fn node_polling_every(url: &str, seed: u64, tail_interval: Duration) -> Database {
    let persistence = PostgresPersistence::connect(url).await.unwrap();
    let mut config = DatabaseConfig::new(schema(), Arc::new(SystemClock), Arc::new(SeededEntropy::new(seed)));
    config.tail_interval = tail_interval;
    Database::open(Arc::new(persistence), config).await.unwrap()
}

fn object(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        other => panic!("not an object: {other:?}"),
    }
}

/// Runs `body` as one transaction, re-running it on conflicts as the function runtime does.
async fn transact<F>(db: &Database, body: F) -> database::Timestamp
where
    F: for<'t> Fn(&'t mut Transaction) -> futures::future::BoxFuture<'t, database::Result<()>>,
{
    for _ in 0..500 {
        let mut txn = db.begin(false).await.unwrap();
        body(&mut txn).await.unwrap();
        match db.commit(txn).await {
            Ok(ts) => return ts,
            Err(e) if e.is_conflict() => continue,
            Err(e) => panic!("commit failed: {e}"),
        }
    }
    panic!("too many conflicts");
}

async fn insert(db: &Database, table: &str, fields: Value) -> DocumentId {
    let mut txn = db.begin(false).await.unwrap();
    let id = txn.insert(table, object(fields)).await.unwrap();
    db.commit(txn).await.unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_on_two_nodes_lose_no_update() {
    let database = TestDatabase::create_or_panic().await;
    let a = node(database.url(), 1).await;
    let b = node(database.url(), 2).await;
    let id = insert(&a, "counters", obj! {"n" => 0i64}).await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let db = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            transact(&db, |txn| {
                Box::pin(async move {
                    let doc = txn.get(&id).await?.expect("the counter exists");
                    let n = match doc.get("n") {
                        Some(Value::Int64(n)) => *n,
                        other => panic!("n is {other:?}"),
                    };
                    txn.patch(&id, object(obj! {"n" => n + 1}), &[]).await
                })
            })
            .await
        }));
    }
    let mut timestamps = Vec::new();
    for task in tasks {
        timestamps.push(task.await.unwrap());
    }
    let doc = b.begin(true).await.unwrap().get(&id).await.unwrap().unwrap();
    assert_eq!(doc.get("n"), Some(&Value::Int64(30)), "every increment from either node counted once");
    timestamps.sort();
    timestamps.dedup();
    assert_eq!(timestamps.len(), 30, "every commit got its own timestamp");
}

/// Each transaction takes its doctor off call only if the other is still on call; run on two nodes at once,
/// serializability keeps at least one on call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_skew_across_nodes_is_prevented() {
    let database = TestDatabase::create_or_panic().await;
    let a = node(database.url(), 3).await;
    let b = node(database.url(), 4).await;
    for round in 0..5 {
        let alice = insert(&a, "doctors", obj! {"name" => format!("alice{round}"), "on_call" => true}).await;
        let bob = insert(&a, "doctors", obj! {"name" => format!("bob{round}"), "on_call" => true}).await;
        let go_off_call = |db: Database, me: DocumentId, other: DocumentId| async move {
            transact(&db, |txn| {
                Box::pin(async move {
                    let mine = txn.get(&me).await?.expect("exists");
                    let theirs = txn.get(&other).await?.expect("exists");
                    if mine.get("on_call") == Some(&Value::Boolean(true))
                        && theirs.get("on_call") == Some(&Value::Boolean(true))
                    {
                        txn.patch(&me, object(obj! {"on_call" => false}), &[]).await?;
                    }
                    Ok(())
                })
            })
            .await
        };
        let first = tokio::spawn(go_off_call(a.clone(), alice, bob));
        let second = tokio::spawn(go_off_call(b.clone(), bob, alice));
        first.await.unwrap();
        second.await.unwrap();
        let mut txn = a.begin(true).await.unwrap();
        let mut still = 0;
        for id in [alice, bob] {
            if txn.get(&id).await.unwrap().unwrap().get("on_call") == Some(&Value::Boolean(true)) {
                still += 1;
            }
        }
        assert_eq!(still, 1, "round {round}: exactly one doctor stays on call");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_one_node_reaches_the_other_nodes_subscribers() {
    let database = TestDatabase::create_or_panic().await;
    let a = node(database.url(), 5).await;
    let b = node(database.url(), 6).await;
    let mut on_b = b.subscribe();
    let ts = transact(&a, |txn| {
        Box::pin(async move {
            txn.insert("counters", object(obj! {"n" => 7i64})).await?;
            Ok(())
        })
    })
    .await;
    let entry = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let entry = on_b.recv().await.unwrap();
            if entry.ts >= ts {
                return entry;
            }
        }
    })
    .await
    .expect("node B hears of node A's commit through the commit log");
    assert_eq!(entry.ts, ts, "with A's timestamp");
    assert!(!entry.writes.keys.is_empty(), "and its write set");
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

/// Writes that do not overlap never conflict, however busy the other node is: a batch that lost the race to the
/// other node's commit (between its conflict check and its write) is checked again against it and written, not
/// failed back to its transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disjoint_writes_on_two_busy_nodes_commit_at_the_first_attempt() {
    let database = TestDatabase::create_or_panic().await;
    let a = node(database.url(), 9).await;
    let b = node(database.url(), 10).await;
    let mut tasks = Vec::new();
    for w in 0..16i64 {
        let db = if w % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            for i in 0..25i64 {
                let mut txn = db.begin(false).await.unwrap();
                txn.insert("counters", object(obj! {"n" => w * 100 + i})).await.unwrap();
                if let Err(e) = db.commit(txn).await {
                    panic!("a disjoint insert failed to commit: {e}");
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut txn = a.begin(true).await.unwrap();
    let all = txn.scan(database::ScanRequest::new("counters", "by_creation_time")).await.unwrap();
    assert_eq!(all.documents.len(), 400);
}
