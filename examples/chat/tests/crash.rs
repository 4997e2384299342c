#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Durability: a deployment killed with SIGKILL in the middle of a write load keeps every acknowledged mutation,
//! and no transaction is visible half-written after the restart.

mod common;

use common::{ChatProcess, Client};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_mutations_survive_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let server = ChatProcess::start(data.path());
    let client = Client::new(&server.api_url);

    let acked = Arc::new(parking_lot_free::AckLog::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let client = client.clone();
        let acked = acked.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let body = format!("w{w}-{i}");
                let args = serde_json::json!({"author": "crash", "body": body, "data": {"$bytes": "AQIDBA=="}});
                match client.mutation("messages:sendWithAttachment", args).await {
                    Ok(v) if v["status"] == "success" => acked.push(body),
                    // The server died under us: everything after this is unacknowledged.
                    _ => break,
                }
                i += 1;
            }
        }));
    }
    // Let the load run until a good number of writes were acknowledged, then kill the process outright.
    while acked.len() < 400 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        let _ = w.await;
    }
    let acknowledged = acked.snapshot();
    assert!(acknowledged.len() >= 400);

    let restarted = ChatProcess::start(data.path());
    let client = Client::new(&restarted.api_url);
    let messages = client.query("messages:list", serde_json::json!({})).await.unwrap();
    let messages = messages["value"].as_array().unwrap().clone();
    let bodies: HashSet<String> = messages.iter().map(|m| m["body"].as_str().unwrap().to_string()).collect();
    for body in &acknowledged {
        assert!(bodies.contains(body), "acknowledged message {body} was lost");
    }
    // Every message written by the paired mutation has its attachment: no half-written transaction.
    for m in &messages {
        let id = m["_id"].as_str().unwrap();
        let attachments = client.query("attachments:forMessage", serde_json::json!({"messageId": id})).await.unwrap();
        let n = attachments["value"].as_array().unwrap().len();
        assert_eq!(n, 1, "message {id} ({}) has {n} attachments", m["body"]);
    }
    restarted.stop();
}

/// A tiny append-only log shared by the writer tasks.
mod parking_lot_free {
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct AckLog(Mutex<Vec<String>>);

    impl AckLog {
        pub fn push(&self, s: String) {
            self.0.lock().unwrap().push(s);
        }
        pub fn len(&self) -> usize {
            self.0.lock().unwrap().len()
        }
        pub fn snapshot(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }
}
