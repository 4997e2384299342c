//! authvex: write your backend's functions in Rust, serve them to Convex clients.
//!
//! ```no_run
//! use authvex::{App, QueryCtx, MutationCtx, FunctionError, Value, v};
//!
//! fn main() -> std::process::ExitCode {
//!     let mut app = App::new();
//!     app.query("messages:list", |ctx: QueryCtx, _args: Value| async move {
//!         Ok(ctx.db.query("messages").collect().await?)
//!     });
//!     authvex::cli::main(app)
//! }
//! ```

pub mod auth_component;
pub mod cli;
pub mod codegen;
mod generate;

pub use database::schema::{BY_CREATION_TIME, BY_ID};
pub use database::{IndexRange, Order, Schema, TableDefinition};
pub use functions::{pagination_opts_of, pagination_opts_validator, PageStatus, SearchFilter};
pub use functions::{
    ActionCtx, App, Auth, ComponentReader, CorsConfig, DatabaseReader, DatabaseWriter, Document, FunctionError,
    HttpBody, HttpRequest, HttpResponse, MutationCtx, PaginationOptions, PaginationResult, QueryBuilder, QueryCtx,
    StreamingHttpRequest, SystemReader, UserIdentity,
};
pub use functions::{ByteStream, FileMetadata, StorageActions, StorageReader, StorageWriter, StoredFile};
pub use functions::{Crons, JobState, Schedule, Scheduler, Weekday};
pub use http::{HeaderValue, Method, Request, Response, StatusCode};
pub use value::validator::v;
pub use value::{json, obj, DocumentId, Object, Validator, Value};

/// Lower-level building blocks, for embedding and tests.
pub mod internals {
    pub use database;
    pub use functions;
    pub use server;
    pub use storage;
    pub use value;
}
