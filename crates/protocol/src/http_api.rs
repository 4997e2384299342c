//! The Convex HTTP API's bodies (`convex-wire.md` §2): what `ConvexHttpClient`, `authvex-client` and `curl` send
//! to `/api/query`, `/api/mutation`, `/api/action`, `/api/function`, `/api/run/*`, `/api/query_ts`,
//! `/api/query_at_ts`, `/api/query_batch`, and what they get back. Request-level failures are
//! [`crate::ErrorBody`] with the status of their [`crate::ErrorCode`].

use crate::sync::Ts;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// `POST /api/query|mutation|action|function|query_at_ts`, and each entry of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionRequest {
    pub path: String,
    /// An object, or the legacy one-element array holding one; absent or `null` means `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Json>,
    /// [`Format`]'s spellings; absent means clean JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// `query_at_ts` only: the timestamp from `query_ts`, kept as text so a bad one gets its own error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// Admin-only; accepted and ignored (root component only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_path: Option<String>,
}

impl FunctionRequest {
    /// What `ConvexHttpClient` sends: Convex JSON in, Convex JSON out, args as `[{…}]`.
    pub fn encoded(path: impl Into<String>, args: Json) -> Self {
        FunctionRequest {
            path: path.into(),
            args: Some(Json::Array(vec![args])),
            format: Some(Format::Encoded.as_str().to_string()),
            ts: None,
            component_path: None,
        }
    }
}

/// `POST /api/run/<module path>/<function>`: the path comes from the URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// `POST /api/query_batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryBatchRequest {
    pub queries: Vec<FunctionRequest>,
}

/// Output encodings (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `convex_encoded_json` / `convex_json` / `export_json`: lossless Convex JSON.
    Encoded,
    /// `json` / `convex_clean_json` (the default): plain JSON, int64 as strings, bytes as base64.
    Clean,
}

impl Format {
    /// `None` for an unknown spelling (answered with [`crate::ErrorCode::BadFormat`]).
    pub fn parse(format: Option<&str>) -> Option<Format> {
        match format {
            None | Some("json") | Some("convex_clean_json") => Some(Format::Clean),
            Some("convex_encoded_json") | Some("convex_json") | Some("export_json") => Some(Format::Encoded),
            Some(_) => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Encoded => "convex_encoded_json",
            Format::Clean => "json",
        }
    }
}

/// A function's outcome: HTTP 200 for success and for a function error alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum FunctionResponse {
    #[serde(rename_all = "camelCase")]
    Success {
        value: Json,
        /// The real server omits an empty list; clients read a missing one as empty.
        #[serde(default)]
        log_lines: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        error_message: String,
        #[serde(default)]
        log_lines: Vec<String>,
        /// Only for `ConvexError` (clients throw a `ConvexError` with `.data` when it is present).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_data: Option<Json>,
    },
}

/// `POST /api/query_ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryTsResponse {
    pub ts: Ts,
}

/// `POST /api/query_batch`: every result at one timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryBatchResponse {
    pub results: Vec<FunctionResponse>,
    pub ts: Ts,
}
