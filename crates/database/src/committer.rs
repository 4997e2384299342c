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
/// commit may use a table this process has not seen yet: then the catalog is reloaded.
pub(crate) async fn catch_up(inner: &Inner) -> Result<()> {
    const PAGE: usize = 1024;
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
        // Index ids are handed out in increasing order: a write into one this process has never seen means another
        // process created a table or index, so only then is the stored catalog read again.
        let known = inner.catalog.read().next_index;
        if entries.iter().any(|e| e.writes.keys.iter().any(|(index, _)| *index > known)) {
            crate::reload_catalog(inner).await?;
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

/// How often one batch is re-validated and re-written after other nodes committed between its check and its write.
const SHARED_WRITE_ATTEMPTS: usize = 64;

/// A random pause below 50 µs · 2^attempt (at most about 6.4 ms).
fn backoff(inner: &Inner, attempt: usize) -> Duration {
    let mut bytes = [0u8; 8];
    inner.entropy.fill(&mut bytes);
    let ceiling = 50u64 << attempt.min(7);
    Duration::from_micros(u64::from_le_bytes(bytes) % ceiling)
}

fn fail_all(pending: Vec<CommitRequest>, error: &DatabaseError) {
    let message = error.to_string();
    for request in pending {
        let _ = request.reply.send(Err(DatabaseError::Storage(storage::StorageError::Backend(message.clone()))));
    }
}

async fn commit_batch(inner: &Inner, batch: Vec<CommitRequest>) {
    let shared = inner.persistence.is_shared();
    let mut pending = batch;
    for attempt in 0..SHARED_WRITE_ATTEMPTS {
        if shared {
            // Conflicts are checked against every commit, other processes' included.
            if let Err(e) = catch_up(inner).await {
                tracing::error!(error = %e, "cannot read the shared commit log; failing this batch");
                fail_all(pending, &e);
                return;
            }
        }
        // Validate: a request that read what a newer commit (or an earlier request of this batch) wrote conflicts.
        let checked = inner.commit_state.lock().last_ts;
        let mut last_ts = checked;
        let mut valid: Vec<CommitRequest> = Vec::with_capacity(pending.len());
        let mut entries: Vec<Arc<CommitEntry>> = Vec::with_capacity(pending.len());
        for mut request in pending {
            let conflict = {
                let state = inner.commit_state.lock();
                state.conflict(request.begin_ts, &request.reads)
            }
            .or_else(|| {
                entries
                    .iter()
                    .find(|entry| entry.writes.overlaps(&request.reads))
                    .map(|entry| format!("a commit at {} wrote data this transaction read", entry.ts.0))
            });
            if let Some(reason) = conflict {
                let _ = request.reply.send(Err(DatabaseError::Conflict(reason)));
                continue;
            }
            let ts = Timestamp(inner.clock.now().as_nanos().max(last_ts.0 + 1));
            last_ts = ts;
            request.commit.ts = ts;
            request.commit.log = request.writes.encode();
            // A shared store may need the batch again (another attempt); otherwise the write set moves.
            let writes = if shared { request.writes.clone() } else { std::mem::take(&mut request.writes) };
            entries.push(Arc::new(CommitEntry { ts, writes }));
            valid.push(request);
        }
        if valid.is_empty() {
            return;
        }
        let written = if shared {
            // Only on top of the latest commit this batch was checked against: if another process committed in
            // between, nothing is written and the batch is checked again against that commit.
            let commits = valid.iter().map(|r| r.commit.clone()).collect();
            inner.persistence.write_if_latest((checked.0 > 0).then_some(checked), commits).await
        } else {
            let commits = valid.iter_mut().map(|r| std::mem::take(&mut r.commit)).collect();
            inner.persistence.write(commits).await
        };
        match written {
            Ok(()) => {
                let mut state = inner.commit_state.lock();
                release_stale_shared_view(inner, last_ts);
                for (request, entry) in valid.into_iter().zip(entries) {
                    state.push(entry.clone());
                    let ts = entry.ts;
                    let _ = inner.notify.send(entry);
                    let _ = request.reply.send(Ok(ts));
                }
                return;
            }
            Err(storage::StorageError::Conflict(reason)) if shared => {
                tracing::debug!(%reason, "another node committed first; checking the batch again");
                pending = valid;
                // Two busy nodes retrying in lockstep can keep overtaking each other: back off for a random, growing
                // moment so one of them gets through.
                tokio::time::sleep(backoff(inner, attempt)).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "commit batch failed; nothing was written");
                fail_all(valid, &DatabaseError::Storage(e));
                return;
            }
        }
    }
    // Other nodes kept committing in between every attempt: let the transactions re-run.
    for request in pending {
        let _ = request
            .reply
            .send(Err(DatabaseError::Conflict("other nodes kept committing first; re-run the transaction".into())));
    }
}
