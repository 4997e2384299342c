//! The pagination contract. The random-interleaving tests are property tests on a seeded generator (no extra
//! dependency): inserts, deletes, page loads, splits and re-executions of only the pages a commit invalidated (as
//! the sync worker does) in any order, asc and desc, over an index range and with a filter — after every step the
//! pages, in order, are exactly the query's current result (a prefix of it while more can be loaded), with no
//! duplicates.

use crate::*;
use database::{Database, DatabaseConfig, ManualClock, ReadSet, Schema, SeededEntropy, TableDefinition, Timestamp};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use value::{obj, Value};

async fn runtime(app: App) -> Arc<Runtime> {
    let config = DatabaseConfig::new(
        app.schema_ref().clone(),
        Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
        Arc::new(SeededEntropy::new(7)),
    );
    let db = Database::open(test_support::test_persistence().await, config).await.unwrap();
    Runtime::new(db, app, BTreeMap::new()).unwrap()
}

/// The query a test paginates: `kind` is `all` (by creation time), `group` (index range `group = "a"`) or
/// `filtered` (every item whose `n` is not a multiple of 3).
fn query_of(ctx: &QueryCtx, args: &Value) -> QueryBuilder {
    let kind = args.get("kind").and_then(|v| v.as_str()).unwrap_or("all").to_string();
    let desc = args.get("desc") == Some(&Value::Boolean(true));
    let q = match kind.as_str() {
        "group" => ctx.db.query("items").with_index("by_group", |q| q.eq("group", "a")),
        _ => ctx.db.query("items"),
    };
    let q = if kind == "filtered" {
        q.filter(|d| d.get("n").and_then(|v| v.as_f64()).is_some_and(|n| (n as i64) % 3 != 0))
    } else {
        q
    };
    q.order(if desc { Order::Desc } else { Order::Asc })
}

fn app() -> App {
    let mut app = App::new();
    app.schema(Schema::new().table("items", TableDefinition::new().index("by_group", &["group"])));
    app.query("items:page", |ctx: QueryCtx, args: Value| async move {
        let opts = pagination_opts_of(&args)?;
        query_of(&ctx, &args).paginate(opts).await
    });
    app.query("items:twoPages", |ctx: QueryCtx, args: Value| async move {
        let opts = pagination_opts_of(&args)?;
        let first = query_of(&ctx, &args).paginate(opts.clone()).await?;
        let second = ctx.db.query("items").paginate(opts).await?;
        Ok(obj! {"first" => value::to_value(&first)?, "second" => value::to_value(&second)?})
    });
    app.query("items:collect", |ctx: QueryCtx, args: Value| async move { query_of(&ctx, &args).collect().await });
    app.mutation("items:insert", |ctx: MutationCtx, args: Value| async move {
        Ok(ctx.db.insert("items", args).await?.to_string())
    });
    app.mutation("items:delete", |ctx: MutationCtx, args: Value| async move {
        let id = args.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        ctx.db.delete(&id).await
    });
    app
}

/// xorshift64*: a small seeded generator, so every failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn mutate(rt: &Arc<Runtime>, path: &str, args: Value) -> Value {
    rt.run(path, args, Caller::public(None), Some(FunctionKind::Mutation)).await.result.unwrap()
}

async fn query(rt: &Arc<Runtime>, path: &str, args: Value) -> Result<Value, FunctionFailure> {
    rt.run(path, args, Caller::public(None), Some(FunctionKind::Query)).await.result
}

fn ids_of(page: &Value) -> Vec<String> {
    page.as_array().unwrap().iter().map(|d| d.get("_id").and_then(|v| v.as_str()).unwrap().to_string()).collect()
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(|v| v.as_str()).map(str::to_string)
}

/// One subscribed page, as a client holds it.
struct Page {
    cursor: Option<String>,
    end_cursor: Option<String>,
    num_items: usize,
    journal: Option<String>,
    reads: Option<ReadSet>,
    ran_at: Timestamp,
    ids: Vec<String>,
    is_done: bool,
    continue_cursor: String,
    split_cursor: Option<String>,
}

struct Model {
    rt: Arc<Runtime>,
    kind: &'static str,
    desc: bool,
    pages: Vec<Page>,
}

impl Model {
    fn args(&self, page: &Page) -> Value {
        let mut opts = obj! {"numItems" => page.num_items as f64, "cursor" => page.cursor.clone().map_or(Value::Null, Value::from)};
        if let (Value::Object(o), Some(end)) = (&mut opts, &page.end_cursor) {
            o.insert("endCursor".into(), Value::from(end.clone()));
        }
        obj! {"kind" => self.kind, "desc" => self.desc, "paginationOpts" => opts}
    }

    /// Executes page `i` the way the sync worker does: in a read view, with its journal.
    async fn run(&mut self, i: usize) {
        let view = self.rt.database().read_view().await.unwrap();
        let args = self.args(&self.pages[i]);
        let journal = self.pages[i].journal.clone();
        let outcome =
            self.rt.run_subscribed_query(&view, "items:page", args, Caller::public(None), journal.as_deref()).await;
        let value = outcome.result.unwrap_or_else(|f| panic!("page {i} failed: {}", f.message));
        let page = &mut self.pages[i];
        if journal.is_some() {
            assert_eq!(outcome.journal, journal, "a re-execution keeps its journal");
            assert_eq!(text(value.get("continueCursor")), Some(page.continue_cursor.clone()), "the end never moves");
        }
        page.journal = outcome.journal;
        page.reads = outcome.reads;
        page.ran_at = view.ts();
        page.ids = ids_of(value.get("page").unwrap());
        page.is_done = value.get("isDone") == Some(&Value::Boolean(true));
        page.continue_cursor = text(value.get("continueCursor")).unwrap();
        page.split_cursor = text(value.get("splitCursor"));
    }

    fn new_page(cursor: Option<String>, end_cursor: Option<String>, num_items: usize) -> Page {
        Page {
            cursor,
            end_cursor,
            num_items,
            journal: None,
            reads: None,
            ran_at: Timestamp::default(),
            ids: Vec::new(),
            is_done: false,
            continue_cursor: String::new(),
            split_cursor: None,
        }
    }

    /// Re-runs exactly the pages a commit since their execution wrote into.
    async fn rerun_invalidated(&mut self) {
        for i in 0..self.pages.len() {
            let page = &self.pages[i];
            let commits = self.rt.database().commits_since(page.ran_at).unwrap();
            if commits.iter().any(|c| c.writes.overlaps(page.reads.as_ref().unwrap())) {
                self.run(i).await;
            }
        }
    }

    async fn check(&self, step: &str) {
        let expected =
            ids_of(&query(&self.rt, "items:collect", obj! {"kind" => self.kind, "desc" => self.desc}).await.unwrap());
        let shown: Vec<String> = self.pages.iter().flat_map(|p| p.ids.iter().cloned()).collect();
        let unique: HashSet<&String> = shown.iter().collect();
        assert_eq!(unique.len(), shown.len(), "{step}: an item shown twice: {shown:?}");
        if self.pages.last().is_some_and(|p| p.is_done) {
            assert_eq!(shown, expected, "{step}: the pages are not the whole result");
        } else {
            assert_eq!(shown[..], expected[..shown.len().min(expected.len())], "{step}: the pages are not a prefix");
        }
        for page in &self.pages[..self.pages.len().saturating_sub(1)] {
            assert!(!page.is_done, "{step}: only the last page may be done");
        }
    }
}

/// Runs one random interleaving; returns how many pages were loaded and split.
async fn random_interleaving(seed: u64, kind: &'static str, desc: bool) -> (usize, usize) {
    let rt = runtime(app()).await;
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut live: Vec<String> = Vec::new();
    for _ in 0..rng.below(12) {
        let group = if rng.below(2) == 0 { "a" } else { "b" };
        let id = mutate(&rt, "items:insert", obj! {"group" => group, "n" => rng.below(100) as f64}).await;
        live.push(id.as_str().unwrap().to_string());
    }
    let mut model = Model { rt: rt.clone(), kind, desc, pages: Vec::new() };
    let (mut loads, mut splits) = (0, 0);
    model.pages.push(Model::new_page(None, None, 1 + rng.below(3) as usize));
    model.run(0).await;
    model.check("first page").await;
    for step in 0..60 {
        let label = format!("seed {seed} {kind} desc={desc} step {step}");
        match rng.below(10) {
            0..=3 => {
                let group = if rng.below(2) == 0 { "a" } else { "b" };
                let id = mutate(&rt, "items:insert", obj! {"group" => group, "n" => rng.below(100) as f64}).await;
                live.push(id.as_str().unwrap().to_string());
            }
            4..=5 if !live.is_empty() => {
                let id = live.swap_remove(rng.below(live.len() as u64) as usize);
                mutate(&rt, "items:delete", obj! {"id" => id}).await;
            }
            6..=7 => {
                let last = model.pages.last().unwrap();
                if !last.is_done {
                    let page = Model::new_page(Some(last.continue_cursor.clone()), None, 1 + rng.below(3) as usize);
                    model.pages.push(page);
                    let i = model.pages.len() - 1;
                    model.run(i).await;
                    loads += 1;
                }
            }
            _ => {
                // Split the first page that offers a split, as usePaginatedQuery does.
                if let Some(i) = model.pages.iter().position(|p| p.split_cursor.is_some()) {
                    let page = &model.pages[i];
                    let split = page.split_cursor.clone();
                    let first = Model::new_page(page.cursor.clone(), split.clone(), page.num_items);
                    let second = Model::new_page(split, Some(page.continue_cursor.clone()), page.num_items);
                    let (was_done, old_ids) = (page.is_done, page.ids.clone());
                    model.pages.splice(i..=i, [first, second]);
                    model.run(i).await;
                    model.run(i + 1).await;
                    splits += 1;
                    let halves: Vec<String> =
                        model.pages[i].ids.iter().chain(&model.pages[i + 1].ids).cloned().collect();
                    assert_eq!(halves, old_ids, "{label}: the halves of a split are the page");
                    assert!(!model.pages[i].is_done);
                    assert_eq!(model.pages[i + 1].is_done, was_done);
                }
            }
        }
        model.rerun_invalidated().await;
        model.check(&label).await;
    }
    (loads, splits)
}

/// Runs every seed both ways and checks the runs did load and split pages.
async fn random_interleavings(seeds: std::ops::Range<u64>, kind: &'static str) {
    let (mut loads, mut splits) = (0, 0);
    for seed in seeds {
        for desc in [false, true] {
            let (l, s) = random_interleaving(seed, kind, desc).await;
            loads += l;
            splits += s;
        }
    }
    assert!(loads > 20 && splits > 5, "the runs exercised too little: {loads} loads, {splits} splits");
}

#[tokio::test]
async fn random_interleavings_keep_pages_gapless_by_creation_time() {
    random_interleavings(0..12, "all").await;
}

#[tokio::test]
async fn random_interleavings_keep_pages_gapless_on_an_index_range() {
    random_interleavings(100..112, "group").await;
}

#[tokio::test]
async fn random_interleavings_keep_pages_gapless_with_a_filter() {
    random_interleavings(200..212, "filtered").await;
}

/// Without journals (the HTTP API, `ConvexHttpClient`): `numItems` rules; walking the cursors at one state lists
/// the result exactly once; with writes between the calls, nothing is listed twice and order holds.
#[tokio::test]
async fn one_shot_pages_walk_the_result_without_journals() {
    let rt = runtime(app()).await;
    let mut rng = Rng(99);
    for i in 0..23 {
        mutate(&rt, "items:insert", obj! {"group" => "a", "n" => i as f64}).await;
    }
    for desc in [false, true] {
        let expected = ids_of(&query(&rt, "items:collect", obj! {"kind" => "all", "desc" => desc}).await.unwrap());
        let mut cursor = Value::Null;
        let mut seen = Vec::new();
        loop {
            let opts = obj! {"numItems" => 5.0, "cursor" => cursor.clone()};
            let page = query(&rt, "items:page", obj! {"desc" => desc, "paginationOpts" => opts}).await.unwrap();
            let ids = ids_of(page.get("page").unwrap());
            assert!(ids.len() <= 5);
            seen.extend(ids);
            cursor = page.get("continueCursor").cloned().unwrap();
            assert!(cursor.as_str().is_some(), "continueCursor is a string, also when done");
            if page.get("isDone") == Some(&Value::Boolean(true)) {
                break;
            }
        }
        assert_eq!(seen, expected);
    }
    // Writes between calls: no duplicates, still in order.
    let mut cursor = Value::Null;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let opts = obj! {"numItems" => 3.0, "cursor" => cursor.clone()};
        let page = query(&rt, "items:page", obj! {"paginationOpts" => opts}).await.unwrap();
        seen.extend(ids_of(page.get("page").unwrap()));
        if page.get("isDone") == Some(&Value::Boolean(true)) {
            break;
        }
        cursor = page.get("continueCursor").cloned().unwrap();
        mutate(&rt, "items:insert", obj! {"group" => "b", "n" => rng.below(50) as f64}).await;
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
    let all = ids_of(&query(&rt, "items:collect", obj! {"kind" => "all"}).await.unwrap());
    let positions: Vec<usize> = seen.iter().map(|id| all.iter().position(|x| x == id).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "pages stay in query order");
}

fn is_invalid_cursor(failure: &FunctionFailure) -> bool {
    failure.message.contains("InvalidCursor")
        && failure.data.as_ref().and_then(|d| d.get("paginationError")) == Some(&Value::from("InvalidCursor"))
        && failure.data.as_ref().and_then(|d| d.get("isConvexSystemError")) == Some(&Value::Boolean(true))
}

/// A cursor (or journal) of another query — another index, range, order or table — is refused with InvalidCursor.
#[tokio::test]
async fn cursors_are_bound_to_their_query() {
    let rt = runtime(app()).await;
    for i in 0..6 {
        mutate(&rt, "items:insert", obj! {"group" => "a", "n" => i as f64}).await;
    }
    let first = |kind: &str, desc: bool| obj! {"kind" => kind, "desc" => desc, "paginationOpts" => obj! {"numItems" => 2.0, "cursor" => Value::Null}};
    let page = query(&rt, "items:page", first("all", false)).await.unwrap();
    let cursor = page.get("continueCursor").cloned().unwrap();
    // The same query accepts it, also as an end cursor.
    let again = obj! {"kind" => "all", "paginationOpts" => obj! {"numItems" => 2.0, "cursor" => Value::Null, "endCursor" => cursor.clone()}};
    assert_eq!(ids_of(query(&rt, "items:page", again).await.unwrap().get("page").unwrap()).len(), 2);
    for (kind, desc) in [("all", true), ("group", false), ("filtered", true)] {
        if kind == "filtered" && !desc {
            continue;
        }
        let args = obj! {"kind" => kind, "desc" => desc, "paginationOpts" => obj! {"numItems" => 2.0, "cursor" => cursor.clone()}};
        let failure = query(&rt, "items:page", args).await.unwrap_err();
        assert!(is_invalid_cursor(&failure), "{kind} desc={desc}: {failure:?}");
    }
    for junk in ["", "!!", "AQ", "not a cursor at all"] {
        let args = obj! {"paginationOpts" => obj! {"numItems" => 2.0, "cursor" => junk}};
        let failure = query(&rt, "items:page", args).await.unwrap_err();
        assert!(is_invalid_cursor(&failure), "{junk:?}: {failure:?}");
    }
    // A journal made by one query does not fit another.
    let view = rt.database().read_view().await.unwrap();
    let outcome = rt.run_subscribed_query(&view, "items:page", first("all", false), Caller::public(None), None).await;
    let journal = outcome.journal.unwrap();
    let other =
        rt.run_subscribed_query(&view, "items:page", first("group", false), Caller::public(None), Some(&journal)).await;
    assert!(is_invalid_cursor(&other.result.unwrap_err()));
    assert_eq!(other.journal.as_deref(), Some(journal.as_str()), "a failed query keeps its journal");
    let garbage =
        rt.run_subscribed_query(&view, "items:page", first("all", false), Caller::public(None), Some("{")).await;
    assert!(is_invalid_cursor(&garbage.result.unwrap_err()));
}

/// The journal holds one end per `paginate` call, in call order; a query that does not paginate has none.
#[tokio::test]
async fn the_journal_has_one_end_per_paginate_call() {
    let rt = runtime(app()).await;
    for i in 0..5 {
        mutate(&rt, "items:insert", obj! {"group" => "a", "n" => i as f64}).await;
    }
    let view = rt.database().read_view().await.unwrap();
    let args = obj! {"kind" => "group", "paginationOpts" => obj! {"numItems" => 2.0, "cursor" => Value::Null}};
    let first = rt.run_subscribed_query(&view, "items:twoPages", args.clone(), Caller::public(None), None).await;
    let journal = first.journal.clone().unwrap();
    let ends: Vec<String> = serde_json::from_str(&journal).unwrap();
    assert_eq!(ends.len(), 2);
    let value = first.result.unwrap();
    assert_eq!(text(value.get("first").and_then(|p| p.get("continueCursor"))), Some(ends[0].clone()));
    assert_eq!(text(value.get("second").and_then(|p| p.get("continueCursor"))), Some(ends[1].clone()));
    // New items inside both pages' ranges join them on re-execution with the journal; the ends stay.
    mutate(&rt, "items:insert", obj! {"group" => "a", "n" => 0.5}).await;
    let view = rt.database().read_view().await.unwrap();
    let again = rt.run_subscribed_query(&view, "items:twoPages", args, Caller::public(None), Some(&journal)).await;
    assert_eq!(again.journal.as_deref(), Some(journal.as_str()));
    let none = rt.run_subscribed_query(&view, "items:collect", obj! {}, Caller::public(None), None).await;
    assert_eq!(none.journal, None);
}

/// The last page of a first execution ends at "end of results": rows appended later join it.
#[tokio::test]
async fn rows_appended_after_the_last_page_join_it() {
    let rt = runtime(app()).await;
    for i in 0..3 {
        mutate(&rt, "items:insert", obj! {"group" => "a", "n" => i as f64}).await;
    }
    let args = obj! {"paginationOpts" => obj! {"numItems" => 10.0, "cursor" => Value::Null}};
    let view = rt.database().read_view().await.unwrap();
    let first = rt.run_subscribed_query(&view, "items:page", args.clone(), Caller::public(None), None).await;
    let value = first.result.unwrap();
    assert_eq!(value.get("isDone"), Some(&Value::Boolean(true)));
    for i in 0..25 {
        mutate(&rt, "items:insert", obj! {"group" => "a", "n" => (10 + i) as f64}).await;
    }
    let view = rt.database().read_view().await.unwrap();
    let journal = first.journal.as_deref();
    let grown = rt.run_subscribed_query(&view, "items:page", args, Caller::public(None), journal).await.result.unwrap();
    assert_eq!(ids_of(grown.get("page").unwrap()).len(), 28);
    assert_eq!(grown.get("isDone"), Some(&Value::Boolean(true)));
    // Grown past twice numItems: a split in the middle is offered.
    let split = text(grown.get("splitCursor")).expect("a split cursor");
    let halves = [
        obj! {"paginationOpts" => obj! {"numItems" => 10.0, "cursor" => Value::Null, "endCursor" => split.clone()}},
        obj! {"paginationOpts" => obj! {"numItems" => 10.0, "cursor" => split, "endCursor" => grown.get("continueCursor").cloned().unwrap()}},
    ];
    let first_half = query(&rt, "items:page", halves[0].clone()).await.unwrap();
    let second_half = query(&rt, "items:page", halves[1].clone()).await.unwrap();
    assert_eq!(ids_of(first_half.get("page").unwrap()).len(), 14);
    assert_eq!(ids_of(second_half.get("page").unwrap()).len(), 14);
    assert_eq!(first_half.get("isDone"), Some(&Value::Boolean(false)));
    assert_eq!(second_half.get("isDone"), Some(&Value::Boolean(true)));
}

/// `maximumRowsRead` caps what a page examines: a first execution stops early (still a valid page); a fixed range
/// that needs more is returned incomplete with `pageStatus: "SplitRequired"` and a split cursor where it stopped.
#[tokio::test]
async fn maximum_rows_read_caps_a_page() {
    let rt = runtime(app()).await;
    for i in 0..12 {
        mutate(&rt, "items:insert", obj! {"group" => "a", "n" => i as f64}).await;
    }
    let capped = obj! {"kind" => "filtered", "paginationOpts" => obj! {"numItems" => 5.0, "cursor" => Value::Null, "maximumRowsRead" => 4.0}};
    let page = query(&rt, "items:page", capped).await.unwrap();
    // Rows 0..3 examined; 0 and 3 filtered out.
    assert_eq!(ids_of(page.get("page").unwrap()).len(), 2);
    assert_eq!(page.get("isDone"), Some(&Value::Boolean(false)));
    let all = obj! {"paginationOpts" => obj! {"numItems" => 12.0, "cursor" => Value::Null}};
    let end = query(&rt, "items:page", all).await.unwrap().get("continueCursor").cloned().unwrap();
    let fixed = obj! {"paginationOpts" => obj! {"numItems" => 5.0, "cursor" => Value::Null, "endCursor" => end.clone(), "maximumRowsRead" => 4.0}};
    let page = query(&rt, "items:page", fixed).await.unwrap();
    assert_eq!(ids_of(page.get("page").unwrap()).len(), 4);
    assert_eq!(page.get("pageStatus"), Some(&Value::from("SplitRequired")));
    assert!(text(page.get("splitCursor")).is_some());
    assert_eq!(page.get("continueCursor"), Some(&end));
}
