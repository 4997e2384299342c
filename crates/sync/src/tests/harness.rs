//! The transcript harness: a deployment on in-memory storage with a manual clock, named sockets driven exactly the
//! way `http_api::sync_socket` drives a [`Worker`] (every client frame is followed by a `flush`, every finished
//! action by `action_done` + `flush`), and a script of client frames, commits and expected server messages.
//!
//! Script lines are JSON objects (blank lines and lines starting with `//` are skipped). Every line acts on the
//! socket named by `"on"` (default `"a"`; sockets open on first use as [`ClientKind::Other`]):
//!
//! | line | meaning |
//! |---|---|
//! | `{"send": msg}` | a client frame, then `flush` (`"flush": false` skips the flush); `"$NAME"` strings are replaced by bound values |
//! | `{"send_raw": "text"}` | a client frame sent verbatim |
//! | `{"connect": "session id"}` | shorthand for a `Connect` frame |
//! | `{"expect": pattern}` | the next server message matches `pattern` |
//! | `{"expect_close": true \| code}` | the next step closes the socket without a status code (`true`) or with `code` |
//! | `{"expect_nothing": true}` | the server has said nothing more |
//! | `{"expect_chain": {"to": {querySet, identity}, "modifications": [...], "allow": [...]}}` | Transitions up to that version; their modifications together are exactly `modifications` (any order) plus any matching `allow` |
//! | `{"notify": true}` | a commit wake-up: `commit_notified` + `flush` |
//! | `{"flush": true}` / `{"tick": true}` | `flush` / `tick` |
//! | `{"advance_secs": n}` | moves the deployment clock |
//! | `{"mutate": {"path": p, "args": {...}}}` | runs a mutation outside any socket (as the HTTP API would); no wake-up |
//!
//! Matching follows `convex-wire.md` §9: `"$NAME"` binds on first use and must be equal later, `"$A>=$B"` binds `A`
//! and checks that the decoded timestamp is ≥ `B`, `"*"` matches anything present, `clientClockSkew` and
//! `serverTs` are ignored, extra keys are allowed. One addition: `"<absent>"` requires the key to be missing.
//!
//! Independently of the script, every Transition a socket receives must chain from the previous one (the first from
//! the zero version) with non-decreasing counters and timestamp, TransitionChunks are reassembled the way the npm
//! client does, and nothing may follow a Close.

use crate::{ClientKind, MutationLog, Step, SyncServices, Worker, MAX_TRANSITION_BYTES};
use database::{Database, DatabaseConfig, ManualClock, Schema, SeededEntropy, TableDefinition, Timestamp};
use functions::{
    ActionCtx, App, AuthVerifier, Caller, Document, FunctionError, FunctionKind, MutationCtx, QueryCtx, Runtime,
    UserIdentity, VerifiedToken, VerifyError,
};
use parking_lot::Mutex;
use protocol::sync::{StateVersion, Ts};
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use value::{obj, Object, Value};

/// A `ts` string as the database timestamp it encodes.
pub fn decode_ts(text: &str) -> Option<Timestamp> {
    Ts::decode(text).map(|ts| Timestamp(ts.0))
}

/// The deployment clock starts here (nanoseconds since the epoch).
pub const START_NANOS: u64 = 1_700_000_000_000_000_000;
/// The same instant in seconds (token expiry is in seconds).
pub const START_SECS: u64 = START_NANOS / 1_000_000_000;
pub const SESSION_1: &str = "11111111-1111-4111-8111-111111111111";
pub const SESSION_2: &str = "22222222-2222-4222-8222-222222222222";

/// How many times each query handler ran (to tell "not re-run" from "re-run but unchanged").
#[derive(Default)]
pub struct Runs(Mutex<BTreeMap<&'static str, usize>>);

impl Runs {
    fn bump(&self, path: &'static str) {
        *self.0.lock().entry(path).or_default() += 1;
    }

    pub fn of(&self, path: &str) -> usize {
        self.0.lock().get(path).copied().unwrap_or(0)
    }
}

fn bodies(docs: Vec<Document>) -> Vec<Value> {
    docs.into_iter().map(|d| obj! {"body" => d.get("body").cloned().unwrap_or(Value::Null)}).collect()
}

fn str_arg(args: &Value, field: &str) -> String {
    args.get(field).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// The test functions of `convex-wire.md` §9 plus a few more.
fn test_app(runs: Arc<Runs>) -> App {
    let mut app = App::new();
    app.schema(
        Schema::new()
            .table(
                "messages",
                TableDefinition::new().index("by_author", &["author"]).search_index("search_body", "body", &[]),
            )
            .table("other", TableDefinition::new()),
    );
    let r = runs.clone();
    app.query("messages:list", move |ctx: QueryCtx, _: Value| {
        let r = r.clone();
        async move {
            r.bump("messages:list");
            Ok(bodies(ctx.db.query("messages").collect().await?))
        }
    });
    let r = runs.clone();
    app.query("messages:byAuthor", move |ctx: QueryCtx, args: Value| {
        let r = r.clone();
        async move {
            r.bump("messages:byAuthor");
            let author = str_arg(&args, "author");
            Ok(bodies(ctx.db.query("messages").with_index("by_author", |q| q.eq("author", author)).collect().await?))
        }
    });
    // The search demo's `messages:search`, as bodies.
    let r = runs.clone();
    app.query("messages:search", move |ctx: QueryCtx, args: Value| {
        let r = r.clone();
        async move {
            r.bump("messages:search");
            let text = str_arg(&args, "query");
            let q = ctx.db.query("messages").with_search_index("search_body", |q| q.search("body", &text));
            Ok(bodies(q.take(10).await?))
        }
    });
    // Newest first, one page (the pagination demo's `messages:list`), items as bodies.
    let r = runs.clone();
    app.query("messages:page", move |ctx: QueryCtx, args: Value| {
        let r = r.clone();
        async move {
            r.bump("messages:page");
            let opts = functions::pagination_opts_of(&args)?;
            let page = ctx.db.query("messages").order(functions::Order::Desc).paginate(opts).await?;
            Ok(page.map(|d| d.get("body").cloned().unwrap_or(Value::Null)))
        }
    });
    app.mutation("messages:send", |ctx: MutationCtx, args: Value| async move {
        ctx.db.insert("messages", obj! {"body" => args.get("body").cloned().unwrap_or(Value::Null)}).await?;
        Ok(Value::Null)
    });
    app.mutation("messages:sendAs", |ctx: MutationCtx, args: Value| async move {
        let fields = obj! {"body" => str_arg(&args, "body"), "author" => str_arg(&args, "author")};
        ctx.db.insert("messages", fields).await?;
        Ok(Value::Null)
    });
    // Changes a field no query returns: queries over messages re-run but their results stay the same.
    app.mutation("messages:setAuthor", |ctx: MutationCtx, args: Value| async move {
        for doc in ctx.db.query("messages").collect().await? {
            if let Some(id) = doc.id() {
                ctx.db.patch(id, obj! {"author" => str_arg(&args, "author")}).await?;
            }
        }
        Ok(Value::Null)
    });
    app.mutation("other:insert", |ctx: MutationCtx, _: Value| async move {
        ctx.db.insert("other", obj! {"n" => 1.0}).await?;
        Ok(Value::Null)
    });
    app.action("actions:echo", |ctx: ActionCtx, args: Value| async move {
        ctx.info("echo");
        Ok(args)
    });
    app.action("actions:send", |ctx: ActionCtx, args: Value| async move {
        ctx.run_mutation("messages:send", args).await?;
        Ok(Value::Null)
    });
    let whoami = |ctx: QueryCtx, _: Value| async move { Ok(ctx.auth.get_user_identity().map(|i| i.subject.clone())) };
    app.query("whoami:get", whoami);
    app.query("whoami:default", whoami);
    app.mutation("errors:convexError", |_: MutationCtx, _: Value| async move {
        Err::<Value, _>(FunctionError::convex(obj! {"code" => "NOPE"}))
    });
    app.mutation("errors:plain", |_: MutationCtx, _: Value| async move { Err::<Value, _>(FunctionError::msg("boom")) });
    app.query("errors:query", |_: QueryCtx, _: Value| async move {
        Err::<Value, _>(FunctionError::convex(obj! {"code" => "NOPE"}))
    });
    app.query("messages:first", |ctx: QueryCtx, _: Value| async move {
        match ctx.db.query("messages").first().await? {
            Some(doc) => Ok(doc.get("body").cloned().unwrap_or(Value::Null)),
            None => Err(FunctionError::msg("no messages yet")),
        }
    });
    app.query("big:get", |_: QueryCtx, args: Value| async move {
        let size = args.get("size").and_then(Value::as_f64).unwrap_or(0.0) as usize;
        Ok("x".repeat(size))
    });
    app
}

/// Accepts `JWT_OK` (subject `u1`) and `JWT_U2` (subject `u2`), both expiring at [`TestVerifier::set_expiry`];
/// rejects everything else.
#[derive(Default)]
pub struct TestVerifier {
    expires_at: Mutex<Option<u64>>,
}

impl TestVerifier {
    /// Tokens verified from now on expire at this time (seconds since the epoch).
    pub fn set_expiry(&self, at_secs: Option<u64>) {
        *self.expires_at.lock() = at_secs;
    }
}

fn identity(subject: &str) -> UserIdentity {
    UserIdentity {
        token_identifier: format!("https://issuer.test|{subject}"),
        subject: subject.to_string(),
        issuer: "https://issuer.test".into(),
        fields: Object::new(),
    }
}

impl AuthVerifier for TestVerifier {
    fn verify_token<'a>(
        &'a self,
        token: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<VerifiedToken, VerifyError>> + Send + 'a>> {
        let expires_at = self.expires_at.lock().map(database::UnixTime::from_secs);
        Box::pin(async move {
            match token {
                "JWT_OK" => Ok(VerifiedToken { identity: identity("u1"), expires_at }),
                "JWT_U2" => Ok(VerifiedToken { identity: identity("u2"), expires_at }),
                _ => Err(VerifyError {
                    code: protocol::ErrorCode::InvalidAuthHeader,
                    message: "Could not verify token claim. Check that the JWT contains valid claims and matches your auth provider configuration.".into(),
                }),
            }
        })
    }
}

/// Everything the workers of one deployment share.
pub struct Deployment {
    pub runtime: Arc<Runtime>,
    pub clock: ManualClock,
    pub verifier: Arc<TestVerifier>,
    pub runs: Arc<Runs>,
    pub services: SyncServices,
}

impl Deployment {
    /// `commit_window`: how many recent commits the database keeps for read-set checks.
    pub async fn new(commit_window: usize) -> Deployment {
        Deployment::on(test_support::test_persistence().await, commit_window).await
    }

    pub async fn on(persistence: storage::DynPersistence, commit_window: usize) -> Deployment {
        let runs = Arc::new(Runs::default());
        let app = test_app(runs.clone());
        let clock = ManualClock::new(START_NANOS);
        let mut config =
            DatabaseConfig::new(app.schema_ref().clone(), Arc::new(clock.clone()), Arc::new(SeededEntropy::new(7)));
        config.commit_window = commit_window;
        let db = Database::open(persistence, config).await.unwrap();
        let runtime = Runtime::new(db, app, BTreeMap::new()).unwrap();
        let verifier = Arc::new(TestVerifier::default());
        let services = SyncServices {
            runtime: runtime.clone(),
            verifier: verifier.clone(),
            mutations: Arc::new(MutationLog::default()),
            clock: Arc::new(clock.clone()),
            queries: Arc::new(crate::QueryCache::default()),
        };
        Deployment { runtime, clock, verifier, runs, services }
    }
}

/// One server step as the test client sees it.
#[derive(Debug)]
enum Out {
    Message(Json),
    Close(Option<u16>),
}

struct Socket {
    worker: Worker,
    outbox: VecDeque<Out>,
    /// `endVersion` of the last Transition (the client's version).
    version: Json,
    /// Every Transition received, reassembled from chunks where needed.
    transitions: Vec<Json>,
    /// How many frames each Transition took (1 = a plain Transition).
    frames: Vec<usize>,
    chunks: Vec<Json>,
    closed: bool,
}

pub struct Session {
    pub d: Deployment,
    sockets: BTreeMap<String, Socket>,
    vars: BTreeMap<String, Json>,
}

/// Runs a script on a fresh deployment and requires that every server message was expected.
pub async fn check(script: &str) -> Session {
    let mut session = Session::new().await;
    session.run(script).await;
    session.finish();
    session
}

/// A message for failure output (a 6 MB query result would drown everything else).
fn short(json: &Json) -> String {
    let text = json.to_string();
    if text.chars().count() > 1500 {
        format!("{}… ({} bytes)", text.chars().take(1500).collect::<String>(), text.len())
    } else {
        text
    }
}

impl Session {
    pub async fn new() -> Session {
        Session::on(Deployment::new(10_000).await)
    }

    pub fn on(d: Deployment) -> Session {
        let vars = ["JWT_OK", "JWT_U2", "JWT_BAD"].into_iter().map(|t| (t.to_string(), json!(t))).collect();
        Session { d, sockets: BTreeMap::new(), vars }
    }

    /// Opens a socket for a client of `kind` (sockets used without opening are [`ClientKind::Other`]).
    pub fn open(&mut self, name: &str, kind: ClientKind) {
        let worker = Worker::new(self.d.services.clone(), kind);
        let zero = serde_json::to_value(StateVersion::default()).unwrap();
        let socket = Socket {
            worker,
            outbox: VecDeque::new(),
            version: zero,
            transitions: Vec::new(),
            frames: Vec::new(),
            chunks: Vec::new(),
            closed: false,
        };
        assert!(self.sockets.insert(name.to_string(), socket).is_none(), "socket {name} is already open");
    }

    fn socket(&mut self, name: &str) -> &mut Socket {
        if !self.sockets.contains_key(name) {
            self.open(name, ClientKind::Other);
        }
        self.sockets.get_mut(name).unwrap()
    }

    /// A bound variable.
    pub fn var(&self, name: &str) -> &Json {
        self.vars.get(name).unwrap_or_else(|| panic!("${name} is not bound"))
    }

    /// A bound variable holding a timestamp.
    pub fn ts(&self, name: &str) -> Timestamp {
        let text = self.var(name).as_str().unwrap_or_else(|| panic!("${name} is not a timestamp string"));
        decode_ts(text).unwrap_or_else(|| panic!("${name} = {text:?} does not decode as a timestamp"))
    }

    /// Every Transition `socket` received so far.
    pub fn transitions(&self, socket: &str) -> &[Json] {
        &self.sockets[socket].transitions
    }

    /// How many frames each Transition of `socket` took.
    pub fn frames(&self, socket: &str) -> &[usize] {
        &self.sockets[socket].frames
    }

    /// What the client holds for `query_id` after applying every Transition: the value of the last QueryUpdated,
    /// `{"failed": message}` after a QueryFailed, `None` when never added or removed.
    pub fn client_value(&self, socket: &str, query_id: u64) -> Option<Json> {
        let mut value = None;
        for t in &self.sockets[socket].transitions {
            for m in t["modifications"].as_array().into_iter().flatten() {
                if m["queryId"].as_u64() != Some(query_id) {
                    continue;
                }
                value = match m["type"].as_str() {
                    Some("QueryUpdated") => Some(m["value"].clone()),
                    Some("QueryFailed") => Some(json!({"failed": m["errorMessage"]})),
                    _ => None,
                };
            }
        }
        value
    }

    /// Drops whatever `socket` has queued (for tests that look at [`Session::client_value`] instead).
    pub fn drain(&mut self, socket: &str) {
        self.socket(socket).outbox.clear();
    }

    pub fn is_closed(&self, socket: &str) -> bool {
        self.sockets[socket].worker.is_closed()
    }

    /// [`Worker::signed_out_last`] of `socket`.
    pub fn signed_out_last(&self, socket: &str) -> bool {
        self.sockets[socket].worker.signed_out_last()
    }

    /// Runs a public query outside any socket.
    pub async fn query(&self, path: &str, args: Value) -> Value {
        let outcome = self.d.runtime.run(path, args, Caller::public(None), Some(FunctionKind::Query)).await;
        outcome.result.unwrap_or_else(|f| panic!("query {path} failed: {}", f.message))
    }

    /// Requires that no socket has unread output.
    pub fn finish(&self) {
        for (name, socket) in &self.sockets {
            let left: Vec<String> = socket.outbox.iter().map(|o| format!("{o:?}")).collect();
            assert!(left.is_empty(), "socket {name} has unexpected output:\n{}", left.join("\n"));
        }
    }

    /// Runs script lines (see the module docs).
    pub async fn run(&mut self, script: &str) {
        for (n, text) in script.lines().enumerate() {
            let text = text.trim();
            if text.is_empty() || text.starts_with("//") {
                continue;
            }
            let line: Json = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("script line {} is not JSON ({e}): {text}", n + 1));
            if let Err(e) = self.line(&line).await {
                let on = line.get("on").and_then(Json::as_str).unwrap_or("a");
                let left: Vec<String> = self
                    .sockets
                    .get(on)
                    .map(|s| s.outbox.iter().map(|o| format!("{o:?}").chars().take(1500).collect()).collect())
                    .unwrap_or_default();
                panic!(
                    "script line {}: {text}\n  {e}\n  still queued on {on}: {left:#?}\n  bound: {:?}",
                    n + 1,
                    self.vars
                );
            }
        }
    }

    async fn line(&mut self, line: &Json) -> Result<(), String> {
        let on = line.get("on").and_then(Json::as_str).unwrap_or("a").to_string();
        if let Some(message) = line.get("send") {
            let message = self.substitute(message)?;
            let flush = line.get("flush").and_then(Json::as_bool).unwrap_or(true);
            return self.send(&on, &message.to_string(), flush).await;
        }
        if let Some(text) = line.get("send_raw") {
            let text = text.as_str().ok_or("send_raw takes a string")?;
            return self.send(&on, text, true).await;
        }
        if let Some(session_id) = line.get("connect") {
            let frame = json!({"type": "Connect", "sessionId": session_id, "connectionCount": 0,
                               "lastCloseReason": "InitialConnect", "clientTs": 0});
            return self.send(&on, &frame.to_string(), true).await;
        }
        if let Some(pattern) = line.get("expect") {
            return match self.socket(&on).outbox.pop_front() {
                Some(Out::Message(actual)) => self
                    .matches(pattern, &actual, "$")
                    .map_err(|e| format!("{e}\n  expected {}\n  got      {}", short(pattern), short(&actual))),
                other => Err(format!("expected a message, got {other:?}")),
            };
        }
        if let Some(close) = line.get("expect_close") {
            let want = match close {
                Json::Bool(true) => None,
                code => Some(code.as_u64().ok_or("expect_close takes true or a code")? as u16),
            };
            return match self.socket(&on).outbox.pop_front() {
                Some(Out::Close(code)) if code == want => Ok(()),
                other => Err(format!("expected a close with code {want:?}, got {other:?}")),
            };
        }
        if line.get("expect_nothing").is_some() {
            return match self.socket(&on).outbox.front() {
                None => Ok(()),
                Some(out) => Err(format!("expected nothing, got {out:?}")),
            };
        }
        if let Some(chain) = line.get("expect_chain") {
            return self.expect_chain(&on, chain);
        }
        if line.get("notify").is_some() {
            let socket = self.socket(&on);
            socket.worker.commit_notified();
            let steps = socket.worker.flush().await;
            return self.apply(&on, steps).await;
        }
        if line.get("flush").is_some() {
            let steps = self.socket(&on).worker.flush().await;
            return self.apply(&on, steps).await;
        }
        if line.get("tick").is_some() {
            let steps = self.socket(&on).worker.tick();
            return self.apply(&on, steps).await;
        }
        if let Some(secs) = line.get("advance_secs") {
            self.d.clock.advance(secs.as_u64().ok_or("advance_secs takes seconds")? * 1_000_000_000);
            return Ok(());
        }
        if let Some(call) = line.get("mutate") {
            let path = call.get("path").and_then(Json::as_str).ok_or("mutate needs a path")?;
            let args =
                value::json::from_json(call.get("args").cloned().unwrap_or(json!({}))).map_err(|e| e.to_string())?;
            let outcome = self.d.runtime.run(path, args, Caller::public(None), Some(FunctionKind::Mutation)).await;
            return outcome.result.map(|_| ()).map_err(|f| format!("mutation {path} failed: {}", f.message));
        }
        Err("unknown script line".into())
    }

    /// Replaces `"$NAME"` strings by their bound values.
    fn substitute(&self, message: &Json) -> Result<Json, String> {
        Ok(match message {
            Json::String(s) if s.starts_with('$') => {
                self.vars.get(&s[1..]).cloned().ok_or_else(|| format!("{s} is not bound"))?
            }
            Json::Array(items) => Json::Array(items.iter().map(|i| self.substitute(i)).collect::<Result<_, _>>()?),
            Json::Object(fields) => Json::Object(
                fields.iter().map(|(k, v)| Ok((k.clone(), self.substitute(v)?))).collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }

    /// A client frame, handled as the socket loop handles it.
    pub async fn send(&mut self, on: &str, text: &str, flush: bool) -> Result<(), String> {
        let socket = self.socket(on);
        let mut steps = socket.worker.client_frame(text).await;
        if flush {
            steps.extend(socket.worker.flush().await);
        }
        self.apply(on, steps).await
    }

    /// Records a worker's steps; actions run to completion (after the steps before them were recorded) and report
    /// back through `action_done` + `flush`.
    async fn apply(&mut self, on: &str, steps: Vec<Step>) -> Result<(), String> {
        let mut queue: VecDeque<Step> = steps.into();
        while let Some(step) = queue.pop_front() {
            match step {
                Step::Send(message) => {
                    // Through the frame text, as the socket sends it.
                    let text = message.encode().map_err(|e| format!("cannot serialise {message:?}: {e}"))?;
                    let message =
                        serde_json::from_str(&text).map_err(|e| format!("server sent bad JSON {text}: {e}"))?;
                    self.record(on, Out::Message(message))?
                }
                Step::Close { code, .. } => self.record(on, Out::Close(code))?,
                Step::RunAction { request_id, path, args, identity } => {
                    let caller = Caller::public(identity);
                    let outcome = self.d.runtime.run(&path, args, caller, Some(FunctionKind::Action)).await;
                    let socket = self.socket(on);
                    let mut more = socket.worker.action_done(request_id, &outcome).await;
                    more.extend(socket.worker.flush().await);
                    queue.extend(more);
                }
            }
        }
        Ok(())
    }

    /// Checks the invariants every server message must keep, reassembles chunks, and queues the result.
    fn record(&mut self, on: &str, out: Out) -> Result<(), String> {
        let socket = self.socket(on);
        if socket.closed {
            return Err(format!("server output after the socket was closed: {out:?}"));
        }
        let message = match out {
            Out::Close(_) => {
                if !socket.chunks.is_empty() {
                    return Err("close in the middle of a chunked Transition".into());
                }
                socket.closed = true;
                socket.outbox.push_back(out);
                return Ok(());
            }
            Out::Message(m) => m,
        };
        let kind = message.get("type").and_then(Json::as_str).unwrap_or_default().to_string();
        if kind == "TransitionChunk" {
            let part = message["partNumber"].as_u64().ok_or("TransitionChunk without partNumber")?;
            let total = message["totalParts"].as_u64().ok_or("TransitionChunk without totalParts")?;
            let chunk = message["chunk"].as_str().ok_or("TransitionChunk without chunk")?;
            if part != socket.chunks.len() as u64 {
                return Err(format!("TransitionChunk part {part} arrived after {} parts", socket.chunks.len()));
            }
            if chunk.len() > MAX_TRANSITION_BYTES {
                return Err(format!("TransitionChunk part {part} has {} bytes", chunk.len()));
            }
            if let Some(first) = socket.chunks.first() {
                if first["transitionId"] != message["transitionId"] || first["totalParts"] != message["totalParts"] {
                    return Err("TransitionChunks of one Transition disagree on transitionId/totalParts".into());
                }
            }
            socket.chunks.push(message);
            if socket.chunks.len() as u64 == total {
                let parts = std::mem::take(&mut socket.chunks);
                let text: String = parts.iter().filter_map(|p| p["chunk"].as_str()).collect();
                let transition: Json =
                    serde_json::from_str(&text).map_err(|e| format!("reassembled chunks are not JSON: {e}"))?;
                return self.transition(on, transition, parts.len());
            }
            return Ok(());
        }
        if !socket.chunks.is_empty() {
            return Err(format!("a {kind} message interrupted a chunked Transition"));
        }
        match kind.as_str() {
            "Transition" => return self.transition(on, message, 1),
            "MutationResponse" | "ActionResponse" => {
                if !message["logLines"].is_array() {
                    return Err(format!("{kind} without a logLines array: {}", short(&message)));
                }
                if message.get("errorData") == Some(&Json::Null) {
                    return Err(format!("{kind} with errorData null (reads as a ConvexError): {}", short(&message)));
                }
                if kind == "MutationResponse" && message["success"] == json!(true) {
                    message["ts"].as_str().and_then(decode_ts).ok_or("successful mutation without ts")?;
                }
            }
            "AuthError" | "FatalError" | "Ping" => {}
            other => return Err(format!("unknown server message type {other:?}: {}", short(&message))),
        }
        self.socket(on).outbox.push_back(Out::Message(message));
        Ok(())
    }

    /// Version chaining (`convex-wire.md` §1.5) and the shape of modifications.
    fn transition(&mut self, on: &str, t: Json, frames: usize) -> Result<(), String> {
        let socket = self.socket(on);
        if t["type"] != "Transition" {
            return Err(format!("not a Transition: {}", short(&t)));
        }
        if t["startVersion"] != socket.version {
            return Err(format!("Transition starts at {} but the client is at {}", t["startVersion"], socket.version));
        }
        let end = &t["endVersion"];
        let decode = |v: &Json| v["ts"].as_str().and_then(decode_ts);
        let (Some(prev_ts), Some(end_ts)) = (decode(&socket.version), decode(end)) else {
            return Err(format!("undecodable ts in {}", short(&t)));
        };
        for counter in ["querySet", "identity"] {
            let (a, b) = (socket.version[counter].as_u64(), end[counter].as_u64());
            if a.is_none() || b.is_none() || b < a {
                return Err(format!("{counter} went from {:?} to {:?}", a, b));
            }
        }
        if end_ts < prev_ts {
            return Err(format!("ts went backwards from {} to {}", prev_ts.0, end_ts.0));
        }
        if !(t["clientClockSkew"].is_i64() && t["serverTs"].is_u64()) {
            return Err("clientClockSkew and serverTs must both be numbers".into());
        }
        for m in t["modifications"].as_array().ok_or("modifications is not an array")? {
            match m["type"].as_str() {
                Some("QueryUpdated") | Some("QueryFailed") if !m["logLines"].is_array() => {
                    return Err(format!("modification without logLines: {m}"))
                }
                Some("QueryFailed") if m.get("errorData") == Some(&Json::Null) => {
                    return Err(format!("QueryFailed with errorData null: {m}"))
                }
                Some("QueryUpdated" | "QueryFailed" | "QueryRemoved") => {}
                _ => return Err(format!("unknown modification {m}")),
            }
        }
        socket.version = end.clone();
        socket.transitions.push(t.clone());
        socket.frames.push(frames);
        socket.outbox.push_back(Out::Message(t));
        Ok(())
    }

    fn expect_chain(&mut self, on: &str, chain: &Json) -> Result<(), String> {
        let to = &chain["to"];
        let wanted = chain["modifications"].as_array().cloned().unwrap_or_default();
        let allowed = chain["allow"].as_array().cloned().unwrap_or_default();
        let mut got = Vec::new();
        loop {
            let Some(Out::Message(t)) = self.socket(on).outbox.pop_front() else {
                return Err(format!("the chain ended before reaching {to}"));
            };
            if t["type"] != "Transition" {
                return Err(format!("expected a Transition in the chain, got {}", short(&t)));
            }
            got.extend(t["modifications"].as_array().cloned().unwrap_or_default());
            let end = &t["endVersion"];
            if end["querySet"] == to["querySet"] && end["identity"] == to["identity"] {
                break;
            }
        }
        let mut matched = vec![false; wanted.len()];
        'each: for m in &got {
            for (i, pattern) in wanted.iter().enumerate() {
                if !matched[i] && self.try_match(pattern, m) {
                    matched[i] = true;
                    continue 'each;
                }
            }
            if !allowed.iter().any(|p| self.try_match(p, m)) {
                return Err(format!("unexpected modification {m} in the chain"));
            }
        }
        match matched.iter().position(|m| !m) {
            Some(i) => Err(format!("no modification in the chain matched {}; got {got:?}", wanted[i])),
            None => Ok(()),
        }
    }

    /// Matches without binding anything unless the whole match succeeds.
    fn try_match(&mut self, pattern: &Json, actual: &Json) -> bool {
        let saved = self.vars.clone();
        let ok = self.matches(pattern, actual, "$").is_ok();
        if !ok {
            self.vars = saved;
        }
        ok
    }

    fn matches(&mut self, pattern: &Json, actual: &Json, at: &str) -> Result<(), String> {
        match pattern {
            Json::String(p) if p == "*" => Ok(()),
            Json::String(p) if p.starts_with('$') && p.contains(">=") => {
                let (name, lower) = p.split_once(">=").unwrap_or_default();
                self.matches(&json!(name), actual, at)?;
                let text = actual.as_str().ok_or_else(|| format!("{at}: {actual} is not a timestamp"))?;
                let got = decode_ts(text).ok_or_else(|| format!("{at}: {text:?} is not a timestamp"))?;
                let bound = self.ts(lower.trim_start_matches('$'));
                if got < bound {
                    return Err(format!("{at}: {} < {lower} = {}", got.0, bound.0));
                }
                Ok(())
            }
            Json::String(p) if p.starts_with('$') => match self.vars.get(&p[1..]) {
                Some(bound) if bound == actual => Ok(()),
                Some(bound) => Err(format!("{at}: {p} is bound to {bound}, got {}", short(actual))),
                None => {
                    self.vars.insert(p[1..].to_string(), actual.clone());
                    Ok(())
                }
            },
            Json::Object(fields) => {
                let got =
                    actual.as_object().ok_or_else(|| format!("{at}: expected an object, got {}", short(actual)))?;
                for (key, p) in fields {
                    if key == "clientClockSkew" || key == "serverTs" {
                        continue;
                    }
                    match got.get(key) {
                        None if p == "<absent>" => {}
                        Some(v) if p == "<absent>" => return Err(format!("{at}.{key}: must be absent, got {v}")),
                        None => return Err(format!("{at}.{key}: missing")),
                        Some(v) => self.matches(p, v, &format!("{at}.{key}"))?,
                    }
                }
                Ok(())
            }
            Json::Array(items) => {
                let got = actual.as_array().ok_or_else(|| format!("{at}: expected an array, got {}", short(actual)))?;
                if got.len() != items.len() {
                    return Err(format!("{at}: expected {} elements, got {}", items.len(), got.len()));
                }
                for (i, (p, v)) in items.iter().zip(got).enumerate() {
                    self.matches(p, v, &format!("{at}[{i}]"))?;
                }
                Ok(())
            }
            Json::Number(n) if actual.as_f64() == n.as_f64() => Ok(()),
            _ if pattern == actual => Ok(()),
            _ => Err(format!("{at}: expected {}, got {}", short(pattern), short(actual))),
        }
    }
}

// The harness must be able to fail: mismatches it is meant to catch.

const SUBSCRIBE: &str = r#"
{"connect":"11111111-1111-4111-8111-111111111111"}
{"send":{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]}]}}
"#;

#[tokio::test]
#[should_panic(expected = "$.modifications[0].value: expected 1 elements, got 0")]
async fn a_wrong_value_fails() {
    check(&format!(r#"{SUBSCRIBE}{{"expect":{{"type":"Transition","modifications":[{{"value":[1]}}]}}}}"#)).await;
}

#[tokio::test]
#[should_panic(expected = "is bound to")]
async fn a_rebound_variable_fails() {
    check(&format!(
        r#"{SUBSCRIBE}
{{"expect":{{"type":"Transition","endVersion":{{"ts":"$T"}}}}}}
{{"send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"x"}}]}}}}
{{"expect":{{"type":"MutationResponse","ts":"$T"}}}}"#
    ))
    .await;
}

#[tokio::test]
#[should_panic(expected = "< $M0 = ")]
async fn an_earlier_timestamp_fails() {
    // The Transition after the mutation starts at the subscription's ts, which is before the commit.
    check(&format!(
        r#"{SUBSCRIBE}
{{"expect":{{"type":"Transition"}}}}
{{"send":{{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{{"body":"x"}}]}}}}
{{"expect":{{"type":"MutationResponse","ts":"$M0"}}}}
{{"expect":{{"type":"Transition","startVersion":{{"ts":"$S>=$M0"}}}}}}"#
    ))
    .await;
}

#[tokio::test]
#[should_panic(expected = "must be absent")]
async fn a_present_key_marked_absent_fails() {
    check(&format!(r#"{SUBSCRIBE}{{"expect":{{"type":"Transition","modifications":"<absent>"}}}}"#)).await;
}

#[tokio::test]
#[should_panic(expected = "has unexpected output")]
async fn unread_output_fails() {
    check(SUBSCRIBE).await;
}
