//! The chat app: Convex's tutorial backend (`convex/messages.ts`) written against authvex.
//!
//! ```ts
//! export const list = query({ args: {}, handler: async (ctx) => await ctx.db.query("messages").collect() });
//! export const send = mutation({
//!   args: { body: v.string(), author: v.string() },
//!   handler: async (ctx, { body, author }) => { await ctx.db.insert("messages", { body, author }); },
//! });
//! ```
//!
//! Beyond the tutorial it has attachments (int64 sizes, bytes payloads, ids of messages) so clients can exercise
//! every value type.

use authvex::{
    obj, v, ActionCtx, App, CorsConfig, FunctionError, HttpRequest, HttpResponse, Method, MutationCtx, Order, QueryCtx,
    Schema, TableDefinition, Value,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct NewMessage {
    pub author: String,
    pub body: String,
}

#[derive(Debug, Deserialize)]
pub struct ByAuthor {
    pub author: String,
}

#[derive(Debug, Deserialize)]
struct MessageRef {
    #[serde(rename = "messageId")]
    message_id: String,
}

/// The chat backend.
pub fn app() -> App {
    let mut app = App::new();
    app.schema(
        Schema::new()
            .table(
                "messages",
                TableDefinition::with_fields([("author", v::string()), ("body", v::string())])
                    .index("by_author", &["author"]),
            )
            .table(
                "attachments",
                TableDefinition::with_fields([
                    ("messageId", v::id("messages")),
                    ("size", v::int64()),
                    ("data", v::bytes()),
                ])
                .index("by_message", &["messageId"]),
            )
            .table(
                "jobRuns",
                TableDefinition::with_fields([("batch", v::string()), ("i", v::number())])
                    .index("by_batch", &["batch"]),
            ),
    );

    // All messages, oldest first.
    app.query("messages:list", |ctx: QueryCtx, _: Value| async move { ctx.db.query("messages").collect().await });

    app.mutation("messages:send", |ctx: MutationCtx, msg: NewMessage| async move {
        if msg.body.trim().is_empty() {
            return Err(FunctionError::convex(
                obj! { "code" => "EMPTY_BODY", "message" => "message body must not be empty" },
            ));
        }
        let id = ctx.db.insert("messages", &msg).await?;
        ctx.log(format!("sent {id}"));
        Ok(id.to_string())
    })
    .args(v::object([("author", v::string()), ("body", v::string())]));

    // Sends as the signed-in user: the author comes from the verified identity, and the session must still be
    // live (a revoked session is refused even while its JWT is unexpired).
    app.mutation("messages:sendAsMe", |ctx: MutationCtx, args: Value| async move {
        let Some(user) = authvex::auth_component::safe_get_auth_user(&ctx.db, &ctx.auth, ctx.now_millis()).await?
        else {
            return Err(FunctionError::convex("Unauthenticated"));
        };
        let author = user.get("name").and_then(|v| v.as_str()).unwrap_or("anonymous").to_string();
        let body = args.get("body").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        if body.trim().is_empty() {
            return Err(FunctionError::convex(
                obj! { "code" => "EMPTY_BODY", "message" => "message body must not be empty" },
            ));
        }
        let id = ctx.db.insert("messages", NewMessage { author, body }).await?;
        Ok(id.to_string())
    })
    .args(v::object([("body", v::string())]));

    // The signed-in user's document, or null (like `authComponent.safeGetAuthUser`).
    app.query("users:me", |ctx: QueryCtx, _: Value| async move {
        authvex::auth_component::safe_get_auth_user(&ctx.db, &ctx.auth, ctx.now_millis()).await
    });

    // The newest messages of one author, newest first (an index range).
    app.query("messages:byAuthor", |ctx: QueryCtx, args: ByAuthor| async move {
        ctx.db
            .query("messages")
            .with_index("by_author", |q| q.eq("author", args.author.as_str()))
            .order(Order::Desc)
            .collect()
            .await
    })
    .args(v::object([("author", v::string())]));

    // A message and its attachment, written together or not at all.
    app.mutation("messages:sendWithAttachment", |ctx: MutationCtx, args: Value| async move {
        let text = |name: &str| args.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let data = args.get("data").cloned().unwrap_or(Value::Null);
        let size = data.as_bytes().map_or(0, |b| b.len() as i64);
        let message = ctx.db.insert("messages", NewMessage { author: text("author"), body: text("body") }).await?;
        ctx.db
            .insert("attachments", obj! { "messageId" => message.to_string(), "size" => size, "data" => data })
            .await?;
        Ok(message.to_string())
    })
    .args(v::object([("author", v::string()), ("body", v::string()), ("data", v::bytes())]));

    // Attachments carry int64 and bytes values.
    app.mutation("attachments:add", |ctx: MutationCtx, args: Value| async move {
        let data = args.get("data").cloned().unwrap_or(Value::Null);
        let size = match &data {
            Value::Bytes(b) => b.len() as i64,
            _ => 0,
        };
        let message_id = args.get("messageId").cloned().unwrap_or(Value::Null);
        let id =
            ctx.db.insert("attachments", obj! { "messageId" => message_id, "size" => size, "data" => data }).await?;
        Ok(id.to_string())
    })
    .args(v::object([("messageId", v::id("messages")), ("data", v::bytes())]));

    app.query("attachments:forMessage", |ctx: QueryCtx, args: MessageRef| async move {
        ctx.db
            .query("attachments")
            .with_index("by_message", |q| q.eq("messageId", args.message_id.as_str()))
            .collect()
            .await
    })
    .args(v::object([("messageId", v::id("messages"))]));

    // Deployment env vars (`chat env set GREETING …`) reach functions.
    app.query("settings:greeting", |ctx: QueryCtx, _: Value| async move {
        Ok(ctx.env("GREETING").unwrap_or_else(|| "hello".to_string()))
    });

    jobs(&mut app);

    // HTTP actions on the site origin: a tiny REST face for the same data, callable from any web page.
    let cors = CorsConfig { allow_credentials: false, ..CorsConfig::origins(&["*"]) };
    app.route(Method::GET, "/messages", |ctx: ActionCtx, _req: HttpRequest| async move {
        let list = ctx.run_query("messages:list", obj! {}).await?;
        Ok(json_response(200, &authvex::json::to_clean_json(&list)))
    })
    .cors(cors.clone());
    app.route(Method::POST, "/messages", |ctx: ActionCtx, req: HttpRequest| async move {
        let Ok(body) = serde_json::from_slice::<NewMessage>(req.body()) else {
            return Ok(json_response(400, &serde_json::json!({"error": "expected {author, body}"})));
        };
        let id = ctx.run_mutation("messages:send", &body).await?;
        Ok(json_response(201, &serde_json::json!({ "id": authvex::json::to_clean_json(&id) })))
    })
    .cors(cors);
    app
}

/// The chat backend with the Convex guide's `convex/auth.ts` on top: its `getCurrentUser` is
/// `authComponent.safeGetAuthUser(ctx)`, the signed-in user's document read from the auth component (null when
/// signed out or the session is gone), so a query subscribed to it re-runs when the user row changes (e.g. a name
/// changed by `update-user` from another client) — unlike the built-in `auth:getCurrentUser` of [`app`], which
/// returns the JWT identity and changes only with a new token. `examples/nextjs` runs against this app
/// (the `chat-guide` binary).
///
/// ```ts
/// export const getCurrentUser = query({
///   args: {},
///   handler: async (ctx) => authComponent.safeGetAuthUser(ctx),
/// });
/// ```
pub fn guide_app() -> App {
    let mut app = app();
    app.query("auth:getCurrentUser", |ctx: QueryCtx, _: Value| async move {
        authvex::auth_component::safe_get_auth_user(&ctx.db, &ctx.auth, ctx.now_millis()).await
    });
    app
}

fn json_response(status: u16, body: &serde_json::Value) -> HttpResponse {
    let mut response = HttpResponse::new(body.to_string().into());
    *response.status_mut() = authvex::StatusCode::from_u16(status).unwrap_or(authvex::StatusCode::OK);
    response.headers_mut().insert("content-type", authvex::HeaderValue::from_static("application/json"));
    response
}

/// Scheduled functions for the scheduler suites: a batch of jobs that each record one run, and a mutation that
/// schedules then throws (its job must never exist).
fn jobs(app: &mut App) {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Batch {
        batch: String,
        n: f64,
        delay_ms: f64,
        #[serde(default)]
        action: bool,
    }
    app.mutation("jobs:scheduleBatch", |ctx: MutationCtx, args: Batch| async move {
        let target = if args.action { "jobs:recordFromAction" } else { "jobs:record" };
        let delay = std::time::Duration::from_secs_f64(args.delay_ms.max(0.0) / 1000.0);
        let mut ids = Vec::new();
        for i in 0..args.n as usize {
            let id =
                ctx.scheduler.run_after(delay, target, obj! {"batch" => args.batch.clone(), "i" => i as f64}).await?;
            ids.push(Value::String(id.to_string()));
        }
        Ok(Value::Array(ids))
    })
    .args(v::object([
        ("batch", v::string().into()),
        ("n", v::number().into()),
        ("delayMs", v::number().into()),
        ("action", v::optional(v::boolean())),
    ]))
    .returns(v::array(v::id("_scheduled_functions")));
    app.mutation("jobs:record", |ctx: MutationCtx, args: Value| async move {
        ctx.db.insert("jobRuns", args).await?;
        Ok(())
    })
    .args(v::object([("batch", v::string()), ("i", v::number())]))
    .internal();
    app.action("jobs:recordFromAction", |ctx: ActionCtx, args: Value| async move {
        ctx.run_mutation("jobs:record", args).await?;
        Ok(())
    })
    .args(v::object([("batch", v::string()), ("i", v::number())]))
    .internal();
    app.mutation("jobs:scheduleThenThrow", |ctx: MutationCtx, args: Value| async move {
        let batch = args.get("batch").cloned().unwrap_or(Value::Null);
        ctx.scheduler.run_after(std::time::Duration::ZERO, "jobs:record", obj! {"batch" => batch, "i" => 0.0}).await?;
        Err::<(), _>(FunctionError::msg("thrown after scheduling"))
    })
    .args(v::object([("batch", v::string())]));
    // The runs of a batch (`i` of each) and the states of its jobs.
    app.query("jobs:runs", |ctx: QueryCtx, args: Value| async move {
        let batch = args.get("batch").and_then(|b| b.as_str()).unwrap_or_default().to_string();
        let runs = ctx.db.query("jobRuns").with_index("by_batch", |q| q.eq("batch", batch)).collect().await?;
        Ok(Value::Array(runs.into_iter().filter_map(|r| r.get("i").cloned()).collect()))
    })
    .args(v::object([("batch", v::string())]));
    app.query("jobs:states", |ctx: QueryCtx, args: Value| async move {
        let ids = args.get("ids").and_then(|i| i.as_array()).map(<[Value]>::to_vec).unwrap_or_default();
        let mut states = Vec::new();
        for id in ids {
            let job = ctx.db.system().get(id.as_str().unwrap_or_default()).await?;
            states.push(job.map_or(Value::Null, Value::from));
        }
        Ok(Value::Array(states))
    })
    .args(v::object([("ids", v::array(v::id("_scheduled_functions")))]));
}
