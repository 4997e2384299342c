//! Database behaviour on the in-memory backend (or PostgreSQL with `AUTHVEX_TEST_BACKEND=postgres`) and on SQLite,
//! through small `check`-style helpers.

use crate::*;
use std::sync::Arc;
use storage::Persistence;
// `test_support` depends on this crate, so its copy of it is another crate: only storage types cross over.
use value::{obj, v, Object, Value};

fn chat_schema() -> Schema {
    Schema::new()
        .table(
            "messages",
            TableDefinition::with_fields([("author", v::string()), ("body", v::string())])
                .index("by_author", &["author"]),
        )
        .table("scores", TableDefinition::new().index("by_score", &["score"]))
        .allow_undeclared_tables()
}

async fn open_with(p: Arc<dyn Persistence>, schema: Schema, limits: TransactionLimits) -> Database {
    let mut config = DatabaseConfig::new(
        schema,
        Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
        Arc::new(SeededEntropy::new(7)),
    );
    config.limits = limits;
    match Database::open(p, config).await {
        Ok(db) => db,
        Err(e) => panic!("open failed: {e}"),
    }
}

async fn memory_db() -> Database {
    open_with(test_support::test_persistence().await, chat_schema(), TransactionLimits::default()).await
}

fn object(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        other => panic!("not an object: {other:?}"),
    }
}

async fn insert_all(db: &Database, table: &str, docs: Vec<Value>) -> Vec<value::DocumentId> {
    let mut txn = db.begin(false).await.unwrap();
    let mut ids = Vec::new();
    for d in docs {
        ids.push(txn.insert(table, object(d)).await.unwrap());
    }
    db.commit(txn).await.unwrap();
    ids
}

/// Runs a scan in a fresh read-only transaction and returns one field of each document.
async fn check_scan(db: &Database, request: ScanRequest, field: &str) -> Vec<Value> {
    let mut txn = db.begin(true).await.unwrap();
    let result = txn.scan(request).await.unwrap();
    result.documents.iter().map(|d| d.get(field).cloned().unwrap_or(Value::Null)).collect()
}

fn scan(table: &str, index: &str, range: IndexRange, order: Order) -> ScanRequest {
    let mut r = ScanRequest::new(table, index);
    r.range = range;
    r.order = order;
    r
}

#[tokio::test]
async fn insert_then_get_has_system_fields() {
    let db = memory_db().await;
    let ids = insert_all(&db, "messages", vec![obj! {"author" => "ann", "body" => "hi"}]).await;
    let mut txn = db.begin(true).await.unwrap();
    let doc = txn.get(&ids[0]).await.unwrap().unwrap();
    assert_eq!(doc.get("_id"), Some(&Value::String(ids[0].to_string())));
    assert!(matches!(doc.get("_creationTime"), Some(Value::Float64(t)) if *t > 1.6e12));
    assert_eq!(doc.get("body"), Some(&Value::from("hi")));
}

#[tokio::test]
async fn creation_order_ascending_and_descending() {
    let db = memory_db().await;
    for body in ["a", "b", "c"] {
        insert_all(&db, "messages", vec![obj! {"author" => "x", "body" => body}]).await;
    }
    let asc = check_scan(&db, scan("messages", BY_CREATION_TIME, IndexRange::all(), Order::Asc), "body").await;
    assert_eq!(asc, vec![Value::from("a"), Value::from("b"), Value::from("c")]);
    let desc = check_scan(&db, scan("messages", BY_CREATION_TIME, IndexRange::all(), Order::Desc), "body").await;
    assert_eq!(desc, vec![Value::from("c"), Value::from("b"), Value::from("a")]);
}

use crate::schema::BY_CREATION_TIME;

#[tokio::test]
async fn index_ranges_follow_convex_value_order() {
    let db = memory_db().await;
    // Mixed types sort null < int64 < float64 < boolean < string; missing fields sort first.
    let docs = vec![
        obj! {"score" => 3.5},
        obj! {"score" => "text"},
        obj! {"score" => 10i64},
        obj! {"score" => true},
        obj! {"score" => Value::Null},
        obj! {"score" => -1.0},
        obj! {"other" => 1.0},
        obj! {"score" => 2.0},
    ];
    insert_all(&db, "scores", docs).await;
    let all = check_scan(&db, scan("scores", "by_score", IndexRange::all(), Order::Asc), "score").await;
    assert_eq!(
        all,
        vec![
            Value::Null,
            Value::Null,
            Value::Int64(10),
            Value::Float64(-1.0),
            Value::Float64(2.0),
            Value::Float64(3.5),
            Value::Boolean(true),
            Value::from("text")
        ],
        "the first Null is the document without a score (undefined sorts first)"
    );
    let gt = check_scan(&db, scan("scores", "by_score", IndexRange::all().gt("score", 2.0), Order::Asc), "score").await;
    assert_eq!(gt, vec![Value::Float64(3.5), Value::Boolean(true), Value::from("text")]);
    let gte_lt = check_scan(
        &db,
        scan("scores", "by_score", IndexRange::all().gte("score", -1.0).lt("score", 3.5), Order::Asc),
        "score",
    )
    .await;
    assert_eq!(gte_lt, vec![Value::Float64(-1.0), Value::Float64(2.0)]);
    let lte_desc = check_scan(
        &db,
        scan("scores", "by_score", IndexRange::all().lte("score", 2.0).gt("score", 0.0), Order::Desc),
        "score",
    )
    .await;
    assert_eq!(lte_desc, vec![Value::Float64(2.0)]);
    let eq =
        check_scan(&db, scan("scores", "by_score", IndexRange::all().eq("score", 10i64), Order::Asc), "score").await;
    assert_eq!(eq, vec![Value::Int64(10)], "int64 10 and float64 10.0 are different values");
}

#[tokio::test]
async fn index_range_fields_must_follow_the_index() {
    let db = memory_db().await;
    let mut txn = db.begin(true).await.unwrap();
    let err = txn.scan(scan("messages", "by_author", IndexRange::all().eq("body", "x"), Order::Asc)).await.unwrap_err();
    assert!(err.to_string().contains("expected \"author\""), "{err}");
    let err = txn.scan(scan("messages", "no_such_index", IndexRange::all(), Order::Asc)).await.unwrap_err();
    assert!(matches!(err, DatabaseError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn paginating_with_last_key_visits_every_document_once() {
    let db = memory_db().await;
    let docs: Vec<Value> = (0..25).map(|i| obj! {"author" => "p", "body" => format!("{i:02}")}).collect();
    insert_all(&db, "messages", docs).await;
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let mut txn = db.begin(true).await.unwrap();
        let mut request = scan("messages", "by_author", IndexRange::all().eq("author", "p"), Order::Asc);
        request.limit = Some(7);
        request.after = after.clone();
        let page = txn.scan(request).await.unwrap();
        seen.extend(page.documents.iter().map(|d| d.get("body").cloned().unwrap()));
        if page.done {
            break;
        }
        after = page.last_key;
    }
    let expected: Vec<Value> = (0..25).map(|i| Value::String(format!("{i:02}"))).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_transaction_reads_its_own_writes() {
    let db = memory_db().await;
    let ids = insert_all(&db, "messages", vec![obj! {"author" => "a", "body" => "old"}]).await;
    let mut txn = db.begin(false).await.unwrap();
    txn.insert("messages", object(obj! {"author" => "a", "body" => "new"})).await.unwrap();
    txn.patch(&ids[0], object(obj! {"body" => "patched"}), &[]).await.unwrap();
    let res = txn.scan(scan("messages", "by_author", IndexRange::all().eq("author", "a"), Order::Asc)).await.unwrap();
    let bodies: Vec<_> = res.documents.iter().map(|d| d.get("body").cloned().unwrap()).collect();
    assert_eq!(bodies, vec![Value::from("patched"), Value::from("new")]);
    txn.delete(&ids[0]).await.unwrap();
    assert_eq!(txn.get(&ids[0]).await.unwrap(), None);
    let res = txn.scan(scan("messages", BY_CREATION_TIME, IndexRange::all(), Order::Asc)).await.unwrap();
    assert_eq!(res.documents.len(), 1);
    // Nothing is visible outside before the commit.
    let outside = check_scan(&db, scan("messages", BY_CREATION_TIME, IndexRange::all(), Order::Asc), "body").await;
    assert_eq!(outside, vec![Value::from("old")]);
    db.commit(txn).await.unwrap();
    let after = check_scan(&db, scan("messages", BY_CREATION_TIME, IndexRange::all(), Order::Asc), "body").await;
    assert_eq!(after, vec![Value::from("new")]);
}

#[tokio::test]
async fn overlapping_read_write_conflicts_and_disjoint_does_not() {
    let db = memory_db().await;
    insert_all(&db, "messages", vec![obj! {"author" => "a", "body" => "1"}]).await;

    // T1 reads author "a"'s range; T2 writes into it and commits first: T1 must conflict.
    let mut t1 = db.begin(false).await.unwrap();
    t1.scan(scan("messages", "by_author", IndexRange::all().eq("author", "a"), Order::Asc)).await.unwrap();
    t1.insert("messages", object(obj! {"author" => "z", "body" => "from t1"})).await.unwrap();
    let mut t2 = db.begin(false).await.unwrap();
    t2.insert("messages", object(obj! {"author" => "a", "body" => "from t2"})).await.unwrap();
    db.commit(t2).await.unwrap();
    let err = db.commit(t1).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");

    // T3 reads author "b" only; a write to author "c" does not touch its interval.
    let mut t3 = db.begin(false).await.unwrap();
    t3.scan(scan("messages", "by_author", IndexRange::all().eq("author", "b"), Order::Asc)).await.unwrap();
    t3.insert("messages", object(obj! {"author" => "b", "body" => "t3"})).await.unwrap();
    let mut t4 = db.begin(false).await.unwrap();
    t4.insert("messages", object(obj! {"author" => "c", "body" => "t4"})).await.unwrap();
    db.commit(t4).await.unwrap();
    db.commit(t3).await.expect("disjoint index ranges must not conflict");
}

#[tokio::test]
async fn limited_scans_read_only_the_prefix_they_examined() {
    let db = memory_db().await;
    insert_all(&db, "messages", vec![obj! {"author" => "a", "body" => "1"}, obj! {"author" => "a", "body" => "2"}])
        .await;
    let mut t1 = db.begin(false).await.unwrap();
    let mut first = scan("messages", BY_CREATION_TIME, IndexRange::all(), Order::Asc);
    first.limit = Some(1);
    t1.scan(first).await.unwrap();
    t1.insert("other", Object::new()).await.unwrap();
    // A new message sorts after both existing ones: outside what `first()` examined.
    insert_all(&db, "messages", vec![obj! {"author" => "a", "body" => "3"}]).await;
    db.commit(t1).await.expect("an insert after the examined prefix must not conflict");
}

#[tokio::test]
async fn concurrent_read_modify_write_loses_no_update() {
    let db = memory_db().await;
    let ids = insert_all(&db, "counters", vec![obj! {"n" => 0i64}]).await;
    let id = ids[0];
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let mut txn = db.begin(false).await.unwrap();
                let doc = txn.get(&id).await.unwrap().unwrap();
                let n = doc.get("n").and_then(|v| v.as_i64()).unwrap();
                tokio::task::yield_now().await;
                txn.patch(&id, object(obj! {"n" => n + 1}), &[]).await.unwrap();
                match db.commit(txn).await {
                    Ok(_) => break,
                    Err(e) if e.is_conflict() => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut txn = db.begin(true).await.unwrap();
    assert_eq!(txn.get(&id).await.unwrap().unwrap().get("n"), Some(&Value::Int64(16)));
}

#[tokio::test]
async fn schema_violations_and_reserved_fields_are_rejected() {
    let db = memory_db().await;
    let mut txn = db.begin(false).await.unwrap();
    let err = txn.insert("messages", object(obj! {"author" => 3.0, "body" => "x"})).await.unwrap_err();
    assert!(err.to_string().contains("does not match the schema"), "{err}");
    let err = txn.insert("messages", object(obj! {"author" => "a"})).await.unwrap_err();
    assert!(err.to_string().contains("does not match the schema"), "{err}");
    let err = txn.insert("messages", object(obj! {"author" => "a", "body" => "b", "extra" => 1.0})).await.unwrap_err();
    assert!(err.to_string().contains("does not match the schema"), "{err}");
    let err = txn.insert("scores", object(obj! {"_secret" => 1.0})).await.unwrap_err();
    assert!(matches!(err, DatabaseError::Invalid(_)), "{err}");
    let err = txn.insert("bad name!", Object::new()).await.unwrap_err();
    assert!(err.to_string().contains("invalid table name"), "{err}");

    let strict = open_with(
        test_support::test_persistence().await,
        Schema::new().table("only", TableDefinition::new()),
        TransactionLimits::default(),
    )
    .await;
    let mut txn = strict.begin(false).await.unwrap();
    let err = txn.insert("undeclared", Object::new()).await.unwrap_err();
    assert!(err.to_string().contains("not declared"), "{err}");
}

#[tokio::test]
async fn queries_cannot_write() {
    let db = memory_db().await;
    let mut txn = db.begin(true).await.unwrap();
    let err = txn.insert("messages", object(obj! {"author" => "a", "body" => "b"})).await.unwrap_err();
    assert!(matches!(err, DatabaseError::ReadOnly(_)));
}

#[tokio::test]
async fn patch_cannot_touch_system_fields_and_missing_documents_fail() {
    let db = memory_db().await;
    let ids = insert_all(&db, "scores", vec![obj! {"score" => 1.0}]).await;
    let mut txn = db.begin(false).await.unwrap();
    let err = txn.patch(&ids[0], object(obj! {"_id" => "x"}), &[]).await.unwrap_err();
    assert!(err.to_string().contains("cannot be modified"), "{err}");
    txn.delete(&ids[0]).await.unwrap();
    let err = txn.patch(&ids[0], object(obj! {"score" => 2.0}), &[]).await.unwrap_err();
    assert!(matches!(err, DatabaseError::NotFound(_)), "{err}");
    txn.patch(&ids[0], Object::new(), &[]).await.unwrap_err();
}

#[tokio::test]
async fn transaction_limits_give_clear_errors() {
    let limits = TransactionLimits {
        max_documents_read: 5,
        max_bytes_read: 1 << 20,
        max_documents_written: 3,
        max_bytes_written: 1000,
    };
    let db = open_with(test_support::test_persistence().await, chat_schema(), limits).await;
    let mut txn = db.begin(false).await.unwrap();
    for _ in 0..3 {
        txn.insert("scores", object(obj! {"score" => 1.0})).await.unwrap();
    }
    let err = txn.insert("scores", object(obj! {"score" => 1.0})).await.unwrap_err();
    assert!(err.to_string().contains("too many documents written"), "{err}");

    let mut txn = db.begin(false).await.unwrap();
    let err = txn.insert("scores", object(obj! {"score" => "x".repeat(1200)})).await.unwrap_err();
    assert!(err.to_string().contains("too many bytes written"), "{err}");

    let db2 = open_with(test_support::test_persistence().await, chat_schema(), limits).await;
    for _ in 0..3 {
        insert_all(&db2, "scores", vec![obj! {"score" => 1.0}, obj! {"score" => 2.0}]).await;
    }
    let mut txn = db2.begin(true).await.unwrap();
    let err = txn.scan(scan("scores", BY_CREATION_TIME, IndexRange::all(), Order::Asc)).await.unwrap_err();
    assert!(err.to_string().contains("too many documents read"), "{err}");
}

#[tokio::test]
async fn document_size_limit_is_enforced() {
    let db = memory_db().await;
    let mut txn = db.begin(false).await.unwrap();
    let big = "x".repeat((1 << 20) + 10);
    let err = txn.insert("scores", object(obj! {"blob" => big})).await.unwrap_err();
    assert!(matches!(err, DatabaseError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn commits_get_increasing_timestamps_and_reach_subscribers() {
    let db = memory_db().await;
    let mut rx = db.subscribe();
    insert_all(&db, "messages", vec![obj! {"author" => "a", "body" => "1"}]).await;
    insert_all(&db, "messages", vec![obj! {"author" => "a", "body" => "2"}]).await;
    let first = rx.recv().await.unwrap();
    let second = rx.recv().await.unwrap();
    assert!(second.ts > first.ts);
    assert_eq!(db.latest_ts(), second.ts);
    // by_id, by_creation_time and by_author each get one key per insert.
    assert_eq!(first.writes.keys.len(), 3);
    let since = db.commits_since(first.ts).unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(since[0].ts, second.ts);
}

#[tokio::test]
async fn a_new_index_is_built_from_existing_documents_on_reopen() {
    use test_support::conformance::Backend;
    let sqlite = test_support::conformance::Sqlite;
    let dir = sqlite.location().await;
    {
        let p = sqlite.open(&dir).await;
        let db =
            open_with(p, Schema::new().table("people", TableDefinition::new()), TransactionLimits::default()).await;
        insert_all(&db, "people", vec![obj! {"age" => 30.0}, obj! {"age" => 20.0}, obj! {"age" => 40.0}]).await;
    }
    let p = sqlite.open(&dir).await;
    let schema = Schema::new().table("people", TableDefinition::new().index("by_age", &["age"]));
    let db = open_with(p, schema, TransactionLimits::default()).await;
    let ages = check_scan(&db, scan("people", "by_age", IndexRange::all(), Order::Asc), "age").await;
    assert_eq!(ages, vec![Value::Float64(20.0), Value::Float64(30.0), Value::Float64(40.0)]);
    // Writes after reopening keep timestamps increasing past the old ones.
    let before = db.latest_ts();
    insert_all(&db, "people", vec![obj! {"age" => 10.0}]).await;
    assert!(db.latest_ts() > before);
}

#[tokio::test]
async fn pinned_snapshots_read_the_past_until_they_expire() {
    let clock = ManualClock::new(1_700_000_000_000_000_000);
    let config = DatabaseConfig::new(chat_schema(), Arc::new(clock.clone()), Arc::new(SeededEntropy::new(9)));
    let db = Database::open(test_support::test_persistence().await, config).await.unwrap();
    insert_all(&db, "messages", vec![obj! {"author" => "a", "body" => "before"}]).await;
    let ts = db.pin_latest().await.unwrap();
    assert_eq!(ts, db.latest_ts());
    insert_all(&db, "messages", vec![obj! {"author" => "a", "body" => "after"}]).await;
    let mut past = db.begin_at(ts).expect("pinned");
    assert_eq!(past.ts(), ts);
    let docs = past.scan(scan("messages", BY_CREATION_TIME, IndexRange::all(), Order::Asc)).await.unwrap();
    assert_eq!(docs.documents.len(), 1, "the pinned snapshot does not see the later insert");
    assert!(past.insert("messages", object(obj! {"author" => "a", "body" => "x"})).await.is_err());
    assert!(db.begin_at(Timestamp(ts.0 - 1)).is_none(), "only pinned timestamps can be read");
    clock.advance(PINNED_SNAPSHOT_RETENTION.as_nanos() as u64 + 1);
    assert!(db.begin_at(ts).is_none(), "pins expire after the retention period");
}

/// Subscribers woken by one commit share one snapshot; the next commit replaces it (and releases the old one at
/// once, so no read transaction stays open on an old commit).
#[tokio::test]
async fn shared_read_views_are_shared_until_the_next_commit() {
    let db = memory_db().await;
    insert_all(&db, "messages", vec![obj! {"author" => "a", "body" => "1"}]).await;
    let first = db.shared_read_view().await.unwrap();
    let second = db.shared_read_view().await.unwrap();
    assert!(Arc::ptr_eq(&first.snapshot, &second.snapshot), "no commit in between: one snapshot");
    assert_eq!(first.ts(), db.latest_ts());

    insert_all(&db, "messages", vec![obj! {"author" => "b", "body" => "2"}]).await;
    assert!(db.inner.shared_view.lock().is_none(), "the commit released the stale shared snapshot");
    let third = db.shared_read_view().await.unwrap();
    assert!(!Arc::ptr_eq(&first.snapshot, &third.snapshot));
    assert_eq!(third.ts(), db.latest_ts(), "a view taken after a commit includes it");
    let mut txn = third.transaction();
    let all = txn.scan(scan("messages", "by_author", IndexRange::all(), Order::Asc)).await.unwrap();
    assert_eq!(all.documents.len(), 2);
    // The old view still reads its own commit.
    let mut old = first.transaction();
    let before = old.scan(scan("messages", "by_author", IndexRange::all(), Order::Asc)).await.unwrap();
    assert_eq!(before.documents.len(), 1);

    // Many callers at once after a commit: all get the same snapshot.
    insert_all(&db, "messages", vec![obj! {"author" => "c", "body" => "3"}]).await;
    let views = futures::future::join_all((0..16).map(|_| db.shared_read_view())).await;
    let views: Vec<ReadView> = views.into_iter().map(Result::unwrap).collect();
    assert!(views.iter().all(|v| Arc::ptr_eq(&v.snapshot, &views[0].snapshot)));
}
