//! Core benchmark: mutation commits/s and indexed point queries/s through authvex's function runtime on the
//! embedded SQLite store, beside raw rusqlite doing the equivalent work (same durability settings: WAL,
//! synchronous=FULL, one durable transaction per write), in one run, printed with ratios.
//!
//! `cargo run --release -p bench --bin bench-core -- --writers 16 --ops 4000`
//!
//! With `--postgres postgres://…/db` (an existing, empty database) authvex also runs on PostgreSQL, in its own
//! column beside SQLite.

// A measuring harness, not a server: failing loudly on any error is what we want here.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use authvex::internals::{functions, server};
use authvex::{obj, v, App, MutationCtx, QueryCtx, Schema, TableDefinition, Value};
use clap::Parser;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Concurrent writers (mutations in flight).
    #[arg(long, default_value_t = 16)]
    writers: usize,
    /// Mutations per side.
    #[arg(long, default_value_t = 4000)]
    ops: usize,
    /// Point queries per side.
    #[arg(long, default_value_t = 50_000)]
    reads: usize,
    /// Concurrent readers.
    #[arg(long, default_value_t = 4)]
    readers: usize,
    /// Also run authvex on this (empty) PostgreSQL database.
    #[arg(long)]
    postgres: Option<String>,
    /// Also run two authvex nodes (two deployments of the app in this process, each with its own committer and
    /// connection pools, as two `authvex serve` processes would have) on this other empty PostgreSQL database;
    /// writers and readers alternate between the nodes.
    #[arg(long)]
    postgres_two_nodes: Option<String>,
}

fn app() -> App {
    let mut app = App::new();
    app.schema(Schema::new().table(
        "items",
        TableDefinition::with_fields([("key", v::string()), ("n", v::float64())]).index("by_key", &["key"]),
    ));
    app.mutation("items:put", |ctx: MutationCtx, args: Value| async move {
        Ok(ctx.db.insert("items", args).await?.to_string())
    });
    app.query("items:byKey", |ctx: QueryCtx, args: Value| async move {
        let key = args.get("key").and_then(|k| k.as_str()).unwrap_or_default().to_string();
        ctx.db.query("items").with_index("by_key", |q| q.eq("key", key.as_str())).first().await
    });
    app
}

#[derive(Clone, Copy)]
struct Figures {
    commits_per_s: f64,
    reads_per_s: f64,
}

async fn bench_authvex(args: &Args, postgres: Option<&str>, nodes: usize) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut running = Vec::new();
    for _ in 0..nodes.max(1) {
        let mut config = server::ServerConfig::sqlite(dir.path(), 0, 0);
        if let Some(url) = postgres {
            config.storage = server::StorageConfig::Postgres { url: url.to_owned(), data_dir: dir.path().to_owned() };
        }
        running.push(server::start(app(), config).await.expect("start"));
    }
    let runtimes: Vec<_> = running.iter().map(|r| r.runtime.clone()).collect();
    let per_writer = args.ops / args.writers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.writers {
        let rt = runtimes[w % runtimes.len()].clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let out = rt
                    .run(
                        "items:put",
                        obj! {"key" => format!("k{w}-{i}"), "n" => i as f64},
                        functions::Caller::default(),
                        Some(functions::FunctionKind::Mutation),
                    )
                    .await;
                assert!(out.result.is_ok(), "{:?}", out.result);
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let commits_per_s = (per_writer * args.writers) as f64 / start.elapsed().as_secs_f64();

    let per_reader = args.reads / args.readers;
    let writers = args.writers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for r in 0..args.readers {
        let rt = runtimes[r % runtimes.len()].clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_reader {
                let key = read_key(i, r, writers, per_writer);
                let out = rt
                    .run(
                        "items:byKey",
                        obj! {"key" => key},
                        functions::Caller::default(),
                        Some(functions::FunctionKind::Query),
                    )
                    .await;
                assert!(matches!(out.result, Ok(Value::Object(_))), "{:?}", out.result);
            }
        }));
    }
    for t in tasks {
        t.await.expect("reader");
    }
    let reads_per_s = (per_reader * args.readers) as f64 / start.elapsed().as_secs_f64();
    for node in running {
        node.shutdown().await;
    }
    Figures { commits_per_s, reads_per_s }
}

/// A key the writers wrote (`k{writer}-{i}`), spread over readers `r`.
fn read_key(i: usize, r: usize, writers: usize, per_writer: usize) -> String {
    format!("k{}-{}", (i + r) % 16 % writers.max(1), i % per_writer.max(1))
}

fn bench_rusqlite(args: &Args) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("raw.sqlite3");
    let setup = rusqlite::Connection::open(&path).expect("open");
    setup
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             CREATE TABLE items(id BLOB PRIMARY KEY, body BLOB NOT NULL, key TEXT NOT NULL, created REAL NOT NULL) WITHOUT ROWID;
             CREATE INDEX items_by_key ON items(key, created, id);
             CREATE INDEX items_by_created ON items(created, id);",
        )
        .expect("schema");
    drop(setup);
    // Writers share one connection (SQLite has one writer); each insert is its own durable transaction.
    let writer = Arc::new(std::sync::Mutex::new(rusqlite::Connection::open(&path).expect("open")));
    if let Ok(c) = writer.lock() {
        c.execute_batch("PRAGMA synchronous=FULL;").expect("pragma");
    }
    let per_writer = args.ops / args.writers;
    let start = Instant::now();
    std::thread::scope(|s| {
        for w in 0..args.writers {
            let writer = writer.clone();
            s.spawn(move || {
                for i in 0..per_writer {
                    let key = format!("k{w}-{i}");
                    let body = format!("{{\"key\":\"{key}\",\"n\":{i}}}");
                    let mut id = [0u8; 16];
                    id[..8].copy_from_slice(&(w as u64).to_le_bytes());
                    id[8..].copy_from_slice(&(i as u64).to_le_bytes());
                    let mut c = writer.lock().expect("lock");
                    let tx = c.transaction().expect("tx");
                    tx.execute(
                        "INSERT INTO items(id, body, key, created) VALUES (?1, ?2, ?3, ?4)",
                        rusqlite::params![&id[..], body.as_bytes(), key, i as f64],
                    )
                    .expect("insert");
                    tx.commit().expect("commit");
                }
            });
        }
    });
    let commits_per_s = (per_writer * args.writers) as f64 / start.elapsed().as_secs_f64();

    let per_reader = args.reads / args.readers;
    let writers = args.writers;
    let start = Instant::now();
    std::thread::scope(|s| {
        for r in 0..args.readers {
            let path = path.clone();
            s.spawn(move || {
                let c = rusqlite::Connection::open(&path).expect("open");
                let mut stmt =
                    c.prepare("SELECT body FROM items WHERE key = ?1 ORDER BY created, id LIMIT 1").expect("prepare");
                for i in 0..per_reader {
                    let key = read_key(i, r, writers, per_writer);
                    let body: Vec<u8> = stmt.query_row([key], |row| row.get(0)).expect("row");
                    std::hint::black_box(body);
                }
            });
        }
    });
    let reads_per_s = (per_reader * args.readers) as f64 / start.elapsed().as_secs_f64();
    Figures { commits_per_s, reads_per_s }
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!(
        "core benchmark: {} mutations by {} writers, {} point queries by {} readers",
        args.ops, args.writers, args.reads, args.readers
    );
    let raw = bench_rusqlite(&args);
    let ours = rt.block_on(bench_authvex(&args, None, 1));
    let on_postgres = args.postgres.as_deref().map(|url| rt.block_on(bench_authvex(&args, Some(url), 1)));
    let two_nodes = args.postgres_two_nodes.as_deref().map(|url| rt.block_on(bench_authvex(&args, Some(url), 2)));
    std::thread::sleep(Duration::from_millis(10));
    println!();
    match &on_postgres {
        None => {
            println!("| metric | authvex | raw rusqlite | ratio |");
            println!("|---|---:|---:|---:|");
            println!(
                "| mutation commits/s | {:.0} | {:.0} | {:.2}x |",
                ours.commits_per_s,
                raw.commits_per_s,
                ours.commits_per_s / raw.commits_per_s
            );
            println!(
                "| indexed point queries/s | {:.0} | {:.0} | {:.2}x |",
                ours.reads_per_s,
                raw.reads_per_s,
                ours.reads_per_s / raw.reads_per_s
            );
        }
        Some(pg) => {
            println!("| metric | authvex (SQLite) | authvex (PostgreSQL) | raw rusqlite | PostgreSQL / SQLite |");
            println!("|---|---:|---:|---:|---:|");
            println!(
                "| mutation commits/s | {:.0} | {:.0} | {:.0} | {:.2}x |",
                ours.commits_per_s,
                pg.commits_per_s,
                raw.commits_per_s,
                pg.commits_per_s / ours.commits_per_s
            );
            println!(
                "| indexed point queries/s | {:.0} | {:.0} | {:.0} | {:.2}x |",
                ours.reads_per_s,
                pg.reads_per_s,
                raw.reads_per_s,
                pg.reads_per_s / ours.reads_per_s
            );
        }
    }
    if let (Some(two), Some(one)) = (two_nodes, on_postgres) {
        println!();
        println!("| PostgreSQL | one node | two nodes (one database) | two / one |");
        println!("|---|---:|---:|---:|");
        println!(
            "| mutation commits/s | {:.0} | {:.0} | {:.2}x |",
            one.commits_per_s,
            two.commits_per_s,
            two.commits_per_s / one.commits_per_s
        );
        println!(
            "| indexed point queries/s | {:.0} | {:.0} | {:.2}x |",
            one.reads_per_s,
            two.reads_per_s,
            two.reads_per_s / one.reads_per_s
        );
    }
}
