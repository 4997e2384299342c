//! Server-side rendering helpers for Rust web servers in front of an authvex deployment: the equivalents of
//! `convexBetterAuthNextJs` from `@convex-dev/better-auth/nextjs`.
//!
//! ```no_run
//! use authvex_client::{ConvexBetterAuth, SsrConfig};
//! # async fn page(auth: &ConvexBetterAuth, headers: &http::HeaderMap) -> Result<String, authvex_client::ClientError> {
//! let request = auth.request(headers); // one per incoming request: the token is looked up once
//! if !request.is_authenticated().await? {
//!     return Ok("Unauthorized".into());
//! }
//! let user = request.fetch_auth_query("auth:getCurrentUser", value::Value::Object(Default::default())).await?;
//! Ok(format!("{user}"))
//! # }
//! ```
//!
//! - [`RequestAuth::get_token`]: the Convex JWT for the request's session. The `convex_jwt` cookie is reused while
//!   it is unexpired (with a margin); otherwise the token endpoint (`<site>/api/auth/convex/token`) is asked with
//!   the request's cookies. An expired JWT is never reused.
//! - [`RequestAuth::fetch_auth_query`] / `_mutation` / `_action`: the Convex HTTP API (`POST <api>/api/query`…)
//!   with `Authorization: Bearer <jwt>` when signed in.
//! - [`RequestAuth::preload_auth_query`]: the `Preloaded` JSON `usePreloadedAuthQuery` takes.
//! - [`ConvexBetterAuth::proxy_router`]: `/api/auth/*` forwarded to the site origin, so the auth cookies belong to
//!   the web app's origin.

mod error;
mod functions;
mod proxy;
pub mod token;

pub use error::ClientError;
pub use functions::Preloaded;
pub use value::json;
pub use value::Value;

use http::HeaderMap;
use protocol::auth::ConvexTokenResponse;
use std::sync::Arc;
use std::time::Duration;

/// Seconds since the Unix epoch; injected so tests can move time.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Where the deployment is and how its cookies are named.
#[derive(Clone)]
pub struct SsrConfig {
    /// The API origin (Convex "cloud URL"), e.g. `http://127.0.0.1:3210`.
    pub convex_url: String,
    /// The site origin (Convex "site URL", where `/api/auth` lives), e.g. `http://127.0.0.1:3211`.
    pub convex_site_url: String,
    /// Better Auth's cookie prefix (`advanced.cookiePrefix`).
    pub cookie_prefix: String,
    /// Reuse the `convex_jwt` cookie while it is unexpired (saves a round trip per page). A session revoked
    /// elsewhere then still counts until that JWT expires (at most its lifetime, 15 minutes by default), as for
    /// any Convex client holding the JWT; turn it off to ask the token endpoint on every request.
    pub jwt_cache: bool,
    /// A JWT expiring within this much is not reused (clock skew between the web server and the deployment).
    pub expiration_margin: Duration,
    /// Timeout of each request to the deployment.
    pub timeout: Duration,
    /// The auth proxy keeps incoming `x-forwarded-host/proto/for` (appending the peer to `for`): set it only when
    /// a trusted reverse proxy in front of the web app sets them. Otherwise they are replaced (a browser could
    /// send any value).
    pub trust_forwarded_headers: bool,
    /// The current time.
    pub clock: Clock,
}

impl std::fmt::Debug for SsrConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsrConfig")
            .field("convex_url", &self.convex_url)
            .field("convex_site_url", &self.convex_site_url)
            .field("cookie_prefix", &self.cookie_prefix)
            .field("jwt_cache", &self.jwt_cache)
            .field("expiration_margin", &self.expiration_margin)
            .field("timeout", &self.timeout)
            .field("trust_forwarded_headers", &self.trust_forwarded_headers)
            .finish_non_exhaustive()
    }
}

impl SsrConfig {
    /// The defaults for a deployment: cookie prefix `better-auth`, JWT cache on with a 10 s margin, 30 s timeout.
    pub fn new(convex_url: impl Into<String>, convex_site_url: impl Into<String>) -> SsrConfig {
        SsrConfig {
            convex_url: convex_url.into(),
            convex_site_url: convex_site_url.into(),
            cookie_prefix: "better-auth".to_owned(),
            jwt_cache: true,
            expiration_margin: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            trust_forwarded_headers: false,
            clock: Arc::new(system_now),
        }
    }
}

/// The system clock, the one place this crate reads it.
#[allow(clippy::disallowed_methods)]
fn system_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The helpers for one deployment; cheap to clone, share one per web server.
#[derive(Clone, Debug)]
pub struct ConvexBetterAuth {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SsrConfig,
    /// Origins without a trailing slash.
    api: String,
    site: String,
    http: reqwest::Client,
}

impl ConvexBetterAuth {
    /// Checks the URLs and builds the HTTP client (rustls, redirects never followed).
    pub fn new(config: SsrConfig) -> Result<ConvexBetterAuth, ClientError> {
        let api = origin("convex_url", &config.convex_url)?;
        let site = origin("convex_site_url", &config.convex_site_url)?;
        if site.ends_with(".convex.cloud") {
            return Err(ClientError::InvalidUrl {
                name: "convex_site_url",
                url: config.convex_site_url.clone(),
                reason: "this is a Convex API URL; the site URL ends in .convex.site".to_owned(),
            });
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .build()
            .map_err(|source| ClientError::Http { url: site.clone(), source })?;
        Ok(ConvexBetterAuth { inner: Arc::new(Inner { config, api, site, http }) })
    }

    pub fn config(&self) -> &SsrConfig {
        &self.inner.config
    }

    /// The helpers bound to one incoming request (its cookies and headers); the token is found at most once
    /// per `RequestAuth`, like the per-request cache of the Next.js helpers.
    pub fn request(&self, headers: &HeaderMap) -> RequestAuth {
        RequestAuth { auth: self.clone(), headers: forwardable(headers), token: tokio::sync::Mutex::new(None) }
    }
}

/// `scheme://host[:port]` of a configured URL, or a clear error.
fn origin(name: &'static str, url: &str) -> Result<String, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidUrl { name, url: url.to_owned(), reason: reason.to_owned() };
    let trimmed = url.trim().trim_end_matches('/');
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return Err(invalid("expected an absolute URL like http://127.0.0.1:3210"));
    };
    if scheme != "http" && scheme != "https" {
        return Err(invalid("the scheme must be http or https"));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(invalid("expected an origin without a path"));
    }
    if reqwest::Url::parse(trimmed).is_err() {
        return Err(invalid("not a valid URL"));
    }
    Ok(trimmed.to_owned())
}

/// The request headers worth forwarding to the token endpoint: everything but hop-by-hop and body headers and
/// `host` (which must name the site).
fn forwardable(headers: &HeaderMap) -> HeaderMap {
    let mut out = headers.clone();
    for name in proxy::HOP_BY_HOP.iter().chain(&["host", "content-length", "content-type", "accept-encoding"]) {
        out.remove(*name);
    }
    out
}

/// A token and where it came from.
#[derive(Debug, Clone)]
struct Token {
    jwt: Option<String>,
    /// From the token endpoint just now (not the cookie cache).
    fresh: bool,
}

/// The helpers for one incoming request. See [`ConvexBetterAuth::request`].
#[derive(Debug)]
pub struct RequestAuth {
    auth: ConvexBetterAuth,
    headers: HeaderMap,
    token: tokio::sync::Mutex<Option<Token>>,
}

impl RequestAuth {
    /// The Convex JWT of the request's session, or `None` when signed out (no session, expired or revoked).
    pub async fn get_token(&self) -> Result<Option<String>, ClientError> {
        Ok(self.token(false).await?.jwt)
    }

    /// Whether the request has a session that gets a Convex token. Always settled by the deployment: a JWT cookie
    /// is reused only for calls the deployment verifies itself (`fetch_auth_*`), never as proof of a session here,
    /// so a forged cookie cannot pass for one. (One token-endpoint round trip, unless this request already made it.)
    pub async fn is_authenticated(&self) -> Result<bool, ClientError> {
        let token = self.token(false).await?;
        if token.fresh {
            return Ok(token.jwt.is_some());
        }
        Ok(self.token(true).await?.jwt.is_some())
    }

    async fn token(&self, force_refresh: bool) -> Result<Token, ClientError> {
        let mut slot = self.token.lock().await;
        if let (Some(token), false) = (slot.as_ref(), force_refresh) {
            return Ok(token.clone());
        }
        let config = &self.auth.inner.config;
        let cached = match (config.jwt_cache && !force_refresh, token::jwt_cookie(&self.headers, &config.cookie_prefix))
        {
            (true, Some(jwt)) if token::reusable(jwt, (config.clock)(), config.expiration_margin.as_secs()) => {
                Some(Token { jwt: Some(jwt.to_owned()), fresh: false })
            }
            _ => None,
        };
        let token = match cached {
            Some(token) => token,
            None => Token { jwt: self.fetch_token().await?, fresh: true },
        };
        *slot = Some(token.clone());
        Ok(token)
    }

    /// `GET <site>/api/auth/convex/token` with the request's cookies: `Some(jwt)` on 200, `None` on 401.
    async fn fetch_token(&self) -> Result<Option<String>, ClientError> {
        let inner = &self.auth.inner;
        if self.headers.get(http::header::COOKIE).is_none() && self.headers.get(http::header::AUTHORIZATION).is_none() {
            // No cookie and no bearer token: nothing the endpoint could find a session by.
            return Ok(None);
        }
        let url = format!("{}/api/auth/convex/token", inner.site);
        let response = inner
            .http
            .get(&url)
            .headers(self.headers.clone())
            .header(http::header::ACCEPT_ENCODING, "identity")
            .send()
            .await
            .map_err(|source| ClientError::Http { url: url.clone(), source })?;
        let status = response.status();
        if status == http::StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        let body = response.text().await.map_err(|source| ClientError::Http { url: url.clone(), source })?;
        if !status.is_success() {
            return Err(ClientError::Status { url, status: status.as_u16(), body: truncate(&body) });
        }
        let response: ConvexTokenResponse = serde_json::from_str(&body)
            .map_err(|e| ClientError::BadResponse { url: url.clone(), reason: format!("not a token response: {e}") })?;
        Ok(response.token.filter(|jwt| !jwt.is_empty()))
    }
}

fn truncate(body: &str) -> String {
    const MAX: usize = 500;
    match body.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &body[..end]),
        None => body.to_owned(),
    }
}
