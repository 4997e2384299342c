//! Where file bytes go (a folder beside the database, or an S3-compatible bucket) and the background sweep of
//! orphaned bytes.

use crate::{ServerError, StorageConfig};
use blobs::{DynBlobStore, LocalDirBlobStore, MemoryBlobStore, S3BlobStore, S3Config};
use functions::Runtime;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The folder of file bytes inside a data folder.
pub fn files_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("files")
}

/// The blob store for a deployment: an S3-compatible bucket when `S3_STORAGE_FILES_BUCKET` is set (with the usual
/// `AWS_*` settings and `S3_ENDPOINT_URL`), else `<data>/files`, or memory for in-memory deployments.
pub fn open_blob_store(
    storage: &StorageConfig,
    setting: impl Fn(&str) -> Option<String>,
    clock: Arc<dyn database::Clock>,
) -> Result<DynBlobStore, ServerError> {
    if let Some(config) = S3Config::from_lookup(&setting) {
        return Ok(Arc::new(S3BlobStore::new(config).map_err(|e| ServerError::Files(e.to_string()))?));
    }
    match storage {
        StorageConfig::Sqlite { data_dir } | StorageConfig::Postgres { data_dir, .. } => {
            Ok(Arc::new(LocalDirBlobStore::open(files_dir(data_dir)).map_err(|e| ServerError::Files(e.to_string()))?))
        }
        StorageConfig::Memory => Ok(Arc::new(MemoryBlobStore::new(move || clock.now()))),
    }
}

/// How often the orphan sweep runs.
const SWEEP_INTERVAL: Duration = Duration::from_secs(600);

/// Runs [`functions::FileStorage::sweep`] every [`SWEEP_INTERVAL`] until the server stops.
pub(crate) fn spawn_sweeper(runtime: Arc<Runtime>, mut stopped: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
            match runtime.files().sweep().await {
                Ok(report) if report != functions::storage::SweepReport::default() => {
                    tracing::info!(?report, "file storage sweep")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "file storage sweep failed"),
            }
        }
    });
}
