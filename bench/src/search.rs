//! Search and pagination benchmark (not a test): full-text search queries/s and p99 latency through authvex's
//! function runtime on the embedded SQLite store, beside SQLite's own FTS5 answering the same queries over the same
//! corpus (bm25 order, any word, last word as a prefix, 10 results) in one run; then paginated first-page loads/s
//! (`paginate({numItems: 10})`) beside plain `take(10)`.
//!
//! `cargo run --release -p bench --bin bench-search -- --docs 100000 --queries 2000`

// A measuring harness, not a server: failing loudly on any error is what we want here.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use authvex::internals::{functions, server};
use authvex::{obj, v, App, MutationCtx, Order, QueryCtx, Schema, TableDefinition, Value};
use clap::Parser;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Messages in the corpus.
    #[arg(long, default_value_t = 100_000)]
    docs: usize,
    /// Search queries per side.
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    /// Concurrent searchers.
    #[arg(long, default_value_t = 4)]
    readers: usize,
    /// Words in the vocabulary.
    #[arg(long, default_value_t = 20_000)]
    vocabulary: usize,
    /// Page loads per side.
    #[arg(long, default_value_t = 20_000)]
    pages: usize,
}

fn app() -> App {
    let mut app = App::new();
    app.schema(Schema::new().table(
        "messages",
        TableDefinition::with_fields([("body", v::string())]).search_index("search_body", "body", &[]),
    ));
    app.mutation("messages:sendMany", |ctx: MutationCtx, args: Value| async move {
        for body in args.get("bodies").and_then(|b| b.as_array()).map(<[Value]>::to_vec).unwrap_or_default() {
            ctx.db.insert("messages", obj! {"body" => body}).await?;
        }
        Ok(())
    });
    app.query("messages:search", |ctx: QueryCtx, args: Value| async move {
        let text = args.get("query").and_then(|q| q.as_str()).unwrap_or_default().to_string();
        ctx.db.query("messages").with_search_index("search_body", |q| q.search("body", &text)).take(10).await
    });
    app.query("messages:page", |ctx: QueryCtx, args: Value| async move {
        let opts = authvex::pagination_opts_of(&args)?;
        ctx.db.query("messages").order(Order::Desc).paginate(opts).await
    });
    app.query("messages:take", |ctx: QueryCtx, _: Value| async move {
        ctx.db.query("messages").order(Order::Desc).take(10).await
    });
    app
}

/// Word `i` of the vocabulary (letters only, so both tokenizers see the same words).
fn word(i: usize) -> String {
    let mut n = i + 1;
    let mut w = String::new();
    while n > 0 {
        w.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    format!("w{w}")
}

/// Zipf-like: low word numbers are far more frequent.
fn pick(rng: &mut impl Rng, vocabulary: usize) -> usize {
    let x: f64 = rng.gen();
    ((vocabulary as f64).powf(x) - 1.0) as usize % vocabulary
}

fn corpus(args: &Args) -> Vec<String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    (0..args.docs)
        .map(|_| {
            let len = rng.gen_range(5..20);
            (0..len).map(|_| word(pick(&mut rng, args.vocabulary))).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// Two-word queries, the second typed partially (as a search box is). `rare`: words from the less frequent half of
/// the vocabulary (every query matches far fewer than 1,024 messages, so both engines rank every match); otherwise
/// Zipf-distributed words (many queries match thousands: authvex ranks the first 1,024 it examines, as Convex
/// limits, FTS5 ranks them all).
fn queries(args: &Args, rare: bool) -> Vec<(String, String)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let draw = |rng: &mut rand::rngs::StdRng| {
        if rare {
            word(args.vocabulary / 2 + rng.gen_range(0..args.vocabulary / 2))
        } else {
            word(pick(rng, args.vocabulary) + 50)
        }
    };
    (0..args.queries)
        .map(|_| {
            let a = draw(&mut rng);
            let b = draw(&mut rng);
            let prefix: String = b.chars().take(b.len().max(3) - 1).collect();
            (a, prefix)
        })
        .collect()
}

struct Figures {
    per_s: f64,
    p50: Duration,
    p99: Duration,
    /// Process CPU time (user + system, every thread) per operation.
    cpu_per_op: Duration,
}

/// CPU time this process has used so far (user + system, all threads), from `/proc/self/stat` (Linux; zero
/// elsewhere). Clock ticks are 1/100 s: phases run for seconds, so the error is under a percent.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces): utime and stime are 12 and 13.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn figures(mut latencies: Vec<Duration>, elapsed: Duration, cpu: Duration) -> Figures {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        per_s: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
        cpu_per_op: cpu / latencies.len() as u32,
    }
}

async fn run_parallel(rt: &std::sync::Arc<functions::Runtime>, readers: usize, calls: Vec<(String, Value)>) -> Figures {
    let per = calls.len().div_ceil(readers);
    let (start, cpu) = (Instant::now(), process_cpu());
    let mut tasks = Vec::new();
    for chunk in calls.chunks(per) {
        let (rt, chunk) = (rt.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(chunk.len());
            for (path, args) in chunk {
                let t = Instant::now();
                let out = rt.run(&path, args, functions::Caller::default(), Some(functions::FunctionKind::Query)).await;
                assert!(out.result.is_ok(), "{:?}", out.result);
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("reader"));
    }
    figures(latencies, start.elapsed(), process_cpu() - cpu)
}

async fn bench_authvex(
    args: &Args,
    corpus: &[String],
    queries: &[(String, String)],
    rare: &[(String, String)],
) -> (Figures, Figures, Figures, Figures) {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = server::start(app(), server::ServerConfig::sqlite(dir.path(), 0, 0)).await.expect("start");
    let rt = running.runtime.clone();
    let load = Instant::now();
    for chunk in corpus.chunks(2_000) {
        let bodies: Vec<Value> = chunk.iter().map(|b| Value::from(b.as_str())).collect();
        let out = rt
            .run(
                "messages:sendMany",
                obj! {"bodies" => Value::Array(bodies)},
                functions::Caller::default(),
                Some(functions::FunctionKind::Mutation),
            )
            .await;
        assert!(out.result.is_ok(), "{:?}", out.result);
    }
    println!("authvex: loaded {} messages in {:.1} s", corpus.len(), load.elapsed().as_secs_f64());
    let calls = queries.iter().map(|(a, b)| ("messages:search".to_string(), obj! {"query" => format!("{a} {b}")}));
    let search = run_parallel(&rt, args.readers, calls.collect()).await;
    let calls = rare.iter().map(|(a, b)| ("messages:search".to_string(), obj! {"query" => format!("{a} {b}")}));
    let rare = run_parallel(&rt, args.readers, calls.collect()).await;
    let page = obj! {"paginationOpts" => obj! {"numItems" => 10.0, "cursor" => Value::Null}};
    let pages = run_parallel(&rt, args.readers, vec![("messages:page".to_string(), page); args.pages]).await;
    let takes = run_parallel(&rt, args.readers, vec![("messages:take".to_string(), obj! {}); args.pages]).await;
    running.shutdown().await;
    (search, rare, pages, takes)
}

fn bench_fts5(args: &Args, corpus: &[String], queries: &[(String, String)]) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fts.sqlite");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE VIRTUAL TABLE messages USING fts5(body)").unwrap();
        let load = Instant::now();
        for chunk in corpus.chunks(2_000) {
            let tx = conn.transaction().unwrap();
            {
                let mut insert = tx.prepare("INSERT INTO messages(body) VALUES (?1)").unwrap();
                for body in chunk {
                    insert.execute([body]).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        println!("FTS5: loaded {} messages in {:.1} s", corpus.len(), load.elapsed().as_secs_f64());
    }
    let per = queries.len().div_ceil(args.readers);
    let (start, cpu) = (Instant::now(), process_cpu());
    let threads: Vec<_> = queries
        .chunks(per)
        .map(|chunk| {
            let (path, chunk) = (path.clone(), chunk.to_vec());
            std::thread::spawn(move || {
                let conn = rusqlite::Connection::open(&path).unwrap();
                let mut stmt = conn
                    .prepare(
                        "SELECT rowid, body FROM messages WHERE messages MATCH ?1 ORDER BY bm25(messages) LIMIT 10",
                    )
                    .unwrap();
                let mut latencies = Vec::with_capacity(chunk.len());
                for (a, b) in chunk {
                    let t = Instant::now();
                    let rows: Vec<(i64, String)> = stmt
                        .query_map([format!("{a} OR {b}*")], |r| Ok((r.get(0)?, r.get(1)?)))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    std::hint::black_box(rows);
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in threads {
        latencies.extend(t.join().expect("searcher"));
    }
    figures(latencies, start.elapsed(), process_cpu() - cpu)
}

fn cores() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!(
        "search benchmark: {} messages, {} two-word searches (last word a prefix) by {} readers, {} page loads",
        args.docs, args.queries, args.readers, args.pages
    );
    let corpus = corpus(&args);
    let (queries, rare) = (queries(&args, false), queries(&args, true));
    let fts = bench_fts5(&args, &corpus, &queries);
    let fts_rare = bench_fts5(&args, &corpus, &rare);
    let (search, search_rare, pages, takes) = rt.block_on(bench_authvex(&args, &corpus, &queries, &rare));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!();
    println!("| metric | authvex | SQLite FTS5 / plain take | ratio |");
    println!("|---|---:|---:|---:|");
    for (name, ours, theirs) in [("rare words", &search_rare, &fts_rare), ("Zipf words", &search, &fts)] {
        println!(
            "| search queries/s ({name}) | {:.0} | {:.0} | {:.2}x |",
            ours.per_s,
            theirs.per_s,
            ours.per_s / theirs.per_s
        );
        println!(
            "| search p50 / p99 ms ({name}) | {:.2} / {:.2} | {:.2} / {:.2} | |",
            ms(ours.p50),
            ms(ours.p99),
            ms(theirs.p50),
            ms(theirs.p99)
        );
        println!("| CPU ms per search ({name}) | {:.2} | {:.2} | |", ms(ours.cpu_per_op), ms(theirs.cpu_per_op));
    }
    println!(
        "| first-page loads/s: paginate(10) vs take(10) | {:.0} | {:.0} | {:.2}x |",
        pages.per_s,
        takes.per_s,
        pages.per_s / takes.per_s
    );
    println!("| page load p99 (ms) | {:.2} | {:.2} | |", ms(pages.p99), ms(takes.p99));
    println!("| CPU ms per page load | {:.3} | {:.3} | |", ms(pages.cpu_per_op), ms(takes.cpu_per_op));
    println!();
    println!("CPU: the whole process (both sides run in it, one after the other); {} cores.", cores());
}
