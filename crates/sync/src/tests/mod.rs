//! Transcript tests of the sync engine: client frames, commits and finished actions in, server messages out, on an
//! in-memory deployment with a manual clock. The harness and its script format are in [`harness`].

mod harness;

mod auth;
mod bad_input;
mod chunks;
mod conversation;
mod mutations;
mod pagination;
mod reactivity;
mod search;
