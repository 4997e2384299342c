//! A running deployment: storage opened, database and runtime built, the API and site origins bound.
//! Used by the CLI and by black-box tests (which bind port 0).

mod auth_setup;
pub mod auth_transports;
pub mod env_store;
pub mod files_setup;
pub mod health;
pub mod identity_setup;
pub mod redis_rate_limit;
pub mod tls;
pub mod transfer;

use database::{Database, DatabaseConfig, OsEntropy, SystemClock};
use functions::{App, Runtime};
use http_api::{ApiState, AuthVerifier, NoAuthProviders};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use storage::DynPersistence;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the deployment keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// Embedded SQLite in this folder (the default).
    Sqlite { data_dir: PathBuf },
    /// PostgreSQL at `url` (`postgres://user@host:port/dbname`; the database must exist, the schema is created or
    /// migrated at start). `data_dir` holds only local files (the development mail outbox).
    Postgres { url: String, data_dir: PathBuf },
    /// Nothing persisted (tests).
    Memory,
}

/// Everything needed to start a deployment.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub storage: StorageConfig,
    pub api_addr: SocketAddr,
    pub site_addr: SocketAddr,
    /// How often deployment env vars are re-read so `authvex env set` reaches running functions.
    pub env_refresh: Duration,
    /// The built-in auth service (`None` = no `/api/auth`).
    pub auth: Option<AuthSettings>,
    /// Further auth providers, in `convex/auth.config.ts` shapes (`{type:"customJwt", issuer, jwks, algorithm,
    /// applicationID?}` or `{domain, applicationID}`).
    pub auth_providers: Vec<serde_json::Value>,
    /// The process environment as the CLI saw it (overrides the deployment env store; core crates never read it).
    pub process_env: BTreeMap<String, String>,
    /// How scheduled functions and crons are executed.
    pub scheduler: functions::ExecutorConfig,
    /// TLS on both listeners (`None`: plain HTTP, e.g. behind a proxy that terminates TLS).
    pub tls: Option<tls::TlsSettings>,
}

/// How the auth service is configured.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// Options from the config file (Better Auth names).
    pub options: auth::config::AuthOptions,
    /// Development mode: generate and store a secret when none is set, log mails to an outbox file.
    pub dev: bool,
    /// Where mails go.
    pub mail: MailSettings,
    /// The app's database hooks and triggers on the auth tables.
    pub triggers: auth::triggers::Triggers,
}

/// Outgoing mail.
#[derive(Debug, Clone, Default)]
pub enum MailSettings {
    /// Log links and append mails to `<data>/outbox.jsonl` (the default in development).
    #[default]
    Dev,
    /// Send through an SMTP relay.
    Smtp(auth::email::SmtpSettings),
}

impl ServerConfig {
    pub fn sqlite(data_dir: impl Into<PathBuf>, api_port: u16, site_port: u16) -> Self {
        ServerConfig {
            storage: StorageConfig::Sqlite { data_dir: data_dir.into() },
            api_addr: SocketAddr::from(([127, 0, 0, 1], api_port)),
            site_addr: SocketAddr::from(([127, 0, 0, 1], site_port)),
            env_refresh: Duration::from_secs(2),
            auth: Some(AuthSettings { dev: true, ..AuthSettings::default() }),
            auth_providers: Vec::new(),
            process_env: BTreeMap::new(),
            scheduler: functions::ExecutorConfig::default(),
            tls: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open storage: {0}")]
    Storage(#[from] storage::StorageError),
    #[error("cannot open the database: {0}")]
    Database(#[from] database::DatabaseError),
    #[error("the app is invalid: {0}")]
    App(String),
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot create data folder {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Env(#[from] env_store::EnvError),
    #[error("auth configuration: {0}")]
    Auth(String),
    #[error("file storage: {0}")]
    Files(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("another process is running a deployment on {path} (it holds {}); stop it first", lock_path(path).display())]
    Locked { path: PathBuf },
}

/// The lock file of a SQLite data folder: the running deployment holds an exclusive lock on it, so a second
/// deployment (or a maintenance command that writes) on the same folder is refused instead of committing beside it.
pub fn lock_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("authvex.lock")
}

/// Takes the data folder's lock (released when the returned file is dropped or the process dies, even by
/// `kill -9`). Fails at once when another process holds it.
pub fn lock_data_dir(data_dir: &std::path::Path) -> Result<std::fs::File, ServerError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|source| ServerError::DataDir { path: data_dir.to_path_buf(), source })?;
    let path = lock_path(data_dir);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| ServerError::DataDir { path: path.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ServerError::Locked { path: data_dir.to_path_buf() }),
        Err(std::fs::TryLockError::Error(source)) => Err(ServerError::DataDir { path, source }),
    }
}

/// The SQLite file inside a data folder.
pub fn sqlite_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("authvex.sqlite3")
}

/// Opens the configured storage.
pub async fn open_storage(config: &StorageConfig) -> Result<DynPersistence, ServerError> {
    match config {
        StorageConfig::Sqlite { data_dir } => {
            std::fs::create_dir_all(data_dir)
                .map_err(|source| ServerError::DataDir { path: data_dir.clone(), source })?;
            Ok(Arc::new(storage_sqlite::SqlitePersistence::open(&sqlite_path(data_dir))?))
        }
        StorageConfig::Postgres { url, data_dir } => {
            std::fs::create_dir_all(data_dir)
                .map_err(|source| ServerError::DataDir { path: data_dir.clone(), source })?;
            Ok(Arc::new(storage_postgres::PostgresPersistence::connect(url).await?))
        }
        StorageConfig::Memory => Ok(Arc::new(storage::MemoryPersistence::new())),
    }
}

impl StorageConfig {
    /// Where the data lives, for messages (a PostgreSQL URL without its password).
    pub fn describe(&self) -> String {
        match self {
            StorageConfig::Sqlite { data_dir } => format!("SQLite in {}", data_dir.display()),
            StorageConfig::Postgres { url, .. } => {
                format!("PostgreSQL at {}", storage_postgres::redacted(url))
            }
            StorageConfig::Memory => "memory (nothing is persisted)".to_owned(),
        }
    }
}

/// A started deployment. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub api_url: String,
    pub site_url: String,
    pub runtime: Arc<Runtime>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    tls: Option<Arc<tls::ReloadableCert>>,
    /// The SQLite data folder's lock, held while the process runs.
    _lock: Option<std::fs::File>,
}

impl RunningServer {
    /// Stops accepting connections, lets in-flight requests finish, and waits for the listeners to close.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Waits until the server stops (after `shutdown` from elsewhere or a fatal error).
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// The listeners' certificate when TLS is on (the CLI reloads it on SIGHUP).
    pub fn tls_cert(&self) -> Option<Arc<tls::ReloadableCert>> {
        self.tls.clone()
    }

    /// A handle that stops the server when sent `true`.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Starts a deployment of `app`.
pub async fn start(app: App, config: ServerConfig) -> Result<RunningServer, ServerError> {
    let lock = match &config.storage {
        StorageConfig::Sqlite { data_dir } => Some(lock_data_dir(data_dir)?),
        _ => None,
    };
    // A certificate that cannot be loaded stops the start before anything else happens.
    let tls_cert = config.tls.clone().map(tls::ReloadableCert::load).transpose().map_err(ServerError::Tls)?;
    let tls_config = tls_cert.as_ref().map(tls::ReloadableCert::server_config).transpose().map_err(ServerError::Tls)?;
    let persistence = open_storage(&config.storage).await?;
    let mut app = app;
    if let Some(auth) = &config.auth {
        app.extend_schema(auth.options.auth_schema());
    }
    app.extend_schema(functions::storage::storage_schema());
    add_builtin_functions(&mut app);
    let clock: Arc<dyn database::Clock> = Arc::new(SystemClock);
    let clock_for_auth = clock.clone();
    let clock_for_sync = clock.clone();
    let entropy: Arc<dyn database::Entropy> = Arc::new(OsEntropy);
    let db = Database::open(
        persistence.clone(),
        DatabaseConfig::new(app.schema_ref().clone(), clock.clone(), entropy.clone()),
    )
    .await?;

    let api_listener = TcpListener::bind(config.api_addr)
        .await
        .map_err(|source| ServerError::Bind { addr: config.api_addr, source })?;
    let site_listener = TcpListener::bind(config.site_addr)
        .await
        .map_err(|source| ServerError::Bind { addr: config.site_addr, source })?;
    let api_local = api_listener.local_addr().map_err(|source| ServerError::Bind { addr: config.api_addr, source })?;
    let site_local =
        site_listener.local_addr().map_err(|source| ServerError::Bind { addr: config.site_addr, source })?;
    let api_url = tls::url(tls_config.is_some(), api_local);
    let site_url = tls::url(tls_config.is_some(), site_local);

    let mut env = env_store::list(persistence.as_ref()).await?;
    // Behind a proxy the public site URL differs from the bound address: an explicit CONVEX_SITE_URL wins.
    let public_site_url = config
        .process_env
        .get("CONVEX_SITE_URL")
        .or_else(|| env.get("CONVEX_SITE_URL"))
        .filter(|v| !v.is_empty())
        .map_or(site_url.clone(), |v| v.trim_end_matches('/').to_string());
    let builtins = builtin_env(&api_url, &public_site_url);
    env.extend(builtins.clone());
    let auth_service = match &config.auth {
        Some(settings) => Some(
            auth_setup::build(settings, &config, persistence.as_ref(), &db, clock, entropy, &site_url, &mut env)
                .await?,
        ),
        None => None,
    };
    let auth = verifier(&config, auth_service.as_ref(), &env, &site_url, clock_for_auth)?;
    if auth_service.is_some() {
        add_auth_housekeeping(&mut app);
    }
    let setting = |name: &str| config.process_env.get(name).or_else(|| env.get(name)).cloned();
    let blobs = files_setup::open_blob_store(&config.storage, setting, clock_for_sync.clone())?;
    let files = functions::FileStorageConfig::from_lookup(setting);
    tracing::debug!(blobs = %blobs.describe(), "file storage");
    let runtime = Runtime::with_files(db, app, env, blobs, files).map_err(ServerError::App)?;

    let (stop, stopped) = watch::channel(false);
    // Scheduled functions and crons: every node runs an executor; transactions decide which node runs what.
    let executor = functions::Executor::new(runtime.clone(), config.scheduler.clone());
    let executor_task = executor.spawn(stopped.clone());
    let sync = sync::SyncServices {
        runtime: runtime.clone(),
        verifier: auth.clone(),
        mutations: Arc::new(sync::MutationLog::default()),
        clock: clock_for_sync,
        queries: Arc::new(sync::QueryCache::default()),
    };
    let state = ApiState {
        runtime: runtime.clone(),
        auth,
        auth_service,
        sync: Some(sync),
        shutdown: stopped.clone(),
        version: concat!("authvex ", env!("CARGO_PKG_VERSION")),
    };
    let mut tasks = Vec::new();
    for (listener, router) in [
        (api_listener, http_api::api_router(state.clone()).merge(health::router(persistence.clone()))),
        (site_listener, http_api::site_router(state.clone())),
    ] {
        let mut stopped = stopped.clone();
        if let Some(tls_config) = &tls_config {
            tasks.push(tokio::spawn(tls::serve(listener, router, tls_config.clone(), stopped)));
            continue;
        }
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            // Small protocol messages (a MutationResponse then its Transition) must not wait for delayed ACKs.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "could not set TCP_NODELAY");
                }
            });
            if let Err(e) = axum::serve(listener, service).with_graceful_shutdown(shutdown).await {
                tracing::error!(error = %e, "listener failed");
            }
        }));
    }
    if let Some(cert) = &tls_cert {
        cert.spawn_watcher(stopped.clone());
    }
    files_setup::spawn_sweeper(runtime.clone(), stopped.clone());
    // Keep env vars fresh so `authvex env set` reaches a running deployment.
    {
        let runtime = runtime.clone();
        let mut stopped = stopped.clone();
        let refresh = config.env_refresh;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(refresh) => {}
                    _ = stopped.wait_for(|s| *s) => break,
                }
                match env_store::list(persistence.as_ref()).await {
                    Ok(mut env) => {
                        env.extend(builtins.clone());
                        if *runtime.env() != env {
                            runtime.set_env(env);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not refresh deployment env vars"),
                }
            }
        });
    }
    tasks.push(executor_task);
    Ok(RunningServer { api_url, site_url, runtime, stop, tasks, tls: tls_cert, _lock: lock })
}

/// The token verifier: the built-in provider (when the auth service runs) plus configured ones.
fn verifier(
    config: &ServerConfig,
    auth_service: Option<&auth::AuthService>,
    env: &BTreeMap<String, String>,
    site_url: &str,
    clock: Arc<dyn database::Clock>,
) -> Result<Arc<dyn AuthVerifier>, ServerError> {
    let mut providers = Vec::new();
    if let Some(service) = auth_service {
        let issuer = jwt_issuer(env, site_url);
        providers.push(identity_setup::builtin_provider(service, &issuer).map_err(ServerError::Auth)?);
    }
    for value in &config.auth_providers {
        providers.push(identity::provider_from_convex_json(value).map_err(ServerError::Auth)?);
    }
    if providers.is_empty() {
        return Ok(Arc::new(NoAuthProviders));
    }
    Ok(Arc::new(identity_setup::ConvexVerifier::new(providers, clock).map_err(ServerError::Auth)?))
}

/// The JWT issuer: the deployment's public site URL (`CONVEX_SITE_URL`).
pub(crate) fn jwt_issuer(env: &BTreeMap<String, String>, site_url: &str) -> String {
    env.get("CONVEX_SITE_URL").map_or(site_url, String::as_str).trim_end_matches('/').to_string()
}

/// Functions every deployment serves unless the app defines its own: the seed's `auth:getCurrentUser`, which
/// returns `ctx.auth.getUserIdentity()` (null when signed out). `start` adds them; codegen too, to list them.
pub fn add_builtin_functions(app: &mut App) {
    if !app.has_function("auth:getCurrentUser") {
        app.query("auth:getCurrentUser", |ctx: functions::QueryCtx, _: value::Value| async move {
            Ok(ctx.auth.get_user_identity().map_or(value::Value::Null, |identity| identity.to_value()))
        });
    }
}

/// The auth service's sweep of expired sessions, verification rows and rotated-out keys: every ten minutes, at
/// most 10 × 500 rows per table per run.
fn add_auth_housekeeping(app: &mut App) {
    let task: functions::cron::SystemTask = Arc::new(|db, now| {
        Box::pin(async move {
            auth::housekeeping::sweep_expired(&db, now, 500, 10).await.map(|s| s.to_string()).map_err(|e| e.to_string())
        })
    });
    app.crons().system("auth housekeeping", functions::Schedule::minutes(10), task);
}

/// Variables every deployment defines, like Convex's built-ins.
fn builtin_env(api_url: &str, site_url: &str) -> Vec<(String, String)> {
    vec![("CONVEX_CLOUD_URL".into(), api_url.to_string()), ("CONVEX_SITE_URL".into(), site_url.to_string())]
}
