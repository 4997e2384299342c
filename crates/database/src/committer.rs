//! The single committer: validates optimistic transactions against recent commits, assigns timestamps in commit
//! order and persists batches (group commit: one durable write for every request waiting at that moment).

use crate::write_log::{CommitEntry, ReadSet, WriteSet};
use crate::{DatabaseError, Inner, Result};
use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Duration;
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

pub(crate) fn spawn(
    inner: Weak<Inner>,
    mut receiver: mpsc::Receiver<CommitRequest>,
    tail_every: Option<Duration>,
    hints: Option<Arc<tokio::sync::Notify>>,
) {
    tokio::spawn(async move {
        // On a shared store, other processes commit too: between batches, the committer tails the commit log so
        // their commits reach the conflict window and the subscribers within `tail_every`.
        let mut tail = tail_every.map(|every| {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        });
        loop {
            let first = match tail.as_mut() {
                Some(tail) => tokio::select! {
                    request = receiver.recv() => request,
                    // Another node said it committed (e.g. PostgreSQL NOTIFY): read the log now.
                    _ = async { match &hints { Some(hints) => hints.notified().await, None => std::future::pending().await } } => {
                        let Some(inner) = inner.upgrade() else { break };
                        if let Err(e) = catch_up(&inner).await {
                            tracing::warn!(error = %e, "tailing the shared commit log failed; retrying");
                        }
                        continue;
                    }
                    _ = tail.tick() => {
                        let Some(inner) = inner.upgrade() else { break };
                        if let Err(e) = catch_up(&inner).await {
                            tracing::warn!(error = %e, "tailing the shared commit log failed; retrying");
                        }
                        continue;
                    }
                },
                None => receiver.recv().await,
            };
            let Some(first) = first else { break };
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

/// Reads the commits other processes appended to a shared store since the latest one this process knows, adds
/// them to the conflict window in timestamp order and announces them to subscribers, like local commits. A remote
/// commit may use a table this process has not seen yet, so the catalog is reloaded when any arrived.
pub(crate) async fn catch_up(inner: &Inner) -> Result<()> {
    const PAGE: usize = 1024;
    let mut arrived = false;
    loop {
        let after = inner.commit_state.lock().last_ts;
        let records = inner.persistence.log_after(after, PAGE).await?;
        let full_page = records.len() == PAGE;
        let mut entries = Vec::with_capacity(records.len());
        for record in records {
            let writes = WriteSet::decode(&record.log).map_err(|e| {
                DatabaseError::Storage(storage::StorageError::Backend(format!(
                    "commit-log record at {} cannot be decoded: {e}",
                    record.ts.0
                )))
            })?;
            entries.push(Arc::new(CommitEntry { ts: record.ts, writes }));
        }
        if entries.is_empty() {
            break;
        }
        if !arrived {
            crate::reload_catalog(inner).await?;
            arrived = true;
        }
        let mut state = inner.commit_state.lock();
        for entry in entries {
            // Another catch-up or a local commit may have got here first.
            if entry.ts <= state.last_ts {
                continue;
            }
            release_stale_shared_view(inner, entry.ts);
            state.push(entry.clone());
            let _ = inner.notify.send(entry);
        }
        if !full_page {
            break;
        }
    }
    Ok(())
}

/// The shared read view no longer shows the latest commit: release its read transaction now.
fn release_stale_shared_view(inner: &Inner, latest: Timestamp) {
    let mut shared = inner.shared_view.lock();
    if shared.as_ref().is_some_and(|s| s.ts() < latest) {
        *shared = None;
    }
}

async fn commit_batch(inner: &Inner, batch: Vec<CommitRequest>) {
    let shared = inner.persistence.is_shared();
    if shared {
        // Conflicts are checked against every commit, other processes' included.
        if let Err(e) = catch_up(inner).await {
            tracing::error!(error = %e, "cannot read the shared commit log; failing this batch");
            let message = e.to_string();
            for request in batch {
                let _ =
                    request.reply.send(Err(DatabaseError::Storage(storage::StorageError::Backend(message.clone()))));
            }
            return;
        }
    }
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
    let written = if shared {
        // Only on top of the latest commit this process checked against: another process's commit in between
        // fails the write (and these transactions re-run against it).
        let checked = inner.commit_state.lock().last_ts;
        inner.persistence.write_if_latest((checked.0 > 0).then_some(checked), commits).await
    } else {
        inner.persistence.write(commits).await
    };
    match written {
        Ok(()) => {
            let mut state = inner.commit_state.lock();
            release_stale_shared_view(inner, last_ts);
            for (reply, entry) in waiters {
                state.push(entry.clone());
                let ts = entry.ts;
                let _ = inner.notify.send(entry);
                let _ = reply.send(Ok(ts));
            }
        }
        Err(storage::StorageError::Conflict(reason)) if shared => {
            tracing::debug!(%reason, "another process committed first; the batch re-runs");
            for (reply, _) in waiters {
                let _ = reply.send(Err(DatabaseError::Conflict(format!("another node committed first: {reason}"))));
            }
            if let Err(e) = catch_up(inner).await {
                tracing::warn!(error = %e, "tailing the shared commit log failed; retrying");
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
