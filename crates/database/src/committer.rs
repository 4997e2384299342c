//! The single committer: validates optimistic transactions against recent commits, assigns timestamps in commit
//! order and persists batches (group commit: one durable write for every request waiting at that moment).

use crate::write_log::{CommitEntry, ReadSet, WriteSet};
use crate::{DatabaseError, Inner, Result};
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use storage::{Commit, Timestamp};
use tokio::sync::{mpsc, oneshot};

/// Upper bound on the number of transactions persisted in one batch.
const MAX_BATCH: usize = 128;

pub(crate) struct CommitRequest {
    pub begin_ts: Timestamp,
    pub reads: ReadSet,
    pub writes: WriteSet,
    pub commit: Commit,
    pub reply: oneshot::Sender<Result<Timestamp>>,
}

/// The committer's view of recent history.
pub(crate) struct CommitState {
    pub last_ts: Timestamp,
    /// Commits newer than `window_start`, oldest first.
    recent: VecDeque<Arc<CommitEntry>>,
    /// Every commit at or before this timestamp has left the window.
    window_start: Timestamp,
    capacity: usize,
}

impl CommitState {
    pub fn new(last_ts: Timestamp, capacity: usize) -> Self {
        CommitState { last_ts, recent: VecDeque::new(), window_start: last_ts, capacity: capacity.max(1) }
    }

    fn push(&mut self, entry: Arc<CommitEntry>) {
        self.last_ts = entry.ts;
        self.recent.push_back(entry);
        while self.recent.len() > self.capacity {
            if let Some(old) = self.recent.pop_front() {
                self.window_start = old.ts;
            }
        }
    }

    /// Commits after `ts`, or `None` when the window no longer reaches back that far.
    pub fn since(&self, ts: Timestamp) -> Option<Vec<Arc<CommitEntry>>> {
        if ts < self.window_start {
            return None;
        }
        Some(self.recent.iter().filter(|c| c.ts > ts).cloned().collect())
    }

    /// Whether a transaction that read `reads` at `begin_ts` conflicts with a later commit.
    fn conflict(&self, begin_ts: Timestamp, reads: &ReadSet) -> Option<String> {
        if begin_ts < self.window_start {
            return Some("the transaction's snapshot is older than the recent-commit window".into());
        }
        self.recent
            .iter()
            .rev()
            .take_while(|c| c.ts > begin_ts)
            .find(|c| c.writes.overlaps(reads))
            .map(|c| format!("a commit at {} wrote data this transaction read", c.ts.0))
    }
}

pub(crate) fn spawn(inner: Weak<Inner>, mut receiver: mpsc::Receiver<CommitRequest>) {
    tokio::spawn(async move {
        while let Some(first) = receiver.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let Some(inner) = inner.upgrade() else { break };
            commit_batch(&inner, batch).await;
        }
    });
}

async fn commit_batch(inner: &Inner, batch: Vec<CommitRequest>) {
    let mut commits: Vec<Commit> = Vec::with_capacity(batch.len());
    let mut waiters: Vec<(oneshot::Sender<Result<Timestamp>>, Arc<CommitEntry>)> = Vec::with_capacity(batch.len());
    let mut last_ts = inner.commit_state.lock().last_ts;
    for request in batch {
        let CommitRequest { begin_ts, reads, writes, mut commit, reply } = request;
        let conflict = {
            let state = inner.commit_state.lock();
            state.conflict(begin_ts, &reads)
        }
        .or_else(|| {
            waiters
                .iter()
                .find(|(_, entry)| entry.writes.overlaps(&reads))
                .map(|(_, entry)| format!("a commit at {} wrote data this transaction read", entry.ts.0))
        });
        if let Some(reason) = conflict {
            let _ = reply.send(Err(DatabaseError::Conflict(reason)));
            continue;
        }
        let ts = Timestamp(inner.clock.now_nanos().max(last_ts.0 + 1));
        last_ts = ts;
        commit.ts = ts;
        commit.log = writes.encode();
        commits.push(commit);
        waiters.push((reply, Arc::new(CommitEntry { ts, writes })));
    }
    if commits.is_empty() {
        return;
    }
    match inner.persistence.write(commits).await {
        Ok(()) => {
            let mut state = inner.commit_state.lock();
            {
                // The shared view no longer shows the latest commit: release its read transaction now.
                let mut shared = inner.shared_view.lock();
                if shared.as_ref().is_some_and(|s| s.ts() < last_ts) {
                    *shared = None;
                }
            }
            for (reply, entry) in waiters {
                state.push(entry.clone());
                let ts = entry.ts;
                let _ = inner.notify.send(entry);
                let _ = reply.send(Ok(ts));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "commit batch failed; nothing was written");
            let message = e.to_string();
            for (reply, _) in waiters {
                let _ = reply.send(Err(DatabaseError::Storage(storage::StorageError::Backend(message.clone()))));
            }
        }
    }
}
