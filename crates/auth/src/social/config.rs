//! Social sign-in options as a config file spells them (Better Auth's `socialProviders`, the genericOAuth
//! plugin's `config` entries, `account`), and the resolved [`ProviderConfig`] the service runs on.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `socialProviders`: the built-in providers, by Better Auth's ids.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SocialProvidersOptions {
    pub github: Option<BuiltInOptions>,
    pub google: Option<BuiltInOptions>,
}

/// Options of a built-in provider: Better Auth's names, plus endpoint overrides named as in the genericOAuth
/// plugin (`authorizationUrl`, `tokenUrl`, `userInfoUrl`) for GitHub Enterprise, a self-hosted server or a test
/// double. `clientId`/`clientSecret` may also come from the env (`GITHUB_CLIENT_ID`, …), which wins.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuiltInOptions {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Scopes requested besides the defaults.
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub disable_default_scope: bool,
    #[serde(rename = "redirectURI")]
    pub redirect_uri: Option<String>,
    pub prompt: Option<String>,
    /// Google: `access_type` (`offline` for a refresh token).
    pub access_type: Option<String>,
    /// Google: hosted domain hint (`hd`).
    pub hd: Option<String>,
    #[serde(default)]
    pub disable_sign_up: bool,
    #[serde(default)]
    pub disable_implicit_sign_up: bool,
    #[serde(default)]
    pub disable_id_token_sign_in: bool,
    #[serde(default)]
    pub override_user_info_on_sign_in: bool,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub user_info_url: Option<String>,
    /// GitHub: the e-mail list (`/user/emails`).
    pub emails_url: Option<String>,
    /// Google: the expected `iss` of ID tokens (default `https://accounts.google.com`).
    pub issuer: Option<String>,
    /// Google: where the ID-token signing keys are published.
    pub jwks_url: Option<String>,
}

/// One genericOAuth provider (the plugin's option names): explicit endpoints or an OIDC `discoveryUrl`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenericOAuthOptions {
    pub provider_id: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub discovery_url: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub user_info_url: Option<String>,
    /// The expected `iss` of ID tokens (default: the discovery document's `issuer`).
    pub issuer: Option<String>,
    /// ID-token signing keys (default: the discovery document's `jwks_uri`).
    pub jwks_url: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(rename = "redirectURI")]
    pub redirect_uri: Option<String>,
    /// PKCE (S256). On unless set to `false` (the plugin's default is off; authvex's is on).
    pub pkce: Option<bool>,
    /// How the client authenticates at the token endpoint: `post` (form fields, default) or `basic`.
    pub authentication: Option<ClientAuthentication>,
    pub prompt: Option<String>,
    pub access_type: Option<String>,
    /// Extra query parameters for the authorization URL.
    #[serde(default)]
    pub authorization_url_params: BTreeMap<String, String>,
    #[serde(default)]
    pub disable_sign_up: bool,
    #[serde(default)]
    pub disable_implicit_sign_up: bool,
    #[serde(default)]
    pub override_user_info: bool,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuthentication {
    #[default]
    Post,
    Basic,
}

/// `account`: linking rules and token storage.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AccountConfig {
    /// Encrypt access and refresh tokens at rest (Better Auth's format: XChaCha20-Poly1305 under
    /// SHA-256(secret), hex). On by default in authvex.
    #[serde(rename = "encryptOAuthTokens")]
    pub encrypt_oauth_tokens: bool,
    pub update_account_on_sign_in: bool,
    pub account_linking: AccountLinkingConfig,
}

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            encrypt_oauth_tokens: true,
            update_account_on_sign_in: true,
            account_linking: AccountLinkingConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AccountLinkingConfig {
    pub enabled: bool,
    /// Providers whose e-mail addresses link into existing users even when not marked verified.
    pub trusted_providers: Vec<String>,
    /// Link-social may link an account whose e-mail differs from the user's.
    pub allow_different_emails: bool,
    /// Sign-in links a provider account into an existing user only if that user's own address is verified
    /// (Better Auth 1.7's `requireLocalEmailVerified`, default true): otherwise whoever signed up first with an
    /// address they do not own would share the account of its owner signing in with a provider.
    pub require_local_email_verified: bool,
    /// Sign-in never links implicitly (by e-mail); only link-social does.
    pub disable_implicit_linking: bool,
}

impl Default for AccountLinkingConfig {
    fn default() -> Self {
        AccountLinkingConfig {
            enabled: true,
            trusted_providers: Vec::new(),
            allow_different_emails: false,
            require_local_email_verified: true,
            disable_implicit_linking: false,
        }
    }
}

/// Which protocol details a provider follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OAuth 2 with the GitHub REST profile (`/user`, `/user/emails`); no ID token.
    GitHub,
    /// OpenID Connect with Google's endpoints; the profile is the verified ID token.
    Google,
    /// Any OAuth 2 / OIDC server: the ID token when there is a verifiable one, else the userinfo endpoint.
    Generic,
}

/// One provider, resolved: every endpoint known (or discoverable) and credentials present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub id: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub user_info_url: Option<String>,
    pub emails_url: Option<String>,
    pub discovery_url: Option<String>,
    /// Accepted `iss` values of ID tokens (empty: take the discovery document's).
    pub issuers: Vec<String>,
    pub jwks_url: Option<String>,
    /// The scopes of the authorization URL (defaults, then configured extras).
    pub scopes: Vec<String>,
    pub redirect_uri: Option<String>,
    pub pkce: bool,
    pub authentication: ClientAuthentication,
    /// Authorization-URL parameters before the PKCE ones, in order (`prompt`, `hd`, `access_type`).
    pub authorization_params: Vec<(String, String)>,
    /// Authorization-URL parameters after everything else (Google's `include_granted_scopes`, the genericOAuth
    /// `authorizationUrlParams`).
    pub extra_params: Vec<(String, String)>,
    pub disable_sign_up: bool,
    pub disable_implicit_sign_up: bool,
    pub disable_id_token_sign_in: bool,
    pub override_user_info: bool,
}

impl ProviderConfig {
    /// Whether the provider issues ID tokens we verify (and so gets a `nonce`).
    pub fn is_oidc(&self) -> bool {
        match self.kind {
            ProviderKind::GitHub => false,
            ProviderKind::Google => true,
            ProviderKind::Generic => {
                self.discovery_url.is_some() || (self.jwks_url.is_some() && !self.issuers.is_empty())
            }
        }
    }
}

/// The env variable prefix of a provider's credentials: `GITHUB`, `GOOGLE`, `MY_IDP` for `my-idp`.
pub fn env_prefix(provider_id: &str) -> String {
    provider_id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// The social part of a config file, before credentials from the env are merged in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocialOptions {
    pub social_providers: SocialProvidersOptions,
    pub generic_oauth: Vec<GenericOAuthOptions>,
}

impl SocialOptions {
    /// Resolves every provider that is configured in the file or has credentials in the env. `lookup` reads the
    /// deployment env (this crate never reads the environment itself). Fails with a message naming the missing
    /// option or variable.
    pub fn resolve(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<ProviderConfig>, String> {
        let mut out = Vec::new();
        for (id, kind, options) in [
            ("github", ProviderKind::GitHub, &self.social_providers.github),
            ("google", ProviderKind::Google, &self.social_providers.google),
        ] {
            let prefix = env_prefix(id);
            let env_id = lookup(&format!("{prefix}_CLIENT_ID"));
            let env_secret = lookup(&format!("{prefix}_CLIENT_SECRET"));
            if options.is_none() && env_id.is_none() && env_secret.is_none() {
                continue;
            }
            let options = options.clone().unwrap_or_default();
            let client_id = env_id.or(options.client_id.clone()).ok_or_else(|| {
                format!("socialProviders.{id}.clientId is missing (set {prefix}_CLIENT_ID or the config option)")
            })?;
            let client_secret = env_secret.or(options.client_secret.clone()).ok_or_else(|| {
                format!(
                    "socialProviders.{id}.clientSecret is missing (set {prefix}_CLIENT_SECRET or the config option)"
                )
            })?;
            out.push(built_in(id, kind, client_id, client_secret, options));
        }
        for generic in &self.generic_oauth {
            let id = generic.provider_id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(format!("genericOAuth providerId {id:?} must be non-empty letters, digits, '-' or '_'"));
            }
            if out.iter().any(|p: &ProviderConfig| p.id == id) {
                return Err(format!("genericOAuth providerId {id:?} is configured twice"));
            }
            let prefix = env_prefix(id);
            let client_id = lookup(&format!("{prefix}_CLIENT_ID")).or(generic.client_id.clone()).ok_or_else(|| {
                format!("genericOAuth {id}: clientId is missing (set {prefix}_CLIENT_ID or the config option)")
            })?;
            let client_secret = lookup(&format!("{prefix}_CLIENT_SECRET")).or(generic.client_secret.clone());
            if generic.discovery_url.is_none() && (generic.authorization_url.is_none() || generic.token_url.is_none()) {
                return Err(format!("genericOAuth {id}: set discoveryUrl, or authorizationUrl and tokenUrl"));
            }
            if generic.discovery_url.is_none() && generic.user_info_url.is_none() && generic.jwks_url.is_none() {
                return Err(format!(
                    "genericOAuth {id}: set userInfoUrl (or issuer and jwksUrl for ID tokens) to read the profile"
                ));
            }
            let mut params = Vec::new();
            if let Some(prompt) = &generic.prompt {
                params.push(("prompt".to_string(), prompt.clone()));
            }
            if let Some(access_type) = &generic.access_type {
                params.push(("access_type".to_string(), access_type.clone()));
            }
            let extra = generic.authorization_url_params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            out.push(ProviderConfig {
                id: id.to_string(),
                kind: ProviderKind::Generic,
                client_id,
                client_secret,
                authorization_url: generic.authorization_url.clone(),
                token_url: generic.token_url.clone(),
                user_info_url: generic.user_info_url.clone(),
                emails_url: None,
                discovery_url: generic.discovery_url.clone(),
                issuers: generic.issuer.iter().cloned().collect(),
                jwks_url: generic.jwks_url.clone(),
                scopes: generic.scopes.clone(),
                redirect_uri: generic.redirect_uri.clone(),
                pkce: generic.pkce.unwrap_or(true),
                authentication: generic.authentication.unwrap_or_default(),
                authorization_params: params,
                extra_params: extra,
                disable_sign_up: generic.disable_sign_up,
                disable_implicit_sign_up: generic.disable_implicit_sign_up,
                disable_id_token_sign_in: false,
                override_user_info: generic.override_user_info,
            });
        }
        for provider in &out {
            for url in [&provider.authorization_url, &provider.token_url, &provider.user_info_url]
                .into_iter()
                .chain([&provider.emails_url, &provider.discovery_url, &provider.jwks_url])
                .flatten()
            {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(format!("provider {}: {url:?} is not an http(s) URL", provider.id));
                }
            }
        }
        Ok(out)
    }
}

fn built_in(
    id: &str,
    kind: ProviderKind,
    client_id: String,
    client_secret: String,
    options: BuiltInOptions,
) -> ProviderConfig {
    let (defaults, authorization, token, user_info): (&[&str], &str, &str, Option<&str>) = match kind {
        ProviderKind::GitHub => (
            &["read:user", "user:email"],
            "https://github.com/login/oauth/authorize",
            "https://github.com/login/oauth/access_token",
            Some("https://api.github.com/user"),
        ),
        _ => (
            &["email", "profile", "openid"],
            "https://accounts.google.com/o/oauth2/auth",
            "https://oauth2.googleapis.com/token",
            None,
        ),
    };
    let mut scopes: Vec<String> =
        if options.disable_default_scope { Vec::new() } else { defaults.iter().map(|s| s.to_string()).collect() };
    scopes.extend(options.scope.iter().cloned());
    let mut params = Vec::new();
    if let Some(prompt) = &options.prompt {
        params.push(("prompt".to_string(), prompt.clone()));
    }
    if let Some(hd) = &options.hd {
        params.push(("hd".to_string(), hd.clone()));
    }
    if let Some(access_type) = &options.access_type {
        params.push(("access_type".to_string(), access_type.clone()));
    }
    let mut extra = Vec::new();
    let (emails_url, issuers, jwks_url) = match kind {
        ProviderKind::GitHub => (
            Some(options.emails_url.clone().unwrap_or_else(|| "https://api.github.com/user/emails".into())),
            vec![],
            None,
        ),
        _ => {
            extra.push(("include_granted_scopes".to_string(), "true".to_string()));
            let issuers = match &options.issuer {
                Some(issuer) => vec![issuer.clone()],
                None => vec!["https://accounts.google.com".to_string(), "accounts.google.com".to_string()],
            };
            let jwks = options.jwks_url.clone().unwrap_or_else(|| "https://www.googleapis.com/oauth2/v3/certs".into());
            (None, issuers, Some(jwks))
        }
    };
    ProviderConfig {
        id: id.to_string(),
        kind,
        client_id,
        client_secret: Some(client_secret),
        authorization_url: Some(options.authorization_url.clone().unwrap_or_else(|| authorization.to_string())),
        token_url: Some(options.token_url.clone().unwrap_or_else(|| token.to_string())),
        user_info_url: options.user_info_url.clone().or(user_info.map(str::to_string)),
        emails_url,
        discovery_url: None,
        issuers,
        jwks_url,
        scopes,
        redirect_uri: options.redirect_uri.clone(),
        pkce: true,
        authentication: ClientAuthentication::Post,
        authorization_params: params,
        extra_params: extra,
        disable_sign_up: options.disable_sign_up,
        disable_implicit_sign_up: options.disable_implicit_sign_up,
        disable_id_token_sign_in: options.disable_id_token_sign_in,
        override_user_info: options.override_user_info_on_sign_in,
    }
}
