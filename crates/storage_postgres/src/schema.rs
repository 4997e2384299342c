//! The schema and its migrations, versioned in the one-row table `schema_version`.
//!
//! Each step from version N to N+1 runs in its own transaction together with the version bump, under a
//! transaction-scoped advisory lock, so several processes starting on one database at once migrate it exactly
//! once and a failed step leaves the database at version N.

use crate::{backend, pg_error};
use deadpool_postgres::ClientWrapper;
use storage::{Result, StorageError};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Entry `i` upgrades a database at version `i` to `i + 1`. Append only: never edit a released entry.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema. Ids, keys and metadata keys are bytea, which PostgreSQL compares bytewise (memcmp,
    // shorter prefix first): the order the database layer encodes index keys for, with no collation involved.
    // Table numbers and index ids are u32, so they are stored as bigint.
    "CREATE TABLE documents (
        id bytea PRIMARY KEY,
        tbl bigint NOT NULL,
        body bytea NOT NULL
    );
    CREATE TABLE index_entries (
        idx bigint NOT NULL,
        key bytea NOT NULL,
        doc bytea NOT NULL,
        PRIMARY KEY (idx, key)
    );
    CREATE TABLE commit_log (
        ts bigint PRIMARY KEY,
        log bytea NOT NULL
    );
    CREATE TABLE meta (
        key bytea PRIMARY KEY,
        value bytea NOT NULL
    );",
];

const _: () = assert!(MIGRATIONS.len() == SCHEMA_VERSION as usize, "one migration per schema version");

/// The advisory lock key serializing migrations ("authvex" in ASCII).
const MIGRATION_LOCK: i64 = 0x0061_7574_6876_6578;

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version bigint NOT NULL
)";

/// Brings the database to `migrations.len()`, one version per transaction; refuses a database from a newer build.
pub(crate) async fn migrate(client: &mut ClientWrapper, migrations: &[&str]) -> Result<()> {
    loop {
        let tx = client.transaction().await.map_err(backend("begin migration"))?;
        tx.query_one("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend("lock for migration"))?;
        // Only when missing: `IF NOT EXISTS` on an existing table makes the server send a NOTICE at every start.
        let exists: bool = tx
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(backend("look for schema_version"))?;
        if !exists {
            tx.batch_execute(CREATE_VERSION_TABLE).await.map_err(backend("create schema_version"))?;
        }
        let found: i64 = match tx
            .query_opt("SELECT version FROM schema_version", &[])
            .await
            .map_err(backend("read schema version"))?
        {
            Some(row) => row.try_get(0).map_err(backend("read schema version"))?,
            None => 0,
        };
        let current = usize::try_from(found).ok().filter(|version| *version <= migrations.len()).ok_or_else(|| {
            StorageError::Backend(format!(
                "postgres schema version {found} is not supported by this build (it supports up to {})",
                migrations.len()
            ))
        })?;
        let Some(sql) = migrations.get(current) else {
            // Up to date: commit so the version table created above (on a fresh database) stays.
            return tx.commit().await.map_err(backend("commit schema check"));
        };
        let to = current + 1;
        tx.batch_execute(sql).await.map_err(|error| pg_error(&format!("migration to schema version {to}"), &error))?;
        let to_sql = i64::try_from(to).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO schema_version (singleton, version) VALUES (true, $1) \
             ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
            &[&to_sql],
        )
        .await
        .map_err(backend("set schema version"))?;
        tx.commit().await.map_err(|error| pg_error(&format!("commit migration to schema version {to}"), &error))?;
        tracing::info!(from = current, to, "migrated postgres schema");
    }
}

#[cfg(test)]
mod tests;
