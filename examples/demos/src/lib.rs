//! Rust ports of Convex's public demo backends (`get-convex/convex-demos`).
//!
//! Each module is one demo's `convex/` folder: the same function paths, argument validators, schema and behaviour,
//! so the demo's unmodified web frontend works against the `demo-<name>` binary (`demo-<name> dev`, then point the
//! frontend's `VITE_CONVEX_URL` at `http://127.0.0.1:3210`). The code is ours; only the observable contract is the
//! demo's.

pub mod cron_jobs;
pub mod file_storage;
pub mod pagination;
pub mod scheduling;
pub mod search;
