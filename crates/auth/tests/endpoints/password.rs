//! change-password, request-password-reset, the reset link, reset-password.

use crate::harness::*;
use auth::adapter::Where;
use auth::email::EmailKind;
use auth::models::Verification;
use auth::schema::Model;
use serde_json::json;

const NEW_PASSWORD: &str = "new password 123";

#[tokio::test]
async fn change_password_checks_the_current_password() {
    let env = Env::new().await;
    let (mut alice, user) = env.signed_up("Alice", "alice@example.com").await;
    let mut laptop = env.browser();
    laptop.sign_in("alice@example.com", PASSWORD).await;

    let resp =
        alice.post("/change-password", json!({"currentPassword": "nope nope nope", "newPassword": NEW_PASSWORD})).await;
    check_error(&resp, 400, "INVALID_PASSWORD", "Invalid password");
    let resp = alice.post("/change-password", json!({"currentPassword": PASSWORD, "newPassword": "short"})).await;
    check_error(&resp, 400, "PASSWORD_TOO_SHORT", "Password too short");
    let resp =
        alice.post("/change-password", json!({"currentPassword": PASSWORD, "newPassword": "x".repeat(129)})).await;
    check_error(&resp, 400, "PASSWORD_TOO_LONG", "Password too long");
    let resp = alice.post("/change-password", json!({"currentPassword": PASSWORD})).await;
    check_error(
        &resp,
        400,
        "VALIDATION_ERROR",
        "[body.newPassword] Invalid input: expected string, received undefined",
    );
    let unauthenticated =
        Req::post("/change-password", json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}));
    check_empty(&env.send(unauthenticated).await, 401);

    // Without revokeOtherSessions: no new token, no cookie, every session stays.
    let resp = alice.post("/change-password", json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})).await;
    check(&resp, 200, json!({"token": null, "user": user}));
    assert!(resp.set_cookies().is_empty());
    assert_eq!(laptop.session().await["user"]["email"], json!("alice@example.com"));
    assert_eq!(env.count(Model::Session, &[]).await, 2);

    let resp = env.send(Req::post("/sign-in/email", json!({"email": "alice@example.com", "password": PASSWORD}))).await;
    check_error(&resp, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    env.browser().sign_in("alice@example.com", NEW_PASSWORD).await;
}

#[tokio::test]
async fn change_password_can_revoke_every_other_session() {
    let env = Env::new().await;
    let (mut alice, user) = env.signed_up("Alice", "alice@example.com").await;
    let (mut bob, _) = env.signed_up("Bob", "bob@example.com").await;
    let old_token = alice.token();
    let mut laptop = env.browser();
    laptop.sign_in("alice@example.com", PASSWORD).await;

    let resp = alice
        .post(
            "/change-password",
            json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "revokeOtherSessions": true}),
        )
        .await;
    check_shape(&resp, 200, json!({"token": "<token>", "user": redact(user)}));
    let new_token = resp.json()["token"].as_str().unwrap().to_string();
    assert_ne!(new_token, old_token);
    assert_eq!(resp.set_cookies(), [session_cookie(&new_token, Some(604800))]);

    // Every old session of Alice is dead, the current one included; the new cookie works; Bob is untouched.
    let old = Req::get("/get-session").header("cookie", &format!("better-auth.session_token={}", signed(&old_token)));
    check(&env.send(old).await, 200, json!(null));
    check(&laptop.get("/get-session").await, 200, json!(null));
    assert_eq!(alice.session().await["session"]["token"], json!(new_token));
    assert_eq!(bob.session().await["user"]["email"], json!("bob@example.com"));
    assert_eq!(env.count(Model::Session, &[]).await, 2);
}

const RESET_MESSAGE: &str = "If this email exists in our system, check your email for the reset link";

/// The token of a reset mail, checked against the URL Better Auth sends.
fn reset_token(url: &str, callback: &str) -> String {
    let rest = url.strip_prefix(&format!("{AUTH_BASE}/reset-password/")).unwrap();
    let (token, query) = rest.split_once('?').unwrap();
    assert_eq!(query, format!("callbackURL={callback}"));
    assert!(token.len() == 24 && token.bytes().all(|b| b.is_ascii_alphanumeric()), "{token}");
    token.to_string()
}

#[tokio::test]
async fn password_reset_flow() {
    let env = Env::new().await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    let expected = json!({"status": true, "message": RESET_MESSAGE});

    // Unknown address: the same answer, no mail, no row.
    let resp = env
        .send(Req::post(
            "/request-password-reset",
            json!({"email": "ghost@example.com", "redirectTo": "http://localhost:3000/reset"}),
        ))
        .await;
    check(&resp, 200, expected.clone());
    assert!(env.take_mails().is_empty());
    assert_eq!(env.count(Model::Verification, &[]).await, 0);

    let resp = env
        .send(Req::post(
            "/request-password-reset",
            json!({"email": "Alice@Example.com", "redirectTo": "http://localhost:3000/reset"}),
        ))
        .await;
    check(&resp, 200, expected);
    let mails = env.take_mails();
    assert_eq!((mails.len(), mails[0].kind, mails[0].to.as_str()), (1, EmailKind::ResetPassword, "alice@example.com"));
    let token = reset_token(&mails[0].url, "http%3A%2F%2Flocalhost%3A3000%2Freset");
    let row: Verification = env.row(&[Where::eq("identifier", format!("reset-password:{token}"))]).await.unwrap();
    assert_eq!(auth::dates::iso_millis(row.expires_at), iso_after(3600));

    // The link redirects to the app with the token (a relative callback resolves against the site).
    let resp =
        env.send(Req::get(&format!("/reset-password/{token}?callbackURL=http%3A%2F%2Flocalhost%3A3000%2Freset"))).await;
    assert_eq!((resp.status, resp.text()), (302, String::new()));
    assert_eq!(resp.header("location"), Some(format!("http://localhost:3000/reset?token={token}").as_str()));
    let resp = env.send(Req::get(&format!("/reset-password/{token}?callbackURL=%2Freset%3Fstep%3D2"))).await;
    assert_eq!(resp.header("location"), Some(format!("http://localhost:3000/reset?step=2&token={token}").as_str()));
    let resp = env.send(Req::get("/reset-password/bogusToken?callbackURL=%2Freset")).await;
    assert_eq!((resp.status, resp.header("location")), (302, Some("http://localhost:3000/reset?error=INVALID_TOKEN")));
    let resp = env.send(Req::get(&format!("/reset-password/{token}"))).await;
    check_error(&resp, 400, "CALLBACKURL_IS_REQUIRED", "callbackURL is required");

    // Validation before the token is touched.
    let resp = env.send(Req::post("/reset-password", json!({"newPassword": NEW_PASSWORD}))).await;
    check_error(&resp, 400, "INVALID_TOKEN", "Invalid token");
    let resp = env.send(Req::post("/reset-password", json!({"newPassword": "short", "token": token}))).await;
    check_error(&resp, 400, "PASSWORD_TOO_SHORT", "Password too short");
    let resp =
        env.send(Req::post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": "bogusToken"}))).await;
    check_error(&resp, 400, "INVALID_TOKEN", "Invalid token");

    let resp = env.send(Req::post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": token}))).await;
    check(&resp, 200, json!({"status": true}));
    // Single use.
    let resp = env.send(Req::post("/reset-password", json!({"newPassword": "another password", "token": token}))).await;
    check_error(&resp, 400, "INVALID_TOKEN", "Invalid token");
    assert_eq!(env.count(Model::Verification, &[]).await, 0);

    let resp = env.send(Req::post("/sign-in/email", json!({"email": "alice@example.com", "password": PASSWORD}))).await;
    check_error(&resp, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    env.browser().sign_in("alice@example.com", NEW_PASSWORD).await;
    // Sessions survive a reset unless configured otherwise.
    assert_eq!(alice.session().await["user"]["email"], json!("alice@example.com"));
}

#[tokio::test]
async fn reset_tokens_expire_after_an_hour() {
    let env = Env::new().await;
    env.signed_up("Alice", "alice@example.com").await;
    let resp = env.send(Req::post("/request-password-reset", json!({"email": "alice@example.com"}))).await;
    assert_eq!(resp.status, 200);
    let mails = env.take_mails();
    // Without redirectTo the callback is empty.
    let token = reset_token(&mails[0].url, "");

    env.advance_secs(3600);
    let resp = env.send(Req::get(&format!("/reset-password/{token}?callbackURL=%2Freset"))).await;
    assert_eq!(resp.header("location"), Some("http://localhost:3000/reset?error=INVALID_TOKEN"));
    let resp =
        env.send(Req::post(&format!("/reset-password?token={token}"), json!({"newPassword": NEW_PASSWORD}))).await;
    check_error(&resp, 400, "INVALID_TOKEN", "Invalid token");
    env.browser().sign_in("alice@example.com", PASSWORD).await;
}

#[tokio::test]
async fn reset_accepts_the_token_in_the_query_and_can_revoke_sessions() {
    let env = Env::with(|c| c.email_and_password.revoke_sessions_on_password_reset = true).await;
    let (mut alice, _) = env.signed_up("Alice", "alice@example.com").await;
    env.send(Req::post("/request-password-reset", json!({"email": "alice@example.com", "redirectTo": "/reset"}))).await;
    let token = reset_token(&env.take_mails()[0].url, "%2Freset");
    let resp =
        env.send(Req::post(&format!("/reset-password?token={token}"), json!({"newPassword": NEW_PASSWORD}))).await;
    check(&resp, 200, json!({"status": true}));
    check(&alice.get("/get-session").await, 200, json!(null));
    assert_eq!(env.count(Model::Session, &[]).await, 0);
}

#[tokio::test]
async fn reset_gives_a_password_to_a_user_without_one() {
    let env = Env::new().await;
    let user_id = env.insert_oauth_user("oauth@example.com").await;
    env.send(Req::post("/request-password-reset", json!({"email": "oauth@example.com"}))).await;
    let token = reset_token(&env.take_mails()[0].url, "");
    let resp = env.send(Req::post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": token}))).await;
    check(&resp, 200, json!({"status": true}));
    let credential = [Where::eq("userId", user_id.as_str()), Where::eq("providerId", "credential")];
    assert_eq!(env.count(Model::Account, &credential).await, 1);
    env.browser().sign_in("oauth@example.com", NEW_PASSWORD).await;
}

#[tokio::test]
async fn bogus_reset_tokens_cost_no_password_hashing() {
    let env = Env::new().await;
    // An unauthenticated endpoint must not let anyone buy expensive scrypt runs with made-up tokens.
    for token in ["bogusToken", "AbCdEfGhIjKlMnOpQrStUvWx"] {
        let resp = env.send(Req::post("/reset-password", json!({"newPassword": NEW_PASSWORD, "token": token}))).await;
        check_error(&resp, 400, "INVALID_TOKEN", "Invalid token");
    }
    assert_eq!(env.svc.hash_load().total, 0);
}
