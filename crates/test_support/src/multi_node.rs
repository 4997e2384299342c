//! The multi-node suite every shared store runs ([`storage::Persistence::is_shared`]): two `Database`s ("nodes") on
//! one store must behave as one database — no lost update, no write skew, every commit its own timestamp in commit
//! order, one node's commits reach the other's subscribers, new tables get one number everywhere, and disjoint
//! writes from two busy nodes all commit at the first attempt.
//!
//! [`run_all`] runs every case on a fresh pair from the caller's factory (the shared in-memory store in `database`'s
//! tests, PostgreSQL in `storage_postgres`'s).

use database::{Database, DatabaseConfig, Schema, SeededEntropy, SystemClock, TableDefinition, Timestamp};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use storage::DynPersistence;
use value::{obj, v, DocumentId, Object, Value};

/// Two nodes on one store, plus whatever must live as long as they do (a test database, say).
pub struct Pair {
    pub a: Database,
    pub b: Database,
    pub keep: Box<dyn std::any::Any + Send>,
}

/// The schema the cases use.
pub fn schema() -> Schema {
    Schema::new()
        .table("counters", TableDefinition::with_fields([("n", v::int64())]))
        .table("doctors", TableDefinition::with_fields([("name", v::string()), ("on_call", v::boolean())]))
        .allow_undeclared_tables()
}

/// A node on `store` with the suite's schema, the system clock, its own id seed, and a quick commit-log poll.
pub async fn node(store: DynPersistence, seed: u64, tail_interval: Duration) -> Database {
    let mut config = DatabaseConfig::new(schema(), Arc::new(SystemClock), Arc::new(SeededEntropy::new(seed)));
    config.tail_interval = tail_interval;
    Database::open(store, config).await.unwrap()
}

/// Runs every case, each on a fresh pair from `make_pair`.
pub async fn run_all<F, Fut>(make_pair: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Pair>,
{
    macro_rules! cases {
        ($($case:ident),* $(,)?) => {
            $(
                eprintln!("multi-node suite: {}", stringify!($case));
                $case(make_pair().await).await;
            )*
        };
    }
    cases!(
        concurrent_increments_lose_no_update,
        write_skew_is_prevented,
        a_commit_reaches_the_other_nodes_subscribers,
        timestamps_follow_commit_order,
        new_tables_get_one_number_on_both_nodes,
        disjoint_writes_commit_at_the_first_attempt,
    );
}

fn object(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        other => panic!("not an object: {other:?}"),
    }
}

/// Inserts one document in its own transaction (inserts read nothing, so they never conflict).
pub async fn insert(db: &Database, table: &str, fields: Value) -> DocumentId {
    let mut txn = db.begin(false).await.unwrap();
    let id = txn.insert(table, object(fields)).await.unwrap();
    db.commit(txn).await.unwrap();
    id
}

/// Reads the counter and writes it back plus one, re-running on conflicts as the function runtime does.
async fn increment(db: &Database, id: DocumentId) -> Timestamp {
    for _ in 0..500 {
        let mut txn = db.begin(false).await.unwrap();
        let doc = txn.get(&id).await.unwrap().expect("the counter exists");
        let n = match doc.get("n") {
            Some(Value::Int64(n)) => *n,
            other => panic!("n is {other:?}"),
        };
        txn.patch(&id, object(obj! {"n" => n + 1}), &[]).await.unwrap();
        match db.commit(txn).await {
            Ok(ts) => return ts,
            Err(e) if e.is_conflict() => continue,
            Err(e) => panic!("commit failed: {e}"),
        }
    }
    panic!("too many conflicts");
}

/// Takes `me` off call if `other` is still on call (re-run on conflicts).
async fn go_off_call(db: Database, me: DocumentId, other: DocumentId) {
    for _ in 0..500 {
        let mut txn = db.begin(false).await.unwrap();
        let mine = txn.get(&me).await.unwrap().expect("exists");
        let theirs = txn.get(&other).await.unwrap().expect("exists");
        let on_call = |doc: &Object| doc.get("on_call") == Some(&Value::Boolean(true));
        if on_call(&mine) && on_call(&theirs) {
            txn.patch(&me, object(obj! {"on_call" => false}), &[]).await.unwrap();
        }
        match db.commit(txn).await {
            Ok(_) => return,
            Err(e) if e.is_conflict() => continue,
            Err(e) => panic!("commit failed: {e}"),
        }
    }
    panic!("too many conflicts");
}

/// Read-modify-write increments split over both nodes: every one counts, each at its own timestamp.
pub async fn concurrent_increments_lose_no_update(pair: Pair) {
    let Pair { a, b, .. } = pair;
    let id = insert(&a, "counters", obj! {"n" => 0i64}).await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let db = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { increment(&db, id).await }));
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

/// The classic write-skew anomaly: each transaction reads both doctors and takes itself off call only if the other
/// is still on call. Run at once on two nodes, serializability keeps exactly one on call.
pub async fn write_skew_is_prevented(pair: Pair) {
    let Pair { a, b, .. } = pair;
    for round in 0..8 {
        let alice = insert(&a, "doctors", obj! {"name" => format!("alice{round}"), "on_call" => true}).await;
        let bob = insert(&a, "doctors", obj! {"name" => format!("bob{round}"), "on_call" => true}).await;
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

/// A commit on node A reaches node B's subscribers (with A's timestamp and write set), and B then reads it.
pub async fn a_commit_reaches_the_other_nodes_subscribers(pair: Pair) {
    let Pair { a, b, .. } = pair;
    let mut on_b = b.subscribe();
    let id = insert(&a, "counters", obj! {"n" => 7i64}).await;
    let ts = a.latest_ts();
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
    assert!(b.latest_ts() >= ts);
    let view = b.shared_read_view().await.unwrap();
    assert!(view.ts() >= ts, "a view taken after the notification includes the commit");
    let doc = view.transaction().get(&id).await.unwrap();
    assert_eq!(doc.and_then(|d| d.get("n").cloned()), Some(Value::Int64(7)));
}

/// Sequential commits alternating between the nodes get increasing timestamps.
pub async fn timestamps_follow_commit_order(pair: Pair) {
    let Pair { a, b, .. } = pair;
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

/// Both nodes create new (undeclared) tables at once: no table number is handed out twice, and each node uses the
/// other's tables under the same numbers.
pub async fn new_tables_get_one_number_on_both_nodes(pair: Pair) {
    let Pair { a, b, .. } = pair;
    let (x, y) = tokio::join!(insert(&a, "notes_a", obj! {"k" => "a"}), insert(&b, "notes_b", obj! {"k" => "b"}));
    let (x2, y2) = tokio::join!(insert(&b, "notes_a", obj! {"k" => "a2"}), insert(&a, "notes_b", obj! {"k" => "b2"}));
    assert_ne!(x.table(), y.table(), "two new tables, two numbers");
    assert_eq!(x.table(), x2.table(), "node B uses node A's table");
    assert_eq!(y.table(), y2.table(), "node A uses node B's table");
    for db in [&a, &b] {
        let txn = db.begin(true).await.unwrap();
        assert_eq!(txn.table_name_of(&x).as_deref(), Some("notes_a"));
        assert_eq!(txn.table_name_of(&y).as_deref(), Some("notes_b"));
    }
    // A table only node A ever wrote: node B learns it from the commit log alone.
    let mut on_b = b.subscribe();
    let z = insert(&a, "notes_c", obj! {"k" => "c"}).await;
    let ts = a.latest_ts();
    tokio::time::timeout(Duration::from_secs(10), async { while on_b.recv().await.unwrap().ts < ts {} })
        .await
        .expect("node B hears of the commit");
    let txn = b.begin(true).await.unwrap();
    assert_eq!(txn.table_name_of(&z).as_deref(), Some("notes_c"), "node B reloaded the catalog");
}

/// Writes that do not overlap never conflict, however busy the other node is: a batch that lost the race to the
/// other node's commit (between its conflict check and its write) is checked again against it and written, not
/// failed back to its transactions. (A store whose writes never interleave with another node's cannot lose that
/// race; PostgreSQL does.)
pub async fn disjoint_writes_commit_at_the_first_attempt(pair: Pair) {
    let Pair { a, b, .. } = pair;
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
