//! Convex's "pagination" demo (`convex-demos/pagination`): `convex/messages.ts`.
//!
//! * `messages:list {paginationOpts}`: every message, newest first, one page.
//! * `messages:listWithExtraArg {paginationOpts, author}`: one author's messages (index `by_author`), newest first.
//! * `messages:listWithTransformation {paginationOpts}`: like `list`, each item mapped to
//!   `{author: <its first character>, body: <upper-cased>}` (the docs' "Transforming results").
//! * `messages:send {body, author}`: inserts a message.
//!
//! The demo's `src/App.tsx` subscribes with `usePaginatedQuery(api.messages.list, {}, {initialNumItems: 5})`.

use authvex::{
    pagination_opts_validator, v, App, MutationCtx, Order, PaginationOptions, QueryCtx, Schema, TableDefinition,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListArgs {
    pagination_opts: PaginationOptions,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ByAuthorArgs {
    pagination_opts: PaginationOptions,
    author: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Message {
    body: String,
    author: String,
}

/// The demo's backend.
pub fn app() -> App {
    let mut app = App::new();
    app.schema(Schema::new().table("messages", TableDefinition::new().index("by_author", &["author"])));

    app.query("messages:list", |ctx: QueryCtx, args: ListArgs| async move {
        ctx.db.query("messages").order(Order::Desc).paginate(args.pagination_opts).await
    })
    .args(v::object([("paginationOpts", pagination_opts_validator())]));

    app.query("messages:listWithExtraArg", |ctx: QueryCtx, args: ByAuthorArgs| async move {
        ctx.db
            .query("messages")
            .with_index("by_author", |q| q.eq("author", args.author.as_str()))
            .order(Order::Desc)
            .paginate(args.pagination_opts)
            .await
    })
    .args(v::object([("paginationOpts", pagination_opts_validator()), ("author", v::string())]));

    app.query("messages:listWithTransformation", |ctx: QueryCtx, args: ListArgs| async move {
        let result = ctx.db.query("messages").order(Order::Desc).paginate(args.pagination_opts).await?;
        Ok(result.map(|message| {
            let text = |field: &str| message.get(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            Message { author: text("author").chars().take(1).collect(), body: text("body").to_uppercase() }
        }))
    })
    .args(v::object([("paginationOpts", pagination_opts_validator())]));

    app.mutation("messages:send", |ctx: MutationCtx, message: Message| async move {
        ctx.db.insert("messages", &message).await?;
        Ok(())
    });
    app
}

#[derive(Debug, Deserialize)]
struct RemoveArgs {
    id: String,
}

/// The demo plus `testing:remove {id}` (deletes a message), which the demo lacks and the browser test needs to
/// delete rows inside and between pages. Binary `demo-pagination-testing`; `demo-pagination` is the demo alone.
pub fn app_with_test_hooks() -> App {
    let mut app = app();
    app.mutation("testing:remove", |ctx: MutationCtx, args: RemoveArgs| async move { ctx.db.delete(&args.id).await })
        .args(v::object([("id", v::id("messages"))]));
    app
}
