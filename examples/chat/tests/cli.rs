#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The CLI: `env set/get/list/remove` against a data folder, seen by functions of a running deployment.

mod common;

use common::ChatProcess;
use std::process::Command;

fn chat(args: &[&str], data: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chat")).args(args).arg("--data").arg(data).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn env_commands_round_trip() {
    let data = tempfile::tempdir().unwrap();
    assert!(chat(&["env", "set", "GREETING", "hello world"], data.path()).0);
    assert!(chat(&["env", "set", "OTHER", "x=y"], data.path()).0);
    let (ok, out, _) = chat(&["env", "get", "GREETING"], data.path());
    assert!(ok);
    assert_eq!(out.trim(), "hello world");
    let (_, out, _) = chat(&["env", "list"], data.path());
    assert_eq!(out, "GREETING=hello world\nOTHER=x=y\n");
    assert!(chat(&["env", "remove", "OTHER"], data.path()).0);
    let (ok, _, err) = chat(&["env", "get", "OTHER"], data.path());
    assert!(!ok && err.contains("not set"), "{err}");
    let (ok, _, err) = chat(&["env", "set", "1BAD", "x"], data.path());
    assert!(!ok && err.contains("invalid environment variable name"), "{err}");
}

#[test]
fn dev_prints_urls_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let server = ChatProcess::start(data.path());
    assert!(server.api_url.starts_with("http://127.0.0.1:"));
    assert!(server.site_url.starts_with("http://127.0.0.1:"));
    assert_ne!(server.api_url, server.site_url);
    let version = raw_http::get(&format!("{}/version", server.api_url));
    assert!(version.starts_with("authvex "), "{version}");
    server.stop();
}

mod raw_http {
    /// A minimal blocking GET over a std TcpStream (keeps the test free of an async runtime).
    pub fn get(url: &str) -> String {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap();
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_env_vars_reach_functions_of_a_running_deployment() {
    let data = tempfile::tempdir().unwrap();
    assert!(chat(&["env", "set", "GREETING", "before start"], data.path()).0);
    let server = ChatProcess::start(data.path());
    let client = common::Client::new(&server.api_url);
    let greeting = client.query("settings:greeting", serde_json::json!({})).await.unwrap();
    assert_eq!(greeting["value"], "before start");
    // Changed while running: visible without a restart once the deployment re-reads its env (every 2 s).
    assert!(chat(&["env", "set", "GREETING", "while running"], data.path()).0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let greeting = client.query("settings:greeting", serde_json::json!({})).await.unwrap();
        if greeting["value"] == "while running" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "env change never reached the running deployment");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.stop();
}
