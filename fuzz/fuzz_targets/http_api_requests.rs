//! The Convex HTTP API bodies (`/api/query`, `/api/mutation`, `/api/action`, `/api/function`, `/api/run/*`,
//! `/api/query_at_ts`, `/api/query_batch`, `GET /api/query?args=`): a raw request (see `RawRequest`) sent
//! through the public API router with `oneshot` on a fresh in-memory deployment. Every answer is a function
//! outcome (200 `{status, value|errorMessage, logLines}`) or a request error (4xx `{code, message}`); nothing
//! panics, and nothing is a 5xx (storage cannot fail in memory).
#![no_main]

use authvex_fuzz::{block_on, test_runtime, RawRequest, TestVerifier};
use axum::body::Body;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use tower::ServiceExt;

fuzz_target!(|data: &[u8]| {
    let Some(raw) = RawRequest::parse(data) else { return };
    let Some(uri) = raw.uri() else { return };
    block_on(async {
        let (runtime, _clock) = test_runtime().await;
        let state = http_api::ApiState {
            runtime,
            auth: Arc::new(TestVerifier),
            auth_service: None,
            sync: None,
            shutdown: tokio::sync::watch::channel(false).1,
            version: "fuzz",
        };
        let mut request = http::Request::new(Body::from(raw.body.to_vec()));
        *request.method_mut() = raw.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = raw.headers.clone();
        let response = match http_api::api_router(state).oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        };
        let status = response.status();
        let body = match axum::body::to_bytes(response.into_body(), usize::MAX).await {
            Ok(body) => body,
            Err(e) => panic!("the response body failed: {e}"),
        };
        assert!(
            !status.is_server_error(),
            "{status} for {} {}: {}",
            raw.method,
            raw.path,
            String::from_utf8_lossy(&body)
        );
        if raw.path.starts_with("/api/") && raw.method != http::Method::OPTIONS && !status.is_redirection() {
            let json: serde_json::Value = match serde_json::from_slice(&body) {
                Ok(json) => json,
                Err(_) if body.is_empty() => return,
                Err(e) => panic!("a non-JSON answer ({e}) {status}: {}", String::from_utf8_lossy(&body)),
            };
            if status.is_success() {
                if raw.path != "/api/query_ts" && raw.path != "/api/query_batch" {
                    assert!(json.get("status").is_some(), "a 200 without status: {json}");
                }
            } else {
                assert!(
                    json.get("code").is_some() && json.get("message").is_some(),
                    "{status} without code/message: {json}"
                );
            }
        }
    });
});
