//! HTTP surface of a deployment.
//!
//! * [`api_router`]: the API origin (Convex "cloud URL"): `/version`, the Convex HTTP API under `/api/*` with
//!   permissive CORS, and HTTP actions under `/http/*`.
//! * [`site_router`]: the site origin (Convex "site URL"): HTTP actions at their own paths.
//!
//! This is the only crate that maps outcomes to status codes and JSON bodies.

mod error;
mod function_api;
mod identity;
mod storage_api;
mod sync_socket;

pub use error::{status_of, ApiError};
pub use functions::{AuthVerifier, NoAuthProviders, VerifyError};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use functions::Runtime;
use http::{HeaderValue, Method, StatusCode};
use protocol::ErrorCode;
use std::sync::Arc;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// Largest request body accepted (function arguments are capped at 16 MiB by the value limits).
pub const MAX_BODY_BYTES: usize = 20 << 20;

/// Shared state of the routers.
#[derive(Clone)]
pub struct ApiState {
    pub runtime: Arc<Runtime>,
    pub auth: Arc<dyn AuthVerifier>,
    /// The built-in auth service, served under its base path on the site origin.
    pub auth_service: Option<auth::AuthService>,
    /// The sync protocol's shared services (`None` disables `/api/sync`).
    pub sync: Option<sync::SyncServices>,
    /// Flips to `true` when the server shuts down (sockets close with a reconnect hint).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub version: &'static str,
}

/// The API origin.
pub fn api_router(state: ApiState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS, Method::PATCH, Method::DELETE, Method::PUT])
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(std::time::Duration::from_secs(86_400));
    let api = Router::new()
        .route("/query", post(function_api::query).get(function_api::query_get))
        .route("/mutation", post(function_api::mutation))
        .route("/action", post(function_api::action))
        .route("/function", post(function_api::function))
        .route("/run/{*path}", post(function_api::run_by_url))
        .route("/query_ts", post(function_api::query_ts))
        .route("/query_at_ts", post(function_api::query_at_ts))
        .route("/query_batch", post(function_api::query_batch))
        .route("/storage/upload", post(storage_api::upload))
        .route("/storage/{id}", get(storage_api::serve))
        .route("/sync", get(sync_socket::sync_unversioned))
        .route("/{version}/sync", get(sync_socket::sync_versioned))
        .fallback(api_not_found)
        .layer(cors);
    Router::new()
        .route("/version", get(version))
        .nest("/api", api)
        .route("/http/{*path}", any(http_action_under_prefix))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The site origin: every path goes to the app's HTTP routes.
pub fn site_router(state: ApiState) -> Router {
    Router::new().fallback(http_action).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)).with_state(state)
}

async fn version(State(state): State<ApiState>) -> impl IntoResponse {
    ([(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], state.version)
}

async fn not_found() -> ApiError {
    ApiError::from_code(ErrorCode::NotFound)
}

async fn api_not_found(request: Request) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no such route: {} {}", request.method(), request.uri().path()))
}

/// `/http/<path>` on the API origin serves the same HTTP actions as the site origin (self-hosted Convex does too).
async fn http_action_under_prefix(state: State<ApiState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let stripped = path_and_query.strip_prefix("/http").unwrap_or(path_and_query);
    let stripped = if stripped.starts_with('/') { stripped.to_string() } else { format!("/{stripped}") };
    if let Ok(uri) = stripped.parse() {
        parts.uri = uri;
    }
    http_action(state, Request::from_parts(parts, body)).await
}

async fn http_action(State(state): State<ApiState>, request: Request) -> Response {
    let peer = request.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    let (parts, body) = request.into_parts();
    // The convex plugin's discovery redirect at the site root (what `registerRoutes` adds).
    if parts.uri.path() == "/.well-known/openid-configuration" && parts.method == http::Method::GET {
        if let Some(jwt) = state.auth_service.as_ref().and_then(|s| s.config().jwt.as_ref().map(|j| (s, j))) {
            let (service, jwt) = jwt;
            let location =
                format!("{}{}/convex/.well-known/openid-configuration", jwt.issuer, service.config().base_path);
            return (StatusCode::FOUND, [(http::header::LOCATION, location)]).into_response();
        }
    }
    if let Some(service) = state.auth_service.as_ref().filter(|s| s.handles(parts.uri.path())) {
        let bytes = match axum::body::to_bytes(body, auth::MAX_BODY_BYTES).await {
            Ok(b) => b,
            Err(_) => return ApiError::from_code(ErrorCode::PAYLOAD_TOO_LARGE).into_response(),
        };
        let request = auth::AuthRequest {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body: bytes,
            peer,
        };
        let (parts, body) = service.handle(request).await.into_parts();
        return Response::from_parts(parts, axum::body::Body::from(body));
    }
    // A bad token on an HTTP action does not reject the request: the action sees no identity.
    let identity = match identity::bearer_token(&parts.headers) {
        Ok(Some(token)) => state.auth.verify(&token).await.ok().map(Arc::new),
        _ => None,
    };
    let response = if state.runtime.http_streams_body(&parts.method, parts.uri.path()) {
        // A streaming route gets the body as it arrives; one declared over the upload maximum is refused first.
        if let Some(max) = storage_api::declared_over_maximum(&state, &parts.headers) {
            return storage_api::refuse_too_large(body, max).await;
        }
        let stream = storage_api::body_stream(body);
        state.runtime.handle_http_streaming(http::Request::from_parts(parts, stream), identity).await
    } else {
        let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
            Ok(b) => b,
            Err(_) => return ApiError::from_code(ErrorCode::PayloadTooLarge).into_response(),
        };
        state.runtime.handle_http(http::Request::from_parts(parts, bytes), identity).await
    };
    let (parts, body) = response.into_parts();
    let body = match body {
        functions::HttpBody::Full(bytes) => axum::body::Body::from(bytes),
        functions::HttpBody::Stream { body, .. } => axum::body::Body::from_stream(body),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests;
