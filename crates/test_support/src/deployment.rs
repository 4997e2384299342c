//! The one "start a deployment on `127.0.0.1:0`" harness: an app served in-process on both origins (free ports),
//! in-memory storage, the built-in auth service in development mode. Black-box tests talk to it over HTTP through
//! `RunningServer::api_url` / `site_url`: `Deployment::new(app).env("SITE_URL", origin).start().await`.

use functions::App;
use server::{AuthSettings, RunningServer, ServerConfig, StorageConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// What a test deployment is started with; [`Deployment::start`] binds it.
pub struct Deployment {
    app: App,
    auth_options: Option<serde_json::Value>,
    auth_providers: Vec<serde_json::Value>,
    env: BTreeMap<String, String>,
    tls: Option<server::tls::TlsSettings>,
}

impl Deployment {
    /// `app` with the defaults: Better Auth's default options, no further auth providers, no environment.
    pub fn new(app: App) -> Deployment {
        Deployment { app, auth_options: None, auth_providers: Vec::new(), env: BTreeMap::new(), tls: None }
    }

    /// Auth options in Better Auth's names, as a config file gives them (`{"rateLimit": {"enabled": false}}`).
    pub fn auth_options(mut self, options: serde_json::Value) -> Deployment {
        self.auth_options = Some(options);
        self
    }

    /// A further auth provider, in a `convex/auth.config.ts` shape.
    pub fn auth_provider(mut self, provider: serde_json::Value) -> Deployment {
        self.auth_providers.push(provider);
        self
    }

    /// A process environment variable as the CLI would see it (`BETTER_AUTH_SECRET`, `SITE_URL`, ...).
    pub fn env(mut self, name: &str, value: &str) -> Deployment {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }

    /// TLS on both listeners (`https://` URLs).
    pub fn tls(mut self, settings: server::tls::TlsSettings) -> Deployment {
        self.tls = Some(settings);
        self
    }

    /// Starts the deployment; fails the test when it cannot.
    pub async fn start(self) -> RunningServer {
        let options = match self.auth_options.map(serde_json::from_value).transpose() {
            Ok(options) => options.unwrap_or_default(),
            Err(error) => panic!("the test's auth options are not valid: {error}"),
        };
        let config = ServerConfig {
            storage: StorageConfig::Memory,
            api_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            site_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            // Nothing in a test sets deployment env vars behind the server's back.
            env_refresh: Duration::from_secs(3600),
            auth: Some(AuthSettings { dev: true, options, ..AuthSettings::default() }),
            auth_providers: self.auth_providers,
            process_env: self.env,
            scheduler: functions::ExecutorConfig::default(),
            tls: self.tls,
        };
        match server::start(self.app, config).await {
            Ok(server) => server,
            Err(error) => panic!("the test deployment did not start: {error}"),
        }
    }
}
