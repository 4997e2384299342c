//! Where the per-key counters live, and Better Auth 1.4.9's fixed-window step that every store applies.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

use async_trait::async_trait;
use parking_lot::Mutex;
use protocol::UnixTime;

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Seconds until the key's window ends (`0` when allowed).
    pub retry_after_secs: u64,
}

/// A store that cannot answer (a remote store being down).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("rate limit store unavailable: {0}")]
    Unavailable(String),
}

/// Counts requests per key. `hit` must apply [`step`] atomically per key (read, decide and write with no other
/// hit on the same key in between), so that concurrent requests cannot all pass a stale read.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Counts one request to `key` at `now` (Better Auth counts in whole milliseconds: [`UnixTime::as_millis`]).
    async fn hit(&self, key: &str, window_ms: u64, max: u32, now: UnixTime) -> Result<Decision, StoreError>;
}

/// Better Auth's per-key record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub count: u32,
    /// When the last *allowed* request arrived (ms since the epoch).
    pub last_request_ms: u64,
}

/// Better Auth 1.4.9's algorithm for one request (`onRequestRateLimit`):
/// * no record → store `{count: 1, lastRequest: now}`, allow;
/// * `now − lastRequest < window` and `count ≥ max` → reject, record untouched, retry after
///   `ceil((lastRequest + window − now) / 1000)` seconds;
/// * `now − lastRequest > window` → `{count: 1, lastRequest: now}`, allow;
/// * otherwise (including exactly `now − lastRequest = window`) → `{count + 1, lastRequest: now}`, allow.
///
/// So the window is measured from the last allowed request, and the first request of a key is allowed even with
/// `max = 0`. (1.7 resets at `≥ window` instead of `> window`; 1.4.9's choice is the stricter one at that single
/// millisecond.) Returns the decision and the record to store (`None`: leave it as it is).
pub fn step(record: Option<Record>, window_ms: u64, max: u32, now_ms: u64) -> (Decision, Option<Record>) {
    let allow =
        |count| (Decision { allowed: true, retry_after_secs: 0 }, Some(Record { count, last_request_ms: now_ms }));
    let Some(record) = record else {
        return allow(1);
    };
    let elapsed = i128::from(now_ms) - i128::from(record.last_request_ms);
    let window = i128::from(window_ms);
    if elapsed < window && record.count >= max {
        let remaining_ms = window - elapsed;
        let retry = u64::try_from((remaining_ms + 999) / 1000).unwrap_or(u64::MAX);
        return (Decision { allowed: false, retry_after_secs: retry }, None);
    }
    if elapsed > window {
        allow(1)
    } else {
        allow(record.count.saturating_add(1))
    }
}

/// Whether `record` can no longer influence a decision: its next hit would start over exactly as if there were
/// no record, so it can be dropped without changing any answer.
fn is_expired(record: &Record, window_ms: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(record.last_request_ms) > window_ms
}

const SHARDS: usize = 64;

/// The default key cap (1.7's in-memory store keeps at most 100 000 entries too).
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// In-process store: a sharded map of [`Record`]s with bounded memory.
///
/// * Keys are kept as 128-bit keyed hashes (two SipHash instances with per-process random keys), so memory per
///   entry does not depend on the key's length (paths are client-chosen) and no one can aim keys at a shard.
/// * Entries that can no longer influence a decision are dropped when a shard is full.
/// * At most `max_keys` entries (per-shard share): when a full shard needs room for a new key and nothing has
///   expired, an eighth of its live entries go, preferring entries that are not currently limiting a client
///   (`count < max`), the least recently allowed first. Flooding the store with fresh keys (random IPs or paths) therefore evicts
///   other fresh keys before it can reset a blocked client's counter; to evict that, an attacker must first bring
///   a whole (unknown) shard's worth of keys to their limit.
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hashers: (RandomState, RandomState),
}

#[derive(Debug, Default)]
struct Shard {
    entries: HashMap<[u64; 2], Entry>,
    /// A lower bound of `last_request_ms + window_ms` over the entries: before it, nothing has expired.
    earliest_expiry_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    record: Record,
    window_ms: u64,
    max: u32,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(DEFAULT_MAX_KEYS)
    }
}

impl MemoryStore {
    /// A store holding at most `max_keys` keys (at least one).
    pub fn new(max_keys: usize) -> MemoryStore {
        let max_keys = max_keys.max(1);
        let shards = SHARDS.min(max_keys);
        MemoryStore {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: max_keys / shards,
            hashers: (RandomState::new(), RandomState::new()),
        }
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys this store will hold.
    pub fn capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    fn digest(&self, key: &str) -> [u64; 2] {
        [self.hashers.0.hash_one(key), self.hashers.1.hash_one(key)]
    }

    /// The synchronous body of [`RateLimitStore::hit`].
    pub fn hit_now(&self, key: &str, window_ms: u64, max: u32, now_ms: u64) -> Decision {
        let digest = self.digest(key);
        let index = usize::try_from(digest[0] % self.shards.len() as u64).unwrap_or(0);
        let Some(shard) = self.shards.get(index) else {
            return Decision { allowed: true, retry_after_secs: 0 };
        };
        let mut shard = shard.lock();
        let existing = shard.entries.get(&digest).map(|e| e.record);
        let (decision, next) = step(existing, window_ms, max, now_ms);
        if let Some(record) = next {
            if existing.is_none() && shard.entries.len() >= self.per_shard {
                shard.make_room(now_ms, self.per_shard);
            }
            let expiry = record.last_request_ms.saturating_add(window_ms);
            shard.earliest_expiry_ms =
                if shard.entries.is_empty() { expiry } else { shard.earliest_expiry_ms.min(expiry) };
            shard.entries.insert(digest, Entry { record, window_ms, max });
        }
        decision
    }
}

impl Shard {
    /// Brings the shard below `cap` entries.
    fn make_room(&mut self, now_ms: u64, cap: usize) {
        if now_ms > self.earliest_expiry_ms {
            self.entries.retain(|_, e| !is_expired(&e.record, e.window_ms, now_ms));
            self.earliest_expiry_ms = self
                .entries
                .values()
                .map(|e| e.record.last_request_ms.saturating_add(e.window_ms))
                .min()
                .unwrap_or(u64::MAX);
        }
        if self.entries.len() < cap {
            return;
        }
        // Evict an eighth of the shard in one O(n) selection, so a sustained flood costs O(1) per new key.
        let mut ranked: Vec<((bool, u64), [u64; 2])> =
            self.entries.iter().map(|(key, e)| ((e.record.count >= e.max, e.record.last_request_ms), *key)).collect();
        let evict = (cap / 8).max(1).min(ranked.len());
        if evict < ranked.len() {
            ranked.select_nth_unstable_by_key(evict, |(rank, _)| *rank);
        }
        for (_, key) in ranked.iter().take(evict) {
            self.entries.remove(key);
        }
    }
}

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn hit(&self, key: &str, window_ms: u64, max: u32, now: UnixTime) -> Result<Decision, StoreError> {
        let now_ms = now.as_millis();
        Ok(self.hit_now(key, window_ms, max, now_ms))
    }
}
