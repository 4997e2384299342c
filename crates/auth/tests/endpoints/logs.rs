//! Security floor: no password, secret or credential reaches the logs, also when things fail.

use crate::harness::*;
use async_trait::async_trait;
use auth::adapter::Where;
use auth::email::{Email, EmailError, EmailTransport};
use auth::models::{Account, Verification};
use parking_lot::Mutex;
use serde_json::json;
use std::io::Write;
use std::sync::Arc;

/// A relay that is down.
struct FailingMail;

#[async_trait]
impl EmailTransport for FailingMail {
    async fn send(&self, _email: Email) -> Result<(), EmailError> {
        Err(EmailError("smtp relay refused the connection".into()))
    }
}

/// Everything the subscriber writes, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const NEW_PASSWORD: &str = "brand new secret passphrase";
const WRONG_PASSWORD: &str = "a wrong guess of a password";

#[tokio::test]
async fn passwords_secrets_and_tokens_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runs on one thread (current-thread runtime); hashing threads do not log.
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = Env::build(
        |c| {
            c.email_verification.send_on_sign_up = true;
            c.user.delete_user.enabled = true;
        },
        Setup { mailer: Some(Arc::new(FailingMail)), ..Setup::default() },
    )
    .await;
    let mut alice = env.browser();
    let resp = alice
        .post("/sign-up/email", json!({"name": "Alice", "email": "alice@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(resp.status, 200);
    let mut tokens = vec![alice.token()];
    let resp =
        env.send(Req::post("/sign-in/email", json!({"email": "alice@example.com", "password": WRONG_PASSWORD}))).await;
    assert_eq!(resp.status, 401);
    tokens.push(alice.sign_in("alice@example.com", PASSWORD).await);
    // Refusals that are logged: an untrusted origin and an untrusted redirect target.
    let resp = env
        .send(
            Req::post("/sign-in/email", json!({"email": "alice@example.com", "password": PASSWORD}))
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(resp.status, 403);
    let resp = env
        .send(Req::post(
            "/sign-in/email",
            json!({"email": "alice@example.com", "password": PASSWORD, "callbackURL": "https://evil.example/"}),
        ))
        .await;
    assert_eq!(resp.status, 403);

    // A reset whose mail fails: the answer does not change, the token only lives in the database.
    let resp = env.send(Req::post("/request-password-reset", json!({"email": "alice@example.com"}))).await;
    assert_eq!(resp.status, 200);
    let row: Verification = env.row(&[]).await.unwrap();
    let reset_token = row.identifier.strip_prefix("reset-password:").unwrap().to_string();
    let resp = env.send(Req::post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": reset_token}))).await;
    assert_eq!(resp.status, 200);
    tokens.push(env.browser().sign_in("alice@example.com", NEW_PASSWORD).await);
    let hash = env.row::<Account>(&[Where::eq("providerId", "credential")]).await.unwrap().password.unwrap();
    let resp = alice.post("/delete-user", json!({"password": WRONG_PASSWORD})).await;
    assert_eq!(resp.status, 400);
    drop(_guard);

    let logs = String::from_utf8(captured.0.lock().clone()).unwrap();
    // The capture works: the failed mails and the refusals were logged.
    assert!(logs.contains("sending mail failed") && logs.contains("smtp relay refused the connection"), "{logs}");
    assert!(logs.contains("rejected a request from an untrusted origin"), "{logs}");
    assert!(logs.contains("rejected an untrusted redirect target"), "{logs}");
    let mut secrets = vec![PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, SECRET, &reset_token, &hash[33..]];
    secrets.extend(tokens.iter().map(String::as_str));
    for secret in secrets {
        assert!(!logs.contains(secret), "{secret:?} appears in the logs:\n{logs}");
    }
}
