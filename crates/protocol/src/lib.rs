//! Everything a client of authvex sees on the wire, in one place.
//!
//! * [`sync`]: the Convex sync protocol (`/api/sync`): client and server messages, state versions, timestamps.
//! * [`http_api`]: the Convex HTTP API (`/api/query`, `/api/mutation`, …): request and response bodies.
//! * [`auth`]: the Better Auth bodies other crates read (the convex plugin's token response).
//! * [`error`]: the one list of error codes — wire spelling, default message and HTTP status of every error any
//!   transport reports — and the `{code, message}` body both Convex's HTTP API and Better Auth answer with.
//! * [`time`]: [`UnixTime`], the wall-clock instant every crate passes around (Better Auth dates are its
//!   milliseconds, JWT claims its seconds, sync `clientTs` its milliseconds).
//!
//! Pure data: serde types with the exact wire spellings, no I/O, no dependency on the rest of the workspace, so the
//! server, `authvex-client`, the benchmarks and the fuzz targets all parse and print the same shapes.
//! Convex JSON values inside messages stay `serde_json::Value` (or pre-serialised [`sync::SharedJson`]); the
//! `value` crate owns their meaning.

pub mod auth;
pub mod error;
pub mod http_api;
pub mod sync;
pub mod time;

pub use error::{ErrorBody, ErrorCode};
pub use time::UnixTime;
