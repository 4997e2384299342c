//! Router tests with `oneshot`: status codes and bodies of the Convex HTTP API.

use crate::*;
use axum::body::Body;
use database::{Database, DatabaseConfig, ManualClock, Schema, SeededEntropy, TableDefinition};
use functions::{App, FunctionError, MutationCtx, QueryCtx};
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use tower::ServiceExt;
use value::{obj, Value};

async fn state() -> ApiState {
    let mut app = App::new();
    app.schema(Schema::new().table("items", TableDefinition::new()));
    app.query("items:list", |ctx: QueryCtx, _: Value| async move { ctx.db.query("items").collect().await });
    app.mutation("items:add", |ctx: MutationCtx, args: Value| async move {
        Ok(ctx.db.insert("items", args).await?.to_string())
    });
    app.query("values:big", |_: QueryCtx, _: Value| async move {
        Ok(obj! {"n" => -2i64, "b" => Value::Bytes(vec![1, 2, 3]), "nan" => f64::NAN})
    });
    app.query("errors:convex", |_: QueryCtx, _: Value| async move {
        Err::<(), _>(FunctionError::convex(obj! {"code" => "NOPE"}))
    });
    let config = DatabaseConfig::new(
        app.schema_ref().clone(),
        std::sync::Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
        std::sync::Arc::new(SeededEntropy::new(3)),
    );
    let db = Database::open(test_support::test_persistence().await, config).await.unwrap();
    let runtime = functions::Runtime::new(db, app, BTreeMap::new()).unwrap();
    ApiState {
        runtime,
        auth: std::sync::Arc::new(NoAuthProviders),
        auth_service: None,
        sync: None,
        shutdown: tokio::sync::watch::channel(false).1,
        version: "test",
    }
}

async fn send(
    state: &ApiState,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = api_router(state.clone()).oneshot(builder.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, json)
}

async fn post(state: &ApiState, uri: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    send(state, "POST", uri, &[("content-type", "application/json")], body.to_string().into_bytes()).await
}

#[tokio::test]
async fn encoded_and_clean_formats() {
    let s = state().await;
    let (status, body) = post(
        &s,
        "/api/query",
        serde_json::json!({"path": "values:big", "args": [{}], "format": "convex_encoded_json"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "success");
    assert_eq!(body["value"]["n"], serde_json::json!({"$integer": "/v////////8="}));
    assert_eq!(body["value"]["b"], serde_json::json!({"$bytes": "AQID"}));
    assert_eq!(body["value"]["nan"], serde_json::json!({"$float": "AAAAAAAA+H8="}));
    let (_, clean) =
        post(&s, "/api/query", serde_json::json!({"path": "values:big", "args": {}, "format": "json"})).await;
    assert_eq!(clean["value"]["n"], "-2");
    assert_eq!(clean["value"]["b"], "AQID");
    assert_eq!(clean["value"]["nan"], "NaN");
    let (status, bad) = post(&s, "/api/query", serde_json::json!({"path": "values:big", "format": "xml"})).await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("BadFormat")));
}

#[tokio::test]
async fn function_errors_are_200_and_request_errors_are_4xx() {
    let s = state().await;
    let (status, body) = post(
        &s,
        "/api/query",
        serde_json::json!({"path": "errors:convex", "args": {}, "format": "convex_encoded_json"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorData"], serde_json::json!({"code": "NOPE"}));
    let (status, body) = post(&s, "/api/query", serde_json::json!({"path": "no/such:fn", "args": {}})).await;
    assert_eq!(status, 200);
    assert!(body["errorMessage"].as_str().unwrap().contains("Could not find public function for 'no/such:fn'"));
    assert!(body.get("errorData").is_none(), "plain errors carry no errorData key");
    let (status, body) = post(&s, "/api/query", serde_json::json!({"path": "bad path!", "args": {}})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("BadConvexFunctionIdentifier")));
    let (status, body) = send(&s, "POST", "/api/mutation", &[], b"{not json".to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("BadJsonBody")));
    let (status, body) = send(&s, "POST", "/api/mutation", &[], vec![0xff, 0xfe, 0x00]).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("BadJsonBody")));
    let (status, body) = post(&s, "/api/mutation", serde_json::json!({"path": "items:add", "args": [1, 2]})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("InvalidArgs")));
    let (status, body) =
        post(&s, "/api/mutation", serde_json::json!({"path": "items:add", "args": {"$set": []}})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("InvalidArgs")));
    // Nothing was written by any of the rejected calls.
    let (_, list) = post(&s, "/api/query", serde_json::json!({"path": "items:list", "args": {}})).await;
    assert_eq!(list["value"], serde_json::json!([]));
}

#[tokio::test]
async fn too_deep_arguments_are_rejected_without_writing() {
    let s = state().await;
    let mut deep = serde_json::json!({"leaf": 1});
    for _ in 0..100 {
        deep = serde_json::json!({ "x": deep });
    }
    let (status, body) = post(&s, "/api/mutation", serde_json::json!({"path": "items:add", "args": deep})).await;
    assert!(status == 400 || (status == 200 && body["status"] == "error"), "{status} {body}");
    let (_, list) = post(&s, "/api/query", serde_json::json!({"path": "items:list", "args": {}})).await;
    assert_eq!(list["value"], serde_json::json!([]));
}

#[tokio::test]
async fn bearer_tokens_without_providers_are_401() {
    let s = state().await;
    let (status, body) = send(
        &s,
        "POST",
        "/api/query",
        &[("authorization", "Bearer abc.def.ghi")],
        serde_json::json!({"path": "items:list", "args": {}}).to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "NoAuthProvider");
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn query_ts_and_query_at_ts() {
    let s = state().await;
    post(&s, "/api/mutation", serde_json::json!({"path": "items:add", "args": {"a": 1}})).await;
    let (status, body) = send(&s, "POST", "/api/query_ts", &[], Vec::new()).await;
    assert_eq!(status, 200);
    let ts = body["ts"].as_str().unwrap().to_string();
    assert_eq!(ts.len(), 12, "base64 of 8 bytes");
    let (status, body) =
        post(&s, "/api/query_at_ts", serde_json::json!({"path": "items:list", "args": {}, "ts": ts})).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
    // A later write does not change what the pinned timestamp reads.
    post(&s, "/api/mutation", serde_json::json!({"path": "items:add", "args": {"a": 2}})).await;
    let (status, body) =
        post(&s, "/api/query_at_ts", serde_json::json!({"path": "items:list", "args": {}, "ts": ts})).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"].as_array().unwrap().len(), 1, "the snapshot at ts has one item");
    let (_, latest) = post(&s, "/api/query", serde_json::json!({"path": "items:list", "args": {}})).await;
    assert_eq!(latest["value"].as_array().unwrap().len(), 2);
    // A batch runs at one pinned snapshot.
    let (_, body) = post(
        &s,
        "/api/query_batch",
        serde_json::json!({"queries": [
            {"path": "items:list", "args": {}}, {"path": "values:big", "args": {}, "format": "json"}]}),
    )
    .await;
    assert_eq!(body["results"][0]["value"].as_array().unwrap().len(), 2);
    assert_eq!(body["results"][1]["value"]["n"], "-2");
    assert!(body["ts"].is_string());
    let future = "/////////38=";
    let (status, body) =
        post(&s, "/api/query_at_ts", serde_json::json!({"path": "items:list", "args": {}, "ts": future})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("InvalidTimestamp")));
}

#[tokio::test]
async fn run_by_url_and_function_endpoint() {
    let s = state().await;
    let (status, body) = post(&s, "/api/run/items/add", serde_json::json!({"args": {"a": 1}})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("success")));
    let (status, body) = post(&s, "/api/run/items", serde_json::json!({"args": {}})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("MissingIdentifier")));
    let (_, body) =
        post(&s, "/api/function", serde_json::json!({"path": "items:list", "args": {}, "format": "json"})).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn cors_preflight_reflects_origin() {
    let s = state().await;
    let request = http::Request::builder()
        .method("OPTIONS")
        .uri("/api/query")
        .header("origin", "http://example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,convex-client")
        .body(Body::empty())
        .unwrap();
    let response = api_router(s).oneshot(request).await.unwrap();
    assert!(response.status().is_success());
    assert_eq!(response.headers()["access-control-allow-origin"], "http://example.com");
    assert_eq!(response.headers()["access-control-allow-credentials"], "true");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let s = state().await;
    let body = vec![b' '; MAX_BODY_BYTES + 10];
    let (status, _) = send(&s, "POST", "/api/mutation", &[], body).await;
    assert_eq!(status, 413);
}

/// Found by the `http_api_requests` fuzz target: axum's own rejections answered plain text, where every request
/// error of this API is `{code, message}` JSON.
#[tokio::test]
async fn malformed_query_strings_and_url_paths_answer_coded_json() {
    let s = state().await;
    let (status, body) = send(&s, "GET", "/api/query?path,echo:args&format=json", &[], Vec::new()).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("BadQueryString")));
    assert!(body["message"].as_str().unwrap().contains("missing field `path`"), "{body}");
    let (status, body) = send(&s, "POST", "/api/run/items/%FF", &[], Vec::new()).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("BadConvexFunctionIdentifier")));
    assert!(body["message"].is_string(), "{body}");
}
