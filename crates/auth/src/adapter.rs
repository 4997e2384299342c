//! Better Auth's database adapter operations over one [`Transaction`] (convex-better-auth.md §6).
//!
//! Every operation works on raw documents ([`Object`]s with `_id` and `_creationTime`) of one [`Model`]; the
//! `*_row` functions wrap them for the typed rows of [`crate::models`]. Nothing here commits or retries: the caller
//! runs a whole request in one transaction, commits it, and re-runs it when [`AdapterError::is_conflict`] says so.
//! Because transactions are serializable, "find then write" sequences ([`consume_one`], [`increment_one`],
//! uniqueness checks) are atomic.
//!
//! # Where clauses
//!
//! * The clauses with [`Connector::And`] must all hold; if any clause has [`Connector::Or`], at least one of
//!   those must hold as well: `AND(and clauses) AND (OR(or clauses) or true when there are none)`. This is what
//!   Better Auth's SQL adapters do (and saner than the Convex component 0.10.x, which drops AND clauses mixed
//!   with OR).
//! * Field `id` (or `_id`) is the document id; `_creationTime` is accepted too; any other field must be a field of
//!   the model ([`Model::fields`]), otherwise the query is rejected as invalid.
//! * A missing field equals `null`: `eq null` matches rows where the field is unset, `ne null` rows where it is
//!   set, and `not_in` matches unset fields unless the list holds `null`.
//! * `lt`/`lte`/`gt`/`gte` match only when both sides are non-null values of the same type (numbers, strings or
//!   booleans), compared in Convex's value order (the order indexes use); `NaN` matches no range. No falsy-operand
//!   short-cuts (0.10.x's `lt 0` never matching, for instance).
//! * `in`/`not_in` take an array; `contains`/`starts_with`/`ends_with` take a string, are case-sensitive and match
//!   string fields only. Integer where-values on number/date fields are read as numbers (dates are epoch ms here).
//!
//! # Order, limit, offset
//!
//! Results are ordered by [`FindOptions::sort_by`] (field value, ties by creation), default creation order
//! ascending; `createdAt` (and `_creationTime`) sorts by creation order. `offset` skips matching documents after
//! sorting, then `limit` applies. The single-row operations (`find_one`, `update_one`, `delete_one`,
//! `consume_one`, `increment_one`) act on the first match in creation order.
//!
//! # Query planning
//!
//! The plan only decides which documents are examined; every clause is applied to every examined document, so a
//! result never depends on the plan.
//! 1. `id eq` / `id in` (AND): point reads.
//! 2. Otherwise the declared index with the longest prefix of equality fields (AND `eq`, or AND `in` expanded into
//!    one range per value, up to [`MAX_INDEX_RANGES`] ranges), then a range on the next index field, then whether
//!    its order is the requested sort (which lets `limit` stop the scan early). Unique fields are the first field
//!    of an index, so `email`/`token` lookups read at most one document. `null` operands never use an index (an
//!    unset field is not indexed as `null`).
//! 3. With no useful index for the AND clauses but OR clauses that each have one, the union of those lookups.
//! 4. Otherwise a scan of the whole table in creation order.
//!
//! # Writes
//!
//! `null` in create data or in an update means "unset": the field is left out or removed, so the store holds one
//! representation of an unset optional field (absence). `id`, `_id` and `_creationTime` cannot be written.
//! Unique fields ([`schema::unique_fields`]) are checked through their index on create and on update.

use crate::models::Row;
use crate::schema::{self, FieldType, Model};
use crate::triggers::{self, Change, Op};
use database::schema::BY_CREATION_TIME;
use database::{DatabaseError, IndexRange, Order, ScanRequest, Transaction};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use value::{DocumentId, Object, Value};

/// At most this many index ranges are scanned for one `in` expansion.
pub const MAX_INDEX_RANGES: usize = 64;

/// Adapter failures.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// A create or update would give a unique field a value another row already has.
    #[error("{model} {field} already exists")]
    Unique { model: Model, field: String },
    /// A malformed request (unknown field, wrong operand type, system field written) or a stored row that does not
    /// have the model's shape.
    #[error("{0}")]
    Invalid(String),
    /// The database refused (conflict, limit, schema validation) or failed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// An app hook ([`crate::triggers`]) rejected the write or failed.
    #[error("hook: {0:?}")]
    Hook(crate::triggers::HookError),
}

impl AdapterError {
    /// Whether the transaction hit an optimistic-concurrency conflict and should be re-run from the start.
    pub fn is_conflict(&self) -> bool {
        matches!(self, AdapterError::Database(e) if e.is_conflict())
    }
}

pub type Result<T, E = AdapterError> = std::result::Result<T, E>;

/// A where-clause operator (Better Auth's names in [`Operator::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
}

impl Operator {
    const ALL: [Operator; 11] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Lt,
        Operator::Lte,
        Operator::Gt,
        Operator::Gte,
        Operator::In,
        Operator::NotIn,
        Operator::Contains,
        Operator::StartsWith,
        Operator::EndsWith,
    ];

    /// The wire name: `eq`, `ne`, `lt`, `lte`, `gt`, `gte`, `in`, `not_in`, `contains`, `starts_with`, `ends_with`.
    pub fn name(self) -> &'static str {
        match self {
            Operator::Eq => "eq",
            Operator::Ne => "ne",
            Operator::Lt => "lt",
            Operator::Lte => "lte",
            Operator::Gt => "gt",
            Operator::Gte => "gte",
            Operator::In => "in",
            Operator::NotIn => "not_in",
            Operator::Contains => "contains",
            Operator::StartsWith => "starts_with",
            Operator::EndsWith => "ends_with",
        }
    }

    pub fn from_name(name: &str) -> Option<Operator> {
        Operator::ALL.into_iter().find(|op| op.name() == name)
    }

    fn is_range(self) -> bool {
        matches!(self, Operator::Lt | Operator::Lte | Operator::Gt | Operator::Gte)
    }
}

/// How a clause joins the others (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Connector {
    #[default]
    And,
    Or,
}

impl Connector {
    /// Better Auth's `"AND"` / `"OR"`.
    pub fn from_name(name: &str) -> Option<Connector> {
        match name {
            "AND" => Some(Connector::And),
            "OR" => Some(Connector::Or),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Connector::And => "AND",
            Connector::Or => "OR",
        }
    }
}

/// One where clause: `field operator value`, joined by `connector`.
#[derive(Debug, Clone, PartialEq)]
pub struct Where {
    pub field: String,
    pub operator: Operator,
    pub value: Value,
    pub connector: Connector,
}

impl Where {
    /// An AND clause.
    pub fn new(field: &str, operator: Operator, value: impl Into<Value>) -> Self {
        Where { field: field.to_string(), operator, value: value.into(), connector: Connector::And }
    }

    /// `field eq value`, AND.
    pub fn eq(field: &str, value: impl Into<Value>) -> Self {
        Self::new(field, Operator::Eq, value)
    }

    /// `id eq id`.
    pub fn id(id: impl Into<String>) -> Self {
        Self::new("id", Operator::Eq, Value::String(id.into()))
    }

    /// The same clause joined with OR.
    pub fn or(mut self) -> Self {
        self.connector = Connector::Or;
        self
    }
}

/// Options of [`find_many`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindOptions {
    /// Sort field (`id`, `createdAt` = creation order, or any model field) and direction; default creation order
    /// ascending.
    pub sort_by: Option<(String, Order)>,
    pub limit: Option<usize>,
    /// Matching documents skipped (after sorting) before `limit` applies.
    pub offset: Option<usize>,
}

impl FindOptions {
    pub fn limit(limit: usize) -> Self {
        FindOptions { limit: Some(limit), ..Self::default() }
    }

    pub fn sort_by(mut self, field: &str, order: Order) -> Self {
        self.sort_by = Some((field.to_string(), order));
        self
    }

    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn with_offset(mut self, offset: usize) -> Self {
        self.offset = Some(offset);
        self
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Operations

/// Inserts a row and returns the stored document. Unique fields must not collide with an existing row.
pub async fn create(txn: &mut Transaction, model: Model, data: Object) -> Result<Object> {
    let hooks = triggers::active();
    let mut data = data;
    hooks.run_before(txn, model, Op::Create, &mut data).await.map_err(AdapterError::Hook)?;
    let (fields, _unset) = prepare_write(model, data, "create")?;
    check_unique(txn, model, &fields, &[]).await?;
    let id = txn.insert(&model.table(), fields).await?;
    let doc = stored(txn, model, &id).await?;
    let change = Change { model, op: Op::Create, old: None, new: Some(doc) };
    hooks.run_after(txn, &change).await.map_err(AdapterError::Hook)?;
    Ok(change.new.unwrap_or_default())
}

/// The first matching document (creation order), if any.
pub async fn find_one(txn: &mut Transaction, model: Model, clauses: &[Where]) -> Result<Option<Object>> {
    let query = Query::compile(model, clauses)?;
    Ok(first(txn, &query).await?.map(|(_, doc)| doc))
}

/// The matching documents, sorted, after `offset`, at most `limit`.
pub async fn find_many(
    txn: &mut Transaction,
    model: Model,
    clauses: &[Where],
    options: FindOptions,
) -> Result<Vec<Object>> {
    let query = Query::compile(model, clauses)?;
    let sort = match &options.sort_by {
        Some((field, order)) => Sort::parse(model, field, *order)?,
        None => Sort::CREATION,
    };
    select(txn, &query, Some(&sort), options.offset.unwrap_or(0), options.limit).await
}

/// The number of matching documents.
pub async fn count(txn: &mut Transaction, model: Model, clauses: &[Where]) -> Result<usize> {
    let query = Query::compile(model, clauses)?;
    Ok(select(txn, &query, None, 0, None).await?.len())
}

/// Updates the first matching document and returns it as updated; `None` when nothing matched. `null` values
/// unset fields.
pub async fn update_one(
    txn: &mut Transaction,
    model: Model,
    clauses: &[Where],
    update: Object,
) -> Result<Option<Object>> {
    let query = Query::compile(model, clauses)?;
    let Some((id, doc)) = first(txn, &query).await? else { return Ok(None) };
    let hooks = triggers::active();
    let mut update = update;
    hooks.run_before(txn, model, Op::Update, &mut update).await.map_err(AdapterError::Hook)?;
    let (set, unset) = prepare_write(model, update, "update")?;
    if set.is_empty() && unset.is_empty() {
        return Ok(Some(doc));
    }
    check_unique(txn, model, &set, std::slice::from_ref(&id)).await?;
    txn.patch(&id, set, &unset).await?;
    let new = stored(txn, model, &id).await?;
    let change = Change { model, op: Op::Update, old: Some(doc), new: Some(new) };
    hooks.run_after(txn, &change).await.map_err(AdapterError::Hook)?;
    Ok(change.new)
}

/// Updates every matching document; returns how many. Setting a unique field on more than one row fails.
pub async fn update_many(txn: &mut Transaction, model: Model, clauses: &[Where], update: Object) -> Result<usize> {
    let query = Query::compile(model, clauses)?;
    let hooks = triggers::active();
    let mut update = update;
    hooks.run_before(txn, model, Op::Update, &mut update).await.map_err(AdapterError::Hook)?;
    let (set, unset) = prepare_write(model, update, "update")?;
    let docs = select(txn, &query, None, 0, None).await?;
    let ids = docs.iter().map(document_id).collect::<Result<Vec<_>>>()?;
    if ids.is_empty() || (set.is_empty() && unset.is_empty()) {
        return Ok(ids.len());
    }
    if ids.len() > 1 {
        if let Some(field) = schema::unique_fields(model).iter().find(|f| set.contains_key(**f)) {
            return Err(AdapterError::Unique { model, field: field.to_string() });
        }
    }
    check_unique(txn, model, &set, &ids).await?;
    for (id, old) in ids.iter().zip(docs) {
        txn.patch(id, set.clone(), &unset).await?;
        let new = stored(txn, model, id).await?;
        let change = Change { model, op: Op::Update, old: Some(old), new: Some(new) };
        hooks.run_after(txn, &change).await.map_err(AdapterError::Hook)?;
    }
    Ok(ids.len())
}

/// Deletes the first matching document and returns it; `None` when nothing matched.
pub async fn delete_one(txn: &mut Transaction, model: Model, clauses: &[Where]) -> Result<Option<Object>> {
    let query = Query::compile(model, clauses)?;
    let Some((id, doc)) = first(txn, &query).await? else { return Ok(None) };
    txn.delete(&id).await?;
    let change = Change { model, op: Op::Delete, old: Some(doc), new: None };
    triggers::active().run_after(txn, &change).await.map_err(AdapterError::Hook)?;
    Ok(change.old)
}

/// Deletes every matching document; returns how many.
pub async fn delete_many(txn: &mut Transaction, model: Model, clauses: &[Where]) -> Result<usize> {
    let query = Query::compile(model, clauses)?;
    let docs = select(txn, &query, None, 0, None).await?;
    let hooks = triggers::active();
    let count = docs.len();
    for doc in docs {
        txn.delete(&document_id(&doc)?).await?;
        let change = Change { model, op: Op::Delete, old: Some(doc), new: None };
        hooks.run_after(txn, &change).await.map_err(AdapterError::Hook)?;
    }
    Ok(count)
}

/// Finds and deletes the first matching document in this transaction: a single-use token. Of concurrent
/// transactions consuming the same row, exactly one commits with the row; the others conflict (their read of the
/// row is invalidated by the delete) and, re-run, find nothing.
pub async fn consume_one(txn: &mut Transaction, model: Model, clauses: &[Where]) -> Result<Option<Object>> {
    delete_one(txn, model, clauses).await
}

/// Adds `by` to a number field of the first matching document (an unset field counts as 0) and returns the
/// updated document; `None` when nothing matched. Concurrent increments serialize through conflicts.
pub async fn increment_one(
    txn: &mut Transaction,
    model: Model,
    clauses: &[Where],
    field: &str,
    by: f64,
) -> Result<Option<Object>> {
    if !model.field(field).is_some_and(|f| f.ty.is_numeric()) {
        return Err(AdapterError::Invalid(format!("cannot increment {field:?}: not a number field of {model}")));
    }
    let query = Query::compile(model, clauses)?;
    let Some((id, doc)) = first(txn, &query).await? else { return Ok(None) };
    let current = match doc.get(field) {
        None | Some(Value::Null) => 0.0,
        Some(Value::Float64(n)) => *n,
        Some(other) => {
            return Err(AdapterError::Invalid(format!(
                "cannot increment {model} {field} of {}: it holds a {}",
                doc_id_str(&doc),
                other.type_name()
            )))
        }
    };
    let mut set = Object::new();
    set.insert(field.to_string(), Value::Float64(current + by));
    txn.patch(&id, set, &[]).await?;
    stored(txn, model, &id).await.map(Some)
}

// Typed helpers.

/// [`create`] for a typed row (its `id` is ignored; the returned row has the new one).
pub async fn create_row<R: Row>(txn: &mut Transaction, row: &R) -> Result<R> {
    R::from_document(&create(txn, R::MODEL, row.to_fields()).await?)
}

/// [`find_one`] as a typed row.
pub async fn find_one_row<R: Row>(txn: &mut Transaction, clauses: &[Where]) -> Result<Option<R>> {
    find_one(txn, R::MODEL, clauses).await?.as_ref().map(R::from_document).transpose()
}

/// [`find_many`] as typed rows.
pub async fn find_many_rows<R: Row>(txn: &mut Transaction, clauses: &[Where], options: FindOptions) -> Result<Vec<R>> {
    find_many(txn, R::MODEL, clauses, options).await?.iter().map(R::from_document).collect()
}

/// [`update_one`] returning the typed row.
pub async fn update_one_row<R: Row>(txn: &mut Transaction, clauses: &[Where], update: Object) -> Result<Option<R>> {
    update_one(txn, R::MODEL, clauses, update).await?.as_ref().map(R::from_document).transpose()
}

/// [`delete_one`] returning the typed row.
pub async fn delete_one_row<R: Row>(txn: &mut Transaction, clauses: &[Where]) -> Result<Option<R>> {
    delete_one(txn, R::MODEL, clauses).await?.as_ref().map(R::from_document).transpose()
}

/// [`consume_one`] returning the typed row.
pub async fn consume_one_row<R: Row>(txn: &mut Transaction, clauses: &[Where]) -> Result<Option<R>> {
    consume_one(txn, R::MODEL, clauses).await?.as_ref().map(R::from_document).transpose()
}

// ---------------------------------------------------------------------------------------------------------------
// Writes

/// Splits write data into fields to set and fields to unset (`null`), rejecting system fields and reading integer
/// values of number fields as numbers.
fn prepare_write(model: Model, data: Object, op: &str) -> Result<(Object, Vec<String>)> {
    let mut set = Object::new();
    let mut unset = Vec::new();
    for (name, value) in data {
        if name == "id" || name.starts_with('_') {
            return Err(AdapterError::Invalid(format!("cannot {op} {model}: field {name:?} is set by the database")));
        }
        let value = coerce(value, model.field(&name).map(|f| f.ty));
        if value.is_null() {
            unset.push(name);
        } else {
            set.insert(name, value);
        }
    }
    Ok((set, unset))
}

/// Fails with [`AdapterError::Unique`] when a unique field in `fields` already belongs to a row other than
/// `except`. The index read also makes a concurrent insert of the same value conflict.
async fn check_unique(txn: &mut Transaction, model: Model, fields: &Object, except: &[DocumentId]) -> Result<()> {
    for field in schema::unique_fields(model) {
        let Some(value) = fields.get(*field) else { continue };
        let index = model
            .indexes()
            .iter()
            .find(|ix| ix.fields.first() == Some(field))
            .ok_or_else(|| AdapterError::Invalid(format!("no index found for {model} {field}")))?;
        let except: BTreeSet<String> = except.iter().map(DocumentId::to_string).collect();
        let mut request = ScanRequest::new(&model.table(), index.name);
        request.range = IndexRange::all().eq(field, value.clone());
        request.limit = Some(1);
        request.filter = Some(Box::new(move |doc: &Object| {
            doc.get("_id").and_then(Value::as_str).is_none_or(|id| !except.contains(id))
        }));
        if !txn.scan(request).await?.documents.is_empty() {
            return Err(AdapterError::Unique { model, field: field.to_string() });
        }
    }
    Ok(())
}

async fn stored(txn: &mut Transaction, model: Model, id: &DocumentId) -> Result<Object> {
    txn.get(id).await?.ok_or_else(|| AdapterError::Invalid(format!("{model} {id} vanished after being written")))
}

fn doc_id_str(doc: &Object) -> &str {
    doc.get("_id").and_then(Value::as_str).unwrap_or("<no id>")
}

fn document_id(doc: &Object) -> Result<DocumentId> {
    let id = doc_id_str(doc);
    DocumentId::parse(id).map_err(|e| AdapterError::Invalid(format!("stored document has a bad _id: {e}")))
}

// ---------------------------------------------------------------------------------------------------------------
// Clauses

/// A where clause with its field resolved to the stored name and its value checked.
#[derive(Debug, Clone)]
struct Clause {
    field: String,
    operator: Operator,
    value: Value,
}

impl Clause {
    fn matches(&self, doc: &Object) -> bool {
        let field = doc.get(&self.field).unwrap_or(&Value::Null);
        let value = &self.value;
        match self.operator {
            Operator::Eq => field == value,
            Operator::Ne => field != value,
            Operator::In => value.as_array().is_some_and(|items| items.contains(field)),
            Operator::NotIn => value.as_array().is_some_and(|items| !items.contains(field)),
            Operator::Lt => compare(field, value) == Some(Ordering::Less),
            Operator::Lte => matches!(compare(field, value), Some(Ordering::Less | Ordering::Equal)),
            Operator::Gt => compare(field, value) == Some(Ordering::Greater),
            Operator::Gte => matches!(compare(field, value), Some(Ordering::Greater | Ordering::Equal)),
            Operator::Contains => strings(field, value).is_some_and(|(f, v)| f.contains(v)),
            Operator::StartsWith => strings(field, value).is_some_and(|(f, v)| f.starts_with(v)),
            Operator::EndsWith => strings(field, value).is_some_and(|(f, v)| f.ends_with(v)),
        }
    }
}

/// Range comparison: only non-null values of one type, in Convex's order; `NaN` compares with nothing.
fn compare(field: &Value, bound: &Value) -> Option<Ordering> {
    let nan = |v: &Value| v.as_f64().is_some_and(f64::is_nan);
    if field.is_null() || bound.is_null() || field.type_name() != bound.type_name() || nan(field) || nan(bound) {
        return None;
    }
    Some(field.cmp(bound))
}

fn strings<'a>(field: &'a Value, value: &'a Value) -> Option<(&'a str, &'a str)> {
    Some((field.as_str()?, value.as_str()?))
}

/// Integer values of number/date fields are read as numbers (the store only holds `v.number()` there).
fn coerce(value: Value, ty: Option<FieldType>) -> Value {
    match value {
        Value::Int64(i) if ty.is_some_and(FieldType::is_numeric) => Value::Float64(i as f64),
        Value::Array(items) => Value::Array(items.into_iter().map(|item| coerce(item, ty)).collect()),
        other => other,
    }
}

/// Resolves a where/sort field: `id` → `_id`; model fields as they are. Returns the stored name and its type.
fn resolve_field(model: Model, name: &str) -> Result<(String, Option<FieldType>)> {
    match name {
        "id" | "_id" => Ok(("_id".to_string(), Some(FieldType::String))),
        "_creationTime" => Ok(("_creationTime".to_string(), Some(FieldType::Number))),
        other => model
            .field(other)
            .map(|f| (f.name.to_string(), Some(f.ty)))
            .ok_or_else(|| AdapterError::Invalid(format!("unknown field {other:?} on model {model}"))),
    }
}

/// Compiled where clauses of one model.
#[derive(Debug, Clone)]
struct Query {
    model: Model,
    and: Vec<Clause>,
    or: Vec<Clause>,
}

impl Query {
    fn compile(model: Model, clauses: &[Where]) -> Result<Query> {
        let mut query = Query { model, and: Vec::new(), or: Vec::new() };
        for clause in clauses {
            let (field, ty) = resolve_field(model, &clause.field)?;
            let value = coerce(clause.value.clone(), ty);
            let operand_ok = match clause.operator {
                Operator::In | Operator::NotIn => value.as_array().is_some(),
                Operator::Contains | Operator::StartsWith | Operator::EndsWith => value.as_str().is_some(),
                _ => true,
            };
            if !operand_ok {
                let expected =
                    if matches!(clause.operator, Operator::In | Operator::NotIn) { "an array" } else { "a string" };
                return Err(AdapterError::Invalid(format!(
                    "where clause on {model} {}: operator {} needs {expected}, got {}",
                    clause.field,
                    clause.operator.name(),
                    value.type_name()
                )));
            }
            let compiled = Clause { field, operator: clause.operator, value };
            match clause.connector {
                Connector::And => query.and.push(compiled),
                Connector::Or => query.or.push(compiled),
            }
        }
        Ok(query)
    }

    fn matches(&self, doc: &Object) -> bool {
        self.and.iter().all(|c| c.matches(doc)) && (self.or.is_empty() || self.or.iter().any(|c| c.matches(doc)))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Sorting

#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    /// `_creationTime`, then `_id` (the `by_creation_time` index order).
    Creation,
    /// A field (missing first), then creation order (a declared index's order).
    Field(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Sort {
    key: SortKey,
    order: Order,
}

impl Sort {
    const CREATION: Sort = Sort { key: SortKey::Creation, order: Order::Asc };

    fn parse(model: Model, field: &str, order: Order) -> Result<Sort> {
        let key = match field {
            "createdAt" | "_creationTime" => SortKey::Creation,
            other => SortKey::Field(resolve_field(model, other)?.0),
        };
        Ok(Sort { key, order })
    }

    fn compare(&self, a: &Object, b: &Object) -> Ordering {
        let creation = |d: &Object| (d.get("_creationTime").cloned(), d.get("_id").cloned());
        let ordering = match &self.key {
            SortKey::Creation => creation(a).cmp(&creation(b)),
            SortKey::Field(field) => a.get(field).cmp(&b.get(field)).then_with(|| creation(a).cmp(&creation(b))),
        };
        match self.order {
            Order::Asc => ordering,
            Order::Desc => ordering.reverse(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Planning and execution

/// How the documents to examine are found.
#[derive(Debug, Clone, PartialEq)]
enum Access {
    /// Nothing can match.
    Empty,
    /// Point reads.
    Ids(Vec<DocumentId>),
    /// Ranges of a declared index; `sorted`: one range whose order is the requested sort.
    Index { index: &'static str, ranges: Vec<IndexRange>, sorted: bool },
    /// The whole table in creation order.
    Table,
}

#[derive(Debug, Clone, PartialEq)]
enum Plan {
    One(Access),
    /// One access per OR clause (each together with the AND clauses); results deduplicated.
    Union(Vec<Access>),
}

impl Access {
    /// Whether the documents come out in the order `sort` asks for (any order does when there is no sort).
    fn yields(&self, sort: Option<&Sort>) -> bool {
        match (self, sort) {
            (_, None) | (Access::Empty, _) => true,
            (Access::Ids(ids), Some(_)) => ids.len() <= 1,
            (Access::Index { sorted, .. }, Some(_)) => *sorted,
            (Access::Table, Some(sort)) => sort.key == SortKey::Creation,
        }
    }
}

fn plan(query: &Query, sort: Option<&Sort>) -> Plan {
    let and: Vec<&Clause> = query.and.iter().collect();
    let access = choose_access(query.model, &and, sort);
    if access != Access::Table || query.or.is_empty() {
        return Plan::One(access);
    }
    let mut parts = Vec::with_capacity(query.or.len());
    for clause in &query.or {
        let mut clauses = and.clone();
        clauses.push(clause);
        match choose_access(query.model, &clauses, None) {
            Access::Table => return Plan::One(Access::Table),
            part => parts.push(part),
        }
    }
    Plan::Union(parts)
}

/// Picks the access path for a conjunction of clauses (see the module docs).
fn choose_access(model: Model, clauses: &[&Clause], sort: Option<&Sort>) -> Access {
    for clause in clauses.iter().filter(|c| c.field == "_id") {
        match clause.operator {
            Operator::Eq => {
                return match clause.value.as_str().map(DocumentId::parse) {
                    Some(Ok(id)) => Access::Ids(vec![id]),
                    _ => Access::Empty,
                }
            }
            Operator::In => {
                let mut ids = Vec::new();
                for item in clause.value.as_array().unwrap_or_default() {
                    if let Some(Ok(id)) = item.as_str().map(DocumentId::parse) {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                }
                return Access::Ids(ids);
            }
            _ => {}
        }
    }

    // Candidate values per field: one for `eq`, several for `in` (never null: unset fields are not indexed as null).
    let mut equal: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut single: BTreeSet<&str> = BTreeSet::new();
    for clause in clauses.iter().filter(|c| c.operator == Operator::Eq && !c.value.is_null()) {
        if single.insert(clause.field.as_str()) {
            equal.insert(&clause.field, vec![clause.value.clone()]);
        }
    }
    for clause in clauses.iter().filter(|c| c.operator == Operator::In) {
        let Some(items) = clause.value.as_array() else { continue };
        if items.is_empty() {
            return Access::Empty;
        }
        if single.contains(clause.field.as_str()) || items.iter().any(Value::is_null) {
            continue;
        }
        let mut values: Vec<Value> = items.to_vec();
        values.sort();
        values.dedup();
        equal.entry(&clause.field).or_insert(values);
    }
    let mut lower: BTreeMap<&str, &Clause> = BTreeMap::new();
    let mut upper: BTreeMap<&str, &Clause> = BTreeMap::new();
    // A range bound must be a value some stored field can compare with (not null, not NaN).
    for clause in clauses.iter().filter(|c| c.operator.is_range() && compare(&c.value, &c.value).is_some()) {
        let bounds = if matches!(clause.operator, Operator::Gt | Operator::Gte) { &mut lower } else { &mut upper };
        bounds.entry(&clause.field).or_insert(clause);
    }
    // Sorting by a field fixed by `eq` is creation order.
    let sort_field = match sort.map(|s| &s.key) {
        Some(SortKey::Field(field)) if !single.contains(field.as_str()) => Some(field.as_str()),
        _ => None,
    };

    let mut best: Option<(Fit, Access)> = None;
    for index in model.indexes() {
        let mut prefix = 0;
        let mut ranges = 1usize;
        while let Some(values) = index.fields.get(prefix).and_then(|f| equal.get(f)) {
            if ranges * values.len() > MAX_INDEX_RANGES {
                break;
            }
            ranges *= values.len();
            prefix += 1;
        }
        let next = index.fields.get(prefix).copied();
        let bounded = next.is_some_and(|f| lower.contains_key(f) || upper.contains_key(f));
        let sorted = sort.is_some()
            && ranges == 1
            && match sort_field {
                None => prefix == index.fields.len(),
                Some(field) => prefix + 1 == index.fields.len() && next == Some(field),
            };
        if prefix == 0 && !bounded && !sorted {
            continue;
        }
        let score = Fit { equalities: prefix, bounded, sorted, fewer_ranges: std::cmp::Reverse(ranges) };
        if best.as_ref().is_some_and(|(b, _)| *b >= score) {
            continue;
        }
        let mut expanded = vec![IndexRange::all()];
        for field in &index.fields[..prefix] {
            let values = equal.get(field).map(Vec::as_slice).unwrap_or_default();
            expanded = expanded
                .iter()
                .flat_map(|range| values.iter().map(move |value| range.clone().eq(field, value.clone())))
                .collect();
        }
        if let Some(field) = next.filter(|_| bounded) {
            expanded = expanded.into_iter().map(|range| bound(range, field, &lower, &upper)).collect();
        }
        best = Some((score, Access::Index { index: index.name, ranges: expanded, sorted }));
    }
    best.map_or(Access::Table, |(_, access)| access)
}

/// How well an index serves a conjunction; compared field by field, in declaration order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Fit {
    /// Leading index fields fixed by `eq`/`in`.
    equalities: usize,
    /// The next index field has a range clause.
    bounded: bool,
    /// The index order is the requested sort (so a limit can stop the scan).
    sorted: bool,
    fewer_ranges: std::cmp::Reverse<usize>,
}

fn bound(
    mut range: IndexRange,
    field: &str,
    lower: &BTreeMap<&str, &Clause>,
    upper: &BTreeMap<&str, &Clause>,
) -> IndexRange {
    if let Some(clause) = lower.get(field) {
        range = match clause.operator {
            Operator::Gt => range.gt(field, clause.value.clone()),
            _ => range.gte(field, clause.value.clone()),
        };
    }
    if let Some(clause) = upper.get(field) {
        range = match clause.operator {
            Operator::Lt => range.lt(field, clause.value.clone()),
            _ => range.lte(field, clause.value.clone()),
        };
    }
    range
}

/// The first match in creation order, with its id.
async fn first(txn: &mut Transaction, query: &Query) -> Result<Option<(DocumentId, Object)>> {
    let Some(doc) = select(txn, query, Some(&Sort::CREATION), 0, Some(1)).await?.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some((document_id(&doc)?, doc)))
}

/// Runs a query: matching documents in `sort` order (any order when `None`), after `offset`, at most `limit`.
async fn select(
    txn: &mut Transaction,
    query: &Query,
    sort: Option<&Sort>,
    offset: usize,
    limit: Option<usize>,
) -> Result<Vec<Object>> {
    if limit == Some(0) {
        return Ok(Vec::new());
    }
    let filter = Arc::new(query.clone());
    let (mut docs, ordered) = match plan(query, sort) {
        Plan::One(access) => {
            let ordered = access.yields(sort);
            // Only a stream in the final order may stop early.
            let wanted = if ordered { limit.map(|l| l.saturating_add(offset)) } else { None };
            let order = match (ordered, sort) {
                (true, Some(sort)) => sort.order,
                _ => Order::Asc,
            };
            (fetch(txn, query.model, &access, &filter, order, wanted).await?, ordered)
        }
        Plan::Union(parts) => {
            let mut seen = BTreeSet::new();
            let mut docs = Vec::new();
            for part in &parts {
                for doc in fetch(txn, query.model, part, &filter, Order::Asc, None).await? {
                    if seen.insert(doc_id_str(&doc).to_string()) {
                        docs.push(doc);
                    }
                }
            }
            (docs, sort.is_none())
        }
    };
    if let (false, Some(sort)) = (ordered, sort) {
        docs.sort_by(|a, b| sort.compare(a, b));
    }
    Ok(docs.into_iter().skip(offset).take(limit.unwrap_or(usize::MAX)).collect())
}

/// The matching documents of one access path, at most `wanted`.
async fn fetch(
    txn: &mut Transaction,
    model: Model,
    access: &Access,
    filter: &Arc<Query>,
    order: Order,
    wanted: Option<usize>,
) -> Result<Vec<Object>> {
    let table = model.table();
    let mut docs = Vec::new();
    match access {
        Access::Empty => {}
        Access::Ids(ids) => {
            for id in ids {
                if wanted.is_some_and(|w| docs.len() >= w) {
                    break;
                }
                // An id of another table names no row of this model.
                if txn.table_name_of(id).as_deref() != Some(table.as_str()) {
                    continue;
                }
                if let Some(doc) = txn.get(id).await? {
                    if filter.matches(&doc) {
                        docs.push(doc);
                    }
                }
            }
        }
        Access::Index { index, ranges, .. } => {
            for range in ranges {
                let remaining = wanted.map(|w| w.saturating_sub(docs.len()));
                if remaining == Some(0) {
                    break;
                }
                docs.extend(scan(txn, &table, index, range.clone(), order, remaining, filter).await?);
            }
        }
        Access::Table => {
            docs = scan(txn, &table, BY_CREATION_TIME, IndexRange::all(), order, wanted, filter).await?;
        }
    }
    Ok(docs)
}

async fn scan(
    txn: &mut Transaction,
    table: &str,
    index: &str,
    range: IndexRange,
    order: Order,
    limit: Option<usize>,
    filter: &Arc<Query>,
) -> Result<Vec<Object>> {
    let mut request = ScanRequest::new(table, index);
    request.range = range;
    request.order = order;
    request.limit = limit;
    let filter = filter.clone();
    request.filter = Some(Box::new(move |doc: &Object| filter.matches(doc)));
    Ok(txn.scan(request).await?.documents)
}

#[cfg(test)]
mod tests;
