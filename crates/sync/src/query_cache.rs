//! Shared query evaluation: sockets that subscribe to the same query (path, arguments, identity) and update at the
//! same snapshot timestamp run it once. Queries are deterministic given those inputs, so the result is the same;
//! concurrent callers wait for the one evaluation in flight instead of repeating it.

use database::Timestamp;
use functions::Outcome;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::OnceCell;

type Key = (Timestamp, String, String, String);

/// At most this many evaluations are remembered; older timestamps are dropped first.
const CAPACITY: usize = 4096;

#[derive(Default)]
pub struct QueryCache {
    entries: Mutex<HashMap<Key, Arc<OnceCell<Outcome>>>>,
}

impl QueryCache {
    /// The outcome of `path(args)` for `identity` at `ts`, computing it with `run` only if nobody has.
    pub async fn get_or_run<F, Fut>(&self, ts: Timestamp, path: &str, args: &str, identity: &str, run: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        let cell = {
            let mut entries = self.entries.lock();
            if entries.len() >= CAPACITY {
                let newest = entries.keys().map(|k| k.0).max().unwrap_or_default();
                entries.retain(|k, _| k.0 >= newest);
                if entries.len() >= CAPACITY {
                    entries.clear();
                }
            }
            entries
                .entry((ts, path.to_string(), args.to_string(), identity.to_string()))
                .or_insert_with(|| Arc::new(OnceCell::new()))
                .clone()
        };
        cell.get_or_init(run).await.clone()
    }
}
