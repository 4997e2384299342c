//! Full-text search indexes (DESIGN.md decision 13): postings are index entries in the same persistence, written
//! in the document's transaction, so searches are transactional, see their own writes, work on every backend and
//! are reactive through ordinary read sets over the terms they looked up.
//!
//! * Tokens: the search field split on every character that is not alphanumeric, lower-cased; tokens longer than
//!   32 bytes are cut (at a character boundary). At most 16 query terms are used.
//! * Posting key (one per distinct term of a document; format [`POSTINGS_FORMAT`]): `term` (string key), then each
//!   filter field's value (or "missing"), then the document id (string key), then the document's `_creationTime`
//!   (8 bytes, its bits big-endian), the term's frequency and the document's token count (4 bytes each, big-endian).
//!   The entry's value is the document id. An index whose catalog entry records another format is rebuilt at start.
//! * A search reads, for every query term, the postings of exactly that term — narrowed to the `eq` filter values
//!   when they cover a prefix of the index's filter fields — and for the last term every term it is a prefix of
//!   (`"hel"` matches `"hello"`). Those intervals are its read set: a write re-runs it only if it adds or removes a
//!   posting inside them. At most 1,024 documents are examined (Convex's limit).
//! * It ranks from the posting keys alone (keys-only scans: term frequency, length, creation time and filter values
//!   are all in the key), then reads only the documents it returns ([`Transaction::search_documents`]): a `take(10)`
//!   over a word in thousands of documents reads ten.
//! * Ranking: BM25 (k1 = 1.2, b = 0.75). Document frequencies and the average length are taken over the documents
//!   the query examined (no table-wide statistics, which every insert would have to update), so rarer query terms
//!   weigh more and shorter documents rank higher. Ties: newer documents first.

use crate::catalog::{lookup_path, SearchSpec};
use crate::transaction::{decode_document, Transaction};
use crate::{Database, DatabaseError, Result};
use std::collections::{BTreeMap, HashMap, HashSet};
use storage::{KeyRange, Order};
use value::{index_key, Object, Value};

/// The posting key layout this build writes (recorded in the catalog: an index of another format is rebuilt).
pub const POSTINGS_FORMAT: u32 = 2;

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
    let created = doc.get("_creationTime").and_then(Value::as_f64).unwrap_or(0.0);
    suffix.extend_from_slice(&created.to_bits().to_be_bytes());
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

/// The fixed-size tail of a posting key: creation time, term frequency, document length.
const TAIL: usize = 16;

/// `(creation time, term frequency, document length)` from the end of a posting key.
fn posting_tail(key: &[u8]) -> (f64, u32, u32) {
    let Some(tail) = key.len().checked_sub(TAIL).and_then(|at| key.get(at..)) else { return (0.0, 1, 1) };
    let mut created = [0u8; 8];
    created.copy_from_slice(&tail[..8]);
    let tf = u32::from_be_bytes([tail[8], tail[9], tail[10], tail[11]]);
    let len = u32::from_be_bytes([tail[12], tail[13], tail[14], tail[15]]);
    (f64::from_bits(u64::from_be_bytes(created)), tf, len)
}

/// Whether a posting key's filter-field values are the wanted ones (`wanted`: position among the index's filter
/// fields, value). Decodes only as far as the last wanted field.
fn posting_matches(key: &[u8], wanted: &[(usize, Option<Value>)]) -> bool {
    let Some(last) = wanted.iter().map(|(at, _)| *at).max() else { return true };
    let Ok((_, mut at)) = index_key::decode(key) else { return false };
    for field in 0..=last {
        let Some(rest) = key.get(at..) else { return false };
        let Ok((value, used)) = index_key::decode(rest) else { return false };
        at += used;
        if wanted.iter().any(|(position, want)| *position == field && *want != value) {
            return false;
        }
    }
    true
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

/// One ranked match of a search, before its document is read ([`Transaction::search_documents`] reads it).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchMatch {
    /// The document id (storage bytes).
    id: Vec<u8>,
    pub score: f64,
    /// The document as this transaction wrote it, when it did.
    own: Option<Object>,
}

struct Candidate {
    own: Option<Object>,
    /// Per query term: the term frequency (the best-matching posting for a prefix term).
    tf: [u32; MAX_QUERY_TERMS],
    length: u32,
    created: f64,
}

/// The documents a search examined, by id.
struct Candidates {
    by_id: HashMap<Vec<u8>, Candidate>,
    /// The `eq` filters: position among the index's filter fields, value.
    wanted: Vec<(usize, Option<Value>)>,
}

impl Candidates {
    /// Adds a posting of term `i`; false when it would be a new candidate beyond the cap.
    fn add(&mut self, i: usize, key: &[u8], id: Vec<u8>, own: Option<&Object>) -> bool {
        let (created, tf, length) = posting_tail(key);
        if let Some(c) = self.by_id.get_mut(&id) {
            c.tf[i] = c.tf[i].max(tf);
            return true;
        }
        if !posting_matches(key, &self.wanted) {
            return true;
        }
        if self.by_id.len() >= MAX_CANDIDATES {
            return false;
        }
        let mut counts = [0; MAX_QUERY_TERMS];
        counts[i] = tf;
        self.by_id.insert(id, Candidate { own: own.cloned(), tf: counts, length, created });
        true
    }
}

impl Transaction {
    /// Runs a full-text search and reads every hit's document; hits in relevance order (see the module
    /// documentation). [`Transaction::search_matches`] then [`Transaction::search_documents`] read only the
    /// documents wanted.
    pub async fn search(&mut self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let matches = self.search_matches(query).await?;
        self.search_documents(&matches).await
    }

    /// The matches of a search in relevance order, ranked from the posting keys: reads no document (and so counts
    /// none against the read limits).
    pub async fn search_matches(&mut self, query: &SearchQuery) -> Result<Vec<SearchMatch>> {
        let table = Database::ensure_table(&self.inner, &query.table).await?;
        let index = table.index(&query.index).ok_or_else(|| {
            DatabaseError::NotFound(format!("search index {:?} not found on table {:?}", query.index, query.table))
        })?;
        let Some(spec) = index.search.as_ref() else {
            return Err(DatabaseError::Invalid(format!("{:?} is not a search index", query.index)));
        };
        if spec.search_field != query.search_field {
            return Err(DatabaseError::Invalid(format!(
                "search index {:?} indexes {:?}, not {:?}",
                query.index, spec.search_field, query.search_field
            )));
        }
        let mut wanted: Vec<(usize, Option<Value>)> = Vec::with_capacity(query.filters.len());
        for (field, value) in &query.filters {
            let Some(position) = spec.filter_fields.iter().position(|f| f == field) else {
                return Err(DatabaseError::Invalid(format!(
                    "{field:?} is not a filter field of search index {:?} (filter fields: {})",
                    query.index,
                    spec.filter_fields.join(", ")
                )));
            };
            wanted.push((position, value.clone()));
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

        // This transaction's own writes: its postings replace the snapshot's for every document it wrote.
        let mut superseded: HashSet<Vec<u8>> = HashSet::new();
        let mut own: Vec<(Vec<u8>, Vec<u8>, &Object)> = Vec::new();
        for (id, write) in self.writes.iter().filter(|(_, w)| w.table == table.number) {
            superseded.insert(id.to_bytes());
            if let Some(doc) = &write.new {
                own.extend(posting_keys(spec, doc).into_iter().map(|key| (key, id.to_bytes(), doc)));
            }
        }

        let mut found = Candidates { by_id: HashMap::new(), wanted };
        'terms: for (i, range) in ranges.iter().enumerate() {
            for (key, id, doc) in own.iter().filter(|(k, _, _)| range.contains(k)) {
                found.add(i, key, id.clone(), Some(doc));
            }
            let mut remaining = range.clone();
            loop {
                // Postings are small: fetch what could fill the cap in one round trip.
                let page_size = (MAX_CANDIDATES + 1).saturating_sub(found.by_id.len()).max(64);
                let page = self.snapshot.scan_keys(index.id, &remaining, Order::Asc, page_size).await?;
                let done = page.len() < page_size;
                if let Some(last) = page.last() {
                    let mut next = last.key.clone();
                    next.push(0);
                    remaining.start = next;
                }
                for entry in page {
                    if !superseded.is_empty() && superseded.contains(&entry.id) {
                        continue;
                    }
                    if !found.add(i, &entry.key, entry.id, None) {
                        break 'terms;
                    }
                }
                if done {
                    break;
                }
            }
        }
        let index_id = index.id;
        for range in ranges {
            self.reads.add(index_id, range);
        }
        Ok(rank(found.by_id, terms.len()))
    }

    /// The documents of `matches`, in order, read from this transaction's view (and counted against its read
    /// limits); a match whose document is gone is skipped.
    pub async fn search_documents(&mut self, matches: &[SearchMatch]) -> Result<Vec<SearchHit>> {
        let mut hits = Vec::with_capacity(matches.len());
        for m in matches {
            let document = match &m.own {
                Some(doc) => doc.clone(),
                None => {
                    let Some(stored) = self.snapshot.get(&m.id).await? else { continue };
                    let doc = decode_document(&stored.body)?;
                    self.charge_read(&doc)?;
                    doc
                }
            };
            hits.push(SearchHit { document, score: m.score });
        }
        Ok(hits)
    }
}

/// BM25 over the candidates (see the module documentation); ties newest first (then by id, so the order is stable).
fn rank(candidates: HashMap<Vec<u8>, Candidate>, terms: usize) -> Vec<SearchMatch> {
    let n = candidates.len() as f64;
    if candidates.is_empty() {
        return Vec::new();
    }
    let average = candidates.values().map(|c| f64::from(c.length.max(1))).sum::<f64>() / n;
    let idf: Vec<f64> = (0..terms)
        .map(|t| {
            let df = candidates.values().filter(|c| c.tf[t] > 0).count() as f64;
            (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
        })
        .collect();
    let mut ranked: Vec<(f64, Vec<u8>, Candidate)> = candidates
        .into_iter()
        .map(|(id, c)| {
            let length = f64::from(c.length.max(1));
            let norm = K1 * (1.0 - B + B * length / average);
            let score = (0..terms)
                .filter(|t| c.tf[*t] > 0)
                .map(|t| {
                    let tf = f64::from(c.tf[t]);
                    idf[t] * tf * (K1 + 1.0) / (tf + norm)
                })
                .sum::<f64>();
            (score, id, c)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.2.created.total_cmp(&a.2.created)).then(a.1.cmp(&b.1)));
    ranked.into_iter().map(|(score, id, c)| SearchMatch { id, score, own: c.own }).collect()
}

#[cfg(test)]
mod tests;
