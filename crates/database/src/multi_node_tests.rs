//! Several processes on one shared store ("nodes"), simulated by several databases opened on one shared in-memory
//! store: serializable commits across nodes (no lost update, no write skew), timestamps in commit order, remote
//! commits reaching each node's subscribers, and catalogs that agree.

use crate::*;
use std::sync::Arc;
use std::time::Duration;
use storage::{MemoryPersistence, Persistence};
use value::{obj, v, DocumentId, Object, Value};

fn schema() -> Schema {
    Schema::new()
        .table("counters", TableDefinition::with_fields([("n", v::int64())]))
        .table("doctors", TableDefinition::with_fields([("name", v::string()), ("on_call", v::boolean())]))
        .allow_undeclared_tables()
}

async fn node(store: &Arc<MemoryPersistence>, seed: u64) -> Database {
    let mut config = DatabaseConfig::new(schema(), Arc::new(SystemClock), Arc::new(SeededEntropy::new(seed)));
    config.tail_interval = Duration::from_millis(10);
    let persistence: Arc<dyn Persistence> = store.clone();
    Database::open(persistence, config).await.unwrap()
}

async fn two_nodes() -> (Database, Database) {
    let store = Arc::new(MemoryPersistence::new_shared());
    let a = node(&store, 1).await;
    let b = node(&store, 2).await;
    (a, b)
}

fn object(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        other => panic!("not an object: {other:?}"),
    }
}

/// Runs `body` as one transaction, re-running it on conflicts as the function runtime does.
async fn transact<F>(db: &Database, body: F) -> Timestamp
where
    F: for<'t> Fn(&'t mut Transaction) -> futures::future::BoxFuture<'t, Result<()>>,
{
    for _ in 0..200 {
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

async fn read(db: &Database, id: &DocumentId) -> Option<Object> {
    db.begin(true).await.unwrap().get(id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_on_two_nodes_lose_no_update() {
    let (a, b) = two_nodes().await;
    let id = insert(&a, "counters", obj! {"n" => 0i64}).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
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
    for t in tasks {
        timestamps.push(t.await.unwrap());
    }
    let doc = read(&b, &id).await.unwrap();
    assert_eq!(doc.get("n"), Some(&Value::Int64(40)), "every increment from either node counted once");
    timestamps.sort();
    timestamps.dedup();
    assert_eq!(timestamps.len(), 40, "every commit got its own timestamp");
}

/// The classic write-skew anomaly: each transaction reads both doctors and takes itself off call only if the other
/// is still on call. Run concurrently on two nodes, serializability keeps at least one doctor on call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_skew_across_nodes_is_prevented() {
    for round in 0..10 {
        let (a, b) = two_nodes().await;
        let alice = insert(&a, "doctors", obj! {"name" => "alice", "on_call" => true}).await;
        let bob = insert(&a, "doctors", obj! {"name" => "bob", "on_call" => true}).await;
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
        let (x, y) = tokio::join!(
            tokio::spawn(go_off_call(a.clone(), alice, bob)),
            tokio::spawn(go_off_call(b.clone(), bob, alice)),
        );
        x.unwrap();
        y.unwrap();
        let on_call = [&alice, &bob];
        let mut still_on_call = 0;
        for id in on_call {
            if read(&a, id).await.unwrap().get("on_call") == Some(&Value::Boolean(true)) {
                still_on_call += 1;
            }
        }
        assert_eq!(still_on_call, 1, "round {round}: exactly one doctor went off call");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_one_node_reaches_the_other_nodes_subscribers() {
    let (a, b) = two_nodes().await;
    let mut on_a = a.subscribe();
    let id = insert(&b, "counters", obj! {"n" => 7i64}).await;
    let b_ts = b.latest_ts();
    let entry = tokio::time::timeout(Duration::from_secs(5), on_a.recv())
        .await
        .expect("node A heard about node B's commit within the deadline")
        .unwrap();
    assert_eq!(entry.ts, b_ts, "the same commit, at the same timestamp");
    assert_eq!(a.latest_ts(), b_ts);
    assert!(a.commits_since(Timestamp(0)).is_some_and(|c| c.iter().any(|c| c.ts == b_ts)));
    // And node A reads it (a shared view opened after the notification includes it).
    let view = a.shared_read_view().await.unwrap();
    assert!(view.ts() >= b_ts);
    assert_eq!(view.transaction().get(&id).await.unwrap().and_then(|d| d.get("n").cloned()), Some(Value::Int64(7)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_follow_commit_order_across_nodes() {
    let (a, b) = two_nodes().await;
    let mut seen = Vec::new();
    for i in 0..30i64 {
        let db = if i % 3 == 0 { &b } else { &a };
        let mut txn = db.begin(false).await.unwrap();
        txn.insert("counters", object(obj! {"n" => i})).await.unwrap();
        seen.push(db.commit(txn).await.unwrap());
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "sequential commits on alternating nodes get increasing timestamps");
    sorted.dedup();
    assert_eq!(sorted.len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_created_on_one_node_are_the_same_tables_on_the_other() {
    let (a, b) = two_nodes().await;
    // Both nodes create new (undeclared) tables at once: no table number is handed out twice.
    let (x, y) = tokio::join!(insert(&a, "notes_a", obj! {"k" => "a"}), insert(&b, "notes_b", obj! {"k" => "b"}));
    let (x2, y2) = tokio::join!(insert(&b, "notes_a", obj! {"k" => "a2"}), insert(&a, "notes_b", obj! {"k" => "b2"}));
    assert_ne!(x.table(), y.table(), "two new tables, two numbers");
    assert_eq!(x.table(), x2.table(), "node B uses node A's table");
    assert_eq!(y.table(), y2.table(), "node A uses node B's table");
    tokio::time::sleep(Duration::from_millis(100)).await;
    for db in [&a, &b] {
        let txn = db.begin(true).await.unwrap();
        assert_eq!(txn.table_name_of(&x).as_deref(), Some("notes_a"));
        assert_eq!(txn.table_name_of(&y).as_deref(), Some("notes_b"));
    }
}
