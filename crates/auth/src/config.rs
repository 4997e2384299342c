//! Auth options, named after Better Auth's (`appName`, `baseURL`, `trustedOrigins`, `emailAndPassword`, …).
//! Loaded by the server from a config file and the deployment env; this crate never reads env or files.

use crate::crypto::Secret;
use serde::Deserialize;

/// Everything the auth service needs. Built by the server (defaults < config file < env), then validated.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub app_name: String,
    /// `SITE_URL`: the web app's origin, used for links, cookies' `Secure` decision and as a trusted origin.
    pub base_url: String,
    /// Mount point of the endpoints (`/api/auth`).
    pub base_path: String,
    pub secret: Secret,
    /// Origins allowed to make state-changing requests and to be redirected to (besides `base_url`).
    pub trusted_origins: Vec<String>,
    pub email_and_password: EmailAndPasswordConfig,
    pub email_verification: EmailVerificationConfig,
    pub session: SessionConfig,
    pub user: UserConfig,
    pub rate_limit: crate::rate_limit::RateLimitConfig,
    pub advanced: AdvancedConfig,
    /// The convex plugin (JWTs for Convex functions); `None` = off.
    pub jwt: Option<crate::jwt::JwtConfig>,
    /// Social sign-in options from the config file; [`AuthConfig::resolve_social`] turns them (and credentials
    /// from the env) into `social`.
    pub social_options: crate::social::SocialOptions,
    /// The configured social / OAuth providers.
    pub social: Vec<crate::social::ProviderConfig>,
    /// Account linking and OAuth token storage.
    pub account: crate::social::AccountConfig,
    /// Which optional plugins run (the convex plugin follows `jwt`).
    pub plugins: PluginsConfig,
}

/// Switches for the built-in plugins that have no options of their own (config file key `plugins`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// The bearer plugin (`Authorization: Bearer` sessions, `set-auth-token`); on by default.
    pub bearer: bool,
    /// `@convex-dev/better-auth`'s `crossDomain({siteUrl})`: a web app on another site keeps its cookies in
    /// localStorage (`plugins.crossDomain`; off by default).
    pub cross_domain: Option<CrossDomainOptions>,
    /// `@better-auth/expo`'s `expo()` server plugin (`plugins.expo`; off by default).
    pub expo: Option<ExpoOptions>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig { bearer: true, cross_domain: None, expo: None }
    }
}

/// The expo plugin's options (config file key `plugins.expo`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ExpoOptions {
    /// Do not copy `expo-origin` into a missing `Origin`.
    pub disable_origin_override: bool,
}

/// The crossDomain plugin's options.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrossDomainOptions {
    /// Where the web app lives (the guide's `SITE_URL`); relative callback URLs resolve against it and it is
    /// trusted. Empty in the config file: the deployment's `SITE_URL` (the server fills it in).
    #[serde(default)]
    pub site_url: String,
}

/// The options a config file may set (`authvex.json`, key `auth`), with Better Auth's names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthOptions {
    pub app_name: Option<String>,
    #[serde(rename = "baseURL")]
    pub base_url: Option<String>,
    pub base_path: Option<String>,
    #[serde(default)]
    pub trusted_origins: Vec<String>,
    pub email_and_password: Option<EmailAndPasswordConfig>,
    pub email_verification: Option<EmailVerificationConfig>,
    pub session: Option<SessionConfig>,
    pub user: Option<UserConfig>,
    pub rate_limit: Option<RateLimitOptions>,
    pub advanced: Option<AdvancedConfig>,
    /// The convex plugin's `jwt` options.
    pub jwt: Option<JwtOptions>,
    /// Built-in social providers (`github`, `google`).
    pub social_providers: Option<crate::social::SocialProvidersOptions>,
    /// Generic OAuth 2 / OIDC providers (the genericOAuth plugin's `config` list).
    #[serde(rename = "genericOAuth")]
    pub generic_oauth: Option<Vec<crate::social::GenericOAuthOptions>>,
    pub account: Option<crate::social::AccountConfig>,
    pub plugins: Option<PluginsConfig>,
}

impl AuthOptions {
    /// The additional user and session fields these options declare.
    pub fn additional_fields(&self) -> (crate::additional::AdditionalFields, crate::additional::AdditionalFields) {
        (
            self.user.as_ref().map(|u| u.additional_fields.clone()).unwrap_or_default(),
            self.session.as_ref().map(|s| s.additional_fields.clone()).unwrap_or_default(),
        )
    }

    /// The auth component's database schema with these options' additional fields.
    pub fn auth_schema(&self) -> database::Schema {
        let (user, session) = self.additional_fields();
        crate::schema::auth_schema_for(&user, &session)
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtOptions {
    /// Token lifetime (default 900 s).
    pub expiration_seconds: Option<u64>,
    /// How long a rotated-out key keeps verifying (default 3600 s).
    pub rotation_grace_seconds: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EmailAndPasswordConfig {
    pub enabled: bool,
    pub disable_sign_up: bool,
    pub min_password_length: usize,
    pub max_password_length: usize,
    pub require_email_verification: bool,
    pub auto_sign_in: bool,
    /// Seconds a password-reset link stays valid.
    pub reset_password_token_expires_in: u64,
    pub revoke_sessions_on_password_reset: bool,
}

impl Default for EmailAndPasswordConfig {
    fn default() -> Self {
        EmailAndPasswordConfig {
            enabled: true,
            disable_sign_up: false,
            min_password_length: 8,
            max_password_length: 128,
            require_email_verification: false,
            auto_sign_in: true,
            reset_password_token_expires_in: 3600,
            revoke_sessions_on_password_reset: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct EmailVerificationConfig {
    pub send_on_sign_up: bool,
    pub send_on_sign_in: bool,
    pub auto_sign_in_after_verification: bool,
    /// Seconds a verification link stays valid.
    pub expires_in: u64,
}

impl Default for EmailVerificationConfig {
    fn default() -> Self {
        EmailVerificationConfig {
            send_on_sign_up: false,
            send_on_sign_in: false,
            auto_sign_in_after_verification: false,
            expires_in: 3600,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Seconds a session lives (and the session cookie's Max-Age).
    pub expires_in: u64,
    /// Seconds after which a used session's expiry slides forward.
    pub update_age: u64,
    /// Seconds a session counts as fresh for sensitive operations (0 disables the check).
    pub fresh_age: u64,
    /// App-defined session fields ([`crate::additional`]).
    pub additional_fields: crate::additional::AdditionalFields,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            expires_in: 7 * 24 * 3600,
            update_age: 24 * 3600,
            fresh_age: 24 * 3600,
            additional_fields: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct UserConfig {
    pub change_email: ChangeEmailConfig,
    pub delete_user: DeleteUserConfig,
    /// App-defined user fields ([`crate::additional`]).
    pub additional_fields: crate::additional::AdditionalFields,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ChangeEmailConfig {
    pub enabled: bool,
    pub update_email_without_verification: bool,
    /// Send a confirmation to the current address before the verification to the new one.
    pub send_change_email_verification: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DeleteUserConfig {
    pub enabled: bool,
    /// Send a confirmation link before deleting.
    pub send_delete_account_verification: bool,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitOptions {
    pub enabled: Option<bool>,
    pub window: Option<u64>,
    pub max: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AdvancedConfig {
    /// Forces secure (`__Secure-`, `Secure`) cookies on or off; by default on exactly when `baseURL` is https.
    pub use_secure_cookies: Option<bool>,
    pub cookie_prefix: Option<String>,
    /// Request headers that carry the client IP behind trusted proxies (default `x-forwarded-for`).
    pub ip_address_headers: Option<Vec<String>>,
}

impl AuthConfig {
    /// Defaults for a deployment whose web app lives at `base_url`.
    pub fn new(base_url: &str, secret: Secret) -> Self {
        AuthConfig {
            app_name: "authvex".into(),
            base_url: base_url.trim_end_matches('/').to_string(),
            base_path: "/api/auth".into(),
            secret,
            trusted_origins: Vec::new(),
            email_and_password: EmailAndPasswordConfig::default(),
            email_verification: EmailVerificationConfig::default(),
            session: SessionConfig::default(),
            user: UserConfig::default(),
            rate_limit: crate::rate_limit::RateLimitConfig::default(),
            advanced: AdvancedConfig::default(),
            jwt: None,
            social_options: crate::social::SocialOptions::default(),
            social: Vec::new(),
            account: crate::social::AccountConfig::default(),
            plugins: PluginsConfig::default(),
        }
    }

    /// Applies a config file's options over these.
    pub fn apply(&mut self, options: AuthOptions) {
        if let Some(v) = options.app_name {
            self.app_name = v;
        }
        if let Some(v) = options.base_url {
            self.base_url = v.trim_end_matches('/').to_string();
        }
        if let Some(v) = options.base_path {
            self.base_path = v;
        }
        self.trusted_origins.extend(options.trusted_origins);
        if let Some(v) = options.email_and_password {
            self.email_and_password = v;
        }
        if let Some(v) = options.email_verification {
            self.email_verification = v;
        }
        if let Some(v) = options.session {
            self.session = v;
        }
        if let Some(v) = options.user {
            self.user = v;
        }
        if let Some(v) = options.rate_limit {
            if let Some(enabled) = v.enabled {
                self.rate_limit.enabled = enabled;
            }
            if let Some(window) = v.window {
                self.rate_limit.window_secs = window;
            }
            if let Some(max) = v.max {
                self.rate_limit.max = max;
            }
        }
        if let Some(v) = options.advanced {
            self.advanced = v;
        }
        if let Some(v) = options.social_providers {
            self.social_options.social_providers = v;
        }
        if let Some(v) = options.generic_oauth {
            self.social_options.generic_oauth = v;
        }
        if let Some(v) = options.account {
            self.account = v;
        }
        if let Some(v) = options.plugins {
            self.plugins = v;
        }
    }

    /// Resolves the social providers from the config file's options and credentials in the deployment env
    /// (`GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`, `GOOGLE_…`, `<PROVIDER_ID>_…`; `lookup` reads them, env
    /// values win). Fails naming a missing credential or endpoint.
    pub fn resolve_social(&mut self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        self.social = self.social_options.resolve(lookup)?;
        Ok(())
    }

    /// Checks the combination before anything starts.
    pub fn validate(&self) -> Result<(), String> {
        if self.secret.as_bytes().len() < 32 {
            return Err("BETTER_AUTH_SECRET must be at least 32 characters".into());
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(format!("SITE_URL (baseURL) must be an http(s) URL, got {:?}", self.base_url));
        }
        if !self.base_path.starts_with('/') || self.base_path.ends_with('/') {
            return Err(format!("basePath must start with / and not end with /, got {:?}", self.base_path));
        }
        let ep = &self.email_and_password;
        if ep.min_password_length == 0 || ep.min_password_length > ep.max_password_length {
            return Err("emailAndPassword.minPasswordLength must be between 1 and maxPasswordLength".into());
        }
        if self.session.expires_in == 0 {
            return Err("session.expiresIn must be positive".into());
        }
        let names =
            |model: crate::schema::Model| -> Vec<&'static str> { model.fields().iter().map(|f| f.name).collect() };
        crate::additional::validate("user", &self.user.additional_fields, &names(crate::schema::Model::User))?;
        crate::additional::validate("session", &self.session.additional_fields, &names(crate::schema::Model::Session))?;
        if let Some(cross_domain) = &self.plugins.cross_domain {
            let site = &cross_domain.site_url;
            if !(site.starts_with("http://") || site.starts_with("https://")) {
                return Err(format!(
                    "plugins.crossDomain.siteUrl (or SITE_URL) must be the web app's http(s) URL, got {site:?}"
                ));
            }
        }
        Ok(())
    }

    /// Whether cookies get the `__Secure-` prefix and the `Secure` attribute.
    pub fn secure_cookies(&self) -> bool {
        self.advanced.use_secure_cookies.unwrap_or_else(|| self.base_url.starts_with("https://"))
    }

    /// `{baseURL}{basePath}`, the prefix of every link the service sends.
    pub fn auth_base(&self) -> String {
        format!("{}{}", self.base_url, self.base_path)
    }
}
