//! The Convex sync protocol's messages (`convex-wire.md` §1), with the exact wire spellings.
//!
//! Client messages are parsed leniently (unknown fields ignored, optional fields defaulted), the way the real
//! server reads both official clients. Server messages serialise with their fields in the order the real server
//! sends them. Query results are [`SharedJson`]: a value serialised once and copied as text into every socket's
//! Transition that carries it (a commit that updates a thousand subscribers of one query encodes the result once).

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value as Json;
use std::sync::Arc;

/// Client-chosen query ids (0, 1, 2, … per client, kept across reconnects).
pub type QueryId = u32;
/// Client-chosen ids of mutations and actions (one counter for both).
pub type RequestId = u32;

/// A commit timestamp as the protocol carries it: standard base64 (padded) of the little-endian u64. Decoding also
/// accepts the URL-safe alphabet, as the npm client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ts(pub u64);

impl Ts {
    pub fn encode(self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0.to_le_bytes())
    }

    pub fn decode(text: &str) -> Option<Ts> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
            .ok()?;
        let array: [u8; 8] = bytes.try_into().ok()?;
        Some(Ts(u64::from_le_bytes(array)))
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ts::decode(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a base64 u64 timestamp")))
    }
}

/// A Convex JSON value serialised once and shared (cloning copies a pointer). Serialises as the JSON it holds.
#[derive(Debug, Clone)]
pub struct SharedJson(Arc<RawValue>);

impl SharedJson {
    pub fn new(value: &Json) -> Self {
        // Serialising a `serde_json::Value` cannot fail (its map keys are strings).
        let raw = serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned());
        SharedJson(Arc::from(raw))
    }

    /// The serialised text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for SharedJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for SharedJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through `Value` rather than `RawValue` directly: tagged enums buffer their fields, which a `RawValue`
        // cannot be read from.
        Ok(SharedJson::new(&Json::deserialize(d)?))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Client → server

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ClientMessage {
    #[serde(rename_all = "camelCase")]
    Connect {
        session_id: String,
        #[serde(default)]
        connection_count: u32,
        /// `null` when the client closed the previous socket itself; both clients always send the key.
        #[serde(default)]
        last_close_reason: Option<String>,
        /// Kept as text: a value that does not decode is ignored, not a protocol error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_observed_timestamp: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_ts: Option<i64>,
    },
    #[serde(rename_all = "camelCase")]
    ModifyQuerySet { base_version: u32, new_version: u32, modifications: Vec<QuerySetModification> },
    #[serde(rename_all = "camelCase")]
    Mutation {
        request_id: RequestId,
        udf_path: String,
        args: Vec<Json>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component_path: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Action {
        request_id: RequestId,
        udf_path: String,
        args: Vec<Json>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component_path: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Authenticate {
        token_type: TokenType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
        base_version: u32,
    },
    /// Telemetry; the server may ignore it.
    #[serde(rename_all = "camelCase")]
    Event {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<Json>,
    },
}

impl ClientMessage {
    /// `maxObservedTimestamp` of a `Connect`, if present and well-formed.
    pub fn max_observed_ts(&self) -> Option<Ts> {
        match self {
            ClientMessage::Connect { max_observed_timestamp, .. } => {
                max_observed_timestamp.as_deref().and_then(Ts::decode)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    User,
    Admin,
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum QuerySetModification {
    #[serde(rename_all = "camelCase")]
    Add {
        query_id: QueryId,
        udf_path: String,
        args: Vec<Json>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        journal: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component_path: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Remove { query_id: QueryId },
}

// ---------------------------------------------------------------------------------------------------------------
// Server → client

/// The three counters every Transition chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateVersion {
    pub query_set: u32,
    pub identity: u32,
    pub ts: Ts,
}

/// One query's change inside a Transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StateModification {
    #[serde(rename_all = "camelCase")]
    QueryUpdated {
        query_id: QueryId,
        value: SharedJson,
        /// Required by the clients, even when empty.
        log_lines: Arc<[String]>,
        journal: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    QueryFailed {
        query_id: QueryId,
        error_message: Arc<str>,
        log_lines: Arc<[String]>,
        journal: Option<String>,
        /// Only for `ConvexError`: a present `null` would read as a ConvexError with data `null`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_data: Option<SharedJson>,
    },
    #[serde(rename_all = "camelCase")]
    QueryRemoved { query_id: QueryId },
}

impl StateModification {
    /// An upper bound of the serialised length (strings counted as if every character needed a 6-byte escape).
    fn encoded_len_bound(&self) -> usize {
        let lines = |l: &[String]| l.iter().map(|s| 6 * s.len() + 3).sum::<usize>();
        let text = |s: Option<&str>| s.map_or(4, |s| 6 * s.len() + 2);
        120 + match self {
            StateModification::QueryUpdated { value, log_lines, journal, .. } => {
                value.get().len() + lines(log_lines) + text(journal.as_deref())
            }
            StateModification::QueryFailed { error_message, log_lines, journal, error_data, .. } => {
                6 * error_message.len()
                    + lines(log_lines)
                    + text(journal.as_deref())
                    + error_data.as_ref().map_or(0, |d| d.get().len() + 16)
            }
            StateModification::QueryRemoved { .. } => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub start_version: StateVersion,
    pub end_version: StateVersion,
    pub modifications: Vec<StateModification>,
    /// `clientTs − server ms` measured at Connect. Send both this and `serverTs`, or neither: npm reads a `null`
    /// as a transit time of decades.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_clock_skew: Option<i64>,
    /// Nanoseconds since the epoch, stamped just before sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ts: Option<u64>,
}

impl Transition {
    /// An upper bound of the serialised length: when it is within a frame limit, no need to serialise to check.
    pub fn encoded_len_bound(&self) -> usize {
        256 + self.modifications.iter().map(StateModification::encoded_len_bound).sum::<usize>()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerMessage {
    Transition(Transition),
    /// A piece of a serialised Transition too large for one frame (npm ≥ 1.28 reassembles them).
    #[serde(rename_all = "camelCase")]
    TransitionChunk {
        chunk: String,
        part_number: u32,
        total_parts: u32,
        transition_id: String,
    },
    #[serde(rename_all = "camelCase")]
    MutationResponse {
        request_id: RequestId,
        success: bool,
        /// The return value (Convex JSON) on success, the error message (a string) on failure.
        result: Json,
        /// Only for `ConvexError` failures.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_data: Option<Json>,
        /// The commit timestamp on success, `null` on failure.
        ts: Option<Ts>,
        #[serde(default)]
        log_lines: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    ActionResponse {
        request_id: RequestId,
        success: bool,
        result: Json,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_data: Option<Json>,
        #[serde(default)]
        log_lines: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    AuthError {
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_version: Option<u32>,
        /// `true`: the `Authenticate` just received was rejected; `false`: the current identity became invalid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        auth_update_attempted: Option<bool>,
    },
    FatalError {
        error: String,
    },
    Ping,
}

impl ServerMessage {
    /// The frame text. Serialising these types cannot fail (every map key is a string); the `Result` is serde's.
    pub fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    pub fn auth_error(error: impl Into<String>, base_version: u32, auth_update_attempted: bool) -> Self {
        ServerMessage::AuthError {
            error: error.into(),
            base_version: Some(base_version),
            auth_update_attempted: Some(auth_update_attempted),
        }
    }

    /// `FatalError` with `"<Code>: <message>"`.
    pub fn fatal(code: crate::ErrorCode, message: &str) -> Self {
        ServerMessage::FatalError { error: code.prefixed(message) }
    }
}

/// Splits a serialised Transition into `TransitionChunk`s of at most `max` bytes each, on UTF-8 boundaries. The
/// transition id is the total length, as the real server sends it.
pub fn chunk_transition(text: &str, max: usize) -> Vec<ServerMessage> {
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
    let total = parts.len() as u32;
    let id = text.len().to_string();
    parts
        .iter()
        .enumerate()
        .map(|(i, chunk)| ServerMessage::TransitionChunk {
            chunk: (*chunk).to_string(),
            part_number: i as u32,
            total_parts: total,
            transition_id: id.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
