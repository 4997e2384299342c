//! Turning `Authorization` headers into identities. The verification itself is pluggable ([`AuthVerifier`]); the
//! auth crate provides the JWT verifier.

use functions::VerifyError;
use http::HeaderMap;

/// The bearer token of a request: `Ok(None)` without an `Authorization` header, `Err` for a malformed one.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, VerifyError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| VerifyError {
        code: "InvalidAuthHeader",
        message: "the Authorization header is not valid ASCII".into(),
    })?;
    let trimmed = value.trim();
    match trimmed.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim().to_string()))
        }
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("convex") => {
            Err(VerifyError { code: "BadAdminKey", message: "admin keys are not supported by this deployment".into() })
        }
        _ => Err(VerifyError {
            code: "InvalidAuthHeader",
            message: "the Authorization header must be \"Bearer <token>\"".into(),
        }),
    }
}
