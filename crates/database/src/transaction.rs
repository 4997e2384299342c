//! A transaction: snapshot reads with read-set tracking, buffered writes, limits.

use crate::catalog::{IndexInfo, TableInfo};
use crate::query::{ScanRequest, ScanResult};
use crate::write_log::{ReadSet, WriteSet};
use crate::{Database, DatabaseError, Inner, Result};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use storage::TableNumber;
use storage::{Commit, DocumentWrite, IndexWrite, KeyRange, Order, Snapshot, Timestamp};
use value::{json, limits, DocumentId, Object, Validator, Value};

/// Convex's per-transaction limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionLimits {
    pub max_documents_read: usize,
    pub max_bytes_read: usize,
    pub max_documents_written: usize,
    pub max_bytes_written: usize,
}

impl Default for TransactionLimits {
    fn default() -> Self {
        TransactionLimits {
            max_documents_read: 32_000,
            max_bytes_read: 16 << 20,
            max_documents_written: 16_000,
            max_bytes_written: 16 << 20,
        }
    }
}

/// What a transaction has consumed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionUsage {
    pub documents_read: usize,
    pub bytes_read: usize,
    pub documents_written: usize,
    pub bytes_written: usize,
}

pub(crate) struct PendingWrite {
    pub(crate) table: TableNumber,
    /// The document as of the snapshot (`None` when created by this transaction).
    pub(crate) old: Option<Object>,
    /// The document after this transaction (`None` when deleted).
    pub(crate) new: Option<Object>,
}

/// Snapshot size of a page fetched from storage during scans.
const PAGE: usize = 128;

pub struct Transaction {
    pub(crate) inner: Arc<Inner>,
    pub(crate) snapshot: Arc<dyn Snapshot>,
    read_only: bool,
    pub(crate) reads: ReadSet,
    pub(crate) writes: BTreeMap<DocumentId, PendingWrite>,
    usage: TransactionUsage,
}

pub(crate) fn decode_document(body: &[u8]) -> Result<Object> {
    let json: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| DatabaseError::Storage(storage::StorageError::Backend(format!("corrupt document: {e}"))))?;
    match json::from_json(json) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) | Err(_) => Err(DatabaseError::Storage(storage::StorageError::Backend("corrupt document body".into()))),
    }
}

fn encode_document(doc: &Object) -> Vec<u8> {
    serde_json::to_vec(&json::to_json(&Value::Object(doc.clone()))).unwrap_or_default()
}

fn key_successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

impl Transaction {
    pub(crate) fn new(inner: Arc<Inner>, snapshot: Arc<dyn Snapshot>, read_only: bool) -> Self {
        Transaction {
            inner,
            snapshot,
            read_only,
            reads: ReadSet::default(),
            writes: BTreeMap::new(),
            usage: TransactionUsage::default(),
        }
    }

    /// The snapshot timestamp.
    pub fn ts(&self) -> Timestamp {
        self.snapshot.ts()
    }

    /// The current time on the database's clock (platform code that stamps documents, e.g. `completedTime`).
    pub fn clock_now(&self) -> crate::UnixTime {
        self.inner.clock.now()
    }

    /// Everything read so far.
    pub fn read_set(&self) -> &ReadSet {
        &self.reads
    }

    pub fn take_read_set(&mut self) -> ReadSet {
        std::mem::take(&mut self.reads)
    }

    pub fn usage(&self) -> TransactionUsage {
        self.usage
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The name of the table an id belongs to, if the table exists.
    pub fn table_name_of(&self, id: &DocumentId) -> Option<String> {
        self.inner.catalog.read().table_by_number(id.table().0).map(|t| t.name.clone())
    }

    fn table_of_id(&self, id: &DocumentId) -> Result<TableInfo> {
        self.inner
            .catalog
            .read()
            .table_by_number(id.table().0)
            .cloned()
            .ok_or_else(|| DatabaseError::Invalid(format!("document id {id} does not belong to any table")))
    }

    pub(crate) fn charge_read(&mut self, doc: &Object) -> Result<()> {
        self.usage.documents_read += 1;
        self.usage.bytes_read += limits::size_of(&Value::Object(doc.clone()));
        let l = self.inner.limits;
        if self.usage.documents_read > l.max_documents_read {
            return Err(DatabaseError::Limit(format!(
                "too many documents read in a single function execution (limit: {})",
                l.max_documents_read
            )));
        }
        if self.usage.bytes_read > l.max_bytes_read {
            return Err(DatabaseError::Limit(format!(
                "too many bytes read in a single function execution (limit: {} bytes)",
                l.max_bytes_read
            )));
        }
        Ok(())
    }

    /// Reads a document by id (read-your-writes). Records a point read.
    pub async fn get(&mut self, id: &DocumentId) -> Result<Option<Object>> {
        let Ok(table) = self.table_of_id(id) else { return Ok(None) };
        let key = TableInfo::id_key(id);
        self.reads.add(table.by_id().id, KeyRange { end: Some(key_successor(&key)), start: key });
        if let Some(pending) = self.writes.get(id) {
            return Ok(pending.new.clone());
        }
        let Some(stored) = self.snapshot.get(&id.to_bytes()).await? else { return Ok(None) };
        if stored.table != table.number {
            return Ok(None);
        }
        let doc = decode_document(&stored.body)?;
        self.charge_read(&doc)?;
        Ok(Some(doc))
    }

    /// The key interval an index range covers (what pagination cursors are bound to). Reads nothing.
    pub async fn key_range(&self, table: &str, index: &str, range: &crate::IndexRange) -> Result<KeyRange> {
        let table_info = Database::ensure_table(&self.inner, table).await?;
        let index_info = table_info
            .index(index)
            .ok_or_else(|| DatabaseError::NotFound(format!("index {index:?} not found on table {table:?}")))?;
        range.to_key_range(index_info)
    }

    /// Scans an index range, merging this transaction's own writes, and records the interval examined.
    pub async fn scan(&mut self, request: ScanRequest) -> Result<ScanResult> {
        let table = Database::ensure_table(&self.inner, &request.table).await?;
        let index = table.index(&request.index).cloned().ok_or_else(|| {
            DatabaseError::NotFound(format!("index {:?} not found on table {:?}", request.index, request.table))
        })?;
        if index.search.is_some() {
            return Err(DatabaseError::Invalid(format!(
                "{:?} is a search index: query it with `with_search_index`",
                request.index
            )));
        }
        let mut range = request.range.to_key_range(&index)?;
        if let Some(after) = &request.after {
            match request.order {
                Order::Asc => {
                    let next = key_successor(after);
                    if next > range.start {
                        range.start = next;
                    }
                }
                Order::Desc => {
                    if range.end.as_ref().is_none_or(|end| after < end) {
                        range.end = Some(after.clone());
                    }
                }
            }
        }
        if let Some(until) = &request.until {
            match request.order {
                Order::Asc => {
                    let next = key_successor(until);
                    if range.end.as_ref().is_none_or(|end| &next < end) {
                        range.end = Some(next);
                    }
                }
                Order::Desc => {
                    if until > &range.start {
                        range.start = until.clone();
                    }
                }
            }
        }
        let limit = request.limit.unwrap_or(usize::MAX);
        let max_examined = request.max_examined.unwrap_or(usize::MAX).max(1);
        let max_bytes = request.max_bytes.unwrap_or(usize::MAX).max(1);
        let mut result = ScanResult::default();
        if range.is_empty() || limit == 0 {
            result.done = range.is_empty();
            if !range.is_empty() {
                // Nothing examined: an empty interval at the start.
                return Ok(result);
            }
            result.done = true;
            return Ok(result);
        }

        // This transaction's writes to the table: their snapshot entries are superseded, their new versions merge in.
        let superseded: HashSet<Vec<u8>> =
            self.writes.iter().filter(|(_, w)| w.table == table.number).map(|(id, _)| id.to_bytes()).collect();
        let mut overlay: Vec<(Vec<u8>, Object)> = self
            .writes
            .values()
            .filter(|w| w.table == table.number)
            .filter_map(|w| w.new.as_ref())
            .map(|doc| (index.key_of(doc), doc.clone()))
            .filter(|(key, _)| range.contains(key))
            .collect();
        overlay.sort_by(|a, b| a.0.cmp(&b.0));
        if request.order == Order::Desc {
            overlay.reverse();
        }
        let mut overlay: VecDeque<(Vec<u8>, Object)> = overlay.into();

        let mut stored: VecDeque<(Vec<u8>, Object)> = VecDeque::new();
        let mut remaining = range.clone();
        let mut stored_done = false;
        let mut last_key: Option<Vec<u8>> = None;
        let mut exhausted = false;
        loop {
            if stored.is_empty() && !stored_done {
                let want = (limit.saturating_sub(result.documents.len())).clamp(1, PAGE);
                let page = self.snapshot.scan(index.id, &remaining, request.order, want).await?;
                if page.len() < want {
                    stored_done = true;
                }
                if let Some(last) = page.last() {
                    match request.order {
                        Order::Asc => remaining.start = key_successor(&last.key),
                        Order::Desc => remaining.end = Some(last.key.clone()),
                    }
                }
                for entry in page {
                    if superseded.contains(&entry.id) {
                        continue;
                    }
                    let doc = decode_document(&entry.document.body)?;
                    stored.push_back((entry.key, doc));
                }
                if stored.is_empty() && !stored_done {
                    continue;
                }
            }
            let take_overlay = match (stored.front(), overlay.front()) {
                (None, None) => {
                    exhausted = true;
                    break;
                }
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((sk, _)), Some((ok, _))) => match request.order {
                    Order::Asc => ok < sk,
                    Order::Desc => ok > sk,
                },
            };
            let next = if take_overlay { overlay.pop_front() } else { stored.pop_front() };
            let Some((key, doc)) = next else { break };
            if !take_overlay {
                self.charge_read(&doc)?;
            }
            result.examined += 1;
            result.bytes_examined += limits::size_of(&Value::Object(doc.clone()));
            let keep = request.filter.as_ref().is_none_or(|f| f(&doc));
            if keep {
                result.documents.push(doc);
                result.keys.push(key.clone());
            }
            last_key = Some(key);
            if keep && result.documents.len() >= limit {
                break;
            }
            if result.examined >= max_examined || result.bytes_examined >= max_bytes {
                result.capped = true;
                break;
            }
        }
        // Record exactly the interval examined.
        let examined = match (&last_key, exhausted) {
            (_, true) | (None, _) => range.clone(),
            (Some(k), false) => match request.order {
                Order::Asc => KeyRange { start: range.start.clone(), end: Some(key_successor(k)) },
                Order::Desc => KeyRange { start: k.clone(), end: range.end.clone() },
            },
        };
        self.reads.add(index.id, examined);
        result.done = exhausted;
        result.last_key = last_key;
        Ok(result)
    }

    fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(DatabaseError::ReadOnly("queries cannot write: use a mutation".into()));
        }
        Ok(())
    }

    fn validate(&self, table_name: &str, doc: &Object) -> Result<()> {
        limits::check_document(doc)?;
        let Some(def) = self.inner.schema.tables.get(table_name) else { return Ok(()) };
        let Some(fields) = &def.document else { return Ok(()) };
        let user: Object =
            doc.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect();
        let catalog = self.inner.catalog.read().clone();
        let id_table = |s: &str| -> Option<String> {
            let id = DocumentId::parse(s).ok()?;
            catalog.table_by_number(id.table().0).map(|t| t.name.clone())
        };
        Validator::Object(fields.clone()).check(&Value::Object(user), &id_table).map_err(|e| {
            DatabaseError::Invalid(format!("failed to insert or update a document in table {table_name:?} because it does not match the schema: {e}"))
        })
    }

    fn check_user_fields(fields: &Object) -> Result<()> {
        for name in fields.keys() {
            limits::check_document_field_name(name)?;
        }
        Ok(())
    }

    fn record_write(
        &mut self,
        id: DocumentId,
        table: TableNumber,
        old: Option<Object>,
        new: Option<Object>,
    ) -> Result<()> {
        if let Some(doc) = &new {
            self.usage.bytes_written += limits::size_of(&Value::Object(doc.clone()));
        }
        let l = self.inner.limits;
        match self.writes.get_mut(&id) {
            Some(pending) => pending.new = new,
            None => {
                self.usage.documents_written += 1;
                self.writes.insert(id, PendingWrite { table, old, new });
            }
        }
        if self.usage.documents_written > l.max_documents_written {
            return Err(DatabaseError::Limit(format!(
                "too many documents written in a single function execution (limit: {})",
                l.max_documents_written
            )));
        }
        if self.usage.bytes_written > l.max_bytes_written {
            return Err(DatabaseError::Limit(format!(
                "too many bytes written in a single function execution (limit: {} bytes)",
                l.max_bytes_written
            )));
        }
        Ok(())
    }

    fn next_creation_time(&self) -> f64 {
        let now = self.inner.clock.now().as_millis_f64();
        let mut last = self.inner.last_creation_time.lock();
        let t = if now > *last { now } else { *last + 0.001 };
        *last = t;
        t
    }

    /// Inserts a document; returns its new id.
    pub async fn insert(&mut self, table_name: &str, fields: Object) -> Result<DocumentId> {
        self.check_writable()?;
        Self::check_user_fields(&fields)?;
        let table = Database::ensure_table(&self.inner, table_name).await?;
        let mut internal = [0u8; 16];
        self.inner.entropy.fill(&mut internal);
        let id = DocumentId::new(value::TableNumber(table.number), internal);
        let mut doc = fields;
        doc.insert("_id".into(), Value::String(id.to_string()));
        doc.insert("_creationTime".into(), Value::Float64(self.next_creation_time()));
        self.validate(table_name, &doc)?;
        self.record_write(id, table.number, None, Some(doc))?;
        Ok(id)
    }

    /// Inserts a document under an id the caller minted for `table_name` (the platform names a file's bytes by its
    /// `_storage` id before the row exists). Fails when the id belongs to another table or already exists.
    pub async fn insert_with_id(&mut self, table_name: &str, id: DocumentId, fields: Object) -> Result<()> {
        self.check_writable()?;
        Self::check_user_fields(&fields)?;
        let table = Database::ensure_table(&self.inner, table_name).await?;
        if id.table().0 != table.number {
            return Err(DatabaseError::Invalid(format!("document id {id} does not belong to table {table_name:?}")));
        }
        if self.get(&id).await?.is_some() {
            return Err(DatabaseError::Invalid(format!("document id {id} already exists")));
        }
        let mut doc = fields;
        doc.insert("_id".into(), Value::String(id.to_string()));
        doc.insert("_creationTime".into(), Value::Float64(self.next_creation_time()));
        self.validate(table_name, &doc)?;
        self.record_write(id, table.number, None, Some(doc))
    }

    async fn existing(&mut self, id: &DocumentId, op: &str) -> Result<(TableInfo, Object, Option<Object>)> {
        let table = self.table_of_id(id)?;
        let current = self.get(id).await?;
        let Some(current) = current else {
            return Err(DatabaseError::NotFound(format!("{op} on nonexistent document id {id}")));
        };
        let old = match self.writes.get(id) {
            Some(w) => w.old.clone(),
            None => Some(current.clone()),
        };
        Ok((table, current, old))
    }

    /// Shallow-merges `fields` into a document. A field set to `None` in `remove` is deleted.
    pub async fn patch(&mut self, id: &DocumentId, fields: Object, remove: &[String]) -> Result<()> {
        self.check_writable()?;
        let (table, mut doc, old) = self.existing(id, "patch").await?;
        for (name, value) in fields {
            if name == "_id" || name == "_creationTime" {
                if doc.get(&name) != Some(&value) {
                    return Err(DatabaseError::Invalid(format!("system field {name:?} cannot be modified")));
                }
                continue;
            }
            limits::check_document_field_name(&name)?;
            doc.insert(name, value);
        }
        for name in remove {
            if name.starts_with('_') {
                return Err(DatabaseError::Invalid(format!("system field {name:?} cannot be removed")));
            }
            doc.remove(name);
        }
        self.validate(&table.name, &doc)?;
        self.record_write(*id, table.number, old, Some(doc))
    }

    /// Replaces a document's user fields, keeping `_id` and `_creationTime`.
    pub async fn replace(&mut self, id: &DocumentId, fields: Object) -> Result<()> {
        self.check_writable()?;
        let (table, current, old) = self.existing(id, "replace").await?;
        let mut doc = Object::new();
        for (name, value) in fields {
            if name == "_id" || name == "_creationTime" {
                if current.get(&name) != Some(&value) {
                    return Err(DatabaseError::Invalid(format!("system field {name:?} cannot be modified")));
                }
                continue;
            }
            limits::check_document_field_name(&name)?;
            doc.insert(name, value);
        }
        for system in ["_id", "_creationTime"] {
            if let Some(v) = current.get(system) {
                doc.insert(system.into(), v.clone());
            }
        }
        self.validate(&table.name, &doc)?;
        self.record_write(*id, table.number, old, Some(doc))
    }

    /// Deletes a document.
    pub async fn delete(&mut self, id: &DocumentId) -> Result<()> {
        self.check_writable()?;
        let (table, _, old) = self.existing(id, "delete").await?;
        self.record_write(*id, table.number, old, None)
    }

    /// Turns the buffered writes into a storage commit, its write set and read set. `None` when nothing changed.
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_commit(self) -> Result<Option<(Commit, ReadSet, WriteSet, Timestamp)>> {
        if self.writes.is_empty() {
            return Ok(None);
        }
        let catalog = self.inner.catalog.read().clone();
        let mut commit = Commit::default();
        let mut writes = WriteSet::default();
        for (id, pending) in &self.writes {
            if pending.old.is_none() && pending.new.is_none() {
                continue;
            }
            let table = catalog
                .table_by_number(pending.table)
                .ok_or_else(|| DatabaseError::Invalid(format!("table of document {id} disappeared")))?;
            let id_bytes = id.to_bytes();
            for index in &table.indexes {
                write_index(index, &id_bytes, pending, &mut commit, &mut writes);
            }
            commit.documents.push(DocumentWrite {
                id: id_bytes,
                table: pending.table,
                body: pending.new.as_ref().map(encode_document),
            });
        }
        if commit.documents.is_empty() {
            return Ok(None);
        }
        let ts = self.snapshot.ts();
        Ok(Some((commit, self.reads, writes, ts)))
    }
}

fn write_index(index: &IndexInfo, id: &[u8], pending: &PendingWrite, commit: &mut Commit, writes: &mut WriteSet) {
    if index.search.is_some() {
        return write_postings(index, id, pending, commit, writes);
    }
    let old_key = pending.old.as_ref().map(|d| index.key_of(d));
    let new_key = pending.new.as_ref().map(|d| index.key_of(d));
    if old_key != new_key {
        if let Some(k) = &old_key {
            commit.indexes.push(IndexWrite { index: index.id, key: k.clone(), id: None });
            writes.push(index.id, k.clone());
        }
        if let Some(k) = &new_key {
            commit.indexes.push(IndexWrite { index: index.id, key: k.clone(), id: Some(id.to_vec()) });
            writes.push(index.id, k.clone());
        }
    } else if let Some(k) = new_key {
        // Same key, new contents: readers of this key must still see the change.
        writes.push(index.id, k);
    }
}

/// A search index: the postings the old version had and the new one lacks are removed, new ones added; a posting
/// in both is unchanged (its key holds the term frequency and length, so a changed count is a new key).
fn write_postings(index: &IndexInfo, id: &[u8], pending: &PendingWrite, commit: &mut Commit, writes: &mut WriteSet) {
    let old: std::collections::BTreeSet<Vec<u8>> =
        pending.old.as_ref().map(|d| index.keys_of(d).into_iter().collect()).unwrap_or_default();
    let new: std::collections::BTreeSet<Vec<u8>> =
        pending.new.as_ref().map(|d| index.keys_of(d).into_iter().collect()).unwrap_or_default();
    for key in old.difference(&new) {
        commit.indexes.push(IndexWrite { index: index.id, key: key.clone(), id: None });
        writes.push(index.id, key.clone());
    }
    for key in new.difference(&old) {
        commit.indexes.push(IndexWrite { index: index.id, key: key.clone(), id: Some(id.to_vec()) });
        writes.push(index.id, key.clone());
    }
    if old == new {
        // Same postings, new contents: searches that return this document must still re-run.
        for key in new {
            writes.push(index.id, key);
        }
    }
}
