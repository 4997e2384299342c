//! The function layer: what app authors write against, and the runtime that executes it.
//!
//! ```text
//! let mut app = App::new();
//! app.query("messages:list", |ctx: QueryCtx, _: Value| async move { Ok(ctx.db.query("messages").collect().await?) });
//! ```
//!
//! Boundaries: knows functions, transactions and identities; never parses HTTP bodies or WebSocket frames (the
//! `http` types appear only as the request/response of HTTP actions).

mod app;
mod context;
pub mod cron;
mod error;
pub mod executor;
mod http_router;
mod identity;
mod pagination;
pub mod path;
mod runtime;
pub mod scheduler;
mod search;
pub mod storage;

pub use app::{App, FunctionDefinition, FunctionKind, Visibility};
pub use blobs::ByteStream;
pub use context::{
    ActionCtx, Auth, ComponentReader, DatabaseReader, DatabaseWriter, Document, IntoDocumentId, MutationCtx,
    QueryBuilder, QueryCtx, SystemReader,
};
pub use cron::{Crons, Schedule, Weekday};
pub use database::{IndexRange, Order};
pub use error::{FunctionError, FunctionFailure};
pub use executor::{Executor, ExecutorConfig};
pub use http_router::{CorsConfig, HttpBody, HttpRequest, HttpResponse, RouteDefinition, StreamingHttpRequest};
pub use identity::{AuthVerifier, NoAuthProviders, UserIdentity, VerifiedToken, VerifyError};
pub use pagination::{pagination_opts_of, pagination_opts_validator, PageStatus, PaginationOptions, PaginationResult};
pub use runtime::{Caller, Outcome, Runtime};
pub use scheduler::{JobState, Scheduler};
pub use search::SearchFilter;
pub use storage::{
    FileMetadata, FileStorage, FileStorageConfig, StorageActions, StorageFailure, StorageReader, StorageWriter,
    StoredFile,
};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod scheduler_tests;
