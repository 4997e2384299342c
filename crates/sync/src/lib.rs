//! The Convex sync protocol, sans IO: [`Worker`] holds one socket's state (query set, identity, versions) and turns
//! client frames and commit notifications into server messages. The WebSocket itself lives in `http_api`.

mod mutation_log;
mod query_cache;
mod worker;

pub use mutation_log::{MutationLog, MutationSlot, StoredMutation};
/// The wire types the worker speaks (defined in the `protocol` crate).
pub use protocol::sync as messages;
pub use query_cache::QueryCache;
pub use worker::{ClientKind, Step, SyncServices, Worker, MAX_TRANSITION_BYTES};

#[cfg(test)]
mod tests;
