//! The command line shared by `authvex` and every app built on the library (`chat dev`, `chat env set …`).

use anyhow::Context;
use clap::{Parser, Subcommand};
use functions::App;
use server::transfer::{self, TransferCounts};
use server::{env_store, ServerConfig, StorageConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "A reactive document backend with built-in auth, compatible with Convex and Better Auth clients"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the deployment for development (embedded database unless `--db`; a missing secret is generated).
    Dev {
        #[command(flatten)]
        run: RunArgs,
        /// Port of the API origin (Convex URL); 0 picks a free port.
        #[arg(long, default_value_t = 3210)]
        port: u16,
        /// Port of the site origin (HTTP actions, auth); 0 picks a free port.
        #[arg(long, default_value_t = 3211)]
        site_port: u16,
    },
    /// Runs the deployment in production: binds where told, requires BETTER_AUTH_SECRET (process env or
    /// `authvex env set`), never generates one; serves `/health` and `/ready` on the API origin.
    Serve {
        #[command(flatten)]
        run: RunArgs,
        /// Address both origins bind to.
        #[arg(long, env = "AUTHVEX_HOST", default_value = "0.0.0.0")]
        host: std::net::IpAddr,
        /// Port of the API origin (Convex URL); 0 picks a free port.
        #[arg(long, env = "AUTHVEX_PORT", default_value_t = 3210)]
        port: u16,
        /// Port of the site origin (HTTP actions, auth); 0 picks a free port.
        #[arg(long, env = "AUTHVEX_SITE_PORT", default_value_t = 3211)]
        site_port: u16,
    },
    /// Checks that a deployment on this machine is alive: GETs `/health` on the API origin and exits 0 when it
    /// answers 200, 1 otherwise (for container HEALTHCHECKs; the runtime image has no curl). With TLS on
    /// (`AUTHVEX_TLS_CERT` set, or an `https://` URL) it speaks https without checking the certificate's name:
    /// it only asks whether this process answers.
    Health {
        /// The URL to check (default: `http[s]://127.0.0.1:<AUTHVEX_PORT or 3210>/health`).
        #[arg(long)]
        url: Option<String>,
        /// Port of the API origin, when `--url` is not given.
        #[arg(long, env = "AUTHVEX_PORT", default_value_t = 3210)]
        port: u16,
        /// Whether the listeners use TLS, when `--url` is not given (set when `AUTHVEX_TLS_CERT` is).
        #[arg(long, env = "AUTHVEX_TLS_CERT", hide_env_values = true)]
        tls_cert: Option<PathBuf>,
    },
    /// Writes every table, index entry, the catalog and the deployment env vars as JSON lines (to move a
    /// deployment between SQLite and PostgreSQL with `authvex import`). Stop the deployment first.
    Export {
        #[command(flatten)]
        target: StorageArgs,
        /// Output file (default: standard output).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Reads an `authvex export` into an empty deployment (a new data folder or an empty database).
    Import {
        #[command(flatten)]
        target: StorageArgs,
        /// The export file (`-` for standard input).
        file: PathBuf,
    },
    /// Prints the auth component's schema (tables, fields, indexes) as Convex `schema.ts`, or as JSON.
    Generate {
        /// Print JSON instead of TypeScript.
        #[arg(long)]
        json: bool,
        /// The config file whose `auth.user.additionalFields` / `auth.session.additionalFields` join the tables.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Writes `convex/_generated/api.ts`: a typed function reference (`api.messages.send`,
    /// `internal.admin.purge`) for every function of this app, for TypeScript web apps.
    Codegen {
        /// Output folder (created if missing).
        #[arg(long, short, default_value = "convex/_generated")]
        out: PathBuf,
        /// Write `api.js` + `api.d.ts` (the layout of `npx convex codegen`) instead of `api.ts`.
        #[arg(long)]
        js: bool,
    },
    /// Lists and cancels scheduled functions (`_scheduled_functions`) and shows cron jobs with their recent runs.
    /// Listing works while the deployment runs; on SQLite, cancelling needs it stopped (from a running app, cancel
    /// with `ctx.scheduler.cancel`); on PostgreSQL this command is one more node and works any time.
    Jobs {
        /// Data folder of the deployment.
        #[arg(long, default_value = ".authvex", env = "AUTHVEX_DATA", global = true)]
        data: PathBuf,
        /// The deployment's PostgreSQL database (`postgres://…`) instead of SQLite in the data folder.
        #[arg(long, env = "AUTHVEX_DATABASE_URL", global = true)]
        db: Option<String>,
        #[command(subcommand)]
        action: JobsAction,
    },
    /// Reads and writes deployment environment variables.
    Env {
        /// Data folder of the deployment.
        #[arg(long, default_value = ".authvex", env = "AUTHVEX_DATA", global = true)]
        data: PathBuf,
        /// The deployment's PostgreSQL database (`postgres://…`) instead of SQLite in the data folder.
        #[arg(long, env = "AUTHVEX_DATABASE_URL", global = true)]
        db: Option<String>,
        #[command(subcommand)]
        action: EnvAction,
    },
}

/// The deployment a maintenance command works on.
#[derive(Debug, clap::Args)]
struct StorageArgs {
    /// Data folder of a SQLite deployment.
    #[arg(long, default_value = ".authvex", env = "AUTHVEX_DATA")]
    data: PathBuf,
    /// The deployment's PostgreSQL database (`postgres://…`) instead of SQLite in the data folder.
    #[arg(long, env = "AUTHVEX_DATABASE_URL")]
    db: Option<String>,
}

/// Options shared by `dev` and `serve`.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Data folder (created if missing): the SQLite database, or with `--db` only local files (the dev outbox).
    #[arg(long, default_value = ".authvex", env = "AUTHVEX_DATA")]
    data: PathBuf,
    /// PostgreSQL database (`postgres://user@host:port/dbname`) instead of SQLite in the data folder; the
    /// database must exist, its schema is created or migrated at start. Overrides the config file's `database`.
    #[arg(long, env = "AUTHVEX_DATABASE_URL")]
    db: Option<String>,
    /// JSON config file: `{"database": "postgres://…", "tls": {"cert": "…", "key": "…"}, "auth": {...Better
    /// Auth option names...}}`.
    #[arg(long, env = "AUTHVEX_CONFIG")]
    config: Option<PathBuf>,
    /// TLS certificate chain (PEM) for both listeners: they serve https/wss, HTTP/1.1 and HTTP/2. Reloaded on
    /// SIGHUP and when the file changes. Needs `--tls-key`.
    #[arg(long, env = "AUTHVEX_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The TLS certificate's private key (PEM).
    #[arg(long, env = "AUTHVEX_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// Whether the deployment runs for development or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Dev,
    Serve,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Dev => "dev",
            Mode::Serve => "serve",
        }
    }
}

/// The storage for a data folder and an optional database URL (flag/env first, then the config file).
fn storage_config(data: PathBuf, db: Option<String>, file: Option<&ConfigFile>) -> anyhow::Result<StorageConfig> {
    let url = db.filter(|url| !url.trim().is_empty()).or_else(|| file.and_then(|file| file.database.clone()));
    match url {
        None => Ok(StorageConfig::Sqlite { data_dir: data }),
        Some(url) => {
            let url = url.trim().to_owned();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                anyhow::bail!(
                    "unsupported database URL {:?}: expected postgres://user@host:port/dbname (leave it unset for \
                     SQLite in the data folder)",
                    redact_for_error(&url)
                );
            }
            Ok(StorageConfig::Postgres { url, data_dir: data })
        }
    }
}

/// Everything before an `@` is dropped (it may hold a password).
fn redact_for_error(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((_, host)) => format!("…@{host}"),
        None => url.to_owned(),
    }
}

#[derive(Debug, Subcommand)]
enum EnvAction {
    /// Sets a variable.
    Set { name: String, value: String },
    /// Prints a variable's value.
    Get { name: String },
    /// Lists all variables.
    List,
    /// Removes a variable.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
enum JobsAction {
    /// Lists scheduled functions, oldest first: id, state, scheduled and completed time, function.
    List {
        /// Only jobs in this state (`pending`, `inProgress`, `success`, `failed`, `canceled`).
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Cancels a scheduled function: a pending one never runs; an action in progress finishes but is recorded as
    /// canceled.
    Cancel { id: String },
    /// Lists the cron jobs with their next run and their last runs.
    Crons,
}

/// Parses the command line and runs it with `app`'s functions. Returns the process exit code.
pub fn main(app: App) -> ExitCode {
    main_with_triggers(app, auth::triggers::Triggers::default())
}

/// [`main`] with database hooks and triggers on the auth tables (`auth::triggers`), run in the auth writes'
/// transactions by `dev` and `serve`.
pub fn main_with_triggers(app: App, triggers: auth::triggers::Triggers) -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, app, triggers)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTHVEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

async fn run(cli: Cli, app: App, triggers: auth::triggers::Triggers) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dev { run: args, port, site_port } => {
            let addrs = (SocketAddr::from(([127, 0, 0, 1], port)), SocketAddr::from(([127, 0, 0, 1], site_port)));
            run_deployment(app, triggers, args, addrs, Mode::Dev).await
        }
        Command::Serve { run: args, host, port, site_port } => {
            let addrs = (SocketAddr::new(host, port), SocketAddr::new(host, site_port));
            run_deployment(app, triggers, args, addrs, Mode::Serve).await
        }
        Command::Health { url, port, tls_cert } => {
            let url = url.unwrap_or_else(|| {
                let scheme = if tls_cert.is_some() { "https" } else { "http" };
                format!("{scheme}://127.0.0.1:{port}/health")
            });
            Ok(health(&url).await)
        }
        Command::Export { target, out } => {
            let storage = storage_config(target.data, target.db, None)?;
            let persistence = server::open_storage(&storage).await?;
            let files = blob_store(&storage, &persistence).await?;
            let bar = spinner("exporting");
            let mut progress = |counts: &TransferCounts, _bytes: u64| show(&bar, counts);
            let counts = match &out {
                Some(path) => {
                    let file =
                        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
                    let mut writer = std::io::BufWriter::new(file);
                    transfer::export_with_files(persistence.as_ref(), Some(files.as_ref()), &mut writer, &mut progress)
                        .await?
                }
                None => {
                    let mut writer = std::io::BufWriter::new(std::io::stdout().lock());
                    transfer::export_with_files(persistence.as_ref(), Some(files.as_ref()), &mut writer, &mut progress)
                        .await?
                }
            };
            bar.finish_and_clear();
            eprintln!("exported {} from {}", summary(&counts), storage.describe());
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { target, file } => {
            let storage = storage_config(target.data, target.db, None)?;
            let (mut input, length): (Box<dyn std::io::BufRead>, Option<u64>) = if file.as_os_str() == "-" {
                (Box::new(std::io::BufReader::new(std::io::stdin().lock())), None)
            } else {
                let opened = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
                let length = opened.metadata().ok().map(|metadata| metadata.len());
                (Box::new(std::io::BufReader::new(opened)), length)
            };
            let persistence = server::open_storage(&storage).await?;
            let bar = match length {
                Some(length) => {
                    let bar = indicatif::ProgressBar::new(length);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template("importing {bar:30} {bytes}/{total_bytes} {msg}")
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                    bar
                }
                None => spinner("importing"),
            };
            let mut progress = |counts: &TransferCounts, bytes: u64| {
                bar.set_position(bytes);
                show(&bar, counts);
            };
            let files = blob_store(&storage, &persistence).await?;
            let counts = transfer::import_with_files(persistence.as_ref(), Some(files), &mut input, &mut progress)
                .await
                .with_context(|| format!("cannot import {} into {}", file.display(), storage.describe()))?;
            bar.finish_and_clear();
            eprintln!("imported {} into {}", summary(&counts), storage.describe());
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate { json, config } => {
            let file = config.as_deref().map(ConfigFile::load).transpose()?.unwrap_or_default();
            let (user, session) = file.auth.additional_fields();
            let schema = auth::schema::describe_for(&user, &session);
            if json {
                println!("{}", serde_json::to_string_pretty(&schema)?);
            } else {
                print!("{}", crate::generate::typescript(&schema));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Codegen { out, js } => {
            let layout =
                if js { crate::codegen::Layout::JsWithDeclarations } else { crate::codegen::Layout::TypeScript };
            let mut app = app;
            server::add_builtin_functions(&mut app);
            let files = crate::codegen::generate(&app, layout)?;
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            for file in files {
                let path = out.join(file.name);
                std::fs::write(&path, file.contents).with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs { data, db, action } => jobs(app, StorageArgs { data, db }, action).await,
        Command::Env { data, db, action } => {
            let storage = storage_config(data, db, None)?;
            let persistence = server::open_storage(&storage).await?;
            let p = persistence.as_ref();
            match action {
                EnvAction::Set { name, value } => {
                    env_store::set(p, &name, &value).await?;
                    println!("set {name}");
                }
                EnvAction::Get { name } => match env_store::get(p, &name).await? {
                    Some(value) => println!("{value}"),
                    None => {
                        eprintln!("{name} is not set");
                        return Ok(ExitCode::FAILURE);
                    }
                },
                EnvAction::List => {
                    for (name, value) in env_store::list(p).await? {
                        println!("{name}={value}");
                    }
                }
                EnvAction::Remove { name } => {
                    if env_store::remove(p, &name).await? {
                        println!("removed {name}");
                    } else {
                        eprintln!("{name} was not set");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `authvex jobs …`: opens the deployment's database (as one more node on PostgreSQL).
async fn jobs(app: App, target: StorageArgs, action: JobsAction) -> anyhow::Result<ExitCode> {
    let storage = storage_config(target.data.clone(), target.db, None)?;
    // On SQLite only one process may write: cancelling takes the data folder's lock (refused while it runs).
    let _lock = match (&storage, &action) {
        (StorageConfig::Sqlite { data_dir }, JobsAction::Cancel { .. }) => Some(server::lock_data_dir(data_dir)?),
        _ => None,
    };
    let persistence = server::open_storage(&storage).await?;
    let mut app = app;
    app.extend_schema(auth::schema::auth_schema());
    let config = database::DatabaseConfig::new(
        app.schema_ref().clone(),
        std::sync::Arc::new(database::SystemClock),
        std::sync::Arc::new(database::OsEntropy),
    );
    let db = database::Database::open(persistence, config).await?;
    let millis = |ms: f64| {
        time::OffsetDateTime::from_unix_timestamp_nanos((ms * 1e6) as i128)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| format!("{ms}"))
    };
    match action {
        JobsAction::List { state, limit } => {
            let jobs = functions::executor::list_jobs(&db, state.as_deref(), limit).await?;
            for job in &jobs {
                let error = match &job.state {
                    functions::JobState::Failed(e) => format!("  {}", e.lines().next().unwrap_or_default()),
                    _ => String::new(),
                };
                println!(
                    "{}  {:<10}  {}  {}  {}{error}",
                    job.id,
                    job.state.kind(),
                    millis(job.scheduled_time),
                    job.completed_time.map_or_else(|| "-".repeat(24), millis),
                    job.name,
                );
            }
            if jobs.is_empty() {
                eprintln!("no scheduled functions{}", state.map(|s| format!(" in state {s}")).unwrap_or_default());
            }
        }
        JobsAction::Cancel { id } => match functions::executor::cancel_job(&db, &id).await? {
            Ok(()) => println!("canceled {id}"),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::FAILURE);
            }
        },
        JobsAction::Crons => {
            for (name, next, runs) in functions::executor::list_cron_runs(&db).await? {
                println!("{name}  next run {}", next.map_or_else(|| "-".into(), millis));
                for run in runs {
                    let error = run.error.map(|e| format!("  {e}")).unwrap_or_default();
                    println!("    {}  {}{error}", millis(run.ts), run.status);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `authvex dev` and `authvex serve`: one code path, differing only in [`Mode`].
async fn run_deployment(
    app: App,
    triggers: auth::triggers::Triggers,
    args: RunArgs,
    (api_addr, site_addr): (SocketAddr, SocketAddr),
    mode: Mode,
) -> anyhow::Result<ExitCode> {
    let file = args.config.as_deref().map(ConfigFile::load).transpose()?;
    let mut config = ServerConfig::sqlite(&args.data, 0, 0);
    config.storage = storage_config(args.data, args.db, file.as_ref())?;
    config.tls = tls_settings(args.tls_cert, args.tls_key, file.as_ref())?;
    config.api_addr = api_addr;
    config.site_addr = site_addr;
    config.process_env = process_env();
    if let Some(auth) = config.auth.as_mut() {
        // Production never invents a secret: a missing BETTER_AUTH_SECRET stops the start with an error.
        auth.dev = mode == Mode::Dev;
        auth.triggers = triggers;
    }
    if let Some(file) = file {
        if let Some(auth) = config.auth.as_mut() {
            auth.options = file.auth;
        }
        config.auth_providers = file.auth_providers;
    }
    let storage = config.storage.describe();
    let server = server::start(app, config).await.context("cannot start the deployment")?;
    let term = TermSignal::install();
    // Installed before the URLs are printed, so a SIGHUP right after start-up reloads instead of killing.
    if let Some(cert) = server.tls_cert() {
        reload_on_sighup(cert);
    }
    println!("authvex {}: deployment ready (data: {storage})", mode.name());
    println!("API URL:  {}", server.api_url);
    println!("Site URL: {}", server.site_url);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let stopper = server.stopper();
    tokio::spawn(async move {
        shutdown_signal(term).await;
        tracing::info!("shutting down");
        let _ = stopper.send(true);
    });
    server.wait().await;
    Ok(ExitCode::SUCCESS)
}

/// The listeners' TLS files: flags/env first, then the config file's `tls`.
fn tls_settings(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    file: Option<&ConfigFile>,
) -> anyhow::Result<Option<server::tls::TlsSettings>> {
    let from_file = file.and_then(|file| file.tls.as_ref());
    match (cert.or_else(|| from_file.map(|tls| tls.cert.clone())), key.or_else(|| from_file.map(|tls| tls.key.clone())))
    {
        (Some(cert), Some(key)) => Ok(Some(server::tls::TlsSettings::new(cert, key))),
        (None, None) => Ok(None),
        _ => anyhow::bail!("TLS needs both a certificate and a key (--tls-cert and --tls-key)"),
    }
}

/// SIGHUP reloads the TLS certificate (open connections keep theirs).
fn reload_on_sighup(cert: std::sync::Arc<server::tls::ReloadableCert>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; the TLS certificate is reloaded only when its files change");
            return;
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                if let Err(error) = cert.reload() {
                    tracing::error!(%error, "SIGHUP: cannot reload the TLS certificate; still serving the previous one");
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = cert;
}

/// `authvex health`: 0 when `url` answers 200 within 5 s.
async fn health(url: &str) -> ExitCode {
    // Loopback liveness probe: the certificate is issued for the public name, not 127.0.0.1.
    let client = match reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(std::time::Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("unhealthy: {error}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(url).send().await {
        Ok(response) if response.status() == reqwest::StatusCode::OK => {
            println!("healthy: {url}");
            ExitCode::SUCCESS
        }
        Ok(response) => {
            eprintln!("unhealthy: {url} answered {}", response.status());
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("unhealthy: {url}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn spinner(what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {prefix} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_prefix(what);
    bar
}

fn summary(counts: &TransferCounts) -> String {
    format!(
        "{} documents, {} index entries, {} metadata entries, {} files",
        counts.documents, counts.index_entries, counts.meta, counts.files
    )
}

/// Where a deployment's file bytes are, for export and import: the S3 bucket the process env or the deployment env
/// store names, else the data folder's `files/`.
async fn blob_store(
    storage: &StorageConfig,
    persistence: &storage::DynPersistence,
) -> anyhow::Result<blobs::DynBlobStore> {
    let stored = env_store::list(persistence.as_ref()).await.unwrap_or_default();
    let process = process_env();
    let setting = |name: &str| process.get(name).or_else(|| stored.get(name)).cloned();
    Ok(server::files_setup::open_blob_store(storage, setting, std::sync::Arc::new(database::SystemClock))?)
}

fn show(bar: &indicatif::ProgressBar, counts: &TransferCounts) {
    // Redrawing the message per line is cheap (indicatif rate-limits drawing), but only do it every 256 lines.
    if (counts.documents + counts.index_entries + counts.meta) & 0xff == 0 {
        bar.set_message(summary(counts));
        bar.tick();
    }
}

/// The config file (`--config`): the database and Better Auth's option names under `auth`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// A PostgreSQL URL (`postgres://…`); overridden by `AUTHVEX_DATABASE_URL` and `--db`.
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    auth: auth::config::AuthOptions,
    /// TLS on the listeners; overridden by `--tls-cert` / `--tls-key`.
    #[serde(default)]
    tls: Option<TlsFile>,
    /// Extra token issuers in `convex/auth.config.ts` provider shapes.
    #[serde(default, rename = "authProviders")]
    auth_providers: Vec<serde_json::Value>,
}

/// The config file's `tls`: `{"cert": "/etc/authvex/cert.pem", "key": "/etc/authvex/key.pem"}`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert: PathBuf,
    key: PathBuf,
}

impl ConfigFile {
    fn load(path: &std::path::Path) -> anyhow::Result<ConfigFile> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

/// The process environment variables the deployment reads (they override `authvex env set` values).
fn process_env() -> std::collections::BTreeMap<String, String> {
    const NAMES: &[&str] = &[
        "BETTER_AUTH_SECRET",
        "SITE_URL",
        "TRUSTED_ORIGINS",
        "CONVEX_SITE_URL",
        "SMTP_URL",
        "SMTP_FROM",
        "AUTHVEX_REDIS_URL",
        "AUTHVEX_REDIS_PREFIX",
        "AUTHVEX_REDIS_CA",
    ];
    // Social providers' credentials: GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET, GOOGLE_…, <PROVIDER_ID>_CLIENT_….
    let credential = |name: &str| name.ends_with("_CLIENT_ID") || name.ends_with("_CLIENT_SECRET");
    // File storage: the S3 bucket (S3_STORAGE_FILES_BUCKET, S3_ENDPOINT_URL, AWS_*) and upload limits.
    let files = |name: &str| {
        name.starts_with("S3_")
            || name.starts_with("AWS_")
            || name.starts_with("AUTHVEX_MAX_UPLOAD")
            || name.starts_with("AUTHVEX_UPLOAD_URL")
            || name.starts_with("AUTHVEX_ORPHAN")
    };
    std::env::vars().filter(|(name, _)| NAMES.contains(&name.as_str()) || credential(name) || files(name)).collect()
}

/// Waits for Ctrl-C or SIGTERM. The SIGTERM handler is installed by [`TermSignal::install`] before the URLs are
/// printed, so a supervisor that stops the process as soon as it is ready still gets a clean shutdown.
async fn shutdown_signal(term: TermSignal) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Some(mut term) = term.0 else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = term;
        let _ = ctrl_c.await;
    }
}

/// SIGTERM, registered early (nothing on other platforms).
struct TermSignal(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

impl TermSignal {
    fn install() -> TermSignal {
        #[cfg(unix)]
        {
            TermSignal(tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok())
        }
        #[cfg(not(unix))]
        {
            TermSignal()
        }
    }
}
