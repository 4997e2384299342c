//! The sync protocol's wire types (`convex-wire.md` §1): client messages parsed leniently (unknown fields ignored),
//! server messages built as JSON in the exact shapes both official clients accept.

use base64::Engine;
use database::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use std::sync::Arc;

/// `ts` values travel as standard base64 of the little-endian u64.
pub fn encode_ts(ts: Timestamp) -> String {
    base64::engine::general_purpose::STANDARD.encode(ts.0.to_le_bytes())
}

pub fn decode_ts(text: &str) -> Option<Timestamp> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
        .ok()?;
    let array: [u8; 8] = bytes.try_into().ok()?;
    Some(Timestamp(u64::from_le_bytes(array)))
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type")]
pub enum ClientMessage {
    #[serde(rename_all = "camelCase")]
    Connect {
        session_id: String,
        #[serde(default)]
        connection_count: u32,
        #[serde(default)]
        last_close_reason: Option<String>,
        #[serde(default)]
        max_observed_timestamp: Option<String>,
        #[serde(default)]
        client_ts: Option<i64>,
    },
    #[serde(rename_all = "camelCase")]
    ModifyQuerySet { base_version: u32, new_version: u32, modifications: Vec<QuerySetModification> },
    #[serde(rename_all = "camelCase")]
    Mutation {
        request_id: u32,
        udf_path: String,
        args: Vec<Json>,
        #[serde(default)]
        component_path: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Action {
        request_id: u32,
        udf_path: String,
        args: Vec<Json>,
        #[serde(default)]
        component_path: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Authenticate {
        token_type: TokenType,
        #[serde(default)]
        value: Option<String>,
        base_version: u32,
    },
    #[serde(rename_all = "camelCase")]
    Event {
        #[serde(default)]
        event_type: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum TokenType {
    User,
    Admin,
    None,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type")]
pub enum QuerySetModification {
    #[serde(rename_all = "camelCase")]
    Add {
        query_id: u32,
        udf_path: String,
        args: Vec<Json>,
        #[serde(default)]
        journal: Option<String>,
        #[serde(default)]
        component_path: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Remove { query_id: u32 },
}

/// The three counters every Transition chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateVersion {
    pub query_set: u32,
    pub identity: u32,
    pub ts: Timestamp,
}

impl StateVersion {
    pub fn to_json(self) -> Json {
        json!({ "querySet": self.query_set, "identity": self.identity, "ts": encode_ts(self.ts) })
    }
}

/// One query's change inside a Transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Modification {
    /// `QueryUpdated` or `QueryFailed`: `body` is the message without its query id (see [`result_body`]), built
    /// once per evaluation and shared by every socket subscribed to the same query.
    Result {
        query_id: u32,
        body: Arc<str>,
    },
    Removed {
        query_id: u32,
    },
}

/// The members of a `QueryUpdated` (`Ok`) or `QueryFailed` (`Err((message, data))`) message other than `queryId`,
/// as JSON object members without the braces. Serialised once and spliced into each subscriber's Transition.
pub fn result_body(result: Result<&Json, (&str, Option<&Json>)>, log_lines: &[String]) -> String {
    let mut m = match result {
        Ok(value) => json!({"type": "QueryUpdated", "value": value, "logLines": log_lines, "journal": null}),
        Err((message, data)) => {
            let mut m = json!({"type": "QueryFailed", "errorMessage": message, "logLines": log_lines, "journal": null});
            if let Some(data) = data {
                m["errorData"] = data.clone();
            }
            m
        }
    }
    .to_string();
    // `{…}` → `…`: an object always serialises with its braces first and last.
    m.pop();
    m.remove(0);
    m
}

fn push_version(out: &mut String, v: StateVersion) {
    use std::fmt::Write;
    let _ = write!(out, r#"{{"querySet":{},"identity":{},"ts":"{}"}}"#, v.query_set, v.identity, encode_ts(v.ts));
}

/// A `Transition` message, serialised. Query results are spliced in as already-serialised text, so a commit that
/// updates many subscribers of one query serialises the result once, not once per socket.
pub fn transition(
    start: StateVersion,
    end: StateVersion,
    modifications: &[Modification],
    client_clock_skew: i64,
    server_ts_nanos: u64,
) -> String {
    use std::fmt::Write;
    let bodies: usize = modifications
        .iter()
        .map(|m| match m {
            Modification::Result { body, .. } => body.len() + 32,
            Modification::Removed { .. } => 48,
        })
        .sum();
    let mut out = String::with_capacity(bodies + 256);
    out.push_str(r#"{"type":"Transition","startVersion":"#);
    push_version(&mut out, start);
    out.push_str(r#","endVersion":"#);
    push_version(&mut out, end);
    out.push_str(r#","modifications":["#);
    for (i, m) in modifications.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match m {
            Modification::Result { query_id, body } => {
                let _ = write!(out, r#"{{"queryId":{query_id},{body}}}"#);
            }
            Modification::Removed { query_id } => {
                let _ = write!(out, r#"{{"type":"QueryRemoved","queryId":{query_id}}}"#);
            }
        }
    }
    let _ = write!(out, r#"],"clientClockSkew":{client_clock_skew},"serverTs":{server_ts_nanos}}}"#);
    out
}

/// Splits a serialized Transition into `TransitionChunk` messages of at most `max` bytes, on UTF-8 boundaries.
pub fn chunk_transition(text: &str, max: usize) -> Vec<Json> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(max.max(4));
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        parts.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    let total = parts.len();
    let id = text.len().to_string();
    parts
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            json!({"type": "TransitionChunk", "chunk": chunk, "partNumber": i, "totalParts": total, "transitionId": id})
        })
        .collect()
}

pub fn auth_error(error: &str, base_version: u32, auth_update_attempted: bool) -> Json {
    json!({"type": "AuthError", "error": error, "baseVersion": base_version, "authUpdateAttempted": auth_update_attempted})
}

pub fn fatal_error(error: &str) -> Json {
    json!({"type": "FatalError", "error": error})
}

pub fn ping() -> Json {
    json!({"type": "Ping"})
}
