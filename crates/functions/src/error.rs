use database::DatabaseError;
use value::Value;

/// An error raised by (or inside) a function.
///
/// * [`FunctionError::msg`] is a plain `Error`: the client sees `Uncaught Error: <message>`.
/// * [`FunctionError::convex`] is a `ConvexError`: the client also gets its data (`errorData`).
/// * Database errors convert with `?`; storage failures become internal errors whose cause is logged, not shown.
#[derive(Debug)]
pub struct FunctionError {
    pub(crate) kind: ErrorKind,
}

#[derive(Debug)]
pub(crate) enum ErrorKind {
    Message(String),
    /// A plain error the platform raised with a code the HTTP edge answers with its status (an HTTP action's
    /// `ctx.storage.store_stream` of a body over the maximum → 413); elsewhere like `Message`.
    Coded(protocol::ErrorCode, String),
    Convex {
        message: Option<String>,
        data: Value,
    },
    Database(DatabaseError),
    Internal(String),
}

impl FunctionError {
    /// A plain error with a message, like `throw new Error(message)`.
    pub fn msg(message: impl Into<String>) -> Self {
        FunctionError { kind: ErrorKind::Message(message.into()) }
    }

    /// A `ConvexError` carrying structured data for the client.
    pub fn convex(data: impl Into<Value>) -> Self {
        FunctionError { kind: ErrorKind::Convex { message: None, data: data.into() } }
    }

    /// A `ConvexError` with data and an explicit message.
    pub fn convex_with_message(message: impl Into<String>, data: impl Into<Value>) -> Self {
        FunctionError { kind: ErrorKind::Convex { message: Some(message.into()), data: data.into() } }
    }

    /// An unexpected failure: logged with the request id, shown to clients only as "Server Error".
    pub fn internal(cause: impl Into<String>) -> Self {
        FunctionError { kind: ErrorKind::Internal(cause.into()) }
    }

    /// A plain error carrying the platform's code for it: clients of queries, mutations and actions see
    /// `Uncaught Error: <message>`; an HTTP action that returns it answers with the code's status and
    /// `{code, message}`.
    pub fn coded(code: protocol::ErrorCode, message: impl Into<String>) -> Self {
        FunctionError { kind: ErrorKind::Coded(code, message.into()) }
    }

    /// The platform's code of a [`FunctionError::coded`] error.
    pub fn code(&self) -> Option<protocol::ErrorCode> {
        match &self.kind {
            ErrorKind::Coded(code, _) => Some(*code),
            _ => None,
        }
    }

    /// Whether this is a transient OCC conflict (the runtime retries the mutation).
    pub fn is_conflict(&self) -> bool {
        matches!(&self.kind, ErrorKind::Database(e) if e.is_conflict())
    }

    /// Whether this is a failure of the platform (storage, an internal fault) rather than of the function's code.
    pub fn is_internal(&self) -> bool {
        match &self.kind {
            ErrorKind::Internal(_) => true,
            ErrorKind::Database(e) => e.is_internal(),
            _ => false,
        }
    }

    /// The `ConvexError` data, if this is one.
    pub fn data(&self) -> Option<&Value> {
        match &self.kind {
            ErrorKind::Convex { data, .. } => Some(data),
            _ => None,
        }
    }
}

impl std::fmt::Display for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ErrorKind::Message(m) | ErrorKind::Coded(_, m) => write!(f, "{m}"),
            ErrorKind::Convex { message: Some(m), .. } => write!(f, "{m}"),
            ErrorKind::Convex { message: None, data } => {
                write!(f, "ConvexError: {}", value::json::to_json_string(data))
            }
            ErrorKind::Database(e) => write!(f, "{e}"),
            ErrorKind::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for FunctionError {}

impl From<DatabaseError> for FunctionError {
    fn from(e: DatabaseError) -> Self {
        FunctionError { kind: ErrorKind::Database(e) }
    }
}

impl From<value::ValueError> for FunctionError {
    fn from(e: value::ValueError) -> Self {
        FunctionError::msg(e.to_string())
    }
}

impl From<String> for FunctionError {
    fn from(message: String) -> Self {
        FunctionError::msg(message)
    }
}

impl From<&str> for FunctionError {
    fn from(message: &str) -> Self {
        FunctionError::msg(message)
    }
}

/// How a failed function looks on the wire (both transports).
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionFailure {
    /// `[Request ID: …] Server Error\nUncaught Error: …`
    pub message: String,
    /// Present only for `ConvexError`.
    pub data: Option<Value>,
}

impl FunctionFailure {
    pub(crate) fn from_error(request_id: &str, error: &FunctionError) -> Self {
        let head = format!("[Request ID: {request_id}] Server Error");
        match &error.kind {
            ErrorKind::Message(m) | ErrorKind::Coded(_, m) => {
                FunctionFailure { message: format!("{head}\nUncaught Error: {m}"), data: None }
            }
            ErrorKind::Convex { message, data } => {
                let text = message.clone().unwrap_or_else(|| match data {
                    Value::String(s) => s.clone(),
                    other => value::json::to_json_string(other),
                });
                FunctionFailure { message: format!("{head}\nUncaught ConvexError: {text}"), data: Some(data.clone()) }
            }
            ErrorKind::Database(e) if e.is_internal() => {
                tracing::error!(request_id, error = %e, "function failed on storage");
                FunctionFailure { message: head, data: None }
            }
            ErrorKind::Database(e) => FunctionFailure { message: format!("{head}\nUncaught Error: {e}"), data: None },
            ErrorKind::Internal(cause) => {
                tracing::error!(request_id, cause = %cause, "function failed");
                FunctionFailure { message: head, data: None }
            }
        }
    }

    pub(crate) fn system(request_id: &str, message: &str) -> Self {
        FunctionFailure { message: format!("[Request ID: {request_id}] Server Error\n{message}"), data: None }
    }
}

/// The text a failed scheduled function records in `state.error`: the client-facing failure without its
/// `[Request ID: …] Server Error` head (`Uncaught Error: …`), or `Server Error` for a platform failure.
pub(crate) fn job_error_text(request_id: &str, error: &FunctionError) -> String {
    let failure = FunctionFailure::from_error(request_id, error);
    match failure.message.split_once('\n') {
        Some((_, text)) => text.to_string(),
        None => "Server Error".to_string(),
    }
}

impl database::MaybeConflict for FunctionError {
    fn is_conflict(&self) -> bool {
        FunctionError::is_conflict(self)
    }
}
