//! One socket's sync state machine. The socket layer feeds it client frames, commit wake-ups and finished
//! actions, and sends what it returns; the engine never touches a socket, so tests drive it as a transcript.

use crate::mutation_log::{MutationLog, StoredMutation};
use crate::query_cache::{query_key, Evaluated, QueryKey};
use database::{Clock, ReadSet, Timestamp, UnixTime};
use functions::{AuthVerifier, Caller, FunctionKind, Outcome, Runtime, UserIdentity};
use protocol::sync::{
    chunk_transition, ClientMessage, QuerySetModification, ServerMessage, StateModification, StateVersion, TokenType,
    Transition, Ts,
};
use protocol::ErrorCode;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Largest Transition sent in one frame; bigger ones go as `TransitionChunk`s to clients that understand them.
pub const MAX_TRANSITION_BYTES: usize = 5_000_000;

/// What the socket layer must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this message as one text frame.
    Send(ServerMessage),
    /// Run an action concurrently and report it back with [`Worker::action_done`].
    RunAction { request_id: u32, path: String, args: value::Value, identity: Option<Arc<UserIdentity>> },
    /// Close the socket (`code: None` = a close frame without status code).
    Close { code: Option<u16>, reason: String },
}

/// Which client is on the other end (decides TransitionChunk support).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// npm `convex` ≥ 1.28 reassembles TransitionChunks.
    NpmWithChunks,
    Other,
}

struct Query {
    path: String,
    args: value::Value,
    /// Arguments that could not be decoded: the query fails with this message instead of running (a FatalError
    /// would stop an npm client for good).
    invalid: Option<String>,
    /// The arguments as Convex JSON text (part of the shared-evaluation key).
    args_json: String,
    /// Path, arguments, identity and journal: which shared evaluation this subscription reads.
    key: QueryKey,
    /// The query journal (pagination ends): from the client's Add, then from each evaluation; every re-execution
    /// runs with it, so a subscribed page keeps its end.
    journal: Option<String>,
    reads: Option<ReadSet>,
    hash: Option<u64>,
}

/// Shared services of every worker.
#[derive(Clone)]
pub struct SyncServices {
    pub runtime: Arc<Runtime>,
    pub verifier: Arc<dyn AuthVerifier>,
    pub mutations: Arc<MutationLog>,
    pub clock: Arc<dyn Clock>,
    /// Evaluations shared between sockets (same query, arguments, identity and timestamp).
    pub queries: Arc<crate::QueryCache>,
}

pub struct Worker {
    services: SyncServices,
    client: ClientKind,
    session_id: Option<String>,
    version: StateVersion,
    /// Every subscribed query's current result is known to hold at this timestamp (≥ `version.ts`): the commits to
    /// check for invalidation are the ones after it. Advances on every update, also when nothing had to be sent, so
    /// commits that never touch this client are checked once and not again on every later update.
    checked_ts: Timestamp,
    recv_query_set: u32,
    recv_identity: u32,
    queries: BTreeMap<u32, Query>,
    added: BTreeSet<u32>,
    removed: Vec<u32>,
    identity: Option<Arc<UserIdentity>>,
    /// The identity as JSON text (part of the shared-evaluation key; empty when anonymous).
    identity_json: String,
    identity_expires_at: Option<UnixTime>,
    identity_changed: bool,
    /// The last frame was an `Authenticate None` that signed an identity out (see [`Worker::signed_out_last`]).
    signed_out_last: bool,
    /// Something happened that calls for a Transition (a commit, a mutation, an action, a query-set change).
    update_due: bool,
    /// A Transition must follow even if nothing changed (after a mutation the client waits for one).
    force_transition: bool,
    clock_skew: i64,
    closed: bool,
}

fn args_object(args: &[Json]) -> Result<value::Value, String> {
    let arg = match args {
        [] => json!({}),
        [one] => one.clone(),
        _ => return Err(format!("expected one argument object, got {}", args.len())),
    };
    let v = value::json::from_json(arg).map_err(|e| format!("invalid arguments: {e}"))?;
    if !matches!(v, value::Value::Object(_)) {
        return Err("arguments must be an object".into());
    }
    Ok(v)
}

impl Worker {
    pub fn new(services: SyncServices, client: ClientKind) -> Self {
        Worker {
            services,
            client,
            session_id: None,
            version: StateVersion::default(),
            checked_ts: Timestamp::default(),
            recv_query_set: 0,
            recv_identity: 0,
            queries: BTreeMap::new(),
            added: BTreeSet::new(),
            removed: Vec::new(),
            identity: None,
            identity_json: String::new(),
            identity_expires_at: None,
            identity_changed: false,
            signed_out_last: false,
            update_due: false,
            force_transition: false,
            clock_skew: 0,
            closed: false,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn now(&self) -> UnixTime {
        self.services.clock.now()
    }

    fn caller(&self) -> Caller {
        Caller::public(self.identity.clone())
    }

    fn fatal(&mut self, code: ErrorCode, message: &str) -> Vec<Step> {
        self.closed = true;
        let error = code.prefixed(message);
        vec![Step::Send(ServerMessage::FatalError { error: error.clone() }), Step::Close { code: None, reason: error }]
    }

    /// The identity expired while connected: Convex answers AuthError (not attempted) and closes.
    fn expired(&mut self) -> Option<Vec<Step>> {
        let exp = self.identity_expires_at?;
        // Whole seconds, as JWT `exp` is: valid through the second it names.
        if self.now().as_secs() <= exp.as_secs() {
            return None;
        }
        self.closed = true;
        Some(vec![
            Step::Send(ServerMessage::auth_error(ErrorCode::TokenExpired.default_message(), self.recv_identity, false)),
            Step::Close { code: None, reason: "AuthError".into() },
        ])
    }

    /// Handles one text frame. Mutations run here, in arrival order; the returned steps are sent in order.
    pub async fn client_frame(&mut self, text: &str) -> Vec<Step> {
        if self.closed {
            return Vec::new();
        }
        self.signed_out_last = false;
        let message: ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => return self.fatal(ErrorCode::InvalidClientMessage, &e.to_string()),
        };
        let max_observed_ts = message.max_observed_ts();
        match message {
            ClientMessage::Connect { session_id, client_ts, .. } => {
                self.session_id = Some(session_id);
                if let Some(ts) = client_ts.filter(|t| *t > 0) {
                    self.clock_skew = ts - self.now().as_millis() as i64;
                }
                if let Some(seen) = max_observed_ts {
                    let latest = self.services.runtime.database().latest_ts();
                    if seen.0 > latest.0 {
                        self.closed = true;
                        let code = ErrorCode::ClientSawNewerTimestamp;
                        return vec![Step::Close { code: Some(1011), reason: code.prefixed(code.default_message()) }];
                    }
                }
                Vec::new()
            }
            ClientMessage::ModifyQuerySet { base_version, new_version, modifications } => {
                if base_version != self.recv_query_set || new_version != base_version.wrapping_add(1) {
                    return self.fatal(
                        ErrorCode::BaseVersionMismatch,
                        &format!("query set version {base_version}->{new_version}, server has {}", self.recv_query_set),
                    );
                }
                for modification in modifications {
                    match modification {
                        QuerySetModification::Add { query_id, udf_path, args, journal, .. } => {
                            if self.queries.contains_key(&query_id) {
                                return self.fatal(
                                    ErrorCode::DuplicateQueryId,
                                    &format!("query {query_id} is already subscribed"),
                                );
                            }
                            let (args, invalid) = match args_object(&args) {
                                Ok(a) => (a, None),
                                Err(e) => (value::Value::Null, Some(ErrorCode::ArgumentValidationError.prefixed(&e))),
                            };
                            self.removed.retain(|id| *id != query_id);
                            let args_json = value::json::to_json_string(&args);
                            let key = query_key(&udf_path, &args_json, &self.identity_json, journal.as_deref());
                            let query = Query {
                                path: udf_path,
                                args,
                                invalid,
                                args_json,
                                key,
                                journal,
                                reads: None,
                                hash: None,
                            };
                            self.queries.insert(query_id, query);
                            self.added.insert(query_id);
                        }
                        QuerySetModification::Remove { query_id } => {
                            if self.queries.remove(&query_id).is_none() {
                                return self
                                    .fatal(ErrorCode::UnknownQueryId, &format!("query {query_id} is not subscribed"));
                            }
                            self.added.remove(&query_id);
                            self.removed.push(query_id);
                        }
                    }
                }
                self.recv_query_set = new_version;
                self.update_due = true;
                Vec::new()
            }
            ClientMessage::Authenticate { token_type, value, base_version } => {
                if base_version != self.recv_identity {
                    self.closed = true;
                    return vec![Step::Close {
                        code: Some(1011),
                        reason: ErrorCode::IdentityVersionMismatch
                            .prefixed(&format!("{base_version} != {}", self.recv_identity)),
                    }];
                }
                match token_type {
                    TokenType::None => {
                        self.signed_out_last = self.identity.is_some();
                        self.identity = None;
                        self.identity_expires_at = None;
                    }
                    TokenType::Admin => {
                        self.closed = true;
                        return vec![
                            Step::Send(ServerMessage::auth_error(
                                "Admin keys are not supported by this deployment",
                                self.recv_identity,
                                true,
                            )),
                            Step::Close { code: None, reason: "AuthError".into() },
                        ];
                    }
                    TokenType::User => {
                        let token = value.unwrap_or_default();
                        match self.services.verifier.verify_token(&token).await {
                            Ok(verified) => {
                                self.identity = Some(Arc::new(verified.identity));
                                self.identity_expires_at = verified.expires_at;
                            }
                            Err(e) => {
                                self.closed = true;
                                return vec![
                                    Step::Send(ServerMessage::auth_error(e.message, self.recv_identity, true)),
                                    Step::Close { code: None, reason: "AuthError".into() },
                                ];
                            }
                        }
                    }
                }
                self.recv_identity += 1;
                self.identity_json =
                    self.identity.as_ref().map(|i| value::json::to_json_string(&i.to_value())).unwrap_or_default();
                for query in self.queries.values_mut() {
                    query.key = query_key(&query.path, &query.args_json, &self.identity_json, query.journal.as_deref());
                }
                self.identity_changed = true;
                self.update_due = true;
                Vec::new()
            }
            ClientMessage::Mutation { request_id, udf_path, args, .. } => {
                if let Some(steps) = self.expired() {
                    return steps;
                }
                let mut steps = Vec::new();
                // The slot stays locked while the mutation runs: a replay from the same session on another socket
                // (the client reconnected while this one was still running it) waits and answers from the log.
                let slot = self.session_id.clone().map(|s| self.services.mutations.slot((s, request_id)));
                let mut stored = match slot {
                    Some(slot) => Some(slot.lock_owned().await),
                    None => None,
                };
                let response = match stored.as_deref() {
                    Some(Some(done)) => done.response.clone(),
                    _ => {
                        let outcome = match args_object(&args) {
                            Ok(args) => {
                                let kind = Some(FunctionKind::Mutation);
                                self.services.runtime.run(&udf_path, args, self.caller(), kind).await
                            }
                            Err(e) => failed(e),
                        };
                        let response = response(FunctionKind::Mutation, request_id, &outcome);
                        if let Some(slot) = stored.as_mut() {
                            **slot = Some(StoredMutation { response: response.clone() });
                        }
                        response
                    }
                };
                drop(stored);
                steps.push(Step::Send(response));
                self.update_due = true;
                self.force_transition = true;
                steps.extend(self.flush().await);
                steps
            }
            ClientMessage::Action { request_id, udf_path, args, .. } => {
                if let Some(steps) = self.expired() {
                    return steps;
                }
                match args_object(&args) {
                    Ok(args) => {
                        vec![Step::RunAction { request_id, path: udf_path, args, identity: self.identity.clone() }]
                    }
                    Err(e) => vec![Step::Send(response(FunctionKind::Action, request_id, &failed(e)))],
                }
            }
            ClientMessage::Event { .. } => Vec::new(),
        }
    }

    /// An action finished: its response, then (since it may have written) an update.
    pub async fn action_done(&mut self, request_id: u32, outcome: &Outcome) -> Vec<Step> {
        if self.closed {
            return Vec::new();
        }
        let body = response(FunctionKind::Action, request_id, outcome);
        self.update_due = true;
        vec![Step::Send(body)]
    }

    /// A commit happened somewhere: re-evaluation is due (which queries is decided in [`Worker::flush`] from the
    /// commit log, so no commit can be missed).
    pub fn commit_notified(&mut self) {
        if !self.queries.is_empty() {
            self.update_due = true;
        }
    }

    /// Whether the last frame was an `Authenticate None` that dropped an identity. The npm client switching tokens
    /// (its React provider re-running `setAuth`) clears the old one first and sends the new one a moment later: the
    /// socket waits briefly for that frame so the queries never show a signed-out result in between.
    pub fn signed_out_last(&self) -> bool {
        self.signed_out_last
    }

    /// Computes and returns the next Transition if one is due: queued adds and removes, queries whose read set a
    /// commit since the last Transition wrote into, or all queries after an identity change — all at one snapshot.
    pub async fn flush(&mut self) -> Vec<Step> {
        if self.closed || !self.update_due {
            return Vec::new();
        }
        if !self.queries.is_empty() || self.identity_changed {
            if let Some(steps) = self.expired() {
                return steps;
            }
        }
        self.update_due = false;
        // One view per commit, shared by every socket the commit woke (see `Database::shared_read_view`).
        let view = match self.services.runtime.database().shared_read_view().await {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "sync: cannot open a read view");
                self.closed = true;
                return vec![Step::Close { code: Some(1011), reason: ErrorCode::InternalServerError.wire().into() }];
            }
        };
        let new_ts = view.ts().max(Timestamp(self.version.ts.0));
        // Which existing queries does a commit in (checked_ts, new_ts] invalidate?
        let mut rerun: BTreeSet<u32> = self.added.clone();
        if self.identity_changed {
            rerun.extend(self.queries.keys().copied());
        } else if new_ts > self.checked_ts {
            // A commit is visible in snapshots a moment before it reaches the commit log. Read the log's end first:
            // if it is behind the view, the log cannot say what the view contains, so everything re-runs.
            let database = self.services.runtime.database();
            let logged = database.latest_ts();
            match database.commits_since(self.checked_ts).filter(|_| logged >= new_ts) {
                Some(commits) => {
                    for (id, q) in &self.queries {
                        let hit = match &q.reads {
                            Some(reads) => commits.iter().filter(|c| c.ts <= new_ts).any(|c| c.writes.overlaps(reads)),
                            None => true,
                        };
                        if hit {
                            rerun.insert(*id);
                        }
                    }
                }
                None => rerun.extend(self.queries.keys().copied()),
            }
        }
        let mut modifications: Vec<StateModification> =
            self.removed.drain(..).map(|query_id| StateModification::QueryRemoved { query_id }).collect();
        let caller = self.caller();
        for id in rerun {
            let Some(query) = self.queries.get(&id) else { continue };
            let evaluated = match &query.invalid {
                Some(message) => Arc::new(Evaluated::from_outcome(&failed(message.clone()))),
                None => {
                    let runtime = &self.services.runtime;
                    let (path, args, caller, view) = (&query.path, &query.args, &caller, &view);
                    let journal = query.journal.as_deref();
                    self.services
                        .queries
                        .get_or_run(view.ts(), &query.key, || {
                            runtime.run_subscribed_query(view, path, args.clone(), caller.clone(), journal)
                        })
                        .await
                }
            };
            let is_new = self.added.contains(&id);
            if let Some(query) = self.queries.get_mut(&id) {
                // A failed query has no read set: re-run it on every commit until it succeeds.
                query.reads = evaluated.reads.clone();
                if query.journal != evaluated.journal {
                    query.journal = evaluated.journal.clone();
                    query.key = query_key(&query.path, &query.args_json, &self.identity_json, query.journal.as_deref());
                }
                if is_new || query.hash != Some(evaluated.digest) {
                    modifications.push(evaluated.modification(id));
                }
                query.hash = Some(evaluated.digest);
            }
        }
        self.added.clear();
        self.identity_changed = false;
        self.checked_ts = new_ts;
        let end = StateVersion { query_set: self.recv_query_set, identity: self.recv_identity, ts: Ts(new_ts.0) };
        if end == self.version && modifications.is_empty() && !self.force_transition {
            return Vec::new();
        }
        if end.query_set == self.version.query_set
            && end.identity == self.version.identity
            && modifications.is_empty()
            && !self.force_transition
        {
            // Only time moved and nothing this client sees changed: nothing to say.
            return Vec::new();
        }
        self.force_transition = false;
        let start = self.version;
        self.version = end;
        let transition = Transition {
            start_version: start,
            end_version: end,
            modifications,
            client_clock_skew: Some(self.clock_skew),
            server_ts: Some(self.now().as_nanos()),
        };
        // Only a Transition that might be too large is serialised here to measure it; the socket serialises the rest.
        if self.client == ClientKind::NpmWithChunks && transition.encoded_len_bound() > MAX_TRANSITION_BYTES {
            let message = ServerMessage::Transition(transition);
            if let Ok(text) = message.encode() {
                if text.len() > MAX_TRANSITION_BYTES {
                    return chunk_transition(&text, MAX_TRANSITION_BYTES).into_iter().map(Step::Send).collect();
                }
            }
            return vec![Step::Send(message)];
        }
        vec![Step::Send(ServerMessage::Transition(transition))]
    }

    /// Checked periodically: an identity whose token expired ends the connection the way Convex ends it.
    pub fn tick(&mut self) -> Vec<Step> {
        if self.closed {
            return Vec::new();
        }
        self.expired().unwrap_or_default()
    }

    pub fn version(&self) -> StateVersion {
        self.version
    }

    /// The timestamp of the last Transition.
    pub fn ts(&self) -> Timestamp {
        Timestamp(self.version.ts.0)
    }
}

/// A request refused before running (its arguments are not one object): a failure without logs.
fn failed(message: String) -> Outcome {
    Outcome {
        result: Err(functions::FunctionFailure { message, data: None }),
        log_lines: Vec::new(),
        ts: None,
        reads: None,
        journal: None,
    }
}

/// The answer to a Mutation (carrying its commit timestamp when it succeeded) or an Action.
fn response(kind: FunctionKind, request_id: u32, outcome: &Outcome) -> ServerMessage {
    let (success, result, error_data) = match &outcome.result {
        Ok(v) => (true, value::json::to_json(v), None),
        Err(f) => (false, Json::String(f.message.clone()), f.data.as_ref().map(value::json::to_json)),
    };
    let log_lines = outcome.log_lines.clone();
    match kind {
        FunctionKind::Mutation => {
            let ts = success.then(|| Ts(outcome.ts.unwrap_or_default().0));
            ServerMessage::MutationResponse { request_id, success, result, error_data, ts, log_lines }
        }
        _ => ServerMessage::ActionResponse { request_id, success, result, error_data, log_lines },
    }
}
