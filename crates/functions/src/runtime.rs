//! Executes registered functions: argument/return validation, one transaction per query or mutation (mutations
//! retried on OCC conflicts), actions and HTTP actions, error shaping and log lines.

use crate::app::{App, FunctionDefinition, FunctionKind, Handler, MutationHandler, Visibility};
use crate::context::{
    ActionCtx, Auth, Common, DatabaseReader, DatabaseWriter, LogSink, MutationCtx, QueryCtx, SharedTxn,
};
use crate::error::FunctionFailure;
use crate::executor::{Claim, ClaimedRun};
use crate::http_router::{apply_cors, HttpBody, HttpHandler, HttpRequest, HttpResponse, StreamingHttpRequest};
use crate::pagination::Journal;
use crate::path::FunctionPath;
use crate::scheduler::Scheduler;
use crate::storage::{AfterCommit, FileStorage, FileStorageConfig, StorageActions, StorageReader, StorageWriter};
use crate::{FunctionError, UserIdentity};
use database::{Database, ReadSet, ReadView, Timestamp, Transaction};

/// Which snapshot a query reads.
#[derive(Clone, Copy)]
enum At<'a> {
    Latest,
    Pinned(Timestamp),
    View(&'a ReadView),
}
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::Arc;
use value::Value;

/// How a mutation attempt ended short of an error worth re-running for.
enum Attempted {
    /// Committed at this timestamp.
    Committed(Value, Timestamp),
    /// A claimed run (scheduled function, cron run) that was no longer due: nothing ran.
    NotDue,
    /// Failed before the handler ran (no transaction, invalid arguments): no logs, no timestamp.
    NotStarted(FunctionError),
}

/// The result of running one function, in the shape both transports need.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<Value, FunctionFailure>,
    pub log_lines: Vec<String>,
    /// Commit timestamp (mutations) or snapshot timestamp (queries).
    pub ts: Option<Timestamp>,
    /// What a query read (for subscriptions).
    pub reads: Option<ReadSet>,
    /// A subscribed query's journal after this execution (its pagination ends), to send with the result and pass
    /// to the next execution; `None` when it did not paginate.
    pub journal: Option<String>,
}

/// Who is calling.
#[derive(Clone, Default)]
pub struct Caller {
    pub identity: Option<Arc<UserIdentity>>,
    /// Internal callers (other functions, the server itself) may call internal functions.
    pub internal: bool,
    /// The scheduled function this call runs as, or was called from (what it schedules is canceled with it).
    pub job: Option<value::DocumentId>,
}

impl Caller {
    pub fn public(identity: Option<Arc<UserIdentity>>) -> Self {
        Caller { identity, internal: false, job: None }
    }
}

pub struct Runtime {
    db: Database,
    functions: BTreeMap<FunctionPath, FunctionDefinition>,
    crons: crate::cron::Crons,
    http: crate::http_router::HttpRouter,
    env: RwLock<Arc<BTreeMap<String, String>>>,
    files: Arc<FileStorage>,
}

impl Runtime {
    /// Builds the runtime; fails with every registration mistake of the app.
    pub fn new(db: Database, app: App, env: BTreeMap<String, String>) -> Result<Arc<Runtime>, String> {
        let clock = db.clock().clone();
        let blobs: blobs::DynBlobStore = Arc::new(blobs::MemoryBlobStore::new(move || clock.now()));
        Self::with_files(db, app, env, blobs, FileStorageConfig::default())
    }

    /// Builds the runtime with file bytes in `blobs` (the schema must include [`crate::storage::storage_schema`]).
    pub fn with_files(
        db: Database,
        app: App,
        env: BTreeMap<String, String>,
        blobs: blobs::DynBlobStore,
        files: FileStorageConfig,
    ) -> Result<Arc<Runtime>, String> {
        let mut errors = app.errors.clone();
        errors.extend(app.crons.errors.iter().cloned());
        for job in app.crons.jobs().filter(|j| j.system.is_none()) {
            let kind = FunctionPath::parse(&job.path).ok().and_then(|p| app.functions.get(&p)).map(|d| d.kind());
            match kind {
                Some(FunctionKind::Mutation | FunctionKind::Action) => {}
                Some(FunctionKind::Query) => errors
                    .push(format!("cron {:?} names {}, a query: crons run mutations and actions", job.name, job.path)),
                None => {
                    errors.push(format!("cron {:?} names {}, which is not a registered function", job.name, job.path))
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
        let files = Arc::new(FileStorage::new(db.clone(), blobs, files));
        Ok(Arc::new(Runtime {
            db,
            functions: app.functions,
            crons: app.crons,
            http: app.http,
            env: RwLock::new(Arc::new(env)),
            files,
        }))
    }

    /// File storage (upload and serving URLs, the orphan sweep).
    pub fn files(&self) -> &Arc<FileStorage> {
        &self.files
    }

    /// The API origin's URL functions build file URLs on (`CONVEX_CLOUD_URL`).
    fn api_base_url(&self) -> String {
        self.env.read().get("CONVEX_CLOUD_URL").map(|u| u.trim_end_matches('/').to_string()).unwrap_or_default()
    }

    fn storage_actions(&self) -> StorageActions {
        StorageActions::new(self.files.clone(), self.api_base_url())
    }

    /// The app's cron jobs.
    pub fn crons(&self) -> &crate::cron::Crons {
        &self.crons
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Replaces the deployment environment variables functions see.
    pub fn set_env(&self, env: BTreeMap<String, String>) {
        *self.env.write() = Arc::new(env);
    }

    pub fn env(&self) -> Arc<BTreeMap<String, String>> {
        self.env.read().clone()
    }

    /// A fresh request id (16 hex digits), as Convex error messages carry.
    pub fn request_id(&self) -> String {
        let mut bytes = [0u8; 8];
        self.db.entropy().fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The definition a client path names, if it exists and is visible to the caller.
    pub fn lookup(&self, path: &str, caller: &Caller) -> Result<&FunctionDefinition, String> {
        let parsed = FunctionPath::parse(path)?;
        match self.functions.get(&parsed) {
            Some(def) if def.visibility == Visibility::Public || caller.internal => Ok(def),
            _ => Err(format!(
                "Could not find public function for '{parsed}'. Did you forget to run `npx convex dev` or `npx convex deploy`?"
            )),
        }
    }

    fn common(&self, logs: &LogSink) -> Common {
        Common { clock: self.db.clock().clone(), env: self.env(), logs: logs.clone() }
    }

    /// Runs a function by path. `expected` is the kind the endpoint asks for (`None` = any, for `/api/function`).
    /// The path must already be valid (see [`FunctionPath::parse`]); an unknown function is a function error.
    pub async fn run(
        self: &Arc<Self>,
        path: &str,
        args: Value,
        caller: Caller,
        expected: Option<FunctionKind>,
    ) -> Outcome {
        self.run_inner(path, args, caller, expected, At::Latest, None).await
    }

    /// Runs a query as of timestamp `ts`. Exact when a snapshot at `ts` is pinned ([`database::Database::pin_latest`]);
    /// otherwise the query runs at the latest snapshot and the result stands only if no commit since `ts` wrote into
    /// what it read. `None` when neither holds (the caller should ask for a fresh timestamp).
    pub async fn run_query_at(
        self: &Arc<Self>,
        path: &str,
        args: Value,
        caller: Caller,
        ts: Timestamp,
    ) -> Option<Outcome> {
        if self.db.begin_at(ts).is_some() {
            return Some(self.run_inner(path, args, caller, Some(FunctionKind::Query), At::Pinned(ts), None).await);
        }
        let outcome = self.run_inner(path, args, caller, Some(FunctionKind::Query), At::Latest, None).await;
        let (Some(reads), Some(ran_at)) = (&outcome.reads, outcome.ts) else { return Some(outcome) };
        if ran_at <= ts {
            return Some(outcome);
        }
        let commits = self.db.commits_since(ts)?;
        let changed = commits.iter().filter(|c| c.ts <= ran_at).any(|c| c.writes.overlaps(reads));
        (!changed).then_some(outcome)
    }

    /// Runs a query in a shared read view (all of a sync client's queries at one timestamp).
    pub async fn run_query_in(self: &Arc<Self>, view: &ReadView, path: &str, args: Value, caller: Caller) -> Outcome {
        self.run_inner(path, args, caller, Some(FunctionKind::Query), At::View(view), None).await
    }

    /// Runs a subscribed query in a shared read view with its query journal (`None` on the first execution): its
    /// `paginate` calls end where the journal says, and [`Outcome::journal`] is the journal to keep.
    pub async fn run_subscribed_query(
        self: &Arc<Self>,
        view: &ReadView,
        path: &str,
        args: Value,
        caller: Caller,
        journal: Option<&str>,
    ) -> Outcome {
        self.run_inner(path, args, caller, Some(FunctionKind::Query), At::View(view), journal).await
    }

    async fn run_inner(
        self: &Arc<Self>,
        path: &str,
        args: Value,
        caller: Caller,
        expected: Option<FunctionKind>,
        at: At<'_>,
        journal_in: Option<&str>,
    ) -> Outcome {
        let request_id = self.request_id();
        let failure = |message: String| Outcome {
            result: Err(FunctionFailure::system(&request_id, &message)),
            log_lines: Vec::new(),
            ts: None,
            reads: None,
            journal: journal_in.map(str::to_string),
        };
        let def = match self.lookup(path, &caller) {
            Ok(def) => def.clone(),
            Err(message) => return failure(message),
        };
        if let Some(kind) = expected {
            if def.kind() != kind {
                return failure(format!(
                    "Trying to execute {} as {}, but it is defined as {}.",
                    def.path,
                    capitalize(kind.name()),
                    capitalize(def.kind().name())
                ));
            }
        }
        let logs = LogSink::default();
        let journal = Journal::new(journal_in);
        let (result, ts, reads) = self.execute(&def, args, &caller, &logs, at, &journal).await;
        let journal = match &result {
            Ok(_) => journal.output(),
            Err(_) => journal_in.map(str::to_string),
        };
        Outcome {
            result: result.map_err(|e| FunctionFailure::from_error(&request_id, &e)),
            log_lines: logs.take(),
            ts,
            reads,
            journal,
        }
    }

    async fn execute(
        self: &Arc<Self>,
        def: &FunctionDefinition,
        args: Value,
        caller: &Caller,
        logs: &LogSink,
        at: At<'_>,
        journal: &Journal,
    ) -> (Result<Value, FunctionError>, Option<Timestamp>, Option<ReadSet>) {
        if !matches!(args, Value::Object(_)) {
            return (Err(FunctionError::msg("ArgumentValidationError: arguments must be an object")), None, None);
        }
        if let Err(e) = value::limits::check_value(&args) {
            return (Err(FunctionError::msg(format!("ArgumentValidationError: {e}"))), None, None);
        }
        match &def.handler {
            Handler::Query(handler) => {
                let txn = match at {
                    At::Pinned(ts) => match self.db.begin_at(ts) {
                        Some(t) => t,
                        None => return (Err(FunctionError::internal("the pinned snapshot expired")), None, None),
                    },
                    At::View(view) => view.transaction(),
                    At::Latest => match self.db.begin(true).await {
                        Ok(t) => t,
                        Err(e) => return (Err(e.into()), None, None),
                    },
                };
                if let Err(e) = self.check_args(def, &args, &txn) {
                    return (Err(e), None, None);
                }
                let ts = txn.ts();
                let shared: SharedTxn = Arc::new(tokio::sync::Mutex::new(Some(txn)));
                let ctx = QueryCtx {
                    db: DatabaseReader { txn: shared.clone(), journal: journal.clone() },
                    auth: Auth::new(caller.identity.clone()),
                    storage: StorageReader::new(shared.clone(), self.files.clone(), self.api_base_url()),
                    common: self.common(logs),
                };
                let result = handler(ctx, args).await;
                let mut txn = shared.lock().await.take();
                let reads = txn.as_mut().map(Transaction::take_read_set);
                let result = result.and_then(|v| self.check_returns(def, v, txn.as_ref()));
                (result, Some(ts), reads)
            }
            Handler::Mutation(handler) => {
                // Each attempt logs into its own sink; only the last attempt's lines are the mutation's.
                let last_attempt_logs = LogSink::default();
                let outcome = database::run_serializable(&self.db, || {
                    let (args, last_attempt_logs) = (args.clone(), &last_attempt_logs);
                    async move {
                        let attempt_logs = LogSink::default();
                        let outcome = self.mutation_attempt(def, handler, args, caller, &attempt_logs, None).await;
                        *last_attempt_logs.0.lock() = attempt_logs.take();
                        if matches!(&outcome, Err(e) if e.is_conflict()) {
                            tracing::debug!(path = %def.path, "mutation conflicted");
                        }
                        outcome
                    }
                })
                .await;
                match outcome {
                    Ok(Attempted::Committed(v, ts)) => {
                        logs.0.lock().extend(last_attempt_logs.take());
                        (Ok(v), Some(ts), None)
                    }
                    Ok(Attempted::NotStarted(e)) => (Err(e), None, None),
                    Ok(Attempted::NotDue) => {
                        (Err(FunctionError::internal("an unclaimed mutation was not due")), None, None)
                    }
                    Err(e) => {
                        logs.0.lock().extend(last_attempt_logs.take());
                        (Err(e), None, None)
                    }
                }
            }
            Handler::Action(handler) => {
                if let Some(validator) = &def.args {
                    // No transaction: ids resolve against the catalog, as in queries and mutations.
                    let catalog = self.db.catalog();
                    let id_table = |s: &str| {
                        let id = value::DocumentId::parse(s).ok()?;
                        catalog.table_by_number(id.table().0).map(|t| t.name.clone())
                    };
                    if let Err(e) = validator.check(&args, &id_table) {
                        return (Err(FunctionError::msg(format!("ArgumentValidationError: {e}"))), None, None);
                    }
                }
                let ctx = ActionCtx {
                    auth: Auth::new(caller.identity.clone()),
                    scheduler: Scheduler::standalone(self.clone(), caller.job),
                    storage: self.storage_actions(),
                    runtime: self.clone(),
                    common: self.common(logs),
                    job: caller.job,
                };
                let result = handler(ctx, args).await;
                let result = result.and_then(|v| self.check_returns(def, v, None));
                (result, None, None)
            }
        }
    }

    /// One attempt at a mutation: a transaction, the handler, the return check, the commit.
    async fn mutation_attempt(
        self: &Arc<Self>,
        def: &FunctionDefinition,
        handler: &MutationHandler,
        args: Value,
        caller: &Caller,
        attempt_logs: &LogSink,
        claim: Option<&Claim>,
    ) -> Result<Attempted, FunctionError> {
        let mut txn = match self.db.begin(false).await {
            Ok(t) => t,
            Err(e) => return Ok(Attempted::NotStarted(e.into())),
        };
        if let Some(claim) = claim {
            if !claim.is_due(&mut txn).await? {
                return Ok(Attempted::NotDue);
            }
        }
        if let Err(e) = self.check_args(def, &args, &txn) {
            return Ok(Attempted::NotStarted(e));
        }
        let shared: SharedTxn = Arc::new(tokio::sync::Mutex::new(Some(txn)));
        let deleted_files = AfterCommit::default();
        let ctx = MutationCtx {
            db: DatabaseWriter::new(shared.clone()),
            auth: Auth::new(caller.identity.clone()),
            scheduler: Scheduler::in_transaction(self.clone(), shared.clone(), caller.job),
            storage: StorageWriter::new(
                StorageReader::new(shared.clone(), self.files.clone(), self.api_base_url()),
                deleted_files.clone(),
            ),
            common: self.common(attempt_logs),
        };
        let result = handler(ctx, args).await;
        let txn = shared.lock().await.take();
        match (result, txn) {
            (Ok(v), Some(mut txn)) => {
                let v = self.check_returns(def, v, Some(&txn))?;
                if let Some(claim) = claim {
                    claim.finish(&mut txn, Ok(()), true).await?;
                }
                let ts = self.db.commit(txn).await?;
                // Files the mutation deleted lose their bytes now that their rows are gone.
                let deleted = std::mem::take(&mut *deleted_files.lock());
                self.files.delete_blobs(deleted).await;
                Ok(Attempted::Committed(v, ts))
            }
            (Ok(_), None) => Err(FunctionError::internal("mutation transaction vanished")),
            (Err(e), _) => Err(e),
        }
    }

    fn check_args(&self, def: &FunctionDefinition, args: &Value, txn: &Transaction) -> Result<(), FunctionError> {
        let Some(validator) = &def.args else { return Ok(()) };
        let id_table = |s: &str| value::DocumentId::parse(s).ok().and_then(|id| txn.table_name_of(&id));
        validator.check(args, &id_table).map_err(|e| FunctionError::msg(format!("ArgumentValidationError: {e}")))
    }

    fn check_returns(
        &self,
        def: &FunctionDefinition,
        value: Value,
        txn: Option<&Transaction>,
    ) -> Result<Value, FunctionError> {
        value::limits::check_value(&value)
            .map_err(|e| FunctionError::msg(format!("function result is too large: {e}")))?;
        let Some(validator) = &def.returns else { return Ok(value) };
        let catalog = self.db.catalog();
        let id_table = |s: &str| {
            let id = value::DocumentId::parse(s).ok()?;
            match txn {
                Some(t) => t.table_name_of(&id),
                // Actions: ids resolve against the catalog.
                None => catalog.table_by_number(id.table().0).map(|t| t.name.clone()),
            }
        };
        validator.check(&value, &id_table).map_err(|e| FunctionError::msg(format!("ReturnsValidationError: {e}")))?;
        Ok(value)
    }

    /// `ctx.runQuery` & co. from inside an action: internal access, errors re-raised in the caller.
    pub(crate) async fn call_from_action(
        self: &Arc<Self>,
        kind: FunctionKind,
        path: &str,
        args: Value,
        identity: Option<Arc<UserIdentity>>,
        job: Option<value::DocumentId>,
        logs: &LogSink,
    ) -> Result<Value, FunctionError> {
        let caller = Caller { identity, internal: true, job };
        let def = self.lookup(path, &caller).map_err(FunctionError::msg)?.clone();
        if def.kind() != kind {
            return Err(FunctionError::msg(format!(
                "Trying to execute {} as {}, but it is defined as {}.",
                def.path,
                capitalize(kind.name()),
                capitalize(def.kind().name())
            )));
        }
        let journal = Journal::default();
        let (result, _, _) = Box::pin(self.execute(&def, args, &caller, logs, At::Latest, &journal)).await;
        result
    }

    /// Serves an HTTP action on the site origin, its request body read whole (a streaming route gets it as one
    /// chunk).
    pub async fn handle_http(
        self: &Arc<Self>,
        request: HttpRequest,
        identity: Option<Arc<UserIdentity>>,
    ) -> HttpResponse {
        self.serve_http(request.map(RequestBody::Full), identity).await
    }

    /// Serves an HTTP action whose request body is still arriving: a streaming route
    /// ([`crate::App::route_streaming`]) gets it as it comes; other routes get it whole (at most 20 MiB, else 413).
    /// The edge calls this for routes [`Runtime::http_streams_body`] names.
    pub async fn handle_http_streaming(
        self: &Arc<Self>,
        request: StreamingHttpRequest,
        identity: Option<Arc<UserIdentity>>,
    ) -> HttpResponse {
        self.serve_http(request.map(RequestBody::Stream), identity).await
    }

    /// Whether the HTTP route for `method path` takes its request body as a stream.
    pub fn http_streams_body(&self, method: &http::Method, path: &str) -> bool {
        self.http.streams_body(method, path)
    }

    async fn serve_http(
        self: &Arc<Self>,
        request: http::Request<RequestBody>,
        identity: Option<Arc<UserIdentity>>,
    ) -> HttpResponse {
        let origin = header(&request, "origin");
        let preflight_method = header(&request, "access-control-request-method");
        let is_head = request.method() == http::Method::HEAD;
        let (handler, cors) = match self.http.route(
            request.method(),
            request.uri().path(),
            origin.as_deref(),
            preflight_method.as_deref(),
        ) {
            Ok(found) => found,
            Err(response) => return response,
        };
        let request_id = self.request_id();
        let logs = LogSink::default();
        let caller = Caller { identity, internal: false, job: None };
        let ctx = ActionCtx {
            auth: Auth::new(caller.identity.clone()),
            scheduler: Scheduler::standalone(self.clone(), None),
            storage: self.storage_actions(),
            runtime: self.clone(),
            common: self.common(&logs),
            job: None,
        };
        let (parts, body) = request.into_parts();
        let outcome = match handler {
            HttpHandler::Streaming(handler) => {
                let body = match body {
                    RequestBody::Full(bytes) => blobs::stream_of(bytes),
                    RequestBody::Stream(stream) => stream,
                };
                handler(ctx, http::Request::from_parts(parts, body)).await
            }
            HttpHandler::Buffered(handler) => {
                let bytes = match body {
                    RequestBody::Full(bytes) => bytes,
                    RequestBody::Stream(stream) => match blobs::collect(stream, BUFFERED_BODY_LIMIT).await {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            let code = match e {
                                blobs::BlobError::TooLarge { .. } => protocol::ErrorCode::PayloadTooLarge,
                                _ => protocol::ErrorCode::UploadInterrupted,
                            };
                            return coded_response(code, &e.to_string());
                        }
                    },
                };
                handler(ctx, http::Request::from_parts(parts, bytes)).await
            }
        };
        let mut response = match outcome {
            Ok(r) => r,
            Err(e) => match e.code().filter(|c| (400..500).contains(&c.status())) {
                // The platform's refusals (a streamed body over the upload maximum, one cut off) keep their status.
                Some(code) => coded_response(code, &e.to_string()),
                None => {
                    let failure = FunctionFailure::from_error(&request_id, &e);
                    let mut body = serde_json::json!({ "code": failure.message.replacen("\n", ": ", 1) });
                    if let Some(data) = &failure.data {
                        body["data"] = value::json::to_json(data);
                    }
                    let mut r = HttpResponse::new(body.to_string().into());
                    *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    r.headers_mut()
                        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
                    r
                }
            },
        };
        for line in logs.take() {
            tracing::info!(target: "authvex::http_action", "{line}");
        }
        if let Some(cors) = cors {
            apply_cors(&cors, origin.as_deref(), &mut response);
        }
        if let Some(length) = response.body().length() {
            if !response.headers().contains_key(http::header::CONTENT_LENGTH) && response.body().as_bytes().is_none() {
                response.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
            }
        }
        if is_head {
            *response.body_mut() = HttpBody::default();
        }
        response
    }

    /// Runs a claimed mutation (a scheduled function or a cron run): the claim is checked and completed inside the
    /// mutation's own transaction, so the run happens exactly once. No identity (auth is not propagated to scheduled
    /// functions).
    pub(crate) async fn run_claimed_mutation(
        self: &Arc<Self>,
        def: &FunctionDefinition,
        args: Value,
        claim: &Claim,
        logs: &LogSink,
    ) -> ClaimedRun {
        let Handler::Mutation(handler) = &def.handler else {
            return ClaimedRun::Failed(format!("{} is not a mutation", def.path));
        };
        if !matches!(args, Value::Object(_)) {
            return ClaimedRun::Failed("ArgumentValidationError: arguments must be an object".into());
        }
        let job = match claim {
            Claim::Job(id) => Some(*id),
            Claim::Cron { .. } => None,
        };
        let caller = Caller { identity: None, internal: true, job };
        let request_id = self.request_id();
        let last_attempt_logs = LogSink::default();
        let outcome = database::run_serializable(&self.db, || {
            let (args, last_attempt_logs, caller) = (args.clone(), &last_attempt_logs, &caller);
            async move {
                let attempt_logs = LogSink::default();
                let outcome = self.mutation_attempt(def, handler, args, caller, &attempt_logs, Some(claim)).await;
                *last_attempt_logs.0.lock() = attempt_logs.take();
                outcome
            }
        })
        .await;
        logs.0.lock().extend(last_attempt_logs.take());
        match outcome {
            Ok(Attempted::Committed(..)) => ClaimedRun::Succeeded,
            Ok(Attempted::NotDue) => ClaimedRun::Skipped,
            Ok(Attempted::NotStarted(e)) | Err(e) if !e.is_conflict() && !e.is_internal() => {
                ClaimedRun::Failed(crate::error::job_error_text(&request_id, &e))
            }
            Ok(Attempted::NotStarted(e)) | Err(e) => ClaimedRun::Retry(e.to_string()),
        }
    }

    /// Runs an action as a scheduled function or cron run (internal access, no identity).
    pub(crate) async fn run_action_as(
        self: &Arc<Self>,
        def: &FunctionDefinition,
        args: Value,
        job: Option<value::DocumentId>,
        logs: &LogSink,
    ) -> Result<Value, FunctionError> {
        let caller = Caller { identity: None, internal: true, job };
        let journal = Journal::default();
        let (result, _, _) = self.execute(def, args, &caller, logs, At::Latest, &journal).await;
        result
    }

    /// Whether any HTTP route is registered.
    pub fn has_http_routes(&self) -> bool {
        !self.http.is_empty()
    }

    /// Registered functions, for codegen and listings.
    pub fn functions(&self) -> impl Iterator<Item = &FunctionDefinition> {
        self.functions.values()
    }
}

/// The body of a request to an HTTP action as the edge hands it over.
enum RequestBody {
    Full(bytes::Bytes),
    Stream(blobs::ByteStream),
}

/// The most a buffered HTTP action's body may be when it arrives as a stream (the edge's own limit).
const BUFFERED_BODY_LIMIT: usize = 20 << 20;

/// `{code, message}` with the code's status, the shape of the API origin's request errors.
fn coded_response(code: protocol::ErrorCode, message: &str) -> HttpResponse {
    let body = serde_json::to_string(&protocol::ErrorBody::new(code, message)).unwrap_or_default();
    let mut response = HttpResponse::new(body.into());
    *response.status_mut() =
        http::StatusCode::from_u16(code.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

fn header<B>(request: &http::Request<B>, name: &str) -> Option<String> {
    request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}
