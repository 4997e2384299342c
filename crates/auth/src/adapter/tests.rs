//! Adapter behaviour on the in-memory backend (or PostgreSQL with `AUTHVEX_TEST_BACKEND=postgres`): operators,
//! connectors, order, limits, writes, uniqueness, concurrency and index use.

use super::*;
use crate::models::{Session, User, Verification};
use crate::schema::auth_schema;
use database::{Database, DatabaseConfig, ManualClock, SeededEntropy, TransactionLimits};
use std::sync::Arc;
use value::obj;

async fn open(limits: TransactionLimits) -> Database {
    let mut config = DatabaseConfig::new(
        auth_schema(),
        Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
        Arc::new(SeededEntropy::new(11)),
    );
    config.limits = limits;
    Database::open(test_support::test_persistence().await, config).await.unwrap()
}

fn object(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        other => panic!("not an object: {other:?}"),
    }
}

fn user(name: &str, email: &str, verified: bool, image: Option<&str>, created: f64, updated: f64) -> Object {
    let mut o = object(obj! {
        "name" => name, "email" => email, "emailVerified" => verified, "createdAt" => created, "updatedAt" => updated,
    });
    o.insert("image".into(), image.map(Value::from).unwrap_or(Value::Null));
    o
}

fn session(token: &str, user_id: &str, expires: f64) -> Object {
    object(obj! {
        "token" => token, "userId" => user_id, "expiresAt" => expires, "createdAt" => 1.0, "updatedAt" => 1.0,
        "ipAddress" => "", "userAgent" => "test",
    })
}

fn verification(identifier: &str, value: &str, expires: f64) -> Object {
    object(obj! {
        "identifier" => identifier, "value" => value, "expiresAt" => expires, "createdAt" => 1.0, "updatedAt" => 1.0,
    })
}

fn id_of(doc: &Object) -> String {
    doc.get("_id").and_then(Value::as_str).unwrap().to_string()
}

fn names(docs: &[Object]) -> Vec<&str> {
    docs.iter().map(|d| d.get("name").and_then(Value::as_str).unwrap()).collect()
}

/// The people of the query tests, created in this order. `updatedAt` of bob is 0 (a falsy operand for 0.10.x).
struct People {
    db: Database,
    ids: BTreeMap<&'static str, String>,
    session_id: String,
}

async fn people() -> People {
    let db = open(TransactionLimits::default()).await;
    let mut txn = db.begin(false).await.unwrap();
    let mut ids = BTreeMap::new();
    for (name, email, verified, image, created, updated) in [
        ("ann", "ann@x.io", true, Some("a.png"), 1000.0, 5000.0),
        ("bob", "bob@x.io", false, None, 2000.0, 0.0),
        ("cid", "cid@y.io", true, None, 3000.0, 3000.0),
        ("dee", "dee@y.io", false, Some("d.jpg"), 4000.0, 1000.0),
    ] {
        let doc = create(&mut txn, Model::User, user(name, email, verified, image, created, updated)).await.unwrap();
        ids.insert(name, id_of(&doc));
    }
    let session_id = id_of(&create(&mut txn, Model::Session, session("tok", &ids["ann"], 9.0)).await.unwrap());
    db.commit(txn).await.unwrap();
    People { db, ids, session_id }
}

impl People {
    /// `find_many` over users in a fresh transaction, as names.
    async fn find(&self, clauses: &[Where], options: FindOptions) -> Vec<String> {
        let mut txn = self.db.begin(true).await.unwrap();
        let docs = find_many(&mut txn, Model::User, clauses, options).await.unwrap();
        names(&docs).into_iter().map(str::to_string).collect()
    }

    async fn check(&self, clauses: &[Where], expected: &[&str]) {
        assert_eq!(self.find(clauses, FindOptions::default()).await, expected, "{clauses:?}");
        let mut txn = self.db.begin(true).await.unwrap();
        assert_eq!(count(&mut txn, Model::User, clauses).await.unwrap(), expected.len(), "count {clauses:?}");
        let first = find_one(&mut txn, Model::User, clauses).await.unwrap();
        assert_eq!(first.as_ref().and_then(|d| d.get("name")).and_then(Value::as_str), expected.first().copied());
    }

    async fn error(&self, clauses: &[Where]) -> String {
        let mut txn = self.db.begin(true).await.unwrap();
        find_many(&mut txn, Model::User, clauses, FindOptions::default()).await.unwrap_err().to_string()
    }
}

fn w(field: &str, operator: Operator, value: impl Into<Value>) -> Where {
    Where::new(field, operator, value)
}

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(*s)).collect())
}

#[tokio::test]
async fn equality_operators() {
    let p = people().await;
    p.check(&[Where::eq("name", "bob")], &["bob"]).await;
    p.check(&[Where::eq("emailVerified", true)], &["ann", "cid"]).await;
    p.check(&[w("emailVerified", Operator::Ne, true)], &["bob", "dee"]).await;
    p.check(&[Where::eq("image", Value::Null)], &["bob", "cid"]).await;
    p.check(&[w("image", Operator::Ne, Value::Null)], &["ann", "dee"]).await;
    p.check(&[Where::eq("email", "nobody@x.io")], &[]).await;
    // Integer operands on date fields are read as numbers.
    p.check(&[Where::eq("createdAt", 2000)], &["bob"]).await;
    p.check(&[Where::id(p.ids["cid"].clone())], &["cid"]).await;
    p.check(&[Where::eq("_id", p.ids["cid"].as_str())], &["cid"]).await;
    p.check(&[Where::id("not an id")], &[]).await;
    // An id of another table is no user.
    p.check(&[Where::id(p.session_id.clone())], &[]).await;
}

#[tokio::test]
async fn range_operators_without_falsy_quirks() {
    let p = people().await;
    p.check(&[w("updatedAt", Operator::Lt, 1000.0)], &["bob"]).await;
    p.check(&[w("updatedAt", Operator::Lte, 1000.0)], &["bob", "dee"]).await;
    p.check(&[w("updatedAt", Operator::Gt, 0.0)], &["ann", "cid", "dee"]).await;
    p.check(&[w("updatedAt", Operator::Gte, 0.0)], &["ann", "bob", "cid", "dee"]).await;
    p.check(&[w("updatedAt", Operator::Lt, 0.0)], &[]).await;
    p.check(&[w("updatedAt", Operator::Gt, -1)], &["ann", "bob", "cid", "dee"]).await;
    // Unset fields and null operands match no range.
    p.check(&[w("image", Operator::Gt, "b")], &["dee"]).await;
    p.check(&[w("image", Operator::Lt, "z")], &["ann", "dee"]).await;
    p.check(&[w("updatedAt", Operator::Lt, Value::Null)], &[]).await;
    p.check(&[w("updatedAt", Operator::Gte, Value::Null)], &[]).await;
    // Different types do not compare.
    p.check(&[w("updatedAt", Operator::Gt, "0")], &[]).await;
    p.check(&[w("updatedAt", Operator::Gt, f64::NAN)], &[]).await;
    // Two bounds.
    p.check(&[w("createdAt", Operator::Gt, 1000.0), w("createdAt", Operator::Lte, 3000.0)], &["bob", "cid"]).await;
}

#[tokio::test]
async fn list_and_string_operators() {
    let p = people().await;
    p.check(&[w("name", Operator::In, strings(&["dee", "ann", "zed"]))], &["ann", "dee"]).await;
    p.check(&[w("name", Operator::In, strings(&[]))], &[]).await;
    p.check(&[w("name", Operator::NotIn, strings(&["ann", "dee"]))], &["bob", "cid"]).await;
    p.check(&[w("image", Operator::In, vec![Value::Null, "a.png".into()])], &["ann", "bob", "cid"]).await;
    p.check(&[w("image", Operator::NotIn, strings(&["a.png"]))], &["bob", "cid", "dee"]).await;
    p.check(&[w("createdAt", Operator::In, vec![Value::from(1000), Value::from(4000.0)])], &["ann", "dee"]).await;
    let ids = vec![Value::from(p.ids["dee"].as_str()), p.ids["ann"].as_str().into(), p.session_id.as_str().into()];
    p.check(&[w("id", Operator::In, ids)], &["ann", "dee"]).await;
    p.check(&[w("id", Operator::NotIn, vec![Value::from(p.ids["ann"].as_str())])], &["bob", "cid", "dee"]).await;
    p.check(&[w("email", Operator::Contains, "@y")], &["cid", "dee"]).await;
    p.check(&[w("email", Operator::StartsWith, "b")], &["bob"]).await;
    p.check(&[w("email", Operator::EndsWith, ".io")], &["ann", "bob", "cid", "dee"]).await;
    p.check(&[w("name", Operator::Contains, "N")], &[]).await;
    p.check(&[w("image", Operator::EndsWith, ".png")], &["ann"]).await;
}

#[tokio::test]
async fn and_clauses_all_hold_and_one_or_clause_must() {
    let p = people().await;
    p.check(
        &[Where::eq("emailVerified", true), Where::eq("name", "ann").or(), Where::eq("name", "bob").or()],
        &["ann"],
    )
    .await;
    p.check(&[Where::eq("name", "bob").or(), Where::eq("name", "cid").or()], &["bob", "cid"]).await;
    p.check(&[Where::eq("email", "bob@x.io").or(), Where::eq("email", "dee@y.io").or()], &["bob", "dee"]).await;
    p.check(
        &[w("email", Operator::EndsWith, "@y.io"), Where::eq("name", "ann").or(), Where::eq("name", "dee").or()],
        &["dee"],
    )
    .await;
    p.check(
        &[
            Where::eq("emailVerified", false),
            w("updatedAt", Operator::Gt, 0.0).or(),
            Where::eq("image", Value::Null).or(),
        ],
        &["bob", "dee"],
    )
    .await;
    // The connector of the first clause counts like any other.
    p.check(&[Where::eq("name", "cid").or(), Where::eq("emailVerified", true)], &["cid"]).await;
}

#[tokio::test]
async fn sorting_limit_and_offset() {
    let p = people().await;
    let all: &[Where] = &[];
    let sorted = |field: &str, order| FindOptions::default().sort_by(field, order);
    assert_eq!(p.find(all, sorted("name", Order::Desc)).await, ["dee", "cid", "bob", "ann"]);
    assert_eq!(p.find(all, sorted("updatedAt", Order::Asc)).await, ["bob", "dee", "cid", "ann"]);
    // Unset fields sort first; ties in creation order.
    assert_eq!(p.find(all, sorted("image", Order::Asc)).await, ["bob", "cid", "ann", "dee"]);
    assert_eq!(p.find(all, sorted("image", Order::Desc)).await, ["dee", "ann", "cid", "bob"]);
    assert_eq!(p.find(all, sorted("createdAt", Order::Desc)).await, ["dee", "cid", "bob", "ann"]);
    assert_eq!(p.find(all, sorted("createdAt", Order::Asc)).await, ["ann", "bob", "cid", "dee"]);
    assert_eq!(p.find(all, sorted("email", Order::Desc).with_limit(2)).await, ["dee", "cid"]);
    assert_eq!(p.find(all, FindOptions::limit(2).with_offset(1)).await, ["bob", "cid"]);
    assert_eq!(p.find(all, sorted("name", Order::Desc).with_limit(2).with_offset(1)).await, ["cid", "bob"]);
    assert_eq!(p.find(all, FindOptions::default().with_offset(3)).await, ["dee"]);
    assert_eq!(p.find(all, FindOptions::default().with_offset(9)).await, Vec::<String>::new());
    assert_eq!(p.find(all, FindOptions::limit(0)).await, Vec::<String>::new());
    // Offset counts matching documents only.
    let verified = [Where::eq("emailVerified", false)];
    assert_eq!(p.find(&verified, FindOptions::limit(1).with_offset(1)).await, ["dee"]);
    assert_eq!(p.find(&verified, sorted("createdAt", Order::Desc).with_limit(1)).await, ["dee"]);
    let in_clause = [w("email", Operator::In, strings(&["dee@y.io", "ann@x.io", "cid@y.io"]))];
    assert_eq!(p.find(&in_clause, sorted("createdAt", Order::Desc).with_limit(2)).await, ["dee", "cid"]);
    assert_eq!(p.find(&in_clause, sorted("name", Order::Asc).with_offset(1)).await, ["cid", "dee"]);
}

#[tokio::test]
async fn malformed_clauses_are_rejected() {
    let p = people().await;
    assert_eq!(p.error(&[Where::eq("nickname", "x")]).await, r#"unknown field "nickname" on model user"#);
    assert_eq!(
        p.error(&[w("name", Operator::In, "ann")]).await,
        "where clause on user name: operator in needs an array, got string"
    );
    assert_eq!(
        p.error(&[w("name", Operator::StartsWith, 1.0)]).await,
        "where clause on user name: operator starts_with needs a string, got float64"
    );
    let mut txn = p.db.begin(true).await.unwrap();
    let err = find_many(&mut txn, Model::User, &[], FindOptions::default().sort_by("nickname", Order::Asc))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid(_)), "{err}");
}

#[test]
fn operator_and_connector_names() {
    for op in Operator::ALL {
        assert_eq!(Operator::from_name(op.name()), Some(op));
    }
    assert_eq!(Operator::from_name("not_in"), Some(Operator::NotIn));
    assert_eq!(Operator::from_name("like"), None);
    assert_eq!(Connector::from_name("OR"), Some(Connector::Or));
    assert_eq!(Connector::from_name("or"), None);
}

#[tokio::test]
async fn create_returns_the_stored_document_and_nulls_mean_unset() {
    let db = open(TransactionLimits::default()).await;
    let mut txn = db.begin(false).await.unwrap();
    let doc = create(&mut txn, Model::User, user("ann", "ann@x.io", false, None, 1.0, 1.0)).await.unwrap();
    assert!(doc.contains_key("_id") && doc.contains_key("_creationTime"));
    assert!(!doc.contains_key("image"), "null is stored as absence: {doc:?}");
    let row = User::from_document(&doc).unwrap();
    assert_eq!((row.name.as_str(), row.image), ("ann", None));

    let updated = update_one(&mut txn, Model::User, &[Where::id(row.id.clone())], object(obj! {"image" => "a.png"}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.get("image"), Some(&Value::from("a.png")));
    let cleared =
        update_one(&mut txn, Model::User, &[Where::id(row.id.clone())], object(obj! {"image" => Value::Null}))
            .await
            .unwrap()
            .unwrap();
    assert!(!cleared.contains_key("image"));

    for field in ["id", "_id", "_creationTime"] {
        let mut data = user("bob", "bob@x.io", false, None, 1.0, 1.0);
        data.insert(field.into(), "x".into());
        let err = create(&mut txn, Model::User, data).await.unwrap_err();
        assert!(matches!(err, AdapterError::Invalid(_)), "{err}");
    }
    // Schema validation is the database's.
    let mut data = user("bob", "bob@x.io", false, None, 1.0, 1.0);
    data.insert("nickname".into(), "b".into());
    let err = create(&mut txn, Model::User, data).await.unwrap_err();
    assert!(matches!(err, AdapterError::Database(DatabaseError::Invalid(_))), "{err}");
    db.commit(txn).await.unwrap();
}

#[tokio::test]
async fn typed_rows_through_the_adapter() {
    let db = open(TransactionLimits::default()).await;
    let mut txn = db.begin(false).await.unwrap();
    let created = create_row(
        &mut txn,
        &Verification {
            id: String::new(),
            identifier: "reset-password:abc".into(),
            value: "u1".into(),
            expires_at: 10.0,
            created_at: 1.0,
            updated_at: 1.0,
        },
    )
    .await
    .unwrap();
    assert!(!created.id.is_empty());
    let found: Option<Verification> =
        find_one_row(&mut txn, &[Where::eq("identifier", "reset-password:abc")]).await.unwrap();
    assert_eq!(found.as_ref(), Some(&created));
    let updated: Option<Verification> =
        update_one_row(&mut txn, &[Where::id(created.id.clone())], object(obj! {"value" => "u2"})).await.unwrap();
    assert_eq!(updated.map(|v| v.value), Some("u2".to_string()));
    let all: Vec<Verification> = find_many_rows(&mut txn, &[], FindOptions::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    let consumed: Option<Verification> =
        consume_one_row(&mut txn, &[Where::eq("identifier", "reset-password:abc")]).await.unwrap();
    assert_eq!(consumed.map(|v| v.id), Some(created.id));
    let gone: Option<Verification> = delete_one_row(&mut txn, &[]).await.unwrap();
    assert_eq!(gone, None);
    db.commit(txn).await.unwrap();
}

#[tokio::test]
async fn update_and_delete_counts() {
    let db = open(TransactionLimits::default()).await;
    let mut txn = db.begin(false).await.unwrap();
    for (token, user_id, expires) in [("t1", "u1", 10.0), ("t2", "u1", 20.0), ("t3", "u2", 30.0), ("t4", "u1", 40.0)] {
        create(&mut txn, Model::Session, session(token, user_id, expires)).await.unwrap();
    }
    db.commit(txn).await.unwrap();

    let mut txn = db.begin(false).await.unwrap();
    let by_user = [Where::eq("userId", "u1")];
    let n = update_many(&mut txn, Model::Session, &by_user, object(obj! {"userAgent" => "curl"})).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(count(&mut txn, Model::Session, &[Where::eq("userAgent", "curl")]).await.unwrap(), 3);
    let none = [Where::eq("userId", "nobody")];
    assert_eq!(update_many(&mut txn, Model::Session, &none, object(obj! {"userAgent" => "x"})).await.unwrap(), 0);
    assert!(update_one(&mut txn, Model::Session, &none, object(obj! {"userAgent" => "x"})).await.unwrap().is_none());
    assert!(delete_one(&mut txn, Model::Session, &none).await.unwrap().is_none());

    let updated =
        update_one(&mut txn, Model::Session, &by_user, object(obj! {"expiresAt" => 99.0})).await.unwrap().unwrap();
    assert_eq!(updated.get("token"), Some(&Value::from("t1")), "update_one takes the first in creation order");
    assert_eq!(updated.get("expiresAt"), Some(&Value::Float64(99.0)));

    let deleted = delete_one(&mut txn, Model::Session, &[Where::eq("token", "t2")]).await.unwrap().unwrap();
    assert_eq!(Session::from_document(&deleted).unwrap().token, "t2");
    let expired = [w("expiresAt", Operator::Lt, 50.0)];
    assert_eq!(delete_many(&mut txn, Model::Session, &expired).await.unwrap(), 2, "t3 and t4");
    assert_eq!(delete_many(&mut txn, Model::Session, &expired).await.unwrap(), 0);
    db.commit(txn).await.unwrap();

    let mut txn = db.begin(true).await.unwrap();
    let left = find_many(&mut txn, Model::Session, &[], FindOptions::default()).await.unwrap();
    assert_eq!(left.iter().map(|d| d.get("token").and_then(Value::as_str).unwrap()).collect::<Vec<_>>(), ["t1"]);
}

#[tokio::test]
async fn unique_fields_on_create_and_update() {
    let db = open(TransactionLimits::default()).await;
    let mut txn = db.begin(false).await.unwrap();
    let ann = id_of(&create(&mut txn, Model::User, user("ann", "ann@x.io", false, None, 1.0, 1.0)).await.unwrap());
    create(&mut txn, Model::User, user("bob", "bob@x.io", false, None, 1.0, 1.0)).await.unwrap();
    create(&mut txn, Model::Session, session("tok", &ann, 1.0)).await.unwrap();
    db.commit(txn).await.unwrap();

    let mut txn = db.begin(false).await.unwrap();
    let err = create(&mut txn, Model::User, user("ann2", "ann@x.io", false, None, 1.0, 1.0)).await.unwrap_err();
    assert!(matches!(&err, AdapterError::Unique { model: Model::User, field } if field == "email"), "{err:?}");
    assert_eq!(err.to_string(), "user email already exists");
    let err = create(&mut txn, Model::Session, session("tok", &ann, 1.0)).await.unwrap_err();
    assert_eq!(err.to_string(), "session token already exists");

    // Changing the email to another user's fails; keeping one's own is fine.
    let to_bob = object(obj! {"email" => "bob@x.io"});
    let err = update_one(&mut txn, Model::User, &[Where::id(ann.clone())], to_bob.clone()).await.unwrap_err();
    assert_eq!(err.to_string(), "user email already exists");
    let same = object(obj! {"email" => "ann@x.io", "name" => "Ann"});
    assert!(update_one(&mut txn, Model::User, &[Where::id(ann.clone())], same).await.unwrap().is_some());
    // Giving two rows the same unique value fails; one row may take a free value.
    let err = update_many(&mut txn, Model::User, &[], object(obj! {"email" => "x@x.io"})).await.unwrap_err();
    assert_eq!(err.to_string(), "user email already exists");
    let n = update_many(&mut txn, Model::User, &[Where::eq("name", "bob")], object(obj! {"email" => "b@x.io"}))
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Within the transaction, bob's old address is free again.
    let _ = update_one(&mut txn, Model::User, &[Where::id(ann)], to_bob).await.unwrap();
    db.commit(txn).await.unwrap();
}

#[tokio::test]
async fn concurrent_creates_of_one_email_conflict() {
    let db = open(TransactionLimits::default()).await;
    let mut first = db.begin(false).await.unwrap();
    let mut second = db.begin(false).await.unwrap();
    create(&mut first, Model::User, user("a", "same@x.io", false, None, 1.0, 1.0)).await.unwrap();
    create(&mut second, Model::User, user("b", "same@x.io", false, None, 1.0, 1.0)).await.unwrap();
    db.commit(first).await.unwrap();
    let err = AdapterError::from(db.commit(second).await.unwrap_err());
    assert!(err.is_conflict(), "{err}");
    // The re-run sees the committed row.
    let mut retry = db.begin(false).await.unwrap();
    let err = create(&mut retry, Model::User, user("b", "same@x.io", false, None, 1.0, 1.0)).await.unwrap_err();
    assert!(!err.is_conflict());
    assert_eq!(err.to_string(), "user email already exists");
}

/// Runs `op` in its own transaction until it commits, waiting at `barrier` after the first attempt's work so
/// that every task has read before any commits.
async fn until_committed<T, F>(db: Database, barrier: Arc<tokio::sync::Barrier>, op: F) -> (T, usize)
where
    F: for<'a> Fn(&'a mut Transaction) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T>> + Send + 'a>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut txn = db.begin(false).await.unwrap();
        let result = op(&mut txn).await.unwrap();
        if attempts == 1 {
            barrier.wait().await;
        }
        match db.commit(txn).await {
            Ok(_) => return (result, attempts),
            Err(e) if e.is_conflict() => continue,
            Err(e) => panic!("commit failed: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consume_one_gives_the_row_to_exactly_one_transaction() {
    const TASKS: usize = 8;
    let db = open(TransactionLimits::default()).await;
    let mut txn = db.begin(false).await.unwrap();
    create(&mut txn, Model::Verification, verification("reset-password:abc", "u1", 10.0)).await.unwrap();
    create(&mut txn, Model::Verification, verification("other", "u2", 10.0)).await.unwrap();
    db.commit(txn).await.unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            tokio::spawn(until_committed(db.clone(), barrier.clone(), |txn| {
                Box::pin(async move {
                    consume_one(txn, Model::Verification, &[Where::eq("identifier", "reset-password:abc")]).await
                })
            }))
        })
        .collect();
    let mut winners = 0;
    let mut retried = 0;
    for task in tasks {
        let (row, attempts) = task.await.unwrap();
        if let Some(row) = row {
            winners += 1;
            assert_eq!(row.get("value"), Some(&Value::from("u1")));
        }
        retried += usize::from(attempts > 1);
    }
    assert_eq!(winners, 1);
    assert_eq!(retried, TASKS - 1, "every loser conflicted once");
    let mut txn = db.begin(true).await.unwrap();
    assert_eq!(count(&mut txn, Model::Verification, &[]).await.unwrap(), 1, "the other row is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn increment_one_serializes_concurrent_increments() {
    const TASKS: usize = 8;
    let db = open(TransactionLimits::default()).await;
    let mut txn = db.begin(false).await.unwrap();
    create(&mut txn, Model::Verification, verification("counter", "c", 0.0)).await.unwrap();
    db.commit(txn).await.unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            tokio::spawn(until_committed(db.clone(), barrier.clone(), |txn| {
                Box::pin(async move {
                    increment_one(txn, Model::Verification, &[Where::eq("identifier", "counter")], "expiresAt", 1.0)
                        .await
                })
            }))
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().0.is_some());
    }
    let mut txn = db.begin(true).await.unwrap();
    let row = find_one(&mut txn, Model::Verification, &[Where::eq("identifier", "counter")]).await.unwrap().unwrap();
    assert_eq!(row.get("expiresAt"), Some(&Value::Float64(TASKS as f64)));

    let err = increment_one(&mut txn, Model::Verification, &[], "value", 1.0).await.unwrap_err();
    assert!(matches!(err, AdapterError::Invalid(_)), "{err}");
    let missing = [Where::eq("identifier", "x")];
    assert!(increment_one(&mut txn, Model::Verification, &missing, "expiresAt", 1.0).await.unwrap().is_none());
}

/// A database that fails any transaction reading more than 5 documents, holding 30 users with a session and an
/// account each, so that only indexed lookups succeed.
async fn crowd() -> Database {
    let limits = TransactionLimits { max_documents_read: 5, ..TransactionLimits::default() };
    let db = open(limits).await;
    for chunk in 0..3 {
        let mut txn = db.begin(false).await.unwrap();
        for i in chunk * 10..chunk * 10 + 10 {
            let created = i as f64 * 1000.0;
            let user =
                create(&mut txn, Model::User, user(&format!("u{i}"), &format!("u{i}@x.io"), false, None, created, 1.0))
                    .await
                    .unwrap();
            let user_id = id_of(&user);
            create(&mut txn, Model::Session, session(&format!("tok{i}"), &user_id, created)).await.unwrap();
            let account = object(obj! {
                "accountId" => user_id.as_str(), "providerId" => "credential", "userId" => user_id.as_str(),
                "password" => "salt:key", "createdAt" => created, "updatedAt" => created,
            });
            create(&mut txn, Model::Account, account).await.unwrap();
        }
        db.commit(txn).await.unwrap();
    }
    db
}

/// Runs `find_many` in a fresh transaction: (documents found, documents read).
async fn reads(db: &Database, model: Model, clauses: &[Where], options: FindOptions) -> Result<(usize, usize)> {
    let mut txn = db.begin(true).await.unwrap();
    let found = find_many(&mut txn, model, clauses, options).await?;
    Ok((found.len(), txn.usage().documents_read))
}

#[tokio::test]
async fn indexes_serve_the_lookups_better_auth_makes() {
    let db = crowd().await;
    let all = FindOptions::default;
    // Unique fast paths read one document.
    assert_eq!(reads(&db, Model::User, &[Where::eq("email", "u17@x.io")], all()).await.unwrap(), (1, 1));
    assert_eq!(reads(&db, Model::Session, &[Where::eq("token", "tok3")], all()).await.unwrap(), (1, 1));
    assert_eq!(reads(&db, Model::User, &[Where::eq("name", "u4")], all()).await.unwrap(), (1, 1));

    let mut txn = db.begin(true).await.unwrap();
    let u9 = find_one(&mut txn, Model::User, &[Where::eq("email", "u9@x.io")]).await.unwrap().unwrap();
    let u9 = id_of(&u9);
    assert_eq!(reads(&db, Model::User, &[Where::id(u9.clone())], all()).await.unwrap(), (1, 1));
    assert_eq!(reads(&db, Model::Session, &[Where::eq("userId", u9.as_str())], all()).await.unwrap(), (1, 1));
    let credential = [Where::eq("providerId", "credential"), Where::eq("userId", u9.as_str())];
    assert_eq!(reads(&db, Model::Account, &credential, all()).await.unwrap(), (1, 1));
    let linked = [Where::eq("accountId", u9.as_str()), Where::eq("providerId", "credential")];
    assert_eq!(reads(&db, Model::Account, &linked, all()).await.unwrap(), (1, 1));

    // A range on an indexed field reads only the range; a sort by an indexed field stops at the limit.
    let expired = [w("expiresAt", Operator::Lt, 3000.0)];
    assert_eq!(reads(&db, Model::Session, &expired, all()).await.unwrap(), (3, 3));
    let latest = FindOptions::limit(2).sort_by("expiresAt", Order::Desc);
    assert_eq!(reads(&db, Model::Session, &[], latest.clone()).await.unwrap(), (2, 2));
    let mut txn = db.begin(true).await.unwrap();
    let tokens: Vec<Session> = find_many_rows(&mut txn, &[], latest.with_offset(1)).await.unwrap();
    assert_eq!(tokens.iter().map(|s| s.token.as_str()).collect::<Vec<_>>(), ["tok28", "tok27"]);
    // Creation order (what jwks' "createdAt desc" asks for) stops at the limit too.
    let newest = FindOptions::limit(3).sort_by("createdAt", Order::Desc);
    assert_eq!(reads(&db, Model::User, &[], newest).await.unwrap(), (3, 3));
    // `in` expands into one range per value; OR clauses that each have an index are unioned.
    let three = [w("email", Operator::In, strings(&["u1@x.io", "u2@x.io", "u3@x.io"]))];
    assert_eq!(reads(&db, Model::User, &three, all()).await.unwrap(), (3, 3));
    let either = [Where::eq("email", "u5@x.io").or(), Where::eq("name", "u6").or()];
    assert_eq!(reads(&db, Model::User, &either, all()).await.unwrap(), (2, 2));
    let mut txn = db.begin(true).await.unwrap();
    assert_eq!(count(&mut txn, Model::Session, &expired).await.unwrap(), 3);

    // Without an index the same database refuses: a full scan reads more than the limit.
    let err = reads(&db, Model::User, &[Where::eq("image", "x.png")], all()).await.unwrap_err();
    assert!(matches!(err, AdapterError::Database(DatabaseError::Limit(_))), "{err}");
    let err = reads(&db, Model::User, &[Where::eq("email", "u5@x.io").or(), Where::eq("image", "x").or()], all())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Database(DatabaseError::Limit(_))), "{err}");

    // Writes find their row through the index as well.
    let mut txn = db.begin(false).await.unwrap();
    let renamed = object(obj! {"email" => "u29@y.io"});
    assert!(update_one(&mut txn, Model::User, &[Where::eq("email", "u29@x.io")], renamed).await.unwrap().is_some());
    assert!(delete_one(&mut txn, Model::Session, &[Where::eq("token", "tok29")]).await.unwrap().is_some());
    assert!(txn.usage().documents_read <= 5);
    db.commit(txn).await.unwrap();
}

#[test]
fn plans_pick_the_longest_equality_prefix() {
    let plan_of = |model: Model, clauses: &[Where], sort: Option<Sort>| {
        let query = Query::compile(model, clauses).unwrap();
        plan(&query, sort.as_ref())
    };
    let index_of = |p: &Plan| match p {
        Plan::One(Access::Index { index, ranges, sorted }) => (*index, ranges.len(), *sorted),
        other => panic!("not an index plan: {other:?}"),
    };
    let creation = Some(Sort::CREATION);
    let p = plan_of(Model::Account, &[Where::eq("userId", "u"), Where::eq("providerId", "p")], creation.clone());
    assert_eq!(index_of(&p), ("providerId_userId", 1, true));
    let p = plan_of(Model::Account, &[Where::eq("userId", "u")], creation.clone());
    assert_eq!(index_of(&p), ("userId", 1, true));
    let p = plan_of(Model::User, &[Where::eq("email", "e")], creation.clone());
    assert_eq!(index_of(&p), ("email_name", 1, false));
    let by_expiry = Some(Sort { key: SortKey::Field("expiresAt".into()), order: Order::Desc });
    let p = plan_of(Model::Session, &[Where::eq("userId", "u")], by_expiry.clone());
    assert_eq!(index_of(&p), ("userId", 1, false));
    let p = plan_of(Model::Session, &[w("expiresAt", Operator::Gt, 1.0)], by_expiry);
    assert_eq!(index_of(&p), ("expiresAt", 1, true));
    let p = plan_of(Model::Session, &[w("userId", Operator::In, strings(&["a", "b", "a"]))], None);
    assert_eq!(index_of(&p), ("userId", 2, false));
    // Null operands and `ne` have no index; OR without AND narrowing is a full scan unless every branch has one.
    assert_eq!(plan_of(Model::User, &[Where::eq("userId", Value::Null)], None), Plan::One(Access::Table));
    assert_eq!(plan_of(Model::User, &[w("name", Operator::Ne, "a")], None), Plan::One(Access::Table));
    assert_eq!(
        plan_of(Model::User, &[Where::eq("name", "a").or(), w("name", Operator::Ne, "b").or()], None),
        Plan::One(Access::Table)
    );
    assert!(matches!(
        plan_of(Model::User, &[Where::eq("name", "a").or(), Where::eq("email", "b").or()], None),
        Plan::Union(parts) if parts.len() == 2
    ));
    assert_eq!(plan_of(Model::User, &[w("name", Operator::In, strings(&[]))], None), Plan::One(Access::Empty));
}
