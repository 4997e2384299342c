//! `/health` (liveness) and `/ready` (readiness) on the API origin, for load balancers and orchestrators.
//!
//! `/health` answers 200 while the process serves HTTP at all. `/ready` answers 200 only when the database answers a
//! trivial read (the latest commit timestamp) within [`READY_TIMEOUT`], 503 otherwise; the cause is logged, never
//! returned.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::time::Duration;
use storage::DynPersistence;

/// How long `/ready` waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// The routes, to merge into the API origin's router.
pub fn router(persistence: DynPersistence) -> Router {
    Router::new().route("/health", get(health)).route("/ready", get(ready)).with_state(persistence)
}

fn text(status: StatusCode, body: &'static str) -> impl IntoResponse {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body)
}

async fn health() -> impl IntoResponse {
    text(StatusCode::OK, "ok\n")
}

async fn ready(State(persistence): State<DynPersistence>) -> impl IntoResponse {
    match tokio::time::timeout(READY_TIMEOUT, persistence.max_ts()).await {
        Ok(Ok(_)) => text(StatusCode::OK, "ready\n"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check: the database did not answer");
            text(StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
        Err(_) => {
            tracing::warn!(timeout = ?READY_TIMEOUT, "readiness check: the database did not answer in time");
            text(StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}
