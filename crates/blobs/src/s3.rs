//! Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Garage, moto…) through `object_store`. A body up to
//! one part is one `PUT`; a larger one is a multipart upload of [`PART_SIZE`] parts (at most two in flight), aborted
//! when the body fails or passes the limit, so a blob appears whole or not at all.

use crate::{check_key, check_range, BlobEntry, BlobError, BlobRead, BlobStore, ByteStream, Hashing, PutOutcome};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use protocol::UnixTime;
use std::ops::Range;

/// Size of one multipart part (S3 needs at least 5 MiB for every part but the last).
const PART_SIZE: usize = 8 << 20;

/// Where the bucket is and how to sign requests (the usual `AWS_*` settings; see `S3Config::from_lookup`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// Object names are `<prefix><key>` (empty: the bucket's root).
    pub prefix: String,
    /// `https://…` of an S3-compatible server; empty = AWS for the region.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

impl S3Config {
    /// The config from settings by name (Convex self-hosting's names): `S3_STORAGE_FILES_BUCKET` (required, else
    /// `None`), `S3_STORAGE_FILES_PREFIX`, `S3_ENDPOINT_URL` (or `AWS_ENDPOINT_URL`), `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<S3Config> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        Some(S3Config {
            bucket: get("S3_STORAGE_FILES_BUCKET")?,
            prefix: get("S3_STORAGE_FILES_PREFIX").unwrap_or_default(),
            endpoint: get("S3_ENDPOINT_URL").or_else(|| get("AWS_ENDPOINT_URL")),
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            access_key_id: get("AWS_ACCESS_KEY_ID"),
            secret_access_key: get("AWS_SECRET_ACCESS_KEY"),
            session_token: get("AWS_SESSION_TOKEN"),
        })
    }
}

pub struct S3BlobStore {
    store: AmazonS3,
    config: S3Config,
}

fn s3_error(context: &str, error: object_store::Error) -> BlobError {
    BlobError::backend(context, error)
}

impl S3BlobStore {
    pub fn new(config: S3Config) -> Result<S3BlobStore, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(config.region.clone().unwrap_or_else(|| "us-east-1".to_string()));
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token);
        }
        let store = builder.build().map_err(|e| s3_error("configuring the S3 store", e))?;
        Ok(S3BlobStore { store, config })
    }

    fn path(&self, key: &str) -> Path {
        Path::from(format!("{}{key}", self.config.prefix))
    }

    /// Uploads what remains of `body` after `first` (a full part) as a multipart upload.
    async fn put_multipart(
        &self,
        path: &Path,
        first: Bytes,
        mut body: ByteStream,
        hashing: &mut Hashing,
    ) -> Result<(), BlobError> {
        let upload = self.store.put_multipart(path).await.map_err(|e| s3_error("starting a multipart upload", e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        writer.put(first);
        loop {
            let chunk = match body.next().await {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => {
                    let _ = writer.abort().await;
                    return Err(BlobError::Body(e));
                }
            };
            if let Err(e) = hashing.update(&chunk) {
                let _ = writer.abort().await;
                return Err(e);
            }
            if let Err(e) = writer.wait_for_capacity(2).await {
                let _ = writer.abort().await;
                return Err(s3_error("uploading a part", e));
            }
            writer.put(chunk);
        }
        writer.finish().await.map_err(|e| s3_error("completing a multipart upload", e))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, mut body: ByteStream, limit: Option<u64>) -> Result<PutOutcome, BlobError> {
        check_key(key)?;
        let path = self.path(key);
        let mut hashing = Hashing::new(limit);
        let mut first = BytesMut::new();
        while first.len() < PART_SIZE {
            match body.next().await {
                None => {
                    self.store
                        .put(&path, PutPayload::from(first.freeze()))
                        .await
                        .map_err(|e| s3_error("uploading a blob", e))?;
                    return Ok(hashing.finish());
                }
                Some(chunk) => {
                    let chunk = chunk.map_err(BlobError::Body)?;
                    hashing.update(&chunk)?;
                    first.extend_from_slice(&chunk);
                }
            }
        }
        self.put_multipart(&path, first.freeze(), body, &mut hashing).await?;
        Ok(hashing.finish())
    }

    async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<BlobRead>, BlobError> {
        check_key(key)?;
        let path = self.path(key);
        // S3 refuses empty ranges: those read only the size.
        if let Some(range) = range.as_ref().filter(|r| r.start >= r.end) {
            let meta = match self.store.head(&path).await {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(s3_error("reading a blob's size", e)),
            };
            check_range(range, meta.size)?;
            return Ok(Some(BlobRead { size: meta.size, body: crate::stream_of(Bytes::new()) }));
        }
        let options = GetOptions { range: range.clone().map(GetRange::Bounded), ..GetOptions::default() };
        let result = match self.store.get_opts(&path, options).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(s3_error("reading a blob", e)),
        };
        let size = result.meta.size;
        if let Some(range) = &range {
            check_range(range, size)?;
        }
        let body = result.into_stream().map_err(std::io::Error::other);
        Ok(Some(BlobRead { size, body: Box::pin(body) }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(s3_error("deleting a blob", e)),
        }
    }

    async fn list(&self) -> Result<Vec<BlobEntry>, BlobError> {
        let prefix = (!self.config.prefix.is_empty()).then(|| Path::from(self.config.prefix.trim_end_matches('/')));
        let objects: Vec<_> =
            self.store.list(prefix.as_ref()).try_collect().await.map_err(|e| s3_error("listing blobs", e))?;
        let mut entries: Vec<BlobEntry> = objects
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.as_ref().strip_prefix(self.config.prefix.as_str())?.to_string();
                check_key(&name).ok()?;
                let modified = UnixTime::from_millis(meta.last_modified.timestamp_millis().max(0) as u64);
                Some(BlobEntry { key: name, size: meta.size, modified })
            })
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(entries)
    }

    fn describe(&self) -> String {
        match &self.config.endpoint {
            Some(endpoint) => format!("S3 bucket {} at {endpoint}", self.config.bucket),
            None => format!("S3 bucket {}", self.config.bucket),
        }
    }
}
