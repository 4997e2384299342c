//! The Convex sync protocol, sans IO: [`Worker`] holds one socket's state (query set, identity, versions) and turns
//! client frames and commit notifications into server messages. The WebSocket itself lives in `http_api`.

mod mutation_log;
pub mod protocol;
mod query_cache;
mod worker;

pub use mutation_log::{MutationLog, MutationSlot, StoredMutation};
pub use query_cache::QueryCache;
pub use worker::{ClientKind, Step, SyncServices, Worker, MAX_TRANSITION_BYTES};

#[cfg(test)]
mod tests;
