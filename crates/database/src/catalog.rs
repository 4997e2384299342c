//! The catalog: table names <-> table numbers, and each table's indexes with their ids and key fields.
//! Persisted as one JSON metadata entry; changed only at start-up (schema reconciliation) and when a mutation
//! first writes to a new table.

use crate::schema::{BY_CREATION_TIME, BY_ID};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use storage::{IndexId, TableNumber};
use value::{index_key, DocumentId, Object, Value};

pub(crate) const CATALOG_KEY: &str = "catalog";

/// One index of a table. `key_fields` is the full key: the declared fields, then `_creationTime`, then `_id`
/// (`by_id` is just `_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexInfo {
    pub id: IndexId,
    pub name: String,
    pub key_fields: Vec<String>,
    /// A full-text search index: its entries are postings (see [`crate::search`]), several per document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchSpec>,
}

/// What a search index indexes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchSpec {
    pub search_field: String,
    pub filter_fields: Vec<String>,
    /// The posting key layout the index was built with ([`crate::search::POSTINGS_FORMAT`]; 0 for the first
    /// layout, which recorded none): an index of another layout is rebuilt at start.
    #[serde(default)]
    pub postings: u32,
}

impl IndexInfo {
    /// Every key of a document in this index: one for a database index, one posting per distinct term for a search
    /// index.
    pub fn keys_of(&self, doc: &Object) -> Vec<Vec<u8>> {
        match &self.search {
            Some(spec) => crate::search::posting_keys(spec, doc),
            None => vec![self.key_of(doc)],
        }
    }

    /// The index key of a document (an object holding `_id` and `_creationTime`).
    pub fn key_of(&self, doc: &Object) -> Vec<u8> {
        let mut key = Vec::with_capacity(32);
        for field in &self.key_fields {
            match lookup_path(doc, field) {
                Some(v) => index_key::encode(v, &mut key),
                None => index_key::encode_missing(&mut key),
            }
        }
        key
    }
}

/// Resolves a dotted field path (`"a.b.c"`) inside an object.
pub fn lookup_path<'a>(doc: &'a Object, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut current = doc.get(parts.next()?)?;
    for part in parts {
        current = match current {
            Value::Object(o) => o.get(part)?,
            _ => return None,
        };
    }
    Some(current)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    pub name: String,
    pub number: TableNumber,
    pub indexes: Vec<IndexInfo>,
}

impl TableInfo {
    pub fn index(&self, name: &str) -> Option<&IndexInfo> {
        self.indexes.iter().find(|i| i.name == name)
    }

    pub fn by_id(&self) -> &IndexInfo {
        // Every table is created with by_id first; see `Catalog::add_table`.
        &self.indexes[0]
    }

    pub fn by_creation_time(&self) -> &IndexInfo {
        &self.indexes[1]
    }

    /// The by_id key of a document id.
    pub fn id_key(id: &DocumentId) -> Vec<u8> {
        index_key::encode_to_vec(&Value::String(id.to_string()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub tables: BTreeMap<String, TableInfo>,
    pub next_table: TableNumber,
    pub next_index: IndexId,
}

impl Catalog {
    pub fn table(&self, name: &str) -> Option<&TableInfo> {
        self.tables.get(name)
    }

    pub fn table_by_number(&self, number: TableNumber) -> Option<&TableInfo> {
        self.tables.values().find(|t| t.number == number)
    }

    pub fn allocate_index(&mut self, name: &str, key_fields: Vec<String>) -> IndexInfo {
        self.next_index += 1;
        IndexInfo { id: self.next_index, name: name.to_string(), key_fields, search: None }
    }

    pub fn allocate_search_index(&mut self, name: &str, spec: SearchSpec) -> IndexInfo {
        let mut info = self.allocate_index(name, Vec::new());
        info.search = Some(spec);
        info
    }

    /// Adds a table with its two built-in indexes and returns it.
    pub fn add_table(&mut self, name: &str) -> &TableInfo {
        // User tables are numbered from 10001 like Convex's, which also keeps id strings at 32 characters.
        self.next_table = self.next_table.max(10_000) + 1;
        let number = self.next_table;
        let by_id = self.allocate_index(BY_ID, vec!["_id".into()]);
        let by_creation = self.allocate_index(BY_CREATION_TIME, vec!["_creationTime".into(), "_id".into()]);
        self.tables.entry(name.to_string()).or_insert(TableInfo {
            name: name.to_string(),
            number,
            indexes: vec![by_id, by_creation],
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("corrupt catalog: {e}"))
    }
}

/// The full key fields of a declared user index.
pub fn user_key_fields(fields: &[String]) -> Vec<String> {
    let mut key: Vec<String> = fields.to_vec();
    key.push("_creationTime".into());
    key.push("_id".into());
    key
}
