//! The Convex HTTP API: `/api/query`, `/api/mutation`, `/api/action`, `/api/function`, `/api/run/*`,
//! `/api/query_ts`, `/api/query_at_ts`, `/api/query_batch`.

use crate::identity::bearer_token;
use crate::{ApiError, ApiState};
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use database::Timestamp;
use functions::path::FunctionPath;
use functions::{Caller, FunctionKind, Outcome};
use http::HeaderMap;
use protocol::http_api::{
    Format, FunctionRequest, FunctionResponse, QueryBatchRequest, QueryBatchResponse, QueryTsResponse, RunRequest,
};
use protocol::sync::Ts;
use protocol::ErrorCode;
use serde::Deserialize;
use std::sync::Arc;
use value::{json, Value};

fn parse_format(format: Option<&str>) -> Result<Format, ApiError> {
    Format::parse(format).ok_or_else(|| {
        ApiError::new(ErrorCode::BadFormat, format!("unsupported format {:?}", format.unwrap_or_default()))
    })
}

fn encode(format: Format, v: &Value) -> serde_json::Value {
    match format {
        Format::Encoded => json::to_json(v),
        Format::Clean => json::to_clean_json(v),
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::new(ErrorCode::BadJsonBody, "the request body is empty; expected a JSON object"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::new(ErrorCode::BadJsonBody, format!("invalid JSON body: {e}")))
}

/// Arguments arrive as an object or as the legacy one-element array `[{...}]`.
fn parse_args(args: Option<serde_json::Value>) -> Result<Value, ApiError> {
    let args = match args {
        None | Some(serde_json::Value::Null) => return Ok(Value::Object(Default::default())),
        Some(serde_json::Value::Array(mut items)) => {
            if items.len() != 1 {
                return Err(ApiError::new(
                    ErrorCode::InvalidArgs,
                    format!("args must be an object or an array holding one object, got an array of {}", items.len()),
                ));
            }
            items.remove(0)
        }
        Some(other) => other,
    };
    let value =
        json::from_json(args).map_err(|e| ApiError::new(ErrorCode::InvalidArgs, format!("invalid args: {e}")))?;
    if !matches!(value, Value::Object(_)) {
        return Err(ApiError::new(
            ErrorCode::InvalidArgs,
            format!("args must be an object, got {}", value.type_name()),
        ));
    }
    Ok(value)
}

fn parse_path(path: &str) -> Result<(), ApiError> {
    FunctionPath::parse(path).map(|_| ()).map_err(|e| ApiError::new(ErrorCode::BadConvexFunctionIdentifier, e))
}

async fn caller(state: &ApiState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    match bearer_token(headers) {
        Ok(None) => Ok(Caller::public(None)),
        Ok(Some(token)) => match state.auth.verify(&token).await {
            Ok(identity) => Ok(Caller::public(Some(Arc::new(identity)))),
            Err(e) => Err(ApiError::new(e.code, e.message)),
        },
        Err(e) => Err(ApiError::new(e.code, e.message)),
    }
}

fn outcome_response(outcome: &Outcome, format: Format) -> Response {
    Json(outcome_body(outcome, format)).into_response()
}

fn outcome_body(outcome: &Outcome, format: Format) -> FunctionResponse {
    match &outcome.result {
        Ok(v) => FunctionResponse::Success { value: encode(format, v), log_lines: outcome.log_lines.clone() },
        Err(failure) => FunctionResponse::Error {
            error_message: failure.message.clone(),
            log_lines: outcome.log_lines.clone(),
            error_data: failure.data.as_ref().map(|d| encode(format, d)),
        },
    }
}

async fn run(
    state: &ApiState,
    headers: &HeaderMap,
    request: FunctionRequest,
    kind: Option<FunctionKind>,
) -> Result<Response, ApiError> {
    let format = parse_format(request.format.as_deref())?;
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
        .map_err(|e| ApiError::new(ErrorCode::BadQueryString, format!("invalid query string: {}", e.body_text())))?;
    let args = match params.args.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            serde_json::from_str(text)
                .map_err(|e| ApiError::new(ErrorCode::BadJsonBody, format!("invalid JSON in args: {e}")))?,
        ),
    };
    let request = FunctionRequest { path: params.path, args, format: params.format, ts: None, component_path: None };
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

/// `/api/run/<dir>/<module>/<function>`: the path from the URL, body `{args, format?}`.
pub(crate) async fn run_by_url(
    State(state): State<ApiState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Path(path) = path.map_err(|e| {
        ApiError::new(
            ErrorCode::BadConvexFunctionIdentifier,
            format!("invalid function path in the URL: {}", e.body_text()),
        )
    })?;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some((function, module)) = segments.split_last().filter(|(_, m)| !m.is_empty()) else {
        return Err(ApiError::new(
            ErrorCode::MissingIdentifier,
            "the URL must name a module and a function: /api/run/<module>/<function>",
        ));
    };
    let request: RunRequest = if body.is_empty() { RunRequest::default() } else { parse_body(&body)? };
    let request = FunctionRequest {
        path: format!("{}:{}", module.join("/"), function),
        args: request.args,
        format: request.format,
        ts: None,
        component_path: None,
    };
    run(&state, &headers, request, None).await
}

/// A `ts` from `query_ts`.
fn decode_ts(text: &str) -> Result<Timestamp, ApiError> {
    Ts::decode(text).map(|ts| Timestamp(ts.0)).ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidTimestamp, format!("invalid timestamp {text:?}: not a base64 u64"))
    })
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "cannot pin a snapshot");
    ApiError::from_code(ErrorCode::InternalServerError)
}

/// The latest timestamp, pinned so `/api/query_at_ts` reads exactly that snapshot for a while.
pub(crate) async fn query_ts(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let ts = state.runtime.database().pin_latest().await.map_err(internal)?;
    Ok(Json(QueryTsResponse { ts: Ts(ts.0) }).into_response())
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
        return Err(ApiError::new(ErrorCode::InvalidTimestamp, "the timestamp is in the future of this deployment"));
    }
    let format = parse_format(request.format.as_deref())?;
    parse_path(&request.path)?;
    let args = parse_args(request.args)?;
    let caller = caller(&state, &headers).await?;
    match state.runtime.run_query_at(&request.path, args, caller, ts).await {
        Some(outcome) => Ok(outcome_response(&outcome, format)),
        None => Err(ApiError::new(
            ErrorCode::TimestampTooOld,
            "the snapshot at this timestamp is no longer retained and the data this query reads has changed since; request a new timestamp",
        )),
    }
}

/// Runs several queries at one pinned snapshot and answers them together.
pub(crate) async fn query_batch(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let batch: QueryBatchRequest = parse_body(&body)?;
    let caller = caller(&state, &headers).await?;
    let mut prepared = Vec::with_capacity(batch.queries.len());
    for q in batch.queries {
        let format = parse_format(q.format.as_deref())?;
        parse_path(&q.path)?;
        prepared.push((q.path, parse_args(q.args)?, format));
    }
    let ts = state.runtime.database().pin_latest().await.map_err(internal)?;
    let mut results = Vec::with_capacity(prepared.len());
    for (path, args, format) in prepared {
        let Some(outcome) = state.runtime.run_query_at(&path, args, caller.clone(), ts).await else {
            return Err(ApiError::from_code(ErrorCode::OptimisticConcurrencyControlFailure));
        };
        results.push(outcome_body(&outcome, format));
    }
    Ok(Json(QueryBatchResponse { results, ts: Ts(ts.0) }).into_response())
}
