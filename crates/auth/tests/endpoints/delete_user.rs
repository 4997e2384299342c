//! delete-user and its confirmation callback.

use crate::harness::*;
use auth::adapter::Where;
use auth::email::EmailKind;
use auth::schema::Model;
use serde_json::json;

async fn rows_of(env: &Env, user_id: &str) -> [usize; 3] {
    [
        env.count(Model::User, &[Where::id(user_id)]).await,
        env.count(Model::Session, &[Where::eq("userId", user_id)]).await,
        env.count(Model::Account, &[Where::eq("userId", user_id)]).await,
    ]
}

#[tokio::test]
async fn delete_user_is_not_found_unless_enabled() {
    let env = Env::new().await;
    let (mut alice, user) = env.signed_up("Alice", "alice@example.com").await;
    let resp = alice.post("/delete-user", json!({"password": PASSWORD})).await;
    check_empty(&resp, 404);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    check_empty(&alice.get("/delete-user/callback?token=x").await, 404);
    assert_eq!(rows_of(&env, user["id"].as_str().unwrap()).await, [1, 1, 1]);
}

#[tokio::test]
async fn delete_user_with_password() {
    let env = Env::with(|c| c.user.delete_user.enabled = true).await;
    let (mut alice, user) = env.signed_up("Alice", "alice@example.com").await;
    let (mut bob, _) = env.signed_up("Bob", "bob@example.com").await;
    let mut laptop = env.browser();
    laptop.sign_in("alice@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap().to_string();

    let resp = alice.post("/delete-user", json!({"password": "wrong"})).await;
    check_error(&resp, 400, "INVALID_PASSWORD", "Invalid password");
    check_empty(&env.send(Req::post("/delete-user", json!({"password": PASSWORD}))).await, 401);
    assert_eq!(rows_of(&env, &id).await, [1, 2, 1]);

    let resp = alice.post("/delete-user", json!({"password": PASSWORD, "callbackURL": "/bye"})).await;
    check(&resp, 200, json!({"success": true, "message": "User deleted"}));
    assert_eq!(resp.set_cookies(), DELETION_COOKIES);
    assert_eq!(rows_of(&env, &id).await, [0, 0, 0]);
    check(&laptop.get("/get-session").await, 200, json!(null));
    let resp = env.send(Req::post("/sign-in/email", json!({"email": "alice@example.com", "password": PASSWORD}))).await;
    check_error(&resp, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    assert_eq!(bob.session().await["user"]["email"], json!("bob@example.com"));
}

#[tokio::test]
async fn delete_user_without_a_password_needs_a_credential_check_or_a_fresh_session() {
    let env = Env::with(|c| c.user.delete_user.enabled = true).await;
    let user_id = env.insert_oauth_user("octo@example.com").await;
    // A provider-only user has no password to check.
    let mut octo = env.browser();
    octo.set_cookie("better-auth.session_token", &signed(&session_for(&env, &user_id).await));
    let resp = octo.post("/delete-user", json!({"password": PASSWORD})).await;
    check_error(&resp, 400, "CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found");

    // A session older than freshAge cannot delete without the password.
    env.advance_secs(DAY);
    let resp = octo.post("/delete-user", json!({})).await;
    check_error(
        &resp,
        400,
        "SESSION_EXPIRED_REAUTHENTICATE_TO_PERFORM_THIS_ACTION",
        "Session expired. Re-authenticate to perform this action.",
    );
    // A fresh one can.
    octo.set_cookie("better-auth.session_token", &signed(&session_for(&env, &user_id).await));
    let resp = octo.post("/delete-user", json!({})).await;
    check(&resp, 200, json!({"success": true, "message": "User deleted"}));
    assert_eq!(rows_of(&env, &user_id).await, [0, 0, 0]);
}

/// A session for `user_id` created now, straight in the database; returns its token.
async fn session_for(env: &Env, user_id: &str) -> String {
    let now = database::UnixTime::from_nanos(env.clock_nanos()).as_date_millis();
    let token = format!("{:0>32}", env.count(Model::Session, &[]).await + 1);
    let session = value::obj! {
        "token" => token.as_str(), "userId" => user_id, "expiresAt" => now + 7.0 * 86_400_000.0,
        "createdAt" => now, "updatedAt" => now, "ipAddress" => "", "userAgent" => "",
    };
    let value::Value::Object(session) = session else { unreachable!() };
    env.insert(Model::Session, session).await;
    token
}

#[tokio::test]
async fn delete_user_with_a_confirmation_mail() {
    let env = Env::with(|c| {
        c.user.delete_user.enabled = true;
        c.user.delete_user.send_delete_account_verification = true;
    })
    .await;
    let (mut alice, user) = env.signed_up("Alice", "alice@example.com").await;
    let (mut bob, _) = env.signed_up("Bob", "bob@example.com").await;
    let mut laptop = env.browser();
    laptop.sign_in("alice@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap().to_string();

    let resp = alice.post("/delete-user", json!({})).await;
    check(&resp, 200, json!({"success": true, "message": "Verification email sent"}));
    assert!(resp.set_cookies().is_empty());
    assert_eq!(rows_of(&env, &id).await, [1, 2, 1]);
    let mails = env.take_mails();
    assert_eq!((mails.len(), mails[0].kind, mails[0].to.as_str()), (1, EmailKind::DeleteAccount, "alice@example.com"));
    let rest = mails[0].url.strip_prefix(&format!("{AUTH_BASE}/delete-user/callback?token=")).unwrap();
    let (token, callback) = rest.split_once('&').unwrap();
    assert_eq!(callback, "callbackURL=/");
    assert!(token.len() == 32 && token.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()), "{token}");
    let link = format!("/delete-user/callback?token={token}&callbackURL=%2Fgoodbye");

    // Only Alice's own session can use the link; a wrong token or no session does nothing.
    check_error(&bob.get(&link).await, 400, "INVALID_TOKEN", "Invalid token");
    check_empty(&env.send(Req::get(&link)).await, 401);
    check_error(&alice.get("/delete-user/callback?token=wrong").await, 400, "INVALID_TOKEN", "Invalid token");
    assert_eq!(rows_of(&env, &id).await, [1, 2, 1]);
    assert_eq!(env.count(Model::Verification, &[]).await, 1);

    let resp = alice.get(&link).await;
    assert_eq!((resp.status, resp.header("location"), resp.text()), (302, Some("/goodbye"), String::new()));
    assert_eq!(resp.set_cookies(), DELETION_COOKIES);
    assert_eq!(rows_of(&env, &id).await, [0, 0, 0]);
    assert_eq!(env.count(Model::Verification, &[]).await, 0);
    check(&laptop.get("/get-session").await, 200, json!(null));
    assert_eq!(bob.session().await["user"]["email"], json!("bob@example.com"));

    // The token itself can also be posted (without a callback: JSON answer).
    let (mut carol, _) = env.signed_up("Carol", "carol@example.com").await;
    carol.post("/delete-user", json!({})).await;
    let url = env.take_mails()[0].url.clone();
    let token = url.split("token=").nth(1).unwrap().split('&').next().unwrap();
    let resp = carol.post("/delete-user", json!({"token": token})).await;
    check(&resp, 200, json!({"success": true, "message": "User deleted"}));
    assert_eq!(resp.set_cookies(), DELETION_COOKIES);
    assert_eq!(env.count(Model::User, &[]).await, 1);
}
