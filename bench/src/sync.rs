//! Sync benchmark: how fast a commit reaches subscribers over the Convex sync WebSocket (`/api/sync`), and what an
//! idle socket costs the server in memory. Drives `target/release/chat` as a black box: one fresh process per
//! scenario on free ports of 127.0.0.1 with a fresh temp data dir, raw protocol clients, Markdown out.
//!
//! * **Push latency.** N subscriber sockets each send `Connect` (random sessionId) and
//!   `ModifyQuerySet{0→1, Add 0 messages:list}`, then only read. One writer sends `messages:send` one at a time
//!   (`POST /api/mutation` on a keep-alive connection, or `--writer ws`: `Mutation` on its own socket). A sample is
//!   the time from just before a mutation is sent until one subscriber has read the Transition whose list holds the
//!   new body, so a scenario yields (mutations × N) samples. The writer's round trip (the commit alone) is reported
//!   beside it; a socket writer also waits for its own Transition, as an npm client's `mutation()` does. Each sample is also split at the two server wall-clock stamps a Transition carries — `endVersion.ts`
//!   (the commit timestamp, assigned just before the durable write) and `serverTs` (stamped when the Transition was
//!   built) — into send→commit, commit→built (durable write, wake-up, re-running the query, queueing behind the
//!   other sockets) and built→read (serialising, writing, the client reading); client and server share the clock.
//! * **Idle sockets.** VmRSS of the server before and after N sockets have connected, subscribed and got their
//!   first Transition; (after − before) / N, and the slope over the second half.
//!
//! `messages:list` returns every message, so each scenario sends at most 200 mutations (the list stays small).
//! Subscribers and server share this machine's cores; the CPU each used is printed so contention is visible.
//!
//! `bench/sync/run.sh` builds, waits for a quiet machine and runs this; by hand:
//! `target/release/bench-sync --chat target/release/chat`

// A measuring harness, not a server: failing loudly on any error is what we want here.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use clap::{Parser, ValueEnum};
use futures::{SinkExt, StreamExt};
use protocol::http_api::FunctionRequest;
use protocol::sync::{ClientMessage, QuerySetModification, Ts};
use serde::Deserialize;
use std::borrow::Cow;
use std::io::{BufRead, BufReader as StdBufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Longest wait for any one step: a server start, a socket's first Transition, a mutation, a push.
const STEP_DEADLINE: Duration = Duration::from_secs(30);
/// Sockets opening at once (keeps the accept backlog and the handshake burst modest).
const OPEN_CONCURRENCY: usize = 128;
/// The targets from the issue.
const TARGET_P99_AT_1000: Duration = Duration::from_millis(5);
const TARGET_KB_PER_SOCKET: f64 = 64.0;

#[derive(Parser, Debug)]
struct Args {
    /// The chat binary to benchmark (default: `chat` beside this binary).
    #[arg(long)]
    chat: Option<PathBuf>,
    /// Subscriber counts, one scenario each (0 = the writer alone: the mutation round trip without any push).
    #[arg(long, value_delimiter = ',', default_value = "0,1,100,1000")]
    subscribers: Vec<usize>,
    /// Mutations sent per scenario, one per entry of --subscribers (warm-up included; keep each ≤ 200).
    #[arg(long, value_delimiter = ',', default_value = "200,200,200,50")]
    mutations: Vec<usize>,
    /// The first mutations of each scenario are not measured.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// How the writer sends its mutations.
    #[arg(long, value_enum, default_value_t = WriterKind::Http)]
    writer: WriterKind,
    /// Idle sockets for the memory measurement (0 skips it); lowered if the open-file limit is too small.
    #[arg(long, default_value_t = 5000)]
    idle_sockets: usize,
    /// Run on PostgreSQL instead of SQLite: an admin URL (e.g. `postgres://postgres@127.0.0.1:5432/postgres`) where
    /// each scenario creates a fresh database (through `psql`) and drops it afterwards.
    #[arg(long)]
    postgres: Option<String>,
    /// Deployment nodes on the one database (more than 1 needs --postgres): subscribers connect to the first node,
    /// the writer to the last, so every push crosses nodes through the shared commit log.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WriterKind {
    /// `POST /api/mutation` on one keep-alive HTTP/1.1 connection.
    Http,
    /// `Mutation` messages on the writer's own sync socket (round trip = until its `MutationResponse`; the next one
    /// goes after the writer's own Transition).
    Ws,
}

type Ws = WebSocketStream<TcpStream>;
type BenchResult<T> = Result<T, String>;

// ---------------------------------------------------------------------------------------------------------------
// The server under test

/// A `chat dev` process on free ports with its own temp dir; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// `database`: a PostgreSQL URL the node runs on (several nodes may share one), else SQLite in its temp dir.
    fn start(chat: &Path, database: Option<&str>) -> BenchResult<Server> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let log = dir.path().join("server.log");
        let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = Command::new(chat);
        command.args(["dev", "--port", "0", "--site-port", "0", "--data"]).arg(dir.path().join("data"));
        if let Some(url) = database {
            command.args(["--db", url]);
        }
        // One secret for every node of a deployment.
        let mut child = command
            .env("BETTER_AUTH_SECRET", "authvex-bench-secret-0123456789abcdef0123456789")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chat.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        // The URL lines come first; the reader thread then drains stdout until the process ends.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in StdBufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Server { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), log, _dir: dir };
        let deadline = Instant::now() + STEP_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).map_err(|_| {
                format!(
                    "{} printed no `API URL:` line within {STEP_DEADLINE:?}; log:\n{}",
                    chat.display(),
                    server.log_tail()
                )
            })?;
            if let Some(url) = line.strip_prefix("API URL:") {
                let hostport = url.trim().trim_start_matches("http://").trim_end_matches('/');
                server.addr = hostport.parse().map_err(|e| format!("API URL {url:?}: {e}"))?;
                break;
            }
        }
        if !server.addr.ip().is_loopback() {
            return Err(format!("the server listens on {}, not on 127.0.0.1", server.addr));
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Fails if the process has exited (a crash mid-scenario must not pass for a slow push).
    fn check_alive(&mut self) -> BenchResult<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the server exited ({status}); log:\n{}", self.log_tail())),
            Err(e) => Err(format!("cannot check the server: {e}")),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh PostgreSQL database for one scenario, created and dropped with `psql` through an admin URL.
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

fn psql(admin: &str, sql: &str) -> BenchResult<()> {
    let out = Command::new("psql")
        .args([admin, "-qAtc", sql])
        .output()
        .map_err(|e| format!("cannot run psql (PostgreSQL client tools are needed for --postgres): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl PgDatabase {
    fn create(admin: &str) -> BenchResult<PgDatabase> {
        let name = format!("authvex_bench_{:016x}", rand::random::<u64>());
        psql(admin, &format!("CREATE DATABASE {name}"))?;
        // Same server and options as the admin URL, another database.
        let (base, query) = match admin.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin, String::new()),
        };
        let server = match base.find("://").map(|i| i + 3) {
            Some(start) => match base[start..].find('/') {
                Some(slash) => &base[..start + slash],
                None => base,
            },
            None => return Err(format!("--postgres {admin:?} is not a postgres:// URL")),
        };
        Ok(PgDatabase { admin: admin.to_string(), url: format!("{server}/{name}{query}"), name })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = psql(&self.admin, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// One deployment: its nodes (one, or several on one PostgreSQL database).
struct Deployment {
    nodes: Vec<Server>,
    /// Dropped after the nodes (fields drop in order).
    _database: Option<PgDatabase>,
}

impl Deployment {
    fn start(chat: &Path, postgres: Option<&str>, nodes: usize) -> BenchResult<Deployment> {
        let database = postgres.map(PgDatabase::create).transpose()?;
        let url = database.as_ref().map(|d| d.url.as_str());
        // One after the other: the first node creates the schema.
        let nodes = (0..nodes.max(1)).map(|_| Server::start(chat, url)).collect::<BenchResult<Vec<_>>>()?;
        Ok(Deployment { nodes, _database: database })
    }

    fn first(&self) -> &Server {
        &self.nodes[0]
    }

    fn last(&self) -> &Server {
        &self.nodes[self.nodes.len() - 1]
    }

    fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(Server::pid).collect()
    }

    fn check_alive(&mut self) -> BenchResult<()> {
        self.nodes.iter_mut().try_for_each(Server::check_alive)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// /proc readings

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`); `pid` may be `self`.
fn status_kib(pid: impl std::fmt::Display, field: &str) -> BenchResult<u64> {
    let text =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

/// CPU ticks (user + system) used by a process: fields 14 and 15 of `/proc/<pid>/stat`, counted after `(comm)`.
fn process_ticks(pid: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = text.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// Busy ticks of the whole machine, all CPUs (user, nice, system, irq, softirq, steal).
fn machine_ticks() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = text.lines().find(|l| l.starts_with("cpu ")).unwrap_or("");
    let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    [0, 1, 2, 5, 6, 7].iter().filter_map(|i| f.get(*i)).sum()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The soft open-file limit of this process (the server, our child, inherits it).
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// CPU used by the server, by this process and by everything else over an interval.
struct CpuMeter {
    server_pids: Vec<String>,
    start: Instant,
    server: u64,
    own: u64,
    machine: u64,
}

struct CpuUse {
    server_s: f64,
    own_s: f64,
    /// Average cores busy with other processes (other engineers' builds, the OS) during the interval.
    other_cores: f64,
}

impl CpuMeter {
    /// Measures the server processes `pids` (all nodes of a deployment together).
    fn start(pids: &[u32]) -> CpuMeter {
        let server_pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        CpuMeter {
            server: server_pids.iter().map(|pid| process_ticks(pid)).sum(),
            own: process_ticks("self"),
            machine: machine_ticks(),
            server_pids,
            start: Instant::now(),
        }
    }

    fn stop(&self, hz: f64) -> CpuUse {
        let now: u64 = self.server_pids.iter().map(|pid| process_ticks(pid)).sum();
        let server = now.saturating_sub(self.server) as f64 / hz;
        let own = process_ticks("self").saturating_sub(self.own) as f64 / hz;
        let machine = machine_ticks().saturating_sub(self.machine) as f64 / hz;
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        CpuUse { server_s: server, own_s: own, other_cores: ((machine - server - own) / wall).max(0.0) }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The wire: a borrowed, zero-copy view of `protocol::sync::ServerMessage` with just the fields the load generator
// reads (parsing every frame into the owned types would make the client, which shares the two cores with the
// server, the bottleneck). What the bench sends is built from the protocol types.

#[derive(Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
struct StateVersion {
    query_set: u32,
    identity: u32,
    ts: String,
}

/// Any server message; fields a kind does not have stay empty.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    start_version: Option<StateVersion>,
    end_version: Option<StateVersion>,
    #[serde(default, borrow)]
    modifications: Vec<QueryModification<'a>>,
    server_ts: Option<u64>,
    request_id: Option<u32>,
    /// A MutationResponse's commit timestamp.
    ts: Option<&'a str>,
    success: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryModification<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    query_id: u32,
    /// `messages:list` documents; only the body matters here.
    #[serde(default, borrow)]
    value: Option<Vec<Doc<'a>>>,
}

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(default, borrow)]
    body: Option<Cow<'a, str>>,
}

/// A protocol timestamp (nanoseconds since the epoch), decoded as the server encodes it.
fn decode_ts(text: &str) -> Option<u64> {
    Ts::decode(text).map(|ts| ts.0)
}

fn wall_ns() -> u64 {
    // The bench compares its own receive times with the server's stamps, so it reads the same (system) clock.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn session_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn connect_message() -> String {
    encode(&ClientMessage::Connect {
        session_id: session_id(),
        connection_count: 0,
        last_close_reason: Some("InitialConnect".into()),
        max_observed_timestamp: None,
        client_ts: Some(0),
    })
}

fn encode(message: &impl serde::Serialize) -> String {
    serde_json::to_string(message).unwrap_or_default()
}

/// The body of mutation `k`; subscribers read `k` back out of the list.
fn body_of(k: usize) -> String {
    format!("bench-{k}")
}

fn newest_mutation(docs: &[Doc<'_>]) -> Option<usize> {
    docs.iter().filter_map(|d| d.body.as_deref()?.strip_prefix("bench-")?.parse().ok()).max()
}

async fn open_socket(addr: SocketAddr) -> BenchResult<Ws> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    // Small client buffers: thousands of these live in this process.
    let config = WebSocketConfig::default().read_buffer_size(16 << 10).write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(format!("ws://{addr}/api/sync"), tcp, Some(config))
        .await
        .map_err(|e| format!("websocket handshake with {addr}: {e}"))?;
    Ok(ws)
}

async fn send_text(ws: &mut Ws, text: String) -> BenchResult<()> {
    ws.send(Message::Text(text.into())).await.map_err(|e| format!("send: {e}"))
}

// ---------------------------------------------------------------------------------------------------------------
// Subscribers

/// One subscriber read a Transition whose list holds mutation `k`'s body.
struct Receipt {
    k: usize,
    at: Instant,
    wall_ns: u64,
    commit_ts: u64,
    server_ts: u64,
}

#[derive(Default)]
struct SubscriberStats {
    transitions: u64,
    version_mismatches: u64,
    problems: Vec<String>,
}

/// Connects, subscribes to `messages:list` and waits for the first Transition (which must answer the Add).
async fn subscribe(addr: SocketAddr) -> BenchResult<(Ws, StateVersion, Option<usize>)> {
    let mut ws = open_socket(addr).await?;
    send_text(&mut ws, connect_message()).await?;
    let modify = encode(&ClientMessage::ModifyQuerySet {
        base_version: 0,
        new_version: 1,
        modifications: vec![QuerySetModification::Add {
            query_id: 0,
            udf_path: "messages:list".into(),
            args: vec![serde_json::json!({})],
            journal: None,
            component_path: None,
        }],
    });
    send_text(&mut ws, modify).await?;
    loop {
        let frame = ws.next().await.ok_or("socket closed before the first Transition")?;
        let Message::Text(text) = frame.map_err(|e| format!("read: {e}"))? else { continue };
        let frame: Frame<'_> = serde_json::from_str(text.as_str()).map_err(|e| format!("bad frame {text}: {e}"))?;
        match frame.kind {
            "Transition" => {
                let end = frame.end_version.ok_or("Transition without endVersion")?;
                if frame.start_version != Some(StateVersion { ts: "AAAAAAAAAAA=".into(), ..Default::default() }) {
                    return Err(format!("first Transition does not start at version zero: {text}"));
                }
                let Some(m) = frame.modifications.iter().find(|m| m.query_id == 0) else {
                    return Err(format!("first Transition does not answer the Add: {text}"));
                };
                if m.kind != "QueryUpdated" {
                    return Err(format!("messages:list failed: {text}"));
                }
                let newest = m.value.as_deref().and_then(newest_mutation);
                return Ok((ws, end, newest));
            }
            "Ping" => {}
            _ => return Err(format!("unexpected frame before the first Transition: {text}")),
        }
    }
}

/// Reads until told to stop, reporting each Transition that brings a newer mutation. Answers nothing (the
/// WebSocket library answers protocol pings by itself).
async fn read_pushes(
    mut ws: Ws,
    mut version: StateVersion,
    mut newest: Option<usize>,
    receipts: mpsc::UnboundedSender<Receipt>,
    mut stop: watch::Receiver<bool>,
) -> SubscriberStats {
    let mut stats = SubscriberStats::default();
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = stop.changed() => break,
        };
        // Stamped before any parsing: the push is complete once its frame has been read.
        let (at, wall) = (Instant::now(), wall_ns());
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => {
                stats.problems.push("the server closed the socket".into());
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                stats.problems.push(format!("read: {e}"));
                break;
            }
        };
        let frame: Frame<'_> = match serde_json::from_str(text.as_str()) {
            Ok(f) => f,
            Err(e) => {
                stats.problems.push(format!("bad frame: {e}"));
                continue;
            }
        };
        if frame.kind != "Transition" {
            if frame.kind != "Ping" {
                stats.problems.push(format!("unexpected {} frame", frame.kind));
            }
            continue;
        }
        stats.transitions += 1;
        if frame.start_version.as_ref() != Some(&version) {
            stats.version_mismatches += 1;
        }
        let Some(end) = frame.end_version else { continue };
        let commit_ts = decode_ts(&end.ts).unwrap_or(0);
        version = end;
        let Some(m) = frame.modifications.iter().find(|m| m.query_id == 0) else { continue };
        if m.kind != "QueryUpdated" {
            stats.problems.push(format!("messages:list: {}", m.kind));
            continue;
        }
        let seen = m.value.as_deref().and_then(newest_mutation);
        if seen > newest {
            newest = seen;
            if let Some(k) = seen {
                let server_ts = frame.server_ts.unwrap_or(0);
                let _ = receipts.send(Receipt { k, at, wall_ns: wall, commit_ts, server_ts });
            }
        }
    }
    stats
}

/// N subscribed sockets, each read by its own task.
struct Fleet {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<SubscriberStats>>,
}

impl Fleet {
    async fn open(addr: SocketAddr, n: usize, receipts: mpsc::UnboundedSender<Receipt>) -> BenchResult<Fleet> {
        let (stop, stop_rx) = watch::channel(false);
        let gate = Arc::new(Semaphore::new(OPEN_CONCURRENCY));
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<BenchResult<()>>();
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let permit = gate.clone().acquire_owned().await.map_err(|e| e.to_string())?;
            let (ready, receipts, stop) = (ready_tx.clone(), receipts.clone(), stop_rx.clone());
            tasks.push(tokio::spawn(async move {
                let opened = tokio::time::timeout(STEP_DEADLINE, subscribe(addr)).await;
                drop(permit);
                match opened {
                    Ok(Ok((ws, version, newest))) => {
                        let _ = ready.send(Ok(()));
                        drop(ready);
                        read_pushes(ws, version, newest, receipts, stop).await
                    }
                    Ok(Err(e)) => {
                        let _ = ready.send(Err(e));
                        SubscriberStats::default()
                    }
                    Err(_) => {
                        let _ = ready.send(Err(format!("no first Transition within {STEP_DEADLINE:?}")));
                        SubscriberStats::default()
                    }
                }
            }));
        }
        drop(ready_tx);
        let fleet = Fleet { stop, tasks };
        for opened in 0..n {
            // Sockets keep opening while earlier ones report, so a long silence means something is stuck.
            match tokio::time::timeout(STEP_DEADLINE * 2, ready_rx.recv()).await {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(e))) => return Err(format!("a subscriber failed: {e}")),
                Ok(None) => return Err("subscriber tasks vanished".into()),
                Err(_) => return Err(format!("only {opened} of {n} subscribers ready, none more in a minute")),
            }
        }
        Ok(fleet)
    }

    /// Stops every reader and sums what they saw.
    async fn close(self) -> SubscriberStats {
        let _ = self.stop.send(true);
        let mut total = SubscriberStats::default();
        for task in self.tasks {
            if let Ok(Ok(s)) = tokio::time::timeout(STEP_DEADLINE, task).await {
                total.transitions += s.transitions;
                total.version_mismatches += s.version_mismatches;
                total.problems.extend(s.problems);
            }
        }
        total
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The writer

struct MutationTiming {
    /// Until the HTTP response or the `MutationResponse`.
    response: Duration,
    /// Socket writer only: until its own Transition covering the commit.
    resolved: Option<Duration>,
}

enum Writer {
    Http { conn: BufReader<TcpStream>, host: String },
    Ws { ws: Box<Ws>, next_request: u32 },
}

impl Writer {
    async fn connect(kind: WriterKind, addr: SocketAddr) -> BenchResult<Writer> {
        match kind {
            WriterKind::Http => {
                let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
                tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
                Ok(Writer::Http { conn: BufReader::new(tcp), host: addr.to_string() })
            }
            WriterKind::Ws => {
                let mut ws = open_socket(addr).await?;
                send_text(&mut ws, connect_message()).await?;
                Ok(Writer::Ws { ws: Box::new(ws), next_request: 0 })
            }
        }
    }

    /// Sends one `messages:send` and returns once the server has answered that it committed; over a socket, also
    /// waits for the writer's own Transition at or after the commit (what an npm client's `mutation()` awaits).
    async fn mutate(&mut self, body: &str, sent: Instant) -> BenchResult<MutationTiming> {
        let args = serde_json::json!({"author": "bench", "body": body});
        match self {
            Writer::Http { conn, host } => {
                let payload = encode(&FunctionRequest::encoded("messages:send", args));
                let request = format!(
                    "POST /api/mutation HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n\r\n{payload}",
                    payload.len()
                );
                conn.get_mut().write_all(request.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
                let (status, response) = read_http_response(conn).await?;
                let ok = status == 200
                    && serde_json::from_slice::<serde_json::Value>(&response)
                        .is_ok_and(|v| v.get("status").and_then(|s| s.as_str()) == Some("success"));
                if !ok {
                    return Err(format!("mutation failed: HTTP {status} {}", String::from_utf8_lossy(&response)));
                }
                Ok(MutationTiming { response: sent.elapsed(), resolved: None })
            }
            Writer::Ws { ws, next_request } => {
                let id = *next_request;
                *next_request += 1;
                let message = ClientMessage::Mutation {
                    request_id: id,
                    udf_path: "messages:send".into(),
                    args: vec![args],
                    component_path: None,
                };
                send_text(ws, encode(&message)).await?;
                let mut answered: Option<(Duration, u64)> = None;
                loop {
                    let frame = ws.next().await.ok_or("writer socket closed")?;
                    let Message::Text(text) = frame.map_err(|e| format!("read: {e}"))? else { continue };
                    let at = sent.elapsed();
                    let frame: Frame<'_> =
                        serde_json::from_str(text.as_str()).map_err(|e| format!("bad frame {text}: {e}"))?;
                    match (frame.kind, answered) {
                        ("MutationResponse", None) if frame.request_id == Some(id) => {
                            let commit_ts = frame.ts.and_then(decode_ts);
                            match (frame.success, commit_ts) {
                                (Some(true), Some(ts)) => answered = Some((at, ts)),
                                _ => return Err(format!("mutation failed: {text}")),
                            }
                        }
                        ("Transition", Some((response, commit_ts))) => {
                            let end_ts = frame.end_version.as_ref().and_then(|v| decode_ts(&v.ts));
                            if end_ts.is_some_and(|ts| ts >= commit_ts) {
                                return Ok(MutationTiming { response, resolved: Some(at) });
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// Reads one HTTP/1.1 response with a `Content-Length` body (what the API sends) off a keep-alive connection.
async fn read_http_response(conn: &mut BufReader<TcpStream>) -> BenchResult<(u16, Vec<u8>)> {
    let mut line = String::new();
    conn.read_line(&mut line).await.map_err(|e| format!("read: {e}"))?;
    let status: u16 =
        line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or(format!("bad status line {line:?}"))?;
    let mut length = None;
    loop {
        line.clear();
        if conn.read_line(&mut line).await.map_err(|e| format!("read: {e}"))? == 0 {
            return Err("connection closed inside the response headers".into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(format!("this client reads only Content-Length bodies, got {header:?}"));
            }
        }
    }
    let mut body = vec![0; length.ok_or("response without Content-Length")?];
    conn.read_exact(&mut body).await.map_err(|e| format!("read body: {e}"))?;
    Ok((status, body))
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios

/// Nearest-rank percentile of sorted values.
fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn ms_ns(ns: i64) -> String {
    format!("{:.2}", ns as f64 / 1e6)
}

struct LatencyReport {
    subscribers: usize,
    mutations: usize,
    push: Vec<Duration>,
    /// Per mutation: until the last subscriber had it.
    last: Vec<Duration>,
    rtt: Vec<Duration>,
    /// Socket writer only: until the writer's own Transition.
    resolved: Vec<Duration>,
    /// Wall-clock split of each push sample (ns): send→commit ts, commit ts→serverTs, serverTs→read.
    to_commit: Vec<i64>,
    to_built: Vec<i64>,
    to_read: Vec<i64>,
    cpu: CpuUse,
    load: String,
    wall: Duration,
    stats: SubscriberStats,
}

#[allow(clippy::too_many_arguments)]
async fn latency_scenario(
    chat: &Path,
    postgres: Option<&str>,
    nodes: usize,
    writer_kind: WriterKind,
    subscribers: usize,
    total: usize,
    warmup: usize,
    hz: f64,
) -> BenchResult<LatencyReport> {
    let load = load_average();
    let mut server = Deployment::start(chat, postgres, nodes)?;
    let (receipt_tx, mut receipts) = mpsc::unbounded_channel();
    let fleet = Fleet::open(server.first().addr, subscribers, receipt_tx).await?;
    let mut writer = Writer::connect(writer_kind, server.last().addr).await?;
    let mut report = LatencyReport {
        subscribers,
        mutations: total.saturating_sub(warmup),
        push: Vec::with_capacity(total * subscribers),
        last: Vec::with_capacity(total),
        rtt: Vec::with_capacity(total),
        resolved: Vec::new(),
        to_commit: Vec::new(),
        to_built: Vec::new(),
        to_read: Vec::new(),
        cpu: CpuUse { server_s: 0.0, own_s: 0.0, other_cores: 0.0 },
        load,
        wall: Duration::ZERO,
        stats: SubscriberStats::default(),
    };
    let mut meter = CpuMeter::start(&server.pids());
    let mut measured_since = Instant::now();
    for k in 0..total {
        if k == warmup {
            meter = CpuMeter::start(&server.pids());
            measured_since = Instant::now();
        }
        let measured = k >= warmup;
        let body = body_of(k);
        let (sent, sent_wall) = (Instant::now(), wall_ns());
        let timing = match tokio::time::timeout(STEP_DEADLINE, writer.mutate(&body, sent)).await {
            Ok(Ok(timing)) => timing,
            Ok(Err(e)) => return Err(format!("mutation {k}: {e}")),
            Err(_) => {
                server.check_alive()?;
                return Err(format!("mutation {k} got no answer within {STEP_DEADLINE:?}"));
            }
        };
        if measured {
            report.rtt.push(timing.response);
            report.resolved.extend(timing.resolved);
        }
        let deadline = tokio::time::Instant::from_std(sent + STEP_DEADLINE);
        let mut last = Duration::ZERO;
        for got in 0..subscribers {
            let receipt = match tokio::time::timeout_at(deadline, receipts.recv()).await {
                Ok(Some(r)) => r,
                Ok(None) => return Err("the subscribers are gone".into()),
                Err(_) => {
                    server.check_alive()?;
                    return Err(format!(
                        "only {got} of {subscribers} subscribers saw mutation {k} within {STEP_DEADLINE:?}"
                    ));
                }
            };
            if receipt.k != k {
                return Err(format!("a subscriber reported mutation {} while waiting for {k}", receipt.k));
            }
            let push = receipt.at.saturating_duration_since(sent);
            last = last.max(push);
            if measured {
                report.push.push(push);
                report.to_commit.push(receipt.commit_ts as i64 - sent_wall as i64);
                report.to_built.push(receipt.server_ts as i64 - receipt.commit_ts as i64);
                report.to_read.push(receipt.wall_ns as i64 - receipt.server_ts as i64);
            }
        }
        if measured && subscribers > 0 {
            report.last.push(last);
        }
    }
    report.wall = measured_since.elapsed();
    report.cpu = meter.stop(hz);
    server.check_alive()?;
    drop(writer);
    report.stats = fleet.close().await;
    for v in [&mut report.push, &mut report.last, &mut report.rtt, &mut report.resolved] {
        v.sort_unstable();
    }
    for v in [&mut report.to_commit, &mut report.to_built, &mut report.to_read] {
        v.sort_unstable();
    }
    Ok(report)
}

struct MemoryReport {
    sockets: usize,
    before_kib: u64,
    half_kib: u64,
    after_kib: u64,
    hwm_kib: u64,
    /// This process (the clients: 16 KiB read buffers, one task each) before and after, for comparison.
    own_before_kib: u64,
    own_after_kib: u64,
    load: String,
}

/// Server RSS before and after `n` sockets have subscribed and got their first Transition (and at `n / 2`).
async fn memory_scenario(chat: &Path, postgres: Option<&str>, n: usize) -> BenchResult<MemoryReport> {
    let load = load_average();
    let mut deployment = Deployment::start(chat, postgres, 1)?;
    let server = &mut deployment.nodes[0];
    // Let start-up allocations settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_kib = status_kib(server.pid(), "VmRSS")?;
    let own_before_kib = status_kib("self", "VmRSS")?;
    let (receipt_tx, _receipts) = mpsc::unbounded_channel();
    let first = Fleet::open(server.addr, n / 2, receipt_tx.clone()).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let half_kib = status_kib(server.pid(), "VmRSS")?;
    let second = Fleet::open(server.addr, n - n / 2, receipt_tx).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_kib = status_kib(server.pid(), "VmRSS")?;
    let hwm_kib = status_kib(server.pid(), "VmHWM")?;
    let own_after_kib = status_kib("self", "VmRSS")?;
    server.check_alive()?;
    let mut stats = first.close().await;
    let more = second.close().await;
    stats.problems.extend(more.problems);
    if let Some(p) = stats.problems.first() {
        return Err(format!("{} idle socket problems, first: {p}", stats.problems.len()));
    }
    Ok(MemoryReport { sockets: n, before_kib, half_kib, after_kib, hwm_kib, own_before_kib, own_after_kib, load })
}

// ---------------------------------------------------------------------------------------------------------------
// Output

fn print_latency(reports: &[LatencyReport], writer: WriterKind) {
    println!("### Push latency: mutation sent → subscriber has read the Transition (ms)");
    println!();
    println!(
        "Writer: {}.",
        match writer {
            WriterKind::Http => "`POST /api/mutation` (HTTP/1.1 keep-alive)",
            WriterKind::Ws => {
                "`Mutation` on its own sync socket; round trip = until its `MutationResponse`, own Transition = \
                 until the Transition covering the commit reaches the writer (what an npm client's `mutation()` \
                 awaits); the next mutation is sent after that"
            }
        }
    );
    println!();
    println!("| subscribers | mutations | samples | push p50 | push p99 | push max | all subscribers p50 | all subscribers p99 | mutation round trip p50 | round trip p99 | writer's own Transition p50 / p99 |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in reports {
        let dash = || "–".to_string();
        let (p50, p99, max, l50, l99) = if r.push.is_empty() {
            (dash(), dash(), dash(), dash(), dash())
        } else {
            (
                ms(percentile(&r.push, 50.0)),
                ms(percentile(&r.push, 99.0)),
                ms(*r.push.last().unwrap_or(&Duration::ZERO)),
                ms(percentile(&r.last, 50.0)),
                ms(percentile(&r.last, 99.0)),
            )
        };
        println!(
            "| {} | {} | {} | {p50} | {p99} | {max} | {l50} | {l99} | {} | {} | {} |",
            r.subscribers,
            r.mutations,
            r.push.len(),
            ms(percentile(&r.rtt, 50.0)),
            ms(percentile(&r.rtt, 99.0)),
            if r.resolved.is_empty() {
                dash()
            } else {
                format!("{} / {}", ms(percentile(&r.resolved, 50.0)), ms(percentile(&r.resolved, 99.0)))
            },
        );
    }
    println!();
    println!("### Where a push sample's time goes (ms, p50 / p99), and the CPU it took");
    println!();
    println!(
        "send→commit: until the commit timestamp was assigned; commit→built: durable write, wake-up, query re-run, \
         queueing (to the Transition's `serverTs`); built→read: serialise, send, the client reading it."
    );
    println!();
    println!("| subscribers | send→commit | commit→built | built→read | server CPU ms / mutation | bench CPU ms / mutation | other processes (cores) | load avg before | transitions read | version mismatches | problems |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in reports {
        let pair = |v: &[i64]| {
            if v.is_empty() {
                "–".to_string()
            } else {
                format!("{} / {}", ms_ns(percentile(v, 50.0)), ms_ns(percentile(v, 99.0)))
            }
        };
        let per = |s: f64| format!("{:.2}", s * 1e3 / r.mutations.max(1) as f64);
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2} | {} | {} | {} | {} |",
            r.subscribers,
            pair(&r.to_commit),
            pair(&r.to_built),
            pair(&r.to_read),
            per(r.cpu.server_s),
            per(r.cpu.own_s),
            r.cpu.other_cores,
            r.load,
            r.stats.transitions,
            r.stats.version_mismatches,
            r.stats.problems.len(),
        );
    }
    println!();
    for r in reports {
        if let Some(p) = r.stats.problems.first() {
            println!("- {} subscribers: {} problems, first: {p}", r.subscribers, r.stats.problems.len());
        }
        println!(
            "- {} subscribers: {} measured mutations in {:.2} s",
            r.subscribers,
            r.mutations,
            r.wall.as_secs_f64()
        );
    }
    println!();
}

fn print_memory(m: &MemoryReport) {
    let per = |from: u64, to: u64, n: usize| (to as f64 - from as f64) / n.max(1) as f64;
    println!("### Server memory per idle socket (Connect + subscribe `messages:list`, first Transition received)");
    println!();
    println!("| sockets | VmRSS before (MiB) | at half (MiB) | after (MiB) | VmHWM (MiB) | (after − before) / N (KB) | second half only (KB) | bench clients per socket (KB) | load avg before |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mib = |k: u64| format!("{:.1}", k as f64 / 1024.0);
    println!(
        "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {} |",
        m.sockets,
        mib(m.before_kib),
        mib(m.half_kib),
        mib(m.after_kib),
        mib(m.hwm_kib),
        per(m.before_kib, m.after_kib, m.sockets),
        per(m.half_kib, m.after_kib, m.sockets - m.sockets / 2),
        per(m.own_before_kib, m.own_after_kib, m.sockets),
        m.load,
    );
    println!();
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let chat = args.chat.clone().unwrap_or_else(|| {
        std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("chat"))).unwrap_or_else(|| "chat".into())
    });
    if args.nodes > 1 && args.postgres.is_none() {
        eprintln!("error: --nodes > 1 needs --postgres (SQLite cannot be shared by several processes)");
        return std::process::ExitCode::FAILURE;
    }
    if args.mutations.len() != args.subscribers.len() {
        eprintln!("error: --mutations needs one count per --subscribers entry");
        return std::process::ExitCode::FAILURE;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    match rt.block_on(run(&args, &chat)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args, chat: &Path) -> BenchResult<()> {
    let hz = clock_ticks_per_second();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("## Sync benchmark ({})", chat.display());
    println!();
    println!(
        "{cores} cores; load average at start {}; server and benchmark clients share the machine.",
        load_average()
    );
    println!();
    let backend = if args.postgres.is_some() { "PostgreSQL (a fresh database per scenario)" } else { "SQLite" };
    if args.nodes > 1 {
        println!(
            "Backend: {backend}; {} nodes on one database — subscribers on the first node, the writer on the last, \
             so every push crosses nodes (commit log tail + NOTIFY hint). Server CPU is all nodes together.",
            args.nodes
        );
    } else {
        println!("Backend: {backend}; one node.");
    }
    println!();
    let mut reports = Vec::new();
    for (&subscribers, &total) in args.subscribers.iter().zip(&args.mutations) {
        eprintln!("[bench-sync] {subscribers} subscribers, {total} mutations ({} warm-up)", args.warmup);
        let postgres = args.postgres.as_deref();
        let scenario = latency_scenario(chat, postgres, args.nodes, args.writer, subscribers, total, args.warmup, hz);
        reports.push(scenario.await?);
    }
    print_latency(&reports, args.writer);

    let mut memory = None;
    if args.idle_sockets > 0 {
        let mut n = args.idle_sockets;
        // Each process holds one descriptor per socket plus a few hundred of its own.
        if let Some(limit) = open_file_limit() {
            if limit < n + 256 {
                let fits = limit.saturating_sub(256);
                eprintln!("[bench-sync] open-file limit {limit}: measuring {fits} idle sockets instead of {n}");
                n = fits;
            }
        }
        if n > 0 {
            eprintln!("[bench-sync] {n} idle sockets");
            let m = memory_scenario(chat, args.postgres.as_deref(), n).await?;
            print_memory(&m);
            memory = Some(m);
        }
    }

    println!("### Targets");
    println!();
    match reports.iter().find(|r| r.subscribers == 1000 && !r.push.is_empty()) {
        Some(r) => {
            let p99 = percentile(&r.push, 99.0);
            let verdict = if p99 < TARGET_P99_AT_1000 { "met" } else { "NOT met" };
            println!(
                "- push p99 < {} ms at 1,000 subscribers: {verdict} ({} ms)",
                TARGET_P99_AT_1000.as_millis(),
                ms(p99)
            );
        }
        None => println!("- push p99 at 1,000 subscribers: not measured"),
    }
    match &memory {
        Some(m) => {
            let per = (m.after_kib as f64 - m.before_kib as f64) / m.sockets.max(1) as f64;
            let verdict = if per < TARGET_KB_PER_SOCKET { "met" } else { "NOT met" };
            println!(
                "- < {TARGET_KB_PER_SOCKET} KB per idle socket: {verdict} ({per:.1} KB over {} sockets)",
                m.sockets
            );
        }
        None => println!("- memory per idle socket: not measured"),
    }
    Ok(())
}
