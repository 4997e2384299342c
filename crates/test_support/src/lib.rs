//! Test support for authvex's crates: a dev-dependency only, so no release build contains any of it.
//!
//! - [`conformance`]: the suite every `storage::Persistence` backend runs, with the [`conformance::Backend`]s that
//!   run it (memory, SQLite, PostgreSQL).
//! - [`test_persistence`]: the store tests open a `Database` on — memory by default, SQLite or a fresh PostgreSQL
//!   database when `AUTHVEX_TEST_BACKEND` says so. Crates above storage get their test store only here.
//! - [`postgres`]: a fresh, uniquely named PostgreSQL database per test.
//! - `multi_node` (feature `database`): the suite every shared store runs with two `Database`s.
//! - `deployment` (feature `deployment`): the one "start a deployment on `127.0.0.1:0`" harness.
//! - `tls` (feature `tls`): test certificate authorities and a PostgreSQL cluster with TLS on.
//!
//! The storage-level parts depend only on the storage crates, so `storage`, `storage_sqlite` and `storage_postgres`
//! can test through them; the features add the layers above for the crates that need them.
//!
//! Test support fails a test the way an assertion does: by panicking with a message that says what was expected,
//! hence the allowed lints.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod conformance;
#[cfg(feature = "deployment")]
pub mod deployment;
#[cfg(feature = "database")]
pub mod multi_node;
mod persistence;
pub mod postgres;
#[cfg(feature = "tls")]
pub mod tls;

pub use persistence::{test_persistence, BACKEND_VAR};
