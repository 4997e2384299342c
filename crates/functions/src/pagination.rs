//! Paginated queries with Convex's contract (spec §1): opaque cursors bound to the query, fixed page ends
//! (`endCursor`), the query journal that keeps a subscribed page's end where its first execution put it, and split
//! cursors for pages that grew.
//!
//! A cursor is a position in the query's index range: after a key (`Key`), or past the last result (`End`). A page
//! is the keys in `(cursor, end]`. Its first execution takes `numItems` results and records the page's end (its
//! `continueCursor`) in the journal; every re-execution of the same subscription reads the journal and returns
//! every result in `(cursor, end]` with the same `continueCursor`, so the next page (subscribed with that cursor)
//! starts exactly where this one stops, however rows move. A first execution that reaches the end of the results
//! ends at `End`, so rows appended later join the last page.
//!
//! Wire form of a cursor: base64url (no padding) of `[1][8-byte binding][0 + key | 1]`, where the binding is a
//! stable hash (FNV-1a) of table, index, order and the range's key interval: the same across restarts and
//! backends, and a cursor of another query is refused with `InvalidCursor`. The journal is a JSON list of end
//! cursors, one per `paginate` call in call order.

use crate::context::{with_txn, Document, SharedTxn};
use crate::FunctionError;
use database::{KeyRange, Order, ScanRequest};
use parking_lot::Mutex;
use protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use value::validator::v;
use value::{FieldValidator, Validator, Value};

/// Pagination options, like Convex's `paginationOpts` (`paginationOptsValidator`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaginationOptions {
    /// Page size of the first execution (re-executions return the whole journaled range).
    pub num_items: f64,
    /// Where the page starts (exclusive); `None` = the start of the query.
    pub cursor: Option<String>,
    /// Where the page ends (inclusive), fixed: used by clients splitting a page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_cursor: Option<String>,
    /// A client-side cache buster, never used by the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<f64>,
    /// At most this many documents enter the pipeline (before filters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_rows_read: Option<f64>,
    /// At most this many bytes of documents are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_bytes_read: Option<f64>,
}

impl PaginationOptions {
    /// The first page of `num_items`.
    pub fn first(num_items: usize) -> Self {
        PaginationOptions { num_items: num_items as f64, ..Default::default() }
    }
}

/// `paginationOptsValidator`: the argument validator of `paginationOpts`.
pub fn pagination_opts_validator() -> Validator {
    let string_or_null = || v::union(vec![v::string(), v::null()]);
    let fields: Vec<(&str, FieldValidator)> = vec![
        ("numItems", v::required(v::number())),
        ("cursor", v::required(string_or_null())),
        ("endCursor", v::optional(string_or_null())),
        ("id", v::optional(v::number())),
        ("maximumRowsRead", v::optional(v::number())),
        ("maximumBytesRead", v::optional(v::number())),
    ];
    v::object(fields)
}

/// Why a page should be split (`pageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageStatus {
    /// The page read a lot and should be split.
    SplitRecommended,
    /// A read limit stopped the page before its end: `page` is incomplete until it is split.
    SplitRequired,
}

/// One page, serialized as Convex's `{page, isDone, continueCursor, splitCursor, pageStatus}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaginationResult<T = Document> {
    pub page: Vec<T>,
    pub is_done: bool,
    /// Always a string, also when `is_done`.
    pub continue_cursor: String,
    /// A cursor inside the page: `(cursor, split]` + `(split, continueCursor]` is the same page in two.
    pub split_cursor: Option<String>,
    pub page_status: Option<PageStatus>,
}

impl<T> PaginationResult<T> {
    /// The same page with its items transformed (like `{...result, page: result.page.map(f)}`).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PaginationResult<U> {
        PaginationResult {
            page: self.page.into_iter().map(f).collect(),
            is_done: self.is_done,
            continue_cursor: self.continue_cursor,
            split_cursor: self.split_cursor,
            page_status: self.page_status,
        }
    }
}

/// A position in a query's index range.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Position {
    /// Just after this index key (in the query's order).
    Key(Vec<u8>),
    /// Past every result.
    End,
}

const CURSOR_VERSION: u8 = 1;

fn invalid_cursor(message: impl std::fmt::Display) -> FunctionError {
    FunctionError::convex_with_message(
        ErrorCode::InvalidCursor.prefixed(&message.to_string()),
        value::obj! {"isConvexSystemError" => true, "paginationError" => "InvalidCursor"},
    )
}

/// FNV-1a over length-prefixed parts: stable across processes, platforms and releases.
fn binding(table: &str, index: &str, order: Order, range: &KeyRange) -> [u8; 8] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in (bytes.len() as u64).to_be_bytes().iter().chain(bytes) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    feed(table.as_bytes());
    feed(index.as_bytes());
    feed(&[match order {
        Order::Asc => 0,
        Order::Desc => 1,
    }]);
    feed(&range.start);
    match &range.end {
        Some(end) => {
            feed(&[1]);
            feed(end);
        }
        None => feed(&[0]),
    }
    hash.to_be_bytes()
}

fn encode(binding: &[u8; 8], position: &Position) -> String {
    use base64::Engine;
    let mut bytes = Vec::with_capacity(10);
    bytes.push(CURSOR_VERSION);
    bytes.extend_from_slice(binding);
    match position {
        Position::Key(key) => {
            bytes.push(0);
            bytes.extend_from_slice(key);
        }
        Position::End => bytes.push(1),
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn decode(binding: &[u8; 8], cursor: &str) -> Result<Position, FunctionError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid_cursor(format!("{cursor:?} is not a pagination cursor")))?;
    match bytes.split_first() {
        Some((&CURSOR_VERSION, rest)) if rest.len() >= 9 => {
            let (bound, rest) = rest.split_at(8);
            if bound != binding {
                return Err(invalid_cursor(
                    "Tried to run a query starting from a cursor, but it looks like this cursor is from a different query.",
                ));
            }
            match rest.split_first() {
                Some((0, key)) => Ok(Position::Key(key.to_vec())),
                Some((1, [])) => Ok(Position::End),
                _ => Err(invalid_cursor(format!("{cursor:?} is not a pagination cursor"))),
            }
        }
        _ => Err(invalid_cursor(format!("{cursor:?} is not a pagination cursor"))),
    }
}

/// The query journal of one execution: the end cursors a subscription's earlier execution recorded (read back by
/// the `paginate` calls in call order) and the ones this execution records.
#[derive(Clone, Default)]
pub(crate) struct Journal(Arc<Mutex<JournalState>>);

#[derive(Default)]
struct JournalState {
    /// The journal this execution was given: its ends, or why it is unusable.
    given: Option<Result<Vec<String>, String>>,
    calls: usize,
    ends: Vec<String>,
}

impl Journal {
    /// A journal as the sync protocol carries it (`None`/`null` = a first execution).
    pub(crate) fn new(text: Option<&str>) -> Self {
        let given = match text {
            None | Some("null") => None,
            Some(text) => {
                Some(serde_json::from_str::<Vec<String>>(text).map_err(|_| format!("{text:?} is not a query journal")))
            }
        };
        Journal(Arc::new(Mutex::new(JournalState { given, calls: 0, ends: Vec::new() })))
    }

    /// The journaled end of the next `paginate` call, if the journal has one.
    fn next_end(&self) -> Result<Option<String>, FunctionError> {
        let mut state = self.0.lock();
        let call = state.calls;
        state.calls += 1;
        match &state.given {
            None => Ok(None),
            Some(Err(message)) => Err(invalid_cursor(message)),
            Some(Ok(ends)) => Ok(ends.get(call).cloned()),
        }
    }

    fn record(&self, end: String) {
        self.0.lock().ends.push(end);
    }

    /// The journal to hand back with the result: `None` when the query did not paginate.
    pub(crate) fn output(&self) -> Option<String> {
        let state = self.0.lock();
        if state.ends.is_empty() {
            return None;
        }
        serde_json::to_string(&state.ends).ok()
    }
}

fn positive(n: Option<f64>) -> Option<usize> {
    n.filter(|n| n.is_finite() && *n >= 0.0).map(|n| n as usize)
}

/// Runs one page of `request` (its table, index, range, order and filter).
pub(crate) async fn paginate(
    txn: &SharedTxn,
    mut request: ScanRequest,
    journal: &Journal,
    options: PaginationOptions,
) -> Result<PaginationResult, FunctionError> {
    let n = options.num_items;
    if !(n.is_finite() && n >= 0.0) {
        return Err(FunctionError::msg(format!("paginationOpts.numItems must be a non-negative number, got {n}")));
    }
    let num_items = (n as usize).max(1);
    let journaled_end = journal.next_end()?;
    let (table, index, order) = (request.table.clone(), request.index.clone(), request.order);
    let range = request.range.clone();
    let key_range = with_txn(txn, async |t| t.key_range(&table, &index, &range).await).await?;
    let bound = binding(&table, &index, order, &key_range);
    let start = match options.cursor.as_deref() {
        None => None,
        Some(c) => Some(decode(&bound, c)?),
    };
    let end = match options.end_cursor.or(journaled_end) {
        None => None,
        Some(c) => Some(decode(&bound, &c)?),
    };
    let cursor_of = |p: &Position| encode(&bound, p);
    if start == Some(Position::End) {
        let end = cursor_of(&Position::End);
        journal.record(end.clone());
        return Ok(PaginationResult {
            page: Vec::new(),
            is_done: true,
            continue_cursor: end,
            split_cursor: None,
            page_status: None,
        });
    }
    let after = match &start {
        Some(Position::Key(k)) => Some(k.clone()),
        _ => None,
    };
    request.after = after.clone();
    request.max_examined = positive(options.maximum_rows_read);
    request.max_bytes = positive(options.maximum_bytes_read);
    match &end {
        None => request.limit = Some(num_items),
        Some(Position::Key(k)) => request.until = Some(k.clone()),
        Some(Position::End) => {}
    }
    let result = with_txn(txn, async |t| t.scan(request).await).await?;
    let (continue_at, is_done, split_at, page_status) = match end {
        None => {
            if result.done {
                (Position::End, true, None, None)
            } else {
                let last = result.last_key.clone().or(after);
                (last.map(Position::Key).unwrap_or(Position::End), false, None, None)
            }
        }
        Some(end) => {
            let is_done = end == Position::End;
            if result.capped {
                let split = result.last_key.clone().map(Position::Key);
                (end, is_done, split, Some(PageStatus::SplitRequired))
            } else if result.keys.len() > 2 * num_items {
                let middle = result.keys.get(result.keys.len() / 2 - 1).cloned().map(Position::Key);
                (end, is_done, middle, None)
            } else {
                (end, is_done, None, None)
            }
        }
    };
    let continue_cursor = cursor_of(&continue_at);
    journal.record(continue_cursor.clone());
    Ok(PaginationResult {
        page: result.documents.into_iter().map(Document).collect(),
        is_done,
        continue_cursor,
        split_cursor: split_at.as_ref().map(cursor_of),
        page_status,
    })
}

/// The `paginationOpts` of a function's arguments as options (for apps taking `Value` arguments).
pub fn pagination_opts_of(args: &Value) -> Result<PaginationOptions, FunctionError> {
    let opts = args.get("paginationOpts").cloned().unwrap_or(Value::Null);
    Ok(value::from_value(opts)?)
}

#[cfg(test)]
mod tests;
