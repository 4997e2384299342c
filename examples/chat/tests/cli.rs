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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_commands_list_and_cancel_and_the_data_folder_is_locked_while_running() {
    let data = tempfile::tempdir().unwrap();
    let server = ChatProcess::start(data.path());
    let api = common::Client::new(&server.api_url);
    let args = serde_json::json!({"batch": "cli", "n": 2, "delayMs": 3_600_000});
    let ids = api.mutation("jobs:scheduleBatch", args).await.unwrap()["value"].clone();
    let ids: Vec<String> = ids.as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect();

    // Listing works while the deployment runs.
    let (ok, out, err) = chat(&["jobs", "list", "--state", "pending"], data.path());
    assert!(ok, "{err}");
    for id in &ids {
        assert!(out.contains(id.as_str()) && out.contains("jobs.js:record"), "{out}");
    }
    // Writing beside a running SQLite deployment is refused, and so is a second deployment on the folder.
    let (ok, _, err) = chat(&["jobs", "cancel", &ids[0]], data.path());
    assert!(!ok && err.contains("stop it first"), "{err}");
    let second = Command::new(env!("CARGO_BIN_EXE_chat"))
        .args(["dev", "--port", "0", "--site-port", "0", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("stop it first"));
    server.stop();

    let (ok, out, err) = chat(&["jobs", "cancel", &ids[0]], data.path());
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("canceled {}", ids[0]));
    let (ok, _, err) = chat(&["jobs", "cancel", "not-an-id"], data.path());
    assert!(!ok && err.contains("not a document id"), "{err}");
    let (_, out, _) = chat(&["jobs", "list", "--state", "canceled"], data.path());
    assert!(out.contains(ids[0].as_str()) && !out.contains(ids[1].as_str()), "{out}");
    let (_, out, _) = chat(&["jobs", "list"], data.path());
    assert_eq!(out.lines().count(), 2, "{out}");

    // The canceled job stays canceled after a restart; the other is still pending.
    let server = ChatProcess::start(data.path());
    let api = common::Client::new(&server.api_url);
    let states = api.query("jobs:states", serde_json::json!({ "ids": ids })).await.unwrap()["value"].clone();
    let kinds: Vec<&str> = states.as_array().unwrap().iter().map(|j| j["state"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["canceled", "pending"]);
    server.stop();
}

/// `chat health [--port] [--url]`, as the container HEALTHCHECK runs it, with the command's exit status and output.
fn health(args: &[&str], tls_cert: Option<&std::path::Path>) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chat"));
    command.arg("health").args(args).env_remove("AUTHVEX_TLS_CERT").env_remove("AUTHVEX_PORT");
    if let Some(cert) = tls_cert {
        command.env("AUTHVEX_TLS_CERT", cert);
    }
    let out = command.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn port_of(url: &str) -> String {
    url.rsplit(':').next().unwrap().to_string()
}

#[test]
fn health_command_checks_plain_and_tls_listeners_and_bad_certificates_stop_the_start() {
    // Plain HTTP.
    let data = tempfile::tempdir().unwrap();
    let server = ChatProcess::start(data.path());
    let (ok, out) = health(&["--port", &port_of(&server.api_url)], None);
    assert!(ok && out.contains("healthy"), "{out}");
    server.stop();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let (ok, out) = health(&["--port", &closed], None);
    assert!(!ok && out.contains("unhealthy"), "{out}");

    // TLS from the environment (AUTHVEX_TLS_CERT / AUTHVEX_TLS_KEY): https URLs, and `health` speaks https when
    // AUTHVEX_TLS_CERT is set (the certificate is for `localhost`, the probe goes to 127.0.0.1).
    let ca = test_support::tls::TestCa::new("health CA");
    let pair = ca.server_cert("server", &["localhost"]);
    let (cert, key) = (pair.cert.to_str().unwrap(), pair.key.to_str().unwrap());
    let data = tempfile::tempdir().unwrap();
    let server = ChatProcess::start_with(data.path(), &[("AUTHVEX_TLS_CERT", cert), ("AUTHVEX_TLS_KEY", key)]);
    assert!(server.api_url.starts_with("https://127.0.0.1:"), "{}", server.api_url);
    assert!(server.site_url.starts_with("https://127.0.0.1:"), "{}", server.site_url);
    let port = port_of(&server.api_url);
    let (ok, out) = health(&["--port", &port], Some(&pair.cert));
    assert!(ok, "{out}");
    let (ok, out) = health(&["--url", &format!("http://127.0.0.1:{port}/health")], None);
    assert!(!ok, "plain HTTP to a TLS listener is not healthy: {out}");
    server.stop();

    // The config file's `tls` (here through AUTHVEX_CONFIG).
    let config = data.path().join("authvex.json");
    std::fs::write(&config, format!(r#"{{"tls": {{"cert": {cert:?}, "key": {key:?}}}}}"#)).unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = ChatProcess::start_with(data.path(), &[("AUTHVEX_CONFIG", config.to_str().unwrap())]);
    assert!(server.api_url.starts_with("https://"), "{}", server.api_url);
    let (ok, out) = health(&["--url", &format!("https://127.0.0.1:{}/health", port_of(&server.api_url))], None);
    assert!(ok, "{out}");
    server.stop();

    // A key that does not belong to the certificate, or a missing file, stops the start naming the file.
    let other = ca.server_cert("other", &["localhost"]);
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chat"))
        .args(["dev", "--port", "0", "--site-port", "0", "--tls-cert", cert, "--tls-key"])
        .arg(&other.key)
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("TLS") && stderr.contains("server.crt"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_chat"))
        .args(["dev", "--port", "0", "--site-port", "0", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", key])
        .arg("--data")
        .arg(data.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("/nonexistent/cert.pem"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_chat")).args(["dev", "--tls-cert", cert]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("--tls-key"), "a certificate without a key: {stderr}");
}
