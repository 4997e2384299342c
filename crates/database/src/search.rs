//! Full-text search indexes (DESIGN.md decision 13): postings are index entries in the same persistence, written
//! in the document's transaction, so searches are transactional, see their own writes, work on every backend and
//! are reactive through ordinary read sets over the terms they looked up.
//!
//! * Tokens: the search field split on every character that is not alphanumeric, lower-cased; tokens longer than
//!   32 bytes are cut (at a character boundary). At most 16 query terms are used.
//! * Posting key (one per distinct term of a document): `term` (string key), then each filter field's value (or
//!   "missing"), then the document id (string key), then the term's frequency and the document's token count (4
//!   bytes each, big-endian). The entry's value is the document id.
//! * A search reads, for every query term, the postings of exactly that term — narrowed to the `eq` filter values
//!   when they cover a prefix of the index's filter fields — and for the last term every term it is a prefix of
//!   (`"hel"` matches `"hello"`). Those intervals are its read set: a write re-runs it only if it adds or removes a
//!   posting inside them. At most 1,024 documents are examined (Convex's limit).
//! * Ranking: BM25 (k1 = 1.2, b = 0.75). Document frequencies and the average length are taken over the documents
//!   the query examined (no table-wide statistics, which every insert would have to update), so rarer query terms
//!   weigh more and shorter documents rank higher. Ties: newer documents first.

use crate::catalog::{lookup_path, SearchSpec};
use crate::transaction::{decode_document, Transaction};
use crate::{Database, DatabaseError, Result};
use std::collections::{BTreeMap, HashMap, HashSet};
use storage::{KeyRange, Order};
use value::{index_key, DocumentId, Object, Value};

/// Longest token kept (bytes).
pub const MAX_TOKEN_BYTES: usize = 32;
/// Query terms beyond this many are ignored.
pub const MAX_QUERY_TERMS: usize = 16;
/// Most documents a search examines.
pub const MAX_CANDIDATES: usize = 1024;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// The tokens of a text, in order (with repeats).
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| {
            let mut token = t.to_lowercase();
            if token.len() > MAX_TOKEN_BYTES {
                let mut cut = MAX_TOKEN_BYTES;
                while !token.is_char_boundary(cut) {
                    cut -= 1;
                }
                token.truncate(cut);
            }
            token
        })
        .collect()
}

fn term_key(term: &str) -> Vec<u8> {
    index_key::encode_to_vec(&Value::String(term.to_string()))
}

/// The key prefix of every term that starts with `prefix` (a string key without its terminator).
fn term_prefix(prefix: &str) -> Vec<u8> {
    let mut key = term_key(prefix);
    // A string key ends with its two-byte terminator; terms never contain a zero byte, so nothing else is escaped.
    key.truncate(key.len().saturating_sub(2));
    key
}

/// The postings of a document in a search index (none if the search field is not a string).
pub fn posting_keys(spec: &SearchSpec, doc: &Object) -> Vec<Vec<u8>> {
    let Some(Value::String(text)) = lookup_path(doc, &spec.search_field) else { return Vec::new() };
    let Some(Value::String(id)) = doc.get("_id") else { return Vec::new() };
    let tokens = tokenize(text);
    let length = tokens.len().min(u32::MAX as usize) as u32;
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for token in tokens {
        *counts.entry(token).or_default() += 1;
    }
    let mut suffix = Vec::new();
    for field in &spec.filter_fields {
        match lookup_path(doc, field) {
            Some(v) => index_key::encode(v, &mut suffix),
            None => index_key::encode_missing(&mut suffix),
        }
    }
    index_key::encode(&Value::String(id.clone()), &mut suffix);
    counts
        .into_iter()
        .map(|(term, count)| {
            let mut key = term_key(&term);
            key.extend_from_slice(&suffix);
            key.extend_from_slice(&count.to_be_bytes());
            key.extend_from_slice(&length.to_be_bytes());
            key
        })
        .collect()
}

/// Term frequency and document length from the end of a posting key.
fn posting_counts(key: &[u8]) -> (u32, u32) {
    let n = key.len();
    if n < 8 {
        return (1, 1);
    }
    let tf = u32::from_be_bytes([key[n - 8], key[n - 7], key[n - 6], key[n - 5]]);
    let len = u32::from_be_bytes([key[n - 4], key[n - 3], key[n - 2], key[n - 1]]);
    (tf, len)
}

/// A search: `search(field, text)` then `eq(filter field, value)`s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    pub table: String,
    pub index: String,
    pub search_field: String,
    pub text: String,
    /// `eq` filters; `None` = the field is absent (`undefined`).
    pub filters: Vec<(String, Option<Value>)>,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub document: Object,
    pub score: f64,
}

struct Candidate {
    document: Object,
    /// Per query term: the term frequency (the best-matching posting for a prefix term).
    tf: Vec<u32>,
    length: u32,
}

impl Transaction {
    /// Runs a full-text search; hits in relevance order (see the module documentation).
    pub async fn search(&mut self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let table = Database::ensure_table(&self.inner, &query.table).await?;
        let index = table.index(&query.index).cloned().ok_or_else(|| {
            DatabaseError::NotFound(format!("search index {:?} not found on table {:?}", query.index, query.table))
        })?;
        let Some(spec) = index.search.clone() else {
            return Err(DatabaseError::Invalid(format!("{:?} is not a search index", query.index)));
        };
        if spec.search_field != query.search_field {
            return Err(DatabaseError::Invalid(format!(
                "search index {:?} indexes {:?}, not {:?}",
                query.index, spec.search_field, query.search_field
            )));
        }
        for (field, _) in &query.filters {
            if !spec.filter_fields.contains(field) {
                return Err(DatabaseError::Invalid(format!(
                    "{field:?} is not a filter field of search index {:?} (filter fields: {})",
                    query.index,
                    spec.filter_fields.join(", ")
                )));
            }
        }
        let mut terms: Vec<String> = Vec::new();
        for token in tokenize(&query.text) {
            if !terms.contains(&token) {
                terms.push(token);
            }
        }
        terms.truncate(MAX_QUERY_TERMS);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        // The filter values covering a prefix of the index's filter fields narrow each term's interval.
        let mut filter_prefix = Vec::new();
        for field in &spec.filter_fields {
            match query.filters.iter().find(|(f, _)| f == field) {
                Some((_, Some(v))) => index_key::encode(v, &mut filter_prefix),
                Some((_, None)) => index_key::encode_missing(&mut filter_prefix),
                None => break,
            }
        }
        let last = terms.len() - 1;
        let ranges: Vec<KeyRange> = terms
            .iter()
            .enumerate()
            .map(|(i, term)| {
                let mut start = if i == last { term_prefix(term) } else { term_key(term) };
                if i != last {
                    start.extend_from_slice(&filter_prefix);
                }
                let end = index_key::prefix_successor(&start);
                KeyRange { start, end }
            })
            .collect();

        let superseded: HashSet<Vec<u8>> =
            self.writes.iter().filter(|(_, w)| w.table == table.number).map(|(id, _)| id.to_bytes()).collect();
        let own: Vec<(Vec<u8>, Object)> = self
            .writes
            .values()
            .filter(|w| w.table == table.number)
            .filter_map(|w| w.new.as_ref())
            .flat_map(|doc| posting_keys(&spec, doc).into_iter().map(move |k| (k, doc.clone())))
            .collect();

        let mut candidates: HashMap<Vec<u8>, Candidate> = HashMap::new();
        let matches_filters =
            |doc: &Object| query.filters.iter().all(|(field, want)| lookup_path(doc, field) == want.as_ref());
        'terms: for (i, range) in ranges.iter().enumerate() {
            let mut remaining = range.clone();
            let add = |candidates: &mut HashMap<Vec<u8>, Candidate>, key: &[u8], id: Vec<u8>, doc: Object| {
                let (tf, length) = posting_counts(key);
                if let Some(c) = candidates.get_mut(&id) {
                    c.tf[i] = c.tf[i].max(tf);
                    return true;
                }
                if candidates.len() >= MAX_CANDIDATES || !matches_filters(&doc) {
                    return false;
                }
                let mut counts = vec![0; ranges.len()];
                counts[i] = tf;
                candidates.insert(id, Candidate { document: doc, tf: counts, length });
                true
            };
            for (key, doc) in own.iter().filter(|(k, _)| range.contains(k)) {
                if let Some(Value::String(id)) = doc.get("_id") {
                    if let Ok(id) = DocumentId::parse(id) {
                        add(&mut candidates, key, id.to_bytes(), doc.clone());
                    }
                }
            }
            loop {
                let page = self.snapshot.scan(index.id, &remaining, Order::Asc, 256).await?;
                let done = page.len() < 256;
                if let Some(last) = page.last() {
                    let mut next = last.key.clone();
                    next.push(0);
                    remaining.start = next;
                }
                for entry in page {
                    if superseded.contains(&entry.id) {
                        continue;
                    }
                    if !candidates.contains_key(&entry.id) {
                        if candidates.len() >= MAX_CANDIDATES {
                            break 'terms;
                        }
                        let doc = decode_document(&entry.document.body)?;
                        self.charge_read(&doc)?;
                        add(&mut candidates, &entry.key, entry.id, doc);
                    } else {
                        let (tf, _) = posting_counts(&entry.key);
                        if let Some(c) = candidates.get_mut(&entry.id) {
                            c.tf[i] = c.tf[i].max(tf);
                        }
                    }
                }
                if done {
                    break;
                }
            }
        }
        for range in ranges {
            self.reads.add(index.id, range);
        }
        Ok(rank(candidates.into_values().collect(), terms.len()))
    }
}

/// BM25 over the candidates (see the module documentation); ties newest first.
fn rank(candidates: Vec<Candidate>, terms: usize) -> Vec<SearchHit> {
    let n = candidates.len() as f64;
    if candidates.is_empty() {
        return Vec::new();
    }
    let average = candidates.iter().map(|c| f64::from(c.length.max(1))).sum::<f64>() / n;
    let df: Vec<f64> = (0..terms).map(|t| candidates.iter().filter(|c| c.tf[t] > 0).count() as f64).collect();
    let mut hits: Vec<(f64, f64, Object)> = candidates
        .into_iter()
        .map(|c| {
            let length = f64::from(c.length.max(1));
            let score = (0..terms)
                .filter(|t| c.tf[*t] > 0)
                .map(|t| {
                    let tf = f64::from(c.tf[t]);
                    let idf = (1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)).ln();
                    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length / average))
                })
                .sum::<f64>();
            let created = c.document.get("_creationTime").and_then(|v| v.as_f64()).unwrap_or(0.0);
            (score, created, c.document)
        })
        .collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
    hits.into_iter().map(|(score, _, document)| SearchHit { document, score }).collect()
}

#[cfg(test)]
mod tests;
