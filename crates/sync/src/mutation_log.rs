//! Mutation idempotency across reconnects: `(sessionId, requestId)` → the response first sent, so a replayed
//! mutation returns the stored result and original timestamp instead of running twice.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, PartialEq)]
pub struct StoredMutation {
    pub response: serde_json::Value,
}

/// `(session id, request id)`.
type Key = (String, u32);

/// Bounded in memory: the oldest entries go first.
pub struct MutationLog {
    inner: Mutex<(HashMap<Key, StoredMutation>, VecDeque<Key>)>,
    capacity: usize,
}

impl MutationLog {
    pub fn new(capacity: usize) -> Self {
        MutationLog { inner: Mutex::new((HashMap::new(), VecDeque::new())), capacity: capacity.max(1) }
    }

    pub fn get(&self, key: &(String, u32)) -> Option<StoredMutation> {
        self.inner.lock().0.get(key).cloned()
    }

    pub fn insert(&self, key: (String, u32), value: StoredMutation) {
        let mut guard = self.inner.lock();
        let (map, order) = &mut *guard;
        if map.insert(key.clone(), value).is_none() {
            order.push_back(key);
        }
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }
}

impl Default for MutationLog {
    fn default() -> Self {
        MutationLog::new(100_000)
    }
}
