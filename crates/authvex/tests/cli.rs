//! Black-box tests of the `authvex` binary: `serve` (no dev defaults, `/health`, `/ready`), and backend selection
//! with `--db` / `AUTHVEX_DATABASE_URL` on PostgreSQL (a fresh database per test, see `test_support::postgres`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use test_support::postgres::TestDatabase;

const SECRET: &str = "a-test-secret-that-is-long-enough-0123456789";

/// A command line of the binary with a clean environment for the variables it reads.
fn authvex(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authvex"));
    command.args(args).env("AUTHVEX_LOG", "warn");
    for name in ["BETTER_AUTH_SECRET", "AUTHVEX_DATABASE_URL", "AUTHVEX_DATA", "AUTHVEX_CONFIG", "AUTHVEX_HOST"] {
        command.env_remove(name);
    }
    command
}

/// Runs a short command; returns (success, stdout, stderr).
fn output(command: &mut Command) -> (bool, String, String) {
    let out = command.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

struct Running {
    child: Child,
    api_url: String,
    site_url: String,
    first_line: String,
}

impl Running {
    /// Starts the command and waits for its URL lines.
    fn start(mut command: Command) -> Running {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut api_url, mut site_url, mut first_line) = (None, None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while api_url.is_none() || site_url.is_none() {
            assert!(Instant::now() < deadline, "no URLs in time");
            let Some(line) = lines.next() else {
                let mut stderr = String::new();
                child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
                panic!("the server exited before printing its URLs: {stderr}");
            };
            let line = line.unwrap();
            first_line.get_or_insert_with(|| line.clone());
            if let Some(url) = line.strip_prefix("API URL:") {
                api_url = Some(url.trim().to_owned());
            } else if let Some(url) = line.strip_prefix("Site URL:") {
                site_url = Some(url.trim().to_owned());
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
        Running { child, api_url: api_url.unwrap(), site_url: site_url.unwrap(), first_line: first_line.unwrap() }
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit after SIGTERM: {status}");
                return;
            }
            assert!(Instant::now() < deadline, "no exit within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn serve(data: &Path) -> Command {
    let mut command = authvex(&["serve", "--host", "127.0.0.1", "--port", "0", "--site-port", "0", "--data"]);
    command.arg(data);
    command
}

#[test]
fn serve_refuses_to_start_without_a_secret_and_stores_none() {
    let data = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = output(&mut serve(data.path()));
    assert!(!ok, "serve must not start without BETTER_AUTH_SECRET");
    assert!(stderr.contains("BETTER_AUTH_SECRET is not set"), "a clear error: {stderr}");
    let (ok, _, stderr) = output(authvex(&["env", "get", "BETTER_AUTH_SECRET", "--data"]).arg(data.path()));
    assert!(!ok && stderr.contains("not set"), "serve generated no secret: {stderr}");
}

#[tokio::test]
async fn serve_binds_as_configured_and_answers_health_and_ready() {
    let data = tempfile::tempdir().unwrap();
    let mut command = serve(data.path());
    command.env("BETTER_AUTH_SECRET", SECRET);
    let server = Running::start(command);
    assert!(server.first_line.starts_with("authvex serve: deployment ready (data: SQLite in"), "{}", server.first_line);
    assert!(server.api_url.starts_with("http://127.0.0.1:"), "{}", server.api_url);
    assert_eq!(get(&format!("{}/health", server.api_url)).await, (200, "ok\n".to_owned()));
    assert_eq!(get(&format!("{}/ready", server.api_url)).await, (200, "ready\n".to_owned()));
    // The secret from the process env is used, not stored.
    let (ok, _, _) = output(authvex(&["env", "get", "BETTER_AUTH_SECRET", "--data"]).arg(data.path()));
    assert!(!ok, "serve stores no secret");
    // Without SMTP a password-reset mail is only logged: production keeps no outbox file of mails (with tokens).
    let http = reqwest::Client::new();
    let site = &server.site_url;
    let body =
        serde_json::json!({"email": "serve@example.com", "password": "correct horse battery staple", "name": "S"});
    let response =
        http.post(format!("{site}/api/auth/sign-up/email")).header("origin", site).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = serde_json::json!({"email": "serve@example.com", "redirectTo": format!("{site}/reset")});
    let response = http
        .post(format!("{site}/api/auth/request-password-reset"))
        .header("origin", site)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert!(!data.path().join("outbox.jsonl").exists(), "serve writes no outbox");
    server.stop();
}

#[test]
fn bad_database_urls_are_clear_errors() {
    let data = tempfile::tempdir().unwrap();
    let (ok, _, stderr) =
        output(authvex(&["env", "list", "--db", "mysql://root:hunter2@localhost/x", "--data"]).arg(data.path()));
    assert!(!ok && stderr.contains("unsupported database URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "no password in errors: {stderr}");

    let mut command = serve(data.path());
    command.args(["--db", "postgres://someone:hunter2@127.0.0.1:1/nothing"]).env("BETTER_AUTH_SECRET", SECRET);
    let (ok, _, stderr) = output(&mut command);
    assert!(!ok, "an unreachable database stops the start");
    assert!(stderr.contains("cannot connect to PostgreSQL at someone@127.0.0.1:1/nothing"), "{stderr}");
    assert!(!stderr.contains("hunter2") && !stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn dev_on_postgres_keeps_env_and_users_in_the_database() {
    let database = TestDatabase::create_or_panic().await;
    let data = tempfile::tempdir().unwrap();
    let (ok, _, stderr) =
        output(authvex(&["env", "set", "GREETING", "hi", "--db", database.url(), "--data"]).arg(data.path()));
    assert!(ok, "{stderr}");

    // The env var selects the backend too.
    let mut command = authvex(&["dev", "--port", "0", "--site-port", "0", "--data"]);
    command.arg(data.path()).env("AUTHVEX_DATABASE_URL", database.url());
    let server = Running::start(command);
    assert!(server.first_line.contains("(data: PostgreSQL at postgres@"), "{}", server.first_line);
    assert_eq!(get(&format!("{}/ready", server.api_url)).await.0, 200);
    let http = reqwest::Client::new();
    let site = &server.site_url;
    let body = serde_json::json!({"email": "pg@example.com", "password": "correct horse battery staple", "name": "Pg"});
    let response =
        http.post(format!("{site}/api/auth/sign-up/email")).header("origin", site).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    server.stop();
    assert!(!data.path().join("authvex.sqlite3").exists(), "nothing went to SQLite");

    // dev generated the secret into the PostgreSQL deployment env, next to the variable set before.
    let mut list = authvex(&["env", "list", "--data"]);
    list.arg(data.path()).env("AUTHVEX_DATABASE_URL", database.url());
    let (ok, stdout, stderr) = output(&mut list);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("GREETING=hi\n") && stdout.contains("BETTER_AUTH_SECRET="), "{stdout}");

    // A restart on the same database signs the user in.
    let mut command = authvex(&["dev", "--port", "0", "--site-port", "0", "--data"]);
    command.arg(data.path()).args(["--db", database.url()]);
    let server = Running::start(command);
    let site = &server.site_url;
    let body = serde_json::json!({"email": "pg@example.com", "password": "correct horse battery staple"});
    let response =
        http.post(format!("{site}/api/auth/sign-in/email")).header("origin", site).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200, "the user survived the restart: {}", response.text().await.unwrap());
    server.stop();
}

#[tokio::test]
async fn ready_reports_503_when_postgres_goes_away_while_health_stays_200() {
    let database = TestDatabase::create_or_panic().await;
    let data = tempfile::tempdir().unwrap();
    let mut command = serve(data.path());
    command.args(["--db", database.url()]).env("BETTER_AUTH_SECRET", SECRET);
    let server = Running::start(command);
    assert_eq!(get(&format!("{}/ready", server.api_url)).await.0, 200);
    drop(database); // DROP DATABASE … WITH (FORCE): every connection is terminated, new ones are refused
    let (status, body) = get(&format!("{}/ready", server.api_url)).await;
    assert_eq!((status, body.as_str()), (503, "database unavailable\n"), "no internals in the body");
    assert_eq!(get(&format!("{}/health", server.api_url)).await.0, 200, "liveness does not depend on the database");
    server.stop();
}

#[tokio::test]
async fn the_config_files_database_key_is_used_and_the_flag_wins_over_it() {
    let database = TestDatabase::create_or_panic().await;
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("authvex.json");
    std::fs::write(&config, serde_json::json!({"database": database.url()}).to_string()).unwrap();

    let mut command = authvex(&["dev", "--port", "0", "--site-port", "0", "--data"]);
    command.arg(data.path()).arg("--config").arg(&config);
    let server = Running::start(command);
    assert!(server.first_line.contains("(data: PostgreSQL at postgres@"), "{}", server.first_line);
    server.stop();

    // AUTHVEX_DATABASE_URL overrides the file, and --db overrides both: here with URLs that fail, naming which.
    let mut command = authvex(&["dev", "--port", "0", "--site-port", "0", "--data"]);
    command.arg(data.path()).arg("--config").arg(&config).env("AUTHVEX_DATABASE_URL", "sqlite://from-env");
    let (ok, _, stderr) = output(&mut command);
    assert!(!ok && stderr.contains("sqlite://from-env"), "the env var wins over the file: {stderr}");
    command.args(["--db", "mysql://from-flag"]);
    let (ok, _, stderr) = output(&mut command);
    assert!(!ok && stderr.contains("mysql://from-flag"), "the flag wins over the env var: {stderr}");
}

#[test]
fn codegen_writes_the_api_of_the_builtin_functions_in_both_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("convex/_generated");
    let (ok, stdout, stderr) = output(authvex(&["codegen", "--out"]).arg(&out));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("api.ts"), "{stdout}");
    let ts = std::fs::read_to_string(out.join("api.ts")).unwrap();
    assert!(ts.contains("getCurrentUser: FunctionReference<\"query\", \"public\", any, any>;"), "{ts}");

    let (ok, _, stderr) = output(authvex(&["codegen", "--js", "--out"]).arg(&out));
    assert!(ok, "{stderr}");
    assert!(std::fs::read_to_string(out.join("api.js")).unwrap().contains("export const api = anyApi;"));
    assert!(std::fs::read_to_string(out.join("api.d.ts")).unwrap().contains("export declare const api: {"));

    // An output path that is a file is a clear error, not a panic.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let (ok, _, stderr) = output(authvex(&["codegen", "--out"]).arg(&file));
    assert!(!ok);
    assert!(stderr.contains("cannot create"), "{stderr}");
}
