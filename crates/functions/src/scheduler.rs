//! `ctx.scheduler` and the `_scheduled_functions` system table.
//!
//! A scheduled function is a document of `_scheduled_functions` (`name`, `args: [args]`, `scheduledTime`,
//! `completedTime?`, `state {kind, error?}`), shaped as Convex documents it, so apps read it with
//! `ctx.db.system()` and subscriptions to it are reactive like any query. Scheduling from a mutation inserts the
//! document in the mutation's transaction (it exists only if the mutation commits); from an action it is its own
//! transaction. The [`crate::executor`] claims due documents in transactions; nothing node-local is the source of
//! truth.

use crate::context::{with_txn, IntoDocumentId, SharedTxn};
use crate::runtime::Runtime;
use crate::{FunctionError, FunctionKind};
use database::{DatabaseError, IndexRange, Order, ScanRequest, Schema, TableDefinition, Transaction, UnixTime};
use parking_lot::Mutex;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use value::{DocumentId, Object, Value};

/// The system table of scheduled functions.
pub const SCHEDULED_FUNCTIONS: &str = "_scheduled_functions";
/// Index of `_scheduled_functions` by state, then due time: the executor's due queue (`state.kind == "pending"`).
pub const BY_STATE_AND_TIME: &str = "by_state_and_time";
/// Index of `_scheduled_functions` by completion time: what retention removes.
pub const BY_COMPLETED_TIME: &str = "by_completed_time";
/// Leases of actions in progress (`{subject, node, expiresAt}`): a node that dies leaves its lease to expire, and
/// whoever sees it expired marks the run failed. Private to the platform.
pub(crate) const LEASES: &str = "_system/leases";
pub(crate) const BY_SUBJECT: &str = "by_subject";
pub(crate) const BY_EXPIRY: &str = "by_expiry";

/// "A single function can schedule up to 1000 functions with total argument size of 8MB."
pub const MAX_SCHEDULED_PER_CALL: usize = 1000;
/// Total size of the arguments of the functions one call schedules.
pub const MAX_SCHEDULED_ARGS_BYTES: usize = 8 << 20;
/// `runAt` accepts times at most five years in the past or future.
const MAX_OFFSET_MS: f64 = 5.0 * 366.0 * 24.0 * 3600.0 * 1000.0;

/// The system tables the scheduler and crons keep.
pub fn system_schema() -> Schema {
    Schema::new()
        .system_table(
            SCHEDULED_FUNCTIONS,
            TableDefinition::new()
                .index(BY_STATE_AND_TIME, &["state.kind", "scheduledTime"])
                .index(BY_COMPLETED_TIME, &["completedTime"]),
        )
        .system_table(LEASES, TableDefinition::new().index(BY_SUBJECT, &["subject"]).index(BY_EXPIRY, &["expiresAt"]))
        .merge(crate::cron::system_schema())
}

/// The state of a scheduled function, as `state` in its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Pending,
    /// An action that has started (mutations never show it: their claim and writes commit together).
    InProgress,
    Success,
    Failed(String),
    Canceled,
}

impl JobState {
    pub fn kind(&self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::InProgress => "inProgress",
            JobState::Success => "success",
            JobState::Failed(_) => "failed",
            JobState::Canceled => "canceled",
        }
    }

    pub fn to_value(&self) -> Value {
        let mut state = Object::new();
        state.insert("kind".into(), Value::String(self.kind().into()));
        if let JobState::Failed(error) = self {
            state.insert("error".into(), Value::String(error.clone()));
        }
        Value::Object(state)
    }

    /// The state of a job document.
    pub fn of(doc: &Object) -> Option<JobState> {
        let state = doc.get("state")?;
        let kind = state.get("kind")?.as_str()?;
        Some(match kind {
            "pending" => JobState::Pending,
            "inProgress" => JobState::InProgress,
            "success" => JobState::Success,
            "failed" => JobState::Failed(state.get("error").and_then(Value::as_str).unwrap_or_default().to_string()),
            "canceled" => JobState::Canceled,
            _ => return None,
        })
    }

    pub fn is_final(&self) -> bool {
        matches!(self, JobState::Success | JobState::Failed(_) | JobState::Canceled)
    }
}

/// What one function call has scheduled so far (Convex's per-call limits).
#[derive(Debug, Default)]
struct Budget {
    count: usize,
    args_bytes: usize,
}

#[derive(Clone)]
enum Mode {
    /// Inside a mutation: jobs are written in its transaction.
    Transaction(SharedTxn),
    /// Inside an action: each call is its own transaction.
    Standalone,
}

/// `ctx.scheduler`: schedule mutations and actions (public or internal) to run later, or cancel them.
#[derive(Clone)]
pub struct Scheduler {
    runtime: Arc<Runtime>,
    mode: Mode,
    budget: Arc<Mutex<Budget>>,
    /// The scheduled function this call runs as (if any): when it has been canceled while in progress, whatever it
    /// schedules is canceled too.
    parent: Option<DocumentId>,
}

impl Scheduler {
    pub(crate) fn in_transaction(runtime: Arc<Runtime>, txn: SharedTxn, parent: Option<DocumentId>) -> Self {
        Scheduler { runtime, mode: Mode::Transaction(txn), budget: Arc::default(), parent }
    }

    pub(crate) fn standalone(runtime: Arc<Runtime>, parent: Option<DocumentId>) -> Self {
        Scheduler { runtime, mode: Mode::Standalone, budget: Arc::default(), parent }
    }

    /// `runAfter`: runs `path` with `args` once `delay` has passed (zero = right after this function commits).
    pub async fn run_after(
        &self,
        delay: Duration,
        path: &str,
        args: impl Serialize,
    ) -> Result<DocumentId, FunctionError> {
        let at = self.runtime.database().clock().now().as_millis_f64() + delay.as_secs_f64() * 1000.0;
        self.schedule(at, path, value::to_value(&args)?).await
    }

    /// `runAt`: runs `path` with `args` at `time` (a time in the past runs right after this function commits).
    pub async fn run_at(&self, time: UnixTime, path: &str, args: impl Serialize) -> Result<DocumentId, FunctionError> {
        self.schedule(time.as_millis_f64(), path, value::to_value(&args)?).await
    }

    /// `runAt` with a time in milliseconds since the epoch (what the JS API passes).
    pub async fn run_at_millis(
        &self,
        millis: f64,
        path: &str,
        args: impl Serialize,
    ) -> Result<DocumentId, FunctionError> {
        self.schedule(millis, path, value::to_value(&args)?).await
    }

    /// Schedules `path` at `at_ms` (milliseconds since the epoch); returns the `_scheduled_functions` id.
    pub async fn schedule(&self, at_ms: f64, path: &str, args: Value) -> Result<DocumentId, FunctionError> {
        let name = self.check_target(path)?;
        let now = self.runtime.database().clock().now().as_millis_f64();
        if !at_ms.is_finite() || (at_ms - now).abs() > MAX_OFFSET_MS {
            return Err(FunctionError::msg(format!(
                "The scheduled time of {name} must be within five years of now (got {at_ms} ms since the epoch)"
            )));
        }
        let Value::Object(args) = args else {
            return Err(FunctionError::msg(format!(
                "The arguments of a scheduled function must be an object, got {}",
                args.type_name()
            )));
        };
        let args = Value::Object(args);
        value::limits::check_value(&args).map_err(|e| FunctionError::msg(format!("ArgumentValidationError: {e}")))?;
        self.charge(&args)?;
        let parent = self.parent;
        match &self.mode {
            Mode::Transaction(txn) => {
                with_txn(txn, async |t| insert_job(t, &name, args, at_ms, parent, now).await).await
            }
            Mode::Standalone => {
                let db = self.runtime.database().clone();
                let (name, args) = (&name, &args);
                Ok(database::run_serializable(&db, || async {
                    let mut t = db.begin(false).await?;
                    let id = insert_job(&mut t, name, args.clone(), at_ms, parent, now).await?;
                    db.commit(t).await?;
                    Ok::<_, DatabaseError>(id)
                })
                .await?)
            }
        }
    }

    /// `cancel`: a pending function never runs; an action in progress finishes but is recorded as canceled (and
    /// what it schedules afterwards is canceled). Cancelling a completed function is an error.
    pub async fn cancel(&self, id: impl IntoDocumentId) -> Result<(), FunctionError> {
        let id = id.into_document_id()?;
        match &self.mode {
            Mode::Transaction(txn) => with_txn(txn, async |t| cancel_job(t, &id).await).await?,
            Mode::Standalone => cancel_in_own_transaction(self.runtime.database(), &id).await?,
        }
    }

    /// The canonical name of a schedulable function (`messages.js:send`), or why it cannot be scheduled.
    fn check_target(&self, path: &str) -> Result<String, FunctionError> {
        let caller = crate::Caller { internal: true, ..Default::default() };
        let def = self
            .runtime
            .lookup(path, &caller)
            .map_err(|_| FunctionError::msg(format!("Attempted to schedule function at nonexistent path: {path}")))?;
        if def.kind() == FunctionKind::Query {
            return Err(FunctionError::msg(format!("{path} is a query: only mutations and actions can be scheduled")));
        }
        Ok(job_name(def.path()))
    }

    fn charge(&self, args: &Value) -> Result<(), FunctionError> {
        let mut budget = self.budget.lock();
        if budget.count + 1 > MAX_SCHEDULED_PER_CALL {
            return Err(FunctionError::msg(format!(
                "Too many functions scheduled by this function call (limit: {MAX_SCHEDULED_PER_CALL})"
            )));
        }
        let bytes = value::limits::size_of(args);
        if budget.args_bytes + bytes > MAX_SCHEDULED_ARGS_BYTES {
            return Err(FunctionError::msg(format!(
                "Too large total size of the arguments of the functions scheduled by this function call (limit: {MAX_SCHEDULED_ARGS_BYTES} bytes)"
            )));
        }
        budget.count += 1;
        budget.args_bytes += bytes;
        Ok(())
    }
}

/// `messages:send` → `messages.js:send`, the form `_scheduled_functions.name` has in Convex.
pub fn job_name(canonical: &str) -> String {
    match canonical.rsplit_once(':') {
        Some((module, function)) => format!("{module}.js:{function}"),
        None => format!("{canonical}.js:default"),
    }
}

/// Inserts a job document. When `parent` (the scheduled function this call runs as) has been canceled, the new
/// job is canceled from the start.
pub(crate) async fn insert_job(
    t: &mut Transaction,
    name: &str,
    args: Value,
    at_ms: f64,
    parent: Option<DocumentId>,
    now_ms: f64,
) -> Result<DocumentId, DatabaseError> {
    let canceled = match parent {
        Some(parent) => t.get(&parent).await?.as_ref().and_then(JobState::of) == Some(JobState::Canceled),
        None => false,
    };
    let mut doc = Object::new();
    doc.insert("name".into(), Value::String(name.to_string()));
    doc.insert("args".into(), Value::Array(vec![args]));
    doc.insert("scheduledTime".into(), Value::Float64(at_ms));
    if canceled {
        doc.insert("completedTime".into(), Value::Float64(now_ms));
        doc.insert("state".into(), JobState::Canceled.to_value());
    } else {
        doc.insert("state".into(), JobState::Pending.to_value());
    }
    t.insert(SCHEDULED_FUNCTIONS, doc).await
}

/// Cancels a job in `t`; the outer `Result` is the transaction's, the inner one what the caller sees.
pub(crate) async fn cancel_job(
    t: &mut Transaction,
    id: &DocumentId,
) -> Result<Result<(), FunctionError>, DatabaseError> {
    if t.table_name_of(id).as_deref() != Some(SCHEDULED_FUNCTIONS) {
        return Ok(Err(FunctionError::msg(format!("{id} is not the id of a scheduled function"))));
    }
    let Some(doc) = t.get(id).await? else {
        return Ok(Err(FunctionError::msg(format!("Scheduled function {id} does not exist"))));
    };
    let now = t.clock_now().as_millis_f64();
    match JobState::of(&doc) {
        Some(JobState::Pending) => {
            let mut fields = Object::new();
            fields.insert("state".into(), JobState::Canceled.to_value());
            fields.insert("completedTime".into(), Value::Float64(now));
            t.patch(id, fields, &[]).await?;
            Ok(Ok(()))
        }
        Some(JobState::InProgress) => {
            // The action keeps running; its completion keeps this state and adds `completedTime`.
            let mut fields = Object::new();
            fields.insert("state".into(), JobState::Canceled.to_value());
            t.patch(id, fields, &[]).await?;
            Ok(Ok(()))
        }
        Some(state) => Ok(Err(FunctionError::msg(format!(
            "Cannot cancel scheduled function {id}: it has already completed (state: {})",
            state.kind()
        )))),
        None => Ok(Err(FunctionError::internal(format!("scheduled function {id} has no valid state")))),
    }
}

/// Cancels a job in a transaction of its own (from actions and tooling); the outer `Result` is the transaction's.
pub(crate) async fn cancel_in_own_transaction(
    db: &database::Database,
    id: &DocumentId,
) -> Result<Result<(), FunctionError>, DatabaseError> {
    database::run_serializable(db, || async {
        let mut t = db.begin(false).await?;
        let outcome = cancel_job(&mut t, id).await?;
        db.commit(t).await?;
        Ok(outcome)
    })
    .await
}

/// The pending jobs due at `now_ms`, oldest due first (at most `limit`).
pub(crate) async fn due_jobs(t: &mut Transaction, now_ms: f64, limit: usize) -> Result<Vec<Object>, DatabaseError> {
    let mut request = ScanRequest::new(SCHEDULED_FUNCTIONS, BY_STATE_AND_TIME);
    request.range = IndexRange::all().eq("state.kind", "pending").lte("scheduledTime", now_ms);
    request.limit = Some(limit);
    Ok(t.scan(request).await?.documents)
}

/// The earliest due time of a pending job later than `now_ms`, if any.
pub(crate) async fn next_due(t: &mut Transaction, now_ms: f64) -> Result<Option<f64>, DatabaseError> {
    let mut request = ScanRequest::new(SCHEDULED_FUNCTIONS, BY_STATE_AND_TIME);
    request.range = IndexRange::all().eq("state.kind", "pending").gt("scheduledTime", now_ms);
    request.limit = Some(1);
    request.order = Order::Asc;
    Ok(t.scan(request).await?.documents.first().and_then(|d| d.get("scheduledTime")).and_then(Value::as_f64))
}

/// Jobs in a state (e.g. every action in progress), at most `limit`.
pub(crate) async fn jobs_in_state(t: &mut Transaction, kind: &str, limit: usize) -> Result<Vec<Object>, DatabaseError> {
    let mut request = ScanRequest::new(SCHEDULED_FUNCTIONS, BY_STATE_AND_TIME);
    request.range = IndexRange::all().eq("state.kind", kind);
    request.limit = Some(limit);
    Ok(t.scan(request).await?.documents)
}
