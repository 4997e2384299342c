//! The app definition: schema, functions registered by path, HTTP routes.

use crate::context::{ActionCtx, MutationCtx, QueryCtx};
use crate::http_router::{CorsConfig, HttpHandler, HttpRouter, RouteMatch};
use crate::path::FunctionPath;
use crate::FunctionError;
use database::Schema;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use value::{Validator, Value};

/// Query, mutation or action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    Query,
    Mutation,
    Action,
}

impl FunctionKind {
    pub fn name(self) -> &'static str {
        match self {
            FunctionKind::Query => "query",
            FunctionKind::Mutation => "mutation",
            FunctionKind::Action => "action",
        }
    }
}

/// Public functions are callable by clients; internal ones only from other functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Internal,
}

/// A type-erased function handler: context and arguments in, a value out.
pub(crate) type ErasedHandler<C> =
    Arc<dyn Fn(C, Value) -> BoxFuture<'static, Result<Value, FunctionError>> + Send + Sync>;
pub(crate) type QueryHandler = ErasedHandler<QueryCtx>;
pub(crate) type MutationHandler = ErasedHandler<MutationCtx>;
pub(crate) type ActionHandler = ErasedHandler<ActionCtx>;

#[derive(Clone)]
pub(crate) enum Handler {
    Query(QueryHandler),
    Mutation(MutationHandler),
    Action(ActionHandler),
}

/// A registered function; the builder methods add validators or make it internal.
#[derive(Clone)]
pub struct FunctionDefinition {
    pub(crate) path: String,
    pub(crate) handler: Handler,
    pub(crate) visibility: Visibility,
    pub(crate) args: Option<Validator>,
    pub(crate) returns: Option<Validator>,
}

impl FunctionDefinition {
    /// Validates arguments (an object validator, like `args: {...}`) before the handler runs.
    pub fn args(&mut self, validator: Validator) -> &mut Self {
        self.args = Some(validator);
        self
    }

    /// Validates the return value.
    pub fn returns(&mut self, validator: Validator) -> &mut Self {
        self.returns = Some(validator);
        self
    }

    /// Makes the function callable only from other functions (`internalQuery` etc.).
    pub fn internal(&mut self) -> &mut Self {
        self.visibility = Visibility::Internal;
        self
    }

    pub fn kind(&self) -> FunctionKind {
        match self.handler {
            Handler::Query(_) => FunctionKind::Query,
            Handler::Mutation(_) => FunctionKind::Mutation,
            Handler::Action(_) => FunctionKind::Action,
        }
    }

    pub fn visibility(&self) -> Visibility {
        self.visibility
    }

    pub fn args_validator(&self) -> Option<&Validator> {
        self.args.as_ref()
    }

    pub fn returns_validator(&self) -> Option<&Validator> {
        self.returns.as_ref()
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

fn wrap<C, A, R, F, Fut>(f: F) -> ErasedHandler<C>
where
    C: Send + 'static,
    A: DeserializeOwned + Send + 'static,
    R: Serialize + 'static,
    F: Fn(C, A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, FunctionError>> + Send + 'static,
{
    Arc::new(move |ctx: C, args: Value| {
        let parsed: Result<A, _> = value::from_value(args);
        match parsed {
            Ok(a) => {
                let fut = f(ctx, a);
                Box::pin(async move {
                    let result = fut.await?;
                    Ok(value::to_value(&result)?)
                })
            }
            Err(e) => Box::pin(async move { Err(FunctionError::msg(format!("ArgumentValidationError: {e}"))) }),
        }
    })
}

/// Everything a deployment serves: the schema, functions by canonical path, HTTP routes.
#[derive(Clone)]
pub struct App {
    pub(crate) schema: Schema,
    pub(crate) functions: BTreeMap<FunctionPath, FunctionDefinition>,
    pub(crate) http: HttpRouter,
    /// Registration mistakes (bad paths, duplicates), reported when the runtime starts.
    pub(crate) errors: Vec<String>,
    pub(crate) crons: crate::cron::Crons,
    fallback: FunctionDefinition,
}

impl Default for FunctionDefinition {
    fn default() -> Self {
        FunctionDefinition {
            path: String::new(),
            handler: Handler::Query(Arc::new(|_, _| Box::pin(async { Ok(Value::Null) }))),
            visibility: Visibility::Internal,
            args: None,
            returns: None,
        }
    }
}

impl Default for App {
    /// An app with no functions; its schema already has the system tables (`_scheduled_functions`, …).
    fn default() -> Self {
        App {
            schema: crate::scheduler::system_schema(),
            functions: BTreeMap::new(),
            http: HttpRouter::default(),
            errors: Vec::new(),
            crons: crate::cron::Crons::default(),
            fallback: FunctionDefinition::default(),
        }
    }
}

impl App {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares the schema (tables, validators, indexes). Components add theirs with [`App::extend_schema`].
    pub fn schema(&mut self, schema: Schema) -> &mut Self {
        self.schema = std::mem::take(&mut self.schema).merge(schema);
        self
    }

    /// Adds a component's tables (namespaced, like `betterAuth/user`). Unlike [`App::schema`] it leaves the app's
    /// own strictness alone: an app that declares no tables still accepts any table name.
    pub fn extend_schema(&mut self, schema: Schema) -> &mut Self {
        let strict = self.schema.strict_tables;
        self.schema = std::mem::take(&mut self.schema).merge(schema);
        self.schema.strict_tables = strict;
        self
    }

    pub fn schema_ref(&self) -> &Schema {
        &self.schema
    }

    fn register(&mut self, path: &str, handler: Handler) -> &mut FunctionDefinition {
        match FunctionPath::parse(path) {
            Ok(parsed) => {
                if self.functions.contains_key(&parsed) {
                    self.errors.push(format!("function {parsed} is registered twice"));
                }
                let def = FunctionDefinition {
                    path: parsed.to_string(),
                    handler,
                    visibility: Visibility::Public,
                    args: None,
                    returns: None,
                };
                self.functions.insert(parsed.clone(), def);
                match self.functions.get_mut(&parsed) {
                    Some(def) => def,
                    None => &mut self.fallback,
                }
            }
            Err(e) => {
                self.errors.push(e);
                &mut self.fallback
            }
        }
    }

    /// Registers a query: `app.query("messages:list", |ctx, args: Args| async move { ... })`.
    pub fn query<A, R, F, Fut>(&mut self, path: &str, f: F) -> &mut FunctionDefinition
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
        F: Fn(QueryCtx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, FunctionError>> + Send + 'static,
    {
        self.register(path, Handler::Query(wrap(f)))
    }

    /// Registers a mutation (one serializable transaction, retried on conflicts).
    pub fn mutation<A, R, F, Fut>(&mut self, path: &str, f: F) -> &mut FunctionDefinition
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
        F: Fn(MutationCtx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, FunctionError>> + Send + 'static,
    {
        self.register(path, Handler::Mutation(wrap(f)))
    }

    /// Registers an action (not transactional; may call queries, mutations and the outside world).
    pub fn action<A, R, F, Fut>(&mut self, path: &str, f: F) -> &mut FunctionDefinition
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
        F: Fn(ActionCtx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, FunctionError>> + Send + 'static,
    {
        self.register(path, Handler::Action(wrap(f)))
    }

    /// Routes `method path` on the site origin to an HTTP action (like `http.route({path, method, handler})`).
    pub fn route<F, Fut>(&mut self, method: http::Method, path: &str, f: F) -> &mut crate::http_router::RouteDefinition
    where
        F: Fn(ActionCtx, crate::HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<crate::HttpResponse, FunctionError>> + Send + 'static,
    {
        let handler = HttpHandler::Buffered(Arc::new(move |ctx, req| Box::pin(f(ctx, req))));
        self.add_route(method, RouteMatch::Exact(path.to_string()), handler)
    }

    /// Like [`App::route`], but the handler gets the request body as a stream, as it arrives, instead of whole
    /// (which the HTTP edge caps at 20 MiB): for uploads, e.g.
    /// `ctx.storage.store_stream(request.into_body(), content_type)` (Convex's `ctx.storage.store(await
    /// request.blob())`) stores a file of any size up to the upload maximum with bounded memory.
    pub fn route_streaming<F, Fut>(
        &mut self,
        method: http::Method,
        path: &str,
        f: F,
    ) -> &mut crate::http_router::RouteDefinition
    where
        F: Fn(ActionCtx, crate::StreamingHttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<crate::HttpResponse, FunctionError>> + Send + 'static,
    {
        let handler = HttpHandler::Streaming(Arc::new(move |ctx, req| Box::pin(f(ctx, req))));
        self.add_route(method, RouteMatch::Exact(path.to_string()), handler)
    }

    /// Routes every path under `prefix` (which must start and end with `/`) for `method`.
    pub fn route_prefix<F, Fut>(
        &mut self,
        method: http::Method,
        prefix: &str,
        f: F,
    ) -> &mut crate::http_router::RouteDefinition
    where
        F: Fn(ActionCtx, crate::HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<crate::HttpResponse, FunctionError>> + Send + 'static,
    {
        let handler = HttpHandler::Buffered(Arc::new(move |ctx, req| Box::pin(f(ctx, req))));
        self.add_route(method, RouteMatch::Prefix(prefix.to_string()), handler)
    }

    /// Adds a route; a refused one (a duplicate, a bad prefix) is reported at start and configures a scratch
    /// definition.
    fn add_route(
        &mut self,
        method: http::Method,
        matcher: RouteMatch,
        handler: HttpHandler,
    ) -> &mut crate::http_router::RouteDefinition {
        match self.http.add(method, matcher, handler) {
            Ok(index) => self.http.route_at(index),
            Err(e) => {
                self.errors.push(e);
                self.http.scratch()
            }
        }
    }

    /// The app's cron jobs (`crons.ts`): `app.crons().interval("clear messages table", Schedule::minutes(1),
    /// "messages:clearAll", obj! {})`.
    pub fn crons(&mut self) -> &mut crate::cron::Crons {
        &mut self.crons
    }

    /// Default CORS policy applied to routes registered with `.cors_default()`.
    pub fn default_cors(&mut self, cors: CorsConfig) -> &mut Self {
        self.http.default_cors = Some(cors);
        self
    }

    /// Merges another app's functions, routes and schema (components, built-in functions).
    pub fn merge(&mut self, other: App) -> &mut Self {
        self.schema(other.schema);
        for (path, def) in other.functions {
            if self.functions.contains_key(&path) {
                self.errors.push(format!("function {path} is registered twice"));
            }
            self.functions.insert(path, def);
        }
        self.http.merge(other.http);
        self.errors.extend(other.errors);
        self.crons.merge(other.crons);
        self
    }

    /// Whether a function is registered at `path` (any accepted form).
    pub fn has_function(&self, path: &str) -> bool {
        FunctionPath::parse(path).is_ok_and(|p| self.functions.contains_key(&p))
    }

    /// Registration mistakes (invalid paths, duplicates); a runtime refuses to start while there are any.
    pub fn registration_errors(&self) -> &[String] {
        &self.errors
    }

    /// The registered functions by canonical path.
    pub fn functions(&self) -> impl Iterator<Item = (&FunctionPath, &FunctionDefinition)> {
        self.functions.iter()
    }
}
