//! The request pipeline: plugins' request hooks → rate limit → route (core endpoints, then plugin routes) → origin check → body parsing →
//! plugins' before hooks → endpoint → plugins' after hooks → response, each endpoint's database work in one
//! serializable transaction. (Better Auth parses the body before the origin check; see `handle`.)

use crate::config::AuthConfig;
use crate::cookies::{self, CookieConfig, SetCookie};
use crate::email::{Email, EmailTransport};
use crate::error::{codes, AuthError};
use crate::hasher::{HashLoad, Hasher};
use crate::origin::{self, TrustedOrigins};
use crate::plugin::{BeforeRequest, OriginRule, Plugin, RouteSpec, Routed};
use crate::rate_limit::{self, IpConfig, RateLimiter};
use crate::{crypto, endpoints};
use bytes::Bytes;
use database::{Clock, Database, Entropy};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use protocol::{ErrorCode, UnixTime};
use std::net::IpAddr;
use std::sync::Arc;

/// Largest request body the auth endpoints read.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Why one attempt of a [`transact!`] block failed: its body refused (an answer for the caller), or the database
/// did (a conflict is run again by `database::run_serializable`, anything else is internal).
pub(crate) enum AttemptError {
    Auth(AuthError),
    Database(database::DatabaseError),
}

impl database::MaybeConflict for AttemptError {
    fn is_conflict(&self) -> bool {
        matches!(self, AttemptError::Database(e) if e.is_conflict())
    }
}

impl AttemptError {
    pub(crate) fn into_auth(self) -> AuthError {
        match self {
            AttemptError::Auth(e) => e,
            AttemptError::Database(e) => storage_error(&e),
        }
    }
}

/// One request to the auth service, as the HTTP layer hands it over.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub method: Method,
    /// The full request path (including the base path, e.g. `/api/auth/sign-in/email`).
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The TCP peer (for trusted-proxy decisions and rate limits).
    pub peer: Option<IpAddr>,
}

pub type AuthResponse = http::Response<Bytes>;

/// Services the auth service depends on.
pub struct AuthDeps {
    pub db: Database,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub mailer: Arc<dyn EmailTransport>,
    pub rate_limit_store: Arc<dyn rate_limit::RateLimitStore>,
    /// Concurrent password hashes (each holds 32 MiB).
    pub hash_permits: usize,
    /// Outbound HTTP to OAuth providers (`server::auth_transports::ReqwestHttp` in production).
    pub http: Arc<dyn crate::social::OAuthHttp>,
}

/// The auth service of one deployment. Cheap to clone.
#[derive(Clone)]
pub struct AuthService {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub db: Database,
    pub config: AuthConfig,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub mailer: Arc<dyn EmailTransport>,
    pub limiter: RateLimiter,
    pub trusted: TrustedOrigins,
    pub hasher: Hasher,
    pub cookies: CookieConfig,
    pub ip: IpConfig,
    /// The enabled plugins, in hook order.
    pub plugins: Vec<Arc<dyn Plugin>>,
    /// The app's database hooks and triggers ([`crate::triggers`]).
    pub triggers: crate::triggers::Triggers,
    /// OAuth callbacks accept a state without its cookie (a plugin asked, see [`Plugin::skips_oauth_state_cookie`]).
    pub skip_oauth_state_cookie: bool,
    /// The convex plugin when enabled (its keys back [`AuthService::jwks`]).
    pub convex: Option<Arc<crate::plugins::convex::Convex>>,
    /// The social providers and their discovery/JWKS caches.
    pub providers: crate::social::Providers,
}

/// What an endpoint answers.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub status: u16,
    /// `None`: empty body.
    pub body: Option<serde_json::Value>,
    pub html: Option<String>,
    pub cookies: Vec<SetCookie>,
    pub location: Option<String>,
    pub headers: Vec<(&'static str, String)>,
    /// The session this call created (Better Auth's `newSession`) or, for get-session, found: after hooks read
    /// it (the convex plugin mints its JWT for it).
    pub session: Option<Box<crate::session::Active>>,
}

impl Reply {
    pub fn json(body: serde_json::Value) -> Self {
        Reply { status: 200, body: Some(body), ..Default::default() }
    }

    pub fn redirect(location: String) -> Self {
        Reply { status: 302, location: Some(location), ..Default::default() }
    }

    pub fn with_cookies(mut self, cookies: impl IntoIterator<Item = SetCookie>) -> Self {
        self.cookies.extend(cookies);
        self
    }

    /// Records the session the call created or found (see [`Reply::session`]).
    pub fn with_session(mut self, user: &crate::models::User, session: &crate::models::Session) -> Self {
        self.session = Some(Box::new(crate::session::Active { user: user.clone(), session: session.clone() }));
        self
    }
}

/// The facts of one call that endpoints read.
pub(crate) struct Call<'a> {
    pub svc: &'a Inner,
    pub req: &'a AuthRequest,
    pub body: Option<serde_json::Value>,
    pub query: Vec<(String, String)>,
    /// When the request arrived (stored dates are [`UnixTime::as_date_millis`]).
    pub now: UnixTime,
    pub ip: Option<IpAddr>,
    /// The request's `Cookie` header, plus a session cookie derived from a bearer token.
    pub cookie_header: Option<String>,
}

impl Call<'_> {
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The session token from the signed session cookie, if present and correctly signed.
    pub fn session_token(&self) -> Option<String> {
        let name = cookies::cookie_name(&self.svc.cookies, "session_token");
        cookies::read_signed_cookie(self.cookie_header.as_deref(), &name, &self.svc.config.secret)
    }

    /// Whether the request carries the signed `dont_remember` cookie.
    pub fn dont_remember(&self) -> bool {
        let name = cookies::cookie_name(&self.svc.cookies, "dont_remember");
        cookies::read_signed_cookie(self.cookie_header.as_deref(), &name, &self.svc.config.secret).is_some()
    }

    pub fn user_agent(&self) -> String {
        self.header("user-agent").unwrap_or_default().to_string()
    }

    pub fn ip_string(&self) -> String {
        self.ip.map(|ip| ip.to_string()).unwrap_or_default()
    }
}

impl AuthService {
    /// Builds the service; fails on an invalid configuration.
    pub fn new(config: AuthConfig, deps: AuthDeps) -> Result<AuthService, String> {
        config.validate()?;
        let plugins = crate::plugins::enabled(&config);
        check_routes(&plugins.list)?;
        let mut trusted_origins = config.trusted_origins.clone();
        trusted_origins.extend(plugins.list.iter().flat_map(|p| p.trusted_origins()));
        let trusted = TrustedOrigins::new(&config.base_url, &trusted_origins).map_err(|e| e.to_string())?;
        let skip_oauth_state_cookie = plugins.list.iter().any(|p| p.skips_oauth_state_cookie());
        let cookies = CookieConfig {
            prefix: config.advanced.cookie_prefix.clone().unwrap_or_else(|| "better-auth".into()),
            secure: config.secure_cookies(),
            ..CookieConfig::default()
        };
        let mut ip = IpConfig::default();
        if let Some(headers) = &config.advanced.ip_address_headers {
            ip.ip_headers = headers.clone();
        }
        let mut rate_limit = config.rate_limit.clone();
        let plugin_rules: Vec<_> = plugins.list.iter().flat_map(|p| p.rate_limit_rules()).collect();
        rate_limit.special_rules.splice(0..0, plugin_rules);
        let limiter = RateLimiter::new(rate_limit, deps.rate_limit_store);
        let hasher = Hasher::new(deps.hash_permits, deps.entropy.clone());
        let providers = crate::social::Providers::new(config.social.clone(), deps.http);
        Ok(AuthService {
            inner: Arc::new(Inner {
                db: deps.db,
                config,
                clock: deps.clock,
                entropy: deps.entropy,
                mailer: deps.mailer,
                limiter,
                trusted,
                hasher,
                cookies,
                ip,
                plugins: plugins.list,
                triggers: crate::triggers::Triggers::default(),
                skip_oauth_state_cookie,
                convex: plugins.convex,
                providers,
            }),
        })
    }

    /// The service with the app's database hooks and triggers (before any request is served).
    pub fn with_triggers(self, triggers: crate::triggers::Triggers) -> Result<AuthService, String> {
        let mut inner = Arc::try_unwrap(self.inner).map_err(|_| "the auth service is already shared".to_string())?;
        inner.triggers = triggers;
        Ok(AuthService { inner: Arc::new(inner) })
    }

    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    pub fn database(&self) -> &Database {
        &self.inner.db
    }

    /// The password hasher's load: hashes computing now, the most that ever did at once (at most
    /// `AuthDeps::hash_permits`), and how many ran.
    pub fn hash_load(&self) -> HashLoad {
        self.inner.hasher.load()
    }

    /// The published JWKS document (`{"keys": [...]}`), creating the first key pair when there is none. `None` when
    /// the convex plugin is off.
    pub async fn jwks(&self) -> Option<Result<serde_json::Value, AuthError>> {
        let convex = self.inner.convex.as_ref()?;
        let now = self.inner.clock.now();
        Some(convex.keys.keys(&self.inner, now).await.map(|k| crate::jwt::jwks_document(&k)))
    }

    /// Creates a new signing key; the previous keys stay in the JWKS for the rotation grace period.
    pub async fn rotate_keys(&self) -> Result<crate::jwt::PublicJwk, AuthError> {
        let (Some(jwt), Some(convex)) = (&self.inner.config.jwt, &self.inner.convex) else {
            return Err(AuthError::not_found());
        };
        convex.keys.rotate(&self.inner, jwt, self.inner.clock.now()).await
    }

    /// Whether a path belongs to the auth service (is under its base path).
    pub fn handles(&self, path: &str) -> bool {
        let base = &self.inner.config.base_path;
        path == base || path.starts_with(&format!("{base}/"))
    }

    /// Answers one request.
    pub async fn handle(&self, mut req: AuthRequest) -> AuthResponse {
        let svc = &*self.inner;
        let now = svc.clock.now();
        // 0. Request hooks (expo's `expo-origin` → `Origin`) before anything reads the headers.
        for plugin in &svc.plugins {
            plugin.on_request(&mut req.headers);
        }
        let ip = rate_limit::client_ip(&req.headers, req.peer, &svc.ip);
        let sub_path = req.path.strip_prefix(svc.config.base_path.as_str()).unwrap_or("").to_string();

        // CORS preflight for trusted origins (Better Auth leaves CORS to the framework; we are the framework).
        if req.method == Method::OPTIONS {
            return self.preflight(&req);
        }

        // 1. Rate limit (before routing, like Better Auth: unknown paths count too).
        if let Err(limited) = svc.limiter.check(&sub_path, ip, now).await {
            let (parts, body) = limited.to_response().into_parts();
            return AuthResponse::from_parts(parts, Bytes::from(body));
        }

        // 2. Route: core endpoints, then the plugins' routes.
        let Some(target) = route(svc, &req.method, &sub_path) else {
            return empty(StatusCode::NOT_FOUND);
        };

        // 3. Origin / CSRF checks for state-changing requests. Better Auth 1.4.9 parses the body first, but it only
        // accepts JSON, so a cross-site form post would be answered 415 before the check that names it (1.7 accepts
        // forms and answers 403): the security verdict comes first, and an attacker's body is never parsed.
        let rule = svc.plugins.iter().find_map(|p| p.origin_rule(&sub_path));
        if let OriginRule::Check(scope) = rule.unwrap_or(OriginRule::Check(origin::CsrfScope::for_path(&sub_path))) {
            let mut facts = origin::RequestFacts::from_headers(&req.method, &req.headers);
            facts.scope = scope;
            let request_origin = request_origin(&req.headers);
            facts.request_origin = request_origin.as_deref();
            if let Err(e) = origin::check_request(&facts, &svc.trusted) {
                let err = AuthError::new(e.code, e.message);
                return finish(svc, &req, error_reply(err));
            }
        }

        // 4. Body.
        let mut body = match parse_body(&req, target.accepts_form()) {
            Ok(b) => b,
            Err(e) => return finish(svc, &req, error_reply(e)),
        };
        let mut query = req.query.as_deref().map(parse_query).unwrap_or_default();

        // 5. Before hooks (they see and may rewrite the request's headers, body and query, or answer it).
        let mut early = None;
        for plugin in &svc.plugins {
            let request = BeforeRequest {
                method: &req.method,
                path: &sub_path,
                headers: &mut req.headers,
                body: &mut body,
                query: &mut query,
            };
            if let Some(reply) = plugin.before(svc, request) {
                early = Some(reply);
                break;
            }
        }

        // 6. The endpoint, then the after hooks.
        let cookie_header = req.headers.get(http::header::COOKIE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let call = Call { svc, req: &req, body, query, now, ip, cookie_header };
        let result = match early {
            Some(reply) => Ok(reply),
            None => match &target {
                Target::Core(route) => endpoints::dispatch(route.clone(), &call).await,
                Target::Plugin(plugin, spec, param) => plugin.handle(Routed { name: spec.name, param }, &call).await,
            },
        };
        let mut reply = match result {
            Ok(reply) => reply,
            Err(e) => {
                if e.status() >= 500 {
                    tracing::error!(path = %req.path, code = ?e.code, "auth request failed: {}", e.message);
                }
                error_reply(e)
            }
        };
        for plugin in &svc.plugins {
            plugin.after(&sub_path, &call, &mut reply).await;
        }
        finish(svc, &req, reply)
    }

    fn preflight(&self, req: &AuthRequest) -> AuthResponse {
        let mut response = empty(StatusCode::NO_CONTENT);
        if let Some(origin) = req.headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) {
            if self.inner.trusted.matches(origin) {
                let headers = response.headers_mut();
                set(headers, "access-control-allow-origin", origin);
                set(headers, "access-control-allow-credentials", "true");
                set(headers, "access-control-allow-methods", "GET, POST, OPTIONS");
                let requested = req
                    .headers
                    .get("access-control-request-headers")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("content-type, authorization");
                set(headers, "access-control-allow-headers", requested);
                set(headers, "access-control-max-age", "86400");
                set(headers, "vary", "Origin");
            }
        }
        response
    }
}

impl Inner {
    /// Sends a mail; failures are logged, never shown to the client (Better Auth awaits but ignores them too).
    pub async fn send_mail(&self, email: Email) {
        if let Err(e) = self.mailer.send(email).await {
            tracing::error!(error = %e, "sending mail failed");
        }
    }

    /// Better Auth's user object, with the returned additional fields.
    pub fn user_json(&self, user: &crate::models::User) -> serde_json::Value {
        let mut json = serde_json::to_value(user.to_json()).unwrap_or_default();
        crate::additional::add_output(&self.config.user.additional_fields, &user.extra, &mut json);
        json
    }

    /// Better Auth's session object, with the returned additional fields.
    pub fn session_json(&self, session: &crate::models::Session) -> serde_json::Value {
        let mut json = serde_json::to_value(session.to_json()).unwrap_or_default();
        crate::additional::add_output(&self.config.session.additional_fields, &session.extra, &mut json);
        json
    }

    /// The session cookie for a token (`max_age: None` for a browser-session cookie).
    pub fn session_cookie(&self, token: &str, max_age: Option<u64>) -> SetCookie {
        let signed = crypto::sign_cookie_value(token, &self.config.secret);
        cookies::session_cookie(&self.cookies, &signed, max_age)
    }
}

pub(crate) fn storage_error(e: &database::DatabaseError) -> AuthError {
    tracing::error!(error = %e, "auth storage failure");
    AuthError::internal("Internal server error")
}

/// What a request is routed to.
enum Target<'s> {
    Core(endpoints::Route),
    Plugin(&'s Arc<dyn Plugin>, &'static RouteSpec, String),
}

impl Target<'_> {
    fn accepts_form(&self) -> bool {
        match self {
            Target::Core(route) => route.accepts_form(),
            Target::Plugin(_, spec, _) => spec.accepts_form,
        }
    }
}

/// Exact routing: trailing slashes, `//` and wrong methods are 404s (with an empty body).
fn route<'s>(svc: &'s Inner, method: &Method, path: &str) -> Option<Target<'s>> {
    if let Some(route) = endpoints::route(method, path) {
        return Some(Target::Core(route));
    }
    svc.plugins.iter().find_map(|plugin| {
        plugin
            .routes()
            .iter()
            .find_map(|spec| spec.matches(method, path).map(|param| Target::Plugin(plugin, spec, param.to_string())))
    })
}

/// Refuses plugins whose exact routes collide with a core endpoint or with each other.
fn check_routes(plugins: &[Arc<dyn Plugin>]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for plugin in plugins {
        for spec in plugin.routes() {
            if let crate::plugin::PathPattern::Exact(path) = spec.path {
                let core = [Method::GET, Method::POST]
                    .iter()
                    .any(|m| spec.matches(m, path).is_some() && endpoints::route(m, path).is_some());
                if core || !seen.insert(path) {
                    return Err(format!("plugin {} routes {path}, which is already routed", plugin.id()));
                }
            }
        }
    }
    Ok(())
}

/// The origin a request was addressed to (`X-Forwarded-Proto` or http, and `Host`).
fn request_origin(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(http::header::HOST)?.to_str().ok()?;
    let proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
    Some(format!("{proto}://{host}"))
}

pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                let s = s.replace('+', " ");
                percent_encoding::percent_decode_str(&s).decode_utf8_lossy().into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// Parses the body per Better Auth: JSON only (form-encoded for OAuth callbacks), size-capped.
fn parse_body(req: &AuthRequest, accepts_form: bool) -> Result<Option<serde_json::Value>, AuthError> {
    if req.body.is_empty() {
        return Ok(None);
    }
    if req.body.len() > MAX_BODY_BYTES {
        return Err(codes::PAYLOAD_TOO_LARGE());
    }
    let content_type = req.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media.contains("application/json") {
        return serde_json::from_slice(&req.body).map(Some).map_err(|_| codes::INVALID_JSON());
    }
    if accepts_form && media.contains("application/x-www-form-urlencoded") {
        let text = std::str::from_utf8(&req.body).map_err(|_| codes::INVALID_JSON())?;
        let map: serde_json::Map<String, serde_json::Value> =
            parse_query(text).into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
        return Ok(Some(serde_json::Value::Object(map)));
    }
    let allowed = if accepts_form { "application/json, application/x-www-form-urlencoded" } else { "application/json" };
    let message = if content_type.is_empty() {
        format!("Content-Type is required. Allowed types: {allowed}")
    } else {
        format!("Content-Type \"{content_type}\" is not allowed. Allowed types: {allowed}")
    };
    Err(AuthError::new(ErrorCode::UNSUPPORTED_MEDIA_TYPE, message))
}

fn error_reply(e: AuthError) -> Reply {
    Reply { status: e.status(), body: e.body().and_then(|b| serde_json::to_value(b).ok()), ..Default::default() }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn empty(status: StatusCode) -> AuthResponse {
    let mut response = AuthResponse::new(Bytes::new());
    *response.status_mut() = status;
    response
}

/// Turns a reply into a response: JSON content type (Better Auth sets it even on empty bodies and redirects),
/// cookies one per header, the reply's headers, CORS for trusted origins.
fn finish(svc: &Inner, req: &AuthRequest, reply: Reply) -> AuthResponse {
    let body = match (&reply.html, &reply.body) {
        (Some(html), _) => Bytes::from(html.clone()),
        (None, Some(json)) => Bytes::from(json.to_string()),
        (None, None) => Bytes::new(),
    };
    let mut response = AuthResponse::new(body);
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if reply.html.is_some() {
        set(headers, "content-type", "text/html; charset=utf-8");
    } else {
        set(headers, "content-type", "application/json");
    }
    if let Some(location) = &reply.location {
        set(headers, "location", location);
    }
    for cookie in &reply.cookies {
        if let Ok(v) = HeaderValue::from_str(&cookie.to_header_value()) {
            headers.append(http::header::SET_COOKIE, v);
        }
    }
    let mut expose: Vec<&str> = Vec::new();
    for (name, value) in &reply.headers {
        if name.eq_ignore_ascii_case("access-control-expose-headers") {
            // Several plugins expose headers (bearer's `set-auth-token`, crossDomain's `Set-Better-Auth-Cookie`).
            expose.extend(value.split(',').map(str::trim).filter(|v| !v.is_empty()));
        } else {
            set(headers, name, value);
        }
    }
    if !expose.is_empty() {
        expose.dedup();
        set(headers, "access-control-expose-headers", &expose.join(", "));
    }
    if let Some(origin) = req.headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if svc.trusted.matches(origin) {
            set(headers, "access-control-allow-origin", origin);
            set(headers, "access-control-allow-credentials", "true");
            set(headers, "vary", "Origin");
        }
    }
    response
}
