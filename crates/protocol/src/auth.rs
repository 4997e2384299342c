//! Better Auth's bodies that other crates read (`authvex-client`, tests). Its error body is [`crate::ErrorBody`].

use serde::{Deserialize, Serialize};

/// The convex plugin's `GET /api/auth/convex/token`: `{"token": "<jwt>"}` (`null` when signed out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvexTokenResponse {
    #[serde(default)]
    pub token: Option<String>,
}
