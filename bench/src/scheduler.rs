//! Scheduler benchmark: how fast the executor drains due jobs, and how late jobs start when it is not saturated,
//! with 10,000 other jobs pending far in the future, on SQLite and (with `--postgres`) PostgreSQL.
//!
//! `cargo run --release -p bench --bin bench-scheduler -- [--jobs 10000] [--postgres postgres://…/empty_db]`
//!
//! * burst: `--jobs` empty mutation jobs all due at one instant; jobs/s = jobs ÷ (last completion − due time).
//! * paced: `--paced` jobs due one every `--interval-ms`, below saturation; lateness = `completedTime −
//!   scheduledTime` of each job, so it includes the (empty) mutation's own commit: an upper bound of due → started.
//!
//! Also printed: the process's CPU time per job (server and this driver share the process; the driver only
//! schedules, in batches of 1,000 per mutation).

// A measuring harness, not a server: failing loudly on any error is what we want here.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use authvex::internals::{functions, server};
use authvex::{obj, v, App, MutationCtx, QueryCtx, Value};
use clap::Parser;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Jobs in the burst.
    #[arg(long, default_value_t = 10_000)]
    jobs: usize,
    /// Jobs in the paced run.
    #[arg(long, default_value_t = 2_000)]
    paced: usize,
    /// Milliseconds between two paced jobs.
    #[arg(long, default_value_t = 2.0)]
    interval_ms: f64,
    /// Jobs kept pending an hour ahead during both runs.
    #[arg(long, default_value_t = 10_000)]
    backlog: usize,
    /// Also run on this (empty) PostgreSQL database.
    #[arg(long)]
    postgres: Option<String>,
}

fn app() -> App {
    let mut app = App::new();
    app.mutation("jobs:noop", |_: MutationCtx, _: Value| async move { Ok(()) }).internal();
    // Schedules `n` jobs at `at + i × step` milliseconds.
    app.mutation("jobs:schedule", |ctx: MutationCtx, args: Value| async move {
        let n = args.get("n").and_then(Value::as_f64).unwrap_or(0.0) as usize;
        let at = args.get("at").and_then(Value::as_f64).unwrap_or(0.0);
        let step = args.get("step").and_then(Value::as_f64).unwrap_or(0.0);
        for i in 0..n {
            ctx.scheduler.run_at_millis(at + i as f64 * step, "jobs:noop", obj! {}).await?;
        }
        Ok(())
    })
    .args(v::object([("n", v::number()), ("at", v::number()), ("step", v::number())]));
    // Completed jobs due in [from, to]: how many, the last completion, and each one's lateness (completedTime −
    // scheduledTime) when they fit in one array (Convex's 8,192 elements).
    app.query("jobs:done", |ctx: QueryCtx, args: Value| async move {
        let from = args.get("from").and_then(Value::as_f64).unwrap_or(0.0);
        let to = args.get("to").and_then(Value::as_f64).unwrap_or(0.0);
        let jobs = ctx
            .db
            .system()
            .query("_scheduled_functions")
            .with_index("by_state_and_time", |q| {
                q.eq("state.kind", "success").gte("scheduledTime", from).lte("scheduledTime", to)
            })
            .collect()
            .await?;
        let times = |j: &authvex::Document| {
            let s = j.get("scheduledTime").and_then(Value::as_f64).unwrap_or(0.0);
            let c = j.get("completedTime").and_then(Value::as_f64).unwrap_or(0.0);
            (s, c)
        };
        let last = jobs.iter().map(|j| times(j).1).fold(0.0, f64::max);
        let lateness: Vec<Value> = if jobs.len() <= 8192 {
            jobs.iter().map(|j| Value::Float64(times(j).1 - times(j).0)).collect()
        } else {
            Vec::new()
        };
        Ok(obj! {"count" => jobs.len() as f64, "last" => last, "lateness" => Value::Array(lateness)})
    });
    app
}

fn now_ms() -> f64 {
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: u64 = fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

struct Figures {
    backend: &'static str,
    burst_jobs_per_s: f64,
    burst_cpu_us_per_job: f64,
    paced_p50: f64,
    paced_p99: f64,
    paced_max: f64,
}

async fn schedule(rt: &std::sync::Arc<functions::Runtime>, n: usize, at: f64, step: f64) {
    let mut done = 0;
    while done < n {
        let chunk = (n - done).min(1000);
        let args = obj! {"n" => chunk as f64, "at" => at + done as f64 * step, "step" => step};
        let outcome = rt.run("jobs:schedule", args, functions::Caller::default(), None).await;
        outcome.result.expect("schedule");
        done += chunk;
    }
}

/// (completed jobs due in [from, to], last completion time, their lateness when at most 8,192).
async fn completed(rt: &std::sync::Arc<functions::Runtime>, from: f64, to: f64) -> (usize, f64, Vec<f64>) {
    let outcome = rt.run("jobs:done", obj! {"from" => from, "to" => to}, functions::Caller::default(), None).await;
    let done = outcome.result.expect("jobs:done");
    let count = done.get("count").and_then(Value::as_f64).unwrap() as usize;
    let last = done.get("last").and_then(Value::as_f64).unwrap();
    let lateness = done.get("lateness").and_then(|l| l.as_array()).unwrap().iter().filter_map(Value::as_f64).collect();
    (count, last, lateness)
}

async fn wait_for(rt: &std::sync::Arc<functions::Runtime>, from: f64, to: f64, n: usize) -> (usize, f64, Vec<f64>) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = completed(rt, from, to).await;
        if done.0 >= n {
            return done;
        }
        assert!(Instant::now() < deadline, "only {} of {n} jobs completed", done.0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn run(args: &Args, backend: &'static str, postgres: Option<&str>) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::ServerConfig::sqlite(dir.path(), 0, 0);
    config.auth = None;
    if let Some(url) = postgres {
        config.storage = server::StorageConfig::Postgres { url: url.to_owned(), data_dir: dir.path().to_owned() };
    }
    let running = server::start(app(), config).await.expect("start");
    let rt = running.runtime.clone();
    // The backlog: pending an hour ahead, never due during the run.
    schedule(&rt, args.backlog, now_ms() + 3_600_000.0, 0.0).await;

    // Burst: everything due at one instant, two seconds from now (after the scheduling finished).
    let due = now_ms() + 2000.0 + args.jobs as f64 * 0.05;
    schedule(&rt, args.jobs, due, 0.0).await;
    tokio::time::sleep(Duration::from_millis((due - now_ms()).max(0.0) as u64)).await;
    let cpu_before = cpu_time();
    let (_, last, _) = wait_for(&rt, due, due, args.jobs).await;
    let cpu = cpu_time().saturating_sub(cpu_before);
    let burst_jobs_per_s = args.jobs as f64 / ((last - due) / 1000.0);

    // Paced: one job every `interval_ms`, starting a second from now.
    let start = now_ms() + 1000.0;
    schedule(&rt, args.paced, start, args.interval_ms).await;
    let end = start + args.paced as f64 * args.interval_ms;
    let (_, _, mut lateness) = wait_for(&rt, start, end, args.paced).await;
    lateness.sort_by(f64::total_cmp);
    running.shutdown().await;
    Figures {
        backend,
        burst_jobs_per_s,
        burst_cpu_us_per_job: cpu.as_secs_f64() * 1e6 / args.jobs as f64,
        paced_p50: percentile(&lateness, 0.5),
        paced_p99: percentile(&lateness, 0.99),
        paced_max: lateness.last().copied().unwrap_or_default(),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut rows = vec![run(&args, "sqlite", None).await];
    if let Some(url) = &args.postgres {
        rows.push(run(&args, "postgres", Some(url)).await);
    }
    println!(
        "\nscheduler: {} burst jobs, {} paced jobs at one per {} ms, {} jobs pending an hour ahead throughout",
        args.jobs, args.paced, args.interval_ms, args.backlog
    );
    println!(
        "{:<10} {:>14} {:>16} {:>22} {:>22} {:>18}",
        "backend", "burst jobs/s", "CPU µs/job", "paced lateness p50 ms", "paced lateness p99 ms", "paced max ms"
    );
    for r in &rows {
        println!(
            "{:<10} {:>14.0} {:>16.0} {:>22.1} {:>22.1} {:>18.1}",
            r.backend, r.burst_jobs_per_s, r.burst_cpu_us_per_job, r.paced_p50, r.paced_p99, r.paced_max
        );
    }
    println!("(target: ≥ 2,000 jobs/s; lateness p99 < 50 ms when not saturated)");
}
