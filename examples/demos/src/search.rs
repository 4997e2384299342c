//! Convex's "search" demo (`convex-demos/search`): `convex/schema.ts` and `convex/messages.ts`.
//!
//! * schema: `messages {author: string, body: string}` with search index `search_body` on `body`.
//! * `messages:list {}`: every message, oldest first.
//! * `messages:search {query: string}`: the 10 most relevant messages (`withSearchIndex("search_body", q =>
//!   q.search("body", query)).take(10)`); the UI subscribes from the first keystroke, so `""` answers `[]`.
//! * `messages:send {body, author}`: inserts a message.

use authvex::{v, App, MutationCtx, QueryCtx, Schema, TableDefinition, Value};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
struct SearchArgs {
    query: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Message {
    body: String,
    author: String,
}

/// The demo's backend.
pub fn app() -> App {
    let mut app = App::new();
    app.schema(Schema::new().table(
        "messages",
        TableDefinition::with_fields([("author", v::string()), ("body", v::string())]).search_index(
            "search_body",
            "body",
            &[],
        ),
    ));

    app.query("messages:list", |ctx: QueryCtx, _: Value| async move { ctx.db.query("messages").collect().await });

    app.query("messages:search", |ctx: QueryCtx, args: SearchArgs| async move {
        ctx.db.query("messages").with_search_index("search_body", |q| q.search("body", &args.query)).take(10).await
    })
    .args(v::object([("query", v::string())]));

    app.mutation("messages:send", |ctx: MutationCtx, message: Message| async move {
        ctx.db.insert("messages", &message).await?;
        Ok(())
    })
    .args(v::object([("body", v::string()), ("author", v::string())]));
    app
}
