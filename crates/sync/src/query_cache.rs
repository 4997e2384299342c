//! Shared query evaluation: sockets that subscribe to the same query (path, arguments, identity) and update at the
//! same snapshot timestamp run it once — and serialise its result once. Queries are deterministic given those
//! inputs, so the result is the same; concurrent callers wait for the one evaluation in flight instead of repeating
//! it, then carry the shared serialised result ([`SharedJson`]) in their own Transitions.

use database::{ReadSet, Timestamp};
use functions::Outcome;
use parking_lot::Mutex;
use protocol::sync::{QueryId, SharedJson, StateModification};
use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// What a subscription is, apart from time: `path \0 arguments \0 identity \0 journal`, built once per subscription
/// (and again when the identity or the journal changes), so looking up a shared evaluation allocates nothing.
pub type QueryKey = Arc<str>;

pub fn query_key(path: &str, args_json: &str, identity_json: &str, journal: Option<&str>) -> QueryKey {
    let journal = journal.unwrap_or("");
    Arc::from(format!("{path}\0{args_json}\0{identity_json}\0{journal}"))
}

/// A query's result, serialised once: cloning it for another socket copies pointers.
#[derive(Debug, Clone)]
pub enum SharedResult {
    Updated { value: SharedJson, log_lines: Arc<[String]> },
    Failed { message: Arc<str>, data: Option<SharedJson>, log_lines: Arc<[String]> },
}

/// One evaluation of a query at one timestamp, ready to send.
#[derive(Debug)]
pub struct Evaluated {
    pub result: SharedResult,
    /// Identifies the result for change detection: equal digests, nothing to resend. A failure's digest ignores
    /// the request id in its message (every run gets a new one, so the same failure would otherwise look new).
    pub digest: u64,
    /// What the evaluation read (`None` for failures, which re-run on every commit until they succeed).
    pub reads: Option<ReadSet>,
    /// The query journal after this evaluation (sent with the result, kept for the next one).
    pub journal: Option<String>,
}

fn digest_of(parts: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// An error message as far as change detection goes (see [`Evaluated::digest`]).
fn without_request_id(message: &str) -> &str {
    match message.strip_prefix("[Request ID: ").and_then(|rest| rest.split_once("] ")) {
        Some((_, rest)) => rest,
        None => message,
    }
}

impl Evaluated {
    pub fn from_outcome(outcome: &Outcome) -> Evaluated {
        match &outcome.result {
            Ok(v) => {
                let value = SharedJson::new(&value::json::to_json(v));
                let logs = outcome.log_lines.join("\n");
                let journal = outcome.journal.clone();
                let digest = digest_of(&["ok", value.get(), &logs, journal.as_deref().unwrap_or("")]);
                let result = SharedResult::Updated { value, log_lines: Arc::from(outcome.log_lines.as_slice()) };
                Evaluated { result, digest, reads: outcome.reads.clone(), journal }
            }
            Err(f) => {
                let data = f.data.as_ref().map(|d| SharedJson::new(&value::json::to_json(d)));
                let data_text = data.as_ref().map(SharedJson::get).unwrap_or_default();
                let logs = outcome.log_lines.join("\n");
                let digest = digest_of(&["error", without_request_id(&f.message), data_text, &logs]);
                let result = SharedResult::Failed {
                    message: Arc::from(f.message.as_str()),
                    data,
                    log_lines: Arc::from(outcome.log_lines.as_slice()),
                };
                Evaluated { result, digest, reads: None, journal: outcome.journal.clone() }
            }
        }
    }
}

impl Evaluated {
    /// This result as the modification of subscription `query_id`.
    pub fn modification(&self, query_id: QueryId) -> StateModification {
        match &self.result {
            SharedResult::Updated { value, log_lines } => StateModification::QueryUpdated {
                query_id,
                value: value.clone(),
                log_lines: log_lines.clone(),
                journal: self.journal.clone(),
            },
            SharedResult::Failed { message, data, log_lines } => StateModification::QueryFailed {
                query_id,
                error_message: message.clone(),
                log_lines: log_lines.clone(),
                journal: self.journal.clone(),
                error_data: data.clone(),
            },
        }
    }
}

type Key = (Timestamp, QueryKey);

/// At most this many evaluations are remembered (beyond that, only the newest timestamp's).
const CAPACITY: usize = 4096;

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Arc<OnceCell<Arc<Evaluated>>>>,
    /// The two newest timestamps seen: evaluations at older ones are dropped (a socket still evaluating at an
    /// older view just evaluates again).
    newest: Timestamp,
    previous: Timestamp,
}

#[derive(Default)]
pub struct QueryCache {
    entries: Mutex<Entries>,
}

impl QueryCache {
    /// The evaluation of the query `key` at `ts`, computing it with `run` only if nobody has.
    pub async fn get_or_run<F, Fut>(&self, ts: Timestamp, key: &QueryKey, run: F) -> Arc<Evaluated>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let cell = {
            let mut entries = self.entries.lock();
            if ts > entries.newest {
                entries.previous = entries.newest;
                entries.newest = ts;
                let keep = entries.previous;
                entries.map.retain(|k, _| k.0 >= keep);
            }
            if entries.map.len() >= CAPACITY {
                let newest = entries.newest;
                entries.map.retain(|k, _| k.0 >= newest);
                if entries.map.len() >= CAPACITY {
                    entries.map.clear();
                }
            }
            entries.map.entry((ts, key.clone())).or_insert_with(|| Arc::new(OnceCell::new())).clone()
        };
        cell.get_or_init(|| async move { Arc::new(Evaluated::from_outcome(&run().await)) }).await.clone()
    }

    /// How many evaluations are remembered (for tests).
    pub fn len(&self) -> usize {
        self.entries.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
