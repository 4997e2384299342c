//! Starts the real `chat` binary on free ports and talks to it over HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ChatProcess {
    child: Child,
    pub api_url: String,
    pub site_url: String,
}

/// A server left behind by a failing test would outlive the test run (and anything it inherited): killed on drop.
impl Drop for ChatProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl ChatProcess {
    pub fn start(data: &Path) -> Self {
        Self::start_with(data, &[])
    }

    pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chat"));
        command
            .args(["dev", "--data"])
            .arg(data)
            .args(["--port", "0", "--site-port", "0"])
            .env("AUTHVEX_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("spawn chat");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut api_url, mut site_url) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while api_url.is_none() || site_url.is_none() {
            assert!(Instant::now() < deadline, "chat did not print its URLs in time");
            let line = lines.next().expect("chat exited before printing its URLs").expect("read stdout");
            if let Some(url) = line.strip_prefix("API URL:") {
                api_url = Some(url.trim().to_string());
            } else if let Some(url) = line.strip_prefix("Site URL:") {
                site_url = Some(url.trim().to_string());
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        ChatProcess { child, api_url: api_url.unwrap_or_default(), site_url: site_url.unwrap_or_default() }
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(self) {
        drop(self);
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(status.success(), "chat exited with {status} after SIGTERM");
                    return;
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    panic!("chat did not stop within 20 s of SIGTERM");
                }
            }
        }
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(base: &str) -> Self {
        Client { http: reqwest::Client::new(), base: base.to_string() }
    }

    async fn call(&self, endpoint: &str, path: &str, args: serde_json::Value) -> Result<serde_json::Value, String> {
        let body = serde_json::json!({"path": path, "args": [args], "format": "convex_encoded_json"});
        let response = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        response.json().await.map_err(|e| e.to_string())
    }

    pub async fn query(&self, path: &str, args: serde_json::Value) -> Result<serde_json::Value, String> {
        self.call("query", path, args).await
    }

    pub async fn mutation(&self, path: &str, args: serde_json::Value) -> Result<serde_json::Value, String> {
        self.call("mutation", path, args).await
    }
}
