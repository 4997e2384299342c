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
mod error;
mod http_router;
mod identity;
pub mod path;
mod runtime;
pub mod storage;

pub use app::{App, FunctionDefinition, FunctionKind, Visibility};
pub use context::{
    ActionCtx, Auth, ComponentReader, DatabaseReader, DatabaseWriter, Document, IntoDocumentId, MutationCtx,
    PaginationOptions, PaginationResult, QueryBuilder, QueryCtx, SystemReader,
};
pub use database::{IndexRange, Order};
pub use error::{FunctionError, FunctionFailure};
pub use http_router::{CorsConfig, HttpRequest, HttpResponse, RouteDefinition};
pub use identity::{AuthVerifier, NoAuthProviders, UserIdentity, VerifiedToken, VerifyError};
pub use runtime::{Caller, Outcome, Runtime};
pub use storage::{
    FileMetadata, FileStorage, FileStorageConfig, StorageActions, StorageFailure, StorageReader, StorageWriter,
};

#[cfg(test)]
mod tests;
