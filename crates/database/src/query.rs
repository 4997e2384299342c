//! Index ranges (`withIndex(name, q => q.eq(..).gt(..))`) and scan requests.

use crate::catalog::IndexInfo;
use crate::{DatabaseError, Result};
use storage::{KeyRange, Order};
use value::{index_key, Object, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LowerOp {
    Gt,
    Gte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UpperOp {
    Lt,
    Lte,
}

/// A range over an index: equalities on a prefix of its fields, then at most one lower and one upper bound on the
/// next field. Built like Convex's index range expression.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexRange {
    eqs: Vec<(String, Value)>,
    lower: Option<(String, LowerOp, Value)>,
    upper: Option<(String, UpperOp, Value)>,
}

impl IndexRange {
    /// The whole index.
    pub fn all() -> Self {
        Self::default()
    }

    pub fn eq(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.eqs.push((field.to_string(), value.into()));
        self
    }

    pub fn gt(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.lower = Some((field.to_string(), LowerOp::Gt, value.into()));
        self
    }

    pub fn gte(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.lower = Some((field.to_string(), LowerOp::Gte, value.into()));
        self
    }

    pub fn lt(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.upper = Some((field.to_string(), UpperOp::Lt, value.into()));
        self
    }

    pub fn lte(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.upper = Some((field.to_string(), UpperOp::Lte, value.into()));
        self
    }

    /// Translates the range into a key interval of `index`, checking that fields are used in index order.
    pub fn to_key_range(&self, index: &IndexInfo) -> Result<KeyRange> {
        let fields = &index.key_fields;
        let mut prefix = Vec::new();
        for (i, (field, value)) in self.eqs.iter().enumerate() {
            if fields.get(i) != Some(field) {
                return Err(out_of_order(index, field, i));
            }
            index_key::encode(value, &mut prefix);
        }
        let next = self.eqs.len();
        let mut start = prefix.clone();
        let mut end = index_key::prefix_successor(&prefix);
        if let Some((field, op, value)) = &self.lower {
            if fields.get(next) != Some(field) {
                return Err(out_of_order(index, field, next));
            }
            let mut bound = prefix.clone();
            index_key::encode(value, &mut bound);
            start = match op {
                LowerOp::Gte => bound,
                LowerOp::Gt => match index_key::prefix_successor(&bound) {
                    Some(s) => s,
                    None => return Ok(empty()),
                },
            };
        }
        if let Some((field, op, value)) = &self.upper {
            if fields.get(next) != Some(field) {
                return Err(out_of_order(index, field, next));
            }
            let mut bound = prefix.clone();
            index_key::encode(value, &mut bound);
            end = match op {
                UpperOp::Lt => Some(bound),
                UpperOp::Lte => index_key::prefix_successor(&bound),
            };
        }
        let range = KeyRange { start, end };
        Ok(if range.is_empty() { empty() } else { range })
    }
}

fn empty() -> KeyRange {
    KeyRange { start: vec![0], end: Some(vec![0]) }
}

fn out_of_order(index: &IndexInfo, field: &str, position: usize) -> DatabaseError {
    let expected = index.key_fields.get(position).map(String::as_str).unwrap_or("<end of index>");
    DatabaseError::Invalid(format!(
        "index range on {:?} must use the index fields in order: expected {expected:?} at position {position}, got {field:?} (index fields: {})",
        index.name,
        index.key_fields.join(", ")
    ))
}

/// A document predicate applied after the index range (`.filter(..)`); scanned documents count against limits.
pub type Filter = Box<dyn Fn(&Object) -> bool + Send + Sync>;

/// One scan of an index.
pub struct ScanRequest {
    pub table: String,
    pub index: String,
    pub range: IndexRange,
    pub order: Order,
    /// Stop after this many matching documents.
    pub limit: Option<usize>,
    pub filter: Option<Filter>,
    /// Resume after this key (exclusive), as returned in [`ScanResult::last_key`].
    pub after: Option<Vec<u8>>,
    /// Stop at this key (inclusive): the fixed end of a page (`endCursor`).
    pub until: Option<Vec<u8>>,
    /// Stop after examining this many documents (before the filter), like `maximumRowsRead`.
    pub max_examined: Option<usize>,
    /// Stop once this many bytes of documents were examined, like `maximumBytesRead`.
    pub max_bytes: Option<usize>,
}

impl ScanRequest {
    pub fn new(table: &str, index: &str) -> Self {
        ScanRequest {
            table: table.to_string(),
            index: index.to_string(),
            range: IndexRange::all(),
            order: Order::Asc,
            limit: None,
            filter: None,
            after: None,
            until: None,
            max_examined: None,
            max_bytes: None,
        }
    }
}

/// The documents a scan returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanResult {
    pub documents: Vec<Object>,
    /// The index key of each returned document (same order as `documents`).
    pub keys: Vec<Vec<u8>>,
    /// How many documents were examined (before the filter) and their size.
    pub examined: usize,
    pub bytes_examined: usize,
    /// Whether `max_examined` or `max_bytes` stopped the scan before the range or the limit was reached.
    pub capped: bool,
    /// The key of the last document examined (for cursors), if any.
    pub last_key: Option<Vec<u8>>,
    /// Whether the whole range was examined.
    pub done: bool,
}
