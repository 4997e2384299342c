//! `demo-file-storage` over HTTP, in-process: the upload-URL flow the demo's frontend runs, serving with
//! conditional and ranged GETs, refused uploads, and the file-storage-with-http routes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use test_support::deployment::Deployment;

struct Demo {
    server: server::RunningServer,
    http: reqwest::Client,
}

impl Demo {
    async fn start() -> Demo {
        let server = Deployment::new(demos::file_storage::app()).env("AUTHVEX_MAX_UPLOAD_BYTES", "1000").start().await;
        Demo { server, http: reqwest::Client::new() }
    }

    async fn call(&self, kind: &str, path: &str, args: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/api/{kind}", self.server.api_url))
            .json(&json!({ "path": path, "args": args, "format": "json" }))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "success", "{path}: {body}");
        body["value"].clone()
    }

    async fn upload_url(&self) -> String {
        self.call("mutation", "messages:generateUploadUrl", json!({})).await.as_str().unwrap().to_string()
    }

    async fn post(&self, url: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let response = self.http.post(url).header("content-type", content_type).body(body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

#[tokio::test]
async fn the_demo_uploads_lists_and_serves_an_image() {
    let demo = Demo::start().await;
    let url = demo.upload_url().await;
    assert!(url.starts_with(&format!("{}/api/storage/upload?token=", demo.server.api_url)), "{url}");

    // The browser's preflight for a POST with a custom Content-Type, from any origin.
    let preflight = demo
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "http://localhost:5173");

    let image: Vec<u8> = (0..600u32).map(|i| (i % 256) as u8).collect();
    let (status, body) = demo.post(&url, "image/png", image.clone()).await;
    assert_eq!(status, 200, "{body}");
    let storage_id = body["storageId"].as_str().unwrap().to_string();
    demo.call("mutation", "messages:sendImage", json!({ "storageId": storage_id, "author": "ann" })).await;
    demo.call("mutation", "messages:sendMessage", json!({ "body": "hi", "author": "bob" })).await;

    let list = demo.call("query", "messages:list", json!({})).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["format"], "image");
    assert_eq!(list[0]["body"], storage_id.as_str());
    let file_url = list[0]["url"].as_str().unwrap().to_string();
    assert_eq!(file_url, format!("{}/api/storage/{storage_id}", demo.server.api_url));
    assert_eq!(list[1]["format"], "text");
    assert!(list[1].get("url").is_none());

    let served = demo.http.get(&file_url).send().await.unwrap();
    assert_eq!(served.status(), 200);
    let headers = served.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-length"], "600");
    assert!(headers["cache-control"].to_str().unwrap().contains("max-age"));
    let etag = headers["etag"].to_str().unwrap().to_string();
    assert_eq!(etag.len(), 66, "a quoted sha256 in hex: {etag}");
    assert_eq!(served.bytes().await.unwrap().to_vec(), image);

    let cached = demo.http.get(&file_url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(cached.status(), 304);
    let part = demo.http.get(&file_url).header("range", "bytes=10-19").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 10-19/600");
    assert_eq!(part.bytes().await.unwrap().to_vec(), image[10..20]);
    let outside = demo.http.get(&file_url).header("range", "bytes=600-").send().await.unwrap();
    assert_eq!(outside.status(), 416);

    let unknown = demo.http.get(format!("{}/api/storage/nonsense", demo.server.api_url)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["code"], "FileNotFound");
}

#[tokio::test]
async fn reused_forged_and_oversized_uploads_are_refused_and_store_nothing() {
    let demo = Demo::start().await;
    let url = demo.upload_url().await;
    let (status, _) = demo.post(&url, "text/plain", b"first".to_vec()).await;
    assert_eq!(status, 200);
    let (status, body) = demo.post(&url, "text/plain", b"second".to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("InvalidUploadToken")), "{body}");
    let forged = format!("{}/api/storage/upload?token=forged", demo.server.api_url);
    let (status, body) = demo.post(&forged, "text/plain", b"x".to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("InvalidUploadToken")), "{body}");
    let (status, body) = demo.post(&demo.upload_url().await, "text/plain", vec![7; 2000]).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("PayloadTooLarge")), "{body}");

    // v.id("_storage") refuses ids of other tables.
    demo.call("mutation", "messages:sendMessage", json!({ "body": "hi", "author": "bob" })).await;
    let list = demo.call("query", "messages:list", json!({})).await;
    let message_id = list[0]["_id"].as_str().unwrap().to_string();
    let response = demo
        .http
        .post(format!("{}/api/mutation", demo.server.api_url))
        .json(&json!({ "path": "messages:sendImage", "args": { "storageId": message_id, "author": "x" } }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "error");
    assert!(body["errorMessage"].as_str().unwrap().contains("ArgumentValidationError"), "{body}");
}

#[tokio::test]
async fn http_actions_store_a_request_body_and_answer_with_the_file() {
    let demo = Demo::start().await;
    let site = &demo.server.site_url;
    let response = demo
        .http
        .post(format!("{site}/sendImage?author=cat"))
        .header("content-type", "image/gif")
        .body(b"GIF89a...".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let list = demo.call("query", "messages:list", json!({})).await;
    assert_eq!(list[0]["author"], "cat");
    let storage_id = list[0]["body"].as_str().unwrap();
    let image = demo.http.get(format!("{site}/getImage?storageId={storage_id}")).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/gif");
    assert_eq!(image.headers()["content-length"], "9");
    assert_eq!(image.bytes().await.unwrap().as_ref(), b"GIF89a...");
    let missing = demo.http.get(format!("{site}/getImage?storageId=nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.text().await.unwrap(), "Image not found");

    // The streamed body obeys the upload maximum (1000 bytes here): 413, no file, no message.
    let too_big = demo
        .http
        .post(format!("{site}/sendImage?author=big"))
        .header("content-type", "image/gif")
        .body(vec![1u8; 2000])
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    let body: Value = too_big.json().await.unwrap();
    assert_eq!(body["code"], "PayloadTooLarge", "{body}");
    let list = demo.call("query", "messages:list", json!({})).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}
