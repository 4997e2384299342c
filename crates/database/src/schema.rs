//! What app authors declare about their tables: optional document validators and indexes.

use std::collections::BTreeMap;
use value::{FieldValidator, Validator};

/// Name of the built-in index on `_id`.
pub const BY_ID: &str = "by_id";
/// Name of the built-in index on `_creationTime`.
pub const BY_CREATION_TIME: &str = "by_creation_time";

/// A declared index: ordered fields (dotted paths allowed); `_creationTime` and `_id` are appended implicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub name: String,
    pub fields: Vec<String>,
}

/// A declared full-text search index (`.searchIndex(name, {searchField, filterFields})`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchIndexDefinition {
    pub name: String,
    /// The string field whose words are indexed.
    pub search_field: String,
    /// Fields a search may restrict with `eq` (at most 16).
    pub filter_fields: Vec<String>,
}

/// One table's declaration.
#[derive(Debug, Clone, Default)]
pub struct TableDefinition {
    /// Validator for user fields (an object validator), `None` = any document.
    pub document: Option<BTreeMap<String, FieldValidator>>,
    pub indexes: Vec<IndexDefinition>,
    pub search_indexes: Vec<SearchIndexDefinition>,
}

impl TableDefinition {
    /// A table whose documents are not validated.
    pub fn new() -> Self {
        Self::default()
    }

    /// A table whose documents must match these fields (like `defineTable({...})`).
    pub fn with_fields<K: Into<String>, F: Into<FieldValidator>>(fields: impl IntoIterator<Item = (K, F)>) -> Self {
        TableDefinition {
            document: Some(fields.into_iter().map(|(k, f)| (k.into(), f.into())).collect()),
            indexes: Vec::new(),
            search_indexes: Vec::new(),
        }
    }

    /// Declares a full-text search index (like `.searchIndex("search_body", {searchField: "body", filterFields:
    /// ["channel"]})`).
    pub fn search_index(mut self, name: &str, search_field: &str, filter_fields: &[&str]) -> Self {
        self.search_indexes.push(SearchIndexDefinition {
            name: name.to_string(),
            search_field: search_field.to_string(),
            filter_fields: filter_fields.iter().map(|f| f.to_string()).collect(),
        });
        self
    }

    /// Declares an index (like `.index("by_author", ["author"])`).
    pub fn index(mut self, name: &str, fields: &[&str]) -> Self {
        self.indexes
            .push(IndexDefinition { name: name.to_string(), fields: fields.iter().map(|f| f.to_string()).collect() });
        self
    }

    /// The object validator for whole documents, if declared.
    pub fn validator(&self) -> Option<Validator> {
        self.document.clone().map(Validator::Object)
    }
}

/// The deployment's schema (like `defineSchema`). Without any table declared, every table name is accepted.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub tables: BTreeMap<String, TableDefinition>,
    /// When true (the default once a table is declared), writes to undeclared tables fail.
    pub strict_tables: bool,
}

impl Schema {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a table declaration.
    pub fn table(mut self, name: &str, table: TableDefinition) -> Self {
        self.tables.insert(name.to_string(), table);
        self.strict_tables = true;
        self
    }

    /// Allows tables that the schema does not declare (like `strictTableNameTypes: false`).
    pub fn allow_undeclared_tables(mut self) -> Self {
        self.strict_tables = false;
        self
    }

    /// Declares a system table (a name starting with `_`, like `_scheduled_functions`): written only by the platform,
    /// read by apps through `ctx.db.system()`. Unlike [`Schema::table`] it does not make the schema strict.
    pub fn system_table(mut self, name: &str, table: TableDefinition) -> Self {
        self.tables.insert(name.to_string(), table);
        self
    }

    /// Merges another schema's tables into this one (components bring their own tables).
    pub fn merge(mut self, other: Schema) -> Self {
        self.strict_tables |= other.strict_tables;
        self.tables.extend(other.tables);
        self
    }
}

/// Whether a table name is in the system namespace (`_storage`, `_scheduled_functions`, `_system/cron_jobs`).
pub fn is_system_table(name: &str) -> bool {
    name.starts_with('_')
}

/// Whether apps may read a system table through `ctx.db.system()`: system tables outside a namespace
/// (`_storage`, `_scheduled_functions`). Namespaced ones (`_system/…`) hold the platform's private state.
pub fn is_app_readable_system_table(name: &str) -> bool {
    is_system_table(name) && !name.contains('/')
}

/// Checks a table name: 1-64 chars of `[A-Za-z0-9_]` plus `/` separating a component namespace, starting with a
/// letter; a system table is `_` followed by such a name.
pub fn check_table_name(name: &str) -> Result<(), String> {
    let ok_len = !name.is_empty() && name.len() <= 64;
    let mut parts = name.strip_prefix('_').unwrap_or(name).split('/');
    let ok_parts = parts.all(|p| {
        p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if ok_len && ok_parts {
        Ok(())
    } else {
        Err(format!(
            "invalid table name {name:?}: table names are 1-64 characters of letters, digits and underscores and start with a letter"
        ))
    }
}
