//! Runs scheduled functions and cron jobs.
//!
//! Every node of a deployment runs an executor; what runs is decided by transactions, never by node-local state:
//! * a scheduled **mutation** runs exactly once: checking that its job is still pending, the mutation's writes and
//!   the job's new state commit in one transaction (re-run on conflicts; a user error rolls the writes back and
//!   records `failed` in a second transaction that checks the job again);
//! * a scheduled **action** runs at most once: a transaction moves it `pending → inProgress` and takes a lease
//!   (`_system/leases`) that the running node renews; the result is recorded afterwards. A node that dies leaves its
//!   lease to expire and any executor then records the run as failed; a process on a store nobody else shares fails
//!   every leftover lease when it starts;
//! * a **cron** run is claimed by advancing the cron's `nextRun` (with the mutation's writes for a mutation, with a
//!   lease for an action); while an action run holds its lease, due runs are skipped and recorded as such.
//!
//! Timers and commit notifications only wake the executor early; each wake-up reads the due queue again.

use crate::cron::{CronJob, CronRun, BY_CRON_AND_TS, BY_NAME, BY_NEXT_RUN, CRON_JOBS, CRON_RUNS, RUNS_KEPT};
use crate::runtime::Runtime;
use crate::scheduler::{
    due_jobs, jobs_in_state, next_due, JobState, BY_COMPLETED_TIME, BY_EXPIRY, BY_STATE_AND_TIME, BY_SUBJECT, LEASES,
    SCHEDULED_FUNCTIONS,
};
use crate::{FunctionDefinition, FunctionError, FunctionKind};
use database::{DatabaseError, IndexRange, Order, ReadSet, ScanRequest, Transaction};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use value::{DocumentId, Object, Value};

/// How the executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Jobs and cron runs executing at once on this node.
    pub concurrency: usize,
    /// How long an action's lease lasts without renewal (renewed every third of it while the action runs).
    pub lease: Duration,
    /// How long completed jobs stay in `_scheduled_functions`.
    pub retention: Duration,
    /// The longest sleep between two looks at the due queue (other nodes' jobs wake this one through the commit
    /// log too; this bounds the delay when nothing else does).
    pub poll: Duration,
    /// Due jobs read per look.
    pub batch: usize,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            concurrency: 64,
            lease: Duration::from_secs(30),
            retention: Duration::from_secs(7 * 24 * 3600),
            poll: Duration::from_secs(1),
            batch: 256,
        }
    }
}

/// What a claimed run is: a job of `_scheduled_functions`, or a due run of a cron.
#[derive(Debug, Clone)]
pub(crate) enum Claim {
    Job(DocumentId),
    Cron { doc: DocumentId, due: f64, job: Arc<CronJob> },
}

impl Claim {
    /// Whether the run is still to be done (checked inside the transaction that does it, so it is recorded in the
    /// read set and a concurrent claim conflicts).
    pub(crate) async fn is_due(&self, t: &mut Transaction) -> Result<bool, DatabaseError> {
        match self {
            Claim::Job(id) => Ok(t.get(id).await?.as_ref().and_then(JobState::of) == Some(JobState::Pending)),
            Claim::Cron { doc, due, .. } => {
                let Some(cron) = t.get(doc).await? else { return Ok(false) };
                Ok(cron.get("nextRun").and_then(Value::as_f64) == Some(*due))
            }
        }
    }

    /// Records the end of the run in `t`. `advance`: move a cron's `nextRun` on (not after an action run, whose
    /// claim already did).
    pub(crate) async fn finish(
        &self,
        t: &mut Transaction,
        outcome: Result<(), String>,
        advance: bool,
    ) -> Result<(), DatabaseError> {
        let now = t.clock_now().as_millis_f64();
        match self {
            Claim::Job(id) => {
                let Some(doc) = t.get(id).await? else { return Ok(()) };
                let mut fields = Object::new();
                match JobState::of(&doc) {
                    Some(JobState::Canceled) => {}
                    Some(state) if state.is_final() => return Ok(()),
                    _ => {
                        let state = match outcome {
                            Ok(()) => JobState::Success,
                            Err(error) => JobState::Failed(error),
                        };
                        fields.insert("state".into(), state.to_value());
                    }
                }
                if !doc.contains_key("completedTime") {
                    fields.insert("completedTime".into(), Value::Float64(now));
                }
                if !fields.is_empty() {
                    t.patch(id, fields, &[]).await?;
                }
                Ok(())
            }
            Claim::Cron { doc, due, job } => {
                if advance {
                    advance_cron(t, doc, *due, job, now).await?;
                }
                let (status, error) = match outcome {
                    Ok(()) => ("success", None),
                    Err(e) => ("failed", Some(e)),
                };
                record_cron_run(t, CronRun { cron: job.name.clone(), ts: *due, status: status.into(), error }).await
            }
        }
    }

    fn subject(&self) -> DocumentId {
        match self {
            Claim::Job(id) => *id,
            Claim::Cron { doc, .. } => *doc,
        }
    }

    fn describe(&self) -> String {
        match self {
            Claim::Job(id) => format!("scheduled function {id}"),
            Claim::Cron { job, .. } => format!("cron job {:?}", job.name),
        }
    }
}

/// Moves a cron's `nextRun` past `due` (and past now).
async fn advance_cron(
    t: &mut Transaction,
    doc: &DocumentId,
    due: f64,
    job: &CronJob,
    now: f64,
) -> Result<(), DatabaseError> {
    let next = job.schedule.next_after(due, now).map_err(DatabaseError::Invalid)?;
    let mut fields = Object::new();
    fields.insert("nextRun".into(), Value::Float64(next));
    fields.insert("lastRun".into(), Value::Float64(due));
    t.patch(doc, fields, &[]).await
}

/// Appends a run to `_system/cron_runs`, keeping the newest [`RUNS_KEPT`] of that cron.
async fn record_cron_run(t: &mut Transaction, run: CronRun) -> Result<(), DatabaseError> {
    let mut request = ScanRequest::new(CRON_RUNS, BY_CRON_AND_TS);
    request.range = IndexRange::all().eq("cron", run.cron.as_str());
    request.order = Order::Desc;
    request.limit = Some(RUNS_KEPT + 8);
    let existing = t.scan(request).await?.documents;
    for old in existing.iter().skip(RUNS_KEPT.saturating_sub(1)) {
        if let Some(id) = doc_id(old) {
            t.delete(&id).await?;
        }
    }
    t.insert(CRON_RUNS, run.to_object()).await?;
    Ok(())
}

/// How a claimed mutation run ended.
pub(crate) enum ClaimedRun {
    /// Somebody else did it (or it was canceled) first.
    Skipped,
    Succeeded,
    /// A user error; the run's writes were rolled back. The message is what `state.error` shows.
    Failed(String),
    /// Could not be decided now (storage failure, conflicts beyond the retry budget): try again later.
    Retry(String),
}

/// The scheduled-function and cron executor of one node.
pub struct Executor {
    runtime: Arc<Runtime>,
    config: ExecutorConfig,
    /// This process's name in leases.
    node: String,
    /// Jobs and cron runs dispatched and not finished (by subject id), so a look at the queue skips them.
    in_flight: Mutex<HashSet<DocumentId>>,
    /// Runs that could not be decided, not to be tried again before the given time (ms).
    backoff: Mutex<HashMap<DocumentId, f64>>,
    permits: Arc<Semaphore>,
    last_sweep: Mutex<f64>,
    crons: HashMap<String, Arc<CronJob>>,
}

impl Executor {
    pub fn new(runtime: Arc<Runtime>, config: ExecutorConfig) -> Arc<Executor> {
        let mut id = [0u8; 6];
        runtime.database().entropy().fill(&mut id);
        let node = id.iter().map(|b| format!("{b:02x}")).collect();
        let crons = runtime.crons().jobs().map(|j| (j.name.clone(), Arc::new(j.clone()))).collect();
        Arc::new(Executor {
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            runtime,
            config,
            node,
            in_flight: Mutex::default(),
            backoff: Mutex::default(),
            last_sweep: Mutex::new(f64::MIN),
            crons,
        })
    }

    fn now_ms(&self) -> f64 {
        self.runtime.database().clock().now().as_millis_f64()
    }

    /// Start-up: on a store no other process shares, every lease left behind belongs to a process that is gone, so
    /// the runs it held are failed now; then the stored crons are made to match the app's.
    pub async fn start(&self) -> Result<(), FunctionError> {
        let shared = self.runtime.database().persistence().is_shared();
        self.recover_leases(!shared).await?;
        self.reconcile_crons().await
    }

    /// Runs everything due now to completion (jobs, cron runs, expired leases, retention); returns how many jobs and
    /// cron runs it started. Tests drive the executor with this on a manual clock.
    pub async fn run_due(self: &Arc<Self>) -> Result<usize, FunctionError> {
        let mut total = 0;
        loop {
            let mut running = JoinSet::new();
            let (started, _) = self.dispatch(&mut running).await?;
            while running.join_next().await.is_some() {}
            total += started;
            if started == 0 {
                return Ok(total);
            }
        }
    }

    /// Runs the executor until `stop` turns true.
    pub fn spawn(self: Arc<Self>, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if let Err(e) = self.start().await {
                tracing::error!(error = %e, "the scheduler could not start; scheduled functions and crons will not run");
                return;
            }
            let mut commits = self.runtime.database().subscribe();
            let queue = self.queue_reads();
            let mut running = JoinSet::new();
            loop {
                if *stop.borrow() {
                    break;
                }
                while running.try_join_next().is_some() {}
                let wait = match self.dispatch(&mut running).await {
                    Ok((_, next)) => next.map_or(self.config.poll, |at| {
                        Duration::from_secs_f64(((at - self.now_ms()) / 1000.0).max(0.0)).min(self.config.poll)
                    }),
                    Err(e) => {
                        tracing::warn!(error = %e, "the scheduler could not read its queue; trying again");
                        self.config.poll
                    }
                };
                let sleep = tokio::time::sleep(wait);
                tokio::pin!(sleep);
                loop {
                    tokio::select! {
                        _ = &mut sleep => break,
                        _ = stop.changed() => break,
                        Some(_) = running.join_next(), if !running.is_empty() => {}
                        commit = commits.recv() => match commit {
                            Ok(entry) if queue.as_ref().is_none_or(|q| entry.writes.overlaps(q)) => break,
                            Ok(_) => {}
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                        },
                    }
                }
                // One look at the queues answers every commit that arrived meanwhile (a burst of job completions
                // would otherwise cost a look each).
                while commits.try_recv().is_ok() {}
            }
            // Let running jobs finish their current step: actions record their outcome, mutations commit or not.
            while running.join_next().await.is_some() {}
        })
    }

    /// The index intervals whose writes may make something due: the pending queue and the crons' due times.
    fn queue_reads(&self) -> Option<ReadSet> {
        let catalog = self.runtime.database().catalog();
        let mut reads = ReadSet::default();
        for (table, index, range) in [
            (SCHEDULED_FUNCTIONS, BY_STATE_AND_TIME, IndexRange::all().eq("state.kind", "pending")),
            (CRON_JOBS, BY_NEXT_RUN, IndexRange::all()),
        ] {
            let info = catalog.table(table)?.index(index)?;
            reads.add(info.id, range.to_key_range(info).ok()?);
        }
        Some(reads)
    }

    /// One look at the queues: housekeeping when it is time, then every due job and cron run not already running
    /// is started in `running`. Returns how many were started, and when the next job or cron run not yet due is
    /// (read in the same snapshot).
    async fn dispatch(self: &Arc<Self>, running: &mut JoinSet<()>) -> Result<(usize, Option<f64>), FunctionError> {
        let now = self.now_ms();
        self.housekeeping(now).await?;
        let mut claims = Vec::new();
        let next;
        {
            let mut t = self.runtime.database().begin(true).await?;
            let skip = self.in_flight.lock().len();
            for doc in due_jobs(&mut t, now, self.config.batch + skip).await? {
                if let Some(id) = doc_id(&doc) {
                    claims.push((Claim::Job(id), doc));
                }
            }
            let mut request = ScanRequest::new(CRON_JOBS, BY_NEXT_RUN);
            request.range = IndexRange::all().lte("nextRun", now);
            request.limit = Some(self.config.batch + skip);
            for doc in t.scan(request).await?.documents {
                let (Some(id), Some(due)) = (doc_id(&doc), doc.get("nextRun").and_then(Value::as_f64)) else {
                    continue;
                };
                let Some(job) = doc.get("name").and_then(Value::as_str).and_then(|n| self.crons.get(n)) else {
                    continue;
                };
                claims.push((Claim::Cron { doc: id, due, job: job.clone() }, doc));
            }
            let next_job = next_due(&mut t, now).await?;
            let mut request = ScanRequest::new(CRON_JOBS, BY_NEXT_RUN);
            request.range = IndexRange::all().gt("nextRun", now);
            request.limit = Some(1);
            let next_cron = t.scan(request).await?.documents.first().and_then(|d| d.get("nextRun")?.as_f64());
            next = [next_job, next_cron].into_iter().flatten().reduce(f64::min);
        }
        let mut started = 0;
        for (claim, doc) in claims {
            let subject = claim.subject();
            if self.backoff.lock().get(&subject).is_some_and(|until| *until > now) {
                continue;
            }
            if !self.in_flight.lock().insert(subject) {
                continue;
            }
            let permit = match self.permits.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => break,
            };
            started += 1;
            let this = self.clone();
            running.spawn(async move {
                this.run_claim(claim, doc).await;
                this.in_flight.lock().remove(&subject);
                drop(permit);
            });
        }
        Ok((started, next))
    }

    async fn run_claim(&self, claim: Claim, doc: Object) {
        let (path, args) = match &claim {
            Claim::Job(_) => (
                doc.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                doc.get("args").and_then(|a| a.as_array()?.first().cloned()).unwrap_or(Value::Object(Object::new())),
            ),
            Claim::Cron { job, .. } => (job.path.clone(), job.args.clone()),
        };
        let request_id = self.runtime.request_id();
        if let Claim::Cron { job, .. } = &claim {
            if let Some(task) = job.system.clone() {
                return self.run_system(&claim, task, &request_id).await;
            }
        }
        let caller = crate::Caller { internal: true, ..Default::default() };
        let def = match self.runtime.lookup(&path, &caller) {
            Ok(def) if def.kind() != FunctionKind::Query => def.clone(),
            Ok(_) => {
                return self
                    .fail(&claim, &request_id, &path, format!("{path} is a query and cannot be scheduled"))
                    .await
            }
            Err(_) => {
                let message = format!("Could not find function for '{path}'");
                return self.fail(&claim, &request_id, &path, message).await;
            }
        };
        match def.kind() {
            FunctionKind::Mutation => self.run_mutation(&claim, &def, args, &request_id).await,
            _ => self.run_action(&claim, &def, args, &request_id).await,
        }
    }

    async fn run_mutation(&self, claim: &Claim, def: &FunctionDefinition, args: Value, request_id: &str) {
        let logs = crate::context::LogSink::default();
        let outcome = self.runtime.run_claimed_mutation(def, args, claim, &logs).await;
        log_lines(request_id, def.path(), &logs);
        match outcome {
            ClaimedRun::Skipped | ClaimedRun::Succeeded => {
                self.backoff.lock().remove(&claim.subject());
            }
            ClaimedRun::Failed(message) => self.fail(claim, request_id, def.path(), message).await,
            ClaimedRun::Retry(cause) => {
                tracing::warn!(request_id, function = def.path(), cause, "{} will be tried again", claim.describe());
                self.backoff.lock().insert(claim.subject(), self.now_ms() + 1000.0);
            }
        }
    }

    async fn run_action(&self, claim: &Claim, def: &FunctionDefinition, args: Value, request_id: &str) {
        if !self.claim_leased(claim, request_id).await {
            return;
        }
        let logs = crate::context::LogSink::default();
        let job = match claim {
            Claim::Job(id) => Some(*id),
            Claim::Cron { .. } => None,
        };
        let action = self.runtime.run_action_as(def, args, job, &logs);
        tokio::pin!(action);
        let renew_every = self.config.lease / 3;
        let result = loop {
            tokio::select! {
                result = &mut action => break result,
                _ = tokio::time::sleep(renew_every) => {
                    if let Err(e) = self.renew_lease(claim).await {
                        tracing::warn!(request_id, error = %e, "could not renew the lease of {}", claim.describe());
                    }
                }
            }
        };
        log_lines(request_id, def.path(), &logs);
        let outcome = result.map(|_| ()).map_err(|e| crate::error::job_error_text(request_id, &e));
        if let Err(message) = &outcome {
            tracing::warn!(request_id, function = def.path(), error = message.as_str(), "{} failed", claim.describe());
        }
        self.record_leased_end(claim, outcome, request_id).await;
    }

    /// Platform work on a cron schedule: claimed (with a lease) like an action run, run, recorded.
    async fn run_system(&self, claim: &Claim, task: crate::cron::SystemTask, request_id: &str) {
        if !self.claim_leased(claim, request_id).await {
            return;
        }
        let db = self.runtime.database().clone();
        let outcome = task(db.clone(), db.clock().now()).await;
        match &outcome {
            Ok(summary) => tracing::info!(request_id, "{}: {summary}", claim.describe()),
            Err(error) => tracing::warn!(request_id, error = error.as_str(), "{} failed", claim.describe()),
        }
        self.record_leased_end(claim, outcome.map(|_| ()), request_id).await;
    }

    /// [`Executor::claim_action`], with a claim that could not be decided logged and backed off; true when this node
    /// now holds the run.
    async fn claim_leased(&self, claim: &Claim, request_id: &str) -> bool {
        match self.claim_action(claim).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(request_id, error = %e, "{} could not be claimed", claim.describe());
                self.backoff.lock().insert(claim.subject(), self.now_ms() + 1000.0);
                false
            }
        }
    }

    /// Ends a leased run: its lease goes and its outcome is recorded, in one transaction. If that fails the lease
    /// stays and expires, and whoever sees it expired records the run as failed.
    async fn record_leased_end(&self, claim: &Claim, outcome: Result<(), String>, request_id: &str) {
        let db = self.runtime.database().clone();
        let recorded = database::run_serializable(&db, || async {
            let mut t = db.begin(false).await?;
            delete_lease(&mut t, &claim.subject()).await?;
            claim.finish(&mut t, outcome.clone(), false).await?;
            db.commit(t).await?;
            Ok::<_, DatabaseError>(())
        })
        .await;
        if let Err(e) = recorded {
            tracing::error!(request_id, error = %e, "could not record the end of {}", claim.describe());
        }
    }

    /// `pending → inProgress` (a job) or `nextRun` advanced (a cron), with a lease, in one transaction. False when
    /// someone else claimed it first — or, for a cron whose previous action run still holds its lease, after
    /// recording this run as skipped.
    async fn claim_action(&self, claim: &Claim) -> Result<bool, DatabaseError> {
        let db = self.runtime.database().clone();
        database::run_serializable(&db, || async {
            let mut t = db.begin(false).await?;
            if !claim.is_due(&mut t).await? {
                return Ok(false);
            }
            let now = t.clock_now().as_millis_f64();
            match claim {
                Claim::Job(id) => {
                    let mut fields = Object::new();
                    fields.insert("state".into(), JobState::InProgress.to_value());
                    t.patch(id, fields, &[]).await?;
                }
                Claim::Cron { doc, due, job } => {
                    advance_cron(&mut t, doc, *due, job, now).await?;
                    if find_lease(&mut t, doc).await?.is_some() {
                        tracing::info!(
                            cron = job.name,
                            "skipping a run of cron job {:?}: its previous run is still executing",
                            job.name
                        );
                        let skipped =
                            CronRun { cron: job.name.clone(), ts: *due, status: "skipped".into(), error: None };
                        record_cron_run(&mut t, skipped).await?;
                        db.commit(t).await?;
                        return Ok(false);
                    }
                }
            }
            let mut lease = Object::new();
            lease.insert("subject".into(), Value::String(claim.subject().to_string()));
            lease.insert("node".into(), Value::String(self.node.clone()));
            lease.insert("expiresAt".into(), Value::Float64(now + self.config.lease.as_secs_f64() * 1000.0));
            t.insert(LEASES, lease).await?;
            db.commit(t).await?;
            Ok(true)
        })
        .await
    }

    async fn renew_lease(&self, claim: &Claim) -> Result<(), DatabaseError> {
        let db = self.runtime.database().clone();
        database::run_serializable(&db, || async {
            let mut t = db.begin(false).await?;
            if let Some(lease) = find_lease(&mut t, &claim.subject()).await? {
                if let Some(id) = doc_id(&lease) {
                    let mut fields = Object::new();
                    let until = t.clock_now().as_millis_f64() + self.config.lease.as_secs_f64() * 1000.0;
                    fields.insert("expiresAt".into(), Value::Float64(until));
                    t.patch(&id, fields, &[]).await?;
                }
            }
            db.commit(t).await?;
            Ok(())
        })
        .await
    }

    /// Records a run that failed before or while it ran (checked again in the recording transaction).
    async fn fail(&self, claim: &Claim, request_id: &str, path: &str, message: String) {
        tracing::warn!(request_id, function = path, error = message.as_str(), "{} failed", claim.describe());
        let db = self.runtime.database().clone();
        let recorded = database::run_serializable(&db, || async {
            let mut t = db.begin(false).await?;
            if claim.is_due(&mut t).await? {
                claim.finish(&mut t, Err(message.clone()), true).await?;
                db.commit(t).await?;
            }
            Ok::<_, DatabaseError>(())
        })
        .await;
        if let Err(e) = recorded {
            tracing::warn!(request_id, error = %e, "could not record the failure of {}; trying again", claim.describe());
            self.backoff.lock().insert(claim.subject(), self.now_ms() + 1000.0);
        }
    }

    /// Expired leases (`all`: every lease) end their runs as failed: the node that held them is gone.
    async fn recover_leases(&self, all: bool) -> Result<(), FunctionError> {
        let db = self.runtime.database().clone();
        loop {
            let now = self.now_ms();
            let leases = {
                let mut t = db.begin(true).await?;
                let mut request = ScanRequest::new(LEASES, BY_EXPIRY);
                if !all {
                    request.range = IndexRange::all().lt("expiresAt", now);
                }
                request.limit = Some(100);
                t.scan(request).await?.documents
            };
            let count = leases.len();
            for lease in leases {
                let Some(lease_id) = doc_id(&lease) else { continue };
                let subject = lease.get("subject").and_then(Value::as_str).and_then(|s| DocumentId::parse(s).ok());
                database::run_serializable(&db, || async {
                    let mut t = db.begin(false).await?;
                    let Some(current) = t.get(&lease_id).await? else { return Ok(()) };
                    let expires = current.get("expiresAt").and_then(Value::as_f64).unwrap_or(0.0);
                    if !all && expires >= t.clock_now().as_millis_f64() {
                        return Ok(());
                    }
                    t.delete(&lease_id).await?;
                    if let Some(subject) = subject {
                        self.end_abandoned(&mut t, &subject).await?;
                    }
                    db.commit(t).await?;
                    Ok::<_, DatabaseError>(())
                })
                .await?;
            }
            if count < 100 {
                return Ok(());
            }
        }
    }

    /// The run a dead node held: a job in progress is failed (a canceled one gets its completion time); a cron run
    /// is recorded as failed.
    async fn end_abandoned(&self, t: &mut Transaction, subject: &DocumentId) -> Result<(), DatabaseError> {
        const LOST: &str = "Transient error while executing action: the server running it stopped before it finished";
        let Some(doc) = t.get(subject).await? else { return Ok(()) };
        match t.table_name_of(subject).as_deref() {
            Some(SCHEDULED_FUNCTIONS) => {
                let mut fields = Object::new();
                if JobState::of(&doc) == Some(JobState::InProgress) {
                    fields.insert("state".into(), JobState::Failed(LOST.into()).to_value());
                }
                if !doc.contains_key("completedTime") {
                    fields.insert("completedTime".into(), Value::Float64(t.clock_now().as_millis_f64()));
                }
                tracing::warn!(job = %subject, "scheduled action abandoned by a stopped server: recorded as failed");
                t.patch(subject, fields, &[]).await
            }
            Some(CRON_JOBS) => {
                let name = doc.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                let ts = doc.get("lastRun").and_then(Value::as_f64).unwrap_or_default();
                tracing::warn!(cron = name, "cron run abandoned by a stopped server: recorded as failed");
                record_cron_run(t, CronRun { cron: name, ts, status: "failed".into(), error: Some(LOST.into()) }).await
            }
            _ => Ok(()),
        }
    }

    /// Expired leases and retention, at most once per third of a lease.
    async fn housekeeping(&self, now: f64) -> Result<(), FunctionError> {
        {
            let mut last = self.last_sweep.lock();
            if now - *last < self.config.lease.as_secs_f64() * 1000.0 / 3.0 {
                return Ok(());
            }
            *last = now;
        }
        self.recover_leases(false).await?;
        self.sweep_completed(now).await
    }

    /// Deletes jobs completed longer than the retention ago, in bounded batches.
    async fn sweep_completed(&self, now: f64) -> Result<(), FunctionError> {
        const BATCH: usize = 500;
        let cutoff = now - self.config.retention.as_secs_f64() * 1000.0;
        let db = self.runtime.database().clone();
        for _ in 0..10 {
            let deleted = database::run_serializable(&db, || async {
                let mut t = db.begin(false).await?;
                let mut request = ScanRequest::new(SCHEDULED_FUNCTIONS, BY_COMPLETED_TIME);
                request.range = IndexRange::all().gt("completedTime", Value::Null).lt("completedTime", cutoff);
                request.limit = Some(BATCH);
                let old = t.scan(request).await?.documents;
                for doc in &old {
                    if let Some(id) = doc_id(doc) {
                        t.delete(&id).await?;
                    }
                }
                db.commit(t).await?;
                Ok::<_, DatabaseError>(old.len())
            })
            .await?;
            if deleted < BATCH {
                break;
            }
        }
        Ok(())
    }

    /// Makes `_system/cron_jobs` match the app's crons: new ones get their first run, changed ones (function,
    /// arguments or schedule) start over, removed ones go.
    async fn reconcile_crons(&self) -> Result<(), FunctionError> {
        let db = self.runtime.database().clone();
        database::run_serializable(&db, || async {
            let mut t = db.begin(false).await?;
            let now = t.clock_now().as_millis_f64();
            let stored = t.scan(ScanRequest::new(CRON_JOBS, BY_NAME)).await?.documents;
            let mut seen = HashSet::new();
            for doc in &stored {
                let (Some(id), Some(name)) = (doc_id(doc), doc.get("name").and_then(Value::as_str)) else { continue };
                match self.crons.get(name) {
                    Some(job) if seen.insert(name.to_string()) => {
                        let spec = job.spec();
                        if doc.get("spec").and_then(Value::as_str) != Some(spec.as_str()) {
                            let mut fields = Object::new();
                            fields.insert("spec".into(), Value::String(spec));
                            let first = job.schedule.first_run(now).map_err(DatabaseError::Invalid)?;
                            fields.insert("nextRun".into(), Value::Float64(first));
                            t.patch(&id, fields, &[]).await?;
                        }
                    }
                    _ => t.delete(&id).await?,
                }
            }
            for (name, job) in &self.crons {
                if seen.contains(name) {
                    continue;
                }
                let mut doc = Object::new();
                doc.insert("name".into(), Value::String(name.clone()));
                doc.insert("spec".into(), Value::String(job.spec()));
                let first = job.schedule.first_run(now).map_err(DatabaseError::Invalid)?;
                doc.insert("nextRun".into(), Value::Float64(first));
                t.insert(CRON_JOBS, doc).await?;
            }
            db.commit(t).await?;
            Ok::<_, DatabaseError>(())
        })
        .await?;
        Ok(())
    }
}

async fn find_lease(t: &mut Transaction, subject: &DocumentId) -> Result<Option<Object>, DatabaseError> {
    let mut request = ScanRequest::new(LEASES, BY_SUBJECT);
    request.range = IndexRange::all().eq("subject", subject.to_string());
    request.limit = Some(1);
    Ok(t.scan(request).await?.documents.into_iter().next())
}

async fn delete_lease(t: &mut Transaction, subject: &DocumentId) -> Result<(), DatabaseError> {
    if let Some(id) = find_lease(t, subject).await?.as_ref().and_then(doc_id) {
        t.delete(&id).await?;
    }
    Ok(())
}

fn doc_id(doc: &Object) -> Option<DocumentId> {
    doc.get("_id").and_then(Value::as_str).and_then(|s| DocumentId::parse(s).ok())
}

fn log_lines(request_id: &str, path: &str, logs: &crate::context::LogSink) {
    for line in logs.take() {
        tracing::info!(target: "authvex::scheduled", request_id, function = path, "{line}");
    }
}

/// What the scheduled-functions tooling lists (`authvex jobs list`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobInfo {
    pub id: String,
    pub name: String,
    pub scheduled_time: f64,
    pub completed_time: Option<f64>,
    pub state: JobState,
}

/// Lists jobs: those in `state` (e.g. `pending`), or all of them, oldest first (at most `limit`).
pub async fn list_jobs(
    db: &database::Database,
    state: Option<&str>,
    limit: usize,
) -> Result<Vec<JobInfo>, DatabaseError> {
    let mut t = db.begin(true).await?;
    let docs = match state {
        Some(kind) => jobs_in_state(&mut t, kind, limit).await?,
        None => {
            let mut request = ScanRequest::new(SCHEDULED_FUNCTIONS, database::schema::BY_CREATION_TIME);
            request.limit = Some(limit);
            t.scan(request).await?.documents
        }
    };
    Ok(docs
        .iter()
        .filter_map(|doc| {
            Some(JobInfo {
                id: doc.get("_id")?.as_str()?.to_string(),
                name: doc.get("name")?.as_str()?.to_string(),
                scheduled_time: doc.get("scheduledTime")?.as_f64()?,
                completed_time: doc.get("completedTime").and_then(Value::as_f64),
                state: JobState::of(doc)?,
            })
        })
        .collect())
}

/// Cancels a job from outside any function (`authvex jobs cancel`).
pub async fn cancel_job(db: &database::Database, id: &str) -> Result<Result<(), FunctionError>, DatabaseError> {
    let Ok(id) = DocumentId::parse(id) else {
        return Ok(Err(FunctionError::msg(format!("{id:?} is not a document id"))));
    };
    crate::scheduler::cancel_in_own_transaction(db, &id).await
}

/// The recorded runs of every cron (newest first per cron) and each cron's next run, for tooling.
pub async fn list_cron_runs(
    db: &database::Database,
) -> Result<Vec<(String, Option<f64>, Vec<CronRun>)>, DatabaseError> {
    let mut t = db.begin(true).await?;
    let crons = t.scan(ScanRequest::new(CRON_JOBS, BY_NAME)).await?.documents;
    let mut out = Vec::new();
    for cron in crons {
        let name = cron.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut request = ScanRequest::new(CRON_RUNS, BY_CRON_AND_TS);
        request.range = IndexRange::all().eq("cron", name.as_str());
        request.order = Order::Desc;
        let runs = t.scan(request).await?.documents.iter().filter_map(CronRun::from_object).collect();
        out.push((name, cron.get("nextRun").and_then(Value::as_f64), runs));
    }
    Ok(out)
}
