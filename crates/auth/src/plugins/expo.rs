//! The Expo server plugin (`@better-auth/expo`'s `expo()`, paired with `expoClient()` in a React Native app):
//!
//! * a native app sends no `Origin`; it sends `expo-origin: <scheme>://` instead, which a request hook copies into
//!   `Origin` (unless the request has one, or `disableOriginOverride`), so the origin and CSRF checks judge the
//!   app's scheme against `trustedOrigins`;
//! * social sign-in runs in the system browser: the app opens `GET /expo-authorization-proxy?authorizationURL=…`,
//!   which sets the signed `state` cookie in that browser and redirects to the provider;
//! * when an OAuth, magic-link or verification callback redirects to a trusted non-http origin (the app's deep
//!   link), the session cookies ride along in the redirect's `?cookie=` for the app to store.
//!
//! The proxy only redirects to the authorization endpoint of the provider whose live OAuth state the URL carries
//! (Better Auth redirects to any URL with a `state` parameter: an open redirect).

use crate::adapter::{self, Where};
use crate::config::ExpoOptions;
use crate::cookies;
use crate::endpoints::social::STATE_COOKIE_MAX_AGE;
use crate::error::AuthError;
use crate::models::Verification;
use crate::plugin::{Plugin, RouteSpec, Routed};
use crate::plugins::set_query_param;
use crate::service::{Call, Reply};
use crate::session::adapter_error;
use async_trait::async_trait;
use http::{HeaderMap, HeaderValue};
use protocol::ErrorCode;

const ROUTES: &[RouteSpec] = &[RouteSpec::get("/expo-authorization-proxy", "authorization-proxy")];

pub(crate) struct Expo {
    options: ExpoOptions,
    /// The trusted origins that are not http(s): the apps' schemes, where deep-link redirects may carry cookies.
    app_origins: Vec<String>,
}

impl Expo {
    pub fn new(options: ExpoOptions, trusted_origins: &[String]) -> Expo {
        let app_origins = trusted_origins.iter().filter(|o| !o.starts_with("http")).cloned().collect();
        Expo { options, app_origins }
    }
}

#[async_trait]
impl Plugin for Expo {
    fn id(&self) -> &'static str {
        "expo"
    }

    fn routes(&self) -> &'static [RouteSpec] {
        ROUTES
    }

    fn on_request(&self, headers: &mut HeaderMap) {
        if self.options.disable_origin_override || headers.contains_key(http::header::ORIGIN) {
            return;
        }
        let Some(expo_origin) = headers.get("expo-origin").cloned() else { return };
        if HeaderValue::to_str(&expo_origin).is_ok() {
            headers.insert(http::header::ORIGIN, expo_origin);
        }
    }

    async fn after(&self, path: &str, _call: &Call<'_>, reply: &mut Reply) {
        let redirecting = ["/callback", "/oauth2/callback", "/magic-link/verify", "/verify-email"];
        if !redirecting.iter().any(|p| path.starts_with(p)) || reply.cookies.is_empty() {
            return;
        }
        let Some(location) = reply.location.as_deref() else { return };
        if location.contains("/oauth-proxy-callback") || !self.app_origins.iter().any(|o| location.starts_with(o)) {
            return;
        }
        let cookie = cookies::join_set_cookies(&reply.cookies);
        reply.location = Some(set_query_param(location, "cookie", &cookie));
    }

    async fn handle(&self, route: Routed<'_>, call: &Call<'_>) -> Result<Reply, AuthError> {
        match route.name {
            "authorization-proxy" => authorization_proxy(call).await,
            _ => Err(AuthError::not_found()),
        }
    }
}

fn unexpected() -> AuthError {
    AuthError::new(ErrorCode::UNEXPECTED_ERROR, ErrorCode::UNEXPECTED_ERROR.default_message())
}

/// `GET /expo-authorization-proxy?authorizationURL=…`: the signed `state` cookie for the URL's state, and a
/// redirect to it — only when the state is a live OAuth state and the URL is its provider's authorization
/// endpoint.
async fn authorization_proxy(call: &Call<'_>) -> Result<Reply, AuthError> {
    let Some(url) = call.query_param("authorizationURL") else {
        return Err(AuthError::validation(
            "[query.authorizationURL] Invalid input: expected string, received undefined",
        ));
    };
    let state = url
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(q))
        .and_then(|q| crate::service::parse_query(q).into_iter().find(|(k, _)| k == "state").map(|(_, v)| v));
    let Some(state) = state else { return Err(unexpected()) };
    let svc = call.svc;
    let now = call.now.as_date_millis();
    let row = read!(svc, txn, {
        let clauses = [Where::eq("identifier", state.as_str())];
        adapter::find_one_row::<Verification>(txn, &clauses).await.map_err(adapter_error)
    })?;
    let Some(row) = row.filter(|r| r.expires_at >= now) else { return Err(unexpected()) };
    let provider_id = serde_json::from_str::<serde_json::Value>(&row.value)
        .ok()
        .and_then(|v| v.get("providerId").and_then(|p| p.as_str()).map(str::to_string));
    let provider = provider_id.as_deref().and_then(|id| svc.providers.get(id)).ok_or_else(unexpected)?;
    let endpoints = svc.providers.endpoints(provider, now).await.map_err(|_| unexpected())?;
    let endpoint = endpoints.authorization.as_str();
    let at_endpoint = url.strip_prefix(endpoint).is_some_and(|rest| rest.starts_with('?'));
    if !at_endpoint {
        tracing::warn!(provider = %provider.id, "expo authorization proxy asked to redirect elsewhere than the provider");
        return Err(unexpected());
    }
    let cookie = cookies::signed_cookie(&svc.cookies, "state", &state, &svc.config.secret, Some(STATE_COOKIE_MAX_AGE));
    Ok(Reply::redirect(url.to_string()).with_cookies([cookie]))
}
