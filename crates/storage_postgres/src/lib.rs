//! The scale-out [`Persistence`] backend: PostgreSQL through `tokio-postgres`, with a `deadpool` connection pool.
//!
//! Same semantics as the embedded SQLite backend, mapped onto PostgreSQL:
//! * **Writes** run in one `READ COMMITTED` transaction per batch. The transaction first takes a self-conflicting
//!   `SHARE ROW EXCLUSIVE` lock on `commit_log` (plain reads are not blocked by it), so batches commit one at a time
//!   and the "every ts is after the stored max" check sees the previous batch. The batch is collapsed to the last
//!   write per document id and per index key, then applied with a handful of array (`unnest`) statements whatever
//!   its size. `synchronous_commit` is forced `on` for authvex's connections (unless the connection string sets it),
//!   so an acknowledged write has been flushed to the WAL.
//! * **Snapshots** are `REPEATABLE READ READ ONLY` transactions held on a pooled connection: the first statement
//!   (`SELECT max(ts)`) pins PostgreSQL's snapshot and reads its timestamp at once. Writers are serialized, so every
//!   snapshot sees a prefix of the commits. The transaction is rolled back when the snapshot is dropped; holding one
//!   never blocks writers (it does hold back vacuum, like any open transaction).
//! * **Keys** (index keys, document ids, metadata keys) are `bytea`, which PostgreSQL compares bytewise (memcmp, a
//!   prefix first): no text collation is ever involved.
//!
//! Timestamps and table numbers are `bigint`, so a commit timestamp above `i64::MAX` is rejected. The schema is
//! versioned in `schema_version` and migrated one version per transaction at start ([`schema`]).

mod hints;
mod schema;
mod snapshot;
pub mod tls;
mod writer;

pub use schema::SCHEMA_VERSION;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use storage::{Commit, IndexId, IndexWrite, LogRecord, Persistence, Result, Snapshot, StorageError, Timestamp};

/// How the connection pools are sized and how long callers wait for them.
///
/// Snapshots and everything else (writes, the commit log, metadata) use separate pools: a transaction holds its
/// snapshot's connection until it commits, so if commits drew from the same pool, enough concurrent transactions
/// would leave the committer no connection to commit them with.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// The most snapshots open at once (every live snapshot holds a connection).
    pub snapshot_connections: usize,
    /// The most connections for writes, commit-log and metadata reads at once.
    pub other_connections: usize,
    /// How long an operation waits for a free connection before failing.
    pub wait_timeout: Duration,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            snapshot_connections: 32,
            other_connections: 4,
            wait_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A [`Persistence`] backed by one PostgreSQL database.
pub struct PostgresPersistence {
    /// Connections held by snapshots.
    snapshots: Pool,
    /// Connections for everything else, used one operation at a time.
    others: Pool,
    target: String,
    /// Woken when another process commits (LISTEN/NOTIFY); see [`hints`].
    hints: std::sync::Arc<tokio::sync::Notify>,
    /// This process's token in the notifications it sends, so it can ignore its own.
    token: String,
}

impl std::fmt::Debug for PostgresPersistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresPersistence").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PostgresPersistence {
    /// Connects with the default pool settings; see [`PostgresPersistence::connect_with`].
    ///
    /// # Errors
    /// As [`PostgresPersistence::connect_with`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, PostgresConfig::default()).await
    }

    /// Connects to the database named by `url` (`postgres://user@host:port/dbname` or `key=value` form, with
    /// libpq's TLS parameters: see [`tls`]), creates the schema or migrates an older one, and returns the backend.
    /// The database itself must exist. Every pooled connection and the LISTEN connection use the same TLS settings.
    ///
    /// # Errors
    /// [`StorageError::Backend`] when the connection string is invalid, the server cannot be reached, or the
    /// database holds a schema from a newer build. Messages never include the password.
    pub async fn connect_with(url: &str, config: PostgresConfig) -> Result<Self> {
        let (mut pg_config, tls_settings) = tls::parse(url).map_err(StorageError::Backend)?;
        let tls = tls::connector(&tls_settings).map_err(|error| {
            StorageError::Backend(format!("PostgreSQL TLS settings ({}): {error}", tls_settings.describe()))
        })?;
        if pg_config.get_application_name().is_none() {
            pg_config.application_name("authvex");
        }
        // An acknowledged write must be durable whatever the server's default; an explicit setting in the
        // connection string is respected.
        let options = pg_config.get_options().unwrap_or_default().to_owned();
        if !options.contains("synchronous_commit") {
            let joined = if options.is_empty() {
                "-c synchronous_commit=on".to_owned()
            } else {
                format!("{options} -c synchronous_commit=on")
            };
            pg_config.options(joined);
        }
        pg_config.connect_timeout(config.connect_timeout);
        let target = format!("{} ({})", describe(&pg_config), tls_settings.describe());
        let pool = |size: usize| {
            let manager = Manager::from_config(
                pg_config.clone(),
                tls.clone(),
                ManagerConfig { recycling_method: RecyclingMethod::Fast },
            );
            Pool::builder(manager)
                .max_size(size.max(1))
                .runtime(Runtime::Tokio1)
                .wait_timeout(Some(config.wait_timeout))
                .create_timeout(Some(config.connect_timeout))
                .build()
                .map_err(|error| StorageError::Backend(format!("postgres connection pool for {target}: {error}")))
        };
        let persistence = PostgresPersistence {
            snapshots: pool(config.snapshot_connections)?,
            others: pool(config.other_connections)?,
            target: target.clone(),
            hints: std::sync::Arc::new(tokio::sync::Notify::new()),
            token: format!("{:016x}", rand::random::<u64>()),
        };
        {
            let mut conn = persistence.conn().await?;
            schema::migrate(&mut conn, schema::MIGRATIONS).await?;
        }
        hints::spawn_listener(pg_config, tls, persistence.token.clone(), &persistence.hints);
        tracing::debug!(target = %persistence.target, "opened postgres storage");
        Ok(persistence)
    }

    /// A pooled connection for one operation (not a snapshot).
    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object> {
        self.get(&self.others, "writes and reads outside snapshots").await
    }

    /// A pooled connection for a snapshot.
    async fn snapshot_conn(&self) -> Result<deadpool_postgres::Object> {
        self.get(&self.snapshots, "snapshots; each live snapshot holds one").await
    }

    async fn get(&self, pool: &Pool, purpose: &str) -> Result<deadpool_postgres::Object> {
        pool.get().await.map_err(|error| {
            let detail = match &error {
                deadpool_postgres::PoolError::Backend(error) => tls::explain(pg_detail(error)),
                deadpool_postgres::PoolError::Timeout(_) => format!(
                    "timed out waiting for a connection (all {} for {purpose} are in use)",
                    pool.status().max_size
                ),
                other => other.to_string(),
            };
            StorageError::Backend(format!("cannot connect to PostgreSQL at {}: {detail}", self.target))
        })
    }
}

/// A connection string for messages: `user@host:port/dbname (sslmode=…)`, never the password (or `invalid URL`).
pub fn redacted(url: &str) -> String {
    match tls::parse(url) {
        Ok((config, tls)) => format!("{} ({})", describe(&config), tls.describe()),
        Err(_) => "(an invalid connection string)".to_owned(),
    }
}

/// `user@host:port/dbname` for messages (never the password).
fn describe(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            let port = config.get_ports().get(i).or_else(|| config.get_ports().first()).copied().unwrap_or(5432);
            format!("{name}:{port}")
        })
        .collect();
    let user = config.get_user().unwrap_or("");
    let dbname = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() { String::new() } else { format!("{user}@") };
    format!("{at}{}/{dbname}", hosts.join(","))
}

/// A tokio-postgres error with the server's message (and detail/hint) when it has one.
pub fn pg_detail(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !text.contains(&cause_text) {
                    text.push_str(&format!(": {cause_text}"));
                }
                source = cause.source();
            }
            text
        }
    }
}

/// Maps a tokio-postgres error to [`StorageError::Backend`], naming the operation.
pub(crate) fn pg_error(operation: &str, error: &tokio_postgres::Error) -> StorageError {
    StorageError::Backend(format!("postgres {operation}: {}", pg_detail(error)))
}

/// [`pg_error`] for `map_err`.
pub(crate) fn backend(operation: &'static str) -> impl FnOnce(tokio_postgres::Error) -> StorageError {
    move |error| pg_error(operation, &error)
}

/// A timestamp as stored: `bigint` is i64.
pub(crate) fn ts_to_sql(ts: Timestamp) -> Result<i64> {
    i64::try_from(ts.0).map_err(|_| {
        StorageError::Backend(format!("postgres: timestamp {} exceeds the largest storable timestamp (i64::MAX)", ts.0))
    })
}

/// A stored timestamp read back; negative values mean the row was not written by this backend.
pub(crate) fn ts_from_sql(value: i64) -> Result<Timestamp> {
    u64::try_from(value)
        .map(Timestamp)
        .map_err(|_| StorageError::Backend(format!("postgres: stored timestamp {value} is negative")))
}

/// A stored table number read back.
pub(crate) fn table_from_sql(value: i64) -> Result<storage::TableNumber> {
    storage::TableNumber::try_from(value)
        .map_err(|_| StorageError::Backend(format!("postgres: stored table number {value} is out of range")))
}

/// A limit as an SQL `LIMIT` (anything above i64::MAX is unlimited anyway).
pub(crate) fn limit_to_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(crate) const MAX_TS: &str = "SELECT max(ts) FROM commit_log";

/// The latest commit's timestamp as seen by `client` (inside its transaction, if one is open).
pub(crate) async fn read_max_ts(client: &deadpool_postgres::ClientWrapper) -> Result<Option<Timestamp>> {
    let statement = client.prepare_cached(MAX_TS).await.map_err(backend("prepare max ts"))?;
    let row = client.query_one(&statement, &[]).await.map_err(backend("read max ts"))?;
    let max: Option<i64> = row.try_get(0).map_err(backend("read max ts"))?;
    max.map(ts_from_sql).transpose()
}

/// The smallest byte string greater than every string starting with `prefix` (`None`: unbounded).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[async_trait]
impl Persistence for PostgresPersistence {
    async fn write(&self, commits: Vec<Commit>) -> Result<()> {
        if commits.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        writer::write_commits(&mut conn, None, &commits, &self.token).await
    }

    async fn write_if_latest(&self, expected_latest: Option<Timestamp>, commits: Vec<Commit>) -> Result<()> {
        let mut conn = self.conn().await?;
        writer::write_commits(&mut conn, Some(expected_latest), &commits, &self.token).await
    }

    /// Several processes may open the same database (several `authvex serve` nodes).
    fn is_shared(&self) -> bool {
        true
    }

    fn commit_hints(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        Some(self.hints.clone())
    }

    async fn put_meta_if(&self, key: &str, expected: Option<&[u8]>, value: Option<Vec<u8>>) -> Result<bool> {
        let mut conn = self.conn().await?;
        writer::put_meta_if(&mut conn, key, expected, value.as_deref()).await
    }

    async fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        let conn = self.snapshot_conn().await?;
        Ok(Box::new(snapshot::PostgresSnapshot::begin(conn).await?))
    }

    async fn log_after(&self, after: Timestamp, limit: usize) -> Result<Vec<LogRecord>> {
        // Every stored ts is at most i64::MAX, so nothing lies after a larger one.
        let Ok(after) = i64::try_from(after.0) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let conn = self.conn().await?;
        let statement = conn
            .prepare_cached("SELECT ts, log FROM commit_log WHERE ts > $1 ORDER BY ts ASC LIMIT $2")
            .await
            .map_err(backend("prepare log_after"))?;
        let rows = conn.query(&statement, &[&after, &limit_to_sql(limit)]).await.map_err(backend("log_after"))?;
        rows.iter()
            .map(|row| {
                let ts: i64 = row.try_get(0).map_err(backend("read commit log row"))?;
                Ok(LogRecord { ts: ts_from_sql(ts)?, log: row.try_get(1).map_err(backend("read commit log row"))? })
            })
            .collect()
    }

    async fn max_ts(&self) -> Result<Option<Timestamp>> {
        let conn = self.conn().await?;
        read_max_ts(&conn).await
    }

    async fn prune_log(&self, before: Timestamp) -> Result<()> {
        // Every stored ts is at most i64::MAX, so a larger bound prunes like i64::MAX (the latest is kept anyway).
        let before = i64::try_from(before.0).unwrap_or(i64::MAX);
        let conn = self.conn().await?;
        let statement = conn
            .prepare_cached("DELETE FROM commit_log WHERE ts < $1 AND ts < (SELECT max(ts) FROM commit_log)")
            .await
            .map_err(backend("prepare prune_log"))?;
        conn.execute(&statement, &[&before]).await.map_err(backend("prune_log"))?;
        Ok(())
    }

    async fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let conn = self.conn().await?;
        let statement =
            conn.prepare_cached("SELECT value FROM meta WHERE key = $1").await.map_err(backend("prepare get_meta"))?;
        let row = conn
            .query_opt(&statement, &[&key.as_bytes()])
            .await
            .map_err(|error| pg_error(&format!("get_meta {key:?}"), &error))?;
        row.map(|row| row.try_get(0)).transpose().map_err(|error| pg_error(&format!("get_meta {key:?}"), &error))
    }

    async fn list_meta(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let conn = self.conn().await?;
        // Keys are bytea (bytewise order), so the matches are exactly [prefix, prefix_end(prefix)).
        let rows = match prefix_end(prefix.as_bytes()) {
            Some(end) => {
                let statement = conn
                    .prepare_cached("SELECT key, value FROM meta WHERE key >= $1 AND key < $2 ORDER BY key ASC")
                    .await
                    .map_err(backend("prepare list_meta"))?;
                conn.query(&statement, &[&prefix.as_bytes(), &end]).await
            }
            None => {
                let statement = conn
                    .prepare_cached("SELECT key, value FROM meta WHERE key >= $1 ORDER BY key ASC")
                    .await
                    .map_err(backend("prepare list_meta"))?;
                conn.query(&statement, &[&prefix.as_bytes()]).await
            }
        }
        .map_err(backend("list_meta"))?;
        rows.iter()
            .map(|row| {
                let key: Vec<u8> = row.try_get(0).map_err(backend("read meta key"))?;
                let key = String::from_utf8(key)
                    .map_err(|_| StorageError::Backend("postgres list_meta: a stored key is not UTF-8".to_owned()))?;
                Ok((key, row.try_get(1).map_err(backend("read meta value"))?))
            })
            .collect()
    }

    async fn put_meta(&self, entries: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        writer::put_meta(&mut conn, &entries).await
    }

    async fn clear_index(&self, index: IndexId) -> Result<()> {
        let conn = self.conn().await?;
        let statement = conn
            .prepare_cached("DELETE FROM index_entries WHERE idx = $1")
            .await
            .map_err(backend("prepare clear_index"))?;
        conn.execute(&statement, &[&i64::from(index)])
            .await
            .map_err(|error| pg_error(&format!("clear_index {index}"), &error))?;
        Ok(())
    }

    async fn backfill_index(&self, entries: Vec<IndexWrite>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        writer::backfill_index(&mut conn, &entries).await
    }
}
