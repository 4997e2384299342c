//! The auth component: Better Auth's HTTP protocol on the document store.
//!
//! Its tables (`betterAuth/user`, `betterAuth/session`, `betterAuth/account`, `betterAuth/verification`) live in
//! the deployment's database; every auth request runs as one serializable transaction. Time and randomness are
//! injected ([`database::Clock`], [`database::Entropy`]); configuration arrives as [`config::AuthConfig`].
//!
//! Modules:
//! * [`service`]: the request pipeline (rate limit → route → origin check → body → before hooks → endpoint → after
//!   hooks) and transactions.
//! * [`plugin`]: what a plugin contributes (schema, routes, hooks, rules); `plugins`: convex, bearer, genericOAuth.
//! * `endpoints`: one function per Better Auth endpoint; `session`: session lookup, refresh and cookies.
//! * [`crypto`]: password hashing (scrypt, Better Auth's format), cookie signatures, ids and tokens, PKCE, JWTs.
//! * [`cookies`]: cookie names, `Set-Cookie` serialisation and `Cookie` parsing exactly as Better Auth does.
//! * [`dates`]: ISO-8601 millisecond timestamps as Better Auth emits them.
//! * [`schema`], [`models`], [`adapter`]: the component tables and Better Auth's adapter operations over a
//!   transaction.
//! * [`origin`], [`rate_limit`]: the security floor (CSRF/origin checks, callback URL validation, rate limits).
//! * [`email`]: the mail transport trait, the dev outbox and SMTP.
//! * [`social`]: OAuth providers (GitHub, Google, generic OAuth 2 / OIDC): authorization URLs, code exchange
//!   over [`social::OAuthHttp`] (never following redirects), profiles, ID-token verification.

#[macro_use]
mod macros;

pub mod adapter;
pub mod additional;
pub mod config;
pub mod cookies;
pub mod crypto;
pub mod dates;
pub mod email;
mod endpoints;
pub mod error;
mod hasher;
pub mod housekeeping;
pub mod jwt;
pub mod models;
pub mod origin;
pub mod plugin;
mod plugins;
pub mod rate_limit;
pub mod schema;
pub mod service;
mod session;
pub mod social;
pub mod triggers;

pub use hasher::HashLoad;
pub use service::{AuthDeps, AuthRequest, AuthResponse, AuthService, MAX_BODY_BYTES};
