//! Endpoint tests: every Better Auth endpoint and the security floor, driven through `AuthService::handle` on
//! in-memory storage with a manual clock (no sleeps, no timing assertions).
//!
//! Password hashing dominates the run time (~70 ms a hash), so tests reuse one signed-up user per scenario and
//! trigger failures that are decided before hashing where they can.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod additional_fields;
mod bearer;
mod concurrency;
mod convex;
mod cross_domain;
mod delete_user;
mod enumeration;
mod expo;
mod harness;
mod logs;
mod oauth_mock;
mod origin;
mod password;
mod rate_limit;
mod routing;
mod session;
mod session_updates;
mod sign_in;
mod sign_up;
mod social;
mod triggers;
mod user;
mod verification;
