#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The chat deployment on PostgreSQL (`--db` / `AUTHVEX_DATABASE_URL`, a fresh database per test), and moving a
//! deployment from SQLite to PostgreSQL with `chat export` / `chat import`: same documents, ids, indexes, users and
//! env vars on the other side.

mod common;

use common::{ChatProcess, Client};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use test_support::postgres::TestDatabase;

const PASSWORD: &str = "correct horse battery staple";

fn chat(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chat")).args(args).env_remove("AUTHVEX_DATABASE_URL").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn value(result: Result<Value, String>) -> Value {
    let response = result.unwrap();
    assert_eq!(response["status"], "success", "{response}");
    response["value"].clone()
}

async fn auth(site: &str, endpoint: &str, body: Value) -> reqwest::StatusCode {
    let response = reqwest::Client::new()
        .post(format!("{site}/api/auth/{endpoint}"))
        .header("origin", site)
        .json(&body)
        .send()
        .await
        .unwrap();
    response.status()
}

/// Everything the chat functions can see of the data, for comparing two deployments.
async fn observe(client: &Client) -> Value {
    let messages = value(client.query("messages:list", json!({})).await).await;
    let by_author = value(client.query("messages:byAuthor", json!({"author": "ada"})).await).await;
    let mut attachments = Vec::new();
    for message in messages.as_array().unwrap() {
        let id = message["_id"].clone();
        attachments.push(value(client.query("attachments:forMessage", json!({"messageId": id})).await).await);
    }
    let greeting = value(client.query("settings:greeting", json!({})).await).await;
    json!({"messages": messages, "byAuthor": by_author, "attachments": attachments, "greeting": greeting})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_export_imports_into_postgres_with_the_same_documents_and_ids() {
    let sqlite = tempfile::tempdir().unwrap();
    assert!(chat(&["env", "set", "GREETING", "moved", "--data", path(sqlite.path())]).0);
    let server = ChatProcess::start(sqlite.path());
    let client = Client::new(&server.api_url);
    let mut ids = Vec::new();
    for (author, body) in [("ada", "first"), ("bob", "second"), ("ada", "third")] {
        ids.push(value(client.mutation("messages:send", json!({"author": author, "body": body})).await).await);
    }
    let bytes = json!({"$bytes": "AAECA/8="});
    value(client.mutation("attachments:add", json!({"messageId": ids[0], "data": bytes})).await).await;
    let signup = json!({"email": "mover@example.com", "password": PASSWORD, "name": "Mover"});
    assert_eq!(auth(&server.site_url, "sign-up/email", signup).await, 200);
    let before = observe(&client).await;
    server.stop();
    assert_eq!(before["messages"].as_array().unwrap().len(), 3);
    assert_eq!(before["byAuthor"].as_array().unwrap().len(), 2);

    let export = tempfile::tempdir().unwrap();
    let file = export.path().join("deployment.jsonl");
    let (ok, stdout, stderr) = chat(&["export", "--data", path(sqlite.path()), "--out", path(&file)]);
    assert!(ok, "{stderr}");
    assert!(stdout.is_empty(), "with --out nothing goes to stdout");
    // 3 messages, 1 attachment, the auth rows of the sign-up (user, account, session, and the JWT key), and the
    // scheduler's record of its built-in auth housekeeping job (`_system/cron_jobs`) with the run it made at start.
    assert!(stderr.contains("exported 10 documents"), "{stderr}");

    let database = TestDatabase::create_or_panic().await;
    let pg_data = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = chat(&["import", "--db", database.url(), "--data", path(pg_data.path()), path(&file)]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("into PostgreSQL at postgres@"), "{stderr}");

    // Exporting the imported database gives back the same file, byte for byte.
    let (ok, again, stderr) = chat(&["export", "--db", database.url()]);
    assert!(ok, "{stderr}");
    assert_eq!(again, std::fs::read_to_string(&file).unwrap(), "the PostgreSQL copy exports identically");

    // And back: the PostgreSQL export imported into a new SQLite folder exports identically too.
    let back = tempfile::tempdir().unwrap();
    let pg_export = export.path().join("from-postgres.jsonl");
    std::fs::write(&pg_export, &again).unwrap();
    let (ok, _, stderr) = chat(&["import", "--data", path(back.path()), path(&pg_export)]);
    assert!(ok, "{stderr}");
    let (ok, round_trip, stderr) = chat(&["export", "--data", path(back.path())]);
    assert!(ok, "{stderr}");
    assert_eq!(round_trip, again, "SQLite → PostgreSQL → SQLite keeps every line");

    // Importing twice is refused: the target is no longer empty.
    let (ok, _, stderr) = chat(&["import", "--db", database.url(), path(&file)]);
    assert!(!ok && stderr.contains("not empty"), "{stderr}");

    let server = ChatProcess::start_with(pg_data.path(), &[("AUTHVEX_DATABASE_URL", database.url())]);
    let client = Client::new(&server.api_url);
    assert_eq!(observe(&client).await, before, "the same documents, ids, index results and env vars");
    let signin = json!({"email": "mover@example.com", "password": PASSWORD});
    assert_eq!(auth(&server.site_url, "sign-in/email", signin).await, 200, "users moved too");
    // New commits continue after the moved ones.
    value(client.mutation("messages:send", json!({"author": "ada", "body": "after the move"})).await).await;
    let messages = value(client.query("messages:list", json!({})).await).await;
    let messages = messages.as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert!(messages[3]["_creationTime"].as_f64() > messages[2]["_creationTime"].as_f64());
    server.stop();
    assert!(!pg_data.path().join("authvex.sqlite3").exists(), "the PostgreSQL deployment wrote no SQLite file");
}

#[test]
fn import_rejects_bad_input_with_the_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("", "no header"),
        ("{\"meta\":\"x\",\"value\":\"AA==\"}\n", "line 1: the first line must be"),
        ("{\"format\":\"authvex-export\",\"version\":99,\"maxTs\":1}\n", "line 1: unsupported export"),
        ("{\"format\":\"authvex-export\",\"version\":1,\"maxTs\":1}\nnot json\n", "line 2: not an export line"),
        (
            "{\"format\":\"authvex-export\",\"version\":1,\"maxTs\":1}\n{\"table\":\"t\",\"id\":\"AA==\",\"doc\":{}}\n",
            "line 2: table \"t\" is not in the export's catalog",
        ),
        ("{\"format\":\"authvex-export\",\"version\":1,\"maxTs\":1}\n{\"meta\":\"x\",\"value\":\"!!\"}\n", "base64"),
    ];
    for (i, (input, expected)) in cases.into_iter().enumerate() {
        let file = dir.path().join(format!("bad-{i}.jsonl"));
        std::fs::write(&file, input).unwrap();
        let data = dir.path().join(format!("data-{i}"));
        let (ok, _, stderr) = chat(&["import", "--data", path(&data), path(&file)]);
        assert!(!ok, "{input:?} must be refused");
        assert!(stderr.contains(expected), "{input:?}: expected {expected:?} in {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (ok, _, stderr) = chat(&["import", "--data", path(&dir.path().join("x")), "/no/such/file.jsonl"]);
    assert!(!ok && stderr.contains("cannot open /no/such/file.jsonl"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_on_postgres_survives_sigkill() {
    let database = TestDatabase::create_or_panic().await;
    let data = tempfile::tempdir().unwrap();
    let env = [("AUTHVEX_DATABASE_URL", database.url())];
    let server = ChatProcess::start_with(data.path(), &env);
    let client = Client::new(&server.api_url);
    for i in 0..20 {
        value(client.mutation("messages:send", json!({"author": "k", "body": format!("m{i}")})).await).await;
    }
    server.kill();
    let server = ChatProcess::start_with(data.path(), &env);
    let client = Client::new(&server.api_url);
    let messages = value(client.query("messages:byAuthor", json!({"author": "k"})).await).await;
    let bodies: Vec<&str> = messages.as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..20).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(bodies, expected, "every acknowledged mutation survived SIGKILL (newest first)");
    server.stop();
}
