//! Convex's "scheduling" demo (`scheduling/convex/messages.ts`): a message that counts down and self-destructs.
//!
//! `messages:sendExpiringMessage {body, author}` inserts "<body> (This message will self-destruct in 5 seconds)" and
//! schedules the internal `messages:updateExpiringMessage` a second later, which rewrites the countdown and
//! re-schedules itself every second until it deletes the message at zero. No schema, as in the demo.

use authvex::{v, App, DocumentId, FunctionError, MutationCtx, QueryCtx, Value};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Serialize, Deserialize)]
struct Message {
    body: String,
    author: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Countdown {
    message_id: String,
    body: String,
    seconds_left: f64,
}

fn format_message(body: &str, seconds_left: f64) -> String {
    format!("{body} (This message will self-destruct in {seconds_left} seconds)")
}

/// The demo's backend.
pub fn app() -> App {
    let mut app = App::new();

    app.query("messages:list", |ctx: QueryCtx, _: Value| async move { ctx.db.query("messages").collect().await });

    // No validators in the demo: `{body, author}` taken as given.
    app.mutation("messages:send", |ctx: MutationCtx, message: Message| async move {
        ctx.db.insert("messages", &message).await?;
        Ok(())
    });

    app.mutation("messages:sendExpiringMessage", |ctx: MutationCtx, message: Message| async move {
        let id = ctx
            .db
            .insert("messages", Message { body: format_message(&message.body, 5.0), author: message.author })
            .await?;
        let countdown = Countdown { message_id: id.to_string(), body: message.body, seconds_left: 4.0 };
        ctx.scheduler.run_after(Duration::from_secs(1), "messages:updateExpiringMessage", countdown).await?;
        Ok(())
    })
    .args(v::object([("body", v::string()), ("author", v::string())]));

    app.mutation("messages:updateExpiringMessage", |ctx: MutationCtx, countdown: Countdown| async move {
        let id: DocumentId = DocumentId::parse(&countdown.message_id)
            .map_err(|_| FunctionError::msg(format!("invalid message id {:?}", countdown.message_id)))?;
        if countdown.seconds_left > 0.0 {
            ctx.db.patch(id, authvex::obj! {"body" => format_message(&countdown.body, countdown.seconds_left)}).await?;
            let next = Countdown { seconds_left: countdown.seconds_left - 1.0, ..countdown };
            ctx.scheduler.run_after(Duration::from_secs(1), "messages:updateExpiringMessage", next).await?;
        } else {
            ctx.db.delete(id).await?;
        }
        Ok(())
    })
    .args(v::object([("messageId", v::id("messages")), ("body", v::string()), ("secondsLeft", v::number())]))
    .internal();

    app
}
