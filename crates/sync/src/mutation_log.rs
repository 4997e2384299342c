//! Mutation idempotency across reconnects: `(sessionId, requestId)` → the response first sent, so a replayed
//! mutation returns the stored result and original timestamp instead of running twice.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredMutation {
    pub response: protocol::sync::ServerMessage,
}

/// `(session id, request id)`.
type Key = (String, u32);

/// One request's entry: empty until its first execution finishes. The first execution holds the lock while it runs,
/// so a replay arriving meanwhile (the client reconnected while the old socket was still running the mutation) waits
/// for the outcome instead of running the mutation a second time.
pub type MutationSlot = Arc<tokio::sync::Mutex<Option<StoredMutation>>>;

/// Bounded in memory: the oldest entries go first.
pub struct MutationLog {
    inner: Mutex<(HashMap<Key, MutationSlot>, VecDeque<Key>)>,
    capacity: usize,
}

impl MutationLog {
    pub fn new(capacity: usize) -> Self {
        MutationLog { inner: Mutex::new((HashMap::new(), VecDeque::new())), capacity: capacity.max(1) }
    }

    /// The stored outcome, if the request finished (`None` while it is still running).
    pub fn get(&self, key: &(String, u32)) -> Option<StoredMutation> {
        let slot = self.inner.lock().0.get(key).cloned()?;
        let guard = slot.try_lock().ok()?;
        guard.clone()
    }

    /// The request's slot, created empty on first use. Lock it, then either answer from it or run the mutation and
    /// fill it before unlocking.
    pub fn slot(&self, key: (String, u32)) -> MutationSlot {
        let mut guard = self.inner.lock();
        let (map, order) = &mut *guard;
        if let Some(slot) = map.get(&key) {
            return slot.clone();
        }
        let slot = MutationSlot::default();
        map.insert(key.clone(), slot.clone());
        order.push_back(key);
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        slot
    }
}

impl Default for MutationLog {
    fn default() -> Self {
        MutationLog::new(100_000)
    }
}
