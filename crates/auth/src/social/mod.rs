//! Social sign-in: the providers (GitHub, Google, generic OAuth 2 / OIDC), the authorization URL, the code
//! exchange and the profile. No HTTP status codes and no database here: the endpoints (`endpoints::social`)
//! decide what a failure means for the client.
//!
//! * [`config`]: option names as Better Auth spells them, resolved into [`ProviderConfig`].
//! * [`http`]: the outbound transport ([`OAuthHttp`]); the production client never follows redirects.
//! * [`oidc`]: discovery, JWKS and ID-token verification on the injected clock.

pub mod config;
pub mod http;
pub mod oidc;

pub use config::{
    AccountConfig, AccountLinkingConfig, BuiltInOptions, ClientAuthentication, GenericOAuthOptions, ProviderConfig,
    ProviderKind, SocialOptions, SocialProvidersOptions,
};
pub use http::{OAuthHttp, OutboundRequest, OutboundResponse, MAX_RESPONSE_BYTES};

use base64::Engine;
use oidc::{Endpoints, OidcCache};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The tokens of a code exchange (or handed in with an ID-token sign-in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tokens {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<f64>,
    pub refresh_token_expires_at: Option<f64>,
    /// The granted scopes (split on spaces as Better Auth does; stored joined with `,`).
    pub scopes: Vec<String>,
}

/// What the provider says about the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// The provider's stable subject (`sub`, GitHub's numeric id as text): the account's `accountId`.
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub image: Option<String>,
    /// What the provider returned (GitHub's `/user`, the ID token's claims, the userinfo document).
    pub raw: Value,
}

/// Why a profile could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileError {
    /// The provider answered, but not with a usable profile (or the ID token failed verification).
    Unusable(String),
}

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProfileError::Unusable(why) => f.write_str(why),
        }
    }
}

/// The configured providers and their caches.
pub struct Providers {
    providers: Vec<ProviderConfig>,
    oidc: OidcCache,
}

impl Providers {
    pub fn new(providers: Vec<ProviderConfig>, http: Arc<dyn OAuthHttp>) -> Self {
        Providers { providers, oidc: OidcCache::new(http) }
    }

    pub fn get(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id == id)
    }

    pub async fn endpoints(&self, provider: &ProviderConfig, now_ms: f64) -> Result<Endpoints, String> {
        self.oidc.endpoints(provider, now_ms).await
    }

    /// Verifies an ID token (see [`OidcCache::verify_id_token`]) and returns the profile it carries.
    pub async fn id_token_profile(
        &self,
        provider: &ProviderConfig,
        endpoints: &Endpoints,
        token: &str,
        nonce: Option<&str>,
        max_age_secs: Option<u64>,
        now_ms: f64,
    ) -> Result<Profile, ProfileError> {
        let claims = self
            .oidc
            .verify_id_token(provider, endpoints, token, nonce, max_age_secs, now_ms)
            .await
            .map_err(ProfileError::Unusable)?;
        Ok(oidc_profile(&claims))
    }

    /// Exchanges a refresh token for new tokens (`grant_type=refresh_token`), under the same rules as
    /// [`Providers::exchange_code`].
    pub async fn refresh(
        &self,
        provider: &ProviderConfig,
        endpoints: &Endpoints,
        refresh_token: &str,
        now_ms: f64,
    ) -> Result<Tokens, String> {
        let pairs = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        self.token_request(provider, endpoints, &pairs, now_ms).await
    }

    /// Exchanges an authorization code at the token endpoint. Any non-2xx answer (a redirect included), an
    /// `error` field or a missing `access_token` is a failure.
    pub async fn exchange_code(
        &self,
        provider: &ProviderConfig,
        endpoints: &Endpoints,
        code: &str,
        code_verifier: Option<&str>,
        redirect_uri: &str,
        now_ms: f64,
    ) -> Result<Tokens, String> {
        let mut pairs: Vec<(&str, &str)> = vec![("grant_type", "authorization_code"), ("code", code)];
        if let Some(verifier) = code_verifier {
            pairs.push(("code_verifier", verifier));
        }
        pairs.push(("redirect_uri", provider.redirect_uri.as_deref().unwrap_or(redirect_uri)));
        self.token_request(provider, endpoints, &pairs, now_ms).await
    }

    /// A POST to the token endpoint with the client's credentials (form fields or HTTP Basic).
    async fn token_request(
        &self,
        provider: &ProviderConfig,
        endpoints: &Endpoints,
        grant: &[(&str, &str)],
        now_ms: f64,
    ) -> Result<Tokens, String> {
        let mut pairs = grant.to_vec();
        let secret = provider.client_secret.as_deref();
        let mut basic = None;
        match provider.authentication {
            ClientAuthentication::Post => {
                pairs.push(("client_id", &provider.client_id));
                if let Some(secret) = secret {
                    pairs.push(("client_secret", secret));
                }
            }
            ClientAuthentication::Basic => {
                let credentials = format!("{}:{}", provider.client_id, secret.unwrap_or_default());
                basic = Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials)));
            }
        }
        let mut request = OutboundRequest::post_form(&endpoints.token, &pairs).header("accept", "application/json");
        if let Some(basic) = basic {
            request = request.header("authorization", &basic);
        }
        let response = self.oidc.http().send(request).await?;
        if !response.is_success() {
            return Err(format!("the token endpoint answered {}", response.status));
        }
        let data = response.json().or_else(|| form_json(&response.body)).ok_or("the token response is not JSON")?;
        if let Some(error) = data.get("error").and_then(Value::as_str) {
            return Err(format!("the token endpoint answered error {error:?}"));
        }
        let text = |name: &str| data.get(name).and_then(Value::as_str).map(str::to_string);
        let seconds =
            |name: &str| data.get(name).and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
        let access_token = text("access_token").filter(|t| !t.is_empty()).ok_or("no access_token")?;
        let scopes = match data.get("scope") {
            Some(Value::String(s)) => s.split(' ').map(str::to_string).collect(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        };
        Ok(Tokens {
            access_token: Some(access_token),
            refresh_token: text("refresh_token"),
            id_token: text("id_token"),
            access_token_expires_at: seconds("expires_in").map(|s| now_ms + s * 1000.0),
            refresh_token_expires_at: seconds("refresh_token_expires_in").map(|s| now_ms + s * 1000.0),
            scopes,
        })
    }

    /// The user's profile after a code exchange. `nonce`: what an ID token must carry (OIDC providers).
    pub async fn profile(
        &self,
        provider: &ProviderConfig,
        endpoints: &Endpoints,
        tokens: &Tokens,
        nonce: Option<&str>,
        now_ms: f64,
    ) -> Result<Profile, ProfileError> {
        match provider.kind {
            ProviderKind::GitHub => self.github_profile(provider, endpoints, tokens).await,
            ProviderKind::Google => {
                let token = tokens.id_token.as_deref().ok_or(ProfileError::Unusable("no id_token".into()))?;
                self.id_token_profile(provider, endpoints, token, nonce, None, now_ms).await
            }
            ProviderKind::Generic => {
                let verified = match (&tokens.id_token, provider.is_oidc()) {
                    (Some(token), true) => {
                        Some(self.id_token_profile(provider, endpoints, token, nonce, None, now_ms).await?)
                    }
                    _ => None,
                };
                if let Some(profile) = &verified {
                    if profile.email.is_some() || endpoints.user_info.is_none() {
                        return Ok(profile.clone());
                    }
                }
                let url = endpoints
                    .user_info
                    .as_deref()
                    .ok_or(ProfileError::Unusable("no verifiable ID token and no userinfo endpoint".into()))?;
                let data = self
                    .get_json(url, tokens, &[])
                    .await
                    .ok_or_else(|| ProfileError::Unusable(format!("the userinfo endpoint {url} gave no profile")))?;
                let profile = userinfo_profile(&data);
                if let Some(verified) = verified {
                    // OIDC Core §5.3.2: the userinfo `sub` must be the ID token's.
                    if verified.id != profile.id {
                        return Err(ProfileError::Unusable("userinfo sub differs from the ID token's".into()));
                    }
                }
                if profile.id.is_empty() {
                    return Err(ProfileError::Unusable("the profile has no id".into()));
                }
                Ok(profile)
            }
        }
    }

    /// The current profile of a linked account (account-info): GitHub's API, the userinfo endpoint, or else the
    /// claims of the ID token stored with the account (verified when it was received).
    pub async fn stored_profile(
        &self,
        provider: &ProviderConfig,
        endpoints: &Endpoints,
        tokens: &Tokens,
    ) -> Result<Profile, ProfileError> {
        if provider.kind == ProviderKind::GitHub {
            return self.github_profile(provider, endpoints, tokens).await;
        }
        if provider.kind == ProviderKind::Generic {
            if let Some(url) = &endpoints.user_info {
                let data = self
                    .get_json(url, tokens, &[])
                    .await
                    .ok_or_else(|| ProfileError::Unusable(format!("the userinfo endpoint {url} gave no profile")))?;
                return Ok(userinfo_profile(&data));
            }
        }
        let claims = tokens
            .id_token
            .as_deref()
            .and_then(oidc::stored_claims)
            .ok_or(ProfileError::Unusable("no stored ID token".into()))?;
        Ok(oidc_profile(&claims))
    }

    /// GitHub: `/user`, and `/user/emails` for the address (the primary one when the profile shows none) and
    /// whether GitHub verified it.
    async fn github_profile(
        &self,
        provider: &ProviderConfig,
        endpoints: &Endpoints,
        tokens: &Tokens,
    ) -> Result<Profile, ProfileError> {
        let ua = [("user-agent", "better-auth")];
        let url = endpoints.user_info.as_deref().unwrap_or("https://api.github.com/user");
        let user = self.get_json(url, tokens, &ua).await.ok_or(ProfileError::Unusable("GitHub /user failed".into()))?;
        let emails = match &provider.emails_url {
            Some(url) => self.get_json(url, tokens, &ua).await.and_then(|v| v.as_array().cloned()),
            None => None,
        }
        .unwrap_or_default();
        let entry_email = |e: &Value| e.get("email").and_then(Value::as_str).map(str::to_string);
        let flag = |e: &Value, name: &str| e.get(name).and_then(Value::as_bool).unwrap_or(false);
        let email =
            user.get("email").and_then(Value::as_str).filter(|e| !e.is_empty()).map(str::to_string).or_else(|| {
                let pick = emails
                    .iter()
                    .find(|e| flag(e, "primary") && flag(e, "verified"))
                    .or_else(|| emails.iter().find(|e| flag(e, "primary")))
                    .or_else(|| emails.iter().find(|e| flag(e, "verified")))
                    .or_else(|| emails.first());
                pick.and_then(entry_email)
            });
        let email_verified = email.as_ref().is_some_and(|address| {
            emails.iter().any(|e| entry_email(e).as_deref() == Some(address.as_str()) && flag(e, "verified"))
        });
        let id = match user.get("id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(ProfileError::Unusable("GitHub /user has no id".into())),
        };
        let text = |name: &str| user.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        let (name, image) = (text("name").or_else(|| text("login")), text("avatar_url"));
        let mut raw = user;
        if let (Some(object), Some(email)) = (raw.as_object_mut(), &email) {
            // Better Auth fills the private address into the profile it hands on.
            object.insert("email".into(), Value::String(email.clone()));
        }
        Ok(Profile { id, name, email, email_verified, image, raw })
    }

    /// `GET url` with the access token; the JSON body of a 2xx answer.
    async fn get_json(&self, url: &str, tokens: &Tokens, headers: &[(&str, &str)]) -> Option<Value> {
        let token = tokens.access_token.as_deref()?;
        let mut request = OutboundRequest::get(url).header("authorization", &format!("Bearer {token}"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match self.oidc.http().send(request).await {
            Ok(response) if response.is_success() => response.json(),
            Ok(response) => {
                tracing::warn!(url, status = response.status, "provider profile request failed");
                None
            }
            Err(e) => {
                tracing::warn!(url, error = %e, "provider profile request failed");
                None
            }
        }
    }
}

/// The authorization URL: `response_type, client_id, state, scope, redirect_uri, login_hint, prompt/hd/
/// access_type, code_challenge_method, code_challenge, nonce`, then extras — Better Auth's order.
#[allow(clippy::too_many_arguments)]
pub fn authorization_url(
    provider: &ProviderConfig,
    endpoints: &Endpoints,
    state: &str,
    code_verifier: Option<&str>,
    nonce: Option<&str>,
    redirect_uri: &str,
    extra_scopes: &[String],
    login_hint: Option<&str>,
) -> String {
    let scope = provider.scopes.iter().chain(extra_scopes).cloned().collect::<Vec<_>>().join(" ");
    let mut pairs: Vec<(&str, &str)> =
        vec![("response_type", "code"), ("client_id", &provider.client_id), ("state", state)];
    if !scope.is_empty() {
        pairs.push(("scope", &scope));
    }
    pairs.push(("redirect_uri", provider.redirect_uri.as_deref().unwrap_or(redirect_uri)));
    if let Some(hint) = login_hint {
        pairs.push(("login_hint", hint));
    }
    for (k, v) in &provider.authorization_params {
        pairs.push((k, v));
    }
    let challenge = code_verifier.map(crate::crypto::pkce_challenge_s256);
    if let Some(challenge) = &challenge {
        pairs.push(("code_challenge_method", "S256"));
        pairs.push(("code_challenge", challenge));
    }
    if let Some(nonce) = nonce {
        pairs.push(("nonce", nonce));
    }
    for (k, v) in &provider.extra_params {
        pairs.push((k, v));
    }
    let sep = if endpoints.authorization.contains('?') { '&' } else { '?' };
    format!("{}{sep}{}", endpoints.authorization, http::form_urlencode(&pairs))
}

/// The profile in an ID token's claims.
fn oidc_profile(claims: &Map<String, Value>) -> Profile {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    Profile {
        id: text("sub").unwrap_or_default(),
        name: text("name"),
        email: text("email"),
        email_verified: truthy(claims.get("email_verified")),
        image: text("picture"),
        raw: Value::Object(claims.clone()),
    }
}

/// The profile a userinfo endpoint returned (OIDC claims, or an OAuth 2 API's `id`/`image`/`emailVerified`).
fn userinfo_profile(data: &Value) -> Profile {
    let text = |name: &str| data.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let id = match data.get("id") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    Profile {
        id: id.or_else(|| text("sub")).unwrap_or_default(),
        name: text("name"),
        email: text("email"),
        email_verified: truthy(data.get("email_verified")) || truthy(data.get("emailVerified")),
        image: text("picture").or_else(|| text("image")),
        raw: data.clone(),
    }
}

/// `true` or `"true"` (some providers send the flag as a string).
fn truthy(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true))) || matches!(value, Some(Value::String(s)) if s == "true")
}

/// A form-encoded token response (some OAuth 2 servers answer `access_token=…&scope=…`).
fn form_json(body: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains('=') {
        return None;
    }
    let map: Map<String, Value> = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(k), Value::String(decode(v)))
        })
        .collect();
    Some(Value::Object(map))
}

#[cfg(test)]
mod tests;
