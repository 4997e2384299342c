//! The crossDomain plugin of `@convex-dev/better-auth` (`crossDomain({siteUrl})`, paired with
//! `crossDomainClient()`): a web app on another site than the deployment (a SPA, Expo web) keeps its cookies in
//! `localStorage` instead of the browser's jar. On the wire:
//!
//! * the client sends its cookies in a `Better-Auth-Cookie` header (fetch with `credentials: "omit"`); a request
//!   hook appends it to `Cookie` unless the request has an `Authorization` header (so the origin/CSRF check treats
//!   these cookies like browser cookies);
//! * for such requests an after hook moves the reply's `Set-Cookie`s into one `Set-Better-Auth-Cookie` header
//!   (exposed through CORS), which the client stores;
//! * relative callback URLs in sign-in, link, verification, change-email and delete-user requests are made absolute
//!   on `siteUrl` (they would otherwise resolve against the deployment);
//! * OAuth and magic-link callbacks, which end in a browser navigation to the app, append a one-time token
//!   (`?ott=`, 32 characters, 3 minutes, a verification row `one-time-token:<token>` holding the session token);
//!   the app trades it once for the session at `POST /cross-domain/one-time-token/verify`;
//! * the OAuth state is kept server-side only (the callback does not look for the `state` cookie, which a
//!   cross-site flow cannot carry) and `siteUrl` is a trusted origin.
//!
//! Requests from Expo native apps (an `expo-origin` header) are left alone: the expo plugin serves them.

use crate::adapter::{self, Where};
use crate::cookies;
use crate::crypto::{self, Alphabet};
use crate::endpoints::Body;
use crate::error::AuthError;
use crate::models::Verification;
use crate::plugin::{BeforeRequest, Plugin, RouteSpec, Routed};
use crate::service::{Call, Inner, Reply};
use crate::session::{self, adapter_error};
use async_trait::async_trait;
use http::{HeaderMap, HeaderValue, Method};
use protocol::ErrorCode;

/// The request header carrying the client's stored cookies.
pub(crate) const COOKIE_HEADER: &str = "better-auth-cookie";
/// The response header carrying the cookies the client should store.
pub(crate) const SET_COOKIE_HEADER: &str = "set-better-auth-cookie";
/// Verification identifiers of one-time tokens: this prefix, then the token.
const OTT_PREFIX: &str = "one-time-token:";
const OTT_LENGTH: usize = 32;
const OTT_TTL_MS: f64 = 3.0 * 60.0 * 1000.0;

const ROUTES: &[RouteSpec] = &[RouteSpec::post("/cross-domain/one-time-token/verify", "verify")];

/// Body fields that hold callback URLs, by path prefix (the plugin's matchers).
const CALLBACK_REWRITES: &[&str] = &[
    "/send-verification-email",
    "/sign-in/email",
    "/sign-in/social",
    "/sign-in/magic-link",
    "/delete-user",
    "/change-email",
];

pub(crate) struct CrossDomain {
    /// `siteUrl`: where the web app lives (relative callback URLs resolve against it).
    site_url: String,
}

impl CrossDomain {
    pub fn new(site_url: &str) -> CrossDomain {
        CrossDomain { site_url: site_url.trim_end_matches('/').to_string() }
    }

    /// `new URL(url, siteUrl)` for the relative URLs the plugin rewrites (absolute ones are left alone).
    fn absolute(&self, url: &str) -> Option<String> {
        if !url.starts_with('/') {
            return None;
        }
        if url.starts_with("//") {
            // Scheme-relative: another host, which the callback URL check then judges.
            let scheme = self.site_url.split_once(':').map_or("https", |(scheme, _)| scheme);
            return Some(format!("{scheme}:{url}"));
        }
        Some(format!("{}{url}", site_origin(&self.site_url)))
    }

    fn rewrite_field(&self, object: &mut serde_json::Map<String, serde_json::Value>, field: &str) {
        if let Some(serde_json::Value::String(url)) = object.get(field) {
            if let Some(absolute) = self.absolute(url) {
                object.insert(field.to_string(), serde_json::Value::String(absolute));
            }
        }
    }
}

/// The scheme, host and port of a URL (`http://localhost:5173/app` → `http://localhost:5173`).
fn site_origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

pub(crate) fn is_expo_native(headers: &HeaderMap) -> bool {
    headers.contains_key("expo-origin")
}

fn carries_cookie_header(headers: &HeaderMap) -> bool {
    headers.contains_key(COOKIE_HEADER) && !is_expo_native(headers)
}

#[async_trait]
impl Plugin for CrossDomain {
    fn id(&self) -> &'static str {
        "cross-domain"
    }

    fn routes(&self) -> &'static [RouteSpec] {
        ROUTES
    }

    fn trusted_origins(&self) -> Vec<String> {
        vec![self.site_url.clone()]
    }

    fn skips_oauth_state_cookie(&self) -> bool {
        true
    }

    /// The stored cookies join the request's own (none: the client omits credentials) before anything reads
    /// them, unless it authenticates with a bearer token. Before the origin check on purpose: a request carrying
    /// session cookies in this header must come from a trusted origin like one carrying them in `Cookie` (Better
    /// Auth's check looks at the original headers and lets it through; a browser could not send the header
    /// cross-origin without a CORS preflight anyway, so legitimate clients never notice).
    fn on_request(&self, headers: &mut HeaderMap) {
        if is_expo_native(headers) || headers.contains_key(http::header::AUTHORIZATION) {
            return;
        }
        let stored = headers.get(COOKIE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        let stored = stored.trim().trim_start_matches(';').trim();
        if stored.is_empty() {
            return;
        }
        let existing = headers.get(http::header::COOKIE).and_then(|v| v.to_str().ok());
        let joined = match existing {
            Some(existing) if !existing.trim().is_empty() => format!("{existing}; {stored}"),
            _ => stored.to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&joined) {
            headers.insert(http::header::COOKIE, value);
        }
    }

    fn before(&self, _svc: &Inner, request: BeforeRequest<'_>) -> Option<Reply> {
        if is_expo_native(request.headers) {
            return None;
        }
        if *request.method == Method::GET && request.path.starts_with("/verify-email") {
            for (name, value) in request.query.iter_mut() {
                if name == "callbackURL" {
                    if let Some(absolute) = self.absolute(value) {
                        *value = absolute;
                    }
                }
            }
        }
        let link_social = *request.method == Method::POST && request.path.starts_with("/link-social");
        if link_social || CALLBACK_REWRITES.iter().any(|p| request.path.starts_with(p)) {
            if let Some(serde_json::Value::Object(object)) = request.body.as_mut() {
                self.rewrite_field(object, "callbackURL");
                if request.path.starts_with("/sign-in") {
                    self.rewrite_field(object, "newUserCallbackURL");
                    self.rewrite_field(object, "errorCallbackURL");
                }
            }
        }
        None
    }

    async fn after(&self, path: &str, call: &Call<'_>, reply: &mut Reply) {
        if is_expo_native(&call.req.headers) {
            return;
        }
        let callback = ["/callback", "/oauth2/callback", "/magic-link/verify"].iter().any(|p| path.starts_with(p));
        if callback {
            if let Err(e) = self.append_one_time_token(call, reply).await {
                tracing::error!(code = ?e.code, "crossDomain: no one-time token for the callback: {}", e.message);
            }
        }
        if carries_cookie_header(&call.req.headers) && !reply.cookies.is_empty() {
            let cookies = std::mem::take(&mut reply.cookies);
            reply.headers.push((SET_COOKIE_HEADER, cookies::join_set_cookies(&cookies)));
            reply.headers.push(("access-control-expose-headers", "Set-Better-Auth-Cookie".into()));
        }
    }

    async fn handle(&self, route: Routed<'_>, call: &Call<'_>) -> Result<Reply, AuthError> {
        match route.name {
            "verify" => verify_one_time_token(call).await,
            _ => Err(AuthError::not_found()),
        }
    }
}

impl CrossDomain {
    /// After a callback created a session and redirects to the app: a one-time token for that session in the
    /// redirect's query.
    async fn append_one_time_token(&self, call: &Call<'_>, reply: &mut Reply) -> Result<(), AuthError> {
        let (Some(active), Some(location)) = (reply.session.as_deref(), reply.location.as_deref()) else {
            return Ok(());
        };
        let svc = call.svc;
        let token = crypto::random_string(OTT_LENGTH, Alphabet::AlphaNumeric, &*svc.entropy);
        let now = call.now.as_date_millis();
        let session_token = active.session.token.clone();
        let identifier = format!("{OTT_PREFIX}{token}");
        transact!(svc, txn, {
            let row = Verification::new(&identifier, &session_token, now, now + OTT_TTL_MS);
            adapter::create_row(txn, &row).await.map_err(adapter_error)?;
            Ok(())
        })?;
        let absolute = self.absolute(location).unwrap_or_else(|| location.to_string());
        reply.location = Some(super::set_query_param(&absolute, "ott", &token));
        Ok(())
    }
}

/// `POST /cross-domain/one-time-token/verify {token}`: the token is spent whatever happens next (one transaction
/// reads and deletes it, so two concurrent calls cannot both succeed); an expired token, or one whose session is
/// gone or expired, is refused; otherwise the session cookie (through `Set-Better-Auth-Cookie`) and
/// `{session, user}`.
async fn verify_one_time_token(call: &Call<'_>) -> Result<Reply, AuthError> {
    let body = Body::required(call)?;
    let token = body.string("token")?;
    let svc = call.svc;
    let now = call.now.as_date_millis();
    let identifier = format!("{OTT_PREFIX}{token}");
    let found = transact!(svc, txn, {
        let clauses = [Where::eq("identifier", identifier.as_str())];
        let Some(row) = adapter::consume_one_row::<Verification>(txn, &clauses).await.map_err(adapter_error)? else {
            return Ok(Err(ErrorCode::INVALID_TOKEN));
        };
        if row.expires_at < now {
            return Ok(Err(ErrorCode::OTT_TOKEN_EXPIRED));
        }
        match session::load(txn, &row.value).await? {
            Some(found) => Ok(Ok(found)),
            None => Ok(Err(ErrorCode::OTT_SESSION_NOT_FOUND)),
        }
    })?;
    let (session, user) = found.map_err(|code| AuthError::new(code, code.default_message()))?;
    if session.expires_at < now {
        return Err(AuthError::new(ErrorCode::OTT_SESSION_EXPIRED, ErrorCode::OTT_SESSION_EXPIRED.default_message()));
    }
    Ok(Reply::json(serde_json::json!({"session": svc.session_json(&session), "user": svc.user_json(&user)}))
        .with_cookies(session::cookies_for(svc, &session, false))
        .with_session(&user, &session))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::set_query_param;

    #[test]
    fn relative_callback_urls_resolve_on_the_site() {
        let plugin = CrossDomain::new("http://localhost:5173/");
        assert_eq!(plugin.absolute("/dashboard?x=1").as_deref(), Some("http://localhost:5173/dashboard?x=1"));
        assert_eq!(plugin.absolute("/").as_deref(), Some("http://localhost:5173/"));
        assert_eq!(plugin.absolute("//evil.example/x").as_deref(), Some("http://evil.example/x"));
        assert_eq!(plugin.absolute("https://app.example/x"), None);
        assert_eq!(plugin.absolute("dashboard"), None);
        let nested = CrossDomain::new("https://app.example/spa");
        assert_eq!(nested.absolute("/cb").as_deref(), Some("https://app.example/cb"));
    }

    #[test]
    fn set_query_param_replaces_and_keeps_the_rest() {
        assert_eq!(set_query_param("http://a.example/", "ott", "T"), "http://a.example/?ott=T");
        assert_eq!(set_query_param("http://a.example/p?x=1", "ott", "T"), "http://a.example/p?x=1&ott=T");
        assert_eq!(set_query_param("http://a.example/p?ott=old&x=1#f", "ott", "T"), "http://a.example/p?x=1&ott=T#f");
        assert_eq!(set_query_param("myapp://cb", "cookie", "a=1; b"), "myapp://cb?cookie=a%3D1%3B+b");
    }
}
