//! Turning `Authorization` headers into identities. The verification itself is pluggable ([`AuthVerifier`]); the
//! auth crate provides the JWT verifier.

use functions::UserIdentity;
use futures::future::BoxFuture;
use http::HeaderMap;

/// Why a token was rejected: Convex's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    pub code: &'static str,
    pub message: String,
}

/// Verifies a bearer token into an identity.
pub trait AuthVerifier: Send + Sync + 'static {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<UserIdentity, VerifyError>>;
}

/// A deployment with no auth providers configured: every token is rejected the way Convex rejects it.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAuthProviders;

impl AuthVerifier for NoAuthProviders {
    fn verify<'a>(&'a self, _token: &'a str) -> BoxFuture<'a, Result<UserIdentity, VerifyError>> {
        Box::pin(async {
            Err(VerifyError {
                code: "NoAuthProvider",
                message: "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers".into(),
            })
        })
    }
}

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
