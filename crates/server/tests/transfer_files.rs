//! `authvex export` / `import` carry files: 1,000 files exported from one deployment and imported into an empty one
//! come back with the same `_storage` rows (ids, sha256, sizes, types) and the same bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use blobs::{BlobStore, MemoryBlobStore};
use database::{Database, DatabaseConfig, ManualClock, SeededEntropy};
use functions::storage::storage_schema;
use functions::{FileStorage, FileStorageConfig};
use server::transfer;
use std::sync::Arc;

async fn open(persistence: storage::DynPersistence, blobs: Arc<MemoryBlobStore>) -> FileStorage {
    let config = DatabaseConfig::new(
        storage_schema(),
        Arc::new(ManualClock::new(1_700_000_000_000_000_000)),
        Arc::new(SeededEntropy::new(3)),
    );
    let db = Database::open(persistence, config).await.unwrap();
    FileStorage::new(db, blobs, FileStorageConfig::default())
}

fn content(i: usize) -> Vec<u8> {
    // Sizes from 0 bytes to a little over one export chunk, so files of no bytes and multi-chunk files occur.
    let len = if i == 999 { transfer::FILE_CHUNK + 17 } else { i * 13 };
    (0..len).map(|j| ((i * 7 + j) % 251) as u8).collect()
}

#[tokio::test]
async fn a_thousand_files_survive_export_and_import() {
    let source_blobs = Arc::new(MemoryBlobStore::default());
    let source = open(Arc::new(storage::MemoryPersistence::new()), source_blobs.clone()).await;
    let source_persistence = source_persistence_of(&source);
    let mut ids = Vec::new();
    for i in 0..1000 {
        let content_type = (i % 3 != 0).then(|| format!("application/x-test-{}", i % 5));
        ids.push(source.store(blobs::stream_of(content(i)), content_type, None).await.unwrap());
    }

    let mut exported = Vec::new();
    let counts = transfer::export_with_files(
        source_persistence.as_ref(),
        Some(source_blobs.as_ref() as &dyn BlobStore),
        &mut exported,
        &mut |_: &transfer::TransferCounts, _: u64| {},
    )
    .await
    .unwrap();
    assert_eq!(counts.files, 1000);

    let target_persistence: storage::DynPersistence = Arc::new(storage::MemoryPersistence::new());
    let target_blobs = Arc::new(MemoryBlobStore::default());
    let counts = transfer::import_with_files(
        target_persistence.as_ref(),
        Some(target_blobs.clone()),
        &mut exported.as_slice(),
        &mut |_: &transfer::TransferCounts, _: u64| {},
    )
    .await
    .unwrap();
    assert_eq!(counts.files, 1000);

    let target = open(target_persistence, target_blobs).await;
    for (i, id) in ids.iter().enumerate() {
        let before = source.metadata(&id.to_string()).await.unwrap().unwrap();
        let after = target.metadata(&id.to_string()).await.unwrap().unwrap_or_else(|| panic!("file {i} is missing"));
        assert_eq!(after, before, "file {i}");
        let read = target.read(&after, None).await.unwrap().unwrap();
        let bytes = blobs::collect(read.body, usize::MAX).await.unwrap();
        assert!(bytes.as_ref() == content(i).as_slice(), "the bytes of file {i} differ");
    }
}

/// The persistence a [`FileStorage`] was opened on (its database's).
fn source_persistence_of(files: &FileStorage) -> storage::DynPersistence {
    files.database().persistence().clone()
}

#[tokio::test]
async fn an_export_with_files_is_refused_by_an_import_without_a_blob_store() {
    let blobs = Arc::new(MemoryBlobStore::default());
    let files = open(Arc::new(storage::MemoryPersistence::new()), blobs.clone()).await;
    files.store(blobs::stream_of(&b"x"[..]), None, None).await.unwrap();
    let mut exported = Vec::new();
    let persistence = source_persistence_of(&files);
    transfer::export_with_files(
        persistence.as_ref(),
        Some(blobs.as_ref() as &dyn BlobStore),
        &mut exported,
        &mut |_: &transfer::TransferCounts, _: u64| {},
    )
    .await
    .unwrap();
    let target: storage::DynPersistence = Arc::new(storage::MemoryPersistence::new());
    let error =
        transfer::import(target.as_ref(), &mut exported.as_slice(), &mut |_: &transfer::TransferCounts, _: u64| {})
            .await
            .unwrap_err();
    assert!(error.to_string().contains("no blob store"), "{error}");
}
