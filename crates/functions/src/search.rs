//! Full-text search from functions: `ctx.db.query("messages").with_search_index("search_body", |q|
//! q.search("body", "hello").eq("channel", "#general"))` then `take`/`first`/`collect`/`unique`/`paginate`. The
//! engine (tokens, postings, BM25, read sets) is `database::search`; it ranks from the postings, and only the
//! documents returned (a page, the first `n`, or as many as a `filter` needs) are read.

use crate::context::{with_txn, Document, SharedTxn};
use crate::pagination::{PaginationOptions, PaginationResult};
use crate::FunctionError;
use database::query::Filter;
use database::{ScanResult, SearchMatch, SearchQuery};
use protocol::ErrorCode;
use value::Value;

/// The filter expression of `with_search_index`: one `search(field, text)` and any number of `eq(field, value)` on
/// the index's filter fields.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    pub(crate) field: String,
    pub(crate) text: String,
    pub(crate) filters: Vec<(String, Option<Value>)>,
}

impl SearchFilter {
    /// Documents whose `field` contains any word of `text` (the last word also as a prefix).
    pub fn search(mut self, field: &str, text: &str) -> Self {
        self.field = field.to_string();
        self.text = text.to_string();
        self
    }

    /// Restricts to documents whose filter field equals `value`.
    pub fn eq(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.filters.push((field.to_string(), Some(value.into())));
        self
    }

    /// Restricts to documents without the filter field (`eq(field, undefined)`).
    pub fn eq_missing(mut self, field: &str) -> Self {
        self.filters.push((field.to_string(), None));
        self
    }
}

async fn matches(txn: &SharedTxn, query: &SearchQuery) -> Result<Vec<SearchMatch>, FunctionError> {
    with_txn(txn, async |t| t.search_matches(query).await).await
}

/// The documents of `matches` that pass `filter`, in order, at most `limit`: reads documents only until it has them.
async fn documents(
    txn: &SharedTxn,
    matches: &[SearchMatch],
    filter: Option<&Filter>,
    limit: usize,
) -> Result<Vec<Document>, FunctionError> {
    let mut out = Vec::new();
    let mut next = 0;
    while out.len() < limit && next < matches.len() {
        let chunk = &matches[next..matches.len().min(next.saturating_add(limit - out.len()))];
        next += chunk.len();
        let hits = with_txn(txn, async |t| t.search_documents(chunk).await).await?;
        out.extend(hits.into_iter().map(|h| h.document).filter(|d| filter.is_none_or(|f| f(d))).map(Document));
    }
    out.truncate(limit);
    Ok(out)
}

/// `take`/`collect`/`first` over a search.
pub(crate) async fn run(
    txn: &SharedTxn,
    query: &SearchQuery,
    filter: Option<&Filter>,
    limit: Option<usize>,
) -> Result<ScanResult, FunctionError> {
    let matches = matches(txn, query).await?;
    let documents = documents(txn, &matches, filter, limit.unwrap_or(usize::MAX)).await?;
    Ok(ScanResult { documents: documents.into_iter().map(|d| d.0).collect(), done: true, ..Default::default() })
}

fn binding(query: &SearchQuery) -> [u8; 8] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let filters: Vec<String> = query
        .filters
        .iter()
        .map(|(f, v)| format!("{f}={}", v.as_ref().map(value::json::to_json_string).unwrap_or_default()))
        .collect();
    for part in [query.table.as_str(), query.index.as_str(), query.search_field.as_str(), query.text.as_str()]
        .into_iter()
        .chain(filters.iter().map(String::as_str))
    {
        for b in (part.len() as u64).to_be_bytes().iter().chain(part.as_bytes()) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash.to_be_bytes()
}

/// Search cursors: `[2][binding][offset]`, base64url (offsets into the relevance order).
fn encode(binding: &[u8; 8], offset: usize) -> String {
    use base64::Engine;
    let mut bytes = vec![2];
    bytes.extend_from_slice(binding);
    bytes.extend_from_slice(&(offset as u64).to_be_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn decode(binding: &[u8; 8], cursor: &str) -> Result<usize, FunctionError> {
    use base64::Engine;
    let invalid = || {
        FunctionError::convex_with_message(
            ErrorCode::InvalidCursor.prefixed(&format!("{cursor:?} is not a cursor of this search")),
            value::obj! {"isConvexSystemError" => true, "paginationError" => "InvalidCursor"},
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    if bytes.len() != 17 || bytes[0] != 2 || &bytes[1..9] != binding {
        return Err(invalid());
    }
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&bytes[9..]);
    Ok(u64::from_be_bytes(offset) as usize)
}

/// `paginate` over a search: pages of the relevance order (at most 1,024 results in all).
pub(crate) async fn paginate(
    txn: &SharedTxn,
    query: &SearchQuery,
    filter: Option<&Filter>,
    options: PaginationOptions,
) -> Result<PaginationResult, FunctionError> {
    let n = options.num_items;
    if !(n.is_finite() && n >= 0.0) {
        return Err(FunctionError::msg(format!("paginationOpts.numItems must be a non-negative number, got {n}")));
    }
    let bound = binding(query);
    let start = options.cursor.as_deref().map(|c| decode(&bound, c)).transpose()?.unwrap_or(0);
    let end = options.end_cursor.as_deref().map(|c| decode(&bound, c)).transpose()?;
    let end = end.unwrap_or(start.saturating_add((n as usize).max(1))).max(start);
    let matches = matches(txn, query).await?;
    let (page, is_done) = match filter {
        // Positions are in the order of the matches: read just the page.
        None => {
            let page = documents(txn, matches.get(start..).unwrap_or_default(), None, end - start).await?;
            (page, end >= matches.len())
        }
        // Positions are in the order of the matches that pass the filter: every document is needed.
        Some(filter) => {
            let all = documents(txn, &matches, Some(filter), usize::MAX).await?;
            let is_done = end >= all.len();
            (all.into_iter().skip(start).take(end - start).collect(), is_done)
        }
    };
    Ok(PaginationResult { page, is_done, continue_cursor: encode(&bound, end), split_cursor: None, page_status: None })
}
