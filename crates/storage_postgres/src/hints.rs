//! Commit hints over PostgreSQL `LISTEN`/`NOTIFY`: every write transaction also runs `pg_notify` on [`CHANNEL`]
//! (delivered only if it commits), and each process keeps one connection listening, waking its database's committer
//! to read the commit log at once instead of at its next poll. Notifications carry the sending process's token, so
//! a process ignores its own. Only a hint: a lost notification or a dropped listener delays a remote commit by no
//! more than the poll interval (the listener reconnects in the background).

use crate::tls::MakeRustlsConnect;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio_postgres::AsyncMessage;

/// The notification channel.
pub(crate) const CHANNEL: &str = "authvex_commits";
/// Pause before re-opening a lost listener connection.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Starts listening; `notify` is woken for every other process's commit. Stops once `notify` is dropped.
pub(crate) fn spawn_listener(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    token: String,
    notify: &Arc<Notify>,
) {
    let notify = Arc::downgrade(notify);
    tokio::spawn(async move {
        while notify.strong_count() > 0 {
            if let Err(error) = listen(&config, &tls, &token, &notify).await {
                tracing::warn!(%error, "commit hints: the LISTEN connection failed; reconnecting (commits are still polled)");
                tokio::time::sleep(RECONNECT_AFTER).await;
            }
        }
    });
}

/// One listener connection, until it fails (`Err`) or the database is gone (`Ok`).
async fn listen(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    token: &str,
    notify: &Weak<Notify>,
) -> Result<(), String> {
    let (client, mut connection) = config.connect(tls.clone()).await.map_err(|e| e.to_string())?;
    let (payloads, mut received) = mpsc::unbounded_channel::<String>();
    // The connection delivers notifications only while it is polled.
    let driver = async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    let _ = payloads.send(n.payload().to_string());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return e.to_string(),
                None => return "the server closed the connection".to_string(),
            }
        }
    };
    tokio::pin!(driver);
    let statement = format!("LISTEN {CHANNEL}");
    tokio::select! {
        error = &mut driver => return Err(error),
        listening = client.batch_execute(&statement) => listening.map_err(|e| e.to_string())?,
    }
    loop {
        tokio::select! {
            error = &mut driver => return Err(error),
            payload = received.recv() => {
                let Some(notify) = notify.upgrade() else { return Ok(()) };
                if payload.as_deref() != Some(token) {
                    notify.notify_one();
                }
            }
            // Notice a dropped database even when nobody commits.
            _ = tokio::time::sleep(Duration::from_secs(5)) => {
                if notify.strong_count() == 0 {
                    return Ok(());
                }
            }
        }
    }
}
