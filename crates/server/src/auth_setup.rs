//! Resolves the auth service's configuration (defaults < config file < deployment env < process env) and builds
//! it. In development a missing secret is generated once and stored in the deployment env.

use crate::{env_store, AuthSettings, MailSettings, ServerConfig, ServerError, StorageConfig};
use auth::config::AuthConfig;
use auth::crypto::Secret;
use database::{Clock, Database, Entropy};
use std::collections::BTreeMap;
use std::sync::Arc;
use storage::Persistence;

/// Looks a name up in the process environment first, then the deployment env store.
fn lookup<'a>(config: &'a ServerConfig, env: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    config.process_env.get(name).or_else(|| env.get(name)).map(String::as_str).filter(|v| !v.is_empty())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn build(
    settings: &AuthSettings,
    config: &ServerConfig,
    persistence: &dyn Persistence,
    db: &Database,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    site_url: &str,
    env: &mut BTreeMap<String, String>,
) -> Result<auth::AuthService, ServerError> {
    let secret = match lookup(config, env, "BETTER_AUTH_SECRET").map(str::to_string) {
        Some(secret) => secret,
        None if settings.dev => {
            let mut bytes = [0u8; 32];
            entropy.fill(&mut bytes);
            let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            env_store::set(persistence, "BETTER_AUTH_SECRET", &secret).await?;
            env.insert("BETTER_AUTH_SECRET".into(), secret.clone());
            tracing::warn!(
                "no BETTER_AUTH_SECRET was set: generated one and stored it in the deployment env \
                 (see `authvex env get BETTER_AUTH_SECRET`)"
            );
            secret
        }
        None => {
            return Err(ServerError::Auth(
                "BETTER_AUTH_SECRET is not set (authvex env set BETTER_AUTH_SECRET <32+ random characters>)".into(),
            ))
        }
    };
    let base_url = lookup(config, env, "SITE_URL").unwrap_or(site_url).to_string();
    let mut auth_config = AuthConfig::new(&base_url, Secret::new(secret));
    auth_config.apply(settings.options.clone());
    let app_url = lookup(config, env, "SITE_URL").map(|url| url.trim_end_matches('/').to_string());
    if let Some(cross_domain) = &mut auth_config.plugins.cross_domain {
        // The cross-domain setup (the Convex guides for React SPAs and Expo): SITE_URL names the web app, which
        // becomes the plugin's siteUrl unless the config names one, and Better Auth runs on the deployment's own
        // site origin (its public CONVEX_SITE_URL) unless the config sets baseURL.
        if cross_domain.site_url.is_empty() {
            cross_domain.site_url = app_url.clone().unwrap_or_default();
        }
        if settings.options.base_url.is_none() {
            auth_config.base_url = crate::jwt_issuer(env, site_url);
        }
    } else if let Some(url) = app_url {
        auth_config.base_url = url;
    }
    // The deployment's own origins are always trusted (clients may talk to the site origin directly).
    auth_config.trusted_origins.push(site_url.to_string());
    if let Some(extra) = lookup(config, env, "TRUSTED_ORIGINS") {
        auth_config.trusted_origins.extend(extra.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()));
    }
    let smtp_from_env = lookup(config, env, "SMTP_URL").map(|url| auth::email::SmtpSettings {
        url: url.to_string(),
        from: lookup(config, env, "SMTP_FROM").unwrap_or("authvex <no-reply@localhost>").to_string(),
    });
    let mail = match smtp_from_env {
        Some(smtp) => MailSettings::Smtp(smtp),
        None => settings.mail.clone(),
    };
    let mut jwt = auth::jwt::JwtConfig::new(&crate::jwt_issuer(env, site_url));
    if let Some(options) = &settings.options.jwt {
        if let Some(secs) = options.expiration_seconds {
            jwt.expiration_secs = secs;
        }
        if let Some(secs) = options.rotation_grace_seconds {
            jwt.rotation_grace_secs = secs;
        }
    }
    auth_config.jwt = Some(jwt);
    // Social providers: config-file options plus credentials from the env (GITHUB_CLIENT_ID, …).
    auth_config.resolve_social(&|name| lookup(config, env, name).map(str::to_string)).map_err(ServerError::Auth)?;
    let http = crate::auth_transports::ReqwestHttp::new().map_err(ServerError::Auth)?;
    let mailer: Arc<dyn auth::email::EmailTransport> = match &mail {
        MailSettings::Dev => {
            let outbox = match &config.storage {
                // The outbox file is a development convenience; production (`serve`) keeps no copy of mails.
                _ if !settings.dev => None,
                StorageConfig::Sqlite { data_dir } | StorageConfig::Postgres { data_dir, .. } => {
                    Some(data_dir.join("outbox.jsonl"))
                }
                StorageConfig::Memory => None,
            };
            if !settings.dev {
                tracing::warn!(
                    "SMTP_URL is not set: e-mails (verification, password reset, change of e-mail) are not sent, \
                     only logged"
                );
            }
            Arc::new(auth::email::DevTransport::new(outbox))
        }
        MailSettings::Smtp(smtp) => {
            Arc::new(crate::auth_transports::SmtpTransport::new(smtp).map_err(|e| ServerError::Auth(e.to_string()))?)
        }
    };
    // Shared counters through Redis when configured (several nodes), this node's memory otherwise.
    let rate_limit_store: Arc<dyn auth::rate_limit::RateLimitStore> = match lookup(config, env, "AUTHVEX_REDIS_URL") {
        Some(url) => {
            // Deployments sharing one Redis keep their counters apart with their own prefixes.
            let prefix = lookup(config, env, "AUTHVEX_REDIS_PREFIX").unwrap_or("authvex:rate-limit:");
            let ca = lookup(config, env, "AUTHVEX_REDIS_CA").map(std::path::Path::new);
            let store = crate::redis_rate_limit::RedisRateLimitStore::with_options(url, prefix, ca)
                .await
                .map_err(ServerError::Auth)?;
            Arc::new(store)
        }
        None => Arc::new(auth::rate_limit::MemoryStore::default()),
    };
    let hash_permits = std::thread::available_parallelism().map_or(2, |n| n.get());
    let deps =
        auth::AuthDeps { db: db.clone(), clock, entropy, mailer, rate_limit_store, hash_permits, http: Arc::new(http) };
    auth::AuthService::new(auth_config, deps)
        .and_then(|service| service.with_triggers(settings.triggers.clone()))
        .map_err(ServerError::Auth)
}
