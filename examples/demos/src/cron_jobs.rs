//! Convex's "cron-jobs" demo (`cron-jobs/convex/{messages,crons}.ts`): a chat whose messages are cleared every
//! minute by the cron `"clear messages table"` calling the internal `messages:clearAll`.

use authvex::{obj, App, MutationCtx, QueryCtx, Schedule, Value};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Message {
    body: String,
    author: String,
}

/// The demo's backend.
pub fn app() -> App {
    let mut app = App::new();

    app.query("messages:list", |ctx: QueryCtx, _: Value| async move { ctx.db.query("messages").collect().await });

    app.mutation("messages:send", |ctx: MutationCtx, message: Message| async move {
        ctx.db.insert("messages", &message).await?;
        Ok(())
    });

    app.mutation("messages:clearAll", |ctx: MutationCtx, _: Value| async move {
        for message in ctx.db.query("messages").collect().await? {
            if let Some(id) = message.id() {
                ctx.db.delete(id).await?;
            }
        }
        Ok(())
    })
    .internal();

    app.crons().interval("clear messages table", Schedule::minutes(1), "messages:clearAll", obj! {});

    app
}
