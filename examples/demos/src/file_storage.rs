//! Convex's "file-storage" demo (`convex/messages.ts`, `convex/schema.ts`): a chat whose messages are text or
//! images. The client gets an upload URL (`messages:generateUploadUrl`), POSTs the picked file to it, and sends
//! the returned storage id (`messages:sendImage`); `messages:list` gives image messages their serving `url`.
//!
//! The HTTP routes of the companion "file-storage-with-http" demo (`convex/http.ts`) are here too:
//! `POST /sendImage?author=…` stores the request body and sends it as an image, `GET /getImage?storageId=…`
//! answers with the stored file (404 `Image not found`). Both stream: the request body goes to the blob store as it
//! arrives (`ctx.storage.store_stream`, up to the upload maximum, else 413) and the file is sent as it is read, so a
//! file of any size passes through with bounded memory.

use authvex::{
    v, ActionCtx, App, CorsConfig, FunctionError, HttpRequest, HttpResponse, Method, MutationCtx, QueryCtx, Schema,
    StatusCode, StreamingHttpRequest, TableDefinition, Value,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct SendImage {
    #[serde(rename = "storageId")]
    storage_id: String,
    author: String,
}

#[derive(Deserialize)]
struct SendMessage {
    body: String,
    author: String,
}

fn query_param<B>(request: &authvex::Request<B>, name: &str) -> Option<String> {
    request.uri().query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_string())
    })
}

fn text_response(status: StatusCode, body: &'static str) -> HttpResponse {
    let mut response = HttpResponse::new(body.into());
    *response.status_mut() = status;
    response
}

/// The demo's backend.
pub fn app() -> App {
    let mut app = App::new();
    app.schema(Schema::new().table(
        "messages",
        TableDefinition::with_fields([("body", v::string()), ("author", v::string()), ("format", v::string())]),
    ));

    // Every message, oldest first; image messages (whose body is a storage id) also get their file's URL.
    app.query("messages:list", |ctx: QueryCtx, _: Value| async move {
        let messages = ctx.db.query("messages").collect().await?;
        let mut out = Vec::with_capacity(messages.len());
        for message in messages {
            let mut fields = message.0;
            if fields.get("format").and_then(Value::as_str) == Some("image") {
                let body = fields.get("body").and_then(Value::as_str).unwrap_or_default().to_string();
                let url = ctx.storage.get_url(body.as_str()).await?;
                fields.insert("url".into(), url.map_or(Value::Null, Value::String));
            }
            out.push(Value::Object(fields));
        }
        Ok(out)
    });

    app.mutation("messages:generateUploadUrl", |ctx: MutationCtx, _: Value| async move {
        ctx.storage.generate_upload_url().await
    });

    app.mutation("messages:sendImage", |ctx: MutationCtx, args: SendImage| async move {
        ctx.db
            .insert(
                "messages",
                authvex::obj! { "body" => args.storage_id, "author" => args.author, "format" => "image" },
            )
            .await?;
        Ok(Value::Null)
    })
    .args(v::object([("storageId", v::id("_storage")), ("author", v::string())]));

    app.mutation("messages:sendMessage", |ctx: MutationCtx, args: SendMessage| async move {
        ctx.db
            .insert("messages", authvex::obj! { "body" => args.body, "author" => args.author, "format" => "text" })
            .await?;
        Ok(Value::Null)
    })
    .args(v::object([("body", v::string()), ("author", v::string())]));

    // file-storage-with-http: the body of the request becomes an image message (`ctx.storage.store(await
    // request.blob())`), streamed into storage.
    app.route_streaming(Method::POST, "/sendImage", |ctx: ActionCtx, request: StreamingHttpRequest| async move {
        let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
        let author = query_param(&request, "author").unwrap_or_default();
        let storage_id = ctx.storage.store_stream(request.into_body(), content_type.as_deref()).await?;
        ctx.run_mutation(
            "messages:sendImage",
            serde_json::json!({ "storageId": storage_id.to_string(), "author": author }),
        )
        .await?;
        Ok(text_response(StatusCode::OK, ""))
    })
    .cors(CorsConfig {
        allowed_origins: vec!["*".into()],
        allowed_headers: vec!["Content-Type".into(), "Digest".into()],
        exposed_headers: Vec::new(),
        allow_credentials: false,
        max_age_seconds: 86_400,
    });

    app.route(Method::GET, "/getImage", |ctx: ActionCtx, request: HttpRequest| async move {
        let Some(storage_id) = query_param(&request, "storageId") else {
            return Ok(text_response(StatusCode::NOT_FOUND, "Image not found"));
        };
        // An id that is not a storage id is answered like a missing image. `new Response(blob)`: the file streamed
        // with its type and length.
        match ctx.storage.get_stream(storage_id.as_str()).await.unwrap_or_default() {
            Some(file) => Ok::<_, FunctionError>(file.into_response()),
            None => Ok(text_response(StatusCode::NOT_FOUND, "Image not found")),
        }
    });

    app
}
