//! Export and import of a whole deployment as JSON lines, to move it between storage backends (SQLite ⇄
//! PostgreSQL) with the same documents, ids, indexes, catalog and deployment env vars.
//!
//! The format, one JSON object per line:
//! 1. `{"format": "authvex-export", "version": 1, "maxTs": N}`, the header;
//! 2. `{"meta": KEY, "value": BASE64}` for every metadata entry (the catalog, `env/NAME`, …);
//! 3. `{"table": NAME, "id": BASE64, "doc": {…}}` for every document, the body as stored (Convex JSON);
//! 4. `{"index": ID, "key": BASE64, "id": BASE64}` for every index entry;
//! 5. `{"file": STORAGE_ID, "offset": N, "data": BASE64}` for the bytes of every `_storage` file, in chunks of at
//!    most [`FILE_CHUNK`] bytes, a file's chunks in order and together (a file of no bytes is one empty chunk).
//!    Only written when the export is given the deployment's blob store ([`export_with_files`]).
//!
//! Everything is read from one snapshot, so the export is one consistent state. Import requires an empty target
//! (no commits, no catalog), writes documents and index entries in commits of [`IMPORT_BATCH`] lines with empty
//! commit-log records (nothing is subscribed yet), and ends at the source's latest timestamp so timestamps keep
//! increasing across the move. It runs while no deployment is serving the target.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use database::Catalog;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use storage::{Commit, DocumentWrite, IndexWrite, KeyRange, Order, Persistence, Snapshot, Timestamp};

/// The `format` of the header line.
pub const FORMAT: &str = "authvex-export";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Documents or index entries per import commit.
pub const IMPORT_BATCH: usize = 500;
/// Bytes of a file per export line.
pub const FILE_CHUNK: usize = 1 << 20;
/// The system table whose documents name files.
const STORAGE_TABLE: &str = "_storage";
/// Entries per scan page during export.
const PAGE: usize = 512;
/// The metadata key holding the catalog (as in the database crate).
const CATALOG_KEY: &str = "catalog";

/// Export or import failures; `line` numbers are 1-based.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error("cannot write the export: {0}")]
    Write(std::io::Error),
    #[error("cannot read the import: {0}")]
    Read(std::io::Error),
    #[error("line {line}: {message}")]
    Invalid { line: u64, message: String },
    #[error("the source's catalog is unreadable: {0}")]
    Catalog(String),
    #[error("the target deployment is not empty ({0}); import into a new SQLite data folder or an empty database")]
    NotEmpty(String),
    #[error("file {key}: {message}")]
    File { key: String, message: String },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Header {
        format: String,
        version: u32,
        #[serde(rename = "maxTs")]
        max_ts: u64,
    },
    Meta {
        meta: String,
        value: String,
    },
    Document {
        table: String,
        id: String,
        doc: serde_json::Value,
    },
    IndexEntry {
        index: u32,
        key: String,
        id: String,
    },
    FileChunk {
        file: String,
        offset: u64,
        data: String,
    },
}

/// What a transfer moved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransferCounts {
    pub meta: u64,
    pub documents: u64,
    pub index_entries: u64,
    /// Files whose bytes were carried.
    pub files: u64,
}

/// Progress callbacks: `on_line` after every line written or read, with the counts so far and (import) the bytes
/// read.
pub trait Progress {
    fn update(&mut self, counts: &TransferCounts, bytes: u64);
}

impl<F: FnMut(&TransferCounts, u64)> Progress for F {
    fn update(&mut self, counts: &TransferCounts, bytes: u64) {
        self(counts, bytes)
    }
}

fn write_line(out: &mut dyn Write, line: &Line) -> Result<u64, TransferError> {
    let mut text = serde_json::to_vec(line).map_err(|error| TransferError::Write(error.into()))?;
    text.push(b'\n');
    out.write_all(&text).map_err(TransferError::Write)?;
    Ok(text.len() as u64)
}

/// Writes the deployment in `persistence` to `out` (documents only; see [`export_with_files`]).
pub async fn export(
    persistence: &dyn Persistence,
    out: &mut dyn Write,
    progress: &mut dyn Progress,
) -> Result<TransferCounts, TransferError> {
    export_with_files(persistence, None, out, progress).await
}

/// Writes the deployment in `persistence` to `out`, with the bytes of its files from `files`.
pub async fn export_with_files(
    persistence: &dyn Persistence,
    files: Option<&dyn blobs::BlobStore>,
    out: &mut dyn Write,
    progress: &mut dyn Progress,
) -> Result<TransferCounts, TransferError> {
    let mut file_keys = Vec::new();
    let snapshot = persistence.snapshot().await?;
    let mut counts = TransferCounts::default();
    let mut bytes = 0;
    bytes +=
        write_line(out, &Line::Header { format: FORMAT.into(), version: FORMAT_VERSION, max_ts: snapshot.ts().0 })?;
    // Metadata is not versioned by snapshots; it changes only at start-up and with `authvex env set`.
    let meta = persistence.list_meta("").await?;
    let catalog = match meta.iter().find(|(key, _)| key == CATALOG_KEY) {
        Some((_, bytes)) => Catalog::decode(bytes).map_err(TransferError::Catalog)?,
        None => Catalog::default(),
    };
    for (key, value) in meta {
        bytes += write_line(out, &Line::Meta { meta: key, value: BASE64.encode(value) })?;
        counts.meta += 1;
        progress.update(&counts, bytes);
    }
    for table in catalog.tables.values() {
        let index = table.by_id().id;
        scan_all(snapshot.as_ref(), index, |entry| {
            let doc = serde_json::from_slice(&entry.document.body).map_err(|error| TransferError::Invalid {
                line: 0,
                message: format!("a document of table {} is not JSON: {error}", table.name),
            })?;
            if table.name == STORAGE_TABLE {
                if let Some(id) = serde_json::Value::get(&doc, "_id").and_then(serde_json::Value::as_str) {
                    file_keys.push(id.to_string());
                }
            }
            bytes += write_line(out, &Line::Document { table: table.name.clone(), id: BASE64.encode(&entry.id), doc })?;
            counts.documents += 1;
            progress.update(&counts, bytes);
            Ok(())
        })
        .await?;
    }
    for table in catalog.tables.values() {
        for index in &table.indexes {
            scan_all(snapshot.as_ref(), index.id, |entry| {
                bytes += write_line(
                    out,
                    &Line::IndexEntry { index: index.id, key: BASE64.encode(&entry.key), id: BASE64.encode(&entry.id) },
                )?;
                counts.index_entries += 1;
                progress.update(&counts, bytes);
                Ok(())
            })
            .await?;
        }
    }
    if let Some(files) = files {
        for key in file_keys {
            bytes += export_file(files, &key, out).await?;
            counts.files += 1;
            progress.update(&counts, bytes);
        }
    }
    out.flush().map_err(TransferError::Write)?;
    Ok(counts)
}

/// Writes one file's bytes as chunk lines; returns the bytes written.
async fn export_file(files: &dyn blobs::BlobStore, key: &str, out: &mut dyn Write) -> Result<u64, TransferError> {
    use futures::StreamExt;
    let file_error = |message: String| TransferError::File { key: key.to_string(), message };
    let Some(read) = files.get(key, None).await.map_err(|e| file_error(e.to_string()))? else {
        return Err(file_error("a _storage row names bytes the blob store does not have".into()));
    };
    let mut body = read.body;
    let (mut offset, mut written, mut pending) = (0u64, 0u64, Vec::with_capacity(FILE_CHUNK));
    loop {
        let next = body.next().await.transpose().map_err(|e| file_error(e.to_string()))?;
        if let Some(chunk) = &next {
            pending.extend_from_slice(chunk);
        }
        while pending.len() >= FILE_CHUNK || (next.is_none() && (!pending.is_empty() || offset == 0)) {
            let take = pending.len().min(FILE_CHUNK);
            let data = BASE64.encode(&pending[..take]);
            written += write_line(out, &Line::FileChunk { file: key.to_string(), offset, data })?;
            offset += take as u64;
            pending.drain(..take);
            if pending.is_empty() && next.is_none() {
                break;
            }
        }
        if next.is_none() {
            return Ok(written);
        }
    }
}

/// Calls `each` for every entry of an index, in key order.
async fn scan_all(
    snapshot: &dyn Snapshot,
    index: u32,
    mut each: impl FnMut(storage::IndexEntry) -> Result<(), TransferError>,
) -> Result<(), TransferError> {
    let mut range = KeyRange::all();
    loop {
        let page = snapshot.scan(index, &range, Order::Asc, PAGE).await?;
        let full = page.len() == PAGE;
        let Some(last) = page.last() else { return Ok(()) };
        let mut next = last.key.clone();
        next.push(0);
        for entry in page {
            each(entry)?;
        }
        if !full {
            return Ok(());
        }
        range = KeyRange { start: next, end: None };
    }
}

/// Reads an export from `input` into the empty deployment in `persistence` (file bytes are refused; see
/// [`import_with_files`]).
pub async fn import(
    persistence: &dyn Persistence,
    input: &mut dyn BufRead,
    progress: &mut dyn Progress,
) -> Result<TransferCounts, TransferError> {
    import_with_files(persistence, None, input, progress).await
}

/// A file being imported: its bytes stream into the blob store while the lines are read.
struct FileImport {
    key: String,
    next_offset: u64,
    chunks: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    put: tokio::task::JoinHandle<Result<blobs::PutOutcome, blobs::BlobError>>,
}

impl FileImport {
    fn start(files: &blobs::DynBlobStore, key: String) -> FileImport {
        let (chunks, receiver) = tokio::sync::mpsc::channel(4);
        let body = futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        });
        let (files, put_key) = (files.clone(), key.clone());
        let put = tokio::spawn(async move { files.put(&put_key, Box::pin(body), None).await });
        FileImport { key, next_offset: 0, chunks, put }
    }

    async fn finish(self) -> Result<(), TransferError> {
        drop(self.chunks);
        let outcome =
            self.put.await.map_err(|e| TransferError::File { key: self.key.clone(), message: e.to_string() })?;
        outcome.map(|_| ()).map_err(|e| TransferError::File { key: self.key, message: e.to_string() })
    }
}

/// Reads an export from `input` into the empty deployment in `persistence`, and its files into `files`.
pub async fn import_with_files(
    persistence: &dyn Persistence,
    files: Option<blobs::DynBlobStore>,
    input: &mut dyn BufRead,
    progress: &mut dyn Progress,
) -> Result<TransferCounts, TransferError> {
    let mut file: Option<FileImport> = None;
    if let Some(ts) = persistence.max_ts().await? {
        return Err(TransferError::NotEmpty(format!("it has commits up to timestamp {}", ts.0)));
    }
    if persistence.get_meta(CATALOG_KEY).await?.is_some() {
        return Err(TransferError::NotEmpty("it has a catalog".into()));
    }
    let mut counts = TransferCounts::default();
    let mut bytes = 0u64;
    let mut line_number = 0u64;
    let mut max_ts = None;
    let mut catalog: Option<Catalog> = None;
    let mut meta = Vec::new();
    let mut documents = Vec::new();
    let mut indexes = Vec::new();
    let mut next_ts = 1u64;
    let mut text = String::new();
    loop {
        text.clear();
        let read = input.read_line(&mut text).map_err(TransferError::Read)?;
        if read == 0 {
            break;
        }
        bytes += read as u64;
        line_number += 1;
        let invalid = |message: String| TransferError::Invalid { line: line_number, message };
        if text.trim().is_empty() {
            continue;
        }
        let line: Line =
            serde_json::from_str(&text).map_err(|error| invalid(format!("not an export line: {error}")))?;
        let decode = |what: &str, value: &str| {
            BASE64.decode(value).map_err(|error| invalid(format!("{what} is not base64: {error}")))
        };
        match line {
            Line::Header { format, version, max_ts: ts } => {
                if format != FORMAT || version != FORMAT_VERSION {
                    return Err(invalid(format!(
                        "unsupported export {format:?} version {version} (this build reads {FORMAT:?} version \
                         {FORMAT_VERSION})"
                    )));
                }
                if max_ts.is_some() {
                    return Err(invalid("a second header".into()));
                }
                max_ts = Some(ts);
                continue;
            }
            _ if max_ts.is_none() => {
                return Err(invalid(format!("the first line must be the {FORMAT:?} header")));
            }
            Line::Meta { meta: key, value } => {
                let value = decode("value", &value)?;
                if key == CATALOG_KEY {
                    catalog = Some(Catalog::decode(&value).map_err(invalid)?);
                }
                meta.push((key, Some(value)));
                counts.meta += 1;
            }
            Line::Document { table, id, doc } => {
                let number = catalog
                    .as_ref()
                    .and_then(|catalog| catalog.table(&table))
                    .map(|info| info.number)
                    .ok_or_else(|| invalid(format!("table {table:?} is not in the export's catalog")))?;
                let body = serde_json::to_vec(&doc).map_err(|error| invalid(error.to_string()))?;
                documents.push(DocumentWrite { id: decode("id", &id)?, table: number, body: Some(body) });
                counts.documents += 1;
            }
            Line::IndexEntry { index, key, id } => {
                indexes.push(IndexWrite { index, key: decode("key", &key)?, id: Some(decode("id", &id)?) });
                counts.index_entries += 1;
            }
            Line::FileChunk { file: key, offset, data } => {
                let Some(files) = &files else {
                    return Err(invalid("the export carries file bytes but no blob store was given".into()));
                };
                let data = decode("data", &data)?;
                if offset == 0 {
                    if let Some(done) = file.take() {
                        done.finish().await?;
                    }
                    blobs::check_key(&key).map_err(|e| invalid(e.to_string()))?;
                    file = Some(FileImport::start(files, key.clone()));
                    counts.files += 1;
                }
                let Some(current) = file.as_mut().filter(|f| f.key == key && f.next_offset == offset) else {
                    return Err(invalid(format!("a chunk of file {key} at offset {offset} is out of order")));
                };
                current.next_offset += data.len() as u64;
                if current.chunks.send(Ok(bytes::Bytes::from(data))).await.is_err() {
                    if let Some(failed) = file.take() {
                        failed.finish().await?;
                    }
                    return Err(invalid(format!("the blob store stopped taking file {key}")));
                }
            }
        }
        // Metadata first, in one piece: it holds the catalog the documents need.
        if !meta.is_empty() && (counts.documents > 0 || counts.index_entries > 0) {
            persistence.put_meta(std::mem::take(&mut meta)).await?;
        }
        if documents.len() + indexes.len() >= IMPORT_BATCH {
            flush(persistence, &mut next_ts, &mut documents, &mut indexes).await?;
        }
        progress.update(&counts, bytes);
    }
    if let Some(done) = file.take() {
        done.finish().await?;
    }
    let Some(max_ts) = max_ts else {
        return Err(TransferError::Invalid { line: 0, message: "the input is empty (no header)".into() });
    };
    if !meta.is_empty() {
        persistence.put_meta(meta).await?;
    }
    if !documents.is_empty() || !indexes.is_empty() {
        flush(persistence, &mut next_ts, &mut documents, &mut indexes).await?;
    }
    // End at the source's latest timestamp (or later, if it had more commits than that), so the next commit
    // is after every timestamp the source handed out.
    if max_ts >= next_ts {
        persistence.write(vec![Commit { ts: Timestamp(max_ts), ..Commit::default() }]).await?;
    }
    progress.update(&counts, bytes);
    Ok(counts)
}

async fn flush(
    persistence: &dyn Persistence,
    next_ts: &mut u64,
    documents: &mut Vec<DocumentWrite>,
    indexes: &mut Vec<IndexWrite>,
) -> Result<(), TransferError> {
    let commit = Commit {
        ts: Timestamp(*next_ts),
        documents: std::mem::take(documents),
        indexes: std::mem::take(indexes),
        log: Vec::new(),
    };
    persistence.write(vec![commit]).await?;
    *next_ts += 1;
    Ok(())
}
