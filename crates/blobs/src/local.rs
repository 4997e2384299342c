//! Blobs as files in a directory: `<root>/blobs/<key>`. A `put` writes `<root>/tmp/<key>.<n>`, fsyncs it, renames it
//! into place and fsyncs the directory, so a blob is either absent or whole, and durable once `put` returns.

use crate::{check_key, check_range, BlobEntry, BlobError, BlobRead, BlobStore, ByteStream, Hashing, PutOutcome};
use bytes::BytesMut;
use futures::StreamExt;
use protocol::UnixTime;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Writes reach the disk in pieces of this size (one blocking write each).
const WRITE_BUFFER: usize = 1 << 20;
/// Reads are streamed in chunks of at most this size.
const READ_CHUNK: usize = 256 << 10;

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

    async fn write_temp(&self, temp: &Path, mut body: ByteStream, limit: Option<u64>) -> Result<PutOutcome, BlobError> {
        let file =
            tokio::fs::File::create(temp).await.map_err(|e| BlobError::backend("creating a temporary file", e))?;
        let mut writer = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut hashing = Hashing::new(limit);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(BlobError::Body)?;
            hashing.update(&chunk)?;
            writer.write_all(&chunk).await.map_err(|e| BlobError::backend("writing a temporary file", e))?;
        }
        writer.flush().await.map_err(|e| BlobError::backend("writing a temporary file", e))?;
        let file = writer.into_inner();
        file.sync_all().await.map_err(|e| BlobError::backend("syncing a temporary file", e))?;
        Ok(hashing.finish())
    }
}

async fn sync_dir(dir: &Path) -> Result<(), BlobError> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|d| d.sync_all()))
        .await
        .map_err(|e| BlobError::backend("syncing the blob directory", e))?
        .map_err(|e| BlobError::backend("syncing the blob directory", e))
}

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
    async fn put(&self, key: &str, body: ByteStream, limit: Option<u64>) -> Result<PutOutcome, BlobError> {
        check_key(key)?;
        let temp = self.temp_path(key);
        let outcome = match self.write_temp(&temp, body, limit).await {
            Ok(outcome) => outcome,
            Err(e) => {
                let _ = tokio::fs::remove_file(&temp).await;
                return Err(e);
            }
        };
        if let Err(e) = tokio::fs::rename(&temp, self.blobs.join(key)).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(BlobError::backend("moving a blob into place", e));
        }
        sync_dir(&self.blobs).await?;
        Ok(outcome)
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
