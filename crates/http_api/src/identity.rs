//! Turning `Authorization` headers into identities. The verification itself is pluggable ([`AuthVerifier`]); the
//! auth crate provides the JWT verifier.

use functions::VerifyError;
use http::HeaderMap;
use protocol::ErrorCode;

/// The bearer token of a request: `Ok(None)` without an `Authorization` header, `Err` for a malformed one.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, VerifyError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| VerifyError {
        code: ErrorCode::InvalidAuthHeader,
        message: "the Authorization header is not valid ASCII".into(),
    })?;
    let trimmed = value.trim();
    match trimmed.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim().to_string()))
        }
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("convex") => {
            Err(VerifyError { code: ErrorCode::BadAdminKey, message: ErrorCode::BadAdminKey.default_message().into() })
        }
        _ => Err(VerifyError {
            code: ErrorCode::InvalidAuthHeader,
            message: "the Authorization header must be \"Bearer <token>\"".into(),
        }),
    }
}
