//! The scheduler and crons on the injected clock (memory store, or PostgreSQL with `AUTHVEX_TEST_BACKEND=postgres`):
//! due order, exactly-once under racing executors, failures, cancel races, restarts, overlaps, retention, limits.

use crate::*;
use database::{Database, DatabaseConfig, ManualClock, Schema, SeededEntropy, TableDefinition};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use value::{obj, v, Value};

const START: u64 = 1_767_607_650_000_000_000; // 2026-01-05T10:07:30Z
const SECOND: u64 = 1_000_000_000;

struct Fixture {
    rt: Arc<Runtime>,
    clock: ManualClock,
}

impl Fixture {
    fn executor(&self) -> Arc<Executor> {
        Executor::new(self.rt.clone(), ExecutorConfig::default())
    }

    async fn call(&self, path: &str, args: Value) -> Result<Value, String> {
        let outcome = self.rt.run(path, args, Caller::public(None), None).await;
        outcome.result.map_err(|f| f.message)
    }

    async fn job(&self, id: &str) -> Value {
        self.call("jobs:get", obj! {"id" => id}).await.unwrap()
    }

    async fn bumps(&self) -> Vec<String> {
        let log = self.call("jobs:log", obj! {}).await.unwrap();
        log.as_array().unwrap().iter().map(|d| d.get("key").unwrap().as_str().unwrap().to_string()).collect()
    }

    fn advance(&self, seconds: f64) {
        self.clock.advance((seconds * SECOND as f64) as u64);
    }
}

fn kind(job: &Value) -> String {
    job.get("state").and_then(|s| s.get("kind")).and_then(|k| k.as_str()).unwrap_or("?").to_string()
}

/// An app whose actions can be held open: `jobs:held` waits until `release` is notified.
fn app(gate: Arc<Notify>) -> App {
    let mut app = App::new();
    app.schema(Schema::new().table("log", TableDefinition::new()).table("notes", TableDefinition::new()));
    app.mutation("jobs:bump", |ctx: MutationCtx, args: Value| async move {
        let key = args.get("key").and_then(|k| k.as_str()).unwrap_or_default().to_string();
        ctx.db.insert("log", obj! {"key" => key}).await?;
        Ok(())
    })
    .internal();
    app.mutation("jobs:schedule", |ctx: MutationCtx, args: Value| async move {
        let delay = args.get("delaySeconds").and_then(|d| d.as_f64()).unwrap_or(0.0);
        let key = args.get("key").cloned().unwrap_or(Value::Null);
        let target = args.get("target").and_then(|t| t.as_str()).unwrap_or("jobs:bump").to_string();
        let id = ctx.scheduler.run_after(Duration::from_secs_f64(delay), &target, obj! {"key" => key}).await?;
        Ok(id.to_string())
    });
    app.mutation("jobs:scheduleThenThrow", |ctx: MutationCtx, _: Value| async move {
        ctx.scheduler.run_after(Duration::ZERO, "jobs:bump", obj! {"key" => "never"}).await?;
        Err::<(), _>(FunctionError::msg("changed my mind"))
    });
    app.mutation("jobs:scheduleMany", |ctx: MutationCtx, args: Value| async move {
        let n = args.get("n").and_then(|n| n.as_f64()).unwrap_or(0.0) as usize;
        let pad = "x".repeat(args.get("pad").and_then(|p| p.as_f64()).unwrap_or(0.0) as usize);
        for i in 0..n {
            ctx.scheduler.run_after(Duration::ZERO, "jobs:bump", obj! {"key" => format!("{i}{pad}")}).await?;
        }
        Ok(())
    });
    app.mutation("jobs:failing", |_: MutationCtx, _: Value| async move { Err::<(), _>(FunctionError::msg("boom")) })
        .internal();
    app.mutation("jobs:validated", |_: MutationCtx, _: Value| async move { Ok(()) })
        .args(v::object([("key", v::number())]))
        .internal();
    app.mutation("jobs:cancel", |ctx: MutationCtx, args: Value| async move {
        let id = args.get("id").and_then(|i| i.as_str()).unwrap_or_default().to_string();
        ctx.scheduler.cancel(&id).await
    });
    app.query("jobs:get", |ctx: QueryCtx, args: Value| async move {
        let id = args.get("id").and_then(|i| i.as_str()).unwrap_or_default().to_string();
        Ok(ctx.db.system().get(&id).await?.map_or(Value::Null, Value::from))
    })
    .args(v::object([("id", v::id("_scheduled_functions"))]));
    app.query("jobs:all", |ctx: QueryCtx, _: Value| async move {
        ctx.db.system().query("_scheduled_functions").collect().await
    });
    app.query("jobs:log", |ctx: QueryCtx, _: Value| async move { ctx.db.query("log").collect().await });
    app.action("jobs:act", |ctx: ActionCtx, args: Value| async move {
        let key = args.get("key").cloned().unwrap_or(Value::Null);
        ctx.run_mutation("jobs:bump", obj! {"key" => key}).await?;
        Ok(())
    })
    .internal();
    let held = gate.clone();
    app.action("jobs:held", move |ctx: ActionCtx, args: Value| {
        let held = held.clone();
        async move {
            held.notified().await;
            let key = args.get("key").cloned().unwrap_or(Value::Null);
            // Scheduled after the wait: canceled with this job if it was canceled meanwhile.
            ctx.scheduler.run_after(Duration::ZERO, "jobs:bump", obj! {"key" => key}).await?;
            Ok(())
        }
    })
    .internal();
    app.crons().interval("every minute", Schedule::minutes(1), "jobs:bump", obj! {"key" => "cron"});
    app.crons().cron("held", "*/5 * * * *", "jobs:held", obj! {"key" => "held-cron"});
    app
}

async fn fixture_with(app: App) -> Fixture {
    let clock = ManualClock::new(START);
    let config =
        DatabaseConfig::new(app.schema_ref().clone(), Arc::new(clock.clone()), Arc::new(SeededEntropy::new(7)));
    let db = Database::open(test_support::test_persistence().await, config).await.unwrap();
    let rt = Runtime::new(db, app, BTreeMap::new()).unwrap();
    Fixture { rt, clock }
}

async fn fixture() -> (Fixture, Arc<Notify>) {
    let gate = Arc::new(Notify::new());
    let mut app = app(gate.clone());
    // Crons are exercised in their own tests.
    app.crons = crate::cron::Crons::default();
    (fixture_with(app).await, gate)
}

#[tokio::test]
async fn jobs_run_when_due_in_due_order_and_record_success() {
    let (f, _) = fixture().await;
    let exec = f.executor();
    exec.start().await.unwrap();
    let mut ids = Vec::new();
    for (key, delay) in [("third", 3.0), ("first", 1.0), ("second", 2.0)] {
        ids.push(f.call("jobs:schedule", obj! {"delaySeconds" => delay, "key" => key}).await.unwrap());
    }
    let first = f.job(ids[1].as_str().unwrap()).await;
    assert_eq!(kind(&first), "pending");
    assert_eq!(first.get("name").and_then(|n| n.as_str()), Some("jobs.js:bump"));
    assert_eq!(first.get("args"), Some(&Value::Array(vec![obj! {"key" => "first"}])));
    assert_eq!(first.get("scheduledTime").and_then(|t| t.as_f64()), Some((START / 1_000_000) as f64 + 1000.0));

    assert_eq!(exec.run_due().await.unwrap(), 0, "nothing is due yet");
    f.advance(1.5);
    assert_eq!(exec.run_due().await.unwrap(), 1);
    assert_eq!(f.bumps().await, ["first"]);
    f.advance(10.0);
    assert_eq!(exec.run_due().await.unwrap(), 2);
    // Both were due at once and run concurrently: either may commit first.
    let mut bumps = f.bumps().await;
    bumps[1..].sort();
    assert_eq!(bumps, ["first", "second", "third"]);
    for id in &ids {
        let job = f.job(id.as_str().unwrap()).await;
        assert_eq!(kind(&job), "success");
        assert!(job.get("completedTime").and_then(|t| t.as_f64()).is_some());
    }
    assert_eq!(exec.run_due().await.unwrap(), 0, "a job runs once");
}

#[tokio::test]
async fn a_job_scheduled_by_a_failed_mutation_never_exists() {
    let (f, _) = fixture().await;
    let err = f.call("jobs:scheduleThenThrow", obj! {}).await.unwrap_err();
    assert!(err.contains("changed my mind"));
    assert_eq!(f.call("jobs:all", obj! {}).await.unwrap(), Value::Array(vec![]));
}

#[tokio::test]
async fn failures_are_recorded_on_the_job_and_roll_back_the_writes() {
    let (f, _) = fixture().await;
    let exec = f.executor();
    let failing = f.call("jobs:schedule", obj! {"target" => "jobs:failing"}).await.unwrap();
    // `key` must be a number: the validator runs when the job runs.
    let invalid = f.call("jobs:schedule", obj! {"target" => "jobs:validated", "key" => "x"}).await.unwrap();
    exec.run_due().await.unwrap();
    let failed = f.job(failing.as_str().unwrap()).await;
    assert_eq!(kind(&failed), "failed");
    assert_eq!(failed.get("state").and_then(|s| s.get("error")).and_then(|e| e.as_str()), Some("Uncaught Error: boom"));
    let invalid = f.job(invalid.as_str().unwrap()).await;
    assert_eq!(kind(&invalid), "failed");
    let error = invalid.get("state").and_then(|s| s.get("error")).and_then(|e| e.as_str()).unwrap();
    assert!(error.contains("ArgumentValidationError"), "{error}");
    // Scheduling something that is not a mutation or action, or does not exist, fails at once.
    let err = f.call("jobs:schedule", obj! {"target" => "jobs:get"}).await.unwrap_err();
    assert!(err.contains("only mutations and actions can be scheduled"), "{err}");
    let err = f.call("jobs:schedule", obj! {"target" => "jobs:nope"}).await.unwrap_err();
    assert!(err.contains("nonexistent path"), "{err}");
}

#[tokio::test]
async fn cancel_stops_a_pending_job_and_refuses_a_completed_one() {
    let (f, _) = fixture().await;
    let exec = f.executor();
    let id = f.call("jobs:schedule", obj! {"delaySeconds" => 5.0, "key" => "canceled"}).await.unwrap();
    let id = id.as_str().unwrap();
    f.call("jobs:cancel", obj! {"id" => id}).await.unwrap();
    f.advance(10.0);
    assert_eq!(exec.run_due().await.unwrap(), 0);
    assert_eq!(kind(&f.job(id).await), "canceled");
    assert!(f.bumps().await.is_empty());

    let done = f.call("jobs:schedule", obj! {"key" => "done"}).await.unwrap();
    exec.run_due().await.unwrap();
    let err = f.call("jobs:cancel", obj! {"id" => done.as_str().unwrap()}).await.unwrap_err();
    assert!(err.contains("already completed"), "{err}");
}

#[tokio::test]
async fn actions_go_in_progress_and_a_cancel_while_running_cancels_what_they_schedule() {
    let (f, gate) = fixture().await;
    let exec = f.executor();
    let simple = f.call("jobs:schedule", obj! {"target" => "jobs:act", "key" => "from-action"}).await.unwrap();
    exec.run_due().await.unwrap();
    assert_eq!(kind(&f.job(simple.as_str().unwrap()).await), "success");
    assert_eq!(f.bumps().await, ["from-action"]);

    let held = f.call("jobs:schedule", obj! {"target" => "jobs:held", "key" => "after-cancel"}).await.unwrap();
    let held = held.as_str().unwrap().to_string();
    let running = tokio::spawn({
        let exec = exec.clone();
        async move { exec.run_due().await.unwrap() }
    });
    // Wait until the action is in progress.
    while kind(&f.job(&held).await) != "inProgress" {
        tokio::task::yield_now().await;
    }
    f.call("jobs:cancel", obj! {"id" => held.as_str()}).await.unwrap();
    gate.notify_one();
    running.await.unwrap();
    exec.run_due().await.unwrap();
    let job = f.job(&held).await;
    assert_eq!(kind(&job), "canceled", "the action finished but stays canceled");
    assert!(job.get("completedTime").is_some());
    // What it scheduled after the cancel never ran.
    assert_eq!(f.bumps().await, ["from-action"]);
    let all = f.call("jobs:all", obj! {}).await.unwrap();
    let child = all.as_array().unwrap().iter().find(|j| j.get("_id").and_then(|i| i.as_str()) != Some(&held)).cloned();
    let canceled_children = all.as_array().unwrap().iter().filter(|j| kind(j) == "canceled").count();
    assert!(child.is_some());
    assert_eq!(canceled_children, 2);
}

#[tokio::test]
async fn an_action_in_progress_when_the_process_died_is_failed_not_rerun() {
    let (f, gate) = fixture().await;
    let held = f.call("jobs:schedule", obj! {"target" => "jobs:held", "key" => "lost"}).await.unwrap();
    let held = held.as_str().unwrap().to_string();
    // A first "process" claims the action and dies while it runs.
    let doomed = f.executor();
    let run = tokio::spawn({
        let doomed = doomed.clone();
        async move { doomed.run_due().await }
    });
    while kind(&f.job(&held).await) != "inProgress" {
        tokio::task::yield_now().await;
    }
    run.abort();
    let _ = run.await;
    drop(doomed);
    // The next process: on a store nobody shares it fails the run at start; on a shared store once the lease
    // expires. Either way it is failed, never run again.
    let next = f.executor();
    next.start().await.unwrap();
    f.advance(31.0);
    next.run_due().await.unwrap();
    let job = f.job(&held).await;
    assert_eq!(kind(&job), "failed");
    let error = job.get("state").and_then(|s| s.get("error")).and_then(|e| e.as_str()).unwrap();
    assert!(error.contains("Transient error"), "{error}");
    gate.notify_waiters();
    assert!(f.bumps().await.is_empty());
}

#[tokio::test]
async fn racing_executors_run_each_job_exactly_once() {
    let (f, _) = fixture().await;
    f.call("jobs:scheduleMany", obj! {"n" => 100.0}).await.unwrap();
    let (a, b, c) = (f.executor(), f.executor(), f.executor());
    let (x, y, z) = tokio::join!(a.run_due(), b.run_due(), c.run_due());
    x.unwrap();
    y.unwrap();
    z.unwrap();
    let mut bumps = f.bumps().await;
    bumps.sort();
    let mut expected: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    expected.sort();
    assert_eq!(bumps, expected, "each job ran once");
    let all = f.call("jobs:all", obj! {}).await.unwrap();
    assert!(all.as_array().unwrap().iter().all(|j| kind(j) == "success"));
}

#[tokio::test]
async fn limits_per_call_use_convex_texts() {
    let (f, _) = fixture().await;
    let err = f.call("jobs:scheduleMany", obj! {"n" => 1001.0}).await.unwrap_err();
    assert!(err.contains("Too many functions scheduled by this function call (limit: 1000)"), "{err}");
    // 9 × 1 MiB-ish arguments exceed 8 MiB.
    let err = f.call("jobs:scheduleMany", obj! {"n" => 9.0, "pad" => 1_000_000.0}).await.unwrap_err();
    assert!(err.contains("Too large total size"), "{err}");
    assert_eq!(f.call("jobs:all", obj! {}).await.unwrap(), Value::Array(vec![]), "nothing was scheduled");
}

#[tokio::test]
async fn completed_jobs_are_removed_after_seven_days() {
    let (f, _) = fixture().await;
    let exec = f.executor();
    let id = f.call("jobs:schedule", obj! {"key" => "old"}).await.unwrap();
    exec.run_due().await.unwrap();
    f.advance(6.0 * 86_400.0);
    let pending = f.call("jobs:schedule", obj! {"delaySeconds" => 30.0 * 86_400.0, "key" => "later"}).await.unwrap();
    exec.run_due().await.unwrap();
    assert_eq!(kind(&f.job(id.as_str().unwrap()).await), "success", "kept for 7 days");
    f.advance(1.1 * 86_400.0);
    exec.run_due().await.unwrap();
    assert_eq!(f.job(id.as_str().unwrap()).await, Value::Null, "removed after 7 days");
    assert_eq!(kind(&f.job(pending.as_str().unwrap()).await), "pending", "pending jobs are never removed");
}

#[tokio::test]
async fn crons_run_on_schedule_record_runs_and_keep_their_next_run_across_restarts() {
    let gate = Arc::new(Notify::new());
    let f = fixture_with(app(gate.clone())).await;
    let exec = f.executor();
    exec.start().await.unwrap();
    // An interval cron runs when first deployed.
    exec.run_due().await.unwrap();
    assert_eq!(f.bumps().await, ["cron"]);
    f.advance(30.0);
    exec.run_due().await.unwrap();
    assert_eq!(f.bumps().await.len(), 1, "not due for another 30 s");
    // A restart keeps the next run time: no extra run at start.
    let restarted = f.executor();
    restarted.start().await.unwrap();
    restarted.run_due().await.unwrap();
    assert_eq!(f.bumps().await.len(), 1);
    f.advance(31.0);
    restarted.run_due().await.unwrap();
    assert_eq!(f.bumps().await.len(), 2);
    let runs = executor::list_cron_runs(f.rt.database()).await.unwrap();
    let every_minute = runs.iter().find(|(name, _, _)| name == "every minute").unwrap();
    assert_eq!(every_minute.2.len(), 2);
    assert!(every_minute.2.iter().all(|r| r.status == "success"));
    assert_eq!(every_minute.1, Some((START / 1_000_000) as f64 + 120_000.0), "next run on the interval's grid");
}

#[tokio::test]
async fn a_cron_run_that_would_overlap_a_running_one_is_skipped() {
    let gate = Arc::new(Notify::new());
    let f = fixture_with(app(gate.clone())).await;
    // A lease longer than the clock jumps below, so the running action's lease stays valid without renewals.
    let first = Executor::new(f.rt.clone(), ExecutorConfig { lease: Duration::from_secs(3600), ..Default::default() });
    first.start().await.unwrap();
    // 10:07:30 → the "*/5" cron is due at 10:10.
    f.advance(150.0);
    let running = tokio::spawn({
        let first = first.clone();
        async move { first.run_due().await.unwrap() }
    });
    let held_runs = || async {
        let runs = executor::list_cron_runs(f.rt.database()).await.unwrap();
        runs.into_iter().find(|(n, _, _)| n == "held").unwrap()
    };
    // Wait for the claim (nextRun moves to 10:15).
    while held_runs().await.1 != Some((START / 1_000_000) as f64 + 450_000.0) {
        tokio::task::yield_now().await;
    }
    f.advance(300.0);
    let second = f.executor();
    second.run_due().await.unwrap();
    let (_, _, runs) = held_runs().await;
    assert_eq!(runs.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(), ["skipped"]);
    gate.notify_one();
    running.await.unwrap();
    let (_, _, runs) = held_runs().await;
    assert_eq!(runs.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(), ["skipped", "success"]);
}

#[tokio::test]
async fn crons_must_name_mutations_or_actions() {
    let mut app = App::new();
    app.query("q:get", |_: QueryCtx, _: Value| async move { Ok(1.0) });
    app.crons().interval("bad", Schedule::minutes(1), "q:get", obj! {});
    app.crons().interval("missing", Schedule::minutes(1), "q:nope", obj! {});
    let clock = ManualClock::new(START);
    let config = DatabaseConfig::new(app.schema_ref().clone(), Arc::new(clock), Arc::new(SeededEntropy::new(7)));
    let db = Database::open(test_support::test_persistence().await, config).await.unwrap();
    let err = Runtime::new(db, app, BTreeMap::new()).err().unwrap();
    assert!(err.contains("a query") && err.contains("not a registered function"), "{err}");
}
