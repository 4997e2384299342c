//! What a function receives: `ctx.db`, `ctx.auth`, environment variables and a log sink.

use crate::pagination::{Journal, PaginationOptions, PaginationResult};
use crate::runtime::Runtime;
use crate::{FunctionError, UserIdentity};
use database::{IndexRange, Order, ScanRequest, Transaction};
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use value::{DocumentId, Object, Value};

/// Log lines collected during one execution, formatted as Convex clients expect (`[LOG] 'text'`).
#[derive(Clone, Default)]
pub struct LogSink(pub(crate) Arc<Mutex<Vec<String>>>);

impl LogSink {
    fn push(&self, level: &str, message: &str) {
        const MAX: usize = 32 * 1024;
        let mut line = format!("[{level}] '{message}'");
        if line.len() > MAX {
            let mut cut = MAX;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" (truncated due to length)");
        }
        self.0.lock().push(line);
    }

    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock())
    }
}

/// The caller's authentication state.
#[derive(Clone, Default)]
pub struct Auth {
    identity: Option<Arc<UserIdentity>>,
}

impl Auth {
    pub fn new(identity: Option<Arc<UserIdentity>>) -> Self {
        Auth { identity }
    }

    /// The verified identity of the caller, like `ctx.auth.getUserIdentity()`; `None` when signed out.
    pub fn get_user_identity(&self) -> Option<&UserIdentity> {
        self.identity.as_deref()
    }

    pub(crate) fn shared(&self) -> Option<Arc<UserIdentity>> {
        self.identity.clone()
    }
}

/// Parts every context has.
#[derive(Clone)]
pub(crate) struct Common {
    pub clock: Arc<dyn database::Clock>,
    pub env: Arc<BTreeMap<String, String>>,
    pub logs: LogSink,
}

macro_rules! common_methods {
    () => {
        /// A deployment environment variable (`authvex env set NAME VALUE`).
        pub fn env(&self, name: &str) -> Option<String> {
            self.common.env.get(name).cloned()
        }

        /// The current time in milliseconds since the epoch (`Date.now()`), from the deployment's clock.
        pub fn now_millis(&self) -> f64 {
            self.common.clock.now().as_millis_f64()
        }

        /// The current time, from the deployment's clock.
        pub fn now(&self) -> database::UnixTime {
            self.common.clock.now()
        }

        /// `console.log`: the line goes to the caller's log lines.
        pub fn log(&self, message: impl AsRef<str>) {
            self.common.logs.push("LOG", message.as_ref());
        }

        pub fn info(&self, message: impl AsRef<str>) {
            self.common.logs.push("INFO", message.as_ref());
        }

        pub fn warn(&self, message: impl AsRef<str>) {
            self.common.logs.push("WARN", message.as_ref());
        }

        pub fn error(&self, message: impl AsRef<str>) {
            self.common.logs.push("ERROR", message.as_ref());
        }
    };
}

/// Context of a query: read-only database access.
pub struct QueryCtx {
    pub db: DatabaseReader,
    pub auth: Auth,
    /// File URLs and metadata (`ctx.storage`).
    pub storage: crate::storage::StorageReader,
    pub(crate) common: Common,
}

impl QueryCtx {
    common_methods!();
}

/// Context of a mutation: transactional read/write database access.
pub struct MutationCtx {
    pub db: DatabaseWriter,
    pub auth: Auth,
    /// Schedules functions as part of this mutation's transaction (they exist only if it commits).
    pub scheduler: crate::Scheduler,
    /// Upload URLs, file URLs and deletion in this transaction (`ctx.storage`).
    pub storage: crate::storage::StorageWriter,
    pub(crate) common: Common,
}

impl MutationCtx {
    common_methods!();
}

/// Context of an action (and an HTTP action): no direct database access; runs queries and mutations, each its own
/// transaction.
pub struct ActionCtx {
    pub auth: Auth,
    /// Schedules functions, each call its own transaction (they stay scheduled if the action later fails).
    pub scheduler: crate::Scheduler,
    /// Files in and out (`ctx.storage`), each call its own transaction.
    pub storage: crate::storage::StorageActions,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) common: Common,
    /// The scheduled function this action runs as, if any.
    pub(crate) job: Option<DocumentId>,
}

impl ActionCtx {
    common_methods!();

    /// Runs a query (public or internal) as the same caller.
    pub async fn run_query(&self, path: &str, args: impl Serialize) -> Result<Value, FunctionError> {
        let args = value::to_value(&args)?;
        self.runtime
            .call_from_action(crate::FunctionKind::Query, path, args, self.auth.shared(), self.job, &self.common.logs)
            .await
    }

    /// Runs a mutation (public or internal) as the same caller; it commits before this returns.
    pub async fn run_mutation(&self, path: &str, args: impl Serialize) -> Result<Value, FunctionError> {
        let args = value::to_value(&args)?;
        self.runtime
            .call_from_action(
                crate::FunctionKind::Mutation,
                path,
                args,
                self.auth.shared(),
                self.job,
                &self.common.logs,
            )
            .await
    }

    /// Runs another action as the same caller.
    pub async fn run_action(&self, path: &str, args: impl Serialize) -> Result<Value, FunctionError> {
        let args = value::to_value(&args)?;
        Box::pin(self.runtime.call_from_action(
            crate::FunctionKind::Action,
            path,
            args,
            self.auth.shared(),
            self.job,
            &self.common.logs,
        ))
        .await
    }
}

pub(crate) type SharedTxn = Arc<tokio::sync::Mutex<Option<Transaction>>>;

pub(crate) async fn with_txn<T>(
    txn: &SharedTxn,
    f: impl AsyncFnOnce(&mut Transaction) -> Result<T, database::DatabaseError>,
) -> Result<T, FunctionError> {
    let mut guard = txn.lock().await;
    let Some(t) = guard.as_mut() else {
        return Err(FunctionError::msg("the transaction has already finished: the function returned"));
    };
    Ok(f(t).await?)
}

/// Converts anything that names a document into an id.
pub trait IntoDocumentId {
    fn into_document_id(self) -> Result<DocumentId, FunctionError>;
}

impl IntoDocumentId for DocumentId {
    fn into_document_id(self) -> Result<DocumentId, FunctionError> {
        Ok(self)
    }
}

impl IntoDocumentId for &DocumentId {
    fn into_document_id(self) -> Result<DocumentId, FunctionError> {
        Ok(*self)
    }
}

impl IntoDocumentId for &str {
    fn into_document_id(self) -> Result<DocumentId, FunctionError> {
        DocumentId::parse(self).map_err(|_| FunctionError::msg(format!("invalid document id {self:?}")))
    }
}

impl IntoDocumentId for String {
    fn into_document_id(self) -> Result<DocumentId, FunctionError> {
        self.as_str().into_document_id()
    }
}

impl IntoDocumentId for &String {
    fn into_document_id(self) -> Result<DocumentId, FunctionError> {
        self.as_str().into_document_id()
    }
}

fn to_object(fields: impl Serialize) -> Result<Object, FunctionError> {
    match value::to_value(&fields)? {
        Value::Object(o) => Ok(o),
        other => Err(FunctionError::msg(format!("documents are objects, got {}", other.type_name()))),
    }
}

/// Tables of components (the auth component's `betterAuth/*`) are not visible to app functions, as in Convex;
/// system tables (`_storage`, `_scheduled_functions`) are read through `ctx.db.system()` and written only by the
/// platform.
fn check_app_table(table: &str) -> Result<(), FunctionError> {
    if table.contains('/') {
        return Err(FunctionError::msg(format!(
            "table {table:?} belongs to a component and cannot be accessed from app functions"
        )));
    }
    if database::schema::is_system_table(table) {
        return Err(FunctionError::msg(format!(
            "System tables (prefixed with `_`) are read-only and are read with `ctx.db.system()`: {table:?}"
        )));
    }
    Ok(())
}

/// Documents of component tables behave as nonexistent for app functions; system documents are read-only.
fn hide_component(t: &Transaction, id: &DocumentId) -> Result<(), database::DatabaseError> {
    match t.table_name_of(id) {
        Some(table) if table.contains('/') => {
            Err(database::DatabaseError::NotFound(format!("nonexistent document id {id}")))
        }
        Some(table) if database::schema::is_system_table(&table) => Err(database::DatabaseError::Invalid(format!(
            "System tables (prefixed with `_`) are read-only: {id} is a document of {table:?}"
        ))),
        _ => Ok(()),
    }
}

/// Read access to the database (`ctx.db` in queries).
#[derive(Clone)]
pub struct DatabaseReader {
    pub(crate) txn: SharedTxn,
    /// The query journal of this execution (pagination ends; empty in mutations).
    pub(crate) journal: Journal,
}

impl DatabaseReader {
    /// Fetches a document by id; `None` if it does not exist (ids of system tables: use [`DatabaseReader::system`]).
    pub async fn get(&self, id: impl IntoDocumentId) -> Result<Option<Document>, FunctionError> {
        let id = id.into_document_id()?;
        with_txn(&self.txn, async |t| {
            if t.table_name_of(&id)
                .is_some_and(|table| table.contains('/') || database::schema::is_system_table(&table))
            {
                return Ok(None);
            }
            t.get(&id).await
        })
        .await
        .map(|d| d.map(Document))
    }

    /// Read access to the system tables (`ctx.db.system`): `_scheduled_functions`, `_storage`. Reads are recorded
    /// like any other, so queries over system tables are reactive.
    pub fn system(&self) -> SystemReader {
        SystemReader { txn: self.txn.clone(), journal: self.journal.clone() }
    }

    /// Starts a query over a table (by creation time unless an index is chosen).
    pub fn query(&self, table: &str) -> QueryBuilder {
        QueryBuilder {
            txn: self.txn.clone(),
            request: ScanRequest::new(table, database::schema::BY_CREATION_TIME),
            denied: check_app_table(table).err(),
            journal: self.journal.clone(),
            search: None,
        }
    }

    /// Read access to a component's tables (`namespace/table`), for component code such as the auth helpers.
    pub fn component(&self, namespace: &str) -> ComponentReader {
        ComponentReader { txn: self.txn.clone(), namespace: namespace.to_string(), journal: self.journal.clone() }
    }

    /// The table an id belongs to (`db.normalizeId`'s check), if it is a valid id of an existing table.
    pub async fn table_of(&self, id: &str) -> Option<String> {
        let id = DocumentId::parse(id).ok()?;
        let guard = self.txn.lock().await;
        guard.as_ref().and_then(|t| t.table_name_of(&id))
    }
}

/// Read access to the system tables (`ctx.db.system()`).
#[derive(Clone)]
pub struct SystemReader {
    txn: SharedTxn,
    journal: Journal,
}

impl SystemReader {
    /// A document of a system table; `None` for ids of other tables or missing documents.
    pub async fn get(&self, id: impl IntoDocumentId) -> Result<Option<Document>, FunctionError> {
        let id = id.into_document_id()?;
        with_txn(&self.txn, async |t| {
            if !t.table_name_of(&id).is_some_and(|table| database::schema::is_app_readable_system_table(&table)) {
                return Ok(None);
            }
            t.get(&id).await
        })
        .await
        .map(|d| d.map(Document))
    }

    /// Queries a system table (`"_scheduled_functions"`, `"_storage"`), by creation time unless an index is chosen.
    pub fn query(&self, table: &str) -> QueryBuilder {
        let denied = (!database::schema::is_app_readable_system_table(table)).then(|| {
            FunctionError::msg(format!("{table:?} is not a system table apps can read (`_scheduled_functions`, `_storage`); user tables are read with `ctx.db.query`"))
        });
        QueryBuilder {
            txn: self.txn.clone(),
            request: ScanRequest::new(table, database::schema::BY_CREATION_TIME),
            denied,
            journal: self.journal.clone(),
            search: None,
        }
    }
}

/// Read access to the tables of one component (`namespace/…`).
#[derive(Clone)]
pub struct ComponentReader {
    txn: SharedTxn,
    namespace: String,
    journal: Journal,
}

impl ComponentReader {
    /// A document of one of the component's tables; `None` for ids of other tables.
    pub async fn get(&self, id: impl IntoDocumentId) -> Result<Option<Document>, FunctionError> {
        let id = id.into_document_id()?;
        let prefix = format!("{}/", self.namespace);
        with_txn(&self.txn, async |t| {
            if !t.table_name_of(&id).is_some_and(|table| table.starts_with(&prefix)) {
                return Ok(None);
            }
            t.get(&id).await
        })
        .await
        .map(|d| d.map(Document))
    }

    /// Queries one of the component's tables (`table` without the namespace).
    pub fn query(&self, table: &str) -> QueryBuilder {
        let full = format!("{}/{table}", self.namespace);
        QueryBuilder {
            txn: self.txn.clone(),
            request: ScanRequest::new(&full, database::schema::BY_CREATION_TIME),
            denied: None,
            journal: self.journal.clone(),
            search: None,
        }
    }
}

/// Read/write access to the database (`ctx.db` in mutations).
#[derive(Clone)]
pub struct DatabaseWriter {
    reader: DatabaseReader,
}

impl std::ops::Deref for DatabaseWriter {
    type Target = DatabaseReader;
    fn deref(&self) -> &DatabaseReader {
        &self.reader
    }
}

impl DatabaseWriter {
    pub(crate) fn new(txn: SharedTxn) -> Self {
        DatabaseWriter { reader: DatabaseReader { txn, journal: Journal::default() } }
    }

    /// Inserts a document (any `Serialize` that becomes an object); returns its id.
    pub async fn insert(&self, table: &str, fields: impl Serialize) -> Result<DocumentId, FunctionError> {
        check_app_table(table)?;
        let fields = to_object(fields)?;
        with_txn(&self.reader.txn, async |t| t.insert(table, fields).await).await
    }

    /// Shallow-merges fields into a document.
    pub async fn patch(&self, id: impl IntoDocumentId, fields: impl Serialize) -> Result<(), FunctionError> {
        let id = id.into_document_id()?;
        let fields = to_object(fields)?;
        with_txn(&self.reader.txn, async |t| {
            hide_component(t, &id)?;
            t.patch(&id, fields, &[]).await
        })
        .await
    }

    /// Removes fields from a document (what `patch` with `undefined` values does in Convex).
    pub async fn unset(&self, id: impl IntoDocumentId, fields: &[&str]) -> Result<(), FunctionError> {
        let id = id.into_document_id()?;
        let remove: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        with_txn(&self.reader.txn, async |t| {
            hide_component(t, &id)?;
            t.patch(&id, Object::new(), &remove).await
        })
        .await
    }

    /// Replaces a document's fields (system fields are kept).
    pub async fn replace(&self, id: impl IntoDocumentId, fields: impl Serialize) -> Result<(), FunctionError> {
        let id = id.into_document_id()?;
        let fields = to_object(fields)?;
        with_txn(&self.reader.txn, async |t| {
            hide_component(t, &id)?;
            t.replace(&id, fields).await
        })
        .await
    }

    /// Deletes a document.
    pub async fn delete(&self, id: impl IntoDocumentId) -> Result<(), FunctionError> {
        let id = id.into_document_id()?;
        with_txn(&self.reader.txn, async |t| {
            hide_component(t, &id)?;
            t.delete(&id).await
        })
        .await
    }
}

/// A stored document: its fields plus `_id` and `_creationTime`.
#[derive(Debug, Clone, PartialEq)]
pub struct Document(pub Object);

impl Document {
    pub fn id(&self) -> Option<DocumentId> {
        self.0.get("_id").and_then(|v| v.as_str()).and_then(|s| DocumentId::parse(s).ok())
    }

    pub fn creation_time(&self) -> Option<f64> {
        self.0.get("_creationTime").and_then(|v| v.as_f64())
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// Converts into a typed struct.
    pub fn to<T: serde::de::DeserializeOwned>(&self) -> Result<T, FunctionError> {
        Ok(value::from_value(Value::Object(self.0.clone()))?)
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

impl Serialize for Document {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Value::Object(self.0.clone()).serialize(serializer)
    }
}

impl From<Document> for Value {
    fn from(d: Document) -> Value {
        Value::Object(d.0)
    }
}

/// A query under construction: `ctx.db.query("t").with_index(..).order(..).filter(..)` then a terminal call.
pub struct QueryBuilder {
    txn: SharedTxn,
    request: ScanRequest,
    denied: Option<FunctionError>,
    journal: Journal,
    /// Set by `with_search_index`: the query is a full-text search in relevance order.
    search: Option<database::SearchQuery>,
}

impl QueryBuilder {
    /// Restricts to a range of an index: `with_index("by_author", |q| q.eq("author", "ann"))`.
    pub fn with_index(mut self, index: &str, range: impl FnOnce(IndexRange) -> IndexRange) -> Self {
        self.request.index = index.to_string();
        self.request.range = range(IndexRange::all());
        self
    }

    /// A full-text search (`withSearchIndex`): `with_search_index("search_body", |q| q.search("body", "hello
    /// world").eq("channel", "#general"))`. Results come in relevance order (see `database::search`).
    pub fn with_search_index(
        mut self,
        index: &str,
        filter: impl FnOnce(crate::search::SearchFilter) -> crate::search::SearchFilter,
    ) -> Self {
        let built = filter(crate::search::SearchFilter::default());
        self.search = Some(database::SearchQuery {
            table: self.request.table.clone(),
            index: index.to_string(),
            search_field: built.field,
            text: built.text,
            filters: built.filters,
        });
        self
    }

    /// Ascending (default) or descending index order. A search is always in relevance order: ordering one is an
    /// error, as in Convex.
    pub fn order(mut self, order: Order) -> Self {
        if self.search.is_some() && self.denied.is_none() {
            self.denied = Some(FunctionError::msg(
                "Search queries must always be in relevance order. Can not set order manually.",
            ));
        }
        self.request.order = order;
        self
    }

    /// Keeps only documents matching the predicate (every document examined counts against the read limit).
    pub fn filter(mut self, predicate: impl Fn(&Document) -> bool + Send + Sync + 'static) -> Self {
        let previous = self.request.filter.take();
        self.request.filter =
            Some(Box::new(move |o: &Object| previous.as_ref().is_none_or(|p| p(o)) && predicate(&Document(o.clone()))));
        self
    }

    async fn run(self, limit: Option<usize>, after: Option<Vec<u8>>) -> Result<database::ScanResult, FunctionError> {
        if let Some(denied) = self.denied {
            return Err(denied);
        }
        let mut request = self.request;
        request.limit = limit;
        request.after = after;
        if let Some(search) = self.search {
            return crate::search::run(&self.txn, &search, request.filter.as_ref(), limit).await;
        }
        with_txn(&self.txn, async |t| t.scan(request).await).await
    }

    /// All matching documents.
    pub async fn collect(self) -> Result<Vec<Document>, FunctionError> {
        Ok(self.run(None, None).await?.documents.into_iter().map(Document).collect())
    }

    /// The first `n` matching documents.
    pub async fn take(self, n: usize) -> Result<Vec<Document>, FunctionError> {
        Ok(self.run(Some(n), None).await?.documents.into_iter().map(Document).collect())
    }

    /// The first matching document, if any.
    pub async fn first(self) -> Result<Option<Document>, FunctionError> {
        Ok(self.run(Some(1), None).await?.documents.into_iter().next().map(Document))
    }

    /// The only matching document; an error if there is more than one.
    pub async fn unique(self) -> Result<Option<Document>, FunctionError> {
        let table = self.request.table.clone();
        let mut docs = self.run(Some(2), None).await?.documents;
        if docs.len() > 1 {
            return Err(FunctionError::msg(format!("unique() query on table {table:?} returned more than one result")));
        }
        Ok(docs.pop().map(Document))
    }

    /// One page of results (Convex's `.paginate(paginationOpts)`; see the `pagination` module for the contract).
    pub async fn paginate(self, options: PaginationOptions) -> Result<PaginationResult, FunctionError> {
        if let Some(denied) = self.denied {
            return Err(denied);
        }
        if let Some(search) = self.search {
            return crate::search::paginate(&self.txn, &search, self.request.filter.as_ref(), options).await;
        }
        crate::pagination::paginate(&self.txn, self.request, &self.journal, options).await
    }
}
