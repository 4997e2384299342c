//! Bearer-token verification exactly as Convex does it, and the identity functions see.
//!
//! ```text
//! let verifier = Verifier::new(vec![provider_from_convex_json(&auth_config_provider)?])?;
//! let identity = verifier.verify(token, now).await?;   // functions::UserIdentity or AuthFailure
//! ```
//!
//! The steps (convex-backend `crates/authentication`, `common::auth`, keybroker's `UserIdentity`):
//! 1. Read the payload without verifying. Unparseable (or a registered claim of the wrong type) → `Could not parse
//!    JWT payload`; no `iss` → `Missing issuer claim`.
//! 2. The first provider whose application ID (if any) is among the `aud`s and whose issuer equals `iss` (`https://`
//!    prepended to a scheme-less `iss`, trailing `/` trimmed on both) → else `NoAuthProvider`.
//! 3. customJwt: the JWKS (HTTP with caching, `data:` URL, static, or in process); a key set the parser rejects
//!    fails as a whole. The header needs a `kid` present in the set; a JWK `alg` must equal the header's and the
//!    configured one, otherwise the header's must equal the configured one; the signature is checked with exactly
//!    that algorithm. Then `iss` again, `aud` when an application ID is set, `exp`/`nbf`/`iat` with 5 s leeway, and
//!    `sub`, `iss`, `exp` present.
//! 4. OIDC: discovery, RS256 signature, openidconnect's claim checks; standard claims become camelCase fields.
//!
//! Boundaries: no HTTP status codes (the caller maps [`AuthFailure::code`]); time comes in as `now_secs`; the only
//! I/O is fetching provider documents through the [`Verifier`]'s HTTP client.

mod cache;
mod error;
mod fetch;
mod jwk;
mod provider;
mod token;
mod user_identity;
mod verifier;

/// For implementing [`KeySource`].
pub use async_trait::async_trait;
pub use error::{code, AuthFailure, Error};
pub use jwk::{Jwk, JwkSet, KeyParams};
pub use provider::{normalize_issuer, provider_from_convex_json, Algorithm, JwksSource, KeySource, Provider};
pub use user_identity::json_to_value;
pub use verifier::{Verified, Verifier, VerifierConfig, LEEWAY_SECS};

#[cfg(test)]
mod tests;
