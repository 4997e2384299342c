//! The conformance suite every [`Persistence`] backend runs.
//!
//! [`run_all`] runs every case, each on a fresh empty store at a new location of the caller's [`Backend`]; every case
//! is also a public `async fn`, so a backend crate can run one on its own while debugging. A case fails by panicking
//! with a message that names the behaviour it expected, like any test assertion.
//!
//! The suite must run inside a Tokio runtime (the concurrency case spawns tasks). It needs no timers and never
//! sleeps; either flavour works, and a multi-threaded one (`#[tokio::test(flavor = "multi_thread")]`) also puts
//! readers and the writer on different threads.

use crate::postgres::TestDatabase;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use storage::{
    Commit, DocumentWrite, DynPersistence, IndexEntry, IndexId, IndexKey, IndexWrite, KeyRange, LogRecord, Order,
    Persistence, Result, StorageError, StoredDocument, TableNumber, Timestamp,
};

/// A backend under test: where a store lives, and how to open (and open again) the store there.
pub trait Backend {
    /// Where one store lives (a directory, a database); whatever it holds goes away when it is dropped.
    type Location;

    /// A new, empty location.
    fn location(&self) -> impl Future<Output = Self::Location>;

    /// Opens the store at `location`; [`data_survives_reopen`] calls it twice on one location.
    fn open(&self, location: &Self::Location) -> impl Future<Output = DynPersistence>;

    /// Whether a store opened again at a location holds what was written there before.
    fn durable(&self) -> bool;
}

/// Runs every case, each against a fresh empty store from `backend`, in a fixed order.
pub async fn run_all<B: Backend>(backend: B) {
    macro_rules! cases {
        ($($case:ident),* $(,)?) => {
            $(
                eprintln!("storage conformance: {}", stringify!($case));
                let location = backend.location().await;
                $case(backend.open(&location).await).await;
                drop(location);
            )*
        };
    }
    cases!(
        empty_store,
        write_get_and_scan,
        document_update_and_delete,
        key_range_bounds,
        bytewise_key_order,
        index_isolation,
        index_entry_overwrite_and_delete,
        dangling_index_entries_are_skipped,
        keys_only_scans,
        empty_values_round_trip,
        batch_is_atomic,
        timestamps_are_monotonic_across_writes,
        snapshot_isolation,
        log_after_order_exclusivity_and_limit,
        prune_log_keeps_latest,
        meta_put_get_list_delete,
        clear_index_touches_only_that_index,
        backfill_index_is_scannable_without_log,
        concurrent_readers_see_whole_commits,
        many_documents_paginate,
        conditional_writes_check_the_latest_commit,
        concurrent_conditional_writes_admit_one,
        conditional_meta_is_compare_and_set,
    );
    if backend.durable() {
        eprintln!("storage conformance: data_survives_reopen");
        data_survives_reopen(&backend).await;
    } else {
        // The in-memory store's data lives in its handle: there is nothing to open again.
        eprintln!("storage conformance: data_survives_reopen skipped (the backend is not durable)");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Backends

/// [`storage::MemoryPersistence`]: a fresh store per case; not durable.
pub struct Memory;

impl Backend for Memory {
    type Location = ();

    async fn location(&self) {}

    async fn open(&self, (): &()) -> DynPersistence {
        Arc::new(storage::MemoryPersistence::new())
    }

    fn durable(&self) -> bool {
        false
    }
}

/// `storage_sqlite`: one file in a temporary directory per case.
pub struct Sqlite;

impl Backend for Sqlite {
    type Location = tempfile::TempDir;

    async fn location(&self) -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|error| panic!("cannot create a temporary directory: {error}"))
    }

    async fn open(&self, dir: &tempfile::TempDir) -> DynPersistence {
        let path = dir.path().join("authvex.sqlite");
        match storage_sqlite::SqlitePersistence::open(&path) {
            Ok(store) => Arc::new(store),
            Err(error) => panic!("cannot open {}: {error}", path.display()),
        }
    }

    fn durable(&self) -> bool {
        true
    }
}

/// `storage_postgres`: a fresh database per case (see [`TestDatabase`]).
pub struct Postgres;

impl Backend for Postgres {
    type Location = TestDatabase;

    async fn location(&self) -> TestDatabase {
        TestDatabase::create_or_panic().await
    }

    async fn open(&self, database: &TestDatabase) -> DynPersistence {
        match storage_postgres::PostgresPersistence::connect(database.url()).await {
            Ok(store) => Arc::new(store),
            Err(error) => panic!("cannot open the test database {}: {error}", database.name()),
        }
    }

    fn durable(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/// Unwraps a storage result, failing the case with what was being done.
#[track_caller]
fn ok<T>(result: Result<T>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what} failed: {error}"),
    }
}

fn put_doc(id: &[u8], table: TableNumber, body: &[u8]) -> DocumentWrite {
    DocumentWrite { id: id.to_vec(), table, body: Some(body.to_vec()) }
}

fn delete_doc(id: &[u8], table: TableNumber) -> DocumentWrite {
    DocumentWrite { id: id.to_vec(), table, body: None }
}

fn put_entry(index: IndexId, key: &[u8], id: &[u8]) -> IndexWrite {
    IndexWrite { index, key: key.to_vec(), id: Some(id.to_vec()) }
}

fn delete_entry(index: IndexId, key: &[u8]) -> IndexWrite {
    IndexWrite { index, key: key.to_vec(), id: None }
}

fn commit(ts: u64, documents: Vec<DocumentWrite>, indexes: Vec<IndexWrite>) -> Commit {
    Commit { ts: Timestamp(ts), documents, indexes, log: format!("log@{ts}").into_bytes() }
}

/// A commit writing one document (`id` in table 4, with `body`) and its entry in index 2 (keyed by `body`), for
/// the backend crates' own tests.
pub fn document_commit(ts: u64, id: &[u8], body: &[u8]) -> Commit {
    commit(ts, vec![put_doc(id, 4, body)], vec![put_entry(2, body, id)])
}

fn stored(table: TableNumber, body: &[u8]) -> StoredDocument {
    StoredDocument { table, body: body.to_vec() }
}

fn range(start: &[u8], end: Option<&[u8]>) -> KeyRange {
    KeyRange { start: start.to_vec(), end: end.map(<[u8]>::to_vec) }
}

async fn write(p: &DynPersistence, commits: Vec<Commit>, what: &str) {
    ok(p.write(commits).await, what);
}

async fn scan(p: &DynPersistence, index: IndexId, range: &KeyRange, order: Order, limit: usize) -> Vec<IndexEntry> {
    let snapshot = ok(p.snapshot().await, "snapshot");
    ok(snapshot.scan(index, range, order, limit).await, &format!("scan of index {index} over {range:?}"))
}

async fn scanned_keys(
    p: &DynPersistence,
    index: IndexId,
    range: &KeyRange,
    order: Order,
    limit: usize,
) -> Vec<Vec<u8>> {
    scan(p, index, range, order, limit).await.into_iter().map(|entry| entry.key).collect()
}

async fn get(p: &DynPersistence, id: &[u8]) -> Option<StoredDocument> {
    let snapshot = ok(p.snapshot().await, "snapshot");
    ok(snapshot.get(id).await, &format!("get of document {id:?}"))
}

async fn all_log(p: &DynPersistence) -> Vec<LogRecord> {
    ok(p.log_after(Timestamp(0), usize::MAX).await, "log_after(0)")
}

fn log_timestamps(records: &[LogRecord]) -> Vec<u64> {
    records.iter().map(|record| record.ts.0).collect()
}

fn keys(keys: &[&[u8]]) -> Vec<Vec<u8>> {
    keys.iter().map(|key| key.to_vec()).collect()
}

/// Asserts that a write was rejected as non-monotonic, naming the offending timestamp.
#[track_caller]
fn assert_non_monotonic(result: Result<()>, expected_ts: u64, what: &str) {
    match result {
        Err(StorageError::NonMonotonicTimestamp(ts)) => {
            assert_eq!(ts, Timestamp(expected_ts), "{what}: the error must name the first offending commit's ts")
        }
        Err(other) => {
            panic!("{what}: expected NonMonotonicTimestamp({expected_ts}), got error {other}")
        }
        Ok(()) => {
            panic!("{what}: expected NonMonotonicTimestamp({expected_ts}), but the write succeeded")
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Cases

/// A new store is empty everywhere, and the maintenance operations are no-ops on it.
pub async fn empty_store(p: DynPersistence) {
    assert_eq!(ok(p.max_ts().await, "max_ts"), None, "an empty store has no max_ts");
    let snapshot = ok(p.snapshot().await, "snapshot");
    assert_eq!(snapshot.ts(), Timestamp(0), "an empty store's snapshot is at ts 0");
    assert_eq!(ok(snapshot.get(b"missing").await, "get"), None, "an empty store has no documents");
    for index in [0, 1, IndexId::MAX] {
        let entries = ok(snapshot.scan(index, &KeyRange::all(), Order::Asc, 100).await, "scan");
        assert!(entries.is_empty(), "index {index} of an empty store must scan empty, got {entries:?}");
        let entries = ok(snapshot.scan(index, &KeyRange::all(), Order::Desc, 100).await, "scan");
        assert!(entries.is_empty(), "index {index} of an empty store must scan empty (desc), got {entries:?}");
    }
    assert!(all_log(&p).await.is_empty(), "an empty store has an empty commit log");
    assert_eq!(ok(p.get_meta("any").await, "get_meta"), None, "an empty store has no metadata");
    assert!(ok(p.list_meta("").await, "list_meta").is_empty(), "an empty store lists no metadata");

    ok(p.write(Vec::new()).await, "an empty write batch");
    ok(p.prune_log(Timestamp(100)).await, "prune_log on an empty store");
    ok(p.clear_index(1).await, "clear_index on an empty store");
    ok(p.backfill_index(Vec::new()).await, "an empty backfill");
    ok(p.put_meta(Vec::new()).await, "an empty put_meta");
    assert_eq!(ok(p.max_ts().await, "max_ts"), None, "no-op operations must not create a commit");
    assert!(all_log(&p).await.is_empty(), "no-op operations must not append to the commit log");
}

/// Written documents and index entries read back; scans honour order and limit.
pub async fn write_get_and_scan(p: DynPersistence) {
    write(
        &p,
        vec![commit(
            10,
            vec![put_doc(b"id-a", 1, b"alpha"), put_doc(b"id-b", 1, b"beta"), put_doc(b"id-c", 2, b"gamma")],
            vec![put_entry(7, b"k1", b"id-a"), put_entry(7, b"k2", b"id-b"), put_entry(7, b"k3", b"id-c")],
        )],
        "first write",
    )
    .await;
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(10)), "max_ts is the written commit's ts");
    let snapshot = ok(p.snapshot().await, "snapshot");
    assert_eq!(snapshot.ts(), Timestamp(10), "a snapshot after a write is at that commit's ts");
    assert_eq!(ok(snapshot.get(b"id-a").await, "get"), Some(stored(1, b"alpha")), "document id-a");
    assert_eq!(ok(snapshot.get(b"id-b").await, "get"), Some(stored(1, b"beta")), "document id-b");
    assert_eq!(ok(snapshot.get(b"id-c").await, "get"), Some(stored(2, b"gamma")), "document id-c keeps its table");
    assert_eq!(ok(snapshot.get(b"id-d").await, "get"), None, "a never-written id reads as missing");
    assert_eq!(ok(snapshot.get(b"id-").await, "get"), None, "get matches ids exactly, not by prefix");

    let all = ok(snapshot.scan(7, &KeyRange::all(), Order::Asc, 100).await, "scan");
    assert_eq!(
        all,
        vec![
            IndexEntry { key: b"k1".to_vec(), id: b"id-a".to_vec(), document: stored(1, b"alpha") },
            IndexEntry { key: b"k2".to_vec(), id: b"id-b".to_vec(), document: stored(1, b"beta") },
            IndexEntry { key: b"k3".to_vec(), id: b"id-c".to_vec(), document: stored(2, b"gamma") },
        ],
        "an ascending scan returns every entry joined with its document, in key order"
    );
    let cases: [(Order, usize, &[&[u8]]); 8] = [
        (Order::Asc, 2, &[b"k1", b"k2"]),
        (Order::Asc, 1, &[b"k1"]),
        (Order::Asc, 3, &[b"k1", b"k2", b"k3"]),
        (Order::Asc, usize::MAX, &[b"k1", b"k2", b"k3"]),
        (Order::Desc, 100, &[b"k3", b"k2", b"k1"]),
        (Order::Desc, 2, &[b"k3", b"k2"]),
        (Order::Desc, 1, &[b"k3"]),
        (Order::Asc, 0, &[]),
    ];
    for (order, limit, expected) in cases {
        assert_eq!(
            scanned_keys(&p, 7, &KeyRange::all(), order, limit).await,
            keys(expected),
            "scan of all keys, {order:?}, limit {limit}"
        );
    }
    assert!(
        scanned_keys(&p, 7, &KeyRange::all(), Order::Desc, 0).await.is_empty(),
        "a descending scan with limit 0 returns nothing"
    );
    assert_eq!(
        scanned_keys(&p, 7, &range(b"k2", None), Order::Desc, 1).await,
        keys(&[b"k3"]),
        "a descending scan starts at the range's top"
    );
    assert_eq!(
        scanned_keys(&p, 7, &range(b"", Some(b"k3")), Order::Desc, 1).await,
        keys(&[b"k2"]),
        "a descending scan with an end bound starts below the (exclusive) end"
    );
}

/// Documents can be overwritten (body and table) and deleted; deleting a missing id is a no-op.
pub async fn document_update_and_delete(p: DynPersistence) {
    write(&p, vec![commit(1, vec![put_doc(b"d1", 1, b"v1"), put_doc(b"d2", 1, b"x")], Vec::new())], "insert").await;
    write(&p, vec![commit(2, vec![put_doc(b"d1", 3, b"v2")], Vec::new())], "update").await;
    assert_eq!(get(&p, b"d1").await, Some(stored(3, b"v2")), "an overwrite replaces body and table");

    write(&p, vec![commit(3, vec![delete_doc(b"d1", 3), delete_doc(b"never-existed", 3)], Vec::new())], "delete").await;
    assert_eq!(get(&p, b"d1").await, None, "a deleted document reads as missing");
    assert_eq!(get(&p, b"d2").await, Some(stored(1, b"x")), "deleting one document leaves the others");

    // Several writes to one id in one commit and across commits of one batch: the last one wins.
    write(
        &p,
        vec![
            commit(4, vec![put_doc(b"d3", 1, b"first"), put_doc(b"d3", 1, b"second")], Vec::new()),
            commit(5, vec![delete_doc(b"d2", 1)], Vec::new()),
            commit(6, vec![put_doc(b"d2", 2, b"again")], Vec::new()),
        ],
        "batch with repeated ids",
    )
    .await;
    assert_eq!(get(&p, b"d3").await, Some(stored(1, b"second")), "the later write in a commit wins");
    assert_eq!(get(&p, b"d2").await, Some(stored(2, b"again")), "commits of a batch apply in order");
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(6)), "max_ts is the batch's last commit");
    assert_eq!(log_timestamps(&all_log(&p).await), vec![1, 2, 3, 4, 5, 6], "one log record per commit");
}

/// The keys used by the range cases: prefixes of each other, 0x00/0xFF edges, bytes above 0x7F, case. Listed (and
/// written) out of order on purpose.
fn edge_keys() -> Vec<Vec<u8>> {
    keys(&[
        b"abc",
        b"\xff",
        b"B",
        b"",
        b"ab\x00",
        b"\x80",
        b"\x00\xff",
        b"\xff\xff\xff",
        b"a",
        b"\x01",
        b"\xc3\xa9",
        b"\x00",
        b"abd",
        b"\xff\x00",
        b"A",
        b"\x7f",
        b"ab",
        b"\xfe\xff",
        b"\x00\x00",
        b"b",
        b"\xff\xff",
    ])
}

async fn write_edge_keys(p: &DynPersistence, index: IndexId) -> Vec<Vec<u8>> {
    let keys = edge_keys();
    let mut documents = Vec::new();
    let mut indexes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let id = format!("edge-{i}").into_bytes();
        documents.push(put_doc(&id, 1, key));
        indexes.push(put_entry(index, key, &id));
    }
    write(p, vec![commit(1, documents, indexes)], "write of edge keys").await;
    let mut sorted = keys;
    sorted.sort();
    sorted
}

/// `(start, end, the stored keys in [start, end) in ascending order)`.
type RangeCase = (&'static [u8], Option<&'static [u8]>, &'static [&'static [u8]]);

/// `KeyRange` is `[start, end)`, `end: None` is unbounded, empty and inverted ranges scan empty.
pub async fn key_range_bounds(p: DynPersistence) {
    let index = 5;
    let sorted = write_edge_keys(&p, index).await;

    let explicit: [RangeCase; 12] = [
        (b"ab", Some(b"abd"), &[b"ab", b"ab\x00", b"abc"]),
        (b"ab", Some(b"ab\x00"), &[b"ab"]),
        (b"ab\x00", Some(b"abc"), &[b"ab\x00"]),
        (b"ab", Some(b"ab"), &[]),
        (b"abd", Some(b"ab"), &[]),
        (
            b"abd",
            None,
            &[
                b"abd",
                b"b",
                b"\x7f",
                b"\x80",
                b"\xc3\xa9",
                b"\xfe\xff",
                b"\xff",
                b"\xff\x00",
                b"\xff\xff",
                b"\xff\xff\xff",
            ],
        ),
        (b"", Some(b"\x00"), &[b""]),
        (b"", Some(b"\x01"), &[b"", b"\x00", b"\x00\x00", b"\x00\xff"]),
        (b"\xff", None, &[b"\xff", b"\xff\x00", b"\xff\xff", b"\xff\xff\xff"]),
        (b"\xff\xff", Some(b"\xff\xff\xff"), &[b"\xff\xff"]),
        (b"\xff\xff\xff\xff", None, &[]),
        (b"abcd", Some(b"abd"), &[]),
    ];
    for (start, end, expected) in explicit {
        let r = range(start, end);
        assert_eq!(scanned_keys(&p, index, &r, Order::Asc, 1000).await, keys(expected), "ascending scan over {r:?}");
        let mut reversed = keys(expected);
        reversed.reverse();
        assert_eq!(scanned_keys(&p, index, &r, Order::Desc, 1000).await, reversed, "descending scan over {r:?}");
    }

    // Every pair of stored keys and a few absent ones as bounds, checked against the definition of the interval.
    let mut bounds = sorted.clone();
    bounds.extend(keys(&[b"aa", b"abb", b"\x00\x00\x00", b"\xff\xfe", b"zzz"]));
    let snapshot = ok(p.snapshot().await, "snapshot");
    for start in &bounds {
        let ends = bounds.iter().map(|end| Some(end.clone())).chain([None]);
        for end in ends {
            let r = KeyRange { start: start.clone(), end };
            let expected: Vec<Vec<u8>> = sorted.iter().filter(|key| r.contains(key)).cloned().collect();
            let asc: Vec<Vec<u8>> = ok(snapshot.scan(index, &r, Order::Asc, 1000).await, "scan")
                .into_iter()
                .map(|entry| entry.key)
                .collect();
            assert_eq!(asc, expected, "ascending scan over {r:?} must return exactly the keys in [start, end)");
            let desc: Vec<Vec<u8>> = ok(snapshot.scan(index, &r, Order::Desc, 1000).await, "scan")
                .into_iter()
                .map(|entry| entry.key)
                .collect();
            let mut reversed = expected;
            reversed.reverse();
            assert_eq!(desc, reversed, "descending scan over {r:?} must return the same keys reversed");
        }
    }
}

/// Keys compare bytewise (memcmp, shorter prefix first), not by any string collation.
pub async fn bytewise_key_order(p: DynPersistence) {
    let sorted = write_edge_keys(&p, 9).await;
    let expected = keys(&[
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x00\xff",
        b"\x01",
        b"A",
        b"B",
        b"a",
        b"ab",
        b"ab\x00",
        b"abc",
        b"abd",
        b"b",
        b"\x7f",
        b"\x80",
        b"\xc3\xa9",
        b"\xfe\xff",
        b"\xff",
        b"\xff\x00",
        b"\xff\xff",
        b"\xff\xff\xff",
    ]);
    assert_eq!(sorted, expected, "the suite's own expectation of memcmp order");
    assert_eq!(
        scanned_keys(&p, 9, &KeyRange::all(), Order::Asc, 1000).await,
        expected,
        "index keys must sort bytewise: a prefix first, uppercase before lowercase, 0x00 low, 0x80..0xFF high"
    );
    let entries = scan(&p, 9, &KeyRange::all(), Order::Asc, 1000).await;
    for entry in &entries {
        assert_eq!(entry.document.body, entry.key, "each entry joins the document written with it");
    }
}

/// Scans never cross into another index, including the lowest and highest index ids.
pub async fn index_isolation(p: DynPersistence) {
    let mut documents = Vec::new();
    let mut indexes = Vec::new();
    for index in [0, 1, 2, IndexId::MAX - 1, IndexId::MAX] {
        let id = format!("doc-{index}").into_bytes();
        documents.push(put_doc(&id, 1, &id));
        for key in [b"".as_slice(), b"\x00", b"m", b"\xff\xff"] {
            indexes.push(put_entry(index, key, &id));
        }
    }
    write(&p, vec![commit(1, documents, indexes)], "write to several indexes").await;
    for index in [0, 1, 2, IndexId::MAX - 1, IndexId::MAX] {
        let id = format!("doc-{index}").into_bytes();
        for order in [Order::Asc, Order::Desc] {
            let entries = scan(&p, index, &KeyRange::all(), order, 100).await;
            assert_eq!(entries.len(), 4, "index {index} ({order:?}) must return exactly its own 4 entries");
            assert!(
                entries.iter().all(|entry| entry.id == id),
                "index {index} ({order:?}) returned another index's entries: {entries:?}"
            );
        }
    }
    assert!(scan(&p, 3, &KeyRange::all(), Order::Asc, 100).await.is_empty(), "an unused index scans empty");
}

/// Writing an existing key re-points it; deleting a key removes only that entry.
pub async fn index_entry_overwrite_and_delete(p: DynPersistence) {
    write(
        &p,
        vec![commit(
            1,
            vec![put_doc(b"a", 1, b"A"), put_doc(b"b", 1, b"B")],
            vec![put_entry(1, b"k", b"a"), put_entry(1, b"l", b"b")],
        )],
        "insert",
    )
    .await;
    write(&p, vec![commit(2, Vec::new(), vec![put_entry(1, b"k", b"b")])], "overwrite").await;
    let entries = scan(&p, 1, &KeyRange::all(), Order::Asc, 10).await;
    assert_eq!(
        entries,
        vec![
            IndexEntry { key: b"k".to_vec(), id: b"b".to_vec(), document: stored(1, b"B") },
            IndexEntry { key: b"l".to_vec(), id: b"b".to_vec(), document: stored(1, b"B") },
        ],
        "an overwritten key points at the new document and is not duplicated"
    );

    write(&p, vec![commit(3, Vec::new(), vec![delete_entry(1, b"k"), delete_entry(1, b"absent")])], "delete").await;
    assert_eq!(
        scanned_keys(&p, 1, &KeyRange::all(), Order::Asc, 10).await,
        keys(&[b"l"]),
        "a deleted key disappears, deleting an absent key is a no-op"
    );
    assert_eq!(get(&p, b"a").await, Some(stored(1, b"A")), "deleting index entries leaves documents alone");

    // Put then delete of one key within a commit, and delete then put: in order.
    write(
        &p,
        vec![commit(
            4,
            Vec::new(),
            vec![put_entry(1, b"x", b"a"), delete_entry(1, b"x"), delete_entry(1, b"l"), put_entry(1, b"l", b"a")],
        )],
        "put and delete in one commit",
    )
    .await;
    let entries = scan(&p, 1, &KeyRange::all(), Order::Asc, 10).await;
    assert_eq!(
        entries,
        vec![IndexEntry { key: b"l".to_vec(), id: b"a".to_vec(), document: stored(1, b"A") }],
        "index writes within a commit apply in order"
    );
}

/// A scan joins entries with documents; an entry whose document does not exist is skipped (and does not count
/// towards the limit).
pub async fn dangling_index_entries_are_skipped(p: DynPersistence) {
    write(
        &p,
        vec![commit(
            1,
            vec![put_doc(b"d1", 1, b"one"), put_doc(b"d3", 1, b"three")],
            vec![put_entry(1, b"k1", b"d1"), put_entry(1, b"k2", b"d2"), put_entry(1, b"k3", b"d3")],
        )],
        "write with a dangling entry",
    )
    .await;
    assert_eq!(
        scanned_keys(&p, 1, &KeyRange::all(), Order::Asc, 10).await,
        keys(&[b"k1", b"k3"]),
        "an entry pointing at a missing document is skipped"
    );
    assert_eq!(scanned_keys(&p, 1, &range(b"k2", None), Order::Asc, 1).await, keys(&[b"k3"]), "skipped, then limit");
    write(&p, vec![commit(2, vec![delete_doc(b"d3", 1)], Vec::new())], "delete a referenced document").await;
    assert_eq!(
        scanned_keys(&p, 1, &KeyRange::all(), Order::Desc, 1).await,
        keys(&[b"k1"]),
        "entries of a deleted document are skipped"
    );
}

/// `scan_keys` returns exactly the `(key, id)` pairs `scan` does, for every interval, order and limit; it reads no
/// document, so an entry whose document is missing is returned too; and it reads its snapshot, not later commits.
pub async fn keys_only_scans(p: DynPersistence) {
    let index = 5;
    let sorted = write_edge_keys(&p, index).await;
    let snapshot = ok(p.snapshot().await, "snapshot");
    let mut bounds = sorted.clone();
    bounds.extend(keys(&[b"aa", b"abb", b"\xff\xfe", b"zzz"]));
    for start in &bounds {
        for end in bounds.iter().map(|end| Some(end.clone())).chain([None]) {
            let r = KeyRange { start: start.clone(), end };
            for order in [Order::Asc, Order::Desc] {
                for limit in [0, 1, 3, 1000] {
                    let joined: Vec<IndexKey> = ok(snapshot.scan(index, &r, order, limit).await, "scan")
                        .into_iter()
                        .map(|entry| IndexKey { key: entry.key, id: entry.id })
                        .collect();
                    let alone = ok(snapshot.scan_keys(index, &r, order, limit).await, "keys-only scan");
                    assert_eq!(alone, joined, "keys-only {order:?} scan over {r:?} with limit {limit}");
                }
            }
        }
    }
    assert!(ok(snapshot.scan_keys(index + 1, &KeyRange::all(), Order::Asc, 10).await, "scan").is_empty(), "no index");

    // A dangling entry, an overwritten entry and a deleted one, seen by a new snapshot and not by the old one.
    write(
        &p,
        vec![commit(
            2,
            Vec::new(),
            vec![
                put_entry(index, b"dangling", b"missing"),
                put_entry(index, b"ab", b"edge-0"),
                delete_entry(index, b"b"),
            ],
        )],
        "entry changes",
    )
    .await;
    let old = ok(snapshot.scan_keys(index, &KeyRange::all(), Order::Asc, 1000).await, "keys-only scan");
    assert_eq!(old.len(), sorted.len(), "the old snapshot sees the entries as they were");
    assert!(old.iter().all(|e| e.key != b"dangling".to_vec()), "the old snapshot does not see a later entry");
    let new_snapshot = ok(p.snapshot().await, "snapshot");
    let new = ok(new_snapshot.scan_keys(index, &range(b"ab", Some(b"e")), Order::Asc, 1000).await, "keys-only scan");
    let pairs: Vec<(&[u8], &[u8])> = new.iter().map(|e| (e.key.as_slice(), e.id.as_slice())).collect();
    assert!(
        pairs.contains(&(b"dangling".as_slice(), b"missing".as_slice())),
        "a dangling entry is returned: {pairs:?}"
    );
    assert!(
        pairs.contains(&(b"ab".as_slice(), b"edge-0".as_slice())),
        "an overwritten entry has its new id: {pairs:?}"
    );
    assert!(!pairs.iter().any(|(key, _)| *key == b"b".as_slice()), "a deleted entry is gone: {pairs:?}");
    let joined = scan(&p, index, &range(b"ab", Some(b"e")), Order::Asc, 1000).await;
    assert!(joined.iter().all(|e| e.key != b"dangling".to_vec()), "while a joined scan skips it");
}

/// Empty ids, bodies, logs and meta values are stored as empty, not as missing.
pub async fn empty_values_round_trip(p: DynPersistence) {
    write(
        &p,
        vec![Commit {
            ts: Timestamp(1),
            documents: vec![put_doc(b"", 0, b""), put_doc(b"e", 0, b"")],
            indexes: vec![put_entry(0, b"", b""), put_entry(0, b"k", b"e")],
            log: Vec::new(),
        }],
        "write of empty values",
    )
    .await;
    assert_eq!(get(&p, b"").await, Some(stored(0, b"")), "an empty id with an empty body exists");
    assert_eq!(get(&p, b"e").await, Some(stored(0, b"")), "an empty body reads back empty");
    let entries = scan(&p, 0, &KeyRange::all(), Order::Asc, 10).await;
    assert_eq!(
        entries,
        vec![
            IndexEntry { key: Vec::new(), id: Vec::new(), document: stored(0, b"") },
            IndexEntry { key: b"k".to_vec(), id: b"e".to_vec(), document: stored(0, b"") },
        ],
        "an empty key and an empty id are ordinary values"
    );
    assert_eq!(all_log(&p).await, vec![LogRecord { ts: Timestamp(1), log: Vec::new() }], "an empty log record");
    ok(p.put_meta(vec![("empty".to_owned(), Some(Vec::new()))]).await, "put_meta");
    assert_eq!(ok(p.get_meta("empty").await, "get_meta"), Some(Vec::new()), "an empty meta value is not missing");
}

/// A batch whose later commit is not monotonic writes nothing at all, not even its valid first commit.
pub async fn batch_is_atomic(p: DynPersistence) {
    let first = commit(10, vec![put_doc(b"a", 1, b"A")], vec![put_entry(1, b"ka", b"a")]);
    let result = p.write(vec![first.clone(), commit(10, vec![put_doc(b"b", 1, b"B")], Vec::new())]).await;
    assert_non_monotonic(result, 10, "a batch repeating a ts");
    let result = p.write(vec![first.clone(), commit(5, vec![put_doc(b"b", 1, b"B")], Vec::new())]).await;
    assert_non_monotonic(result, 5, "a batch going back in time");
    assert_eq!(ok(p.max_ts().await, "max_ts"), None, "a rejected batch must not advance max_ts");
    assert_eq!(get(&p, b"a").await, None, "a rejected batch must not write its first commit's documents");
    assert!(scan(&p, 1, &KeyRange::all(), Order::Asc, 10).await.is_empty(), "nor its index entries");
    assert!(all_log(&p).await.is_empty(), "nor its log records");
    assert_eq!(ok(p.snapshot().await, "snapshot").ts(), Timestamp(0), "nor move the snapshot ts");

    write(&p, vec![commit(20, vec![put_doc(b"base", 1, b"base")], Vec::new())], "valid write").await;
    let result = p
        .write(vec![
            commit(30, vec![put_doc(b"base", 1, b"changed"), put_doc(b"c", 1, b"C")], vec![put_entry(1, b"kc", b"c")]),
            commit(40, vec![put_doc(b"d", 1, b"D")], Vec::new()),
            commit(35, vec![put_doc(b"e", 1, b"E")], Vec::new()),
        ])
        .await;
    assert_non_monotonic(result, 35, "the third commit of a batch goes back in time");
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(20)), "max_ts stays at the last accepted commit");
    assert_eq!(get(&p, b"base").await, Some(stored(1, b"base")), "an overwrite in a rejected batch is not applied");
    assert_eq!(get(&p, b"c").await, None, "an insert in a rejected batch is not applied");
    assert_eq!(get(&p, b"d").await, None, "nor one in its valid middle commit");
    assert!(scan(&p, 1, &KeyRange::all(), Order::Asc, 10).await.is_empty(), "no index entry from a rejected batch");
    assert_eq!(log_timestamps(&all_log(&p).await), vec![20], "no log record from a rejected batch");

    write(&p, vec![commit(21, Vec::new(), Vec::new()), commit(22, Vec::new(), Vec::new())], "valid batch").await;
    assert_eq!(log_timestamps(&all_log(&p).await), vec![20, 21, 22], "a valid batch logs every commit in order");
}

/// Every commit's ts must exceed every stored ts, across separate writes.
pub async fn timestamps_are_monotonic_across_writes(p: DynPersistence) {
    write(&p, vec![commit(100, vec![put_doc(b"a", 1, b"A")], Vec::new())], "first write").await;
    assert_non_monotonic(p.write(vec![commit(100, Vec::new(), Vec::new())]).await, 100, "a repeated ts");
    assert_non_monotonic(p.write(vec![commit(99, Vec::new(), Vec::new())]).await, 99, "an earlier ts");
    assert_non_monotonic(p.write(vec![commit(0, Vec::new(), Vec::new())]).await, 0, "ts 0 after commits");
    write(&p, vec![commit(101, Vec::new(), Vec::new())], "the next ts").await;
    write(&p, vec![commit(1_000_000, Vec::new(), Vec::new())], "a gap in timestamps").await;
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(1_000_000)), "max_ts follows the latest commit");

    // Pruning the log does not let an old ts back in.
    ok(p.prune_log(Timestamp(u64::MAX)).await, "prune_log");
    assert_non_monotonic(p.write(vec![commit(500, Vec::new(), Vec::new())]).await, 500, "a ts below a pruned max");
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(1_000_000)), "pruning keeps max_ts");
}

/// A snapshot never observes later writes, deletes, index changes or maintenance; a new snapshot does.
pub async fn snapshot_isolation(p: DynPersistence) {
    write(
        &p,
        vec![commit(
            1,
            vec![put_doc(b"a", 1, b"A1"), put_doc(b"b", 1, b"B1")],
            vec![put_entry(1, b"ka", b"a"), put_entry(1, b"kb", b"b"), put_entry(2, b"x", b"a")],
        )],
        "initial write",
    )
    .await;
    let old = ok(p.snapshot().await, "old snapshot");
    let old_entries = ok(old.scan(1, &KeyRange::all(), Order::Asc, 10).await, "scan");

    // Holding `old` must not block any of these.
    write(
        &p,
        vec![commit(
            2,
            vec![put_doc(b"a", 1, b"A2"), delete_doc(b"b", 1), put_doc(b"c", 1, b"C2")],
            vec![delete_entry(1, b"kb"), put_entry(1, b"kc", b"c"), put_entry(1, b"ka", b"c")],
        )],
        "second write while a snapshot is open",
    )
    .await;
    ok(p.clear_index(2).await, "clear_index while a snapshot is open");
    ok(p.backfill_index(vec![put_entry(3, b"y", b"a")]).await, "backfill while a snapshot is open");
    ok(p.prune_log(Timestamp(2)).await, "prune_log while a snapshot is open");

    assert_eq!(old.ts(), Timestamp(1), "an old snapshot keeps its ts");
    assert_eq!(ok(old.get(b"a").await, "get"), Some(stored(1, b"A1")), "an old snapshot sees the old body");
    assert_eq!(ok(old.get(b"b").await, "get"), Some(stored(1, b"B1")), "an old snapshot sees a later-deleted doc");
    assert_eq!(ok(old.get(b"c").await, "get"), None, "an old snapshot does not see a later insert");
    assert_eq!(
        ok(old.scan(1, &KeyRange::all(), Order::Asc, 10).await, "scan"),
        old_entries,
        "an old snapshot's scan is unchanged by later index writes"
    );
    assert_eq!(
        old_entries,
        vec![
            IndexEntry { key: b"ka".to_vec(), id: b"a".to_vec(), document: stored(1, b"A1") },
            IndexEntry { key: b"kb".to_vec(), id: b"b".to_vec(), document: stored(1, b"B1") },
        ],
        "the old snapshot's entries"
    );
    assert_eq!(
        ok(old.scan(2, &KeyRange::all(), Order::Asc, 10).await, "scan").len(),
        1,
        "an old snapshot still sees an index cleared after it was taken"
    );
    assert!(
        ok(old.scan(3, &KeyRange::all(), Order::Asc, 10).await, "scan").is_empty(),
        "an old snapshot does not see a later backfill"
    );

    let new = ok(p.snapshot().await, "new snapshot");
    assert_eq!(new.ts(), Timestamp(2), "a new snapshot is at the latest commit");
    assert_eq!(ok(new.get(b"a").await, "get"), Some(stored(1, b"A2")), "a new snapshot sees the update");
    assert_eq!(ok(new.get(b"b").await, "get"), None, "a new snapshot sees the delete");
    assert_eq!(ok(new.get(b"c").await, "get"), Some(stored(1, b"C2")), "a new snapshot sees the insert");
    assert_eq!(
        ok(new.scan(1, &KeyRange::all(), Order::Asc, 10).await, "scan"),
        vec![
            IndexEntry { key: b"ka".to_vec(), id: b"c".to_vec(), document: stored(1, b"C2") },
            IndexEntry { key: b"kc".to_vec(), id: b"c".to_vec(), document: stored(1, b"C2") },
        ],
        "a new snapshot sees the index changes"
    );
    assert!(ok(new.scan(2, &KeyRange::all(), Order::Asc, 10).await, "scan").is_empty(), "the cleared index");
    assert_eq!(ok(new.scan(3, &KeyRange::all(), Order::Asc, 10).await, "scan").len(), 1, "the backfilled index");

    // Both stay usable side by side, and dropping the old one does not disturb the new one.
    drop(old);
    assert_eq!(new.ts(), Timestamp(2), "dropping another snapshot does not move this one");
    assert_eq!(ok(new.get(b"a").await, "get"), Some(stored(1, b"A2")), "the new snapshot after the drop");
}

/// `log_after` returns records with `ts > after`, oldest first, at most `limit`.
pub async fn log_after_order_exclusivity_and_limit(p: DynPersistence) {
    write(&p, vec![commit(10, Vec::new(), Vec::new()), commit(20, Vec::new(), Vec::new())], "first batch").await;
    write(&p, vec![commit(30, Vec::new(), Vec::new())], "second write").await;
    write(&p, vec![commit(40, vec![put_doc(b"a", 1, b"A")], Vec::new())], "third write").await;

    let all = all_log(&p).await;
    assert_eq!(
        all,
        [10, 20, 30, 40].map(|ts| LogRecord { ts: Timestamp(ts), log: format!("log@{ts}").into_bytes() }).to_vec(),
        "every record with its bytes, oldest first"
    );
    let cases: [(u64, usize, &[u64]); 9] = [
        (0, 100, &[10, 20, 30, 40]),
        (9, 100, &[10, 20, 30, 40]),
        (10, 100, &[20, 30, 40]),
        (15, 1, &[20]),
        (20, 100, &[30, 40]),
        (0, 2, &[10, 20]),
        (40, 100, &[]),
        (u64::MAX, 100, &[]),
        (0, 0, &[]),
    ];
    for (after, limit, expected) in cases {
        let records = ok(p.log_after(Timestamp(after), limit).await, "log_after");
        assert_eq!(log_timestamps(&records), expected.to_vec(), "log_after({after}, limit {limit})");
    }
}

/// `prune_log(before)` removes records with `ts < before` but always keeps the latest; data is untouched.
pub async fn prune_log_keeps_latest(p: DynPersistence) {
    let commits = [10, 20, 30, 40, 50]
        .map(|ts| commit(ts, vec![put_doc(format!("d{ts}").as_bytes(), 1, b"x")], Vec::new()))
        .to_vec();
    write(&p, commits, "five commits").await;

    ok(p.prune_log(Timestamp(10)).await, "prune_log(10)");
    assert_eq!(log_timestamps(&all_log(&p).await), vec![10, 20, 30, 40, 50], "nothing is below 10");
    ok(p.prune_log(Timestamp(30)).await, "prune_log(30)");
    assert_eq!(log_timestamps(&all_log(&p).await), vec![30, 40, 50], "records below 30 are gone, 30 stays");
    ok(p.prune_log(Timestamp(45)).await, "prune_log(45)");
    assert_eq!(log_timestamps(&all_log(&p).await), vec![50], "records below 45 are gone");
    ok(p.prune_log(Timestamp(1000)).await, "prune_log(1000)");
    assert_eq!(
        all_log(&p).await,
        vec![LogRecord { ts: Timestamp(50), log: b"log@50".to_vec() }],
        "the latest record is kept even when it is below `before`"
    );
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(50)), "pruning keeps max_ts");
    assert_eq!(ok(p.snapshot().await, "snapshot").ts(), Timestamp(50), "pruning keeps the snapshot ts");
    for ts in [10, 20, 30, 40, 50] {
        assert!(get(&p, format!("d{ts}").as_bytes()).await.is_some(), "pruning must not touch document d{ts}");
    }

    write(&p, vec![commit(60, Vec::new(), Vec::new())], "write after pruning").await;
    assert_eq!(log_timestamps(&all_log(&p).await), vec![50, 60], "the log continues after pruning");
}

/// Metadata: set, overwrite, delete, and list by exact prefix in bytewise key order.
pub async fn meta_put_get_list_delete(p: DynPersistence) {
    let entries = ["a", "ab", "ab/x", "abc", "a%", "a_", "aa", "ac", "b", "z", "é", ""]
        .map(|key| (key.to_owned(), Some(format!("v:{key}").into_bytes())))
        .to_vec();
    ok(p.put_meta(entries).await, "put_meta");
    assert_eq!(ok(p.get_meta("ab").await, "get_meta"), Some(b"v:ab".to_vec()), "get_meta(ab)");
    assert_eq!(ok(p.get_meta("").await, "get_meta"), Some(b"v:".to_vec()), "an empty key is an ordinary key");
    assert_eq!(ok(p.get_meta("abd").await, "get_meta"), None, "a missing key");

    let list = |prefix: &'static str| {
        let p = Arc::clone(&p);
        async move {
            ok(p.list_meta(prefix).await, &format!("list_meta({prefix:?})"))
                .into_iter()
                .map(|(key, _)| key)
                .collect::<Vec<String>>()
        }
    };
    let expected: [(&str, &[&str]); 9] = [
        ("ab", &["ab", "ab/x", "abc"]),
        ("a", &["a", "a%", "a_", "aa", "ab", "ab/x", "abc", "ac"]),
        ("a%", &["a%"]),
        ("a_", &["a_"]),
        ("abc", &["abc"]),
        ("abcd", &[]),
        ("c", &[]),
        ("é", &["é"]),
        ("", &["", "a", "a%", "a_", "aa", "ab", "ab/x", "abc", "ac", "b", "z", "é"]),
    ];
    for (prefix, keys) in expected {
        let listed: Vec<String> = list(prefix).await;
        assert_eq!(listed, keys.to_vec(), "list_meta({prefix:?}) returns exactly the keys starting with it, in order");
    }
    let values = ok(p.list_meta("ab/").await, "list_meta");
    assert_eq!(values, vec![("ab/x".to_owned(), b"v:ab/x".to_vec())], "list_meta returns values too");

    ok(
        p.put_meta(vec![
            ("ab".to_owned(), Some(b"new".to_vec())),
            ("abc".to_owned(), None),
            ("never".to_owned(), None),
            ("twice".to_owned(), Some(b"1".to_vec())),
            ("twice".to_owned(), Some(b"2".to_vec())),
        ])
        .await,
        "put_meta with updates and deletes",
    );
    assert_eq!(ok(p.get_meta("ab").await, "get_meta"), Some(b"new".to_vec()), "an overwritten value");
    assert_eq!(ok(p.get_meta("abc").await, "get_meta"), None, "a deleted value");
    assert_eq!(ok(p.get_meta("never").await, "get_meta"), None, "deleting a missing key is a no-op");
    assert_eq!(ok(p.get_meta("twice").await, "get_meta"), Some(b"2".to_vec()), "the later entry of a batch wins");
    let listed: Vec<String> = list("ab").await;
    assert_eq!(listed, vec!["ab".to_owned(), "ab/x".to_owned()], "list_meta after a delete");

    assert_eq!(ok(p.max_ts().await, "max_ts"), None, "metadata writes are not commits");
    assert!(all_log(&p).await.is_empty(), "metadata writes are not logged");
}

/// `clear_index` removes one index's entries and nothing else.
pub async fn clear_index_touches_only_that_index(p: DynPersistence) {
    write(
        &p,
        vec![commit(
            7,
            vec![put_doc(b"a", 1, b"A"), put_doc(b"b", 1, b"B")],
            vec![
                put_entry(1, b"k1", b"a"),
                put_entry(1, b"k2", b"b"),
                put_entry(2, b"k1", b"a"),
                put_entry(0, b"k1", b"b"),
                put_entry(IndexId::MAX, b"k1", b"b"),
            ],
        )],
        "write to several indexes",
    )
    .await;
    ok(p.clear_index(1).await, "clear_index(1)");
    assert!(scan(&p, 1, &KeyRange::all(), Order::Asc, 10).await.is_empty(), "the cleared index is empty");
    for index in [0, 2, IndexId::MAX] {
        assert_eq!(scan(&p, index, &KeyRange::all(), Order::Asc, 10).await.len(), 1, "index {index} is untouched");
    }
    assert_eq!(get(&p, b"a").await, Some(stored(1, b"A")), "clear_index leaves documents alone");
    assert_eq!(get(&p, b"b").await, Some(stored(1, b"B")), "clear_index leaves documents alone");
    assert_eq!(log_timestamps(&all_log(&p).await), vec![7], "clear_index writes no log record");
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(7)), "clear_index does not move max_ts");

    ok(p.clear_index(IndexId::MAX).await, "clear_index(MAX)");
    assert!(scan(&p, IndexId::MAX, &KeyRange::all(), Order::Asc, 10).await.is_empty(), "the highest index cleared");
    assert_eq!(scan(&p, 0, &KeyRange::all(), Order::Asc, 10).await.len(), 1, "index 0 is still untouched");

    write(&p, vec![commit(8, Vec::new(), vec![put_entry(1, b"k3", b"a")])], "reuse of a cleared index").await;
    assert_eq!(
        scanned_keys(&p, 1, &KeyRange::all(), Order::Asc, 10).await,
        keys(&[b"k3"]),
        "a cleared index is reusable"
    );
}

/// Backfilled entries are scannable like committed ones, and leave the log and max_ts alone.
pub async fn backfill_index_is_scannable_without_log(p: DynPersistence) {
    write(
        &p,
        vec![commit(3, vec![put_doc(b"a", 1, b"A"), put_doc(b"b", 1, b"B"), put_doc(b"c", 1, b"C")], Vec::new())],
        "documents to backfill from",
    )
    .await;
    ok(
        p.backfill_index(vec![put_entry(4, b"kb", b"b"), put_entry(4, b"ka", b"a"), put_entry(4, b"kc", b"c")]).await,
        "backfill_index",
    );
    let snapshot = ok(p.snapshot().await, "snapshot");
    assert_eq!(snapshot.ts(), Timestamp(3), "a backfill does not create a commit");
    assert_eq!(
        ok(snapshot.scan(4, &KeyRange::all(), Order::Asc, 10).await, "scan"),
        vec![
            IndexEntry { key: b"ka".to_vec(), id: b"a".to_vec(), document: stored(1, b"A") },
            IndexEntry { key: b"kb".to_vec(), id: b"b".to_vec(), document: stored(1, b"B") },
            IndexEntry { key: b"kc".to_vec(), id: b"c".to_vec(), document: stored(1, b"C") },
        ],
        "backfilled entries scan in key order, joined with their documents"
    );
    assert_eq!(log_timestamps(&all_log(&p).await), vec![3], "a backfill writes no log record");
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(3)), "a backfill does not move max_ts");

    // Backfill entries overwrite existing keys and, like commit index writes, `id: None` removes one.
    ok(p.backfill_index(vec![put_entry(4, b"ka", b"c"), delete_entry(4, b"kb")]).await, "second backfill");
    let entries = scan(&p, 4, &KeyRange::all(), Order::Asc, 10).await;
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = entries.into_iter().map(|entry| (entry.key, entry.id)).collect();
    assert_eq!(
        pairs,
        vec![(b"ka".to_vec(), b"c".to_vec()), (b"kc".to_vec(), b"c".to_vec())],
        "a backfill overwrites and removes entries like a commit's index writes"
    );

    // Commits after a backfill maintain the backfilled index as usual.
    write(&p, vec![commit(4, vec![delete_doc(b"c", 1)], vec![delete_entry(4, b"kc")])], "commit after backfill").await;
    assert!(
        scan(&p, 4, &KeyRange::all(), Order::Asc, 10).await.is_empty(),
        "a commit removes backfilled entries (and `ka` now dangles)"
    );
}

const CONCURRENT_COMMITS: u64 = 120;
const CONCURRENT_BASE_TS: u64 = 1_000;
const CONCURRENT_INDEX: IndexId = 11;

fn item_id(i: u64) -> Vec<u8> {
    format!("item-{i:05}").into_bytes()
}

fn item_key(i: u64) -> Vec<u8> {
    // Big-endian so key order is commit order.
    i.to_be_bytes().to_vec()
}

/// Checks one snapshot taken while commits land: its ts, documents and index agree on how many commits it holds.
async fn check_concurrent_snapshot(p: &DynPersistence) -> Timestamp {
    let snapshot = ok(p.snapshot().await, "snapshot during writes");
    let ts = snapshot.ts();
    let seen = match ts {
        Timestamp(0) => 0,
        Timestamp(ts) => ts.checked_sub(CONCURRENT_BASE_TS).unwrap_or(u64::MAX),
    };
    assert!(seen <= CONCURRENT_COMMITS, "snapshot ts {ts:?} is not a commit ts");

    for _ in 0..2 {
        let counter = ok(snapshot.get(b"counter").await, "get counter");
        let expected_counter = (seen > 0).then(|| stored(1, &seen.to_be_bytes()));
        assert_eq!(counter, expected_counter, "the counter document must match the snapshot ts {ts:?}");
        let entries = ok(snapshot.scan(CONCURRENT_INDEX, &KeyRange::all(), Order::Asc, usize::MAX).await, "scan");
        assert_eq!(entries.len() as u64, seen, "a snapshot at {ts:?} must see exactly {seen} index entries");
        for (i, entry) in (0..).zip(&entries) {
            assert_eq!(entry.key, item_key(i), "entry {i} at {ts:?}");
            assert_eq!(entry.id, item_id(i), "entry {i} at {ts:?} points at its document");
            assert_eq!(entry.document, stored(2, &item_key(i)), "entry {i} at {ts:?} joins its document");
        }
        if seen > 0 {
            assert!(ok(snapshot.get(&item_id(seen - 1)).await, "get").is_some(), "the last visible document at {ts:?}");
        }
        assert_eq!(ok(snapshot.get(&item_id(seen)).await, "get"), None, "the next commit's document at {ts:?}");
        assert_eq!(snapshot.ts(), ts, "a snapshot's ts never moves");
        // Let the writer commit between the two passes: the second must see exactly the same.
        tokio::task::yield_now().await;
    }
    ts
}

/// Readers taking snapshots while commits land see every commit whole (document, index entry and ts together)
/// or not at all, and a snapshot does not change while later commits land.
pub async fn concurrent_readers_see_whole_commits(p: DynPersistence) {
    const READERS: usize = 3;
    let done = Arc::new(AtomicBool::new(false));
    let observed = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let (p, done, observed) = (Arc::clone(&p), Arc::clone(&done), Arc::clone(&observed));
        readers.push(tokio::spawn(async move {
            let mut distinct = BTreeSet::new();
            loop {
                let finished = done.load(Ordering::Acquire);
                let ts = check_concurrent_snapshot(&p).await;
                observed.fetch_max(ts.0, Ordering::AcqRel);
                distinct.insert(ts);
                if finished {
                    break distinct;
                }
                tokio::task::yield_now().await;
            }
        }));
    }

    for i in 0..CONCURRENT_COMMITS {
        let ts = CONCURRENT_BASE_TS + i + 1;
        let result = p
            .write(vec![Commit {
                ts: Timestamp(ts),
                documents: vec![put_doc(&item_id(i), 2, &item_key(i)), put_doc(b"counter", 1, &(i + 1).to_be_bytes())],
                indexes: vec![put_entry(CONCURRENT_INDEX, &item_key(i), &item_id(i))],
                log: item_id(i),
            }])
            .await;
        if let Err(error) = result {
            done.store(true, Ordering::Release);
            panic!("concurrent write {i} failed: {error}");
        }
        // Every 10 commits, wait until a reader has seen this one, so readers provably run between commits.
        if i % 10 == 0 {
            while observed.load(Ordering::Acquire) < ts && !readers.iter().any(|reader| reader.is_finished()) {
                tokio::task::yield_now().await;
            }
        }
    }
    done.store(true, Ordering::Release);

    let mut distinct = BTreeSet::new();
    for reader in readers {
        match reader.await {
            Ok(seen) => distinct.extend(seen),
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => panic!("a reader task failed: {error}"),
        }
    }
    assert!(
        distinct.len() as u64 >= CONCURRENT_COMMITS / 10,
        "readers must have observed many intermediate states, saw {}",
        distinct.len()
    );
    assert!(
        distinct.contains(&Timestamp(CONCURRENT_BASE_TS + CONCURRENT_COMMITS)),
        "a snapshot after the last commit sees it"
    );
}

/// `count` distinct deterministic pseudo-random keys of length 0..=6 over an alphabet with 0x00 and 0xFF, in
/// generation order (so they are written unsorted).
fn many_keys(count: usize) -> Vec<Vec<u8>> {
    const ALPHABET: [u8; 6] = [0x00, 0x01, b'a', 0x7f, 0x80, 0xff];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let mut seen = BTreeSet::new();
    let mut keys = Vec::with_capacity(count);
    while keys.len() < count {
        let len = next() % 7;
        let key: Vec<u8> = (0..len).map(|_| ALPHABET[(next() % 6) as usize]).collect();
        if seen.insert(key.clone()) {
            keys.push(key);
        }
    }
    keys
}

/// 2,000 entries paginate completely in both directions, using the last key as the next exclusive bound.
pub async fn many_documents_paginate(p: DynPersistence) {
    const COUNT: usize = 2_000;
    const PAGE: usize = 97;
    let index = 3;
    let keys = many_keys(COUNT);
    assert_eq!(keys.len(), COUNT, "the suite generates {COUNT} distinct keys");
    let id_of = |key: &[u8]| {
        let mut id = b"doc:".to_vec();
        id.extend_from_slice(key);
        id
    };
    let commits = keys
        .chunks(250)
        .zip(1..)
        .map(|(chunk, ts)| {
            commit(
                ts,
                chunk.iter().map(|key| put_doc(&id_of(key), 1, key)).collect(),
                chunk.iter().map(|key| put_entry(index, key, &id_of(key))).collect(),
            )
        })
        .collect();
    write(&p, commits, "a batch of 2,000 documents").await;
    let mut sorted = keys.clone();
    sorted.sort();

    let snapshot = ok(p.snapshot().await, "snapshot");
    let check_page = |page: &[IndexEntry]| {
        for entry in page {
            assert_eq!(entry.id, id_of(&entry.key), "entry {:?} points at its document", entry.key);
            assert_eq!(entry.document, stored(1, &entry.key), "entry {:?} joins its document", entry.key);
        }
    };

    let mut forward = Vec::new();
    let mut start = Vec::new();
    let mut pages = 0;
    loop {
        let page =
            ok(snapshot.scan(index, &KeyRange { start: start.clone(), end: None }, Order::Asc, PAGE).await, "scan");
        check_page(&page);
        pages += 1;
        let Some(last) = page.last() else { break };
        start = last.key.clone();
        start.push(0x00);
        let full = page.len() == PAGE;
        forward.extend(page.into_iter().map(|entry| entry.key));
        if !full {
            break;
        }
        assert!(pages <= COUNT / PAGE + 2, "forward pagination must terminate");
    }
    assert_eq!(forward, sorted, "forward pagination returns every key once, in order");

    let mut backward = Vec::new();
    let mut end = None;
    loop {
        let page = ok(
            snapshot.scan(index, &KeyRange { start: Vec::new(), end: end.clone() }, Order::Desc, PAGE).await,
            "scan",
        );
        check_page(&page);
        let Some(last) = page.last() else { break };
        end = Some(last.key.clone());
        let full = page.len() == PAGE;
        backward.extend(page.into_iter().map(|entry| entry.key));
        if !full {
            break;
        }
        assert!(backward.len() <= COUNT, "backward pagination must terminate");
    }
    sorted.reverse();
    assert_eq!(backward, sorted, "backward pagination (end = last key, exclusive) returns every key once");
    sorted.reverse();

    // A bounded sub-range paginates to exactly its slice.
    let low = sorted[COUNT / 4].clone();
    let high = sorted[COUNT / 2].clone();
    let mut bounded = Vec::new();
    let mut start = low.clone();
    loop {
        let r = KeyRange { start: start.clone(), end: Some(high.clone()) };
        let page = ok(snapshot.scan(index, &r, Order::Asc, PAGE).await, "scan");
        let Some(last) = page.last() else { break };
        start = last.key.clone();
        start.push(0x00);
        let full = page.len() == PAGE;
        bounded.extend(page.into_iter().map(|entry| entry.key));
        if !full {
            break;
        }
    }
    assert_eq!(bounded, sorted[COUNT / 4..COUNT / 2].to_vec(), "pagination of a bounded range returns its slice");

    let all = ok(snapshot.scan(index, &KeyRange::all(), Order::Asc, usize::MAX).await, "scan");
    assert_eq!(all.len(), COUNT, "one unlimited scan returns all {COUNT} entries");
}

/// `write_if_latest` writes only on top of the expected latest commit, else `Conflict` and nothing changes.
pub async fn conditional_writes_check_the_latest_commit(p: DynPersistence) {
    let written = p.write_if_latest(None, vec![commit(10, vec![put_doc(b"a", 1, b"A")], Vec::new())]).await;
    ok(written, "a conditional write on an empty store expecting no commit");
    let stale = p.write_if_latest(None, vec![commit(20, vec![put_doc(b"b", 1, b"B")], Vec::new())]).await;
    assert!(matches!(stale, Err(StorageError::Conflict(_))), "expecting no commit after one landed: {stale:?}");
    let wrong = p.write_if_latest(Some(Timestamp(9)), vec![commit(20, vec![put_doc(b"b", 1, b"B")], Vec::new())]).await;
    assert!(matches!(wrong, Err(StorageError::Conflict(_))), "expecting a commit that is not the latest: {wrong:?}");
    assert_eq!(get(&p, b"b").await, None, "a refused conditional write changed nothing");
    assert_eq!(log_timestamps(&all_log(&p).await), vec![10], "a refused conditional write logged nothing");
    let batch = vec![commit(20, vec![put_doc(b"b", 1, b"B")], Vec::new()), commit(30, Vec::new(), Vec::new())];
    ok(p.write_if_latest(Some(Timestamp(10)), batch).await, "a conditional write on the expected latest commit");
    assert_eq!(get(&p, b"b").await, Some(stored(1, b"B")));
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(30)));
    // The timestamp rule still holds for conditional writes.
    assert_non_monotonic(
        p.write_if_latest(Some(Timestamp(30)), vec![commit(30, Vec::new(), Vec::new())]).await,
        30,
        "a conditional write repeating the latest ts",
    );
}

/// Writers racing on the same expected latest commit (several nodes that checked conflicts against the same
/// history): exactly one lands.
pub async fn concurrent_conditional_writes_admit_one(p: DynPersistence) {
    write(&p, vec![commit(100, Vec::new(), Vec::new())], "base commit").await;
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("racer-{i}").into_bytes();
            p.write_if_latest(Some(Timestamp(100)), vec![commit(200 + i, vec![put_doc(&id, 1, b"x")], Vec::new())])
                .await
        }));
    }
    let mut landed = 0;
    for task in tasks {
        match task.await {
            Ok(Ok(())) => landed += 1,
            Ok(Err(StorageError::Conflict(_) | StorageError::NonMonotonicTimestamp(_))) => {}
            Ok(Err(other)) => panic!("a racing conditional write failed unexpectedly: {other}"),
            Err(join) => panic!("a racing conditional write panicked: {join}"),
        }
    }
    assert_eq!(landed, 1, "exactly one of the writers expecting the same latest commit lands");
    assert_eq!(all_log(&p).await.len(), 2, "the base commit and the one winner are logged");
}

/// `put_meta_if` is a compare-and-set of one metadata value.
pub async fn conditional_meta_is_compare_and_set(p: DynPersistence) {
    assert!(ok(p.put_meta_if("cas", None, Some(b"one".to_vec())).await, "create"), "absent → set");
    assert!(!ok(p.put_meta_if("cas", None, Some(b"other".to_vec())).await, "create again"), "present ≠ absent");
    assert!(!ok(p.put_meta_if("cas", Some(b"two"), Some(b"x".to_vec())).await, "wrong expected"), "one ≠ two");
    assert_eq!(ok(p.get_meta("cas").await, "get_meta"), Some(b"one".to_vec()), "refused sets changed nothing");
    assert!(ok(p.put_meta_if("cas", Some(b"one"), Some(b"two".to_vec())).await, "update"), "one → two");
    assert_eq!(ok(p.get_meta("cas").await, "get_meta"), Some(b"two".to_vec()));
    assert!(ok(p.put_meta_if("cas", Some(b"two"), None).await, "delete"), "two → absent");
    assert_eq!(ok(p.get_meta("cas").await, "get_meta"), None);
}

/// For backends that store timestamps as SQL `bigint` (SQLite, PostgreSQL), not part of [`run_all`]: a batch with a
/// ts above `i64::MAX` is refused as a whole, with an error naming the timestamp.
pub async fn timestamps_above_i64_are_refused(p: &dyn Persistence) {
    let too_large = i64::MAX as u64 + 1;
    match p.write(vec![document_commit(5, b"a", b"alpha"), document_commit(too_large, b"b", b"beta")]).await {
        Err(StorageError::Backend(message)) => assert!(message.contains("timestamp"), "{message}"),
        other => panic!("a ts above i64::MAX must be rejected, got {other:?}"),
    }
    assert_eq!(ok(p.max_ts().await, "max_ts"), None, "the whole batch was rejected");
}

/// Data written, the store closed and opened again at the same location: documents, index entries, metadata and
/// the max commit ts are all there (also after the log was pruned), and timestamps never go backwards. A snapshot
/// still open when its store handle is dropped keeps reading, and does not keep the store from being opened again.
pub async fn data_survives_reopen<B: Backend>(backend: &B) {
    let location = backend.location().await;
    {
        let p = backend.open(&location).await;
        write(&p, vec![document_commit(10, b"a", b"alpha"), document_commit(20, b"b", b"beta")], "the first writes")
            .await;
        ok(p.put_meta(vec![("catalog".to_owned(), Some(b"v1".to_vec()))]).await, "put_meta");
        ok(p.prune_log(Timestamp(u64::MAX)).await, "prune_log");
        let snapshot = ok(p.snapshot().await, "snapshot");
        drop(p);
        assert_eq!(snapshot.ts(), Timestamp(20), "a snapshot outlives its store handle");
        assert_eq!(
            ok(snapshot.get(b"a").await, "get from a snapshot whose store handle was dropped"),
            Some(stored(4, b"alpha")),
            "a snapshot outlives its store handle"
        );
    }

    let p = backend.open(&location).await;
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(20)), "max_ts survives a reopen (and a prune)");
    let snapshot = ok(p.snapshot().await, "snapshot");
    assert_eq!(snapshot.ts(), Timestamp(20));
    assert_eq!(get(&p, b"a").await, Some(stored(4, b"alpha")), "documents survive a reopen");
    assert_eq!(
        scanned_keys(&p, 2, &KeyRange::all(), Order::Asc, 10).await,
        keys(&[b"alpha", b"beta"]),
        "index entries survive a reopen"
    );
    assert_eq!(ok(p.get_meta("catalog").await, "get_meta"), Some(b"v1".to_vec()), "metadata survives a reopen");

    for ts in [20, 19, 1] {
        assert_non_monotonic(
            p.write(vec![document_commit(ts, b"c", b"gamma")]).await,
            ts,
            "a ts not after the max before the reopen",
        );
    }
    write(&p, vec![document_commit(21, b"c", b"gamma")], "the next ts after a reopen").await;
    assert_eq!(ok(p.max_ts().await, "max_ts"), Some(Timestamp(21)));
    drop((snapshot, p));
    drop(location);
}
