//! A small pool of reader connections, reused across snapshots and reads.

use crate::open_reader;
use parking_lot::Mutex;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use storage::Result;

/// Idle connections kept for reuse; more may be open at once (one per live snapshot), the rest are closed.
const MAX_IDLE_READERS: usize = 8;

pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    pub(crate) fn new(path: PathBuf) -> Self {
        ReaderPool { path, idle: Mutex::new(Vec::new()) }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// An idle connection, or a new one when none is idle.
    pub(crate) fn take(&self) -> Result<Connection> {
        // Bind first: the pool lock must be released before a (slow) open.
        let idle = self.idle.lock().pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open_reader(&self.path),
        }
    }

    /// Returns a connection for reuse. One still inside a transaction (a failed rollback) is closed instead.
    pub(crate) fn give_back(&self, conn: Connection) {
        if !conn.is_autocommit() {
            tracing::warn!(path = %self.path.display(), "closing a sqlite reader left inside a transaction");
            return;
        }
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }

    /// Runs `read` on a pooled connection outside any explicit transaction (each statement sees the latest commit).
    pub(crate) fn with<T>(&self, read: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.take()?;
        let result = read(&conn);
        self.give_back(conn);
        result
    }
}
