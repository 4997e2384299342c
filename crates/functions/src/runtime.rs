//! Executes registered functions: argument/return validation, one transaction per query or mutation (mutations
//! retried on OCC conflicts), actions and HTTP actions, error shaping and log lines.

use crate::app::{App, FunctionDefinition, FunctionKind, Handler, MutationHandler, Visibility};
use crate::context::{
    ActionCtx, Auth, Common, DatabaseReader, DatabaseWriter, LogSink, MutationCtx, QueryCtx, SharedTxn,
};
use crate::error::FunctionFailure;
use crate::http_router::{apply_cors, HttpRequest, HttpResponse};
use crate::path::FunctionPath;
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
}

/// Who is calling.
#[derive(Clone, Default)]
pub struct Caller {
    pub identity: Option<Arc<UserIdentity>>,
    /// Internal callers (other functions, the server itself) may call internal functions.
    pub internal: bool,
}

impl Caller {
    pub fn public(identity: Option<Arc<UserIdentity>>) -> Self {
        Caller { identity, internal: false }
    }
}

pub struct Runtime {
    db: Database,
    functions: BTreeMap<FunctionPath, FunctionDefinition>,
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
        if !app.errors.is_empty() {
            return Err(app.errors.join("; "));
        }
        let files = Arc::new(FileStorage::new(db.clone(), blobs, files));
        Ok(Arc::new(Runtime { db, functions: app.functions, http: app.http, env: RwLock::new(Arc::new(env)), files }))
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
        self.run_inner(path, args, caller, expected, At::Latest).await
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
            return Some(self.run_inner(path, args, caller, Some(FunctionKind::Query), At::Pinned(ts)).await);
        }
        let outcome = self.run_inner(path, args, caller, Some(FunctionKind::Query), At::Latest).await;
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
        self.run_inner(path, args, caller, Some(FunctionKind::Query), At::View(view)).await
    }

    async fn run_inner(
        self: &Arc<Self>,
        path: &str,
        args: Value,
        caller: Caller,
        expected: Option<FunctionKind>,
        at: At<'_>,
    ) -> Outcome {
        let request_id = self.request_id();
        let failure = |message: String| Outcome {
            result: Err(FunctionFailure::system(&request_id, &message)),
            log_lines: Vec::new(),
            ts: None,
            reads: None,
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
        let (result, ts, reads) = self.execute(&def, args, &caller, &logs, at).await;
        Outcome {
            result: result.map_err(|e| FunctionFailure::from_error(&request_id, &e)),
            log_lines: logs.take(),
            ts,
            reads,
        }
    }

    async fn execute(
        self: &Arc<Self>,
        def: &FunctionDefinition,
        args: Value,
        caller: &Caller,
        logs: &LogSink,
        at: At<'_>,
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
                    db: DatabaseReader { txn: shared.clone() },
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
                        let outcome = self.mutation_attempt(def, handler, args, caller, &attempt_logs).await;
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
                    Err(e) => {
                        logs.0.lock().extend(last_attempt_logs.take());
                        (Err(e), None, None)
                    }
                }
            }
            Handler::Action(handler) => {
                if let Some(validator) = &def.args {
                    if let Err(e) = validator.check(&args, &|_| None) {
                        return (Err(FunctionError::msg(format!("ArgumentValidationError: {e}"))), None, None);
                    }
                }
                let ctx = ActionCtx {
                    auth: Auth::new(caller.identity.clone()),
                    storage: self.storage_actions(),
                    runtime: self.clone(),
                    common: self.common(logs),
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
    ) -> Result<Attempted, FunctionError> {
        let txn = match self.db.begin(false).await {
            Ok(t) => t,
            Err(e) => return Ok(Attempted::NotStarted(e.into())),
        };
        if let Err(e) = self.check_args(def, &args, &txn) {
            return Ok(Attempted::NotStarted(e));
        }
        let shared: SharedTxn = Arc::new(tokio::sync::Mutex::new(Some(txn)));
        let deleted_files = AfterCommit::default();
        let ctx = MutationCtx {
            db: DatabaseWriter::new(shared.clone()),
            auth: Auth::new(caller.identity.clone()),
            storage: StorageWriter::new(
                StorageReader::new(shared.clone(), self.files.clone(), self.api_base_url()),
                deleted_files.clone(),
            ),
            common: self.common(attempt_logs),
        };
        let result = handler(ctx, args).await;
        let txn = shared.lock().await.take();
        match (result, txn) {
            (Ok(v), Some(txn)) => {
                let v = self.check_returns(def, v, Some(&txn))?;
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
        let id_table = |s: &str| {
            let id = value::DocumentId::parse(s).ok()?;
            txn.and_then(|t| t.table_name_of(&id))
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
        logs: &LogSink,
    ) -> Result<Value, FunctionError> {
        let caller = Caller { identity, internal: true };
        let def = self.lookup(path, &caller).map_err(FunctionError::msg)?.clone();
        if def.kind() != kind {
            return Err(FunctionError::msg(format!(
                "Trying to execute {} as {}, but it is defined as {}.",
                def.path,
                capitalize(kind.name()),
                capitalize(def.kind().name())
            )));
        }
        let (result, _, _) = Box::pin(self.execute(&def, args, &caller, logs, At::Latest)).await;
        result
    }

    /// Serves an HTTP action on the site origin.
    pub async fn handle_http(
        self: &Arc<Self>,
        request: HttpRequest,
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
        let caller = Caller { identity, internal: false };
        let ctx = ActionCtx {
            auth: Auth::new(caller.identity.clone()),
            storage: self.storage_actions(),
            runtime: self.clone(),
            common: self.common(&logs),
        };
        let mut response = match handler(ctx, request).await {
            Ok(r) => r,
            Err(e) => {
                let failure = FunctionFailure::from_error(&request_id, &e);
                let mut body = serde_json::json!({ "code": failure.message.replacen("\n", ": ", 1) });
                if let Some(data) = &failure.data {
                    body["data"] = value::json::to_json(data);
                }
                let mut r = HttpResponse::new(body.to_string().into());
                *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
                r
            }
        };
        for line in logs.take() {
            tracing::info!(target: "authvex::http_action", "{line}");
        }
        if let Some(cors) = cors {
            apply_cors(&cors, origin.as_deref(), &mut response);
        }
        if is_head {
            *response.body_mut() = bytes::Bytes::new();
        }
        response
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

fn header(request: &HttpRequest, name: &str) -> Option<String> {
    request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}
