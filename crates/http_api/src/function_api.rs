//! The Convex HTTP API: `/api/query`, `/api/mutation`, `/api/action`, `/api/function`, `/api/run/*`,
//! `/api/query_ts`, `/api/query_at_ts`, `/api/query_batch`.

use crate::identity::bearer_token;
use crate::{ApiError, ApiState};
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use database::Timestamp;
use functions::path::FunctionPath;
use functions::{Caller, FunctionKind, Outcome};
use http::HeaderMap;
use serde::Deserialize;
use std::sync::Arc;
use value::{json, Value};

/// Output encodings (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `convex_encoded_json` / `convex_json`: lossless Convex JSON.
    Encoded,
    /// `json` / `convex_clean_json`: plain JSON (int64 as strings, bytes as base64).
    Clean,
}

impl Format {
    fn parse(format: Option<&str>) -> Result<Self, ApiError> {
        match format {
            None | Some("json") | Some("convex_clean_json") => Ok(Format::Clean),
            Some("convex_encoded_json") | Some("convex_json") | Some("export_json") => Ok(Format::Encoded),
            Some(other) => Err(ApiError::bad_request("BadFormat", format!("unsupported format {other:?}"))),
        }
    }

    fn encode(self, v: &Value) -> serde_json::Value {
        match self {
            Format::Encoded => json::to_json(v),
            Format::Clean => json::to_clean_json(v),
        }
    }
}

#[derive(Debug, Deserialize)]
struct FunctionRequest {
    path: String,
    #[serde(default)]
    args: Option<serde_json::Value>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    ts: Option<String>,
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("BadJsonBody", "the request body is empty; expected a JSON object"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("BadJsonBody", format!("invalid JSON body: {e}")))
}

/// Arguments arrive as an object or as the legacy one-element array `[{...}]`.
fn parse_args(args: Option<serde_json::Value>) -> Result<Value, ApiError> {
    let args = match args {
        None | Some(serde_json::Value::Null) => return Ok(Value::Object(Default::default())),
        Some(serde_json::Value::Array(mut items)) => {
            if items.len() != 1 {
                return Err(ApiError::bad_request(
                    "InvalidArgs",
                    format!("args must be an object or an array holding one object, got an array of {}", items.len()),
                ));
            }
            items.remove(0)
        }
        Some(other) => other,
    };
    let value =
        json::from_json(args).map_err(|e| ApiError::bad_request("InvalidArgs", format!("invalid args: {e}")))?;
    if !matches!(value, Value::Object(_)) {
        return Err(ApiError::bad_request("InvalidArgs", format!("args must be an object, got {}", value.type_name())));
    }
    Ok(value)
}

fn parse_path(path: &str) -> Result<(), ApiError> {
    FunctionPath::parse(path).map(|_| ()).map_err(|e| ApiError::bad_request("BadConvexFunctionIdentifier", e))
}

async fn caller(state: &ApiState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    match bearer_token(headers) {
        Ok(None) => Ok(Caller::public(None)),
        Ok(Some(token)) => match state.auth.verify(&token).await {
            Ok(identity) => Ok(Caller::public(Some(Arc::new(identity)))),
            Err(e) => Err(ApiError::unauthorized(e.code, e.message)),
        },
        Err(e) => Err(ApiError::unauthorized(e.code, e.message)),
    }
}

fn outcome_response(outcome: &Outcome, format: Format) -> Response {
    Json(outcome_body(outcome, format)).into_response()
}

fn outcome_body(outcome: &Outcome, format: Format) -> serde_json::Value {
    match &outcome.result {
        Ok(v) => serde_json::json!({
            "status": "success",
            "value": format.encode(v),
            "logLines": outcome.log_lines,
        }),
        Err(failure) => {
            let mut body = serde_json::json!({
                "status": "error",
                "errorMessage": failure.message,
                "logLines": outcome.log_lines,
            });
            if let Some(data) = &failure.data {
                body["errorData"] = format.encode(data);
            }
            body
        }
    }
}

async fn run(
    state: &ApiState,
    headers: &HeaderMap,
    request: FunctionRequest,
    kind: Option<FunctionKind>,
) -> Result<Response, ApiError> {
    let format = Format::parse(request.format.as_deref())?;
    parse_path(&request.path)?;
    let args = parse_args(request.args)?;
    let caller = caller(state, headers).await?;
    let outcome = state.runtime.run(&request.path, args, caller, kind).await;
    Ok(outcome_response(&outcome, format))
}

pub(crate) async fn query(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    run(&state, &headers, parse_body(&body)?, Some(FunctionKind::Query)).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct QueryParams {
    path: String,
    #[serde(default)]
    args: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/query?path=…&args=<JSON>&format=…`
pub(crate) async fn query_get(
    State(state): State<ApiState>,
    headers: HeaderMap,
    params: Result<Query<QueryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    // axum's own rejection is a plain-text body; request errors here are `{code, message}` like every other.
    let Query(params) = params
        .map_err(|e| ApiError::bad_request("BadQueryString", format!("invalid query string: {}", e.body_text())))?;
    let args = match params.args.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            serde_json::from_str(text)
                .map_err(|e| ApiError::bad_request("BadJsonBody", format!("invalid JSON in args: {e}")))?,
        ),
    };
    let request = FunctionRequest { path: params.path, args, format: params.format, ts: None };
    run(&state, &headers, request, Some(FunctionKind::Query)).await
}

pub(crate) async fn mutation(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    run(&state, &headers, parse_body(&body)?, Some(FunctionKind::Mutation)).await
}

pub(crate) async fn action(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    run(&state, &headers, parse_body(&body)?, Some(FunctionKind::Action)).await
}

/// `/api/function`: any kind, args as an object.
pub(crate) async fn function(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: FunctionRequest = parse_body(&body)?;
    run(&state, &headers, request, None).await
}

#[derive(Debug, Deserialize)]
struct RunRequest {
    #[serde(default)]
    args: Option<serde_json::Value>,
    #[serde(default)]
    format: Option<String>,
}

/// `/api/run/<dir>/<module>/<function>`: the path from the URL, body `{args, format?}`.
pub(crate) async fn run_by_url(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Path(path) = path.map_err(|e| {
        ApiError::bad_request(
            "BadConvexFunctionIdentifier",
            format!("invalid function path in the URL: {}", e.body_text()),
        )
    })?;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some((function, module)) = segments.split_last().filter(|(_, m)| !m.is_empty()) else {
        return Err(ApiError::bad_request(
            "MissingIdentifier",
            "the URL must name a module and a function: /api/run/<module>/<function>",
        ));
    };
    let request: RunRequest =
        if body.is_empty() { RunRequest { args: None, format: None } } else { parse_body(&body)? };
    let request = FunctionRequest {
        path: format!("{}:{}", module.join("/"), function),
        args: request.args,
        format: request.format,
        ts: None,
    };
    run(&state, &headers, request, None).await
}

fn encode_ts(ts: Timestamp) -> String {
    base64::engine::general_purpose::STANDARD.encode(ts.0.to_le_bytes())
}

fn decode_ts(text: &str) -> Result<Timestamp, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| ApiError::bad_request("InvalidTimestamp", format!("invalid timestamp {text:?}")))?;
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| ApiError::bad_request("InvalidTimestamp", format!("timestamp {text:?} is not 8 bytes")))?;
    Ok(Timestamp(u64::from_le_bytes(array)))
}

/// The latest timestamp, pinned so `/api/query_at_ts` reads exactly that snapshot for a while.
pub(crate) async fn query_ts(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let ts = state.runtime.database().pin_latest().await.map_err(|e| {
        tracing::error!(error = %e, "cannot pin a snapshot");
        ApiError::new(http::StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "Server Error")
    })?;
    Ok(Json(serde_json::json!({ "ts": encode_ts(ts) })).into_response())
}

pub(crate) async fn query_at_ts(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: FunctionRequest = parse_body(&body)?;
    let ts = decode_ts(request.ts.as_deref().unwrap_or_default())?;
    let latest = state.runtime.database().latest_ts();
    if ts > latest {
        return Err(ApiError::bad_request("InvalidTimestamp", "the timestamp is in the future of this deployment"));
    }
    let format = Format::parse(request.format.as_deref())?;
    parse_path(&request.path)?;
    let args = parse_args(request.args)?;
    let caller = caller(&state, &headers).await?;
    match state.runtime.run_query_at(&request.path, args, caller, ts).await {
        Some(outcome) => Ok(outcome_response(&outcome, format)),
        None => Err(ApiError::bad_request(
            "TimestampTooOld",
            "the snapshot at this timestamp is no longer retained and the data this query reads has changed since; request a new timestamp",
        )),
    }
}

#[derive(Debug, Deserialize)]
struct BatchRequest {
    queries: Vec<FunctionRequest>,
}

/// Runs several queries at one pinned snapshot and answers them together.
pub(crate) async fn query_batch(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let batch: BatchRequest = parse_body(&body)?;
    let caller = caller(&state, &headers).await?;
    let mut prepared = Vec::with_capacity(batch.queries.len());
    for q in batch.queries {
        let format = Format::parse(q.format.as_deref())?;
        parse_path(&q.path)?;
        prepared.push((q.path, parse_args(q.args)?, format));
    }
    let ts = state.runtime.database().pin_latest().await.map_err(|e| {
        tracing::error!(error = %e, "cannot pin a snapshot");
        ApiError::new(http::StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "Server Error")
    })?;
    let mut results = Vec::with_capacity(prepared.len());
    for (path, args, format) in prepared {
        let Some(outcome) = state.runtime.run_query_at(&path, args, caller.clone(), ts).await else {
            return Err(ApiError::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "OptimisticConcurrencyControlFailure",
                "the snapshot expired while the batch ran; retry",
            ));
        };
        results.push(outcome_body(&outcome, format));
    }
    Ok(Json(serde_json::json!({ "results": results, "ts": encode_ts(ts) })).into_response())
}
