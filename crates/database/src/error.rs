use storage::StorageError;

/// Database errors. Everything but `Conflict` and `Storage` is the calling function's fault and is shown to the
/// client as a function error.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The transaction read something another transaction wrote after its snapshot; it is retried.
    #[error("optimistic concurrency conflict: {0}")]
    Conflict(String),
    /// A document, table or index does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Bad input: invalid id, schema violation, reserved field, bad index range...
    #[error("{0}")]
    Invalid(String),
    /// A per-transaction limit was exceeded.
    #[error("{0}")]
    Limit(String),
    /// A write was attempted in a read-only transaction (a query).
    #[error("{0}")]
    ReadOnly(String),
    /// The storage backend failed; internal.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl DatabaseError {
    /// Whether the error is a transient conflict that a retry can cure.
    pub fn is_conflict(&self) -> bool {
        matches!(self, DatabaseError::Conflict(_))
    }

    /// Whether the error is unexpected (to be logged and shown as an internal error).
    pub fn is_internal(&self) -> bool {
        matches!(self, DatabaseError::Storage(_))
    }
}

impl From<value::ValueError> for DatabaseError {
    fn from(e: value::ValueError) -> Self {
        DatabaseError::Invalid(e.to_string())
    }
}

pub type Result<T, E = DatabaseError> = std::result::Result<T, E>;
