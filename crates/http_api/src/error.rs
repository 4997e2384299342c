use axum::response::{IntoResponse, Response};
use http::StatusCode;
use protocol::{ErrorBody, ErrorCode};

/// A request-level failure: `{code, message}` with the status of its [`ErrorCode`] (function failures are 200s,
/// not these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }

    /// The code with its default message.
    pub fn from_code(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    pub fn status(&self) -> StatusCode {
        status_of(self.code)
    }
}

/// The HTTP status of an error code: the one place a code becomes a status on this edge.
pub fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), axum::Json(ErrorBody::new(self.code, self.message))).into_response()
    }
}
