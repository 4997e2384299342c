//! File storage: `ctx.storage` in functions, and [`FileStorage`], the service behind the upload and serving URLs.
//!
//! Bytes live in a [`blobs::BlobStore`] under the file's `_storage` id; metadata is the `_storage` row
//! (`sha256` base64, `size`, `contentType?`). The id is minted first, the bytes are written (durable when `put`
//! returns), then one transaction inserts the row, so a row never names missing bytes. Bytes whose row never
//! committed (a crash, a lost race for an upload token) are orphans, removed by [`FileStorage::sweep`] once older
//! than the grace period; deleting a file deletes its row in the transaction and its bytes after the commit.
//!
//! Upload URLs carry a token that is the id of a row of the private `_system/upload_tokens` table (128 random
//! bits, unguessable), holding its expiry. The upload's transaction reads and deletes that row while inserting the
//! `_storage` row, so under any concurrency a token stores at most one file (the loser conflicts, re-runs, finds
//! the token gone and deletes its bytes).

use crate::context::{with_txn, IntoDocumentId, SharedTxn};
use crate::FunctionError;
use blobs::{BlobError, BlobRead, ByteStream, DynBlobStore};
use bytes::Bytes;
use database::{Database, DatabaseError, Schema, TableDefinition, Transaction};
use parking_lot::Mutex;
use protocol::ErrorCode;
use std::sync::Arc;
use std::time::Duration;
use value::{DocumentId, Object, Value};

/// The system table of file metadata.
pub const STORAGE_TABLE: &str = "_storage";
/// The private table of upload tokens (`expiresAt`, epoch milliseconds).
pub const UPLOAD_TOKENS_TABLE: &str = "_system/upload_tokens";

/// The system tables file storage needs; the server adds them to every app's schema.
pub fn storage_schema() -> Schema {
    Schema::new()
        .system_table(STORAGE_TABLE, TableDefinition::new())
        .system_table(UPLOAD_TOKENS_TABLE, TableDefinition::new())
}

/// Limits and lifetimes of file storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStorageConfig {
    /// Largest body an upload URL accepts (`None`: no limit).
    pub max_upload_bytes: Option<u64>,
    /// How long an upload URL works.
    pub upload_url_lifetime: Duration,
    /// Bytes without a `_storage` row are deleted once they are this old (uploads in flight are younger).
    pub orphan_grace: Duration,
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig {
            max_upload_bytes: Some(1 << 30),
            upload_url_lifetime: Duration::from_secs(3600),
            orphan_grace: Duration::from_secs(3600),
        }
    }
}

impl FileStorageConfig {
    /// The config from deployment settings by name: `AUTHVEX_MAX_UPLOAD_BYTES` (0 = no limit),
    /// `AUTHVEX_UPLOAD_URL_LIFETIME_SECS`, `AUTHVEX_ORPHAN_GRACE_SECS`; unset or unparsable ones keep the default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> FileStorageConfig {
        let number = |name: &str| lookup(name).and_then(|v| v.trim().parse::<u64>().ok());
        let mut config = FileStorageConfig::default();
        if let Some(max) = number("AUTHVEX_MAX_UPLOAD_BYTES") {
            config.max_upload_bytes = (max > 0).then_some(max);
        }
        if let Some(secs) = number("AUTHVEX_UPLOAD_URL_LIFETIME_SECS") {
            config.upload_url_lifetime = Duration::from_secs(secs);
        }
        if let Some(secs) = number("AUTHVEX_ORPHAN_GRACE_SECS") {
            config.orphan_grace = Duration::from_secs(secs);
        }
        config
    }
}

/// A failed upload or download, with the code the HTTP edge answers it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFailure {
    pub code: ErrorCode,
    pub message: String,
}

impl StorageFailure {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        StorageFailure { code, message: message.into() }
    }

    fn code(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "file storage: {context}");
        Self::code(ErrorCode::InternalServerError)
    }
}

impl std::fmt::Display for StorageFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.wire(), self.message)
    }
}

impl From<StorageFailure> for FunctionError {
    fn from(failure: StorageFailure) -> Self {
        if failure.code == ErrorCode::InternalServerError {
            FunctionError::internal(failure.message)
        } else {
            FunctionError::coded(failure.code, failure.message)
        }
    }
}

/// A `_storage` row.
#[derive(Debug, Clone, PartialEq)]
pub struct FileMetadata {
    pub id: DocumentId,
    /// SHA-256 of the bytes, base64 (as the `_storage` table holds it).
    pub sha256: String,
    pub size: u64,
    pub content_type: Option<String>,
}

impl FileMetadata {
    fn from_document(id: DocumentId, doc: &Object) -> FileMetadata {
        FileMetadata {
            id,
            sha256: doc.get("sha256").and_then(Value::as_str).unwrap_or_default().to_string(),
            size: doc.get("size").and_then(Value::as_f64).unwrap_or_default() as u64,
            content_type: doc.get("contentType").and_then(Value::as_str).map(str::to_string),
        }
    }

    /// The SHA-256 in hex (what `getMetadata` and the `ETag` carry).
    pub fn sha256_hex(&self) -> String {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(&self.sha256).unwrap_or_default();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `getMetadata`'s shape: `{storageId, sha256 (hex), size, contentType}`.
    pub fn to_value(&self) -> Value {
        let mut o = Object::new();
        o.insert("storageId".into(), Value::String(self.id.to_string()));
        o.insert("sha256".into(), Value::String(self.sha256_hex()));
        o.insert("size".into(), Value::Float64(self.size as f64));
        o.insert("contentType".into(), self.content_type.clone().map_or(Value::Null, Value::String));
        Value::Object(o)
    }
}

/// What one [`FileStorage::sweep`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub orphaned_blobs: usize,
    pub incomplete_writes: usize,
    pub expired_tokens: usize,
}

/// The file storage service of a deployment.
pub struct FileStorage {
    db: Database,
    blobs: DynBlobStore,
    config: FileStorageConfig,
}

impl FileStorage {
    pub fn new(db: Database, blobs: DynBlobStore, config: FileStorageConfig) -> FileStorage {
        FileStorage { db, blobs, config }
    }

    pub fn blobs(&self) -> &DynBlobStore {
        &self.blobs
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn config(&self) -> &FileStorageConfig {
        &self.config
    }

    fn table_number(&self, table: &str) -> Result<u32, StorageFailure> {
        self.db.catalog().table(table).map(|t| t.number).ok_or_else(|| {
            StorageFailure::internal("schema", format!("table {table} is missing: add functions::storage_schema()"))
        })
    }

    /// A fresh `_storage` id, before its row exists.
    fn mint_id(&self) -> Result<DocumentId, StorageFailure> {
        let number = self.table_number(STORAGE_TABLE)?;
        let mut internal = [0u8; 16];
        self.db.entropy().fill(&mut internal);
        Ok(DocumentId::new(value::TableNumber(number), internal))
    }

    /// Whether `id` names a `_storage` document (of this deployment).
    pub fn is_storage_id(&self, id: &DocumentId) -> bool {
        self.table_number(STORAGE_TABLE).is_ok_and(|n| id.table().0 == n)
    }

    fn now_millis(&self) -> f64 {
        self.db.clock().now().as_millis_f64()
    }

    /// Creates an upload token in `txn` (committed with it) and returns it.
    async fn create_upload_token(&self, txn: &mut Transaction) -> Result<String, DatabaseError> {
        let expires = self.now_millis() + self.config.upload_url_lifetime.as_millis() as f64;
        let mut fields = Object::new();
        fields.insert("expiresAt".into(), Value::Float64(expires));
        Ok(txn.insert(UPLOAD_TOKENS_TABLE, fields).await?.to_string())
    }

    /// Creates an upload token in a transaction of its own (actions).
    pub async fn generate_upload_token(&self) -> Result<String, FunctionError> {
        let token = database::run_serializable(&self.db, || async {
            let mut txn = self.db.begin(false).await?;
            let token = self.create_upload_token(&mut txn).await?;
            self.db.commit(txn).await?;
            Ok::<_, DatabaseError>(token)
        })
        .await?;
        Ok(token)
    }

    fn parse_token(&self, token: &str) -> Result<DocumentId, StorageFailure> {
        let number = self.table_number(UPLOAD_TOKENS_TABLE)?;
        DocumentId::parse(token)
            .ok()
            .filter(|id| id.table().0 == number)
            .ok_or_else(|| StorageFailure::code(ErrorCode::InvalidUploadToken))
    }

    /// Checks an upload token (exists, not expired) without consuming it.
    async fn check_token(&self, txn: &mut Transaction, token: &DocumentId) -> Result<(), StorageFailure> {
        let doc = txn.get(token).await.map_err(|e| StorageFailure::internal("reading an upload token", e))?;
        let Some(doc) = doc else { return Err(StorageFailure::code(ErrorCode::InvalidUploadToken)) };
        let expires = doc.get("expiresAt").and_then(Value::as_f64).unwrap_or_default();
        if expires < self.now_millis() {
            return Err(StorageFailure::code(ErrorCode::UploadUrlExpired));
        }
        Ok(())
    }

    /// Serves an upload URL: checks the token, streams `body` into the blob store (at most the configured
    /// maximum), then consumes the token and inserts the `_storage` row in one transaction.
    pub async fn upload(
        &self,
        token: &str,
        content_type: Option<String>,
        body: ByteStream,
    ) -> Result<DocumentId, StorageFailure> {
        let token = self.parse_token(token)?;
        {
            let mut txn = self.db.begin(true).await.map_err(|e| StorageFailure::internal("starting a read", e))?;
            self.check_token(&mut txn, &token).await?;
        }
        self.put_then_commit(body, content_type, self.config.max_upload_bytes, Some(token)).await
    }

    /// Stores bytes without an upload URL (`ctx.storage.store` in actions and HTTP actions), failing with
    /// `PayloadTooLarge` past `limit` bytes.
    pub async fn store(
        &self,
        body: ByteStream,
        content_type: Option<String>,
        limit: Option<u64>,
    ) -> Result<DocumentId, StorageFailure> {
        self.put_then_commit(body, content_type, limit, None).await
    }

    async fn put_then_commit(
        &self,
        body: ByteStream,
        content_type: Option<String>,
        limit: Option<u64>,
        token: Option<DocumentId>,
    ) -> Result<DocumentId, StorageFailure> {
        let id = self.mint_id()?;
        let key = id.to_string();
        let stored = match self.blobs.put(&key, body, limit).await {
            Ok(stored) => stored,
            Err(BlobError::TooLarge { limit }) => {
                return Err(StorageFailure::new(
                    ErrorCode::PayloadTooLarge,
                    format!("the file is larger than the maximum upload size of {limit} bytes"),
                ))
            }
            Err(BlobError::Body(e)) => {
                tracing::debug!(error = %e, "upload body failed");
                return Err(StorageFailure::code(ErrorCode::UploadInterrupted));
            }
            Err(e) => return Err(StorageFailure::internal("writing a blob", e)),
        };
        let mut fields = Object::new();
        use base64::Engine;
        fields.insert("sha256".into(), Value::String(base64::engine::general_purpose::STANDARD.encode(stored.sha256)));
        fields.insert("size".into(), Value::Float64(stored.size as f64));
        if let Some(content_type) = content_type.filter(|c| !c.is_empty()) {
            fields.insert("contentType".into(), Value::String(content_type));
        }
        let committed = database::run_serializable(&self.db, || {
            let fields = fields.clone();
            async move {
                let mut txn = self.db.begin(false).await?;
                if let Some(token) = &token {
                    if let Err(failure) = self.check_token(&mut txn, token).await {
                        return Ok(Err(failure));
                    }
                    txn.delete(token).await?;
                }
                txn.insert_with_id(STORAGE_TABLE, id, fields).await?;
                self.db.commit(txn).await?;
                Ok::<_, DatabaseError>(Ok(()))
            }
        })
        .await;
        let failure = match committed {
            Ok(Ok(())) => return Ok(id),
            Ok(Err(failure)) => failure,
            Err(e) => StorageFailure::internal("committing a file", e),
        };
        if let Err(e) = self.blobs.delete(&key).await {
            tracing::warn!(error = %e, key, "could not delete the bytes of a rejected upload (the sweep will)");
        }
        Err(failure)
    }

    /// The metadata of a file, from the latest commit; `None` for unknown or deleted files and other ids.
    pub async fn metadata(&self, id: &str) -> Result<Option<FileMetadata>, StorageFailure> {
        let Some(id) = DocumentId::parse(id).ok().filter(|id| self.is_storage_id(id)) else { return Ok(None) };
        let mut txn = self.db.begin(true).await.map_err(|e| StorageFailure::internal("starting a read", e))?;
        let doc = txn.get(&id).await.map_err(|e| StorageFailure::internal("reading _storage", e))?;
        Ok(doc.map(|doc| FileMetadata::from_document(id, &doc)))
    }

    /// The bytes of a file whose metadata was read (all, or one range).
    pub async fn read(
        &self,
        file: &FileMetadata,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<Option<BlobRead>, StorageFailure> {
        match self.blobs.get(&file.id.to_string(), range).await {
            Ok(read) => Ok(read),
            Err(BlobError::InvalidRange { .. }) => Err(StorageFailure::code(ErrorCode::RangeNotSatisfiable)),
            Err(e) => Err(StorageFailure::internal("reading a blob", e)),
        }
    }

    /// Deletes the bytes of files whose rows a committed transaction removed.
    pub async fn delete_blobs(&self, ids: Vec<DocumentId>) {
        for id in ids {
            if let Err(e) = self.blobs.delete(&id.to_string()).await {
                tracing::warn!(error = %e, %id, "could not delete the bytes of a deleted file (the sweep will)");
            }
        }
    }

    /// Removes bytes without a `_storage` row older than the grace period, leftovers of interrupted writes, and
    /// expired upload tokens.
    pub async fn sweep(&self) -> Result<SweepReport, StorageFailure> {
        let now = self.db.clock().now();
        let grace = self.config.orphan_grace.as_millis() as u64;
        let cutoff = protocol::UnixTime::from_millis(now.as_millis().saturating_sub(grace));
        let mut report = SweepReport::default();
        let listed = self.blobs.list().await.map_err(|e| StorageFailure::internal("listing blobs", e))?;
        let old: Vec<_> = listed.into_iter().filter(|b| b.modified < cutoff).collect();
        for chunk in old.chunks(256) {
            let mut txn = self.db.begin(true).await.map_err(|e| StorageFailure::internal("starting a read", e))?;
            for blob in chunk {
                // Keys that are not storage ids are not this deployment's files: never touched.
                let Some(id) = DocumentId::parse(&blob.key).ok().filter(|id| self.is_storage_id(id)) else { continue };
                let has_row =
                    txn.get(&id).await.map_err(|e| StorageFailure::internal("reading _storage", e))?.is_some();
                if !has_row {
                    match self.blobs.delete(&blob.key).await {
                        Ok(()) => report.orphaned_blobs += 1,
                        Err(e) => tracing::warn!(error = %e, key = blob.key, "could not delete an orphaned blob"),
                    }
                }
            }
        }
        report.incomplete_writes = self
            .blobs
            .sweep_incomplete(cutoff)
            .await
            .map_err(|e| StorageFailure::internal("sweeping temporary files", e))?;
        report.expired_tokens = self.delete_expired_tokens().await?;
        Ok(report)
    }

    async fn delete_expired_tokens(&self) -> Result<usize, StorageFailure> {
        let now = self.now_millis();
        let deleted = database::run_serializable(&self.db, || async {
            let mut txn = self.db.begin(false).await?;
            let mut request = database::ScanRequest::new(UPLOAD_TOKENS_TABLE, database::schema::BY_CREATION_TIME);
            request.limit = Some(1000);
            let expired: Vec<DocumentId> = txn
                .scan(request)
                .await?
                .documents
                .iter()
                .filter(|doc| doc.get("expiresAt").and_then(Value::as_f64).is_some_and(|e| e < now))
                .filter_map(|doc| doc.get("_id").and_then(Value::as_str).and_then(|s| DocumentId::parse(s).ok()))
                .collect();
            for id in &expired {
                txn.delete(id).await?;
            }
            self.db.commit(txn).await?;
            Ok::<_, DatabaseError>(expired.len())
        })
        .await
        .map_err(|e| StorageFailure::internal("deleting expired upload tokens", e))?;
        Ok(deleted)
    }
}

/// The URL of the upload endpoint for a token, on the API origin.
fn upload_url(base: &str, token: &str) -> String {
    format!("{base}/api/storage/upload?token={token}")
}

/// The URL a file is served at, on the API origin.
pub fn file_url(base: &str, id: &DocumentId) -> String {
    format!("{base}/api/storage/{id}")
}

fn storage_id(files: &FileStorage, id: impl IntoDocumentId) -> Result<DocumentId, FunctionError> {
    let id = id.into_document_id()?;
    if !files.is_storage_id(&id) {
        return Err(FunctionError::msg(format!("{id} is not a storage id (an Id<\"_storage\">)")));
    }
    Ok(id)
}

/// `ctx.storage` in queries: URLs and metadata, read in the query's transaction (so reactive).
#[derive(Clone)]
pub struct StorageReader {
    txn: SharedTxn,
    files: Arc<FileStorage>,
    base_url: String,
}

impl StorageReader {
    pub(crate) fn new(txn: SharedTxn, files: Arc<FileStorage>, base_url: String) -> Self {
        StorageReader { txn, files, base_url }
    }

    async fn row(&self, id: DocumentId) -> Result<Option<FileMetadata>, FunctionError> {
        let doc = with_txn(&self.txn, async |t| t.get(&id).await).await?;
        Ok(doc.map(|doc| FileMetadata::from_document(id, &doc)))
    }

    /// The URL serving the file (`ctx.storage.getUrl`); `None` when the file does not exist.
    pub async fn get_url(&self, id: impl IntoDocumentId) -> Result<Option<String>, FunctionError> {
        let id = storage_id(&self.files, id)?;
        Ok(self.row(id).await?.map(|_| file_url(&self.base_url, &id)))
    }

    /// `ctx.storage.getMetadata`: `{storageId, sha256 (hex), size, contentType}` or `None`.
    pub async fn get_metadata(&self, id: impl IntoDocumentId) -> Result<Option<FileMetadata>, FunctionError> {
        let id = storage_id(&self.files, id)?;
        self.row(id).await
    }
}

/// Ids of files whose bytes go once the mutation commits.
pub(crate) type AfterCommit = Arc<Mutex<Vec<DocumentId>>>;

/// `ctx.storage` in mutations: adds upload URLs and deletion, both part of the mutation's transaction.
#[derive(Clone)]
pub struct StorageWriter {
    reader: StorageReader,
    after_commit: AfterCommit,
}

impl std::ops::Deref for StorageWriter {
    type Target = StorageReader;
    fn deref(&self) -> &StorageReader {
        &self.reader
    }
}

impl StorageWriter {
    pub(crate) fn new(reader: StorageReader, after_commit: AfterCommit) -> Self {
        StorageWriter { reader, after_commit }
    }

    /// A short-lived, single-use URL a client POSTs a file to (`ctx.storage.generateUploadUrl`); its token is
    /// created with this mutation's commit.
    pub async fn generate_upload_url(&self) -> Result<String, FunctionError> {
        let files = self.reader.files.clone();
        let token = with_txn(&self.reader.txn, async |t| files.create_upload_token(t).await).await?;
        Ok(upload_url(&self.reader.base_url, &token))
    }

    /// Deletes the file: its `_storage` row in this transaction, its bytes after the commit. Deleting a missing
    /// file is an error, as in Convex.
    pub async fn delete(&self, id: impl IntoDocumentId) -> Result<(), FunctionError> {
        let id = storage_id(&self.reader.files, id)?;
        with_txn(&self.reader.txn, async |t| t.delete(&id).await).await?;
        self.after_commit.lock().push(id);
        Ok(())
    }
}

/// A stored file being read: its metadata and its bytes as a stream.
pub struct StoredFile {
    pub metadata: FileMetadata,
    pub body: ByteStream,
}

impl StoredFile {
    /// A `200` response streaming the file, with its `Content-Type` (`application/octet-stream` when it has none)
    /// and `Content-Length`, as `new Response(blob)` answers in Convex.
    pub fn into_response(self) -> crate::HttpResponse {
        let length = self.metadata.size;
        let mut response = http::Response::new(crate::HttpBody::stream(self.body, Some(length)));
        let content_type = self.metadata.content_type.as_deref().unwrap_or("application/octet-stream");
        if let Ok(value) = http::HeaderValue::from_str(content_type) {
            response.headers_mut().insert(http::header::CONTENT_TYPE, value);
        }
        response.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
        response
    }
}

/// `ctx.storage` in actions and HTTP actions: every call is its own transaction; bytes in and out.
#[derive(Clone)]
pub struct StorageActions {
    files: Arc<FileStorage>,
    base_url: String,
}

impl StorageActions {
    pub(crate) fn new(files: Arc<FileStorage>, base_url: String) -> Self {
        StorageActions { files, base_url }
    }

    /// The URL serving the file; `None` when the file does not exist.
    pub async fn get_url(&self, id: impl IntoDocumentId) -> Result<Option<String>, FunctionError> {
        let id = storage_id(&self.files, id)?;
        Ok(self.files.metadata(&id.to_string()).await?.map(|_| file_url(&self.base_url, &id)))
    }

    pub async fn get_metadata(&self, id: impl IntoDocumentId) -> Result<Option<FileMetadata>, FunctionError> {
        let id = storage_id(&self.files, id)?;
        Ok(self.files.metadata(&id.to_string()).await?)
    }

    pub async fn generate_upload_url(&self) -> Result<String, FunctionError> {
        Ok(upload_url(&self.base_url, &self.files.generate_upload_token().await?))
    }

    /// Stores bytes as a new file (`ctx.storage.store(blob)`); returns its storage id.
    pub async fn store(
        &self,
        bytes: impl Into<Bytes>,
        content_type: Option<&str>,
    ) -> Result<DocumentId, FunctionError> {
        Ok(self.files.store(blobs::stream_of(bytes), content_type.map(str::to_string), None).await?)
    }

    /// Stores a stream of bytes as a new file without holding it whole in memory (a streaming HTTP action's
    /// request body: `ctx.storage.store_stream(request.into_body(), content_type)`). Like an upload URL, it takes at
    /// most the configured maximum upload size: past it the error is coded `PayloadTooLarge` (an HTTP action
    /// returning it answers 413) and nothing is stored; a body that fails midway is `UploadInterrupted`.
    pub async fn store_stream(
        &self,
        body: ByteStream,
        content_type: Option<&str>,
    ) -> Result<DocumentId, FunctionError> {
        let limit = self.files.config.max_upload_bytes;
        Ok(self.files.store(body, content_type.map(str::to_string), limit).await?)
    }

    /// The file as a stream with its metadata, without reading it into memory; `None` when it does not exist.
    /// [`StoredFile::into_response`] answers an HTTP action with it (Convex's `new Response(blob)`).
    pub async fn get_stream(&self, id: impl IntoDocumentId) -> Result<Option<StoredFile>, FunctionError> {
        let id = storage_id(&self.files, id)?;
        let Some(metadata) = self.files.metadata(&id.to_string()).await? else { return Ok(None) };
        let Some(read) = self.files.read(&metadata, None).await? else { return Ok(None) };
        Ok(Some(StoredFile { metadata, body: read.body }))
    }

    /// The file's bytes and content type (`ctx.storage.get`); `None` when it does not exist.
    pub async fn get(&self, id: impl IntoDocumentId) -> Result<Option<(Bytes, Option<String>)>, FunctionError> {
        let id = storage_id(&self.files, id)?;
        let Some(file) = self.files.metadata(&id.to_string()).await? else { return Ok(None) };
        let Some(read) = self.files.read(&file, None).await? else { return Ok(None) };
        let bytes = blobs::collect(read.body, usize::MAX).await.map_err(|e| FunctionError::internal(e.to_string()))?;
        Ok(Some((bytes, file.content_type)))
    }

    /// Deletes the file (its row, then its bytes).
    pub async fn delete(&self, id: impl IntoDocumentId) -> Result<(), FunctionError> {
        let id = storage_id(&self.files, id)?;
        let db = &self.files.db;
        database::run_serializable(db, || async {
            let mut txn = db.begin(false).await?;
            txn.delete(&id).await?;
            db.commit(txn).await?;
            Ok::<_, DatabaseError>(())
        })
        .await?;
        self.files.delete_blobs(vec![id]).await;
        Ok(())
    }
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
