//! The auth component: Better Auth's HTTP protocol on the document store.
//!
//! Its tables (`betterAuth/user`, `betterAuth/session`, `betterAuth/account`, `betterAuth/verification`) live in
//! the deployment's database; every auth request runs as one serializable transaction. Time and randomness are
//! injected ([`database::Clock`], [`database::Entropy`]).
//!
//! Modules:
//! * [`crypto`]: password hashing (scrypt, Better Auth's format), cookie signatures, ids and tokens, PKCE, JWTs.
//! * [`cookies`]: cookie names, `Set-Cookie` serialisation and `Cookie` parsing exactly as Better Auth does.
//! * [`dates`]: ISO-8601 millisecond timestamps as Better Auth emits them.
//! * [`schema`], [`models`], [`adapter`]: the component tables and Better Auth's adapter operations over a
//!   transaction.
//! * [`origin`], [`rate_limit`]: the security floor (CSRF/origin checks, callback URL validation, rate limits).

pub mod adapter;
pub mod cookies;
pub mod crypto;
pub mod dates;
pub mod models;
pub mod origin;
pub mod rate_limit;
pub mod schema;
