//! Search on a fixed corpus with the expected rankings written out, filters, read-your-writes, reactivity through
//! read sets, backfill, and the read cap on a large corpus. On memory, or PostgreSQL with
//! `AUTHVEX_TEST_BACKEND=postgres`.

use crate::*;
use std::sync::Arc;
use storage::Persistence;
use value::{obj, v, Object, Value};

fn schema(with_search: bool) -> Schema {
    let messages = TableDefinition::with_fields([
        ("body", v::string().into()),
        ("channel", v::optional(v::string())),
        ("n", v::optional(v::number())),
    ]);
    let messages = if with_search { messages.search_index("search_body", "body", &["channel"]) } else { messages };
    Schema::new().table("messages", messages)
}

async fn open(p: Arc<dyn Persistence>, with_search: bool) -> Database {
    let mut config = DatabaseConfig::new(
        schema(with_search),
        Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
        Arc::new(SeededEntropy::new(3)),
    );
    config.limits.max_documents_written = 100_000;
    config.limits.max_bytes_written = 64 << 20;
    Database::open(p, config).await.unwrap()
}

fn object(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        other => panic!("not an object: {other:?}"),
    }
}

async fn insert(db: &Database, docs: &[Value]) {
    let mut txn = db.begin(false).await.unwrap();
    for d in docs {
        txn.insert("messages", object(d.clone())).await.unwrap();
    }
    db.commit(txn).await.unwrap();
}

fn query(text: &str) -> SearchQuery {
    SearchQuery {
        table: "messages".into(),
        index: "search_body".into(),
        search_field: "body".into(),
        text: text.into(),
        filters: Vec::new(),
    }
}

async fn search(db: &Database, q: &SearchQuery) -> Vec<String> {
    let mut txn = db.begin(true).await.unwrap();
    bodies(txn.search(q).await.unwrap())
}

fn bodies(hits: Vec<SearchHit>) -> Vec<String> {
    hits.iter().map(|h| h.document.get("body").and_then(|b| b.as_str()).unwrap().to_string()).collect()
}

const CORPUS: [&str; 6] = [
    "the quick brown fox",
    "the lazy dog",
    "Quick, quick, QUICK!",
    "a fox and a dog and a cat and a bird and more words here",
    "hello world",
    "help wanted",
];

async fn corpus_db() -> Database {
    let db = open(test_support::test_persistence().await, true).await;
    let docs: Vec<Value> = CORPUS.iter().map(|b| obj! {"body" => *b}).collect();
    insert(&db, &docs).await;
    db
}

#[test]
fn tokens_are_lowercased_words() {
    assert_eq!(search::tokenize("Hello, World! it's 2024…ünïcode"), ["hello", "world", "it", "s", "2024", "ünïcode"]);
    assert!(search::tokenize("  !!! ").is_empty());
    assert_eq!(search::tokenize(&"x".repeat(40))[0].len(), search::MAX_TOKEN_BYTES);
}

#[tokio::test]
async fn results_come_in_bm25_order() {
    let db = corpus_db().await;
    // Both words beat three times one word in a short text, which beats one word in a long text.
    assert_eq!(
        search(&db, &query("quick fox")).await,
        ["the quick brown fox", "Quick, quick, QUICK!", "a fox and a dog and a cat and a bird and more words here"]
    );
    // Case and punctuation do not matter; more occurrences rank higher.
    assert_eq!(search(&db, &query("QUICK")).await, ["Quick, quick, QUICK!", "the quick brown fox"]);
    // "any word" semantics: "lazy" alone finds the dog; "dog" in a short text beats "dog" in a long one.
    assert_eq!(search(&db, &query("lazy")).await, ["the lazy dog"]);
    assert_eq!(
        search(&db, &query("dog")).await,
        ["the lazy dog", "a fox and a dog and a cat and a bird and more words here"]
    );
    assert!(search(&db, &query("zebra")).await.is_empty());
}

#[tokio::test]
async fn the_last_term_also_matches_as_a_prefix() {
    let db = corpus_db().await;
    // "hel" is the last term: hello and help; ties are newest first.
    assert_eq!(search(&db, &query("hel")).await, ["help wanted", "hello world"]);
    // Only the last term is a prefix: "hel" first is an exact term (nothing), "wor" matches world and words.
    assert_eq!(
        search(&db, &query("hel wor")).await,
        ["hello world", "a fox and a dog and a cat and a bird and more words here"]
    );
    assert_eq!(search(&db, &query("world he")).await[0], "hello world");
}

#[tokio::test]
async fn an_empty_search_finds_nothing_and_reads_nothing() {
    let db = corpus_db().await;
    let mut txn = db.begin(true).await.unwrap();
    for text in ["", "   ", "!!!"] {
        assert!(txn.search(&query(text)).await.unwrap().is_empty());
    }
    assert!(txn.read_set().intervals.is_empty());
}

#[tokio::test]
async fn filter_fields_restrict_the_results() {
    let db = open(test_support::test_persistence().await, true).await;
    insert(
        &db,
        &[
            obj! {"body" => "hello general", "channel" => "#general"},
            obj! {"body" => "hello random", "channel" => "#random"},
            obj! {"body" => "hello nowhere"},
        ],
    )
    .await;
    let mut q = query("hello");
    q.filters.push(("channel".into(), Some(Value::from("#random"))));
    assert_eq!(search(&db, &q).await, ["hello random"]);
    let mut q = query("hello");
    q.filters.push(("channel".into(), None));
    assert_eq!(search(&db, &q).await, ["hello nowhere"]);
    // The prefix term is filtered too.
    let mut q = query("hel");
    q.filters.push(("channel".into(), Some(Value::from("#general"))));
    assert_eq!(search(&db, &q).await, ["hello general"]);
    let mut q = query("hello");
    q.filters.push(("n".into(), Some(Value::from(1.0))));
    let mut txn = db.begin(true).await.unwrap();
    assert!(txn.search(&q).await.is_err(), "n is not a filter field");
}

#[tokio::test]
async fn a_search_sees_its_own_transactions_writes() {
    let db = corpus_db().await;
    let mut txn = db.begin(false).await.unwrap();
    let id = txn.insert("messages", object(obj! {"body" => "a brand new fox"})).await.unwrap();
    assert!(bodies(txn.search(&query("brand")).await.unwrap()) == ["a brand new fox"]);
    let dog = txn.search(&query("lazy")).await.unwrap().remove(0).document;
    let dog_id = value::DocumentId::parse(dog.get("_id").and_then(|v| v.as_str()).unwrap()).unwrap();
    txn.delete(&dog_id).await.unwrap();
    assert!(txn.search(&query("lazy")).await.unwrap().is_empty());
    txn.patch(&id, object(obj! {"body" => "renamed"}), &[]).await.unwrap();
    assert!(txn.search(&query("brand")).await.unwrap().is_empty());
    db.commit(txn).await.unwrap();
    // Committed: visible to the next transaction, and the postings of the old text are gone.
    assert_eq!(search(&db, &query("renamed")).await, ["renamed"]);
    assert!(search(&db, &query("brand lazy")).await.is_empty());
}

/// A search's read set covers its terms (and the prefix of the last): a write adding or removing a posting of
/// those terms overlaps it, a write of other words does not — the sync worker re-runs a subscribed search only then.
#[tokio::test]
async fn a_search_is_invalidated_only_by_writes_touching_its_terms() {
    let db = corpus_db().await;
    let mut txn = db.begin(true).await.unwrap();
    txn.search(&query("fox hel")).await.unwrap();
    let reads = txn.take_read_set();
    let since = txn.ts();
    insert(&db, &[obj! {"body" => "a blue whale"}]).await;
    insert(&db, &[obj! {"body" => "quick and lazy"}]).await;
    let touched = |commits: &[Arc<CommitEntry>]| commits.iter().any(|c| c.writes.overlaps(&reads));
    assert!(!touched(&db.commits_since(since).unwrap()), "other words do not touch the search");
    let before = db.latest_ts();
    insert(&db, &[obj! {"body" => "a red fox"}]).await;
    assert!(touched(&db.commits_since(before).unwrap()), "a new fox does");
    let before = db.latest_ts();
    insert(&db, &[obj! {"body" => "helicopter"}]).await;
    assert!(touched(&db.commits_since(before).unwrap()), "a new word with the last term as prefix does");
}

#[tokio::test]
async fn a_search_index_added_later_is_backfilled() {
    let p = test_support::test_persistence().await;
    let db = open(p.clone(), false).await;
    insert(&db, &[obj! {"body" => "written before the index"}, obj! {"body" => "also before"}]).await;
    drop(db);
    let db = open(p, true).await;
    assert_eq!(search(&db, &query("before")).await, ["also before", "written before the index"]);
}

/// 100,000 messages sharing a word: a search examines at most 1,024 of them, far inside the transaction's read
/// limits, and still ranks what it examined.
#[tokio::test]
async fn a_large_corpus_stays_within_the_read_limits() {
    let db = open(test_support::test_persistence().await, true).await;
    let count = 100_000;
    let mut docs = Vec::with_capacity(25_000);
    for i in 0..count {
        let body = if i % 1000 == 0 { format!("common rare{i}") } else { format!("common filler {i}") };
        docs.push(obj! {"body" => body});
        if docs.len() == 25_000 {
            insert(&db, &docs).await;
            docs.clear();
        }
    }
    let mut txn = db.begin(true).await.unwrap();
    let hits = txn.search(&query("common")).await.unwrap();
    assert_eq!(hits.len(), search::MAX_CANDIDATES);
    assert!(txn.usage().documents_read <= search::MAX_CANDIDATES);
    // Ranking reads postings only; then just the documents wanted are read, in the same order.
    let mut txn = db.begin(true).await.unwrap();
    let matches = txn.search_matches(&query("common")).await.unwrap();
    assert_eq!(matches.len(), search::MAX_CANDIDATES);
    assert_eq!(txn.usage().documents_read, 0, "ranking reads no document");
    let top = txn.search_documents(&matches[..10]).await.unwrap();
    assert_eq!(txn.usage().documents_read, 10, "only the documents returned are read");
    assert_eq!(bodies(top), bodies(hits)[..10]);
    let mut txn = db.begin(true).await.unwrap();
    // The last term is also a prefix: rare5000 finds rare50000 too; as an exact (not last) term it does not.
    assert_eq!(bodies(txn.search(&query("rare5000")).await.unwrap()), ["common rare50000", "common rare5000"]);
    assert_eq!(bodies(txn.search(&query("rare5000 x")).await.unwrap()), ["common rare5000"]);
}

/// The posting key carries the filter values: `eq` on a filter field that is not a prefix of the index's filter
/// fields (and on the last, prefix term) is checked from the key, and only matching documents are read.
#[tokio::test]
async fn filters_on_any_filter_field_are_checked_from_the_postings() {
    let schema = Schema::new().table(
        "messages",
        TableDefinition::with_fields([
            ("body", v::string().into()),
            ("channel", v::optional(v::string())),
            ("author", v::optional(v::string())),
        ])
        .search_index("search_body", "body", &["channel", "author"]),
    );
    let config = DatabaseConfig::new(
        schema,
        Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
        Arc::new(SeededEntropy::new(3)),
    );
    let db = Database::open(test_support::test_persistence().await, config).await.unwrap();
    insert(
        &db,
        &[
            obj! {"body" => "hello from ann", "channel" => "#a", "author" => "ann"},
            obj! {"body" => "hello from bob", "channel" => "#a", "author" => "bob"},
            obj! {"body" => "hello again ann", "channel" => "#b", "author" => "ann"},
            obj! {"body" => "hello nobody", "channel" => "#b"},
        ],
    )
    .await;
    let with = |text: &str, filters: &[(&str, Option<&str>)]| {
        let mut q = query(text);
        q.filters = filters.iter().map(|(f, v)| (f.to_string(), v.map(Value::from))).collect();
        q
    };
    let mut txn = db.begin(true).await.unwrap();
    let ann = with("hello", &[("author", Some("ann"))]);
    let found = bodies(txn.search(&ann).await.unwrap());
    assert_eq!(found, ["hello again ann", "hello from ann"]);
    assert_eq!(txn.usage().documents_read, 2, "documents of other authors are not read");
    assert_eq!(search(&db, &with("hel", &[("author", Some("ann"))])).await, ["hello again ann", "hello from ann"]);
    assert_eq!(
        search(&db, &with("hello", &[("author", Some("ann")), ("channel", Some("#b"))])).await,
        ["hello again ann"]
    );
    assert_eq!(search(&db, &with("hel", &[("author", None)])).await, ["hello nobody"]);
    assert_eq!(search(&db, &with("again hel", &[("channel", Some("#a"))])).await, ["hello from bob", "hello from ann"]);
}

/// A search index built with an older posting layout (a catalog entry without the current format) is cleared and
/// rebuilt at start, under a new index id, and searches find what it held.
#[tokio::test]
async fn a_search_index_of_an_older_posting_format_is_rebuilt() {
    let p = test_support::test_persistence().await;
    let db = open(p.clone(), true).await;
    insert(&db, &[obj! {"body" => "older text"}, obj! {"body" => "newer text"}]).await;
    drop(db);
    let search_index = |catalog: &serde_json::Value| {
        catalog["tables"]["messages"]["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|ix| ix["name"] == "search_body")
            .cloned()
            .unwrap()
    };
    let stored = p.get_meta("catalog").await.unwrap().unwrap();
    let mut catalog: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    let before = search_index(&catalog);
    assert_eq!(before["search"]["postings"], search::POSTINGS_FORMAT);
    for ix in catalog["tables"]["messages"]["indexes"].as_array_mut().unwrap() {
        if ix["name"] == "search_body" {
            ix["search"].as_object_mut().unwrap().remove("postings");
        }
    }
    p.put_meta(vec![("catalog".into(), Some(serde_json::to_vec(&catalog).unwrap()))]).await.unwrap();
    let db = open(p.clone(), true).await;
    let catalog: serde_json::Value = serde_json::from_slice(&p.get_meta("catalog").await.unwrap().unwrap()).unwrap();
    let after = search_index(&catalog);
    assert_eq!(after["search"]["postings"], search::POSTINGS_FORMAT);
    assert_ne!(after["id"], before["id"], "rebuilt under a new id");
    let snapshot = p.snapshot().await.unwrap();
    let old_id = before["id"].as_u64().unwrap() as u32;
    let old = snapshot.scan_keys(old_id, &storage::KeyRange::all(), storage::Order::Asc, 10).await.unwrap();
    assert!(old.is_empty(), "the old postings are gone");
    assert_eq!(search(&db, &query("text")).await, ["newer text", "older text"]);
}
