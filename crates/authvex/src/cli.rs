//! The command line shared by `authvex` and every app built on the library (`chat dev`, `chat env set …`).

use anyhow::Context;
use clap::{Parser, Subcommand};
use functions::App;
use server::{env_store, ServerConfig, StorageConfig};
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
    /// Runs the deployment for development on the embedded database.
    Dev {
        /// Data folder (created if missing).
        #[arg(long, default_value = ".authvex", env = "AUTHVEX_DATA")]
        data: PathBuf,
        /// Port of the API origin (Convex URL); 0 picks a free port.
        #[arg(long, default_value_t = 3210)]
        port: u16,
        /// Port of the site origin (HTTP actions, auth); 0 picks a free port.
        #[arg(long, default_value_t = 3211)]
        site_port: u16,
        /// JSON config file: `{"auth": {...Better Auth option names...}}`.
        #[arg(long, env = "AUTHVEX_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Prints the auth component's schema (tables, fields, indexes) as Convex `schema.ts`, or as JSON.
    Generate {
        /// Print JSON instead of TypeScript.
        #[arg(long)]
        json: bool,
    },
    /// Reads and writes deployment environment variables.
    Env {
        /// Data folder of the deployment.
        #[arg(long, default_value = ".authvex", env = "AUTHVEX_DATA", global = true)]
        data: PathBuf,
        #[command(subcommand)]
        action: EnvAction,
    },
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

/// Parses the command line and runs it with `app`'s functions. Returns the process exit code.
pub fn main(app: App) -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli, app)) {
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

async fn run(cli: Cli, app: App) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dev { data, port, site_port, config: config_file } => {
            let mut config = ServerConfig::sqlite(&data, port, site_port);
            config.process_env = process_env();
            if let Some(path) = config_file {
                let file = ConfigFile::load(&path)?;
                if let Some(auth) = config.auth.as_mut() {
                    auth.options = file.auth;
                }
                config.auth_providers = file.auth_providers;
            }
            let server = server::start(app, config).await.context("cannot start the deployment")?;
            println!("authvex dev: deployment ready (data in {})", data.display());
            println!("API URL:  {}", server.api_url);
            println!("Site URL: {}", server.site_url);
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let stopper = server.stopper();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down");
                let _ = stopper.send(true);
            });
            server.wait().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate { json } => {
            let schema = auth::schema::describe();
            if json {
                println!("{}", serde_json::to_string_pretty(&schema)?);
            } else {
                print!("{}", crate::generate::typescript(&schema));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Env { data, action } => {
            let persistence = server::open_storage(&StorageConfig::Sqlite { data_dir: data })?;
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

/// The config file (`--config`): Better Auth's option names under `auth`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    auth: auth::config::AuthOptions,
    /// Extra token issuers in `convex/auth.config.ts` provider shapes.
    #[serde(default, rename = "authProviders")]
    auth_providers: Vec<serde_json::Value>,
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
    const NAMES: &[&str] =
        &["BETTER_AUTH_SECRET", "SITE_URL", "TRUSTED_ORIGINS", "CONVEX_SITE_URL", "SMTP_URL", "SMTP_FROM"];
    std::env::vars().filter(|(name, _)| NAMES.contains(&name.as_str())).collect()
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
