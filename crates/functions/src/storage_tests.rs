//! File storage on the in-memory store (or PostgreSQL) with a manual clock and an in-memory blob store.

use crate::storage::{storage_schema, FileStorageConfig, STORAGE_TABLE};
use crate::*;
use blobs::{BlobStore, MemoryBlobStore};
use database::{Database, DatabaseConfig, ManualClock, Schema, SeededEntropy, TableDefinition};
use protocol::ErrorCode;
use std::collections::BTreeMap;
use std::sync::Arc;
use value::{obj, v, Value};

const BASE: &str = "http://api.test";

struct Harness {
    rt: Arc<Runtime>,
    clock: Arc<ManualClock>,
    blobs: Arc<MemoryBlobStore>,
}

fn app() -> App {
    let mut app = App::new();
    app.schema(Schema::new().table("notes", TableDefinition::new()).merge(storage_schema()));
    app.mutation(
        "files:uploadUrl",
        |ctx: MutationCtx, _: Value| async move { ctx.storage.generate_upload_url().await },
    );
    app.query("files:url", |ctx: QueryCtx, args: Value| async move {
        let id = args.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        ctx.storage.get_url(id.as_str()).await
    })
    .args(v::object([("id", v::id("_storage"))]));
    app.query("files:row", |ctx: QueryCtx, args: Value| async move {
        let id = args.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(ctx.db.system().get(id.as_str()).await?.map(Document::into_value))
    });
    app.query("files:count", |ctx: QueryCtx, _: Value| async move {
        Ok(ctx.db.system().query(STORAGE_TABLE).collect().await?.len() as i64)
    });
    app.mutation("files:delete", |ctx: MutationCtx, args: Value| async move {
        let id = args.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        ctx.storage.delete(id.as_str()).await?;
        Ok(Value::Null)
    });
    app.action("files:storeAndRead", |ctx: ActionCtx, args: Value| async move {
        let text = args.get("text").and_then(Value::as_str).unwrap_or_default().to_string();
        let id = ctx.storage.store(text.into_bytes(), Some("text/plain")).await?;
        let (bytes, content_type) = ctx.storage.get(id).await?.ok_or("stored file is missing")?;
        let meta = ctx.storage.get_metadata(id).await?.ok_or("no metadata")?;
        Ok(obj! {
            "id" => id.to_string(),
            "text" => String::from_utf8_lossy(&bytes).to_string(),
            "contentType" => content_type.unwrap_or_default(),
            "sha256" => meta.sha256_hex(),
            "url" => ctx.storage.get_url(id).await?.unwrap_or_default(),
        })
    });
    // Convex's `ctx.storage.store(await request.blob())` and `new Response(blob)`, streamed both ways.
    app.route_streaming(http::Method::POST, "/store", |ctx: ActionCtx, request: StreamingHttpRequest| async move {
        let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        let id = ctx.storage.store_stream(request.into_body(), content_type.as_deref()).await?;
        Ok(HttpResponse::new(id.to_string().into()))
    });
    app.route(http::Method::GET, "/file", |ctx: ActionCtx, request: HttpRequest| async move {
        let id = request.uri().query().unwrap_or_default().to_string();
        match ctx.storage.get_stream(id.as_str()).await? {
            Some(file) => Ok(file.into_response()),
            None => Ok(HttpResponse::new("no such file".into())),
        }
    });
    app
}

async fn harness(config: FileStorageConfig) -> Harness {
    let app = app();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000_000_000));
    let db_config = DatabaseConfig::new(app.schema_ref().clone(), clock.clone(), Arc::new(SeededEntropy::new(7)));
    let db = Database::open(test_support::test_persistence().await, db_config).await.unwrap();
    let env = BTreeMap::from([("CONVEX_CLOUD_URL".to_string(), BASE.to_string())]);
    let stamp = clock.clone();
    let blobs = Arc::new(MemoryBlobStore::new(move || database::Clock::now(stamp.as_ref())));
    let rt = Runtime::with_files(db, app, env, blobs.clone(), config).unwrap();
    Harness { rt, clock, blobs }
}

async fn run(rt: &Arc<Runtime>, path: &str, args: Value) -> Result<Value, String> {
    rt.run(path, args, Caller::public(None), None).await.result.map_err(|f| f.message)
}

async fn upload_url(rt: &Arc<Runtime>) -> String {
    run(rt, "files:uploadUrl", obj! {}).await.unwrap().as_str().unwrap().to_string()
}

fn token_of(url: &str) -> String {
    let prefix = format!("{BASE}/api/storage/upload?token=");
    url.strip_prefix(&prefix).unwrap_or_else(|| panic!("unexpected upload URL {url}")).to_string()
}

async fn upload(rt: &Arc<Runtime>, token: &str, bytes: &'static [u8]) -> Result<value::DocumentId, StorageFailure> {
    rt.files().upload(token, Some("image/png".into()), blobs::stream_of(bytes)).await
}

async fn count(rt: &Arc<Runtime>) -> i64 {
    run(rt, "files:count", obj! {}).await.unwrap().as_i64().unwrap()
}

#[tokio::test]
async fn an_upload_url_stores_one_file_whose_row_and_url_follow_convex() {
    let h = harness(FileStorageConfig::default()).await;
    let token = token_of(&upload_url(&h.rt).await);
    let id = upload(&h.rt, &token, b"hello world").await.unwrap();

    let row = run(&h.rt, "files:row", obj! {"id" => id.to_string()}).await.unwrap();
    // sha256("hello world"), base64, as the `_storage` table holds it.
    assert_eq!(row.get("sha256").and_then(Value::as_str), Some("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="));
    assert_eq!(row.get("size").and_then(Value::as_f64), Some(11.0));
    assert_eq!(row.get("contentType").and_then(Value::as_str), Some("image/png"));
    assert!(row.get("_creationTime").is_some());
    let url = run(&h.rt, "files:url", obj! {"id" => id.to_string()}).await.unwrap();
    assert_eq!(url, Value::String(format!("{BASE}/api/storage/{id}")));

    // The token is spent: a second upload with it is refused and stores nothing.
    let reused = upload(&h.rt, &token, b"again").await.unwrap_err();
    assert_eq!(reused.code, ErrorCode::InvalidUploadToken);
    for forged in ["", "not-an-id", &id.to_string()] {
        assert_eq!(upload(&h.rt, forged, b"x").await.unwrap_err().code, ErrorCode::InvalidUploadToken, "{forged:?}");
    }
    assert_eq!(count(&h.rt).await, 1);
    assert_eq!(h.blobs.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn expired_and_oversized_uploads_store_nothing() {
    let config = FileStorageConfig { max_upload_bytes: Some(10), ..FileStorageConfig::default() };
    let h = harness(config).await;
    let token = token_of(&upload_url(&h.rt).await);
    let too_large = upload(&h.rt, &token, b"twenty bytes of data").await.unwrap_err();
    assert_eq!(too_large.code, ErrorCode::PayloadTooLarge);
    // A refused body does not spend the token.
    h.clock.advance(config.upload_url_lifetime.as_nanos() as u64 + 1_000_000_000);
    let expired = upload(&h.rt, &token, b"small").await.unwrap_err();
    assert_eq!(expired.code, ErrorCode::UploadUrlExpired);
    let cut =
        h.rt.files()
            .upload(
                &token_of(&upload_url(&h.rt).await),
                None,
                Box::pin(futures::stream::iter(vec![
                    Ok(bytes::Bytes::from_static(b"half")),
                    Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")),
                ])),
            )
            .await
            .unwrap_err();
    assert_eq!(cut.code, ErrorCode::UploadInterrupted);
    assert_eq!(count(&h.rt).await, 0);
    assert!(h.blobs.list().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_stores_one_file_under_concurrency() {
    let h = harness(FileStorageConfig::default()).await;
    let token = token_of(&upload_url(&h.rt).await);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (rt, token) = (h.rt.clone(), token.clone());
            tokio::spawn(async move { upload(&rt, &token, b"race").await })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => stored += 1,
            Err(failure) => assert_eq!(failure.code, ErrorCode::InvalidUploadToken),
        }
    }
    assert_eq!(stored, 1);
    assert_eq!(count(&h.rt).await, 1);
    assert_eq!(h.blobs.list().await.unwrap().len(), 1, "the losers' bytes are deleted");
}

#[tokio::test]
async fn deleting_a_file_removes_its_row_in_the_transaction_and_its_bytes_after_and_wakes_readers() {
    let h = harness(FileStorageConfig::default()).await;
    let id = upload(&h.rt, &token_of(&upload_url(&h.rt).await), b"doomed").await.unwrap();
    let before = h.rt.run("files:url", obj! {"id" => id.to_string()}, Caller::public(None), None).await;
    assert!(matches!(before.result, Ok(Value::String(_))));
    let (reads, read_at) = (before.reads.unwrap(), before.ts.unwrap());

    run(&h.rt, "files:delete", obj! {"id" => id.to_string()}).await.unwrap();
    // The query that built the URL read the row: the delete's commit is one that re-runs it.
    let commits = h.rt.database().commits_since(read_at).unwrap();
    assert!(commits.iter().any(|c| c.writes.overlaps(&reads)));
    assert_eq!(run(&h.rt, "files:url", obj! {"id" => id.to_string()}).await.unwrap(), Value::Null);
    assert!(h.blobs.list().await.unwrap().is_empty());
    assert!(h.rt.files().metadata(&id.to_string()).await.unwrap().is_none());
    // A second delete fails: the file is gone.
    assert!(run(&h.rt, "files:delete", obj! {"id" => id.to_string()}).await.is_err());
}

#[tokio::test]
async fn storage_ids_are_validated_by_v_id() {
    let h = harness(FileStorageConfig::default()).await;
    let id = upload(&h.rt, &token_of(&upload_url(&h.rt).await), b"x").await.unwrap();
    assert!(run(&h.rt, "files:url", obj! {"id" => id.to_string()}).await.is_ok());
    let mut txn = h.rt.database().begin(false).await.unwrap();
    let note = txn.insert("notes", value::Object::new()).await.unwrap();
    h.rt.database().commit(txn).await.unwrap();
    let refused = run(&h.rt, "files:url", obj! {"id" => note.to_string()}).await.unwrap_err();
    assert!(refused.contains("ArgumentValidationError"), "{refused}");
}

#[tokio::test]
async fn actions_store_and_read_bytes() {
    let h = harness(FileStorageConfig::default()).await;
    let out = run(&h.rt, "files:storeAndRead", obj! {"text" => "from an action"}).await.unwrap();
    assert_eq!(out.get("text").and_then(Value::as_str), Some("from an action"));
    assert_eq!(out.get("contentType").and_then(Value::as_str), Some("text/plain"));
    let id = out.get("id").and_then(Value::as_str).unwrap();
    assert_eq!(out.get("url").and_then(Value::as_str), Some(format!("{BASE}/api/storage/{id}").as_str()));
    assert_eq!(out.get("sha256").and_then(Value::as_str).map(str::len), Some(64));
    assert_eq!(count(&h.rt).await, 1);
}

#[tokio::test]
async fn the_sweep_removes_old_orphans_and_expired_tokens_only() {
    let config = FileStorageConfig::default();
    let h = harness(config).await;
    let kept = upload(&h.rt, &token_of(&upload_url(&h.rt).await), b"kept").await.unwrap();
    // Bytes whose row never committed (a crash between the write and the commit): keyed by a storage id.
    let mut txn = h.rt.database().begin(false).await.unwrap();
    let orphan = txn.insert(STORAGE_TABLE, value::Object::new()).await.unwrap();
    drop(txn);
    h.blobs.put(&orphan.to_string(), blobs::stream_of(&b"lost"[..]), None).await.unwrap();
    // A key that is no storage id is someone else's object (a shared bucket): left alone.
    h.blobs.put("foreign", blobs::stream_of(&b"not ours"[..]), None).await.unwrap();
    let _unused_token = upload_url(&h.rt).await;
    // Young orphans are left alone: an upload may be about to commit.
    let report = h.rt.files().sweep().await.unwrap();
    assert_eq!((report.orphaned_blobs, report.expired_tokens), (0, 0));
    h.clock.advance(config.orphan_grace.max(config.upload_url_lifetime).as_nanos() as u64 + 1_000_000_000);
    let report = h.rt.files().sweep().await.unwrap();
    assert_eq!((report.orphaned_blobs, report.expired_tokens), (1, 1));
    let mut keys: Vec<String> = h.blobs.list().await.unwrap().into_iter().map(|b| b.key).collect();
    keys.sort();
    let mut expected = vec![kept.to_string(), "foreign".to_string()];
    expected.sort();
    assert_eq!(keys, expected);
}

fn streamed_request(chunks: Vec<Result<&'static [u8], std::io::ErrorKind>>) -> StreamingHttpRequest {
    let stream = futures::stream::iter(
        chunks.into_iter().map(|c| c.map(bytes::Bytes::from_static).map_err(std::io::Error::from)),
    );
    http::Request::builder()
        .method(http::Method::POST)
        .uri("/store")
        .header("content-type", "text/plain")
        .body(Box::pin(stream) as blobs::ByteStream)
        .unwrap()
}

async fn body_text(response: HttpResponse) -> String {
    let bytes = blobs::collect(response.into_body().into_stream(), 1 << 20).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn a_streaming_http_action_stores_its_body_and_answers_with_the_file() {
    let config = FileStorageConfig { max_upload_bytes: Some(12), ..FileStorageConfig::default() };
    let h = harness(config).await;
    assert!(h.rt.http_streams_body(&http::Method::POST, "/store"));
    assert!(!h.rt.http_streams_body(&http::Method::GET, "/file"));

    let stored = h.rt.handle_http_streaming(streamed_request(vec![Ok(b"hello "), Ok(b"world")]), None).await;
    assert_eq!(stored.status(), 200);
    let id = body_text(stored).await;
    let row = run(&h.rt, "files:row", obj! {"id" => id.clone()}).await.unwrap();
    assert_eq!(row.get("sha256").and_then(Value::as_str), Some("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="));
    assert_eq!(row.get("contentType").and_then(Value::as_str), Some("text/plain"));

    let get = http::Request::builder().uri(format!("/file?{id}")).body(bytes::Bytes::new()).unwrap();
    let file = h.rt.handle_http(get, None).await;
    assert_eq!(file.status(), 200);
    assert!(file.body().as_bytes().is_none(), "the file is streamed, not read into memory");
    assert_eq!(file.headers()["content-type"], "text/plain");
    assert_eq!(file.headers()["content-length"], "11");
    assert_eq!(body_text(file).await, "hello world");

    // Over the upload maximum: 413 with the API's error shape; a body cut off midway: 400. Nothing stored.
    let over = h.rt.handle_http_streaming(streamed_request(vec![Ok(b"0123456789"), Ok(b"abc")]), None).await;
    assert_eq!(over.status(), 413);
    let body: serde_json::Value = serde_json::from_str(&body_text(over).await).unwrap();
    assert_eq!(body["code"], "PayloadTooLarge", "{body}");
    let cut =
        h.rt.handle_http_streaming(streamed_request(vec![Ok(b"0123"), Err(std::io::ErrorKind::ConnectionReset)]), None)
            .await;
    assert_eq!(cut.status(), 400);
    let body: serde_json::Value = serde_json::from_str(&body_text(cut).await).unwrap();
    assert_eq!(body["code"], "UploadInterrupted", "{body}");
    assert_eq!(count(&h.rt).await, 1);
    assert_eq!(h.blobs.list().await.unwrap().len(), 1);
}
