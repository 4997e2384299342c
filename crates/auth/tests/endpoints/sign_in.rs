//! `POST /sign-in/email`.

use crate::harness::*;
use auth::email::EmailKind;
use serde_json::json;

#[tokio::test]
async fn sign_in_answers_token_user_and_session_cookie() {
    let env = Env::new().await;
    env.signed_up("Alice", "alice@example.com").await;
    env.advance_secs(60);
    let alice = new_user("Alice", "alice@example.com");

    // Case-insensitive e-mail; no callbackURL → redirect false, no url.
    let mut browser = env.browser();
    let resp = browser.post("/sign-in/email", json!({"email": "ALICE@Example.com", "password": PASSWORD})).await;
    check_shape(&resp, 200, json!({"redirect": false, "token": "<token>", "user": alice}));
    let token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(resp.set_cookies(), [session_cookie(&token, Some(604800))]);
    let session = browser.session().await;
    assert_eq!(session["session"]["token"], json!(token));
    assert_eq!(session["session"]["createdAt"], json!(iso_after(60)));
    assert_eq!(session["session"]["expiresAt"], json!(iso_after(60 + 7 * DAY)));

    // With a callbackURL the client is told to navigate.
    let resp = env
        .send(Req::post(
            "/sign-in/email",
            json!({"email": "alice@example.com", "password": PASSWORD, "callbackURL": "/dashboard"}),
        ))
        .await;
    check_shape(&resp, 200, json!({"redirect": true, "token": "<token>", "url": "/dashboard", "user": alice}));
    assert_ne!(resp.json()["token"], json!(token), "every sign-in creates its own session");

    // rememberMe false: browser-session cookie plus dont_remember, one-day session.
    let mut forgetful = env.browser();
    let resp = forgetful
        .post("/sign-in/email", json!({"email": "alice@example.com", "password": PASSWORD, "rememberMe": false}))
        .await;
    let token = resp.json()["token"].as_str().unwrap().to_string();
    assert_eq!(resp.set_cookies(), [session_cookie(&token, None), dont_remember_cookie()]);
    assert_eq!(forgetful.session().await["session"]["expiresAt"], json!(iso_after(60 + DAY)));
}

#[tokio::test]
async fn wrong_password_is_invalid_email_or_password() {
    let env = Env::new().await;
    env.signed_up("Alice", "alice@example.com").await;
    let resp = env
        .send(Req::post("/sign-in/email", json!({"email": "alice@example.com", "password": "wrong password!"})))
        .await;
    check_error(&resp, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    assert!(resp.set_cookies().is_empty());
    assert!(resp.header("set-auth-token").is_none());
}

#[tokio::test]
async fn malformed_requests_are_refused_before_any_lookup() {
    let env = Env::new().await;
    let resp = env.send(Req::post("/sign-in/email", json!({"email": "nope", "password": PASSWORD}))).await;
    check_error(&resp, 400, "INVALID_EMAIL", "Invalid email");
    let resp = env.send(Req::post("/sign-in/email", json!({"email": "a@example.com"}))).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body.password] Invalid input: expected string, received undefined");
    let resp = env.send(Req::post("/sign-in/email", json!({"password": PASSWORD}))).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body.email] Invalid input: expected string, received undefined");
    let resp = env.send(Req::post_empty("/sign-in/email")).await;
    check_error(&resp, 400, "VALIDATION_ERROR", "[body] Invalid input: expected object, received undefined");
}

#[tokio::test]
async fn disabled_email_and_password_is_refused() {
    let env = Env::with(|c| c.email_and_password.enabled = false).await;
    let resp = env.send(Req::post("/sign-in/email", json!({"email": "a@example.com", "password": PASSWORD}))).await;
    check_error(&resp, 400, "EMAIL_AND_PASSWORD_IS_NOT_ENABLED", "Email and password is not enabled");
}

#[tokio::test]
async fn require_email_verification_refuses_unverified_users() {
    let env = Env::with(|c| {
        c.email_and_password.require_email_verification = true;
        c.email_verification.send_on_sign_in = true;
    })
    .await;
    let resp = env
        .send(Req::post(
            "/sign-up/email",
            json!({"name": "Val", "email": "val@example.com", "password": PASSWORD, "callbackURL": "/welcome"}),
        ))
        .await;
    check_shape(&resp, 200, json!({"token": null, "user": new_user("Val", "val@example.com")}));
    assert!(resp.set_cookies().is_empty());
    let mails = env.take_mails();
    assert_eq!(mails.len(), 1);
    assert_eq!((mails[0].kind, mails[0].to.as_str()), (EmailKind::VerifyEmail, "val@example.com"));

    let mut browser = env.browser();
    let resp = browser.post("/sign-in/email", json!({"email": "val@example.com", "password": PASSWORD})).await;
    check_error(&resp, 403, "EMAIL_NOT_VERIFIED", "Email not verified");
    assert!(resp.set_cookies().is_empty());
    // sendOnSignIn: the verification mail is sent again.
    let resent = env.take_mails();
    assert_eq!((resent.len(), resent[0].kind, resent[0].to.as_str()), (1, EmailKind::VerifyEmail, "val@example.com"));

    // A wrong password does not reveal whether the account is verified.
    let resp = browser.post("/sign-in/email", json!({"email": "val@example.com", "password": "wrong password"})).await;
    check_error(&resp, 401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password");
    assert!(env.take_mails().is_empty());

    // Once verified, sign-in works.
    let link = resent[0].url.strip_prefix(AUTH_BASE).unwrap().to_string();
    assert_eq!(env.send(Req::get(&link)).await.status, 302);
    browser.sign_in("val@example.com", PASSWORD).await;
    assert_eq!(browser.session().await["user"]["emailVerified"], json!(true));
}
