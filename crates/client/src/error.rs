//! What can go wrong talking to a deployment.

use value::Value;

/// One error for every helper; a signed-out caller is not an error (`None` / `false`).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A configured URL is not an absolute `http(s)://` origin.
    #[error("invalid {name} {url:?}: {reason}")]
    InvalidUrl { name: &'static str, url: String, reason: String },
    /// The request did not complete (connection refused, timeout, malformed response).
    #[error("request to {url} failed: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The deployment answered with an unexpected status.
    #[error("{url} answered {status}: {body}")]
    Status { url: String, status: u16, body: String },
    /// The deployment answered something that is not the expected JSON.
    #[error("unexpected response from {url}: {reason}")]
    BadResponse { url: String, reason: String },
    /// The function threw: `message` is Convex's error message, `data` the `ConvexError` payload if any.
    #[error("{message}")]
    Function { message: String, data: Option<Value> },
}
