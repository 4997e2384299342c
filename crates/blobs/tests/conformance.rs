//! The blob-store conformance suite, run on every backend: the local directory, memory, and S3 (a moto server
//! started on 127.0.0.1 for the test; `moto_server` must be on PATH: `pip install 'moto[server]'`, which `.ci/run`
//! does).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use blobs::{BlobError, BlobStore, ByteStream, LocalDirBlobStore, MemoryBlobStore, S3BlobStore, S3Config};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::sync::Arc;

mod moto;

/// A store under test plus whatever keeps it alive (a temporary directory, a server process).
struct Subject {
    store: Arc<dyn BlobStore>,
    _guard: Box<dyn std::any::Any + Send>,
}

fn local() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    Subject { store: Arc::new(LocalDirBlobStore::open(dir.path()).unwrap()), _guard: Box::new(dir) }
}

fn memory() -> Subject {
    Subject { store: Arc::new(MemoryBlobStore::default()), _guard: Box::new(()) }
}

async fn s3() -> Subject {
    let server = moto::MotoServer::start().await;
    let bucket = server.create_bucket("files").await;
    let config = S3Config {
        bucket,
        prefix: "deployment/".into(),
        endpoint: Some(server.endpoint()),
        region: Some("us-east-1".into()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        session_token: None,
    };
    Subject { store: Arc::new(S3BlobStore::new(config).unwrap()), _guard: Box::new(server) }
}

/// `bytes` in chunks of `chunk` bytes.
fn chunked(bytes: &[u8], chunk: usize) -> ByteStream {
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        bytes.chunks(chunk.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Box::pin(futures::stream::iter(chunks))
}

/// A body that delivers `bytes` and then fails, like a client whose connection is cut.
fn cut_off(bytes: &[u8]) -> ByteStream {
    let items = vec![
        Ok(Bytes::copy_from_slice(bytes)),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset")),
    ];
    Box::pin(futures::stream::iter(items))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn read(store: &dyn BlobStore, key: &str, range: Option<std::ops::Range<u64>>) -> Option<(u64, Vec<u8>)> {
    let blob = store.get(key, range).await.unwrap()?;
    let bytes = blobs::collect(blob.body, usize::MAX).await.unwrap();
    Some((blob.size, bytes.to_vec()))
}

async fn put_get_round_trip(store: &dyn BlobStore) {
    let data = pattern(300_000);
    let outcome = store.put("k1", chunked(&data, 7_000), None).await.unwrap();
    assert_eq!(outcome.size, data.len() as u64);
    assert_eq!(outcome.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
    assert_eq!(read(store, "k1", None).await, Some((data.len() as u64, data.clone())));
    // An empty body is a blob too.
    let empty = store.put("empty", chunked(&[], 1), None).await.unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(read(store, "empty", None).await, Some((0, Vec::new())));
}

async fn ranges(store: &dyn BlobStore) {
    let data = pattern(1_000);
    store.put("r", chunked(&data, 100), None).await.unwrap();
    assert_eq!(read(store, "r", Some(10..20)).await, Some((1_000, data[10..20].to_vec())));
    assert_eq!(read(store, "r", Some(990..1_000)).await, Some((1_000, data[990..].to_vec())));
    assert_eq!(read(store, "r", Some(5..5)).await, Some((1_000, Vec::new())));
    assert!(matches!(store.get("r", Some(900..1_001)).await, Err(BlobError::InvalidRange { .. })));
}

async fn missing_and_delete(store: &dyn BlobStore) {
    assert!(store.get("nothing", None).await.unwrap().is_none());
    store.delete("nothing").await.unwrap();
    store.put("d", chunked(b"bytes", 2), None).await.unwrap();
    store.delete("d").await.unwrap();
    assert!(store.get("d", None).await.unwrap().is_none());
    store.delete("d").await.unwrap();
    assert!(store.list().await.unwrap().is_empty());
}

async fn over_the_limit_leaves_nothing(store: &dyn BlobStore) {
    let data = pattern(10_000);
    let error = store.put("big", chunked(&data, 1_000), Some(9_999)).await.unwrap_err();
    assert!(matches!(error, BlobError::TooLarge { limit: 9_999 }), "{error}");
    assert!(store.get("big", None).await.unwrap().is_none());
    // Exactly at the limit is fine.
    store.put("fits", chunked(&data, 1_000), Some(10_000)).await.unwrap();
    let keys: Vec<String> = store.list().await.unwrap().into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["fits"]);
}

async fn cut_off_body_leaves_nothing(store: &dyn BlobStore) {
    let error = store.put("cut", cut_off(&pattern(5_000)), None).await.unwrap_err();
    assert!(matches!(error, BlobError::Body(_)), "{error}");
    assert!(store.get("cut", None).await.unwrap().is_none());
    assert!(store.list().await.unwrap().is_empty());
}

async fn list_names_every_blob(store: &dyn BlobStore) {
    for (key, len) in [("b", 3), ("a", 1), ("c", 2)] {
        store.put(key, chunked(&pattern(len), 1), None).await.unwrap();
    }
    let listed: Vec<(String, u64)> = store.list().await.unwrap().into_iter().map(|e| (e.key, e.size)).collect();
    assert_eq!(listed, [("a".to_string(), 1), ("b".to_string(), 3), ("c".to_string(), 2)]);
}

async fn keys_are_checked(store: &dyn BlobStore) {
    for key in ["", "../escape", "a/b", "-x", "with space"] {
        assert!(matches!(store.put(key, chunked(b"x", 1), None).await, Err(BlobError::InvalidKey(_))), "{key:?}");
        assert!(matches!(store.get(key, None).await, Err(BlobError::InvalidKey(_))), "{key:?}");
    }
}

/// Bodies larger than one S3 part (8 MiB) take the multipart path; over the limit there, the upload is aborted.
async fn large_bodies(store: &dyn BlobStore) {
    let data = pattern(17 << 20);
    let outcome = store.put("large", chunked(&data, 256 << 10), None).await.unwrap();
    assert_eq!(outcome.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
    let (size, bytes) = read(store, "large", None).await.unwrap();
    assert_eq!(size, data.len() as u64);
    assert!(bytes == data, "the large blob came back different");
    let tail = read(store, "large", Some((16 << 20)..(16 << 20) + 10)).await.unwrap().1;
    assert_eq!(tail, data[(16 << 20)..(16 << 20) + 10]);
    let error = store.put("too-large", chunked(&data, 256 << 10), Some(12 << 20)).await.unwrap_err();
    assert!(matches!(error, BlobError::TooLarge { .. }), "{error}");
    assert!(store.get("too-large", None).await.unwrap().is_none());
}

macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;
            #[tokio::test]
            async fn put_get_round_trip() {
                let s = $make;
                super::put_get_round_trip(s.store.as_ref()).await;
            }
            #[tokio::test]
            async fn ranges() {
                let s = $make;
                super::ranges(s.store.as_ref()).await;
            }
            #[tokio::test]
            async fn missing_and_delete() {
                let s = $make;
                super::missing_and_delete(s.store.as_ref()).await;
            }
            #[tokio::test]
            async fn over_the_limit_leaves_nothing() {
                let s = $make;
                super::over_the_limit_leaves_nothing(s.store.as_ref()).await;
            }
            #[tokio::test]
            async fn cut_off_body_leaves_nothing() {
                let s = $make;
                super::cut_off_body_leaves_nothing(s.store.as_ref()).await;
            }
            #[tokio::test]
            async fn list_names_every_blob() {
                let s = $make;
                super::list_names_every_blob(s.store.as_ref()).await;
            }
            #[tokio::test]
            async fn keys_are_checked() {
                let s = $make;
                super::keys_are_checked(s.store.as_ref()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn large_bodies() {
                let s = $make;
                super::large_bodies(s.store.as_ref()).await;
            }
        }
    };
}

conformance!(local_dir, local());
conformance!(in_memory, memory());
conformance!(s3_moto, s3().await);

/// Durability of the local directory: a blob written is there after reopening; no temporary file stays visible as
/// a blob, and leftovers of interrupted writes are swept.
#[tokio::test]
async fn local_dir_blobs_survive_reopening_and_leftovers_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = LocalDirBlobStore::open(dir.path()).unwrap();
        store.put("kept", chunked(b"durable", 3), None).await.unwrap();
    }
    // What a crash mid-upload leaves: a temporary file.
    std::fs::write(dir.path().join("tmp").join("half.1.0"), b"half").unwrap();
    let store = LocalDirBlobStore::open(dir.path()).unwrap();
    assert_eq!(read(&store, "kept", None).await, Some((7, b"durable".to_vec())));
    let keys: Vec<String> = store.list().await.unwrap().into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["kept"]);
    assert_eq!(store.sweep_incomplete(protocol::UnixTime::from_millis(0)).await.unwrap(), 0);
    assert_eq!(store.sweep_incomplete(protocol::UnixTime::from_secs(u32::MAX as u64)).await.unwrap(), 1);
    assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);

    // A body cut off after the part gathered in memory (so on the pipelined path, some of it already written)
    // leaves no temporary file and no blob either.
    let error = store.put("cut-large", cut_off(&pattern(6 << 20)), None).await.unwrap_err();
    assert!(matches!(error, BlobError::Body(_)), "{error}");
    assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    assert!(store.get("cut-large", None).await.unwrap().is_none());
}
