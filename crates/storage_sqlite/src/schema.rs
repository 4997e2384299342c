//! The on-disk schema and its migrations, versioned with `PRAGMA user_version`.

use crate::{backend, sqlite_error};
use rusqlite::{Connection, TransactionBehavior};
use storage::{Result, StorageError};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Entry `i` upgrades a database at `user_version = i` to `i + 1`. Append only: never edit a released entry.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema. Keys and ids are BLOBs, so SQLite compares them with memcmp (shorter prefix first),
    // which is the order the database layer encodes index keys for. WITHOUT ROWID clusters rows by their key.
    "CREATE TABLE documents (
        id BLOB PRIMARY KEY,
        tbl INTEGER NOT NULL,
        body BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE index_entries (
        idx INTEGER NOT NULL,
        key BLOB NOT NULL,
        doc BLOB NOT NULL,
        PRIMARY KEY (idx, key)
    ) WITHOUT ROWID;
    CREATE TABLE commit_log (
        ts INTEGER PRIMARY KEY,
        log BLOB NOT NULL
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );",
];

const _: () = assert!(MIGRATIONS.len() == SCHEMA_VERSION as usize, "one migration per schema version");

/// Brings the database to [`SCHEMA_VERSION`] in one transaction; refuses a database from a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend("begin migration"))?;
    let found: i64 =
        tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(backend("read schema version"))?;
    let current = usize::try_from(found).ok().filter(|version| *version <= MIGRATIONS.len()).ok_or_else(|| {
        StorageError::Backend(format!(
            "sqlite schema version {found} is not supported by this build (it supports up to {SCHEMA_VERSION})"
        ))
    })?;
    if current == MIGRATIONS.len() {
        return Ok(());
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let to = from + 1;
        tx.execute_batch(sql).map_err(|error| sqlite_error(&format!("migration to schema version {to}"), error))?;
        tracing::info!(from, to, "migrated sqlite schema");
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(backend("set schema version"))?;
    tx.commit().map_err(backend("commit migration"))
}
