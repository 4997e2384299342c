//! Blobs as files in a directory: `<root>/blobs/<key>`. A `put` writes `<root>/tmp/<key>.<n>`, fsyncs it, renames it
//! into place and fsyncs the directory, so a blob is either absent or whole, and durable once `put` returns.
//!
//! A body of at most [`SMALL_BODY`] bytes is gathered, then hashed and written by one blocking task. A longer `put`
//! is a pipeline of three: the calling task reads the body, counts it against the limit and hands each
//! chunk (a reference-counted `Bytes`, never copied) to two blocking threads through bounded queues, one hashing
//! (SHA-256), one writing. The writer asks the kernel to start writing back every [`WRITEBACK_WINDOW`] bytes as it
//! goes, so the final fsync waits for the last window only instead of the whole file. Memory per upload is bounded
//! by the queues (a few body chunks), whatever the file's size.

use crate::{check_key, check_range, BlobEntry, BlobError, BlobRead, BlobStore, ByteStream, PutOutcome};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use protocol::UnixTime;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

/// Reads are streamed in chunks of at most this size.
const READ_CHUNK: usize = 256 << 10;
/// Body chunks queued for the hasher and the writer each (bounds an upload's memory: hyper hands out chunks of at
/// most a few hundred KiB).
const QUEUE: usize = 8;
/// Bodies up to this size are gathered in memory and written by one blocking task.
const SMALL_BODY: u64 = 4 << 20;
/// The writer starts the kernel's writeback of what it wrote every this many bytes.
const WRITEBACK_WINDOW: u64 = 8 << 20;

pub struct LocalDirBlobStore {
    root: PathBuf,
    blobs: PathBuf,
    tmp: PathBuf,
    next_temp: AtomicU64,
}

impl LocalDirBlobStore {
    /// Opens (creating) the store in `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<LocalDirBlobStore, BlobError> {
        let root = root.into();
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        for dir in [&blobs, &tmp] {
            std::fs::create_dir_all(dir).map_err(|e| BlobError::backend(&format!("creating {}", dir.display()), e))?;
        }
        Ok(LocalDirBlobStore { root, blobs, tmp, next_temp: AtomicU64::new(0) })
    }

    fn temp_path(&self, key: &str) -> PathBuf {
        let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
        self.tmp.join(format!("{key}.{}.{n}", std::process::id()))
    }
}

/// What the reading task sends the hasher and the writer: chunks, then `End` once the whole body arrived within the
/// limit. A queue closed without `End` means the put failed: the writer removes its temporary file.
enum Piece {
    Chunk(Bytes),
    End,
}

/// Sends `head` (already read and counted: `size` bytes), then the rest of `body`, into the two queues, enforcing
/// `limit`; the size on success.
async fn feed(
    head: Vec<Bytes>,
    mut size: u64,
    mut body: ByteStream,
    limit: Option<u64>,
    hasher: &mpsc::Sender<Piece>,
    writer: &mpsc::Sender<Piece>,
) -> Result<u64, BlobError> {
    let mut head = head.into_iter();
    loop {
        let chunk = match head.next() {
            Some(chunk) => chunk,
            None => match body.next().await {
                None => break,
                Some(chunk) => {
                    let chunk = chunk.map_err(BlobError::Body)?;
                    size += chunk.len() as u64;
                    if let Some(limit) = limit.filter(|limit| size > *limit) {
                        return Err(BlobError::TooLarge { limit });
                    }
                    chunk
                }
            },
        };
        if chunk.is_empty() {
            continue;
        }
        // A closed queue means that thread failed; its error is the one reported.
        if hasher.send(Piece::Chunk(chunk.clone())).await.is_err() || writer.send(Piece::Chunk(chunk)).await.is_err() {
            return Ok(size);
        }
    }
    let _ = hasher.send(Piece::End).await;
    let _ = writer.send(Piece::End).await;
    Ok(size)
}

/// A body that arrived whole (at most [`SMALL_BODY`] bytes): hashed, written, synced and moved into place on this
/// (blocking) thread.
fn write_small(chunks: Vec<Bytes>, size: u64, to: &Destination) -> Result<PutOutcome, BlobError> {
    let mut hasher = Sha256::new();
    for chunk in &chunks {
        hasher.update(chunk);
    }
    let mut pieces = chunks.into_iter().map(Piece::Chunk).chain(std::iter::once(Piece::End));
    write_all(move || pieces.next(), to).map_err(WriteFailure::into_error)?;
    Ok(PutOutcome { size, sha256: hasher.finalize().into() })
}

fn hash_all(mut pieces: mpsc::Receiver<Piece>) -> Option<[u8; 32]> {
    let mut hasher = Sha256::new();
    while let Some(piece) = pieces.blocking_recv() {
        match piece {
            Piece::Chunk(chunk) => hasher.update(&chunk),
            Piece::End => return Some(hasher.finalize().into()),
        }
    }
    None
}

/// Where a blob is written: the temporary file, its final name, the directory to sync after the rename.
struct Destination {
    temp: PathBuf,
    blob: PathBuf,
    dir: PathBuf,
}

/// Why the writer stopped.
enum WriteFailure {
    /// The queue closed without `End`: the reading side failed and reports why.
    Abandoned,
    Io(&'static str, std::io::Error),
}

impl WriteFailure {
    fn into_error(self) -> BlobError {
        match self {
            WriteFailure::Io(context, e) => BlobError::backend(context, e),
            WriteFailure::Abandoned => BlobError::Backend("the blob writer stopped".into()),
        }
    }
}

/// The writing thread (`pieces` gives the next piece, waiting for it): temporary file, writeback as it goes, fsync, rename, directory fsync. Removes the temporary
/// file on any failure.
fn write_all(pieces: impl FnMut() -> Option<Piece>, to: &Destination) -> Result<(), WriteFailure> {
    let result = write_temp(pieces, &to.temp).and_then(|()| {
        std::fs::rename(&to.temp, &to.blob).map_err(|e| WriteFailure::Io("moving a blob into place", e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&to.temp);
        return result;
    }
    std::fs::File::open(&to.dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| WriteFailure::Io("syncing the blob directory", e))
}

fn write_temp(mut pieces: impl FnMut() -> Option<Piece>, temp: &Path) -> Result<(), WriteFailure> {
    let io = |context| move |e| WriteFailure::Io(context, e);
    let mut file = std::fs::File::create(temp).map_err(io("creating a temporary file"))?;
    let (mut written, mut kicked) = (0u64, 0u64);
    loop {
        match pieces() {
            Some(Piece::Chunk(chunk)) => {
                file.write_all(&chunk).map_err(io("writing a temporary file"))?;
                written += chunk.len() as u64;
                if written - kicked >= WRITEBACK_WINDOW {
                    start_writeback(&file, kicked, written - kicked);
                    kicked = written;
                }
            }
            Some(Piece::End) => break,
            None => return Err(WriteFailure::Abandoned),
        }
    }
    file.sync_all().map_err(io("syncing a temporary file"))
}

/// Asks the kernel to start writing `len` bytes at `offset` to the disk now, without waiting (Linux starts the
/// writeback of a range's dirty pages on `POSIX_FADV_DONTNEED`), so that the final fsync has little left to do. Only
/// a hint: durability comes from the fsync.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    let _ = rustix::fs::fadvise(file, offset, std::num::NonZeroU64::new(len), rustix::fs::Advice::DontNeed);
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _offset: u64, _len: u64) {}

fn modified_of(metadata: &std::fs::Metadata) -> UnixTime {
    let millis = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64);
    UnixTime::from_millis(millis)
}

#[async_trait::async_trait]
impl BlobStore for LocalDirBlobStore {
    async fn put(&self, key: &str, mut body: ByteStream, limit: Option<u64>) -> Result<PutOutcome, BlobError> {
        check_key(key)?;
        let to = Destination { temp: self.temp_path(key), blob: self.blobs.join(key), dir: self.blobs.clone() };
        // The first SMALL_BODY bytes are gathered here: a body that ends within them is hashed and written by one
        // blocking task (thread hand-offs, not bytes, dominate small files); a longer one goes through the pipeline.
        let mut head = Vec::new();
        let mut size = 0u64;
        let whole = loop {
            match body.next().await {
                None => break true,
                Some(Err(e)) => return Err(BlobError::Body(e)),
                Some(Ok(chunk)) => {
                    size += chunk.len() as u64;
                    if let Some(limit) = limit.filter(|limit| size > *limit) {
                        return Err(BlobError::TooLarge { limit });
                    }
                    head.push(chunk);
                    if size > SMALL_BODY {
                        break false;
                    }
                }
            }
        };
        if whole {
            return tokio::task::spawn_blocking(move || write_small(head, size, &to))
                .await
                .map_err(|e| BlobError::backend("writing a blob", e))?;
        }
        let (hash_tx, hash_rx) = mpsc::channel(QUEUE);
        let (write_tx, write_rx) = mpsc::channel(QUEUE);
        let hashing = tokio::task::spawn_blocking(move || hash_all(hash_rx));
        let writing = tokio::task::spawn_blocking(move || {
            let mut write_rx = write_rx;
            write_all(move || write_rx.blocking_recv(), &to)
        });
        let fed = feed(head, size, body, limit, &hash_tx, &write_tx).await;
        // Closing the queues: after `End` the threads finish; without it they give up (the writer cleans up).
        drop((hash_tx, write_tx));
        let sha256 = hashing.await.map_err(|e| BlobError::backend("hashing a blob", e))?;
        let written = writing.await.map_err(|e| BlobError::backend("writing a blob", e))?;
        let size = fed?;
        written.map_err(WriteFailure::into_error)?;
        let sha256 = sha256.ok_or_else(|| BlobError::Backend("the blob hasher stopped".into()))?;
        Ok(PutOutcome { size, sha256 })
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<BlobRead>, BlobError> {
        check_key(key)?;
        let mut file = match tokio::fs::File::open(self.blobs.join(key)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BlobError::backend("opening a blob", e)),
        };
        let size = file.metadata().await.map_err(|e| BlobError::backend("reading a blob's size", e))?.len();
        let range = range.unwrap_or(0..size);
        check_range(&range, size)?;
        if range.start > 0 {
            file.seek(std::io::SeekFrom::Start(range.start)).await.map_err(|e| BlobError::backend("seeking", e))?;
        }
        let remaining = range.end - range.start;
        let body = futures::stream::unfold((file, remaining), |(mut file, remaining)| async move {
            if remaining == 0 {
                return None;
            }
            let mut buf = BytesMut::with_capacity(READ_CHUNK.min(remaining as usize));
            match file.read_buf(&mut buf).await {
                Ok(0) => Some((
                    Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the blob is shorter than its size")),
                    (file, 0),
                )),
                Ok(n) => {
                    let n = (n as u64).min(remaining);
                    buf.truncate(n as usize);
                    Some((Ok(buf.freeze()), (file, remaining - n)))
                }
                Err(e) => Some((Err(e), (file, 0))),
            }
        });
        Ok(Some(BlobRead { size, body: Box::pin(body) }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        match tokio::fs::remove_file(self.blobs.join(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::backend("deleting a blob", e)),
        }
    }

    async fn list(&self) -> Result<Vec<BlobEntry>, BlobError> {
        let mut dir = tokio::fs::read_dir(&self.blobs).await.map_err(|e| BlobError::backend("listing blobs", e))?;
        let mut entries = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(|e| BlobError::backend("listing blobs", e))? {
            let Some(key) = entry.file_name().to_str().map(str::to_string) else { continue };
            if check_key(&key).is_err() {
                continue;
            }
            let Ok(metadata) = entry.metadata().await else { continue };
            entries.push(BlobEntry { key, size: metadata.len(), modified: modified_of(&metadata) });
        }
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(entries)
    }

    async fn sweep_incomplete(&self, before: UnixTime) -> Result<usize, BlobError> {
        let mut dir =
            tokio::fs::read_dir(&self.tmp).await.map_err(|e| BlobError::backend("listing temporary files", e))?;
        let mut removed = 0;
        while let Some(entry) = dir.next_entry().await.map_err(|e| BlobError::backend("listing temporary files", e))? {
            let Ok(metadata) = entry.metadata().await else { continue };
            if modified_of(&metadata) < before && tokio::fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn describe(&self) -> String {
        format!("files in {}", self.root.display())
    }
}
