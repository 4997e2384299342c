//! Every way a token can be rejected, with Convex's error codes and texts in one place.
//!
//! Sources of the texts (convex-backend is what a client compares against; where its exact wording is not on
//! record the choice is ours and says so):
//! - `Missing subject` / `Missing issuer` / `Missing expiry` and code `InvalidAuthHeader`: keybroker
//!   `UserIdentity::from_custom_jwt`, verbatim.
//! - `NoAuthProvider` with the provider list `[CustomJWT(issuer=…, app_id=none), …]`: a message recorded from a real
//!   deployment (workos/authkit-tanstack-start issue 45). The `OIDC(domain=…, app_id=…)` spelling and the
//!   no-providers variant are ours, in the same style.
//! - `Could not decode token. JWT may be missing a 'kid' (key ID) header.`: recorded from a real deployment
//!   (get-convex/convex-auth pull 279). The other `Could not decode token. …` details (unknown kid, algorithm,
//!   signature) are ours; their wording follows biscuit's `ValidationError` texts, which Convex wraps.
//! - `Could not validate token: …` + biscuit's temporal texts (`Token expired N seconds ago`, `Token will be valid
//!   in N seconds`): spec convex-wire §4.3 and biscuit's `ValidationError` display.
//! - `Missing issuer claim ('iss') …`, `Could not parse JWT payload …`, `Invalid issuer`, `Missing audience claim`,
//!   `Invalid audience: …`: the prefixes are spec convex-wire §4.3 / convex-better-auth §5.3; the text after them
//!   is ours.
//! - OIDC `Could not verify OIDC token claim. …` and code `AuthProviderDiscoveryFailed`: spec convex-wire §4.3.
//! - JWKS retrieval: `Error from auth jwks request <status>: <body>` follows convex-backend's wording for its own
//!   JWKS fetch; `Invalid JWKS response body: …` is spec convex-better-auth §5.3. Convex surfaces these as internal
//!   errors; we give them the code `AuthProviderDiscoveryFailed` so the caller can answer 401 without a 500.

use crate::provider::Provider;

/// The codes [`AuthFailure::code`] takes (entries of the one list, `protocol::ErrorCode`; the HTTP and WebSocket
/// layers map them to responses).
pub mod code {
    use protocol::ErrorCode;
    /// The token is malformed, fails its signature, or has invalid claims.
    pub const INVALID_AUTH_HEADER: ErrorCode = ErrorCode::InvalidAuthHeader;
    /// No configured provider matches the token's `iss`/`aud`.
    pub const NO_AUTH_PROVIDER: ErrorCode = ErrorCode::NoAuthProvider;
    /// The provider's keys (JWKS, OIDC discovery document) could not be obtained or parsed.
    pub const AUTH_PROVIDER_DISCOVERY_FAILED: ErrorCode = ErrorCode::AuthProviderDiscoveryFailed;
    /// An OIDC ID token failed verification.
    pub const UNAUTHENTICATED: ErrorCode = ErrorCode::Unauthenticated;
}

/// Why a token was rejected: Convex's error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AuthFailure {
    pub code: protocol::ErrorCode,
    pub message: String,
}

impl AuthFailure {
    fn new(code: protocol::ErrorCode, message: impl Into<String>) -> Self {
        AuthFailure { code, message: message.into() }
    }

    fn invalid(message: impl Into<String>) -> Self {
        AuthFailure::new(code::INVALID_AUTH_HEADER, message)
    }

    pub(crate) fn unparseable_payload() -> Self {
        AuthFailure::invalid(
            "Could not parse JWT payload. Check that the token is a valid JWT with three base64url-encoded parts \
             separated by dots.",
        )
    }

    pub(crate) fn missing_issuer_claim() -> Self {
        AuthFailure::invalid(
            "Missing issuer claim ('iss') in JWT payload. Check that the token contains an 'iss' field.",
        )
    }

    pub(crate) fn no_provider(providers: &[Provider]) -> Self {
        if providers.is_empty() {
            return AuthFailure::new(
                code::NO_AUTH_PROVIDER,
                "No auth provider found matching the given token (no providers configured). Check convex/auth.config.ts.",
            );
        }
        let list: Vec<String> = providers.iter().map(Provider::describe).collect();
        AuthFailure::new(
            code::NO_AUTH_PROVIDER,
            format!(
                "No auth provider found matching the given token. Check that your JWT's issuer and audience match one \
                 of your configured providers: [{}]",
                list.join(", ")
            ),
        )
    }

    fn undecodable(detail: &str) -> Self {
        AuthFailure::invalid(format!("Could not decode token. {detail}"))
    }

    pub(crate) fn bad_header(detail: &str) -> Self {
        AuthFailure::undecodable(&format!("Invalid JWT header: {detail}."))
    }

    pub(crate) fn missing_kid() -> Self {
        AuthFailure::undecodable("JWT may be missing a 'kid' (key ID) header.")
    }

    pub(crate) fn unknown_kid(kid: &str) -> Self {
        AuthFailure::undecodable(&format!("Key not found in JWKS: no key has kid '{kid}'."))
    }

    pub(crate) fn wrong_algorithm(header_alg: &str, expected: &str) -> Self {
        AuthFailure::undecodable(&format!(
            "Token provided was signed or encrypted with an unexpected algorithm ('{header_alg}', expected \
             '{expected}')."
        ))
    }

    pub(crate) fn unsupported_key(kid: &str) -> Self {
        AuthFailure::undecodable(&format!("Algorithm of JWK '{kid}' not supported."))
    }

    pub(crate) fn invalid_signature() -> Self {
        AuthFailure::undecodable("Invalid signature.")
    }

    pub(crate) fn invalid_issuer(iss: &str, expected: &str) -> Self {
        AuthFailure::invalid(format!("Invalid issuer: expected '{expected}', got '{iss}'"))
    }

    pub(crate) fn missing_audience() -> Self {
        AuthFailure::invalid("Missing audience claim ('aud') in JWT payload")
    }

    pub(crate) fn invalid_audience(audiences: &[String], expected: &str) -> Self {
        AuthFailure::invalid(format!("Invalid audience: expected '{expected}', got {audiences:?}"))
    }

    pub(crate) fn expired(seconds_ago: i128) -> Self {
        AuthFailure::invalid(format!("Could not validate token: Token expired {seconds_ago} seconds ago"))
    }

    pub(crate) fn not_yet_valid(seconds: i128) -> Self {
        AuthFailure::invalid(format!("Could not validate token: Token will be valid in {seconds} seconds"))
    }

    pub(crate) fn missing_subject() -> Self {
        AuthFailure::invalid("Missing subject")
    }

    pub(crate) fn missing_issuer() -> Self {
        AuthFailure::invalid("Missing issuer")
    }

    pub(crate) fn missing_expiry() -> Self {
        AuthFailure::invalid("Missing expiry")
    }

    pub(crate) fn jwks_unavailable(detail: impl Into<String>) -> Self {
        AuthFailure::new(code::AUTH_PROVIDER_DISCOVERY_FAILED, detail)
    }

    pub(crate) fn invalid_jwks(detail: &str) -> Self {
        AuthFailure::jwks_unavailable(format!("Invalid JWKS response body: {detail}"))
    }

    pub(crate) fn discovery_failed(url: &str, detail: &str) -> Self {
        AuthFailure::new(
            code::AUTH_PROVIDER_DISCOVERY_FAILED,
            format!("Failed to discover the OpenID configuration at {url}: {detail}"),
        )
    }

    pub(crate) fn oidc_unverified() -> Self {
        AuthFailure::new(
            code::UNAUTHENTICATED,
            "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired.",
        )
    }
}

/// A configuration problem found while building a [`crate::Verifier`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTP client for JWKS and discovery requests could not be built.
    #[error("could not build the HTTP client for JWKS requests: {0}")]
    HttpClient(String),
}
