//! HTTP actions on the site origin, routed like Convex's `httpRouter()`: exact path first, then the longest
//! matching path prefix; HEAD is routed as GET. CORS is opt-in per route (Convex adds none by itself).
//!
//! A route gets its request body whole ([`HttpRequest`], buffered by the HTTP edge up to its limit) or, registered
//! with [`crate::App::route_streaming`], as a stream ([`StreamingHttpRequest`]) it can pass to
//! `ctx.storage.store_stream` without holding it in memory. A response body ([`HttpBody`]) is bytes or a stream
//! (a stored file from `ctx.storage.get_stream`).

use crate::context::ActionCtx;
use crate::FunctionError;
use blobs::ByteStream;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderValue, Method, StatusCode};
use std::sync::Arc;

/// A request whose body the HTTP edge read whole.
pub type HttpRequest = http::Request<bytes::Bytes>;
/// A request whose body arrives as it is sent (routes registered with [`crate::App::route_streaming`]).
pub type StreamingHttpRequest = http::Request<ByteStream>;
/// An HTTP action's answer.
pub type HttpResponse = http::Response<HttpBody>;

/// The body of an HTTP action's response: bytes, or a stream sent as it is read (with its length when known,
/// which becomes `Content-Length` unless the handler set one).
pub enum HttpBody {
    Full(Bytes),
    Stream { body: ByteStream, length: Option<u64> },
}

impl HttpBody {
    /// A streamed body of `length` bytes (if known).
    pub fn stream(body: ByteStream, length: Option<u64>) -> HttpBody {
        HttpBody::Stream { body, length }
    }

    /// The bytes of a whole body; `None` for a stream.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            HttpBody::Full(bytes) => Some(bytes),
            HttpBody::Stream { .. } => None,
        }
    }

    /// The body's length, when known.
    pub fn length(&self) -> Option<u64> {
        match self {
            HttpBody::Full(bytes) => Some(bytes.len() as u64),
            HttpBody::Stream { length, .. } => *length,
        }
    }

    /// Whether this is a whole body of no bytes.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_some_and(Bytes::is_empty)
    }

    /// The body as a stream (a whole body becomes one chunk).
    pub fn into_stream(self) -> ByteStream {
        match self {
            HttpBody::Full(bytes) => blobs::stream_of(bytes),
            HttpBody::Stream { body, .. } => body,
        }
    }
}

impl Default for HttpBody {
    fn default() -> Self {
        HttpBody::Full(Bytes::new())
    }
}

impl std::fmt::Debug for HttpBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpBody::Full(bytes) => f.debug_tuple("Full").field(bytes).finish(),
            HttpBody::Stream { length, .. } => f.debug_struct("Stream").field("length", length).finish(),
        }
    }
}

impl From<Bytes> for HttpBody {
    fn from(bytes: Bytes) -> Self {
        HttpBody::Full(bytes)
    }
}

impl From<Vec<u8>> for HttpBody {
    fn from(bytes: Vec<u8>) -> Self {
        HttpBody::Full(bytes.into())
    }
}

impl From<String> for HttpBody {
    fn from(text: String) -> Self {
        HttpBody::Full(text.into())
    }
}

impl From<&'static str> for HttpBody {
    fn from(text: &'static str) -> Self {
        HttpBody::Full(Bytes::from_static(text.as_bytes()))
    }
}

impl From<&'static [u8]> for HttpBody {
    fn from(bytes: &'static [u8]) -> Self {
        HttpBody::Full(Bytes::from_static(bytes))
    }
}

impl PartialEq<str> for HttpBody {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes().is_some_and(|b| b == other.as_bytes())
    }
}

impl PartialEq<&str> for HttpBody {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

type Handled = BoxFuture<'static, Result<HttpResponse, FunctionError>>;

/// A route's handler, by how it takes the request body.
#[derive(Clone)]
pub(crate) enum HttpHandler {
    Buffered(Arc<dyn Fn(ActionCtx, HttpRequest) -> Handled + Send + Sync>),
    Streaming(Arc<dyn Fn(ActionCtx, StreamingHttpRequest) -> Handled + Send + Sync>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteMatch {
    Exact(String),
    Prefix(String),
}

/// Which origins may call a route from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// Allowed origins; `["*"]` allows any (credentials are then not allowed).
    pub allowed_origins: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub exposed_headers: Vec<String>,
    pub allow_credentials: bool,
    pub max_age_seconds: u32,
}

impl CorsConfig {
    /// Allows the given origins with credentials (cookies), the usual setup for a web app's origin.
    pub fn origins(origins: &[&str]) -> Self {
        CorsConfig {
            allowed_origins: origins.iter().map(|o| o.trim_end_matches('/').to_string()).collect(),
            allowed_headers: vec!["Content-Type".into(), "Authorization".into()],
            exposed_headers: Vec::new(),
            allow_credentials: true,
            max_age_seconds: 86_400,
        }
    }

    fn allows(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == "*" || o == origin)
    }
}

/// A registered route.
#[derive(Clone)]
pub struct RouteDefinition {
    pub(crate) method: Method,
    pub(crate) matcher: RouteMatch,
    pub(crate) handler: HttpHandler,
    pub(crate) cors: Option<CorsConfig>,
    pub(crate) cors_default: bool,
}

impl RouteDefinition {
    /// Adds CORS headers to this route's responses and answers its preflight requests.
    pub fn cors(&mut self, cors: CorsConfig) -> &mut Self {
        self.cors = Some(cors);
        self
    }

    /// Uses the app's default CORS policy ([`crate::App::default_cors`]).
    pub fn cors_default(&mut self) -> &mut Self {
        self.cors_default = true;
        self
    }
}

#[derive(Clone, Default)]
pub struct HttpRouter {
    routes: Vec<RouteDefinition>,
    pub(crate) default_cors: Option<CorsConfig>,
    scratch: Option<Box<RouteDefinition>>,
}

impl HttpRouter {
    pub(crate) fn add(&mut self, method: Method, matcher: RouteMatch, handler: HttpHandler) -> Result<usize, String> {
        let allowed = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS, Method::PATCH];
        if !allowed.contains(&method) {
            return Err(format!("http route method {method} is not supported"));
        }
        match &matcher {
            RouteMatch::Exact(p) if !p.starts_with('/') => {
                return Err(format!("http route path {p:?} must start with /"))
            }
            RouteMatch::Prefix(p) if !(p.starts_with('/') && p.ends_with('/')) => {
                return Err(format!("http route path prefix {p:?} must start and end with /"))
            }
            RouteMatch::Exact(p) | RouteMatch::Prefix(p) if p == "/.files" || p.starts_with("/.files/") => {
                return Err(format!("http route path {p:?} is reserved"))
            }
            _ => {}
        }
        if self.routes.iter().any(|r| r.method == method && r.matcher == matcher) {
            return Err(format!("http route {method} {matcher:?} is registered twice"));
        }
        self.routes.push(RouteDefinition { method, matcher, handler, cors: None, cors_default: false });
        Ok(self.routes.len() - 1)
    }

    pub(crate) fn route_at(&mut self, index: usize) -> &mut RouteDefinition {
        if index < self.routes.len() {
            &mut self.routes[index]
        } else {
            self.scratch()
        }
    }

    /// A throwaway route definition handed back when registration failed (the error is reported at start-up).
    pub(crate) fn scratch(&mut self) -> &mut RouteDefinition {
        let handler = HttpHandler::Buffered(Arc::new(|_, _| Box::pin(async { Err(FunctionError::msg("unroutable")) })));
        self.scratch.insert(Box::new(RouteDefinition {
            method: Method::GET,
            matcher: RouteMatch::Exact("/".into()),
            handler,
            cors: None,
            cors_default: false,
        }))
    }

    pub(crate) fn merge(&mut self, other: HttpRouter) {
        self.routes.extend(other.routes);
        if self.default_cors.is_none() {
            self.default_cors = other.default_cors;
        }
    }

    fn matching(&self, method: &Method, path: &str) -> Option<&RouteDefinition> {
        let method = if method == Method::HEAD { &Method::GET } else { method };
        self.routes.iter().find(|r| r.method == *method && r.matcher == RouteMatch::Exact(path.to_string())).or_else(
            || {
                self.routes
                    .iter()
                    .filter(|r| r.method == *method)
                    .filter_map(|r| match &r.matcher {
                        RouteMatch::Prefix(p) if path.starts_with(p.as_str()) => Some((p.len(), r)),
                        _ => None,
                    })
                    .max_by_key(|(len, _)| *len)
                    .map(|(_, r)| r)
            },
        )
    }

    fn cors_of(&self, route: &RouteDefinition) -> Option<CorsConfig> {
        route.cors.clone().or_else(|| if route.cors_default { self.default_cors.clone() } else { None })
    }

    /// Whether the route `method path` takes its request body as a stream.
    pub(crate) fn streams_body(&self, method: &Method, path: &str) -> bool {
        self.matching(method, path).is_some_and(|r| matches!(r.handler, HttpHandler::Streaming(_)))
    }

    /// Whether any route is registered.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Routes a request: `Ok(handler, cors)`, or a ready response (404, CORS preflight).
    #[allow(clippy::type_complexity, clippy::result_large_err)]
    pub(crate) fn route(
        &self,
        method: &Method,
        path: &str,
        origin: Option<&str>,
        request_method: Option<&str>,
    ) -> Result<(HttpHandler, Option<CorsConfig>), HttpResponse> {
        if let Some(route) = self.matching(method, path) {
            return Ok((route.handler.clone(), self.cors_of(route)));
        }
        // A preflight for a CORS-enabled route that has no OPTIONS handler of its own.
        if method == Method::OPTIONS {
            if let Some(wanted) = request_method.and_then(|m| Method::from_bytes(m.as_bytes()).ok()) {
                if let Some(route) = self.matching(&wanted, path) {
                    if let Some(cors) = self.cors_of(route) {
                        return Err(preflight(&cors, origin, &wanted));
                    }
                }
            }
        }
        let mut response = HttpResponse::new(format!("No HttpAction routed for {path}").into());
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        Err(response)
    }
}

fn preflight(cors: &CorsConfig, origin: Option<&str>, method: &Method) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::default());
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Some(origin) = origin.filter(|o| cors.allows(o)) {
        let headers = response.headers_mut();
        insert(headers, "access-control-allow-origin", origin);
        insert(headers, "access-control-allow-methods", method.as_str());
        insert(headers, "access-control-allow-headers", &cors.allowed_headers.join(", "));
        insert(headers, "access-control-max-age", &cors.max_age_seconds.to_string());
        if cors.allow_credentials {
            insert(headers, "access-control-allow-credentials", "true");
        }
        insert(headers, "vary", "Origin");
    }
    response
}

/// Adds CORS headers to an HTTP action's response.
pub(crate) fn apply_cors(cors: &CorsConfig, origin: Option<&str>, response: &mut HttpResponse) {
    let Some(origin) = origin.filter(|o| cors.allows(o)) else { return };
    let headers = response.headers_mut();
    insert(headers, "access-control-allow-origin", origin);
    if cors.allow_credentials {
        insert(headers, "access-control-allow-credentials", "true");
    }
    if !cors.exposed_headers.is_empty() {
        insert(headers, "access-control-expose-headers", &cors.exposed_headers.join(", "));
    }
    headers.append(http::header::VARY, HeaderValue::from_static("Origin"));
}

fn insert(headers: &mut http::HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}
